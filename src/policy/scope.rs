//! Request-scope matching: path normalisation, path patterns, host patterns and HTTP methods.
//!
//! A rule's scope says which requests it applies to. This module turns the request's path, host and method into a
//! form that can be compared safely, and compiles the policy's path, host and method patterns.
//!
//! Path normalisation exists for MATCHING ONLY: the request is forwarded to the origin unchanged. Origins (nginx,
//! Tomcat, IIS, Express) interpret raw paths differently, so anything whose meaning differs between servers (encoded
//! slashes, encoded dot segments, `;` path parameters, backslashes, control characters, invalid UTF-8) is refused
//! with a precise [`PathError`] instead of being guessed at; the engine denies such a request (`path_invalid`).
//!
//! What this module must never do:
//! - panic, on any input (the request side is attacker-controlled);
//! - accept a path it cannot normalise unambiguously (a lenient parse is a rule bypass);
//! - allocate on the per-request path when the input is already canonical ([`normalize_path`] borrows, all
//!   `matches`/`contains` functions are allocation-free);
//! - reference any other module of the crate.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

// ---------------------------------------------------------------------------------------------------------------
// Path normalisation
// ---------------------------------------------------------------------------------------------------------------

/// How request paths (and path patterns) are normalised. Every switch defaults to `false`.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PathOptions {
    /// Treat `;` (raw or `%3B`) as an ordinary character. Default `false`: `;` is refused, because Tomcat and Jetty
    /// strip `;params` from each segment (`/admin;x` reaches `/admin` there and would bypass a rule on `/admin`).
    /// Only set this for origins that do NOT strip path parameters. Even when set, a dot segment carrying
    /// parameters (`.;x`, `..;x`) is refused.
    pub allow_semicolons: bool,
    /// Lower-case ASCII letters outside percent-escapes (for IIS-like origins that compare paths
    /// case-insensitively). Default `false`. Non-ASCII letters are not folded; escape hex digits stay upper-case.
    pub case_insensitive: bool,
    /// Accept `%25` followed by two hex digits (`%252e`). Default `false`: refused, because a proxy or origin that
    /// decodes twice reads `%252e%252e` as `..` and `%252f` as `/`, past rules that saw the path decoded once.
    pub allow_double_encoding: bool,
    /// Remove trailing dots and spaces from every segment (`/admin.` and `/admin%20` are `/admin`), as IIS and
    /// Windows file systems do. Default `false`. Segments made only of dots and spaces, other than `.` and `..`,
    /// are then refused (`...`, `.%20`).
    pub trailing_dots_and_spaces: bool,
    /// Let path patterns also match the path without a format suffix on its last segment (`/admin.json` matches
    /// what `/admin` matches), as Rails, Django REST framework and `/:id.:format` routes read it. Default `false`.
    /// Normalisation ignores it; the engine applies it (see [`format_suffix_cuts`]).
    pub format_suffixes: bool,
}

/// Why a path could not be normalised. The engine denies such a request (`path_invalid`).
///
/// `at` fields are byte offsets into the path as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is the empty string.
    #[error("path is empty")]
    Empty,
    /// The path does not start with `/`.
    #[error("path does not start with `/`")]
    NotAbsolute,
    /// A raw `?` or `#`: only the path may be given, without query or fragment.
    #[error("`{ch}` at byte {at} starts a query or fragment, which a path must not contain")]
    QueryOrFragment {
        /// `?` or `#`.
        ch: char,
        /// Byte offset.
        at: usize,
    },
    /// A `%` not followed by two hex digits.
    #[error("malformed percent-escape `{escape}` at byte {at} (expected `%` and two hex digits)")]
    BadEscape {
        /// The escape as written (up to three characters).
        escape: String,
        /// Byte offset.
        at: usize,
    },
    /// `%2F`: servers disagree on whether it separates segments.
    #[error("encoded slash `{escape}` at byte {at} is refused (servers disagree on whether it separates segments)")]
    EncodedSlash {
        /// The escape as written.
        escape: String,
        /// Byte offset.
        at: usize,
    },
    /// `%5C`: some servers treat it as `/`.
    #[error("encoded backslash `{escape}` at byte {at} is refused (some servers treat it as `/`)")]
    EncodedBackslash {
        /// The escape as written.
        escape: String,
        /// Byte offset.
        at: usize,
    },
    /// A raw `\`: some servers (IIS, WHATWG parsers) treat it as `/`.
    #[error("backslash at byte {at} is refused (some servers treat it as `/`)")]
    Backslash {
        /// Byte offset.
        at: usize,
    },
    /// A raw control character (0x00-0x1F, 0x7F).
    #[error("control character 0x{byte:02X} at byte {at} is refused")]
    ControlChar {
        /// The byte.
        byte: u8,
        /// Byte offset.
        at: usize,
    },
    /// An encoded control character (`%00`-`%1F`, `%7F`).
    #[error("encoded control character `{escape}` at byte {at} is refused")]
    EncodedControlChar {
        /// The escape as written.
        escape: String,
        /// Byte offset.
        at: usize,
    },
    /// The percent-decoded bytes are not valid UTF-8 (includes overlong forms such as `%C0%AE`).
    #[error(
        "percent-decoded path is not valid utf-8 at byte {at} (malformed or overlong encoding)"
    )]
    InvalidUtf8 {
        /// Byte offset of the start of the bad sequence.
        at: usize,
    },
    /// `%25` followed by two hex digits (`%252e`) while double encoding is not allowed.
    #[error(
        "double-encoded `{escape}` at byte {at} is refused: a proxy or origin that decodes twice would read \
         another escape there"
    )]
    DoubleEncoded {
        /// The escape and the two hex digits after it, as written.
        escape: String,
        /// Byte offset.
        at: usize,
    },
    /// `;` or `%3B` while semicolons are not allowed.
    #[error(
        "`{written}` at byte {at} is refused: servers such as tomcat strip `;parameters` from segments \
         (semicolons are not allowed for this origin)"
    )]
    Semicolon {
        /// `;` or the escape as written.
        written: String,
        /// Byte offset.
        at: usize,
    },
    /// A `.` or `..` segment written with percent-escapes (`%2e`, `.%2E`, `%2e%2e`).
    #[error("dot segment written with percent-escapes `{segment}` is refused (servers disagree on its meaning)")]
    EncodedDotSegment {
        /// The segment as written.
        segment: String,
    },
    /// A dot segment followed by parameters (`..;x`), refused even when semicolons are allowed.
    #[error("dot segment with parameters `{segment}` is refused (servers that strip parameters treat it as `..`)")]
    DotSegmentParams {
        /// The segment as written.
        segment: String,
    },
    /// A segment of only dots and spaces (`...`, `.%20`) while trailing dots and spaces are removed: it would
    /// become empty, or a dot segment.
    #[error(
        "segment `{segment}` is only dots and spaces, which origins that strip trailing dots and spaces read as \
         nothing or as a dot segment"
    )]
    DotsAndSpacesSegment {
        /// The segment as written.
        segment: String,
    },
    /// A `..` that would remove an empty segment (`/a//../b`): `/b` where slashes are merged first (nginx),
    /// `/a/b` where they are not (RFC 3986, WHATWG).
    #[error("`..` after an empty segment (`//..`) is refused (it resolves differently on servers that merge slashes)")]
    AmbiguousDotDot,
}

/// Normalise a request path for matching.
///
/// `raw` is the path only (no query, no fragment). Steps, in order of the checks:
/// - it must be non-empty and start with `/`; a raw `?` or `#` is an error;
/// - percent-escapes must be `%` + two hex digits; escapes of characters that carry no structure in a path are
///   decoded, as nginx, Go's `net/http`, Spring, Kestrel and WSGI servers decode them before routing: the
///   unreserved characters (ALPHA DIGIT `-` `.` `_` `~`, so `/%61dmin` -> `/admin`), the sub-delimiters but `;`
///   (`!` `$` `&` `'` `(` `)` `*` `+` `,` `=`), `:` and `@` (`/v1/keys%3Arotate` -> `/v1/keys:rotate`). The
///   structural escapes (`%2F`, `%5C`, `%3F`, `%23`, `%25`, `%3B`) and bytes that are not allowed raw are kept
///   with upper-case hex (`%c3%a9` -> `%C3%A9`), or refused as below;
/// - refused: `%2F`, `%5C`, a raw `\`, control characters raw or encoded (0x00-0x1F, 0x7F);
/// - the fully percent-decoded byte sequence must be valid UTF-8 (refuses overlong `%C0%AE`, `%E0%80%AE`);
/// - `;` and `%3B` are refused unless [`PathOptions::allow_semicolons`]; dot segments with parameters (`..;x`) are
///   always refused;
/// - a `.`/`..` segment written with escapes (`%2e`, `.%2E`, `%2e%2e`) is refused; plain `.` and `..` segments are
///   removed as in RFC 3986 5.2.4 (`..` above the root stays at the root; a final `.` or `..` leaves a trailing
///   slash: `/a/b/..` -> `/a/`);
/// - runs of `/` collapse to one (`//admin` -> `/admin`); a trailing slash is kept (`/admin/` stays `/admin/`);
///   a `..` that would remove an empty segment (`/a//../b`) is refused, because servers that merge slashes first
///   and servers that do not resolve it differently;
/// - bytes that may not appear raw in a URI path (space, `"`, `<`, `>`, `[`, `]`, `^`, `` ` ``, `{`, `|`, `}` and
///   raw non-ASCII) are percent-encoded with upper-case hex, as the WHATWG URL parser does, so a raw `/café` from
///   the CLI and the Worker's `/caf%C3%A9` normalise alike;
/// - with [`PathOptions::case_insensitive`], ASCII letters outside escapes are lower-cased.
///
/// The result is canonical: `normalize_path(normalize_path(p)) == normalize_path(p)`, and it is
/// [`Cow::Borrowed`] whenever nothing changed (the common case allocates nothing). Linear in the path length.
///
/// So `:` and `%3A` are the same path here, although RFC 3986 says they may differ: every common origin reads
/// them alike, and a rule on `/v1/keys:rotate` must cover the spelling an attacker picks.
pub fn normalize_path<'a>(raw: &'a str, opts: &PathOptions) -> Result<Cow<'a, str>, PathError> {
    match raw.as_bytes().first() {
        None => return Err(PathError::Empty),
        Some(b'/') => {}
        Some(_) => return Err(PathError::NotAbsolute),
    }
    if scan(raw, opts)? {
        build(raw, opts).map(Cow::Owned)
    } else {
        Ok(Cow::Borrowed(raw))
    }
}

/// Where a normalised path (without its trailing slash) can be cut to drop a format suffix from its last segment:
/// before the first and before the last `.` that is not the segment's first character (`/a/x.tar.json` gives
/// `/a/x` and `/a/x.tar`; `/.env` gives nothing). Rails cuts at the first dot, Django REST framework at the
/// last; both readings are tried. Zero means no cut.
pub fn format_suffix_cuts(path: &str) -> [usize; 2] {
    let seg_start = path.rfind('/').map_or(0, |i| i + 1);
    let seg = path.get(seg_start..).unwrap_or("");
    let dot = |i: Option<usize>| i.filter(|&i| i > 0).map_or(0, |i| seg_start + i);
    let first = dot(seg.get(1..).and_then(|s| s.find('.')).map(|i| i + 1));
    let last = dot(seg.rfind('.'));
    [first, if last == first { 0 } else { last }]
}

const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Whether an escape of `b` is decoded for matching: the unreserved characters, the sub-delimiters but `;`, `:`
/// and `@`. Origins decode these before routing, and none of them separates, ends or escapes anything in a path.
/// Kept: `%2F` `%5C` `%3F` `%23` `%25` `%3B` (structure) and whatever [`needs_encoding`] (raw it would be
/// escaped again).
pub const fn is_decoded_escape(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'=' | b':' | b'@'
        )
}

/// Bytes that RFC 3986 does not allow raw in a path (and that are not refused outright): they are percent-encoded.
const fn needs_encoding(b: u8) -> bool {
    b >= 0x80
        || matches!(
            b,
            b' ' | b'"' | b'<' | b'>' | b'[' | b']' | b'^' | b'`' | b'{' | b'|' | b'}'
        )
}

const fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7F
}

const fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte encoded by the escape starting at `i` (which holds `%`), if well-formed.
fn decode_escape(bytes: &[u8], i: usize) -> Option<u8> {
    let hi = hex_val(*bytes.get(i + 1)?)?;
    let lo = hex_val(*bytes.get(i + 2)?)?;
    Some(hi << 4 | lo)
}

/// Up to `n` characters of `raw` from byte `at`, escaped for display.
fn snippet(raw: &str, at: usize, n: usize) -> String {
    raw.get(at..)
        .unwrap_or("")
        .chars()
        .take(n)
        .flat_map(char::escape_debug)
        .collect()
}

fn shown(s: &str) -> String {
    s.escape_debug().collect()
}

/// Streaming UTF-8 validator (Unicode table 3-7: refuses overlongs, surrogates and values above U+10FFFF).
#[derive(Default)]
struct Utf8Check {
    need: u8,
    lo: u8,
    hi: u8,
    start: usize,
}

impl Utf8Check {
    /// Feed one decoded byte that came from byte offset `at`; on error, the offset of the bad sequence.
    fn feed(&mut self, b: u8, at: usize) -> Result<(), usize> {
        if self.need == 0 {
            let (need, lo, hi) = match b {
                0x00..=0x7F => return Ok(()),
                0xC2..=0xDF => (1, 0x80, 0xBF),
                0xE0 => (2, 0xA0, 0xBF),
                0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
                0xED => (2, 0x80, 0x9F),
                0xF0 => (3, 0x90, 0xBF),
                0xF1..=0xF3 => (3, 0x80, 0xBF),
                0xF4 => (3, 0x80, 0x8F),
                _ => return Err(at),
            };
            *self = Self {
                need,
                lo,
                hi,
                start: at,
            };
            Ok(())
        } else if b < self.lo || b > self.hi {
            Err(self.start)
        } else {
            self.need -= 1;
            self.lo = 0x80;
            self.hi = 0xBF;
            Ok(())
        }
    }
}

/// Per-segment state of the validating scan.
struct SegScan {
    start: usize,
    decoded_len: usize,
    all_dots: bool,
    /// Every decoded byte is `.` or a space.
    all_dots_spaces: bool,
    /// The last decoded byte is `.` or a space.
    trailing_dot_space: bool,
    has_escape: bool,
    semicolon_seen: bool,
}

impl SegScan {
    const fn new(start: usize) -> Self {
        Self {
            start,
            decoded_len: 0,
            all_dots: true,
            all_dots_spaces: true,
            trailing_dot_space: false,
            has_escape: false,
            semicolon_seen: false,
        }
    }

    fn push(&mut self, decoded: u8, escaped: bool) {
        self.decoded_len += 1;
        self.all_dots &= decoded == b'.';
        let dot_space = matches!(decoded, b'.' | b' ');
        self.all_dots_spaces &= dot_space;
        self.trailing_dot_space = dot_space;
        self.has_escape |= escaped;
    }

    const fn is_dots(&self) -> bool {
        self.all_dots && matches!(self.decoded_len, 1 | 2)
    }

    fn text<'a>(&self, raw: &'a str) -> &'a str {
        let rest = raw.get(self.start..).unwrap_or("");
        rest.split('/').next().unwrap_or(rest)
    }

    /// A `;` (raw or encoded) was seen and is allowed: refuse `.;x` and `..;x`.
    fn semicolon(&mut self, raw: &str) -> Result<(), PathError> {
        if !self.semicolon_seen && self.is_dots() {
            return Err(PathError::DotSegmentParams {
                segment: shown(self.text(raw)),
            });
        }
        self.semicolon_seen = true;
        Ok(())
    }

    /// End of the segment; returns whether normalisation will change it structurally.
    fn finish(&self, raw: &str, is_last: bool, opts: &PathOptions) -> Result<bool, PathError> {
        if self.decoded_len == 0 {
            return Ok(!is_last);
        }
        if self.is_dots() {
            if self.has_escape {
                return Err(PathError::EncodedDotSegment {
                    segment: shown(self.text(raw)),
                });
            }
            return Ok(true);
        }
        if opts.trailing_dots_and_spaces {
            if self.all_dots_spaces {
                return Err(PathError::DotsAndSpacesSegment {
                    segment: shown(self.text(raw)),
                });
            }
            return Ok(self.trailing_dot_space);
        }
        Ok(false)
    }
}

/// After a `%25` ending at `at`: where the two characters that follow end, when both are hex digits, raw or
/// percent-escaped (`%2541`, `%25%34%31`), i.e. what a second decoding would read as another escape.
fn double_escape_end(bytes: &[u8], at: usize) -> Option<usize> {
    let decoded = |j: usize| match bytes.get(j) {
        Some(b'%') => decode_escape(bytes, j).map(|v| (v, j + 3)),
        Some(&b) => Some((b, j + 1)),
        None => None,
    };
    let (_, next) = decoded(at).filter(|(b, _)| b.is_ascii_hexdigit())?;
    let (_, end) = decoded(next).filter(|(b, _)| b.is_ascii_hexdigit())?;
    Some(end)
}

/// Validate `raw` (which starts with `/`); returns whether the normalised form differs from it.
fn scan(raw: &str, opts: &PathOptions) -> Result<bool, PathError> {
    let bytes = raw.as_bytes();
    let mut changed = false;
    let mut utf8 = Utf8Check::default();
    let mut seg = SegScan::new(1);
    let mut i = 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'/' => {
                // `/` is part of the decoded byte sequence too: `%C3/%A9` is not a valid character.
                utf8.feed(b, i)
                    .map_err(|at| PathError::InvalidUtf8 { at })?;
                changed |= seg.finish(raw, false, opts)?;
                seg = SegScan::new(i + 1);
                i += 1;
            }
            b'%' => {
                let escape = || snippet(raw, i, 3);
                let v = decode_escape(bytes, i).ok_or_else(|| PathError::BadEscape {
                    escape: escape(),
                    at: i,
                })?;
                match v {
                    b'/' => {
                        return Err(PathError::EncodedSlash {
                            escape: escape(),
                            at: i,
                        })
                    }
                    b'\\' => {
                        return Err(PathError::EncodedBackslash {
                            escape: escape(),
                            at: i,
                        })
                    }
                    b';' if !opts.allow_semicolons => {
                        return Err(PathError::Semicolon {
                            written: escape(),
                            at: i,
                        })
                    }
                    b';' => seg.semicolon(raw)?,
                    b'%' if !opts.allow_double_encoding => {
                        if let Some(end) = double_escape_end(bytes, i + 3) {
                            return Err(PathError::DoubleEncoded {
                                escape: raw.get(i..end).unwrap_or_default().to_owned(),
                                at: i,
                            });
                        }
                    }
                    v if is_control(v) => {
                        return Err(PathError::EncodedControlChar {
                            escape: escape(),
                            at: i,
                        })
                    }
                    _ => {}
                }
                // Decoded, or kept but with lower-case hex to upper-case.
                let lower_hex = bytes
                    .get(i + 1..i + 3)
                    .is_some_and(|h| h.iter().any(u8::is_ascii_lowercase));
                changed |= is_decoded_escape(v) || lower_hex;
                utf8.feed(v, i)
                    .map_err(|at| PathError::InvalidUtf8 { at })?;
                seg.push(v, true);
                i += 3;
            }
            b'?' | b'#' => {
                return Err(PathError::QueryOrFragment {
                    ch: char::from(b),
                    at: i,
                })
            }
            b'\\' => return Err(PathError::Backslash { at: i }),
            b if is_control(b) => return Err(PathError::ControlChar { byte: b, at: i }),
            _ => {
                if b == b';' {
                    if !opts.allow_semicolons {
                        return Err(PathError::Semicolon {
                            written: ";".to_owned(),
                            at: i,
                        });
                    }
                    seg.semicolon(raw)?;
                }
                changed |= needs_encoding(b) || (opts.case_insensitive && b.is_ascii_uppercase());
                utf8.feed(b, i)
                    .map_err(|at| PathError::InvalidUtf8 { at })?;
                seg.push(b, false);
                i += 1;
            }
        }
    }
    if utf8.need != 0 {
        return Err(PathError::InvalidUtf8 { at: utf8.start });
    }
    changed |= seg.finish(raw, true, opts)?;
    Ok(changed)
}

/// Build the normalised form of a path that [`scan`] accepted and flagged as changing.
fn build(raw: &str, opts: &PathOptions) -> Result<String, PathError> {
    let segs: Vec<&str> = raw.get(1..).unwrap_or("").split('/').collect();
    let merged = resolve(&segs, opts, true, raw.len());
    let last = segs.len().saturating_sub(1);
    let has_dotdot = segs.contains(&"..");
    let has_inner_empty = segs.iter().take(last).any(|s| s.is_empty());
    if has_dotdot && has_inner_empty {
        let unmerged = collapse_slashes(&resolve(&segs, opts, false, raw.len()));
        if unmerged != merged {
            return Err(PathError::AmbiguousDotDot);
        }
    }
    Ok(merged)
}

/// Remove dot segments (RFC 3986 5.2.4) and canonicalise each segment. With `merge_first`, empty segments are
/// dropped before `..` is applied (nginx `merge_slashes`); without, they count as segments (RFC 3986, WHATWG).
fn resolve(segs: &[&str], opts: &PathOptions, merge_first: bool, cap: usize) -> String {
    let mut out = String::with_capacity(cap + 8);
    let mut starts: Vec<usize> = Vec::new();
    let last = segs.len().saturating_sub(1);
    let mut trailing = false;
    for (idx, &seg) in segs.iter().enumerate() {
        let is_last = idx == last;
        match seg {
            "" if merge_first || is_last => trailing = is_last,
            "." => trailing = is_last,
            ".." => {
                if let Some(start) = starts.pop() {
                    out.truncate(start);
                }
                trailing = is_last;
            }
            _ => {
                starts.push(out.len());
                out.push('/');
                canon_segment(seg, opts, &mut out);
                trailing = false;
            }
        }
    }
    if trailing || out.is_empty() {
        out.push('/');
    }
    out
}

fn collapse_slashes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

fn push_escape(out: &mut String, v: u8) {
    out.push('%');
    for nibble in [v >> 4, v & 0x0F] {
        let digit = char::from_digit(u32::from(nibble), 16).unwrap_or('0');
        out.push(digit.to_ascii_uppercase());
    }
}

fn canon_segment(seg: &str, opts: &PathOptions, out: &mut String) {
    let start = out.len();
    canon_segment_body(seg, opts, out);
    if opts.trailing_dots_and_spaces {
        // `scan` refused segments of only dots and spaces, so something is always left.
        loop {
            if out.len() > start && out.ends_with('.') {
                out.pop();
            } else if out.len() >= start + 3 && out.ends_with("%20") {
                out.truncate(out.len() - 3);
            } else {
                break;
            }
        }
    }
}

fn canon_segment_body(seg: &str, opts: &PathOptions, out: &mut String) {
    let bytes = seg.as_bytes();
    let fold = |b: u8| {
        if opts.case_insensitive {
            b.to_ascii_lowercase()
        } else {
            b
        }
    };
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            if let Some(v) = decode_escape(bytes, i) {
                if is_decoded_escape(v) {
                    out.push(char::from(fold(v)));
                } else {
                    push_escape(out, v);
                }
                i += 3;
                continue;
            }
        }
        if needs_encoding(b) {
            push_escape(out, b);
        } else {
            out.push(char::from(fold(b)));
        }
        i += 1;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Path patterns
// ---------------------------------------------------------------------------------------------------------------

/// Longest path pattern accepted, in bytes as written.
pub const MAX_PATH_PATTERN_LEN: usize = 1024;
/// Most segments in a glob (after collapsing repeated `**`).
pub const MAX_GLOB_SEGMENTS: usize = 32;
/// Most wildcards (`*` and `**`) in a glob.
pub const MAX_GLOB_WILDCARDS: usize = 16;

/// Why a path pattern was refused. Each message names the pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathPatternError {
    /// The pattern is the empty string.
    #[error("path pattern is empty")]
    Empty,
    /// Longer than [`MAX_PATH_PATTERN_LEN`].
    #[error("path pattern `{pattern}` is {len} bytes long, more than the limit of {max}")]
    TooLong {
        /// The start of the pattern.
        pattern: String,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The pattern is not a valid path.
    #[error("path pattern `{pattern}` is invalid: {reason}")]
    Invalid {
        /// The pattern.
        pattern: String,
        /// What normalisation refused.
        reason: PathError,
    },
    /// `*` in an exact or prefix pattern.
    #[error("path pattern `{pattern}` contains `*`, which only a glob pattern understands")]
    StarInLiteral {
        /// The pattern.
        pattern: String,
    },
    /// `**` not standing alone as a segment (`/a**`, `/***`).
    #[error("glob `{pattern}` has segment `{segment}`: `**` must be a whole segment")]
    GluedDoubleStar {
        /// The pattern.
        pattern: String,
        /// The offending segment.
        segment: String,
    },
    /// `%2A` in a glob: a request's `%2A` is read as `*`, so the escape cannot stand for a literal `*` here.
    #[error(
        "glob `{pattern}` contains `%2A`, an escaped `*`: requests' `%2A` is read as `*`, and a glob has no \
         literal `*` (use `path_is` for a path with `*` in it)"
    )]
    EncodedStarInGlob {
        /// The pattern.
        pattern: String,
    },
    /// A `.` or `..` segment in a glob (resolving it would change what the wildcards cover).
    #[error("glob `{pattern}` contains a `.` or `..` segment")]
    DotSegmentInGlob {
        /// The pattern.
        pattern: String,
    },
    /// More than [`MAX_GLOB_SEGMENTS`] segments.
    #[error("glob `{pattern}` has {count} segments, more than the limit of {max}")]
    TooManySegments {
        /// The pattern.
        pattern: String,
        /// Its segment count.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_GLOB_WILDCARDS`] wildcards.
    #[error("glob `{pattern}` has {count} wildcards, more than the limit of {max}")]
    TooManyWildcards {
        /// The pattern.
        pattern: String,
        /// Its wildcard count.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// A compiled path pattern. Build it with [`PathPattern::exact`], [`PathPattern::under`] or [`PathPattern::glob`]
/// (there is deliberately no `FromStr`: the policy has one field per kind).
///
/// [`PathPattern::matches`] expects a path normalised by [`normalize_path`] with the SAME [`PathOptions`] the
/// pattern was built with; it does not allocate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PathPattern {
    /// Exactly one path.
    Exact(ExactPath),
    /// A path and everything below it on a segment boundary.
    Under(PathPrefix),
    /// A glob.
    Glob(PathGlob),
}

/// An exact path pattern (see [`PathPattern::exact`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExactPath(Box<str>);

/// A segment-boundary prefix pattern (see [`PathPattern::under`]). Stored without a trailing slash, except `/`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PathPrefix(Box<str>);

/// A glob pattern (see [`PathPattern::glob`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PathGlob {
    text: Box<str>,
    segs: Box<[GlobSeg]>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum GlobSeg {
    /// `**`: zero or more whole segments.
    AnySegments,
    /// A segment without `*`.
    Literal(Box<str>),
    /// A segment with one or more `*`.
    Wild(Box<str>),
}

fn normalize_pattern(raw: &str, opts: &PathOptions) -> Result<String, PathPatternError> {
    if raw.is_empty() {
        return Err(PathPatternError::Empty);
    }
    if raw.len() > MAX_PATH_PATTERN_LEN {
        return Err(PathPatternError::TooLong {
            pattern: format!("{}...", snippet(raw, 0, 40)),
            len: raw.len(),
            max: MAX_PATH_PATTERN_LEN,
        });
    }
    normalize_path(raw, opts)
        .map(Cow::into_owned)
        .map_err(|reason| PathPatternError::Invalid {
            pattern: shown(raw),
            reason,
        })
}

impl PathPattern {
    /// A pattern matching exactly one path: `raw` normalised with [`normalize_path`] (so `//health` means
    /// `/health`; lower-cased when `opts.case_insensitive`). The trailing slash is significant: `/admin` does not
    /// match `/admin/`. `*` is refused (write a glob).
    pub fn exact(raw: &str, opts: &PathOptions) -> Result<Self, PathPatternError> {
        let norm = normalize_pattern(raw, opts)?;
        if raw.contains('*') {
            return Err(PathPatternError::StarInLiteral {
                pattern: shown(raw),
            });
        }
        Ok(Self::Exact(ExactPath(norm.into_boxed_str())))
    }

    /// A pattern matching a path and everything below it on a segment boundary: `/admin` covers `/admin`,
    /// `/admin/` and `/admin/x/y`, never `/administrator`; `/` covers every path. A trailing slash on the pattern
    /// is ignored (`/admin/` is the same as `/admin`). Normalised like [`PathPattern::exact`]; `*` is refused.
    pub fn under(raw: &str, opts: &PathOptions) -> Result<Self, PathPatternError> {
        let mut norm = normalize_pattern(raw, opts)?;
        if raw.contains('*') {
            return Err(PathPatternError::StarInLiteral {
                pattern: shown(raw),
            });
        }
        if norm.len() > 1 && norm.ends_with('/') {
            norm.pop();
        }
        Ok(Self::Under(PathPrefix(norm.into_boxed_str())))
    }

    /// A glob: `*` matches zero or more characters within one segment (never `/`; a percent-escape counts as one
    /// character); `**` as a whole segment matches zero or more whole segments (`/a/**` matches `/a`, `/a/` and
    /// `/a/x/y`; `/**/x` matches `/x` and `/p/q/x`). Nothing else is special (no `?`, no classes, no escaping of
    /// `*`). The glob must start with `/`, is normalised like a path (runs of `/` collapse, escapes are
    /// canonicalised, lower-cased when `opts.case_insensitive`), the trailing slash is significant, and `.`/`..`
    /// segments are refused. Refused: `**` glued to other characters (`/a**`, `/***`), more than
    /// [`MAX_GLOB_SEGMENTS`] segments, more than [`MAX_GLOB_WILDCARDS`] wildcards, more than
    /// [`MAX_PATH_PATTERN_LEN`] bytes. Matching costs at most O(pattern length x path length) and is linear for
    /// typical globs.
    pub fn glob(raw: &str, opts: &PathOptions) -> Result<Self, PathPatternError> {
        let norm = normalize_pattern(raw, opts)?;
        if raw.to_ascii_uppercase().contains("%2A") {
            return Err(PathPatternError::EncodedStarInGlob {
                pattern: shown(raw),
            });
        }
        if raw.split('/').any(|s| s == "." || s == "..") {
            return Err(PathPatternError::DotSegmentInGlob {
                pattern: shown(raw),
            });
        }
        let mut segs: Vec<GlobSeg> = Vec::new();
        let mut wildcards = 0usize;
        for seg in norm.get(1..).unwrap_or("").split('/') {
            if seg == "**" {
                wildcards += 1;
                if segs.last() != Some(&GlobSeg::AnySegments) {
                    segs.push(GlobSeg::AnySegments);
                }
            } else if seg.contains("**") {
                return Err(PathPatternError::GluedDoubleStar {
                    pattern: shown(raw),
                    segment: shown(seg),
                });
            } else if seg.contains('*') {
                wildcards += seg.matches('*').count();
                segs.push(GlobSeg::Wild(seg.into()));
            } else {
                segs.push(GlobSeg::Literal(seg.into()));
            }
        }
        if segs.len() > MAX_GLOB_SEGMENTS {
            return Err(PathPatternError::TooManySegments {
                pattern: shown(raw),
                count: segs.len(),
                max: MAX_GLOB_SEGMENTS,
            });
        }
        if wildcards > MAX_GLOB_WILDCARDS {
            return Err(PathPatternError::TooManyWildcards {
                pattern: shown(raw),
                count: wildcards,
                max: MAX_GLOB_WILDCARDS,
            });
        }
        Ok(Self::Glob(PathGlob {
            text: norm.into_boxed_str(),
            segs: segs.into_boxed_slice(),
        }))
    }

    /// Whether `normalized_path` (the output of [`normalize_path`] with the options this pattern was built with)
    /// matches. Allocation-free.
    pub fn matches(&self, normalized_path: &str) -> bool {
        match self {
            Self::Exact(p) => p.matches(normalized_path),
            Self::Under(p) => p.matches(normalized_path),
            Self::Glob(p) => p.matches(normalized_path),
        }
    }

    /// The normalised pattern text (a glob keeps its `*`/`**`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Exact(p) => p.as_str(),
            Self::Under(p) => p.as_str(),
            Self::Glob(p) => p.as_str(),
        }
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ExactPath {
    /// See [`PathPattern::matches`].
    pub fn matches(&self, normalized_path: &str) -> bool {
        *self.0 == *normalized_path
    }

    /// The normalised path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PathPrefix {
    /// See [`PathPattern::matches`].
    pub fn matches(&self, normalized_path: &str) -> bool {
        if &*self.0 == "/" {
            return normalized_path.starts_with('/');
        }
        normalized_path
            .strip_prefix(&*self.0)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// The normalised prefix, without trailing slash (except `/`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PathGlob {
    /// See [`PathPattern::matches`].
    pub fn matches(&self, normalized_path: &str) -> bool {
        match normalized_path.strip_prefix('/') {
            Some(body) => match_segments(&self.segs, body),
            None => false,
        }
    }

    /// The normalised glob text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Next segment of a path body (the path after its leading `/`): `None` when exhausted.
fn next_seg(rest: Option<&str>) -> Option<(&str, Option<&str>)> {
    let rest = rest?;
    Some(match rest.split_once('/') {
        Some((seg, tail)) => (seg, Some(tail)),
        None => (rest, None),
    })
}

fn seg_matches(pat: &GlobSeg, seg: &str) -> bool {
    match pat {
        GlobSeg::AnySegments => true,
        GlobSeg::Literal(lit) => **lit == *seg,
        GlobSeg::Wild(w) => star_match(w.as_bytes(), seg.as_bytes()),
    }
}

/// Segment-level matching with the classic two-pointer wildcard algorithm (`**` is the star, every other element
/// matches exactly one segment): no exponential backtracking.
fn match_segments(pats: &[GlobSeg], body: &str) -> bool {
    let mut p = 0;
    let mut text = Some(body);
    // (pattern index after the last `**`, text position from which that `**` absorbs).
    let mut star: Option<(usize, Option<&str>)> = None;
    loop {
        match (pats.get(p), next_seg(text)) {
            (Some(GlobSeg::AnySegments), _) => {
                p += 1;
                star = Some((p, text));
                continue;
            }
            (Some(pat), Some((seg, rest))) if seg_matches(pat, seg) => {
                p += 1;
                text = rest;
                continue;
            }
            (None, None) => return true,
            _ => {}
        }
        let Some((sp, st)) = star else {
            return false;
        };
        let Some((_, rest)) = next_seg(st) else {
            return false;
        };
        star = Some((sp, rest));
        p = sp;
        text = rest;
    }
}

/// `*` matches zero or more units of `text`, a unit being a percent-escape `%XX` or one byte (so `*` never splits
/// an escape). Two-pointer algorithm, O(len(pat) x len(text)) worst case.
fn star_match(pat: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    loop {
        match pat.get(p) {
            Some(b'*') => {
                p += 1;
                star = Some((p, t));
                continue;
            }
            Some(pc) => {
                if text.get(t) == Some(pc) {
                    p += 1;
                    t += 1;
                    continue;
                }
            }
            None => {
                if t >= text.len() {
                    return true;
                }
            }
        }
        let Some((sp, st)) = star else {
            return false;
        };
        let step = match text.get(st) {
            None => return false,
            Some(b'%') => 3,
            Some(_) => 1,
        };
        let next = (st + step).min(text.len());
        star = Some((sp, next));
        p = sp;
        t = next;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Hosts
// ---------------------------------------------------------------------------------------------------------------

/// Longest host name accepted (DNS limit without the trailing dot).
const MAX_HOST_LEN: usize = 253;
/// Longest DNS label.
const MAX_LABEL_LEN: usize = 63;

/// Normalise a request host as given (`Host` header or URL host): strips a `:port` (also after `[v6]`) and ONE
/// trailing dot. Returns `None` when the result is not a plausible host: empty, a non-numeric or over-long port,
/// an empty label (`a..b`, `.a`, a second trailing dot), a character other than ASCII letters, digits, `-`, `_`
/// and `.` (non-ASCII must arrive in punycode), more than 253 bytes, or a malformed `[...]` literal (returned with
/// its brackets, e.g. `[::1]`). Case is preserved; compare with `eq_ignore_ascii_case`.
///
/// The engine should deny a request whose host is `None` rather than treat it as "no host rule matched".
pub fn normalize_host(host: &str) -> Option<&str> {
    if let Some(rest) = host.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let ok = !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !ok || !valid_port_suffix(after) {
            return None;
        }
        return host.get(..inner.len() + 2);
    }
    let name = match host.split_once(':') {
        Some((name, port)) if valid_port(port) => name,
        Some(_) => return None,
        None => host,
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > MAX_HOST_LEN {
        return None;
    }
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    labels_ok.then_some(name)
}

/// A port: empty (RFC 3986 allows `host:`) or up to five digits, at most 65535.
fn valid_port(port: &str) -> bool {
    port.is_empty()
        || (port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| p <= 65_535))
}

fn valid_port_suffix(after: &str) -> bool {
    after.is_empty() || after.strip_prefix(':').is_some_and(valid_port)
}

/// Why a host pattern was refused. Each message names the pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostPatternError {
    /// The pattern is the empty string.
    #[error("host pattern is empty")]
    Empty,
    /// Longer than 253 bytes.
    #[error("host pattern `{pattern}` is longer than 253 bytes")]
    TooLong {
        /// The start of the pattern.
        pattern: String,
    },
    /// `*` alone.
    #[error("host pattern `*` would match every host; list the hosts or use `*.example.com`")]
    BareWildcard,
    /// `*` anywhere but as the whole first label.
    #[error("host pattern `{pattern}`: `*` is only allowed as the whole first label, as in `*.example.com`")]
    WildcardPosition {
        /// The pattern.
        pattern: String,
    },
    /// `*.com`: fewer than two labels after `*.`.
    #[error("host pattern `{pattern}` is too broad: `*.` must be followed by at least two labels")]
    WildcardTooBroad {
        /// The pattern.
        pattern: String,
    },
    /// `*.0.0.1`: a wildcard over a numeric (IPv4-like) name.
    #[error("host pattern `{pattern}`: a wildcard cannot cover ip addresses")]
    WildcardOnIp {
        /// The pattern.
        pattern: String,
    },
    /// A `:port`.
    #[error("host pattern `{pattern}` contains a port; host patterns match the host name only")]
    Port {
        /// The pattern.
        pattern: String,
    },
    /// An IPv6 literal (`[::1]`), not supported.
    #[error("host pattern `{pattern}`: ipv6 literals are not supported")]
    Ipv6 {
        /// The pattern.
        pattern: String,
    },
    /// Non-ASCII: internationalised names must be written in punycode.
    #[error("host pattern `{pattern}` is not ascii; write internationalised names in punycode (`xn--...`)")]
    NonAscii {
        /// The pattern.
        pattern: String,
    },
    /// A character other than letters, digits, `-`, `_`, `.`.
    #[error("host pattern `{pattern}` contains `{ch}`, which is not allowed in a host name")]
    InvalidChar {
        /// The pattern.
        pattern: String,
        /// The character (escaped for display).
        ch: String,
    },
    /// An empty label (`a..b`, leading dot, two trailing dots).
    #[error("host pattern `{pattern}` has an empty label")]
    EmptyLabel {
        /// The pattern.
        pattern: String,
    },
    /// A label longer than 63 bytes.
    #[error("host pattern `{pattern}` has a label longer than 63 bytes")]
    LabelTooLong {
        /// The pattern.
        pattern: String,
    },
    /// A label starting or ending with `-`.
    #[error("host pattern `{pattern}` has label `{label}` starting or ending with `-`")]
    HyphenEdge {
        /// The pattern.
        pattern: String,
        /// The label.
        label: String,
    },
}

/// A host pattern: `api.example.com` (exactly that host) or `*.example.com` (one or more labels followed by
/// `.example.com`, never `example.com` itself). Patterns are ASCII-lower-cased; one trailing dot is ignored.
/// Refused: `*`, `*.com` (fewer than two labels after `*.`), `*` elsewhere (`a.*.b`, `*x.b.c`), ports, IPv6
/// literals, non-ASCII (use punycode), empty labels, labels over 63 bytes or with a leading/trailing `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct HostPattern {
    /// Canonical text: `api.example.com` or `*.example.com`.
    text: Box<str>,
    wildcard: bool,
}

impl HostPattern {
    /// Whether the request host `host`, as given (any case, optional `:port`, optional single trailing dot),
    /// matches. A host that [`normalize_host`] refuses matches nothing. Allocation-free.
    pub fn matches(&self, host: &str) -> bool {
        normalize_host(host).is_some_and(|h| self.matches_normalized(h))
    }

    /// Like [`HostPattern::matches`] for a host already passed through [`normalize_host`] (saves re-normalising
    /// when several patterns are tried). Case-insensitive, allocation-free.
    pub fn matches_normalized(&self, host: &str) -> bool {
        if self.wildcard {
            // `text` is `*.suffix`; keep `.suffix` so the match is on a label boundary.
            let suffix = self.text.get(1..).unwrap_or("");
            host.len() > suffix.len()
                && host
                    .get(host.len() - suffix.len()..)
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
                && !host.starts_with('.')
        } else {
            host.eq_ignore_ascii_case(&self.text)
        }
    }

    /// The canonical pattern text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for HostPattern {
    type Err = HostPatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let pattern = || shown(s);
        if s.is_empty() {
            return Err(HostPatternError::Empty);
        }
        if !s.is_ascii() {
            return Err(HostPatternError::NonAscii { pattern: pattern() });
        }
        if s.starts_with('[') || s.matches(':').count() > 1 {
            return Err(HostPatternError::Ipv6 { pattern: pattern() });
        }
        if let Some((_, port)) = s.split_once(':') {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HostPatternError::Port { pattern: pattern() });
            }
            return Err(HostPatternError::InvalidChar {
                pattern: pattern(),
                ch: ":".to_owned(),
            });
        }
        let lower = s.to_ascii_lowercase();
        let body = lower.strip_suffix('.').unwrap_or(&lower);
        if body.len() > MAX_HOST_LEN {
            return Err(HostPatternError::TooLong {
                pattern: format!("{}...", snippet(s, 0, 40)),
            });
        }
        if body == "*" {
            return Err(HostPatternError::BareWildcard);
        }
        let (wildcard, name) = match body.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, body),
        };
        if name.contains('*') {
            return Err(HostPatternError::WildcardPosition { pattern: pattern() });
        }
        for label in name.split('.') {
            if label.is_empty() {
                return Err(HostPatternError::EmptyLabel { pattern: pattern() });
            }
            if let Some(c) = label
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
            {
                return Err(HostPatternError::InvalidChar {
                    pattern: pattern(),
                    ch: c.escape_debug().collect(),
                });
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(HostPatternError::LabelTooLong { pattern: pattern() });
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(HostPatternError::HyphenEdge {
                    pattern: pattern(),
                    label: label.to_owned(),
                });
            }
        }
        if wildcard {
            if name.split('.').count() < 2 {
                return Err(HostPatternError::WildcardTooBroad { pattern: pattern() });
            }
            let last = name.rsplit('.').next().unwrap_or(name);
            if last.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HostPatternError::WildcardOnIp { pattern: pattern() });
            }
        }
        Ok(Self {
            text: body.into(),
            wildcard,
        })
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Methods
// ---------------------------------------------------------------------------------------------------------------

/// Longest method name accepted in a policy.
pub const MAX_METHOD_LEN: usize = 32;

/// Why a method name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MethodError {
    /// The method is the empty string.
    #[error("method is empty")]
    Empty,
    /// A character outside the RFC 9110 token set (spaces included).
    #[error("method `{method}` contains `{ch}`, which is not allowed in a method name")]
    InvalidChar {
        /// The method as written.
        method: String,
        /// The character (escaped for display).
        ch: String,
    },
    /// Longer than [`MAX_METHOD_LEN`].
    #[error("method `{method}` is longer than {max} characters")]
    TooLong {
        /// The start of the method.
        method: String,
        /// The limit.
        max: usize,
    },
}

/// An HTTP method named in a policy: an RFC 9110 token, stored upper-case (`patch` is stored as `PATCH`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Method(Box<str>);

const fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

impl Method {
    /// The upper-case method name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the request method `request_method` is this method, compared ASCII-case-insensitively: RFC 9110
    /// methods are case-sensitive, but origins commonly upper-case them, so `patch` must not slip past a rule on
    /// `PATCH`. Allocation-free.
    pub fn matches(&self, request_method: &str) -> bool {
        self.0.eq_ignore_ascii_case(request_method)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Method {
    type Err = MethodError;

    /// Accepts an RFC 9110 token (letters, digits, ``!#$%&'*+-.^_`|~``) of 1 to [`MAX_METHOD_LEN`] characters; no
    /// trimming (surrounding spaces are refused).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(MethodError::Empty);
        }
        if let Some(c) = s.chars().find(|&c| !u8::try_from(c).is_ok_and(is_tchar)) {
            return Err(MethodError::InvalidChar {
                method: shown(s),
                ch: c.escape_debug().collect(),
            });
        }
        if s.len() > MAX_METHOD_LEN {
            return Err(MethodError::TooLong {
                method: format!("{}...", snippet(s, 0, MAX_METHOD_LEN)),
                max: MAX_METHOD_LEN,
            });
        }
        Ok(Self(s.to_ascii_uppercase().into_boxed_str()))
    }
}

/// A set of methods from a policy. Duplicates are dropped. An empty set contains nothing (whether an absent
/// method list means "any method" is the engine's decision).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MethodSet(Vec<Method>);

impl MethodSet {
    /// A set of the given methods (duplicates dropped, order of first appearance kept).
    pub fn new(methods: impl IntoIterator<Item = Method>) -> Self {
        let mut set: Vec<Method> = Vec::new();
        for m in methods {
            if !set.contains(&m) {
                set.push(m);
            }
        }
        Self(set)
    }

    /// Whether the request method is in the set, compared ASCII-case-insensitively (see [`Method::matches`]):
    /// `patch` is contained in a set holding `PATCH`. Allocation-free.
    pub fn contains(&self, request_method: &str) -> bool {
        self.0.iter().any(|m| m.matches(request_method))
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The methods, in order of first appearance.
    pub fn iter(&self) -> impl Iterator<Item = &Method> {
        self.0.iter()
    }
}

impl FromIterator<Method> for MethodSet {
    fn from_iter<I: IntoIterator<Item = Method>>(iter: I) -> Self {
        Self::new(iter)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    const DEF: PathOptions = PathOptions {
        allow_semicolons: false,
        case_insensitive: false,
        allow_double_encoding: false,
        trailing_dots_and_spaces: false,
        format_suffixes: false,
    };
    const IIS: PathOptions = PathOptions {
        trailing_dots_and_spaces: true,
        ..DEF
    };
    const SEMI: PathOptions = PathOptions {
        allow_semicolons: true,
        ..DEF
    };
    const CI: PathOptions = PathOptions {
        case_insensitive: true,
        ..DEF
    };
    const DOUBLE: PathOptions = PathOptions {
        allow_double_encoding: true,
        ..DEF
    };

    /// (input, options, expected normalised path or exact error message).
    const NORMALIZE_CASES: &[(&str, PathOptions, Result<&str, &str>)] = &[
        // unchanged (borrowed)
        ("/", DEF, Ok("/")),
        ("/admin", DEF, Ok("/admin")),
        ("/admin/", DEF, Ok("/admin/")),
        ("/a/b/c.html", DEF, Ok("/a/b/c.html")),
        ("/a-b_c~d.e", DEF, Ok("/a-b_c~d.e")),
        ("/ADMIN", DEF, Ok("/ADMIN")),
        ("/a:b@c!$&'()*+,=", DEF, Ok("/a:b@c!$&'()*+,=")),
        ("/caf%C3%A9", DEF, Ok("/caf%C3%A9")),
        ("/a%20b", DEF, Ok("/a%20b")),
        ("/a%25b", DEF, Ok("/a%25b")),
        // double encoding: `%25` then two hex digits, raw or escaped, is refused unless allowed
        ("/a%25", DEF, Ok("/a%25")),
        ("/100%25off", DEF, Ok("/100%25off")),
        ("/a%25%2F", DEF, Err("encoded slash `%2F` at byte 5 is refused (servers disagree on whether it separates segments)")),
        ("/a%2541", DEF, Err("double-encoded `%2541` at byte 2 is refused: a proxy or origin that decodes twice would read another escape there")),
        ("/x/%252e%252e/admin", DEF, Err("double-encoded `%252e` at byte 3 is refused: a proxy or origin that decodes twice would read another escape there")),
        ("/a%25%34%31/b", DEF, Err("double-encoded `%25%34%31` at byte 2 is refused: a proxy or origin that decodes twice would read another escape there")),
        ("/a%25a%31", DEF, Err("double-encoded `%25a%31` at byte 2 is refused: a proxy or origin that decodes twice would read another escape there")),
        ("/a%2541", DOUBLE, Ok("/a%2541")),
        ("/a%25%34%31", DOUBLE, Ok("/a%2541")),
        ("/x/%252e%252e/admin", DOUBLE, Ok("/x/%252e%252e/admin")),
        ("/a%3Fb%23c", DEF, Ok("/a%3Fb%23c")),
        ("/...", DEF, Ok("/...")),
        ("/.a/..b/a..", DEF, Ok("/.a/..b/a..")),
        // start / query / fragment / empty
        ("", DEF, Err("path is empty")),
        ("admin", DEF, Err("path does not start with `/`")),
        ("%2Fadmin", DEF, Err("path does not start with `/`")),
        ("\\admin", DEF, Err("path does not start with `/`")),
        ("/a?b", DEF, Err("`?` at byte 2 starts a query or fragment, which a path must not contain")),
        ("/a#b", DEF, Err("`#` at byte 2 starts a query or fragment, which a path must not contain")),
        // escapes of unreserved characters, sub-delimiters but `;`, `:` and `@` decoded; others kept upper-case
        ("/%61dmin", DEF, Ok("/admin")),
        ("/adm%69n", DEF, Ok("/admin")),
        ("/%7Euser", DEF, Ok("/~user")),
        ("/%7euser", DEF, Ok("/~user")),
        ("/a%2Db%5Fc%2E", DEF, Ok("/a-b_c.")),
        ("/caf%c3%a9", DEF, Ok("/caf%C3%A9")),
        ("/a%3ab", DEF, Ok("/a:b")),
        ("/a%2a", DEF, Ok("/a*")),
        ("/v1/keys%3Arotate", DEF, Ok("/v1/keys:rotate")),
        ("/odata/%24batch", DEF, Ok("/odata/$batch")),
        ("/users/%40admin", DEF, Ok("/users/@admin")),
        ("/%21%24%26%27%28%29%2A%2B%2C%3D%3A%40", DEF, Ok("/!$&'()*+,=:@")),
        ("/a%3F%23%25b", DEF, Ok("/a%3F%23%25b")),
        ("/a%20b%22%3C%3E%5B%5D%5E%60%7B%7C%7D", DEF, Ok("/a%20b%22%3C%3E%5B%5D%5E%60%7B%7C%7D")),
        ("/a%3bb", SEMI, Ok("/a%3Bb")),
        ("/%41DMIN", DEF, Ok("/ADMIN")),
        // malformed escapes
        ("/a%zz", DEF, Err("malformed percent-escape `%zz` at byte 2 (expected `%` and two hex digits)")),
        ("/a%2", DEF, Err("malformed percent-escape `%2` at byte 2 (expected `%` and two hex digits)")),
        ("/a%", DEF, Err("malformed percent-escape `%` at byte 2 (expected `%` and two hex digits)")),
        ("/a%g1", DEF, Err("malformed percent-escape `%g1` at byte 2 (expected `%` and two hex digits)")),
        ("/a%%41", DEF, Err("malformed percent-escape `%%4` at byte 2 (expected `%` and two hex digits)")),
        ("/a%2é", DEF, Err("malformed percent-escape `%2é` at byte 2 (expected `%` and two hex digits)")),
        // encoded slash / backslash, raw backslash
        ("/admin%2f..", DEF, Err("encoded slash `%2f` at byte 6 is refused (servers disagree on whether it separates segments)")),
        ("/a%2Fb", DEF, Err("encoded slash `%2F` at byte 2 is refused (servers disagree on whether it separates segments)")),
        ("/a%5cb", DEF, Err("encoded backslash `%5c` at byte 2 is refused (some servers treat it as `/`)")),
        ("/a\\b", DEF, Err("backslash at byte 2 is refused (some servers treat it as `/`)")),
        ("/..\\admin", DEF, Err("backslash at byte 3 is refused (some servers treat it as `/`)")),
        // control characters
        ("/a%00", DEF, Err("encoded control character `%00` at byte 2 is refused")),
        ("/a%0d%0aSet-Cookie", DEF, Err("encoded control character `%0d` at byte 2 is refused")),
        ("/a%1F", DEF, Err("encoded control character `%1F` at byte 2 is refused")),
        ("/a%7f", DEF, Err("encoded control character `%7f` at byte 2 is refused")),
        ("/a\0b", DEF, Err("control character 0x00 at byte 2 is refused")),
        ("/a\tb", DEF, Err("control character 0x09 at byte 2 is refused")),
        ("/a\x7Fb", DEF, Err("control character 0x7F at byte 2 is refused")),
        // UTF-8 validity of the decoded bytes
        ("/%C0%AE%C0%AE/admin", DEF, Err("percent-decoded path is not valid utf-8 at byte 1 (malformed or overlong encoding)")),
        ("/%E0%80%AE", DEF, Err("percent-decoded path is not valid utf-8 at byte 1 (malformed or overlong encoding)")),
        ("/%C1%BF", DEF, Err("percent-decoded path is not valid utf-8 at byte 1 (malformed or overlong encoding)")),
        ("/%F0%80%80%AF", DEF, Err("percent-decoded path is not valid utf-8 at byte 1 (malformed or overlong encoding)")),
        ("/%ED%A0%80", DEF, Err("percent-decoded path is not valid utf-8 at byte 1 (malformed or overlong encoding)")),
        ("/%F4%90%80%80", DEF, Err("percent-decoded path is not valid utf-8 at byte 1 (malformed or overlong encoding)")),
        ("/%FF", DEF, Err("percent-decoded path is not valid utf-8 at byte 1 (malformed or overlong encoding)")),
        ("/a%80", DEF, Err("percent-decoded path is not valid utf-8 at byte 2 (malformed or overlong encoding)")),
        ("/a%C3", DEF, Err("percent-decoded path is not valid utf-8 at byte 2 (malformed or overlong encoding)")),
        ("/a%C3/b", DEF, Err("percent-decoded path is not valid utf-8 at byte 2 (malformed or overlong encoding)")),
        ("/%C3/%A9", DEF, Err("percent-decoded path is not valid utf-8 at byte 1 (malformed or overlong encoding)")),
        ("/%C3é", DEF, Err("percent-decoded path is not valid utf-8 at byte 1 (malformed or overlong encoding)")),
        ("/%F0%9F%98%80", DEF, Ok("/%F0%9F%98%80")),
        ("/%EF%BF%BF", DEF, Ok("/%EF%BF%BF")),
        // semicolons
        ("/admin;jsessionid=1", DEF, Err("`;` at byte 6 is refused: servers such as tomcat strip `;parameters` from segments (semicolons are not allowed for this origin)")),
        ("/admin%3bx", DEF, Err("`%3b` at byte 6 is refused: servers such as tomcat strip `;parameters` from segments (semicolons are not allowed for this origin)")),
        ("/admin;jsessionid=1", SEMI, Ok("/admin;jsessionid=1")),
        ("/admin%3bx", SEMI, Ok("/admin%3Bx")),
        ("/;x/admin", SEMI, Ok("/;x/admin")),
        ("/a/..;/admin", SEMI, Err("dot segment with parameters `..;` is refused (servers that strip parameters treat it as `..`)")),
        ("/a/.;x/admin", SEMI, Err("dot segment with parameters `.;x` is refused (servers that strip parameters treat it as `..`)")),
        ("/a/..%3Bx", SEMI, Err("dot segment with parameters `..%3Bx` is refused (servers that strip parameters treat it as `..`)")),
        ("/a/%2e;x", SEMI, Err("dot segment with parameters `%2e;x` is refused (servers that strip parameters treat it as `..`)")),
        ("/a/...;x", SEMI, Ok("/a/...;x")),
        ("/a/x;..", SEMI, Ok("/a/x;..")),
        // encoded dot segments
        ("/%2e%2e/admin", DEF, Err("dot segment written with percent-escapes `%2e%2e` is refused (servers disagree on its meaning)")),
        ("/.%2e/admin", DEF, Err("dot segment written with percent-escapes `.%2e` is refused (servers disagree on its meaning)")),
        ("/%2E./admin", DEF, Err("dot segment written with percent-escapes `%2E.` is refused (servers disagree on its meaning)")),
        ("/a/%2e", DEF, Err("dot segment written with percent-escapes `%2e` is refused (servers disagree on its meaning)")),
        ("/a/%2E/b", DEF, Err("dot segment written with percent-escapes `%2E` is refused (servers disagree on its meaning)")),
        ("/%2e%2e%2e", DEF, Ok("/...")),
        // trailing dots and spaces (IIS)
        ("/admin.", DEF, Ok("/admin.")),
        ("/admin.", IIS, Ok("/admin")),
        ("/admin%20", IIS, Ok("/admin")),
        ("/admin. . .%20/x", IIS, Ok("/admin/x")),
        ("/admin%2E", IIS, Ok("/admin")),
        ("/admin.json", IIS, Ok("/admin.json")),
        ("/a.b/", IIS, Ok("/a.b/")),
        ("/a./../admin", IIS, Ok("/admin")),
        ("/./admin", IIS, Ok("/admin")),
        ("/x/../admin.", IIS, Ok("/admin")),
        ("/...", IIS, Err("segment `...` is only dots and spaces, which origins that strip trailing dots and spaces read as nothing or as a dot segment")),
        ("/a/.%20/admin", IIS, Err("segment `.%20` is only dots and spaces, which origins that strip trailing dots and spaces read as nothing or as a dot segment")),
        ("/a/%20", IIS, Err("segment `%20` is only dots and spaces, which origins that strip trailing dots and spaces read as nothing or as a dot segment")),
        ("/a/.. /admin", IIS, Err("segment `.. ` is only dots and spaces, which origins that strip trailing dots and spaces read as nothing or as a dot segment")),
        ("/a%2e", DEF, Ok("/a.")),
        // plain dot segments
        ("/admin/./", DEF, Ok("/admin/")),
        ("/admin/.", DEF, Ok("/admin/")),
        ("/a/../admin", DEF, Ok("/admin")),
        ("/a/b/..", DEF, Ok("/a/")),
        ("/a/b/../", DEF, Ok("/a/")),
        ("/..", DEF, Ok("/")),
        ("/../../admin", DEF, Ok("/admin")),
        ("/./admin", DEF, Ok("/admin")),
        ("/a/./b/../../c/", DEF, Ok("/c/")),
        ("/.", DEF, Ok("/")),
        // slashes
        ("//admin", DEF, Ok("/admin")),
        ("///admin//x///", DEF, Ok("/admin/x/")),
        ("//", DEF, Ok("/")),
        ("/admin//", DEF, Ok("/admin/")),
        ("/a//b/..", DEF, Ok("/a/")),
        ("//../admin", DEF, Ok("/admin")),
        ("/a//../b", DEF, Err("`..` after an empty segment (`//..`) is refused (it resolves differently on servers that merge slashes)")),
        ("/a/.//../b", DEF, Err("`..` after an empty segment (`//..`) is refused (it resolves differently on servers that merge slashes)")),
        ("/a/b//..", DEF, Err("`..` after an empty segment (`//..`) is refused (it resolves differently on servers that merge slashes)")),
        // characters that may not be raw in a path get encoded
        ("/a b", DEF, Ok("/a%20b")),
        ("/café", DEF, Ok("/caf%C3%A9")),
        ("/a|b{c}", DEF, Ok("/a%7Cb%7Bc%7D")),
        ("/a\"<>`^[]", DEF, Ok("/a%22%3C%3E%60%5E%5B%5D")),
        // case-insensitive
        ("/ADMIN", CI, Ok("/admin")),
        ("/Admin/X", CI, Ok("/admin/x")),
        ("/admin", CI, Ok("/admin")),
        ("/%41dmin", CI, Ok("/admin")),
        ("/caf%c3%a9", CI, Ok("/caf%C3%A9")),
        ("/CAF%C3%A9", CI, Ok("/caf%C3%A9")),
        ("/ÉCOLE", CI, Ok("/%C3%89cole")),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn normalize_table() {
        for (idx, &(input, opts, expected)) in NORMALIZE_CASES.iter().enumerate() {
            let got = normalize_path(input, &opts);
            match (expected, &got) {
                (Ok(want), Ok(cow)) => {
                    assert_eq!(cow.as_ref(), want, "case {idx} {input:?} {opts:?}");
                    assert_eq!(
                        matches!(cow, Cow::Borrowed(_)),
                        want == input,
                        "case {idx} {input:?}: borrowed iff unchanged"
                    );
                    let again = normalize_path(cow, &opts);
                    assert_eq!(
                        again.as_deref(),
                        Ok(want),
                        "case {idx} {input:?}: idempotent"
                    );
                }
                (Err(msg), Err(e)) => {
                    assert_eq!(e.to_string(), msg, "case {idx} {input:?} {opts:?}")
                }
                _ => panic!("case {idx} {input:?} {opts:?}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn normalize_error_values() {
        let cases: &[(&str, PathOptions, PathError)] = &[
            (
                "/a%zz",
                DEF,
                PathError::BadEscape {
                    escape: "%zz".into(),
                    at: 2,
                },
            ),
            (
                "/a%2f",
                DEF,
                PathError::EncodedSlash {
                    escape: "%2f".into(),
                    at: 2,
                },
            ),
            (
                "/a%00",
                DEF,
                PathError::EncodedControlChar {
                    escape: "%00".into(),
                    at: 2,
                },
            ),
            ("/a\nb", DEF, PathError::ControlChar { byte: b'\n', at: 2 }),
            (
                "/x;",
                DEF,
                PathError::Semicolon {
                    written: ";".into(),
                    at: 2,
                },
            ),
            (
                "/%2e%2E",
                DEF,
                PathError::EncodedDotSegment {
                    segment: "%2e%2E".into(),
                },
            ),
            (
                "/a/..;",
                SEMI,
                PathError::DotSegmentParams {
                    segment: "..;".into(),
                },
            ),
            ("/a//..", DEF, PathError::AmbiguousDotDot),
            ("x", DEF, PathError::NotAbsolute),
            ("", DEF, PathError::Empty),
        ];
        for (input, opts, want) in cases {
            assert_eq!(normalize_path(input, opts).as_ref(), Err(want), "{input:?}");
        }
    }

    #[derive(Clone, Copy, Debug)]
    enum Kind {
        Exact,
        Under,
        Glob,
    }

    fn build(
        kind: Kind,
        pattern: &str,
        opts: &PathOptions,
    ) -> Result<PathPattern, PathPatternError> {
        match kind {
            Kind::Exact => PathPattern::exact(pattern, opts),
            Kind::Under => PathPattern::under(pattern, opts),
            Kind::Glob => PathPattern::glob(pattern, opts),
        }
    }

    /// (kind, pattern, options, request path as received, expected match). The request path is normalised with
    /// the same options first; a refused path matches nothing here (the engine denies it).
    const MATCH_CASES: &[(Kind, &str, PathOptions, &str, bool)] = &[
        (Kind::Exact, "/health", DEF, "/health", true),
        (Kind::Exact, "/health", DEF, "/health/", false),
        (Kind::Exact, "/health", DEF, "/healthz", false),
        (Kind::Exact, "/health", DEF, "/Health", false),
        (Kind::Exact, "/health", DEF, "//health", true),
        (Kind::Exact, "/health", DEF, "/%68ealth", true),
        (Kind::Exact, "/health", DEF, "/x/../health", true),
        (Kind::Exact, "/health/", DEF, "/health/", true),
        (Kind::Exact, "/health/", DEF, "/health", false),
        (Kind::Exact, "//health", DEF, "/health", true),
        (Kind::Exact, "/caf%c3%a9", DEF, "/café", true),
        (Kind::Exact, "/", DEF, "/", true),
        (Kind::Exact, "/", DEF, "/a", false),
        (Kind::Exact, "/Admin", CI, "/ADMIN", true),
        (Kind::Exact, "/admin", DEF, "/ADMIN", false),
        (Kind::Under, "/admin", DEF, "/admin", true),
        (Kind::Under, "/admin", DEF, "/admin/", true),
        (Kind::Under, "/admin", DEF, "/admin/x/y", true),
        (Kind::Under, "/admin", DEF, "/administrator", false),
        (Kind::Under, "/admin", DEF, "/admi", false),
        (Kind::Under, "/admin", DEF, "/", false),
        (Kind::Under, "/admin", DEF, "//admin//x", true),
        (Kind::Under, "/admin", DEF, "/%61dmin/x", true),
        (Kind::Under, "/admin", DEF, "/public/../admin/x", true),
        (Kind::Under, "/admin", DEF, "/ADMIN/x", false),
        (Kind::Under, "/admin", CI, "/ADMIN/x", true),
        (Kind::Under, "/ADMIN", CI, "/admin", true),
        (Kind::Under, "/admin/", DEF, "/admin", true),
        (Kind::Under, "/admin/", DEF, "/admin/x", true),
        (Kind::Under, "/admin/", DEF, "/administrator", false),
        (Kind::Under, "/a/b", DEF, "/a/b/c", true),
        (Kind::Under, "/a/b", DEF, "/a/bc", false),
        (Kind::Under, "/a/b", DEF, "/a", false),
        (Kind::Under, "/", DEF, "/", true),
        (Kind::Under, "/", DEF, "/anything/at/all", true),
        (Kind::Under, "/", DEF, "/a/", true),
        (Kind::Under, "/admin", SEMI, "/admin;x", false),
        (Kind::Under, "/admin", SEMI, "/admin/;x", true),
        (Kind::Glob, "/api/*/users", DEF, "/api/v1/users", true),
        (Kind::Glob, "/api/*/users", DEF, "/api//users", false),
        (Kind::Glob, "/api/*/users", DEF, "/api/v1/v2/users", false),
        (Kind::Glob, "/api/*/users", DEF, "/api/v1/users/", false),
        (Kind::Glob, "/api/*", DEF, "/api/", true),
        (Kind::Glob, "/api/*", DEF, "/api/x", true),
        (Kind::Glob, "/api/*", DEF, "/api", false),
        (Kind::Glob, "/api/*", DEF, "/api/x/y", false),
        (Kind::Glob, "/*.php", DEF, "/index.php", true),
        (Kind::Glob, "/*.php", DEF, "/.php", true),
        (Kind::Glob, "/*.php", DEF, "/a/index.php", false),
        (Kind::Glob, "/*.php", DEF, "/index%2Ephp", true),
        (Kind::Glob, "/*.php", DEF, "/index.phps", false),
        (Kind::Glob, "/a*b*c", DEF, "/abc", true),
        (Kind::Glob, "/a*b*c", DEF, "/axxbyybc", true),
        (Kind::Glob, "/a*b*c", DEF, "/axxcyyb", false),
        (Kind::Glob, "/*", DEF, "/", true),
        (Kind::Glob, "/*", DEF, "/x", true),
        (Kind::Glob, "/*", DEF, "/x/", false),
        (Kind::Glob, "/**", DEF, "/", true),
        (Kind::Glob, "/**", DEF, "/a/b/c/", true),
        (Kind::Glob, "/admin/**", DEF, "/admin", true),
        (Kind::Glob, "/admin/**", DEF, "/admin/", true),
        (Kind::Glob, "/admin/**", DEF, "/admin/x/y", true),
        (Kind::Glob, "/admin/**", DEF, "/administrator", false),
        (Kind::Glob, "/**/secret", DEF, "/secret", true),
        (Kind::Glob, "/**/secret", DEF, "/a/b/secret", true),
        (Kind::Glob, "/**/secret", DEF, "/a/b/secret/", false),
        (Kind::Glob, "/**/secret", DEF, "/a/b/notsecret", false),
        (Kind::Glob, "/**/secret/**", DEF, "/a/secret/b", true),
        (Kind::Glob, "/a/**/b/**/c", DEF, "/a/b/c", true),
        (Kind::Glob, "/a/**/b/**/c", DEF, "/a/x/b/y/z/c", true),
        (Kind::Glob, "/a/**/b/**/c", DEF, "/a/x/c/b", false),
        (Kind::Glob, "/a/**/**/b", DEF, "/a/b", true),
        (Kind::Glob, "/a/**/", DEF, "/a/", true),
        (Kind::Glob, "/a/**/", DEF, "/a/x/", true),
        (Kind::Glob, "/a/**/", DEF, "/a/x", false),
        (Kind::Glob, "/a/*/", DEF, "/a/x/", true),
        (Kind::Glob, "/*/x", DEF, "/y/x", true),
        (Kind::Glob, "//a//*", DEF, "/a/b", true),
        (Kind::Glob, "/*b", DEF, "/%C3%A9b", true),
        (Kind::Glob, "/*A9", DEF, "/%C3%A9", false),
        (Kind::Glob, "/*%C3%A9", DEF, "/caf%C3%A9", true),
        (Kind::Glob, "/*%C3%A9", DEF, "/cafe", false),
        (Kind::Glob, "/caf*", DEF, "/café", true),
        (Kind::Glob, "/API/*", CI, "/api/X", true),
        (Kind::Glob, "/api/*", DEF, "/API/x", false),
        (Kind::Exact, "/a%2A", DEF, "/a%2a", true),
        (Kind::Exact, "/a%2A", DEF, "/a*", true),
        (Kind::Exact, "/a%2A", DEF, "/ab", false),
        (Kind::Glob, "/a*", DEF, "/a%2a", true),
        // Escapes origins decode before routing match their characters, both ways.
        (
            Kind::Exact,
            "/v1/keys:rotate",
            DEF,
            "/v1/keys%3Arotate",
            true,
        ),
        (
            Kind::Exact,
            "/v1/keys%3arotate",
            DEF,
            "/v1/keys:rotate",
            true,
        ),
        (Kind::Exact, "/odata/$batch", DEF, "/odata/%24batch", true),
        (
            Kind::Under,
            "/users/@admin",
            DEF,
            "/users/%40admin/keys",
            true,
        ),
        (
            Kind::Glob,
            "/files/*/(copy)",
            DEF,
            "/files/x/%28copy%29",
            true,
        ),
        (Kind::Exact, "/a+b", DEF, "/a%2Bb", true),
        (Kind::Exact, "/admin", IIS, "/admin.", true),
        (Kind::Under, "/admin", IIS, "/admin%20/users", true),
        (Kind::Exact, "/admin.", IIS, "/admin", true),
        (Kind::Exact, "/a+b", DEF, "/a%20b", false),
        (Kind::Exact, "/a%3Fb", DEF, "/a%3fb", true),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn format_suffix_cuts_table() {
        for (path, want) in [
            ("/admin.json", ["/admin", ""]),
            ("/admin/users.xml", ["/admin/users", ""]),
            ("/a/x.tar.gz", ["/a/x", "/a/x.tar"]),
            ("/admin", ["", ""]),
            ("/.env", ["", ""]),
            ("/..json", ["/.", ""]),
            ("/a.b/c", ["", ""]),
            ("/", ["", ""]),
            ("", ["", ""]),
        ] {
            let cuts = format_suffix_cuts(path).map(|c| if c == 0 { "" } else { &path[..c] });
            assert_eq!(cuts, want, "{path:?}");
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn pattern_match_table() {
        for (idx, &(kind, pattern, opts, path, want)) in MATCH_CASES.iter().enumerate() {
            let pat = build(kind, pattern, &opts)
                .unwrap_or_else(|e| panic!("case {idx} {kind:?} {pattern:?}: {e}"));
            let norm =
                normalize_path(path, &opts).unwrap_or_else(|e| panic!("case {idx} {path:?}: {e}"));
            assert_eq!(
                pat.matches(&norm),
                want,
                "case {idx}: {kind:?} {pattern:?} vs {path:?} (normalised {norm:?})"
            );
        }
    }

    /// (kind, pattern, exact error message).
    const PATTERN_ERRORS: &[(Kind, &str, &str)] = &[
        (Kind::Exact, "", "path pattern is empty"),
        (Kind::Under, "", "path pattern is empty"),
        (Kind::Glob, "", "path pattern is empty"),
        (Kind::Exact, "health", "path pattern `health` is invalid: path does not start with `/`"),
        (Kind::Glob, "*.php", "path pattern `*.php` is invalid: path does not start with `/`"),
        (Kind::Under, "/a%2fb", "path pattern `/a%2fb` is invalid: encoded slash `%2f` at byte 2 is refused (servers disagree on whether it separates segments)"),
        (Kind::Exact, "/a?x=1", "path pattern `/a?x=1` is invalid: `?` at byte 2 starts a query or fragment, which a path must not contain"),
        (Kind::Exact, "/a;b", "path pattern `/a;b` is invalid: `;` at byte 2 is refused: servers such as tomcat strip `;parameters` from segments (semicolons are not allowed for this origin)"),
        (Kind::Exact, "/a/*", "path pattern `/a/*` contains `*`, which only a glob pattern understands"),
        (Kind::Under, "/a*", "path pattern `/a*` contains `*`, which only a glob pattern understands"),
        (Kind::Glob, "/a**", "glob `/a**` has segment `a**`: `**` must be a whole segment"),
        (Kind::Glob, "/**a/b", "glob `/**a/b` has segment `**a`: `**` must be a whole segment"),
        (Kind::Glob, "/***", "glob `/***` has segment `***`: `**` must be a whole segment"),
        (Kind::Glob, "/a/**/../b", "glob `/a/**/../b` contains a `.` or `..` segment"),
        (Kind::Glob, "/a/./*", "glob `/a/./*` contains a `.` or `..` segment"),
        (Kind::Glob, "/a%2a", "glob `/a%2a` contains `%2A`, an escaped `*`: requests' `%2A` is read as `*`, and a glob has no literal `*` (use `path_is` for a path with `*` in it)"),
        (Kind::Glob, "/*%A9", "path pattern `/*%A9` is invalid: percent-decoded path is not valid utf-8 at byte 2 (malformed or overlong encoding)"),
        (Kind::Glob, "/a\tb", "path pattern `/a\\tb` is invalid: control character 0x09 at byte 2 is refused"),
        (Kind::Glob, "/*/*/*/*/*/*/*/*/*/*/*/*/*/*/*/*/*", "glob `/*/*/*/*/*/*/*/*/*/*/*/*/*/*/*/*/*` has 17 wildcards, more than the limit of 16"),
        (Kind::Glob, "/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a", "glob `/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a` has 33 segments, more than the limit of 32"),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn pattern_error_table() {
        for (idx, &(kind, pattern, msg)) in PATTERN_ERRORS.iter().enumerate() {
            match build(kind, pattern, &DEF) {
                Ok(p) => panic!("case {idx} {kind:?} {pattern:?}: accepted as {p:?}"),
                Err(e) => assert_eq!(e.to_string(), msg, "case {idx} {kind:?} {pattern:?}"),
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn pattern_limits_and_text() {
        let long = format!("/{}", "a".repeat(MAX_PATH_PATTERN_LEN));
        let err = PathPattern::exact(&long, &DEF).map(|p| p.to_string());
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err(format!(
                "path pattern `/{}...` is 1025 bytes long, more than the limit of 1024",
                "a".repeat(39)
            ))
        );
        let ok = format!("/{}", "a".repeat(MAX_PATH_PATTERN_LEN - 1));
        assert!(PathPattern::exact(&ok, &DEF).is_ok());
        let cases: &[(Kind, &str, PathOptions, &str)] = &[
            (Kind::Exact, "//a/./b", DEF, "/a/b"),
            (Kind::Under, "/admin/", DEF, "/admin"),
            (Kind::Under, "/", DEF, "/"),
            (Kind::Under, "//", DEF, "/"),
            (Kind::Glob, "/A/**/**/*.PHP", CI, "/a/**/**/*.php"),
            (Kind::Glob, "/a/%7e*", DEF, "/a/~*"),
        ];
        for &(kind, pattern, opts, text) in cases {
            let p = build(kind, pattern, &opts).unwrap_or_else(|e| panic!("{pattern:?}: {e}"));
            assert_eq!(p.as_str(), text, "{kind:?} {pattern:?}");
            assert_eq!(p.to_string(), text, "{kind:?} {pattern:?}");
        }
        // 16 wildcards and 32 segments are accepted.
        let sixteen = "/*".repeat(16);
        assert!(PathPattern::glob(&sixteen, &DEF).is_ok());
        let thirty_two = "/a".repeat(32);
        assert!(PathPattern::glob(&thirty_two, &DEF).is_ok());
        // Repeated `**` collapse before the segment cap is applied.
        let many_any = format!("{}/x", "/**".repeat(16));
        assert!(PathPattern::glob(&many_any, &DEF).is_ok());
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn glob_does_not_match_unnormalised_or_relative() {
        let g = PathPattern::glob("/**", &DEF).unwrap();
        assert!(!g.matches(""), "empty");
        assert!(!g.matches("admin"), "relative");
    }

    /// (input, normalised host or None).
    const HOST_NORMALIZE: &[(&str, Option<&str>)] = &[
        ("api.example.com", Some("api.example.com")),
        ("API.Example.COM", Some("API.Example.COM")),
        ("api.example.com.", Some("api.example.com")),
        ("api.example.com:8443", Some("api.example.com")),
        ("api.example.com.:443", Some("api.example.com")),
        ("api.example.com:", Some("api.example.com")),
        ("localhost", Some("localhost")),
        ("127.0.0.1:8787", Some("127.0.0.1")),
        ("[::1]:8787", Some("[::1]")),
        ("[::1]", Some("[::1]")),
        ("[2001:db8::1]", Some("[2001:db8::1]")),
        ("_dmarc.example.com", Some("_dmarc.example.com")),
        ("api.example.com..", None),
        (".example.com", None),
        ("a..example.com", None),
        ("", None),
        (".", None),
        (":443", None),
        ("example.com:99999", None),
        ("example.com:8a", None),
        ("example.com:443:1", None),
        ("example.com:+443", None),
        ("exa mple.com", None),
        ("exämple.com", None),
        ("example.com/x", None),
        ("user@example.com", None),
        ("ex%41mple.com", None),
        ("[::1", None),
        ("[]", None),
        ("[::1]x", None),
        ("[::1]:x", None),
        ("[fe80::1%25eth0]", None),
        ("::1", None),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn host_normalize_table() {
        for &(input, want) in HOST_NORMALIZE {
            assert_eq!(normalize_host(input), want, "{input:?}");
        }
        let long = format!("{}com", "a.".repeat(125));
        assert_eq!(long.len(), 253);
        assert_eq!(normalize_host(&long), Some(long.as_str()));
        let too_long = format!("a{long}");
        assert_eq!(normalize_host(&too_long), None);
        let label64 = format!("{}.com", "a".repeat(64));
        assert_eq!(normalize_host(&label64), None);
    }

    /// (pattern, request host, expected match).
    const HOST_MATCH: &[(&str, &str, bool)] = &[
        ("api.example.com", "api.example.com", true),
        ("api.example.com", "API.EXAMPLE.COM", true),
        ("api.example.com", "api.example.com.", true),
        ("api.example.com", "api.example.com:443", true),
        ("api.example.com", "Api.Example.Com.:8443", true),
        ("api.example.com", "api.example.com..", false),
        ("api.example.com", "example.com", false),
        ("api.example.com", "x.api.example.com", false),
        ("api.example.com", "api.example.com.evil.net", false),
        ("api.example.com", "api-example.com", false),
        ("API.Example.com", "api.example.com", true),
        ("api.example.com.", "api.example.com", true),
        ("example.com", "evilexample.com", false),
        ("example.com", "example.com.evil.net", false),
        ("*.example.com", "api.example.com", true),
        ("*.example.com", "a.b.example.com", true),
        ("*.example.com", "API.EXAMPLE.COM:8443", true),
        ("*.example.com", "api.example.com.", true),
        ("*.example.com", "example.com", false),
        ("*.example.com", ".example.com", false),
        ("*.example.com", "evilexample.com", false),
        ("*.example.com", "api.evilexample.com", false),
        ("*.example.com", "example.com.evil.net", false),
        ("*.example.com", "api.example.com.evil.net", false),
        ("*.example.com", "a..example.com", false),
        ("*.example.com", "", false),
        ("*.Example.COM", "x.example.com", true),
        ("*.co.uk", "example.co.uk", true),
        ("localhost", "localhost:8787", true),
        ("127.0.0.1", "127.0.0.1:8787", true),
        ("127.0.0.1", "[::1]:8787", false),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn host_match_table() {
        for &(pattern, host, want) in HOST_MATCH {
            let p: HostPattern = pattern
                .parse()
                .unwrap_or_else(|e| panic!("{pattern:?}: {e}"));
            assert_eq!(p.matches(host), want, "{pattern:?} vs {host:?}");
            if let Some(h) = normalize_host(host) {
                assert_eq!(
                    p.matches_normalized(h),
                    want,
                    "{pattern:?} vs normalised {h:?}"
                );
            }
        }
    }

    /// (pattern, canonical text or exact error message).
    const HOST_PARSE: &[(&str, Result<&str, &str>)] = &[
        ("api.example.com", Ok("api.example.com")),
        ("API.Example.COM", Ok("api.example.com")),
        ("api.example.com.", Ok("api.example.com")),
        ("*.example.com", Ok("*.example.com")),
        ("*.EXAMPLE.com.", Ok("*.example.com")),
        ("*.co.uk", Ok("*.co.uk")),
        ("localhost", Ok("localhost")),
        ("127.0.0.1", Ok("127.0.0.1")),
        ("xn--bcher-kva.example", Ok("xn--bcher-kva.example")),
        ("", Err("host pattern is empty")),
        ("*", Err("host pattern `*` would match every host; list the hosts or use `*.example.com`")),
        ("*.", Err("host pattern `*` would match every host; list the hosts or use `*.example.com`")),
        ("*.com", Err("host pattern `*.com` is too broad: `*.` must be followed by at least two labels")),
        ("*.0.0.1", Err("host pattern `*.0.0.1`: a wildcard cannot cover ip addresses")),
        ("a.*.b", Err("host pattern `a.*.b`: `*` is only allowed as the whole first label, as in `*.example.com`")),
        ("*api.example.com", Err("host pattern `*api.example.com`: `*` is only allowed as the whole first label, as in `*.example.com`")),
        ("*.*.example.com", Err("host pattern `*.*.example.com`: `*` is only allowed as the whole first label, as in `*.example.com`")),
        ("api.example.*", Err("host pattern `api.example.*`: `*` is only allowed as the whole first label, as in `*.example.com`")),
        ("example.com:443", Err("host pattern `example.com:443` contains a port; host patterns match the host name only")),
        ("*.example.com:443", Err("host pattern `*.example.com:443` contains a port; host patterns match the host name only")),
        ("[::1]", Err("host pattern `[::1]`: ipv6 literals are not supported")),
        ("::1", Err("host pattern `::1`: ipv6 literals are not supported")),
        ("bücher.example", Err("host pattern `bücher.example` is not ascii; write internationalised names in punycode (`xn--...`)")),
        ("exa mple.com", Err("host pattern `exa mple.com` contains ` `, which is not allowed in a host name")),
        (" example.com", Err("host pattern ` example.com` contains ` `, which is not allowed in a host name")),
        ("example.com/", Err("host pattern `example.com/` contains `/`, which is not allowed in a host name")),
        ("https://example.com", Err("host pattern `https://example.com` contains `:`, which is not allowed in a host name")),
        ("example.com:", Err("host pattern `example.com:` contains a port; host patterns match the host name only")),
        ("a..b.com", Err("host pattern `a..b.com` has an empty label")),
        (".example.com", Err("host pattern `.example.com` has an empty label")),
        ("example.com..", Err("host pattern `example.com..` has an empty label")),
        ("*..example.com", Err("host pattern `*..example.com` has an empty label")),
        ("-api.example.com", Err("host pattern `-api.example.com` has label `-api` starting or ending with `-`")),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn host_parse_table() {
        for &(input, want) in HOST_PARSE {
            let got = input.parse::<HostPattern>();
            match (want, &got) {
                (Ok(text), Ok(p)) => {
                    assert_eq!(p.as_str(), text, "{input:?}");
                    assert_eq!(p.to_string(), text, "{input:?}");
                }
                (Err(msg), Err(e)) => assert_eq!(e.to_string(), msg, "{input:?}"),
                _ => panic!("{input:?}: expected {want:?}, got {got:?}"),
            }
        }
        let label64 = format!("{}.com", "a".repeat(64));
        assert_eq!(
            label64.parse::<HostPattern>(),
            Err(HostPatternError::LabelTooLong {
                pattern: label64.clone()
            })
        );
        let too_long = format!("a{}com", "a.".repeat(125));
        assert!(matches!(
            too_long.parse::<HostPattern>(),
            Err(HostPatternError::TooLong { .. })
        ));
    }

    /// (method as written in the policy, stored form or exact error message).
    const METHOD_PARSE: &[(&str, Result<&str, &str>)] = &[
        ("GET", Ok("GET")),
        ("get", Ok("GET")),
        ("Patch", Ok("PATCH")),
        ("PROPFIND", Ok("PROPFIND")),
        ("M-SEARCH", Ok("M-SEARCH")),
        ("X_CUSTOM.1", Ok("X_CUSTOM.1")),
        ("", Err("method is empty")),
        (
            " GET",
            Err("method ` GET` contains ` `, which is not allowed in a method name"),
        ),
        (
            "GET ",
            Err("method `GET ` contains ` `, which is not allowed in a method name"),
        ),
        (
            "GE T",
            Err("method `GE T` contains ` `, which is not allowed in a method name"),
        ),
        (
            "GET\r\n",
            Err("method `GET\\r\\n` contains `\\r`, which is not allowed in a method name"),
        ),
        (
            "GET/",
            Err("method `GET/` contains `/`, which is not allowed in a method name"),
        ),
        (
            "GET,POST",
            Err("method `GET,POST` contains `,`, which is not allowed in a method name"),
        ),
        (
            "GÉT",
            Err("method `GÉT` contains `É`, which is not allowed in a method name"),
        ),
        (
            "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG",
            Err("method `ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF...` is longer than 32 characters"),
        ),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn method_parse_table() {
        for &(input, want) in METHOD_PARSE {
            let got = input.parse::<Method>();
            match (want, &got) {
                (Ok(text), Ok(m)) => {
                    assert_eq!(m.as_str(), text, "{input:?}");
                    assert_eq!(m.to_string(), text, "{input:?}");
                }
                (Err(msg), Err(e)) => assert_eq!(e.to_string(), msg, "{input:?}"),
                _ => panic!("{input:?}: expected {want:?}, got {got:?}"),
            }
        }
    }

    /// (methods in the policy, request method, expected).
    const METHOD_CONTAINS: &[(&[&str], &str, bool)] = &[
        (&["PATCH"], "PATCH", true),
        (&["PATCH"], "patch", true),
        (&["PATCH"], "Patch", true),
        (&["patch"], "PATCH", true),
        (&["GET", "HEAD"], "HEAD", true),
        (&["GET", "HEAD"], "head", true),
        (&["GET", "HEAD"], "POST", false),
        (&["GET"], "GETX", false),
        (&["GET"], "GE", false),
        (&["GET"], "GET ", false),
        (&["GET"], "", false),
        (&[], "GET", false),
        (&["DELETE"], "DELETE\0", false),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn method_contains_table() {
        for &(methods, request, want) in METHOD_CONTAINS {
            let set: MethodSet = methods
                .iter()
                .map(|m| m.parse::<Method>().unwrap())
                .collect();
            assert_eq!(set.contains(request), want, "{methods:?} vs {request:?}");
        }
        let set: MethodSet = ["get", "GET", "Post", "get"]
            .iter()
            .map(|m| m.parse::<Method>().unwrap())
            .collect();
        let names: Vec<&str> = set.iter().map(Method::as_str).collect();
        assert_eq!(names, ["GET", "POST"]);
        assert!(!set.is_empty());
        assert!(MethodSet::default().is_empty());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    /// The switches set from the low four bits of `i`: 0..16 gives every combination that normalisation reads.
    fn options(i: usize) -> PathOptions {
        PathOptions {
            allow_semicolons: i & 1 != 0,
            case_insensitive: i & 2 != 0,
            allow_double_encoding: i & 4 != 0,
            trailing_dots_and_spaces: i & 8 != 0,
            format_suffixes: false,
        }
    }

    /// Path-like strings rich in the characters normalisation cares about.
    fn pathish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("/".to_owned()),
            Just("//".to_owned()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("/../".to_owned()),
            Just("/./".to_owned()),
            Just(";".to_owned()),
            Just("%".to_owned()),
            Just("\\".to_owned()),
            Just(" ".to_owned()),
            Just("é".to_owned()),
            Just("?".to_owned()),
            "%[0-9a-fA-F]{2}",
            "%(2[eEfF]|3[bB]|5[cC]|00|[cC]0|[aA][eE]|[eE]0|80)",
            // Double encoding: `%25` and escaped hex digits.
            Just("%25".to_owned()),
            "%(3[0-9]|4[1-6]|6[1-6])",
            "[a-zA-Z0-9~_-]{1,3}",
        ];
        prop::collection::vec(piece, 0..12).prop_map(|v| format!("/{}", v.concat()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn normalisation_is_idempotent(path in pathish(), o in 0usize..16) {
            let opts = options(o);
            if let Ok(once) = normalize_path(&path, &opts) {
                let twice = normalize_path(&once, &opts);
                prop_assert_eq!(twice.as_deref(), Ok(once.as_ref()));
                prop_assert!(matches!(twice, Ok(Cow::Borrowed(_))));
                // Canonical output: ASCII, starts with `/`, no `//`, no dot segment.
                prop_assert!(once.is_ascii() && once.starts_with('/') && !once.contains("//"));
                prop_assert!(!once.split('/').any(|s| s == "." || s == ".."));
            }
        }

        #[test]
        fn normalisation_never_panics(s in any::<String>(), o in 0usize..16) {
            let opts = options(o);
            let _ = normalize_path(&s, &opts);
            let _ = normalize_path(&format!("/{s}"), &opts);
            let _ = normalize_host(&s);
            let _ = s.parse::<HostPattern>();
            let _ = s.parse::<Method>();
            let _ = PathPattern::glob(&s, &opts);
            let _ = PathPattern::under(&s, &opts);
        }

        #[test]
        fn glob_parse_and_match_never_panic(p in pathish(), path in pathish()) {
            let opts = options(0);
            if let Ok(g) = PathPattern::glob(&p.replace('.', "*"), &opts) {
                let _ = g.matches(&path);
                if let Ok(n) = normalize_path(&path, &opts) {
                    let _ = g.matches(&n);
                }
            }
        }

        #[test]
        fn under_agrees_with_reference(
            p in prop::collection::vec("[ab]{1,2}", 1..4),
            path in prop::collection::vec("[ab]{0,2}", 0..5),
            trailing in any::<bool>(),
        ) {
            let p = format!("/{}", p.join("/"));
            let mut path = format!("/{}", path.join("/"));
            if trailing && !path.ends_with('/') {
                path.push('/');
            }
            let norm = normalize_path(&path, &PathOptions::default()).unwrap().into_owned();
            let pat = PathPattern::under(&p, &PathOptions::default()).unwrap();
            let reference = norm == p || norm.starts_with(&format!("{p}/"));
            prop_assert_eq!(pat.matches(&norm), reference, "{} vs {}", p, norm);
        }

        #[test]
        fn glob_agrees_with_reference(
            // Segments: `**`, `*`, or letters with single `*` between/around them (never a glued `**`).
            pat in prop::collection::vec(
                prop_oneof![Just("**".to_owned()), Just("*".to_owned()), "\\*?([ab]\\*?){1,2}"],
                0..5,
            ),
            pat_trailing in any::<bool>(),
            path in prop::collection::vec("[ab]{1,3}", 0..6),
            path_trailing in any::<bool>(),
        ) {
            let mut pat = format!("/{}", pat.join("/"));
            if pat_trailing && !pat.ends_with('/') {
                pat.push('/');
            }
            let mut path = format!("/{}", path.join("/"));
            if path_trailing && !path.ends_with('/') {
                path.push('/');
            }
            let glob = PathPattern::glob(&pat, &PathOptions::default()).unwrap();
            let p_segs: Vec<&str> = pat[1..].split('/').collect();
            let t_segs: Vec<&str> = path[1..].split('/').collect();
            prop_assert_eq!(glob.matches(&path), ref_match(&p_segs, &t_segs), "{} vs {}", pat, path);
        }
    }

    fn ref_match(p: &[&str], t: &[&str]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((&"**", rest)) => {
                (0..=t.len()).any(|k| ref_match(rest, t.get(k..).unwrap_or_default()))
            }
            Some((seg, rest)) => match t.split_first() {
                Some((s, trest)) => ref_seg(seg.as_bytes(), s.as_bytes()) && ref_match(rest, trest),
                None => false,
            },
        }
    }

    fn ref_seg(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => {
                (0..=t.len()).any(|k| ref_seg(rest, t.get(k..).unwrap_or_default()))
            }
            Some((c, rest)) => {
                t.first() == Some(c) && ref_seg(rest, t.get(1..).unwrap_or_default())
            }
        }
    }

    #[test]
    fn pathological_globs_finish_fast() {
        let opts = PathOptions::default();
        // Segment level: many `**` separated by literals against a long path that almost matches.
        let seg_glob = PathPattern::glob(&format!("{}/b", "/**/a".repeat(15)), &opts).unwrap();
        let seg_path = format!("{}/c", "/a".repeat(4000));
        // Character level: many `*` in one segment against a long segment that almost matches.
        let char_glob = PathPattern::glob(&format!("/{}b", "a*".repeat(15)), &opts).unwrap();
        let char_path = format!("/{}", "a".repeat(8000));
        // Both combined.
        let mixed_glob = PathPattern::glob("/**/*a*a*a*a*a*a*/**/*a*a*a*a*a*b", &opts).unwrap();
        let mixed_path = format!("{}/x", "/aaaaaaaaaaaaaaaaaaaaaaaa".repeat(300));
        let start = Instant::now();
        assert!(!seg_glob.matches(&seg_path));
        assert!(!char_glob.matches(&char_path));
        assert!(!mixed_glob.matches(&mixed_path));
        let elapsed = start.elapsed();
        assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
        // Positive controls, so the timing is not of a trivially failing match.
        assert!(seg_glob.matches(&format!("{}/b", "/a".repeat(4000))));
        assert!(char_glob.matches(&format!("/{}b", "a".repeat(8000))));
    }
}
