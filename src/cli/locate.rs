//! Finds where a diagnostic points in the policy's text, so `check` can show the line with a caret.
//!
//! The compiler reports semantic findings by field path (a JSON Pointer, RFC 6901) and syntax or shape errors by
//! line and column. This module turns either into a byte span of the text: [`locate_pointer`] walks the JSON
//! text itself (strings with escapes, keys, arrays, nesting) to the value a pointer names; [`offset_of`] and
//! [`token_at`] turn a line and column into the token there. It reads text that may be broken (that is why it
//! is being checked): it never panics, and answers `None` rather than guess wildly.

use std::ops::Range;

/// A spot in the text: the byte span to underline, and whether it is exactly what the pointer names (`false`:
/// the pointer names something absent, such as a missing field, and the span is its nearest existing parent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub span: Range<usize>,
    pub exact: bool,
    /// The key the value was reached through, when it was reached through one (and is exact).
    pub key: Option<Range<usize>>,
}

/// The byte span of the value `pointer` names in `text`. Scalars (strings with their quotes, numbers, literals)
/// are spanned whole; an object or array reached through a key is spanned by its key (a caret under a whole
/// multi-line block helps nobody), and one reached by index by its opening bracket. `None` when the text is not
/// JSON enough to walk or the pointer is malformed.
pub fn locate_pointer(text: &str, pointer: &str) -> Option<Located> {
    let tokens = parse_pointer(pointer)?;
    let scan = Scan(text.as_bytes());
    let mut pos = scan.ws(0);
    let mut key: Option<Range<usize>> = None;
    for token in &tokens {
        let next = match scan.0.get(pos)? {
            b'{' => scan.member(text, pos, token)?,
            b'[' => {
                let index = parse_index(token);
                index.and_then(|i| scan.element(pos, i)).map(|v| (None, v))
            }
            _ => None,
        };
        match next {
            Some((k, v)) => {
                key = k;
                pos = v;
            }
            None => {
                return Some(Located {
                    span: scan.best_span(pos, key)?,
                    exact: false,
                    key: None,
                })
            }
        }
    }
    Some(Located {
        span: scan.best_span(pos, key.clone())?,
        exact: true,
        key,
    })
}

/// Narrows a span that covers an array to the string element equal to `wanted`, if there is one (a finding
/// about `unknown IP list `vpnn`` in `["office", "vpnn"]` then points at `"vpnn"`).
pub fn narrow_to_element(text: &str, located: &Located, wanted: &str) -> Option<Range<usize>> {
    let scan = Scan(text.as_bytes());
    // The span may be the key of the array: find the value after it.
    let mut pos = located.span.start;
    if scan.0.get(pos) == Some(&b'"') {
        let after_key = scan.ws(scan.string_end(pos)?);
        if scan.0.get(after_key) != Some(&b':') {
            return None;
        }
        pos = scan.ws(after_key + 1);
    }
    if scan.0.get(pos) != Some(&b'[') {
        return None;
    }
    let mut i = 0;
    while let Some(start) = scan.element(pos, i) {
        let end = scan.value_end(start)?;
        if scan.0.get(start) == Some(&b'"') && decode_string(text, start..end)? == wanted {
            return Some(start..end);
        }
        i += 1;
    }
    None
}

/// The byte offset of a 1-based line and column (columns count characters, as editors do). A column past the
/// end of its line is clamped to the line's end; a line past the end of the text is `None`.
pub fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += text.get(start..)?.find('\n')? + 1;
    }
    let rest = text.get(start..)?;
    let line_text = rest.split('\n').next().unwrap_or(rest);
    let offset = line_text
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line_text.len(), |(i, _)| i);
    Some(start + offset)
}

/// The 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// The JSON token at or just before a byte offset, for a parser error position: a string (the parser stops just
/// after a key it refuses), a word or number, or else the single character there. Never empty unless the text
/// is.
pub fn token_at(text: &str, offset: usize) -> Range<usize> {
    let b = text.as_bytes();
    let offset = offset.min(b.len());
    // serde_json reports the position of the last byte it read: step back over it when it ends a token.
    let mut end = offset;
    let in_word = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.' | b'_');
    if end > 0 && b.get(end - 1) == Some(&b'"') {
        // Find the opening quote of the string that ends here.
        let mut i = end - 1;
        while i > 0 {
            i -= 1;
            if b.get(i) == Some(&b'"') && !escaped(b, i) {
                return i..end;
            }
        }
        return (end - 1)..end;
    }
    if end > 0 && b.get(end - 1).is_some_and(|c| in_word(*c)) {
        let mut start = end - 1;
        while start > 0 && b.get(start - 1).is_some_and(|c| in_word(*c)) {
            start -= 1;
        }
        while b.get(end).is_some_and(|c| in_word(*c)) {
            end += 1;
        }
        return start..end;
    }
    // A single character (whole UTF-8 sequence) at or before the offset.
    let at = if offset >= b.len() {
        offset.saturating_sub(1)
    } else {
        offset
    };
    let start = (0..=at)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let len = text
        .get(start..)
        .and_then(|s| s.chars().next())
        .map_or(0, char::len_utf8);
    start..start + len
}

/// True when the quote at `i` is escaped (preceded by an odd number of backslashes).
fn escaped(b: &[u8], i: usize) -> bool {
    let mut n = 0;
    let mut j = i;
    while j > 0 && b.get(j - 1) == Some(&b'\\') {
        n += 1;
        j -= 1;
    }
    n % 2 == 1
}

/// Splits a JSON Pointer into unescaped reference tokens (`~1` is `/`, `~0` is `~`).
fn parse_pointer(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// An array index token: decimal digits without a leading zero (RFC 6901).
fn parse_index(token: &str) -> Option<usize> {
    let ok = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    if ok {
        token.parse().ok()
    } else {
        None
    }
}

/// A JSON string literal (with its quotes) decoded, escapes and all.
fn decode_string(text: &str, span: Range<usize>) -> Option<String> {
    serde_json::from_str(text.get(span)?).ok()
}

/// A forgiving JSON scanner over bytes.
struct Scan<'a>(&'a [u8]);

impl Scan<'_> {
    /// The first non-whitespace position at or after `i`.
    fn ws(&self, mut i: usize) -> usize {
        while matches!(self.0.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    }

    /// Given the opening quote at `i`, the position just after the closing quote.
    fn string_end(&self, i: usize) -> Option<usize> {
        let mut j = i + 1;
        loop {
            match self.0.get(j)? {
                b'"' => return Some(j + 1),
                b'\\' => j += 2,
                _ => j += 1,
            }
        }
    }

    /// Given the first byte of a value at `i`, the position just after it.
    fn value_end(&self, i: usize) -> Option<usize> {
        match self.0.get(i)? {
            b'"' => self.string_end(i),
            b'{' | b'[' => {
                let mut depth = 0usize;
                let mut j = i;
                loop {
                    match self.0.get(j)? {
                        b'"' => j = self.string_end(j)?,
                        b'{' | b'[' => {
                            depth += 1;
                            j += 1;
                        }
                        b'}' | b']' => {
                            depth = depth.checked_sub(1)?;
                            j += 1;
                            if depth == 0 {
                                return Some(j);
                            }
                        }
                        _ => j += 1,
                    }
                }
            }
            _ => {
                let mut j = i;
                while self.0.get(j).is_some_and(|c| {
                    !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                }) {
                    j += 1;
                }
                (j > i).then_some(j)
            }
        }
    }

    /// In the object opening at `i`, the member named `name`: its key span and the start of its value. `None`
    /// inside the result when the object has no such member; `None` outside when the text is broken.
    #[allow(clippy::type_complexity)]
    fn member(
        &self,
        text: &str,
        i: usize,
        name: &str,
    ) -> Option<Option<(Option<Range<usize>>, usize)>> {
        let mut k = self.ws(i + 1);
        if self.0.get(k)? == &b'}' {
            return Some(None);
        }
        loop {
            if self.0.get(k)? != &b'"' {
                return None;
            }
            let key_end = self.string_end(k)?;
            let colon = self.ws(key_end);
            if self.0.get(colon)? != &b':' {
                return None;
            }
            let value = self.ws(colon + 1);
            if decode_string(text, k..key_end)? == name {
                return Some(Some((Some(k..key_end), value)));
            }
            let after = self.ws(self.value_end(value)?);
            match self.0.get(after)? {
                b',' => k = self.ws(after + 1),
                b'}' => return Some(None),
                _ => return None,
            }
        }
    }

    /// In the array opening at `i`, the start of element `index`.
    fn element(&self, i: usize, index: usize) -> Option<usize> {
        let mut v = self.ws(i + 1);
        if self.0.get(v)? == &b']' {
            return None;
        }
        for _ in 0..index {
            let after = self.ws(self.value_end(v)?);
            match self.0.get(after)? {
                b',' => v = self.ws(after + 1),
                _ => return None,
            }
        }
        Some(v)
    }

    /// What to underline for the value at `pos`, reached through `key` if any.
    fn best_span(&self, pos: usize, key: Option<Range<usize>>) -> Option<Range<usize>> {
        match (self.0.get(pos)?, key) {
            (b'{' | b'[', Some(key)) => Some(key),
            (b'{' | b'[', None) => Some(pos..pos + 1),
            _ => Some(pos..self.value_end(pos)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
  "version": 1,
  "ip_lists": { "office": ["203.0.113.0/24"], "a/b~c": ["192.0.2.1"] },
  "esc\"aped": "x\"y\\",
  "rules": [
    { "id": "first", "action": "deny", "when": { "client_ip_in": "ofice" } },
    { "id": "second", "action": "require", "require": { "client_ip_in": ["office", "vpnn"] } },
    []
  ],
  "default": { "action": "allow" }
}"#;

    fn snippet(text: &str, span: &Range<usize>) -> String {
        text.get(span.clone()).unwrap_or("<bad span>").to_owned()
    }

    #[test]
    fn pointer_table() {
        // pointer -> (underlined text, exact)
        const CASES: &[(&str, Option<(&str, bool)>)] = &[
            ("/version", Some(("1", true))),
            ("/ip_lists", Some(("\"ip_lists\"", true))),
            ("/ip_lists/office", Some(("\"office\"", true))),
            ("/ip_lists/office/0", Some(("\"203.0.113.0/24\"", true))),
            ("/ip_lists/a~1b~0c/0", Some(("\"192.0.2.1\"", true))),
            ("/esc\"aped", Some(("\"x\\\"y\\\\\"", true))),
            ("/rules/0/when/client_ip_in", Some(("\"ofice\"", true))),
            ("/rules/1/id", Some(("\"second\"", true))),
            (
                "/rules/1/require/client_ip_in",
                Some(("\"client_ip_in\"", true)),
            ),
            ("/rules/1", Some(("{", true))),
            ("/rules/2", Some(("[", true))),
            // Absent members and indexes: the nearest parent, not exact.
            ("/rules/0/require", Some(("{", false))),
            ("/rules/9", Some(("\"rules\"", false))),
            ("/rules/01", Some(("\"rules\"", false))),
            ("/rules/x", Some(("\"rules\"", false))),
            ("/default/status", Some(("\"default\"", false))),
            ("/version/x", Some(("1", false))),
            ("/nope", Some(("{", false))),
            ("", Some(("{", true))),
            ("no-slash", None),
        ];
        for (pointer, want) in CASES {
            let got = locate_pointer(DOC, pointer).map(|l| (snippet(DOC, &l.span), l.exact));
            if let Some(l) = locate_pointer(DOC, pointer) {
                if l.exact
                    && pointer
                        .rsplit('/')
                        .next()
                        .is_some_and(|t| t.parse::<usize>().is_err())
                    && !pointer.is_empty()
                {
                    let key = l.key.clone().map(|k| snippet(DOC, &k));
                    assert!(
                        key.is_some_and(|k| k.starts_with('"')),
                        "pointer `{pointer}`: key"
                    );
                }
            }
            let want = want.map(|(s, e)| (s.to_owned(), e));
            assert_eq!(got, want, "pointer `{pointer}`");
        }
    }

    #[test]
    fn broken_text_never_panics() {
        const BROKEN: &[&str] = &[
            "",
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\": [1, 2",
            "{\"a\": \"unterminated",
            "{\"a\": \"x\\",
            "]]]]",
            "{\"a\" 1}",
            "{\"a\": 1 \"b\": 2}",
            "{\"é\": [\"ü\"]}",
        ];
        for text in BROKEN {
            for pointer in ["", "/a", "/a/0", "/a/1", "/b", "/é/0"] {
                if let Some(l) = locate_pointer(text, pointer) {
                    assert!(
                        text.get(l.span.clone()).is_some(),
                        "text `{text}`, pointer `{pointer}`: span {:?} not on char boundaries",
                        l.span
                    );
                }
            }
            for offset in 0..=text.len() + 2 {
                let span = token_at(text, offset);
                assert!(text.get(span).is_some(), "text `{text}`, offset {offset}");
            }
        }
        assert_eq!(
            locate_pointer("{\"é\": [\"ü\"]}", "/é/0").map(|l| l.span),
            Some(8..12)
        );
    }

    #[test]
    fn narrows_to_the_named_element() {
        let at = locate_pointer(DOC, "/rules/1/require/client_ip_in").unwrap();
        let span = narrow_to_element(DOC, &at, "vpnn").unwrap();
        assert_eq!(snippet(DOC, &span), "\"vpnn\"");
        assert_eq!(narrow_to_element(DOC, &at, "absent"), None);
        let scalar = locate_pointer(DOC, "/rules/0/when/client_ip_in").unwrap();
        assert_eq!(narrow_to_element(DOC, &scalar, "ofice"), None);
    }

    #[test]
    fn lines_and_columns() {
        const CASES: &[(usize, usize, Option<usize>)] = &[
            (1, 1, Some(0)),
            (2, 3, Some(4)),
            (2, 999, Some(17)),
            (11, 2, Some(DOC.len())),
            (12, 1, None),
        ];
        for (line, col, want) in CASES {
            assert_eq!(offset_of(DOC, *line, *col), *want, "{line}:{col}");
            if let Some(off) = want {
                if *col < 999 {
                    assert_eq!(line_col(DOC, *off), (*line, *col), "offset {off}");
                }
            }
        }
        // Columns count characters, not bytes.
        let text = "{\"é\": x}";
        assert_eq!(offset_of(text, 1, 7), Some(7));
        assert_eq!(line_col(text, 7), (1, 7));
    }

    #[test]
    fn tokens_at_parser_positions() {
        // text, offset, token
        const CASES: &[(&str, usize, &str)] = &[
            ("{\"vesion\": 1}", 9, "\"vesion\""),
            ("{\"a\": \"x\\\"y\"}", 12, "\"x\\\"y\""),
            ("{\"a\": tru }", 9, "tru"),
            ("{\"a\": 12x }", 8, "12x"),
            ("{\"a\": 1,}", 9, "}"),
            ("{\"a\": 1", 7, "1"),
            ("", 0, ""),
        ];
        for (text, offset, want) in CASES {
            let span = token_at(text, *offset);
            assert_eq!(snippet(text, &span), *want, "text `{text}` offset {offset}");
        }
    }
}
