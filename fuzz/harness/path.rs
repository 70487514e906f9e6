//! `path`: a raw request path (and the same bytes read as a request URL and as a host) through normalisation.
//!
//! Checks, for every combination of [`PathOptions`], the invariants `normalize_path` documents: never a panic;
//! the result is canonical (normalising it again gives it back, borrowed) and borrowed exactly when unchanged;
//! it starts with `/` and holds no empty, `.` or `..` segment, no raw byte that must be escaped, no raw control
//! character or `\`, no `?` or `#`, no lower-case escape, no escape of a character origins decode (unreserved, sub-delimiters but `;`, `:`, `@`), no `%2F`/`%5C`/control escape;
//! no `;` unless semicolons are allowed; no `%25` and two hex digits unless double encoding is allowed; no
//! upper-case ASCII letter outside escapes when case-insensitive. Path patterns are matched against the result and
//! compared with naive reference matchers.

use std::borrow::Cow;

use edge_access::engine::split_url;
use edge_access::policy::scope::{normalize_host, normalize_path, PathOptions, PathPattern};

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

pub fn run(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    for opts in (0..16).map(options) {
        if let Ok(norm) = normalize_path(raw, &opts) {
            check_normalized(raw, &norm, &opts);
            check_patterns(&norm, &opts);
        }
    }
    if let Some(parts) = split_url(raw) {
        assert!(parts.path.starts_with('/'), "path `{}`", parts.path);
        assert!(
            !parts.host.contains(['/', '?', '#', '@']),
            "host `{}`",
            parts.host
        );
        assert!(!parts.path.contains(['?', '#']), "path `{}`", parts.path);
        for opts in (0..16).map(options) {
            if let Ok(norm) = normalize_path(parts.path, &opts) {
                check_normalized(parts.path, &norm, &opts);
            }
        }
        check_host(parts.host);
    }
    check_host(raw);
}

#[expect(
    clippy::ptr_arg,
    reason = "whether the result is borrowed is one of the checks"
)]
fn check_normalized(raw: &str, norm: &Cow<'_, str>, opts: &PathOptions) {
    match norm {
        Cow::Borrowed(b) => assert_eq!(*b, raw, "borrowed but changed"),
        Cow::Owned(o) => assert_ne!(o, raw, "allocated for a path that did not change: `{raw}`"),
    }
    let n: &str = norm;
    assert!(n.starts_with('/'), "`{raw}` -> `{n}` is not absolute");
    assert!(!n.contains("//"), "`{raw}` -> `{n}` holds `//`");
    let segments: Vec<&str> = n[1..].split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        assert!(
            *seg != "." && *seg != "..",
            "`{raw}` -> `{n}` holds a dot segment"
        );
        assert!(
            !seg.is_empty() || i + 1 == segments.len(),
            "`{raw}` -> `{n}` holds an empty segment"
        );
        if opts.trailing_dots_and_spaces {
            assert!(
                !seg.ends_with('.') && !seg.ends_with("%20"),
                "`{raw}` -> `{n}` keeps a trailing dot or space"
            );
        }
    }
    let bytes = n.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        assert!(
            !(b < 0x20 || b == 0x7f || b >= 0x80),
            "`{raw}` -> `{n}`: raw byte 0x{b:02x}"
        );
        assert!(
            !matches!(
                b,
                b'\\'
                    | b'?'
                    | b'#'
                    | b' '
                    | b'"'
                    | b'<'
                    | b'>'
                    | b'['
                    | b']'
                    | b'^'
                    | b'`'
                    | b'{'
                    | b'|'
                    | b'}'
            ),
            "`{raw}` -> `{n}`: raw `{}`",
            b as char
        );
        if b == b';' {
            assert!(opts.allow_semicolons, "`{raw}` -> `{n}`: `;` not allowed");
        }
        if b == b'%' {
            let hex = n.get(i + 1..i + 3).expect("escape cut short");
            assert!(
                hex.bytes()
                    .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(&h)),
                "`{raw}` -> `{n}`: escape `%{hex}` not upper-case hex"
            );
            let v = u8::from_str_radix(hex, 16).unwrap();
            assert!(
                !(v.is_ascii_alphanumeric()
                    || matches!(
                        v,
                        b'-' | b'.'
                            | b'_'
                            | b'~'
                            | b'!'
                            | b'$'
                            | b'&'
                            | b'\''
                            | b'('
                            | b')'
                            | b'*'
                            | b'+'
                            | b','
                            | b'='
                            | b':'
                            | b'@'
                    )),
                "`{raw}` -> `{n}`: escape of a character origins decode (`{}`) kept",
                v as char
            );
            assert!(
                !matches!(v, b'/' | b'\\') && v >= 0x20 && v != 0x7f,
                "`{raw}` -> `{n}`: refused escape `%{hex}` kept"
            );
            if v == b';' {
                assert!(opts.allow_semicolons, "`{raw}` -> `{n}`: `%3B` not allowed");
            }
            // Hex digits are unreserved, so after normalisation they are raw: `%25` and two of them is what a
            // second decoding would read as an escape.
            if v == b'%' {
                let next = n.get(i + 3..i + 5).unwrap_or("");
                assert!(
                    opts.allow_double_encoding
                        || !(next.len() == 2 && next.bytes().all(|h| h.is_ascii_hexdigit())),
                    "`{raw}` -> `{n}`: double encoding kept"
                );
            }
            i += 3;
            continue;
        }
        if opts.case_insensitive {
            assert!(!b.is_ascii_uppercase(), "`{raw}` -> `{n}`: upper case kept");
        }
        i += 1;
    }
    match normalize_path(n, opts) {
        Ok(Cow::Borrowed(again)) => assert_eq!(again, n),
        Ok(Cow::Owned(again)) => panic!("`{raw}` -> `{n}` -> `{again}`: not idempotent"),
        Err(e) => panic!("`{raw}` -> `{n}` does not normalise again: {e}"),
    }
}

/// `/admin` under, `/login` exact, `/api/**/items/*.json` glob, against naive matchers on the same string.
fn check_patterns(norm: &str, opts: &PathOptions) {
    let under = PathPattern::under("/admin", opts).unwrap();
    let exact = PathPattern::exact("/login", opts).unwrap();
    let glob = PathPattern::glob("/api/**/items/*.json", opts).unwrap();
    let root = PathPattern::under("/", opts).unwrap();
    let want_under = norm == "/admin" || norm.starts_with("/admin/");
    assert_eq!(under.matches(norm), want_under, "under /admin vs `{norm}`");
    assert_eq!(
        exact.matches(norm),
        norm == "/login",
        "exact /login vs `{norm}`"
    );
    assert!(root.matches(norm), "under / vs `{norm}`");
    let segs: Vec<&str> = norm[1..].split('/').collect();
    let want_glob = glob_ref(&["api", "**", "items", "*.json"], &segs);
    assert_eq!(glob.matches(norm), want_glob, "glob vs `{norm}`");
}

fn glob_ref(pat: &[&str], segs: &[&str]) -> bool {
    match pat.split_first() {
        None => segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|i| glob_ref(rest, &segs[i..])),
        Some((p, rest)) => segs
            .split_first()
            .is_some_and(|(s, tail)| star_ref(p.as_bytes(), s.as_bytes()) && glob_ref(rest, tail)),
    }
}

/// `*` matches any run of bytes (a segment never holds `/`).
fn star_ref(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| star_ref(rest, &s[i..])),
        Some((c, rest)) => s
            .split_first()
            .is_some_and(|(d, tail)| c == d && star_ref(rest, tail)),
    }
}

fn check_host(raw: &str) {
    if let Some(host) = normalize_host(raw) {
        assert!(!host.is_empty());
        assert!(host.len() <= raw.len());
        assert!(raw.starts_with(host), "`{raw}` -> `{host}` is not a prefix");
        if !host.starts_with('[') {
            assert!(
                host.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')),
                "`{raw}` -> `{host}`"
            );
            assert!(
                !host.ends_with('.') && !host.contains(".."),
                "`{raw}` -> `{host}`"
            );
            assert_eq!(
                normalize_host(host),
                Some(host),
                "`{raw}` -> `{host}` not idempotent"
            );
        }
    }
}
