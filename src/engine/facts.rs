//! What the engine knows of a request: plain borrowed values, no `worker` types.

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

/// The facts of one request.
#[derive(Clone, Copy)]
pub struct RequestFacts<'a> {
    /// The method as sent (matching compares it case-insensitively).
    pub method: &'a str,
    /// The host as in the request URL (may carry a port or a trailing dot).
    pub host: &'a str,
    /// The URL path as the Worker sees it, before normalisation, without the query.
    pub path: &'a str,
    /// The headers the policy reads (see [`crate::policy::Policy::header_names`]).
    pub headers: &'a dyn HeaderSource,
    /// `request.cf.country`, when Cloudflare provided it.
    pub country: Option<&'a str>,
    /// `request.cf.asn`, when Cloudflare provided it.
    pub asn: Option<u32>,
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
