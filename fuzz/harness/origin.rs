//! `origin`: an `Origin` header value through `parse_request_origin` and a fixed [`OriginList`].
//!
//! Checks: never a panic; an accepted origin prints in normal form (lower case), which parses again to an equal
//! origin; list membership agrees with a naive reference (string equality with the normalised exact entries,
//! suffix and port comparison for the wildcards); `null` matches only through the `null` entry. The same bytes
//! read as a list entry: an entry that parses prints in a form that parses to an equal entry, and a request
//! origin written exactly like an exact entry is matched by a list holding that entry.

use std::sync::LazyLock;

use edge_access::policy::origin::{parse_request_origin, OriginList, OriginPattern, RequestOrigin};

/// The fixed list: exact entries as written, then wildcards as (scheme, suffix, port).
const EXACT: &[&str] = &[
    "https://app.example.com",
    "http://spa.e2e.test",
    "http://localhost:8080",
    "https://[2001:db8::1]",
    "http://192.0.2.1:8443",
    "chrome-extension://abcdefghijklmnop",
    "null",
];
const WILDCARDS: &[(&str, &str, Option<u16>)] = &[
    ("https", "apps.example.com", None),
    ("https", "example.co.uk", Some(8443)),
    ("http", "dev.test", Some(3000)),
];

static LIST: LazyLock<OriginList> = LazyLock::new(|| {
    let wild = WILDCARDS.iter().map(|(scheme, suffix, port)| match port {
        Some(p) => format!("{scheme}://*.{suffix}:{p}"),
        None => format!("{scheme}://*.{suffix}"),
    });
    let entries: Vec<String> = EXACT.iter().map(|s| (*s).to_owned()).chain(wild).collect();
    OriginList::parse(&entries).expect("the fixed origin list parses")
});

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let list = &*LIST;
    let parsed = parse_request_origin(text);
    if let Ok(origin) = &parsed {
        check_origin(text, origin, list);
    }
    if let Ok(pattern) = text.parse::<OriginPattern>() {
        let shown = pattern.to_string();
        let again: OriginPattern = shown.parse().unwrap_or_else(|e| {
            panic!("entry `{text}` prints as `{shown}`, which does not parse: {e}")
        });
        assert_eq!(again, pattern, "entry `{text}` -> `{shown}`");
        let single = OriginList::new([pattern]);
        if let Ok(origin) = &parsed {
            if !shown.contains('*') {
                assert!(
                    single.matches(origin),
                    "`{text}` as request and as entry do not match"
                );
            }
        }
    }
}

fn check_origin(text: &str, origin: &RequestOrigin<'_>, list: &OriginList) {
    let shown = origin.to_string();
    assert!(
        !shown.bytes().any(|b| b.is_ascii_uppercase()),
        "`{text}` prints as `{shown}`"
    );
    match parse_request_origin(&shown) {
        Ok(again) => assert_eq!(&again, origin, "`{text}` -> `{shown}`"),
        Err(e) => panic!("`{text}` prints as `{shown}`, which does not parse: {e}"),
    }
    let got = list.matches(origin);
    let want = match origin.as_origin_ref() {
        None => EXACT.contains(&"null"),
        Some(o) => {
            let host = o.host().to_ascii_lowercase();
            let scheme = o.scheme().to_ascii_lowercase();
            EXACT.contains(&shown.as_str())
                || WILDCARDS.iter().any(|(s, suffix, port)| {
                    scheme == *s
                        && o.port() == *port
                        && host.len() > suffix.len() + 1
                        && host.ends_with(suffix)
                        && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                })
        }
    };
    assert_eq!(
        got, want,
        "`{text}` (`{shown}`): list says {got}, reference says {want}"
    );
    if let Some(o) = origin.as_origin_ref() {
        assert_eq!(o.to_origin().to_string(), shown);
        assert_eq!(list.matches_origin(o), got);
    }
}
