//! What the engine knows of a request: plain borrowed values, no `worker` types.

use crate::token::jwt::Claims;
use crate::token::TokenError;

/// Seconds since the Unix epoch, as the caller's clock read it (the engine never reads a clock; on wasm32
/// `SystemTime::now()` panics, so the Worker takes it from `Date.now()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnixTime(pub u64);

/// Read access to request headers by lower-case name. Repeated headers are combined into one value joined by
/// `", "`, as the Fetch standard's `Headers.get` does: a client that sends two `CF-Connecting-IP` or two
/// `Origin` headers therefore presents one value that does not parse, never a choice of two.
pub trait HeaderSource {
    fn get(&self, lowercase_name: &str) -> Option<&str>;
}

/// Headers as an owned list of `(lower-case name, combined value)` pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderList(Vec<(String, String)>);

impl HeaderList {
    /// Builds the list from raw pairs: names are lower-cased and repeated names combined with `", "`.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> HeaderList {
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, value) in pairs {
            let name = name.as_ref().to_ascii_lowercase();
            let value = value.as_ref();
            match out.iter_mut().find(|(n, _)| *n == name) {
                Some((_, existing)) => {
                    existing.push_str(", ");
                    existing.push_str(value);
                }
                None => out.push((name, value.to_owned())),
            }
        }
        HeaderList(out)
    }

    /// Adds one header, combining it with an earlier one of the same name.
    pub fn append(&mut self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, existing)) => {
                existing.push_str(", ");
                existing.push_str(value);
            }
            None => self.0.push((name, value.to_owned())),
        }
    }

    /// The pairs, in first-seen order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl HeaderSource for HeaderList {
    fn get(&self, lowercase_name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == lowercase_name)
            .map(|(_, v)| v.as_str())
    }
}

/// The outcome of token verification for each issuer of the policy (by the issuer's position in
/// [`crate::policy::Policy::issuers`]): verified claims, or why there are none. The Worker fills it before the
/// engine runs (signatures are checked asynchronously with WebCrypto); the engine only reads it.
pub trait TokenLookup {
    fn token(&self, issuer: usize) -> Result<&Claims, TokenError>;
}

/// No tokens at all: every issuer's token is missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTokens;

impl TokenLookup for NoTokens {
    fn token(&self, _issuer: usize) -> Result<&Claims, TokenError> {
        Err(TokenError::Missing)
    }
}

/// Which `limit` rules' rate limits this request is over (by rule position). The Worker asks the Rate Limiting
/// bindings for the checks [`crate::policy::Policy::limit_checks`] lists, before the engine runs.
pub trait LimitLookup {
    fn over_limit(&self, rule: usize) -> bool;
}

/// No rate limit is exceeded.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLimits;

impl LimitLookup for NoLimits {
    fn over_limit(&self, _rule: usize) -> bool {
        false
    }
}

/// Rules whose limits are exceeded, as a list of rule positions.
impl LimitLookup for Vec<usize> {
    fn over_limit(&self, rule: usize) -> bool {
        self.contains(&rule)
    }
}

/// The facts of one request.
#[derive(Clone, Copy)]
pub struct RequestFacts<'a> {
    /// The method as sent (matching compares it case-insensitively).
    pub method: &'a str,
    /// The host as in the request URL (may carry a port or a trailing dot).
    pub host: &'a str,
    /// The URL path as the Worker sees it, before normalisation, without the query.
    pub path: &'a str,
    /// The query string without its `?`, when there is one (read for `_method` overrides).
    pub query: Option<&'a str>,
    /// The headers the policy reads (see [`crate::policy::Policy::header_names`]).
    pub headers: &'a dyn HeaderSource,
    /// `request.cf.country`, when Cloudflare provided it.
    pub country: Option<&'a str>,
    /// `request.cf.asn`, when Cloudflare provided it.
    pub asn: Option<u32>,
    /// Verified tokens, per issuer.
    pub tokens: &'a dyn TokenLookup,
    /// Exceeded rate limits.
    pub limits: &'a dyn LimitLookup,
}

impl std::fmt::Debug for RequestFacts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestFacts")
            .field("method", &self.method)
            .field("host", &self.host)
            .field("path", &self.path)
            .field("country", &self.country)
            .field("asn", &self.asn)
            .finish_non_exhaustive()
    }
}

/// The parts of an absolute request URL the engine reads, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// `host[:port]`, without userinfo.
    pub host: &'a str,
    /// The path as written (`/` when empty), without query or fragment.
    pub path: &'a str,
    /// The query without its `?`, when there is one.
    pub query: Option<&'a str>,
}

/// Splits `scheme://[userinfo@]host[:port][/path][?query][#fragment]` without allocating. In the Worker the
/// string is the runtime's own serialisation of the request URL (already WHATWG-normalised), so splitting is
/// all that is needed and the Wasm carries no URL parser. Returns `None` for anything without `scheme://`.
pub fn split_url(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return None;
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at_checked(authority_end)?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let tail = tail.split_once('#').map_or(tail, |(t, _)| t);
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    Some(UrlParts {
        host,
        path: if path.is_empty() { "/" } else { path },
        query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
    fn split_url_table() {
        type Parts = Option<(&'static str, &'static str, Option<&'static str>)>;
        let cases: &[(&str, Parts)] = &[
            (
                "https://api.example.com/a/b?x=1",
                Some(("api.example.com", "/a/b", Some("x=1"))),
            ),
            (
                "http://127.0.0.1:8787/",
                Some(("127.0.0.1:8787", "/", None)),
            ),
            (
                "https://api.example.com",
                Some(("api.example.com", "/", None)),
            ),
            (
                "https://api.example.com?q",
                Some(("api.example.com", "/", Some("q"))),
            ),
            (
                "https://u:p@api.example.com/x",
                Some(("api.example.com", "/x", None)),
            ),
            (
                "https://[::1]:8443/x#frag",
                Some(("[::1]:8443", "/x", None)),
            ),
            (
                "https://a.example.com/p?q=1#f?g",
                Some(("a.example.com", "/p", Some("q=1"))),
            ),
            (
                "https://a.example.com//admin",
                Some(("a.example.com", "//admin", None)),
            ),
            (
                "https://a.example.com/?",
                Some(("a.example.com", "/", Some(""))),
            ),
            ("/relative", None),
            ("://nohost", None),
            ("1http://x/", None),
        ];
        for (url, want) in cases {
            let got = split_url(url).map(|p| (p.host, p.path, p.query));
            assert_eq!(got, *want, "url `{url}`");
        }
        let headers = HeaderList::from_pairs([("Origin", "a"), ("origin", "b"), ("X", "1")]);
        assert_eq!(headers.get("origin"), Some("a, b"));
        assert_eq!(headers.get("x"), Some("1"));
        assert_eq!(headers.get("X"), None, "lookups use lower-case names");
    }
}
