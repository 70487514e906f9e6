//! Parsing, normalising and matching the HTTP `Origin` request header.
//!
//! This module turns an `Origin` header into a [`RequestOrigin`] (borrowed, no allocation) and
//! decides whether it is a member of an [`OriginList`] compiled from policy-file entries
//! ([`OriginPattern`]). It is used both for access rules and for CORS decisions at the edge.
//!
//! What it must never do:
//! - accept anything a browser would not send as an `Origin` (`scheme://host[:port]` or `null`):
//!   every lenient parse is a potential bypass, so there is no "best effort" repair of a header;
//! - let two different origins compare equal, or one origin compare unequal to itself: every
//!   accepted host has exactly one normalised spelling (lower case, default port dropped,
//!   canonical IPv4/IPv6 text), so string equality after normalisation is origin equality;
//! - allocate or panic on the per-request path ([`parse_request_origin`], [`OriginList::matches`]).
//!
//! # Normal form
//!
//! A normalised origin is `scheme://host[:port]` with scheme and host in ASCII lower case and the
//! port omitted when it is the default of the scheme (`http` 80, `https` 443; other schemes have
//! no default port, so an explicit port is always kept). `https://a.example.com:443` and
//! `HTTPS://A.Example.COM` are both `https://a.example.com`.
//!
//! # Hosts
//!
//! - Domain names: dot-separated labels of ASCII letters, digits, `-` and `_` (browsers accept `_`
//!   and it occurs in real host names, so refusing it would only deny real users; `-` may start or
//!   end a label, as browsers allow). No empty label, no label over 63 characters, no host over 253
//!   characters. Unicode hosts are refused: browsers send them as punycode (`xn--...`), which is
//!   plain ASCII and is compared literally (no punycode decoding).
//! - A trailing dot (`https://app.example.com.`) is refused. Browsers keep the dot and treat
//!   `example.com.` as a *different* origin from `example.com` (separate cookies, storage and CORS
//!   identity). Stripping it would let one origin borrow another's grant; keeping it would give a
//!   value that can never equal a list entry. Refusing says so plainly.
//! - IPv4 hosts must be canonical dotted decimal (`192.0.2.1`, no leading zeros), which is the only
//!   form a browser serialises. A host whose last label is numeric (`example.123`, `127.1`) or
//!   hexadecimal (`0x7f`) is parsed as an IPv4 address by browsers, so anything else ending in a
//!   number is refused.
//! - IPv6 hosts are written in brackets (`http://[::1]:8080`). A request must use the compressed
//!   form browsers send (WHATWG URL serialisation: lower-case hex, the first longest run of two or
//!   more zero groups written as `::`, no embedded dotted IPv4; upper-case hex is accepted). List
//!   entries may use any valid IPv6 spelling and are normalised to that form. Zone identifiers are
//!   refused (they need `%`).
//!
//! # Schemes
//!
//! Any RFC 3986 scheme (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`) is accepted in a request
//! (`chrome-extension://abcdefghijklmnop`, `capacitor://localhost`) and in an exact list entry, so
//! such origins can be allowed explicitly. Wildcard entries are limited to `http` and `https`. A
//! request origin only ever matches an entry of the same scheme.
//!
//! # `null`
//!
//! `null` (exactly, lower case, as browsers send it for opaque origins such as sandboxed iframes,
//! `file:` pages and some redirects) is a distinct value that matches only an entry written as
//! `null`. `Null` or `NULL` is refused in both headers and entries. Allowing `null` lets any
//! sandboxed document on any site in; the list says so via [`OriginList::contains_null`].
//!
//! # Wildcards
//!
//! `https://*.example.com[:port]` matches one or more whole labels in front of `.example.com`:
//! `https://a.example.com` and `https://a.b.example.com`, never `https://example.com` itself, never
//! `https://example.com.evil.net`, never `https://evilexample.com`. Scheme and port must match
//! exactly (after default-port normalisation). The suffix needs at least two labels (`*.com` is
//! refused); that is a guard against the obvious footgun, not a public-suffix check (`*.co.uk` is
//! accepted). Bare `*`, `https://*`, `*` inside or after a label, wildcard schemes and ports, and
//! wildcards over IP addresses are refused.
//!
//! # Using the result
//!
//! `Origin` is set by browsers and cannot be forged by script in a browser, but any other client
//! can send any value: a match says "a browser page from this origin made the request", never
//! "this caller is trusted". Browsers send origins already in normal form, so `Display` of a
//! browser-sent [`RequestOrigin`] is byte-for-byte the header value and can be echoed in
//! `Access-Control-Allow-Origin` (with `Vary: Origin` on the response).

use std::cmp::Ordering;
use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// Longest host name accepted, in bytes (DNS limit, without a trailing dot).
const MAX_HOST_LEN: usize = 253;
/// Longest DNS label accepted, in bytes.
const MAX_LABEL_LEN: usize = 63;
/// Longest serialised IPv6 address, without brackets.
const MAX_IPV6_TEXT: usize = 39;

/// Why an `Origin` request header was refused.
///
/// Carries positions and characters rather than the header itself, so that parsing never
/// allocates; the caller may log the header next to the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// Nothing left after trimming spaces and tabs.
    #[error("the origin is empty")]
    Empty,
    /// A space, tab, CR, LF, VT or FF inside the value (outer spaces and tabs are trimmed first).
    #[error("the origin contains whitespace at byte {at}")]
    Whitespace {
        /// Byte offset in the header as given.
        at: usize,
    },
    /// Another ASCII control character or DEL.
    #[error("the origin contains a control character at byte {at}")]
    ControlCharacter {
        /// Byte offset in the header as given.
        at: usize,
    },
    /// A byte outside ASCII.
    #[error(
        "the origin contains a non-ASCII character at byte {at}; browsers send Unicode hosts as punycode (`xn--`)"
    )]
    NonAscii {
        /// Byte offset in the header as given.
        at: usize,
    },
    /// A comma: two `Origin` headers were combined into `a, b`.
    #[error("the origin contains `,`; more than one `Origin` header was probably combined")]
    Comma,
    /// A `%`: percent-encoding (or an IPv6 zone identifier) never appears in an origin.
    #[error("the origin contains `%`; percent-encoding is not allowed in an origin")]
    PercentSign,
    /// A `\`.
    #[error("the origin contains `\\`")]
    Backslash,
    /// `Null`, `NULL` and so on: browsers send only lower-case `null`.
    #[error("an opaque origin must be the lower-case `null`")]
    NullNotLowercase,
    /// No `scheme://` at the start.
    #[error("the origin does not start with `scheme://`")]
    MissingScheme,
    /// The scheme is empty or not `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
    #[error("the origin scheme is not a valid URI scheme")]
    InvalidScheme,
    /// An `@` before the host (`https://app.example.com@evil.net`).
    #[error("the origin contains userinfo (`@`); an origin is only `scheme://host[:port]`")]
    Userinfo,
    /// A `/` after the host, including a lone trailing `/`.
    #[error("the origin has a path; an origin is only `scheme://host[:port]`")]
    Path,
    /// A `?` after the host.
    #[error("the origin has a query (`?`); an origin is only `scheme://host[:port]`")]
    Query,
    /// A `#` after the host.
    #[error("the origin has a fragment (`#`); an origin is only `scheme://host[:port]`")]
    Fragment,
    /// `scheme://` with no host, or only a port.
    #[error("the origin has an empty host")]
    EmptyHost,
    /// `..` or a leading `.` in the host.
    #[error("the origin host has an empty label (`..` or a leading `.`)")]
    EmptyLabel,
    /// The host ends with `.`; browsers treat that as a different origin.
    #[error(
        "the origin host ends with `.`; browsers treat that as a different origin from the host without the dot"
    )]
    TrailingDot,
    /// A host character other than ASCII letters, digits, `-`, `_` and the dots between labels.
    #[error(
        "the origin host contains `{ch}`; only ASCII letters, digits, `-` and `_` are allowed in a label"
    )]
    InvalidHostCharacter {
        /// The offending character.
        ch: char,
    },
    /// A label longer than 63 bytes.
    #[error("the origin host has a label longer than 63 characters")]
    LabelTooLong,
    /// A host longer than 253 bytes.
    #[error("the origin host is longer than 253 characters")]
    HostTooLong,
    /// The host ends in a number but is not canonical dotted-decimal IPv4.
    #[error(
        "the origin host ends in a number but is not a dotted-decimal IPv4 address like `192.0.2.1` (four numbers 0-255 without leading zeros)"
    )]
    InvalidIpv4,
    /// A `[` host that is not a bracketed IPv6 address followed by nothing or `:port`.
    #[error("the origin host is not a valid bracketed IPv6 address")]
    InvalidIpv6,
    /// A valid IPv6 address, but not in the compressed form browsers send.
    #[error(
        "the origin IPv6 host is not in the compressed form browsers send (like `[2001:db8::1]`)"
    )]
    NonCanonicalIpv6,
    /// `host:` with nothing after the colon.
    #[error("the origin port is empty")]
    EmptyPort,
    /// A port such as `:0443`.
    #[error("the origin port has a leading zero")]
    PortLeadingZero,
    /// A port with a character other than a digit.
    #[error("the origin port is not a number")]
    InvalidPort,
    /// Port 0 or above 65535.
    #[error("the origin port is out of range (1-65535)")]
    PortOutOfRange,
}

/// Why an origin-list entry from the policy file was refused. Every variant names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginPatternError {
    /// An empty string.
    #[error("an origin list entry is empty")]
    Empty,
    /// The entry is not a valid origin; `reason` says why.
    #[error("`{entry}`: {reason}")]
    Invalid {
        /// The entry as written.
        entry: String,
        /// The parse failure.
        reason: OriginError,
    },
    /// The entry ends with `/`.
    #[error("`{entry}` ends with `/`; remove the trailing `/` (an origin has no path)")]
    TrailingSlash {
        /// The entry as written.
        entry: String,
    },
    /// `Null`, `NULL` and so on.
    #[error("`{entry}`: write the opaque origin as lower-case `null`")]
    NullNotLowercase {
        /// The entry as written.
        entry: String,
    },
    /// A bare `*`.
    #[error(
        "`*` (any origin) is not allowed in an origin list; list the origins, or use a subdomain wildcard like `https://*.example.com`"
    )]
    BareWildcard,
    /// `*://...` and the like.
    #[error("`{entry}`: the scheme cannot be a wildcard")]
    WildcardScheme {
        /// The entry as written.
        entry: String,
    },
    /// `...:*`.
    #[error("`{entry}`: the port cannot be a wildcard; list each port")]
    WildcardPort {
        /// The entry as written.
        entry: String,
    },
    /// `https://*` with no domain after the `*`.
    #[error("`{entry}`: a wildcard needs a domain after it, as in `https://*.example.com`")]
    WildcardWithoutSuffix {
        /// The entry as written.
        entry: String,
    },
    /// A `*` label that is not the leftmost one (`https://a.*.example.com`).
    #[error("`{entry}`: `*` may only be the leftmost label, as in `https://*.example.com`")]
    WildcardNotLeftmost {
        /// The entry as written.
        entry: String,
    },
    /// A `*` that is part of a label (`https://*example.com`, `https://a*.example.com`).
    #[error("`{entry}`: `*` must be a whole label followed by `.`, as in `https://*.example.com`")]
    PartialWildcard {
        /// The entry as written.
        entry: String,
    },
    /// A wildcard over fewer than two labels (`https://*.com`).
    #[error(
        "`{entry}`: a wildcard needs at least two labels after `*.` (`https://*.example.com`, not `https://*.com`)"
    )]
    WildcardSuffixTooShort {
        /// The entry as written.
        entry: String,
    },
    /// A wildcard for a scheme other than `http` or `https`.
    #[error("`{entry}`: wildcards are only allowed for `http` and `https` origins")]
    WildcardNonHttpScheme {
        /// The entry as written.
        entry: String,
    },
    /// A wildcard over an IP address or something ending in a number.
    #[error("`{entry}`: a wildcard cannot cover an IP address (a domain cannot end in a number)")]
    WildcardOnIpAddress {
        /// The entry as written.
        entry: String,
    },
}

impl OriginPatternError {
    /// The entry as written in the policy file (empty for [`OriginPatternError::Empty`], `*` for
    /// [`OriginPatternError::BareWildcard`]).
    pub fn entry(&self) -> &str {
        match self {
            Self::Empty => "",
            Self::BareWildcard => "*",
            Self::Invalid { entry, .. }
            | Self::TrailingSlash { entry }
            | Self::NullNotLowercase { entry }
            | Self::WildcardScheme { entry }
            | Self::WildcardPort { entry }
            | Self::WildcardWithoutSuffix { entry }
            | Self::WildcardNotLeftmost { entry }
            | Self::PartialWildcard { entry }
            | Self::WildcardSuffixTooShort { entry }
            | Self::WildcardNonHttpScheme { entry }
            | Self::WildcardOnIpAddress { entry } => entry,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Origins
// ---------------------------------------------------------------------------------------------

/// An owned, normalised origin (`scheme://host[:port]`): scheme and host lower case, default port
/// dropped, IP hosts in canonical form. Equality and hashing are origin equality.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// The scheme, lower case (`https`).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host, lower case; an IPv6 host includes its brackets (`[::1]`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, or `None` when it is the scheme's default (`http` 80, `https` 443) or, for
    /// other schemes, when none was given.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port a connection would use: the explicit port, else 80/443 for `http`/`https`, else
    /// `None`.
    pub fn effective_port(&self) -> Option<u16> {
        self.port.or_else(|| default_port(&self.scheme))
    }

    /// A borrowed view, for matching an owned origin against an [`OriginList`].
    pub fn as_origin_ref(&self) -> OriginRef<'_> {
        OriginRef {
            scheme: &self.scheme,
            host: &self.host,
            port: self.port,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_origin(f, &self.scheme, &self.host, self.port)
    }
}

impl PartialEq<OriginRef<'_>> for Origin {
    fn eq(&self, other: &OriginRef<'_>) -> bool {
        other.eq(&self.as_origin_ref())
    }
}

/// A validated origin borrowed from a request header. Scheme and host keep the header's letter
/// case (comparisons ignore ASCII case); the port is already normalised (`None` = default).
/// Only [`parse_request_origin`] and [`Origin::as_origin_ref`] create one, so it is always valid.
#[derive(Debug, Clone, Copy)]
pub struct OriginRef<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<u16>,
}

impl<'a> OriginRef<'a> {
    /// The scheme as sent (possibly mixed case).
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// The host as sent (possibly mixed case); an IPv6 host includes its brackets.
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The port, or `None` when it is the scheme's default or absent.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// An owned, lower-cased copy (allocates).
    pub fn to_origin(self) -> Origin {
        Origin {
            scheme: self.scheme.to_ascii_lowercase(),
            host: self.host.to_ascii_lowercase(),
            port: self.port,
        }
    }
}

impl PartialEq for OriginRef<'_> {
    /// Origin equality: ASCII case-insensitive scheme and host, equal normalised port.
    fn eq(&self, other: &Self) -> bool {
        self.port == other.port
            && self.scheme.eq_ignore_ascii_case(other.scheme)
            && self.host.eq_ignore_ascii_case(other.host)
    }
}

impl Eq for OriginRef<'_> {}

impl PartialEq<Origin> for OriginRef<'_> {
    fn eq(&self, other: &Origin) -> bool {
        self.eq(&other.as_origin_ref())
    }
}

impl fmt::Display for OriginRef<'_> {
    /// The normalised (lower-case) form; no allocation.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_origin(f, self.scheme, self.host, self.port)
    }
}

/// A parsed `Origin` request header: either `null` or a real origin. Borrowed from the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOrigin<'a> {
    /// The opaque origin `null`.
    Null,
    /// A `scheme://host[:port]` origin.
    Origin(OriginRef<'a>),
}

impl<'a> RequestOrigin<'a> {
    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The origin, or `None` for `null`.
    pub fn as_origin_ref(&self) -> Option<&OriginRef<'a>> {
        match self {
            Self::Null => None,
            Self::Origin(o) => Some(o),
        }
    }

    /// An owned copy of the origin, or `None` for `null` (allocates).
    pub fn to_origin(self) -> Option<Origin> {
        self.as_origin_ref().copied().map(OriginRef::to_origin)
    }
}

impl fmt::Display for RequestOrigin<'_> {
    /// `null`, or the normalised origin.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Origin(o) => o.fmt(f),
        }
    }
}

/// Parses an `Origin` request header value strictly, without allocating.
///
/// Leading and trailing spaces and tabs (HTTP OWS) are trimmed; everything else must be exactly
/// `null` or `scheme://host[:port]` as described in the module docs. Mixed case is accepted and
/// compared case-insensitively later; an explicit default port (`https://a.example:443`) is
/// normalised away. Refused: empty values, inner whitespace, control and non-ASCII characters,
/// commas (combined headers), `%`, `\`, userinfo, paths (even a lone `/`), queries, fragments,
/// empty labels, trailing dots, non-canonical IP hosts and bad ports.
pub fn parse_request_origin(header: &str) -> Result<RequestOrigin<'_>, OriginError> {
    let trimmed = header.trim_start_matches([' ', '\t']);
    let offset = header.len() - trimmed.len();
    let value = trimmed.trim_end_matches([' ', '\t']);
    if value.is_empty() {
        return Err(OriginError::Empty);
    }
    scan_characters(value, offset)?;
    if value == "null" {
        return Ok(RequestOrigin::Null);
    }
    if value.eq_ignore_ascii_case("null") {
        return Err(OriginError::NullNotLowercase);
    }
    let parts = split_origin(value)?;
    match check_host(parts.host)? {
        HostKind::Ipv6(addr) => {
            let canonical = Ipv6Text::new(addr);
            let inner = parts
                .host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(parts.host);
            if !inner.eq_ignore_ascii_case(canonical.as_str()) {
                return Err(OriginError::NonCanonicalIpv6);
            }
        }
        HostKind::Domain { .. } | HostKind::Ipv4 => {}
    }
    Ok(RequestOrigin::Origin(OriginRef {
        scheme: parts.scheme,
        host: parts.host,
        port: parts.port,
    }))
}

// ---------------------------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------------------------

/// The schemes a wildcard entry may use.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum HttpScheme {
    /// `http`
    Http,
    /// `https`
    Https,
}

impl HttpScheme {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    fn from_scheme(scheme: &str) -> Option<Self> {
        if scheme.eq_ignore_ascii_case("https") {
            Some(Self::Https)
        } else if scheme.eq_ignore_ascii_case("http") {
            Some(Self::Http)
        } else {
            None
        }
    }
}

impl fmt::Display for HttpScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The domain after `*.` in a wildcard entry: lower case, at least two labels, never an IP
/// address. Only [`OriginPattern::from_str`] creates one, so it is always valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainSuffix(String);

impl DomainSuffix {
    /// The suffix without the leading dot (`example.com`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One origin-list entry from the policy file, parsed with [`str::parse`].
///
/// Accepted forms: `null`; an exact origin of any RFC 3986 scheme (`https://app.example.com`,
/// `http://localhost:3000`, `chrome-extension://abcdefghijklmnop`, `http://[::1]:8080`); and a
/// subdomain wildcard `http(s)://*.example.com[:port]`. Upper case is accepted and normalised, as
/// is an explicit default port. Nothing is trimmed: whitespace anywhere is an error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OriginPattern {
    /// Matches only the request origin `null`.
    Null,
    /// Matches exactly this origin.
    Exact(Origin),
    /// Matches `scheme://<one or more labels>.<suffix>[:port]`, never the suffix itself.
    Wildcard {
        /// `http` or `https`.
        scheme: HttpScheme,
        /// The domain after `*.`.
        suffix: DomainSuffix,
        /// The port, `None` for the scheme's default; must match exactly.
        port: Option<u16>,
    },
}

impl FromStr for OriginPattern {
    type Err = OriginPatternError;

    fn from_str(entry: &str) -> Result<Self, Self::Err> {
        parse_pattern(entry)
    }
}

impl fmt::Display for OriginPattern {
    /// The normalised entry; re-parses to an equal pattern.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Exact(origin) => origin.fmt(f),
            Self::Wildcard {
                scheme,
                suffix,
                port,
            } => {
                write!(f, "{scheme}://*.{suffix}")?;
                match port {
                    Some(port) => write!(f, ":{port}"),
                    None => Ok(()),
                }
            }
        }
    }
}

fn parse_pattern(entry: &str) -> Result<OriginPattern, OriginPatternError> {
    let owned = || entry.to_owned();
    let invalid = |reason| OriginPatternError::Invalid {
        entry: entry.to_owned(),
        reason,
    };
    if entry.is_empty() {
        return Err(OriginPatternError::Empty);
    }
    if entry == "null" {
        return Ok(OriginPattern::Null);
    }
    if entry.eq_ignore_ascii_case("null") {
        return Err(OriginPatternError::NullNotLowercase { entry: owned() });
    }
    if entry == "*" {
        return Err(OriginPatternError::BareWildcard);
    }
    scan_characters(entry, 0).map_err(invalid)?;
    if entry
        .split_once("://")
        .is_some_and(|(scheme, _)| scheme.contains('*'))
    {
        return Err(OriginPatternError::WildcardScheme { entry: owned() });
    }
    let parts = match split_origin(entry) {
        Ok(parts) => parts,
        Err(OriginError::Path) if entry.ends_with('/') && entry.matches('/').count() == 3 => {
            return Err(OriginPatternError::TrailingSlash { entry: owned() });
        }
        Err(OriginError::InvalidPort) if entry.ends_with(":*") => {
            return Err(OriginPatternError::WildcardPort { entry: owned() });
        }
        Err(reason) => return Err(invalid(reason)),
    };

    if !parts.host.contains('*') {
        let host = match check_host(parts.host).map_err(invalid)? {
            HostKind::Ipv6(addr) => format!("[{}]", Ipv6Text::new(addr).as_str()),
            HostKind::Domain { .. } | HostKind::Ipv4 => parts.host.to_ascii_lowercase(),
        };
        return Ok(OriginPattern::Exact(Origin {
            scheme: parts.scheme.to_ascii_lowercase(),
            host,
            port: parts.port,
        }));
    }

    if parts.host == "*" || parts.host == "*." {
        return Err(OriginPatternError::WildcardWithoutSuffix { entry: owned() });
    }
    let Some(suffix) = parts.host.strip_prefix("*.") else {
        return Err(if parts.host.split('.').any(|label| label == "*") {
            OriginPatternError::WildcardNotLeftmost { entry: owned() }
        } else {
            OriginPatternError::PartialWildcard { entry: owned() }
        });
    };
    if suffix.contains('*') {
        return Err(if suffix.split('.').any(|label| label == "*") {
            OriginPatternError::WildcardNotLeftmost { entry: owned() }
        } else {
            OriginPatternError::PartialWildcard { entry: owned() }
        });
    }
    let Some(scheme) = HttpScheme::from_scheme(parts.scheme) else {
        return Err(OriginPatternError::WildcardNonHttpScheme { entry: owned() });
    };
    let labels = match check_host(suffix) {
        Ok(HostKind::Domain { labels }) => labels,
        Ok(HostKind::Ipv4 | HostKind::Ipv6(_)) | Err(OriginError::InvalidIpv4) => {
            return Err(OriginPatternError::WildcardOnIpAddress { entry: owned() });
        }
        Err(reason) => return Err(invalid(reason)),
    };
    if labels < 2 {
        return Err(OriginPatternError::WildcardSuffixTooShort { entry: owned() });
    }
    Ok(OriginPattern::Wildcard {
        scheme,
        suffix: DomainSuffix(suffix.to_ascii_lowercase()),
        port: parts.port,
    })
}

// ---------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
struct WildcardEntry {
    scheme: HttpScheme,
    /// Lower case, without the leading dot.
    suffix: String,
    port: Option<u16>,
}

impl WildcardEntry {
    /// `host` is the request host, already lower case.
    fn matches(&self, scheme: HttpScheme, host: &[u8], port: Option<u16>) -> bool {
        if self.scheme != scheme || self.port != port {
            return false;
        }
        // host = <one or more labels> "." suffix; the request parser guarantees non-empty labels,
        // and an empty prefix is refused here as well.
        let Some(dot) = host.len().checked_sub(self.suffix.len() + 1) else {
            return false;
        };
        if dot == 0 {
            return false;
        }
        match host.split_at_checked(dot) {
            Some((_, [b'.', tail @ ..])) => tail == self.suffix.as_bytes(),
            _ => false,
        }
    }
}

/// Room for any host the parser accepts (domains are at most 253 bytes, IPv6 hosts 41).
const HOST_BUF: usize = 256;

/// Copies `host` into `buf` in ASCII lower case; `None` if it does not fit.
fn lower_into<'b>(host: &str, buf: &'b mut [u8; HOST_BUF]) -> Option<&'b [u8]> {
    let out = buf.get_mut(..host.len())?;
    for (slot, b) in out.iter_mut().zip(host.bytes()) {
        *slot = b.to_ascii_lowercase();
    }
    Some(out)
}

/// A compiled origin list. Duplicates (after normalisation) are removed; exact entries are kept
/// sorted for an allocation-free binary search; wildcards are checked in turn.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OriginList {
    /// Sorted by `cmp_origin`, no duplicates.
    exact: Vec<Origin>,
    /// Sorted, no duplicates.
    wildcards: Vec<WildcardEntry>,
    null: bool,
}

impl OriginList {
    /// Compiles parsed patterns. An empty list matches nothing.
    pub fn new(patterns: impl IntoIterator<Item = OriginPattern>) -> OriginList {
        let mut list = OriginList::default();
        for pattern in patterns {
            match pattern {
                OriginPattern::Null => list.null = true,
                OriginPattern::Exact(origin) => list.exact.push(origin),
                OriginPattern::Wildcard {
                    scheme,
                    suffix,
                    port,
                } => list.wildcards.push(WildcardEntry {
                    scheme,
                    suffix: suffix.0,
                    port,
                }),
            }
        }
        list.exact
            .sort_by(|a, b| cmp_origin(&a.as_origin_ref(), &b.as_origin_ref()));
        list.exact.dedup();
        list.wildcards.sort();
        list.wildcards.dedup();
        list
    }

    /// Parses and compiles policy-file entries; the first bad entry is the error.
    pub fn parse<I, S>(entries: I) -> Result<OriginList, OriginPatternError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let patterns = entries
            .into_iter()
            .map(|entry| entry.as_ref().parse::<OriginPattern>())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OriginList::new(patterns))
    }

    /// Whether the request origin is in the list. `null` matches only a `null` entry. No
    /// allocation; hosts and schemes are compared ignoring ASCII case.
    pub fn matches(&self, origin: &RequestOrigin<'_>) -> bool {
        match origin {
            RequestOrigin::Null => self.null,
            RequestOrigin::Origin(origin) => self.matches_origin(origin),
        }
    }

    /// Whether a (non-`null`) origin is in the list. No allocation: the host is lower-cased into
    /// a stack buffer, then exact entries are binary-searched and wildcards checked in turn. A
    /// host longer than 256 bytes (which the parser never produces) matches nothing.
    pub fn matches_origin(&self, origin: &OriginRef<'_>) -> bool {
        let mut buf = [0u8; HOST_BUF];
        let Some(host) = lower_into(origin.host, &mut buf) else {
            return false;
        };
        // Same order as `cmp_origin`; entries are lower case, so byte order is case-free order.
        let exact = self
            .exact
            .binary_search_by(|entry| {
                entry
                    .host
                    .len()
                    .cmp(&host.len())
                    .then_with(|| entry.host.as_bytes().cmp(host))
                    .then_with(|| cmp_ignore_ascii_case(&entry.scheme, origin.scheme))
                    .then_with(|| entry.port.cmp(&origin.port))
            })
            .is_ok();
        exact
            || HttpScheme::from_scheme(origin.scheme).is_some_and(|scheme| {
                self.wildcards
                    .iter()
                    .any(|w| w.matches(scheme, host, origin.port))
            })
    }

    /// Whether any entry is a wildcard.
    pub fn has_wildcard(&self) -> bool {
        !self.wildcards.is_empty()
    }

    /// Whether `null` is listed.
    pub fn contains_null(&self) -> bool {
        self.null
    }

    /// The number of distinct entries after normalisation.
    pub fn len(&self) -> usize {
        self.exact.len() + self.wildcards.len() + usize::from(self.null)
    }

    /// Whether the list has no entries (and so matches nothing).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The distinct entries, normalised: `null` first, then exact origins, then wildcards.
    pub fn patterns(&self) -> impl Iterator<Item = OriginPattern> + '_ {
        let null = self.null.then_some(OriginPattern::Null);
        null.into_iter()
            .chain(self.exact.iter().cloned().map(OriginPattern::Exact))
            .chain(self.wildcards.iter().map(|w| OriginPattern::Wildcard {
                scheme: w.scheme,
                suffix: DomainSuffix(w.suffix.clone()),
                port: w.port,
            }))
    }
}

impl FromIterator<OriginPattern> for OriginList {
    fn from_iter<T: IntoIterator<Item = OriginPattern>>(iter: T) -> Self {
        OriginList::new(iter)
    }
}

/// Total order used for the exact-entry table: host length, host bytes (ASCII lower-cased),
/// scheme, port. Length first makes most comparisons O(1).
fn cmp_origin(a: &OriginRef<'_>, b: &OriginRef<'_>) -> Ordering {
    a.host
        .len()
        .cmp(&b.host.len())
        .then_with(|| cmp_ignore_ascii_case(a.host, b.host))
        .then_with(|| cmp_ignore_ascii_case(a.scheme, b.scheme))
        .then_with(|| a.port.cmp(&b.port))
}

fn cmp_ignore_ascii_case(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

// ---------------------------------------------------------------------------------------------
// Shared parsing
// ---------------------------------------------------------------------------------------------

/// `Some(80)` / `Some(443)` for `http` / `https` (any case), else `None`.
fn default_port(scheme: &str) -> Option<u16> {
    HttpScheme::from_scheme(scheme).map(|s| match s {
        HttpScheme::Http => 80,
        HttpScheme::Https => 443,
    })
}

fn write_origin(
    f: &mut fmt::Formatter<'_>,
    scheme: &str,
    host: &str,
    port: Option<u16>,
) -> fmt::Result {
    use fmt::Write;
    for c in scheme.chars() {
        f.write_char(c.to_ascii_lowercase())?;
    }
    f.write_str("://")?;
    for c in host.chars() {
        f.write_char(c.to_ascii_lowercase())?;
    }
    match port {
        Some(port) => write!(f, ":{port}"),
        None => Ok(()),
    }
}

/// Byte may appear somewhere in an origin: printable ASCII except space, `,`, `%` and `\`.
const ORIGIN_BYTE: u8 = 1;
/// Byte may appear inside a host label: ASCII letters, digits, `-` and `_`.
const LABEL_BYTE: u8 = 2;

/// Per-byte classes, for cheap per-byte checks on the request path.
static BYTE_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut rest: &mut [u8] = &mut table;
    let mut b = 0u8;
    while let [slot, tail @ ..] = rest {
        if matches!(b, 0x21..=0x7e) && !matches!(b, b',' | b'%' | b'\\') {
            *slot |= ORIGIN_BYTE;
        }
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            *slot |= LABEL_BYTE;
        }
        rest = tail;
        b = b.wrapping_add(1);
    }
    table
};

fn has_class(b: u8, class: u8) -> bool {
    BYTE_CLASS
        .get(usize::from(b))
        .is_some_and(|&c| c & class != 0)
}

/// Refuses characters that never occur in an origin. `offset` is added to reported positions.
fn scan_characters(value: &str, offset: usize) -> Result<(), OriginError> {
    if value.bytes().all(|b| has_class(b, ORIGIN_BYTE)) {
        return Ok(());
    }
    for (i, b) in value.bytes().enumerate() {
        let at = offset + i;
        match b {
            0x80.. => return Err(OriginError::NonAscii { at }),
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                return Err(OriginError::Whitespace { at })
            }
            0x00..=0x1f | 0x7f => return Err(OriginError::ControlCharacter { at }),
            b',' => return Err(OriginError::Comma),
            b'%' => return Err(OriginError::PercentSign),
            b'\\' => return Err(OriginError::Backslash),
            _ => {}
        }
    }
    Ok(())
}

/// The structural pieces of `scheme://host[:port]`; the host is not yet validated.
struct Parts<'a> {
    scheme: &'a str,
    host: &'a str,
    /// Normalised: `None` for the scheme's default.
    port: Option<u16>,
}

fn split_origin(value: &str) -> Result<Parts<'_>, OriginError> {
    // Byte loops rather than `str` searches: headers are short and this runs on every request.
    let colon = position(value, |b| b == b':').ok_or(OriginError::MissingScheme)?;
    let (scheme, rest) = value
        .split_at_checked(colon)
        .ok_or(OriginError::MissingScheme)?;
    let rest = rest.strip_prefix("://").ok_or(OriginError::MissingScheme)?;
    if !is_valid_scheme(scheme) {
        return Err(OriginError::InvalidScheme);
    }
    let end = position(rest, |b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at_checked(end).unwrap_or((rest, ""));
    if authority.bytes().any(|b| b == b'@') {
        return Err(OriginError::Userinfo);
    }
    match tail.bytes().next() {
        None => {}
        Some(b'?') => return Err(OriginError::Query),
        Some(b'#') => return Err(OriginError::Fragment),
        Some(_) => return Err(OriginError::Path),
    }
    let (host, port) = if authority.starts_with('[') {
        let close = position(authority, |b| b == b']').ok_or(OriginError::InvalidIpv6)?;
        let (host, after) = authority
            .split_at_checked(close + 1)
            .ok_or(OriginError::InvalidIpv6)?;
        if after.is_empty() {
            (host, None)
        } else {
            let port = after.strip_prefix(':').ok_or(OriginError::InvalidIpv6)?;
            (host, Some(port))
        }
    } else {
        match position(authority, |b| b == b':') {
            Some(at) => {
                let (host, port) = authority.split_at_checked(at).unwrap_or((authority, ""));
                (host, port.strip_prefix(':'))
            }
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(OriginError::EmptyHost);
    }
    let port = match port {
        None => None,
        Some(text) => {
            let port = parse_port(text)?;
            if default_port(scheme) == Some(port) {
                None
            } else {
                Some(port)
            }
        }
    };
    Ok(Parts { scheme, host, port })
}

/// The byte offset of the first byte satisfying `pred`.
fn position(s: &str, pred: impl Fn(u8) -> bool) -> Option<usize> {
    s.bytes().position(pred)
}

fn is_valid_scheme(scheme: &str) -> bool {
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

fn parse_port(text: &str) -> Result<u16, OriginError> {
    if text.is_empty() {
        return Err(OriginError::EmptyPort);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(OriginError::InvalidPort);
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(OriginError::PortLeadingZero);
    }
    if text.len() > 5 {
        return Err(OriginError::PortOutOfRange);
    }
    let value = text
        .bytes()
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    match u16::try_from(value) {
        Ok(0) | Err(_) => Err(OriginError::PortOutOfRange),
        Ok(port) => Ok(port),
    }
}

enum HostKind {
    /// A domain name with this many labels.
    Domain {
        labels: usize,
    },
    Ipv4,
    Ipv6(Ipv6Addr),
}

/// Validates a host (no allocation). IPv6 canonical form is the caller's business.
fn check_host(host: &str) -> Result<HostKind, OriginError> {
    if host.is_empty() {
        return Err(OriginError::EmptyHost);
    }
    if let Some(bracketed) = host.strip_prefix('[') {
        let inner = bracketed
            .strip_suffix(']')
            .ok_or(OriginError::InvalidIpv6)?;
        // Only hex digits, `:` and `.` (embedded IPv4); std's parser is strict beyond that.
        if inner.len() > 45
            || !inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(OriginError::InvalidIpv6);
        }
        return inner
            .parse::<Ipv6Addr>()
            .map(HostKind::Ipv6)
            .map_err(|_| OriginError::InvalidIpv6);
    }
    if host.len() > MAX_HOST_LEN {
        return Err(OriginError::HostTooLong);
    }
    if host.ends_with('.') {
        return Err(OriginError::TrailingDot);
    }
    // One pass: label count, label length, characters, start of the last label.
    let mut labels = 1usize;
    let mut label_len = 0usize;
    let mut last_start = 0usize;
    for (i, b) in host.bytes().enumerate() {
        if b == b'.' {
            if label_len == 0 {
                return Err(OriginError::EmptyLabel);
            }
            labels += 1;
            label_len = 0;
            last_start = i + 1;
        } else if has_class(b, LABEL_BYTE) {
            label_len += 1;
            if label_len > MAX_LABEL_LEN {
                return Err(OriginError::LabelTooLong);
            }
        } else {
            return Err(OriginError::InvalidHostCharacter { ch: char::from(b) });
        }
    }
    let last = host.get(last_start..).unwrap_or("");
    if ends_in_number(last) {
        return if is_canonical_ipv4(host) {
            Ok(HostKind::Ipv4)
        } else {
            Err(OriginError::InvalidIpv4)
        };
    }
    Ok(HostKind::Domain { labels })
}

/// WHATWG "ends in a number": the last label is all digits, or `0x`/`0X` followed by hex digits.
fn ends_in_number(last: &str) -> bool {
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    last.strip_prefix("0x")
        .or_else(|| last.strip_prefix("0X"))
        .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Exactly four decimal octets 0-255 without leading zeros.
fn is_canonical_ipv4(host: &str) -> bool {
    let mut count = 0usize;
    for octet in host.split('.') {
        count += 1;
        let ok = !octet.is_empty()
            && octet.len() <= 3
            && octet.bytes().all(|b| b.is_ascii_digit())
            && !(octet.len() > 1 && octet.starts_with('0'))
            && octet.parse::<u8>().is_ok();
        if !ok || count > 4 {
            return false;
        }
    }
    count == 4
}

/// An IPv6 address serialised as browsers do (WHATWG URL standard, equal to RFC 5952 except
/// that IPv4-mapped addresses stay in hex), on the stack.
struct Ipv6Text {
    buf: [u8; MAX_IPV6_TEXT],
    len: usize,
}

impl Ipv6Text {
    fn new(addr: Ipv6Addr) -> Self {
        let mut text = Ipv6Text {
            buf: [0; MAX_IPV6_TEXT],
            len: 0,
        };
        let pieces = addr.segments();
        // The first longest run of two or more zero pieces.
        let mut compress: Option<(usize, usize)> = None;
        let mut run: Option<(usize, usize)> = None;
        for (i, &piece) in pieces.iter().enumerate() {
            if piece == 0 {
                let (start, len) = run.map_or((i, 1), |(start, len)| (start, len + 1));
                run = Some((start, len));
                if len >= 2 && compress.is_none_or(|(_, best)| len > best) {
                    compress = Some((start, len));
                }
            } else {
                run = None;
            }
        }
        let compress_at = compress.map(|(start, _)| start);
        let mut ignore_zero = false;
        for (i, &piece) in pieces.iter().enumerate() {
            if ignore_zero && piece == 0 {
                continue;
            }
            ignore_zero = false;
            if compress_at == Some(i) {
                text.push_str(if i == 0 { "::" } else { ":" });
                ignore_zero = true;
                continue;
            }
            text.push_hex(piece);
            if i != 7 {
                text.push(b':');
            }
        }
        text
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn push_str(&mut self, s: &str) {
        s.bytes().for_each(|b| self.push(b));
    }

    fn push_hex(&mut self, piece: u16) {
        let mut started = false;
        for shift in [12u16, 8, 4, 0] {
            // Masked to 0..=15, so the cast is lossless.
            let nibble = ((piece >> shift) & 0xf) as u8;
            if nibble != 0 || started || shift == 0 {
                started = true;
                self.push(if nibble < 10 {
                    b'0' + nibble
                } else {
                    b'a' + nibble - 10
                });
            }
        }
    }

    fn as_str(&self) -> &str {
        self.buf
            .get(..self.len)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type E = OriginError;

    /// (header, expected Display of the parsed value or the exact error)
    const REQUEST_CASES: &[(&str, Result<&str, OriginError>)] = &[
        // --- accepted ---
        ("https://app.example.com", Ok("https://app.example.com")),
        ("http://localhost:3000", Ok("http://localhost:3000")),
        ("HTTPS://App.Example.COM", Ok("https://app.example.com")),
        ("hTTp://LocalHost:3000", Ok("http://localhost:3000")),
        ("https://app.example.com:443", Ok("https://app.example.com")),
        ("http://app.example.com:80", Ok("http://app.example.com")),
        ("HTTP://app.example.com:80", Ok("http://app.example.com")),
        (
            "http://app.example.com:443",
            Ok("http://app.example.com:443"),
        ),
        (
            "https://app.example.com:80",
            Ok("https://app.example.com:80"),
        ),
        (
            "https://app.example.com:8443",
            Ok("https://app.example.com:8443"),
        ),
        ("https://a.example.com:1", Ok("https://a.example.com:1")),
        (
            "https://a.example.com:65535",
            Ok("https://a.example.com:65535"),
        ),
        (" \thttps://a.example.com\t ", Ok("https://a.example.com")),
        ("null", Ok("null")),
        ("  null\t", Ok("null")),
        (
            "chrome-extension://abcdefghijklmnop",
            Ok("chrome-extension://abcdefghijklmnop"),
        ),
        (
            "chrome-extension://abc:443",
            Ok("chrome-extension://abc:443"),
        ),
        ("chrome-extension://abc:80", Ok("chrome-extension://abc:80")),
        (
            "moz-extension://2f3b0a7c-1d2e-4f5a-9b8c-0d1e2f3a4b5c",
            Ok("moz-extension://2f3b0a7c-1d2e-4f5a-9b8c-0d1e2f3a4b5c"),
        ),
        ("capacitor://localhost", Ok("capacitor://localhost")),
        ("web+app.v2://x.example", Ok("web+app.v2://x.example")),
        (
            "https://xn--bcher-kva.example",
            Ok("https://xn--bcher-kva.example"),
        ),
        (
            "https://XN--BCHER-KVA.example",
            Ok("https://xn--bcher-kva.example"),
        ),
        (
            "https://my_host.example.com",
            Ok("https://my_host.example.com"),
        ),
        ("https://-a-.example.com", Ok("https://-a-.example.com")),
        ("https://intranet", Ok("https://intranet")),
        ("https://1.2.3.example", Ok("https://1.2.3.example")),
        ("https://0x1f.example", Ok("https://0x1f.example")),
        ("https://a.0xg", Ok("https://a.0xg")),
        ("http://127.0.0.1:8080", Ok("http://127.0.0.1:8080")),
        ("http://192.0.2.1", Ok("http://192.0.2.1")),
        ("http://0.0.0.0", Ok("http://0.0.0.0")),
        ("http://255.255.255.255", Ok("http://255.255.255.255")),
        ("http://[::1]:8080", Ok("http://[::1]:8080")),
        ("http://[::1]", Ok("http://[::1]")),
        ("https://[::1]:443", Ok("https://[::1]")),
        ("http://[2001:db8::1]", Ok("http://[2001:db8::1]")),
        ("http://[2001:DB8::1]", Ok("http://[2001:db8::1]")),
        (
            "http://[2001:db8::1:0:0:1]",
            Ok("http://[2001:db8::1:0:0:1]"),
        ),
        ("http://[::ffff:102:304]", Ok("http://[::ffff:102:304]")),
        ("http://[1::]", Ok("http://[1::]")),
        ("http://[::]", Ok("http://[::]")),
        ("http://[1:2:3:4:5:6:7:8]", Ok("http://[1:2:3:4:5:6:7:8]")),
        ("http://[1:0:3:4:5:6:7:8]", Ok("http://[1:0:3:4:5:6:7:8]")),
        // --- empty / characters ---
        ("", Err(E::Empty)),
        ("   ", Err(E::Empty)),
        ("\t \t", Err(E::Empty)),
        ("https://a .com", Err(E::Whitespace { at: 9 })),
        ("https://a.com\n", Err(E::Whitespace { at: 13 })),
        ("https://a.com\r\n", Err(E::Whitespace { at: 13 })),
        ("\nhttps://a.com", Err(E::Whitespace { at: 0 })),
        ("  https://a.com\u{b}", Err(E::Whitespace { at: 15 })),
        ("https://a.com\u{c}", Err(E::Whitespace { at: 13 })),
        ("null\n", Err(E::Whitespace { at: 4 })),
        ("nu ll", Err(E::Whitespace { at: 2 })),
        ("https://a.com\0", Err(E::ControlCharacter { at: 13 })),
        ("https://a.com\u{7f}", Err(E::ControlCharacter { at: 13 })),
        ("https://a\u{1b}.com", Err(E::ControlCharacter { at: 9 })),
        ("https://bücher.example", Err(E::NonAscii { at: 9 })),
        (" https://bücher.example", Err(E::NonAscii { at: 10 })),
        ("https://example.\u{212a}om", Err(E::NonAscii { at: 16 })),
        ("https://a.example.com\u{3002}", Err(E::NonAscii { at: 21 })),
        ("https://a\u{a0}.com", Err(E::NonAscii { at: 9 })),
        ("https://a.com, https://b.com", Err(E::Comma)),
        ("https://a.com,https://b.com", Err(E::Comma)),
        ("null, null", Err(E::Comma)),
        ("null,https://a.com", Err(E::Comma)),
        ("https://a%2ecom", Err(E::PercentSign)),
        ("http://[fe80::1%25eth0]", Err(E::PercentSign)),
        ("https://a.com\\@evil.net", Err(E::Backslash)),
        ("https:\\\\a.com", Err(E::Backslash)),
        // --- null ---
        ("Null", Err(E::NullNotLowercase)),
        ("NULL", Err(E::NullNotLowercase)),
        (" nUlL ", Err(E::NullNotLowercase)),
        ("nul", Err(E::MissingScheme)),
        ("nulll", Err(E::MissingScheme)),
        // --- scheme ---
        ("https", Err(E::MissingScheme)),
        ("app.example.com", Err(E::MissingScheme)),
        ("app.example.com:443", Err(E::MissingScheme)),
        ("https:/a.com", Err(E::MissingScheme)),
        ("https:a.com", Err(E::MissingScheme)),
        ("//a.com", Err(E::MissingScheme)),
        ("://a.com", Err(E::InvalidScheme)),
        ("1http://a.com", Err(E::InvalidScheme)),
        ("ht_tp://a.com", Err(E::InvalidScheme)),
        ("*://a.com", Err(E::InvalidScheme)),
        ("-http://a.com", Err(E::InvalidScheme)),
        // --- userinfo, path, query, fragment ---
        ("https://app.example.com@evil.net", Err(E::Userinfo)),
        ("https://user:pass@a.com", Err(E::Userinfo)),
        ("https://@a.com", Err(E::Userinfo)),
        ("https://a.com@", Err(E::Userinfo)),
        ("https://a.com/", Err(E::Path)),
        ("https://a.com:443/", Err(E::Path)),
        ("https://a.com/x", Err(E::Path)),
        ("https://a.com//", Err(E::Path)),
        ("https:///a.com", Err(E::Path)),
        ("https://evil.net/@a.com", Err(E::Path)),
        ("https://evil.net/.a.com", Err(E::Path)),
        ("https://a.com?x", Err(E::Query)),
        ("https://a.com?", Err(E::Query)),
        ("https://a.com?/x", Err(E::Query)),
        ("https://a.com#", Err(E::Fragment)),
        ("https://a.com#x", Err(E::Fragment)),
        ("https://a.com#@evil.net", Err(E::Fragment)),
        // --- host ---
        ("https://", Err(E::EmptyHost)),
        ("https://:443", Err(E::EmptyHost)),
        ("http://::1", Err(E::EmptyHost)),
        ("https://a..com", Err(E::EmptyLabel)),
        ("https://.a.com", Err(E::EmptyLabel)),
        ("https://app.example.com.", Err(E::TrailingDot)),
        ("https://app.example.com.:443", Err(E::TrailingDot)),
        ("https://.", Err(E::TrailingDot)),
        ("https://a..", Err(E::TrailingDot)),
        (
            "https://*.example.com",
            Err(E::InvalidHostCharacter { ch: '*' }),
        ),
        ("https://a!.com", Err(E::InvalidHostCharacter { ch: '!' })),
        ("https://a=b.com", Err(E::InvalidHostCharacter { ch: '=' })),
        ("https://a;b.com", Err(E::InvalidHostCharacter { ch: ';' })),
        ("https://a~b.com", Err(E::InvalidHostCharacter { ch: '~' })),
        ("https://a$b.com", Err(E::InvalidHostCharacter { ch: '$' })),
        ("https://a'b.com", Err(E::InvalidHostCharacter { ch: '\'' })),
        ("https://a\"b.com", Err(E::InvalidHostCharacter { ch: '"' })),
        ("https://a<b.com", Err(E::InvalidHostCharacter { ch: '<' })),
        (
            "https://exa[mple.com",
            Err(E::InvalidHostCharacter { ch: '[' }),
        ),
        ("https://a]b.com", Err(E::InvalidHostCharacter { ch: ']' })),
        ("https://a.com]", Err(E::InvalidHostCharacter { ch: ']' })),
        ("https://127.1", Err(E::InvalidIpv4)),
        ("https://0177.0.0.1", Err(E::InvalidIpv4)),
        ("https://01.2.3.4", Err(E::InvalidIpv4)),
        ("http://1.2.3.04", Err(E::InvalidIpv4)),
        ("https://256.0.0.1", Err(E::InvalidIpv4)),
        ("https://1.2.3.4.5", Err(E::InvalidIpv4)),
        ("https://1.2.3", Err(E::InvalidIpv4)),
        ("https://2130706433", Err(E::InvalidIpv4)),
        ("https://example.123", Err(E::InvalidIpv4)),
        ("https://0x7f.0.0.1", Err(E::InvalidIpv4)),
        ("https://a.0x1f", Err(E::InvalidIpv4)),
        ("https://a.0X1F", Err(E::InvalidIpv4)),
        ("https://a.0x", Err(E::InvalidIpv4)),
        ("https://1.2.3.1000", Err(E::InvalidIpv4)),
        ("http://[::1", Err(E::InvalidIpv6)),
        ("http://[::1]x", Err(E::InvalidIpv6)),
        ("http://[::1]]", Err(E::InvalidIpv6)),
        ("http://[:::1]", Err(E::InvalidIpv6)),
        ("http://[1:2:3:4:5:6:7:8:9]", Err(E::InvalidIpv6)),
        ("http://[g::1]", Err(E::InvalidIpv6)),
        ("http://[]", Err(E::InvalidIpv6)),
        ("http://[127.0.0.1]", Err(E::InvalidIpv6)),
        ("http://[a.com]", Err(E::InvalidIpv6)),
        ("http://[v1.x]", Err(E::InvalidIpv6)),
        ("http://[0:0:0:0:0:0:0:1]", Err(E::NonCanonicalIpv6)),
        ("http://[::ffff:1.2.3.4]", Err(E::NonCanonicalIpv6)),
        ("http://[::0:1]", Err(E::NonCanonicalIpv6)),
        ("http://[0001::1]", Err(E::NonCanonicalIpv6)),
        ("http://[2001:db8:0:0:1:0:0:1]", Err(E::NonCanonicalIpv6)),
        ("http://[2001:db8:0:0:1::1]", Err(E::NonCanonicalIpv6)),
        ("http://[1::3:4:5:6:7:8]", Err(E::NonCanonicalIpv6)),
        ("http://[1:0::3:4:5:6:7:8]", Err(E::InvalidIpv6)),
        // --- port ---
        ("https://a.com:", Err(E::EmptyPort)),
        ("http://[::1]:", Err(E::EmptyPort)),
        ("https://a.com:0443", Err(E::PortLeadingZero)),
        ("https://a.com:00", Err(E::PortLeadingZero)),
        ("https://a.com:000000000000443", Err(E::PortLeadingZero)),
        ("https://a.com:0", Err(E::PortOutOfRange)),
        ("https://a.com:65536", Err(E::PortOutOfRange)),
        ("https://a.com:99999999999999999999", Err(E::PortOutOfRange)),
        ("https://a.com:+443", Err(E::InvalidPort)),
        ("https://a.com:-1", Err(E::InvalidPort)),
        ("https://a.com:44a", Err(E::InvalidPort)),
        ("https://a.com:443:443", Err(E::InvalidPort)),
        ("https://a.com:*", Err(E::InvalidPort)),
        ("https://a.com:８０", Err(E::NonAscii { at: 14 })),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn request_parse_table() {
        for (header, expected) in REQUEST_CASES {
            let got = parse_request_origin(header).map(|o| o.to_string());
            let expected = expected.map(str::to_owned);
            assert_eq!(got, expected, "header {header:?}");
        }
    }

    /// (header, scheme as borrowed, host as borrowed, port)
    const ACCESSOR_CASES: &[(&str, &str, &str, Option<u16>)] = &[
        (
            "HTTPS://App.Example.COM:443",
            "HTTPS",
            "App.Example.COM",
            None,
        ),
        (
            "https://a.example.com:8443",
            "https",
            "a.example.com",
            Some(8443),
        ),
        (
            "http://a.example.com:443",
            "http",
            "a.example.com",
            Some(443),
        ),
        ("http://[::1]:8080", "http", "[::1]", Some(8080)),
        (
            "chrome-extension://abc:443",
            "chrome-extension",
            "abc",
            Some(443),
        ),
        ("capacitor://localhost", "capacitor", "localhost", None),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn request_accessors_table() {
        for &(header, scheme, host, port) in ACCESSOR_CASES {
            let parsed = parse_request_origin(header).unwrap();
            assert!(!parsed.is_null(), "{header}");
            let origin = parsed.as_origin_ref().copied().unwrap();
            assert_eq!(origin.scheme(), scheme, "{header}");
            assert_eq!(origin.host(), host, "{header}");
            assert_eq!(origin.port(), port, "{header}");
            let owned = parsed.to_origin().unwrap();
            assert_eq!(owned.scheme(), scheme.to_ascii_lowercase(), "{header}");
            assert_eq!(owned.host(), host.to_ascii_lowercase(), "{header}");
            assert_eq!(owned.port(), port, "{header}");
            assert_eq!(owned, origin, "{header}");
            assert_eq!(origin, owned, "{header}");
        }
        let null = parse_request_origin("null").unwrap();
        assert!(null.is_null());
        assert_eq!(null.as_origin_ref(), None);
        assert_eq!(null.to_origin(), None);
    }

    /// (header, effective port)
    const EFFECTIVE_PORT_CASES: &[(&str, Option<u16>)] = &[
        ("https://a.com", Some(443)),
        ("http://a.com", Some(80)),
        ("https://a.com:8443", Some(8443)),
        ("capacitor://localhost", None),
        ("capacitor://localhost:9", Some(9)),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn effective_port_table() {
        for &(header, expected) in EFFECTIVE_PORT_CASES {
            let origin = parse_request_origin(header).unwrap().to_origin().unwrap();
            assert_eq!(origin.effective_port(), expected, "{header}");
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn request_origin_ref_equality_ignores_case() {
        let a = parse_request_origin("HTTPS://A.EXAMPLE.COM:443").unwrap();
        let b = parse_request_origin("https://a.example.com").unwrap();
        let c = parse_request_origin("https://a.example.com:8443").unwrap();
        let d = parse_request_origin("http://a.example.com").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_ne!(a, RequestOrigin::Null);
    }

    /// Label and host length limits, for requests and list entries alike.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn length_limits_table() {
        let l63 = "a".repeat(63);
        let l64 = "a".repeat(64);
        // 4 * 63 + 3 dots = 255 > 253; 3 * 63 + 61 + 3 = 253.
        let host253 = format!("{l63}.{l63}.{l63}.{}", "b".repeat(61));
        let host254 = format!("{l63}.{l63}.{l63}.{}", "b".repeat(62));
        let cases: Vec<(String, Result<(), OriginError>)> = vec![
            (format!("https://{l63}.com"), Ok(())),
            (format!("https://{l64}.com"), Err(E::LabelTooLong)),
            (format!("https://{host253}"), Ok(())),
            (format!("https://{host254}"), Err(E::HostTooLong)),
            (format!("https://{host254}:8443"), Err(E::HostTooLong)),
        ];
        for (header, expected) in cases {
            let got = parse_request_origin(&header).map(|_| ());
            assert_eq!(got, expected, "{header}");
            let pattern = header.parse::<OriginPattern>().map(|_| ());
            let expected_pattern = expected.map_err(|reason| OriginPatternError::Invalid {
                entry: header.clone(),
                reason,
            });
            assert_eq!(pattern, expected_pattern, "pattern {header}");
        }
    }

    /// Expected pattern-parse outcome without the entry (every error is checked to carry it).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Pk<'a> {
        /// The `Display` of the parsed pattern.
        Ok(&'a str),
        Empty,
        Invalid(OriginError),
        TrailingSlash,
        NullNotLowercase,
        BareWildcard,
        WildcardScheme,
        WildcardPort,
        WildcardWithoutSuffix,
        WildcardNotLeftmost,
        PartialWildcard,
        WildcardSuffixTooShort,
        WildcardNonHttpScheme,
        WildcardOnIpAddress,
    }

    fn pk<'a>(result: &Result<OriginPattern, OriginPatternError>, shown: &'a str) -> Pk<'a> {
        use OriginPatternError as P;
        match result {
            Ok(_) => Pk::Ok(shown),
            Err(P::Empty) => Pk::Empty,
            Err(P::Invalid { reason, .. }) => Pk::Invalid(*reason),
            Err(P::TrailingSlash { .. }) => Pk::TrailingSlash,
            Err(P::NullNotLowercase { .. }) => Pk::NullNotLowercase,
            Err(P::BareWildcard) => Pk::BareWildcard,
            Err(P::WildcardScheme { .. }) => Pk::WildcardScheme,
            Err(P::WildcardPort { .. }) => Pk::WildcardPort,
            Err(P::WildcardWithoutSuffix { .. }) => Pk::WildcardWithoutSuffix,
            Err(P::WildcardNotLeftmost { .. }) => Pk::WildcardNotLeftmost,
            Err(P::PartialWildcard { .. }) => Pk::PartialWildcard,
            Err(P::WildcardSuffixTooShort { .. }) => Pk::WildcardSuffixTooShort,
            Err(P::WildcardNonHttpScheme { .. }) => Pk::WildcardNonHttpScheme,
            Err(P::WildcardOnIpAddress { .. }) => Pk::WildcardOnIpAddress,
        }
    }

    const PATTERN_CASES: &[(&str, Pk<'static>)] = &[
        // --- accepted ---
        ("null", Pk::Ok("null")),
        ("https://app.example.com", Pk::Ok("https://app.example.com")),
        (
            "HTTPS://APP.Example.com:443",
            Pk::Ok("https://app.example.com"),
        ),
        (
            "http://app.example.com:80",
            Pk::Ok("http://app.example.com"),
        ),
        (
            "http://app.example.com:443",
            Pk::Ok("http://app.example.com:443"),
        ),
        ("http://localhost:3000", Pk::Ok("http://localhost:3000")),
        ("https://intranet", Pk::Ok("https://intranet")),
        ("https://*.example.com", Pk::Ok("https://*.example.com")),
        ("HTTPS://*.EXAMPLE.COM:443", Pk::Ok("https://*.example.com")),
        (
            "https://*.example.com:8443",
            Pk::Ok("https://*.example.com:8443"),
        ),
        ("http://*.example.com:80", Pk::Ok("http://*.example.com")),
        (
            "http://*.example.com:443",
            Pk::Ok("http://*.example.com:443"),
        ),
        ("https://*.co.uk", Pk::Ok("https://*.co.uk")),
        (
            "https://*.a.b.example.com",
            Pk::Ok("https://*.a.b.example.com"),
        ),
        (
            "https://*.xn--bcher-kva.example",
            Pk::Ok("https://*.xn--bcher-kva.example"),
        ),
        (
            "https://*.my_corp.example",
            Pk::Ok("https://*.my_corp.example"),
        ),
        (
            "chrome-extension://abcdefghijklmnop",
            Pk::Ok("chrome-extension://abcdefghijklmnop"),
        ),
        (
            "CHROME-EXTENSION://ABCDEFGHIJKLMNOP",
            Pk::Ok("chrome-extension://abcdefghijklmnop"),
        ),
        (
            "capacitor://localhost:443",
            Pk::Ok("capacitor://localhost:443"),
        ),
        ("http://[0:0:0:0:0:0:0:1]:8080", Pk::Ok("http://[::1]:8080")),
        ("http://[::FFFF:1.2.3.4]", Pk::Ok("http://[::ffff:102:304]")),
        (
            "https://[2001:DB8:0:0:1:0:0:1]:443",
            Pk::Ok("https://[2001:db8::1:0:0:1]"),
        ),
        ("http://127.0.0.1:8080", Pk::Ok("http://127.0.0.1:8080")),
        (
            "https://xn--bcher-kva.example",
            Pk::Ok("https://xn--bcher-kva.example"),
        ),
        // --- refused ---
        ("", Pk::Empty),
        ("*", Pk::BareWildcard),
        ("Null", Pk::NullNotLowercase),
        ("NULL", Pk::NullNotLowercase),
        (" null", Pk::Invalid(E::Whitespace { at: 0 })),
        ("https://a.com/", Pk::TrailingSlash),
        ("https://a.com:8443/", Pk::TrailingSlash),
        ("https://*.example.com/", Pk::TrailingSlash),
        ("https://a.com/app", Pk::Invalid(E::Path)),
        ("https://a.com//", Pk::Invalid(E::Path)),
        ("https://a.com/*", Pk::Invalid(E::Path)),
        ("https://*", Pk::WildcardWithoutSuffix),
        ("https://*:8443", Pk::WildcardWithoutSuffix),
        ("https://*.", Pk::WildcardWithoutSuffix),
        ("https://*.com", Pk::WildcardSuffixTooShort),
        ("https://*.localhost", Pk::WildcardSuffixTooShort),
        ("https://*.com:8443", Pk::WildcardSuffixTooShort),
        ("https://a.*.example.com", Pk::WildcardNotLeftmost),
        ("https://*.*.example.com", Pk::WildcardNotLeftmost),
        ("https://example.*", Pk::WildcardNotLeftmost),
        ("https://*example.com", Pk::PartialWildcard),
        ("https://a*.example.com", Pk::PartialWildcard),
        ("https://*a.example.com", Pk::PartialWildcard),
        ("https://**.example.com", Pk::PartialWildcard),
        ("https://*.ex*ample.com", Pk::PartialWildcard),
        ("*://example.com", Pk::WildcardScheme),
        ("http*://example.com", Pk::WildcardScheme),
        ("*", Pk::BareWildcard),
        ("https://a.com:*", Pk::WildcardPort),
        ("https://*.example.com:*", Pk::WildcardPort),
        ("chrome-extension://*.abc.def", Pk::WildcardNonHttpScheme),
        ("wss://*.example.com", Pk::WildcardNonHttpScheme),
        ("https://*.1.2.3", Pk::WildcardOnIpAddress),
        ("https://*.0.0.1", Pk::WildcardOnIpAddress),
        ("https://*.1.2.3.4", Pk::WildcardOnIpAddress),
        ("https://*.example.123", Pk::WildcardOnIpAddress),
        ("https://*.example.0x1", Pk::WildcardOnIpAddress),
        ("https://app.example.com@evil.net", Pk::Invalid(E::Userinfo)),
        ("https://*.example.com@evil.net", Pk::Invalid(E::Userinfo)),
        ("https://user@*.example.com", Pk::Invalid(E::Userinfo)),
        (" https://a.com", Pk::Invalid(E::Whitespace { at: 0 })),
        ("https://a.com ", Pk::Invalid(E::Whitespace { at: 13 })),
        ("https://a.com\t", Pk::Invalid(E::Whitespace { at: 13 })),
        (
            "https://*. example.com",
            Pk::Invalid(E::Whitespace { at: 10 }),
        ),
        ("https://a.com.", Pk::Invalid(E::TrailingDot)),
        ("https://*.example.com.", Pk::Invalid(E::TrailingDot)),
        ("https://a..com", Pk::Invalid(E::EmptyLabel)),
        ("https://*..example.com", Pk::Invalid(E::EmptyLabel)),
        ("https://a.com,https://b.com", Pk::Invalid(E::Comma)),
        ("app.example.com", Pk::Invalid(E::MissingScheme)),
        ("*.example.com", Pk::Invalid(E::MissingScheme)),
        ("*.example.com:443", Pk::Invalid(E::MissingScheme)),
        ("https://a.com:0", Pk::Invalid(E::PortOutOfRange)),
        (
            "https://*.example.com:0443",
            Pk::Invalid(E::PortLeadingZero),
        ),
        ("https://127.1", Pk::Invalid(E::InvalidIpv4)),
        ("https://bücher.example", Pk::Invalid(E::NonAscii { at: 9 })),
        ("https://a.com?x", Pk::Invalid(E::Query)),
        ("https://*.example.com#", Pk::Invalid(E::Fragment)),
        ("http://[::1", Pk::Invalid(E::InvalidIpv6)),
        ("http://[fe80::1%eth0]", Pk::Invalid(E::PercentSign)),
        ("https://a%2Ecom", Pk::Invalid(E::PercentSign)),
        (
            "https://a!.com",
            Pk::Invalid(E::InvalidHostCharacter { ch: '!' }),
        ),
        ("1https://a.com", Pk::Invalid(E::InvalidScheme)),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn pattern_parse_table() {
        for &(entry, expected) in PATTERN_CASES {
            let result = entry.parse::<OriginPattern>();
            let shown = result.as_ref().map(ToString::to_string).unwrap_or_default();
            assert_eq!(pk(&result, &shown), expected, "entry {entry:?}");
            match &result {
                Ok(pattern) => {
                    let again = pattern.to_string().parse::<OriginPattern>();
                    assert_eq!(again.as_ref(), Ok(pattern), "re-parse of {entry:?}");
                }
                Err(OriginPatternError::Empty) => assert_eq!(entry, ""),
                Err(err) => assert_eq!(err.entry(), entry, "entry in error for {entry:?}"),
            }
        }
    }

    /// Variant shapes that the table above cannot see through `Display`.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn pattern_variants() {
        let cases: &[(&str, OriginPattern)] = &[
            ("null", OriginPattern::Null),
            (
                "HTTPS://*.Example.COM:8443",
                OriginPattern::Wildcard {
                    scheme: HttpScheme::Https,
                    suffix: DomainSuffix("example.com".to_owned()),
                    port: Some(8443),
                },
            ),
            (
                "http://*.example.com:80",
                OriginPattern::Wildcard {
                    scheme: HttpScheme::Http,
                    suffix: DomainSuffix("example.com".to_owned()),
                    port: None,
                },
            ),
            (
                "HTTP://[::1]:80",
                OriginPattern::Exact(Origin {
                    scheme: "http".to_owned(),
                    host: "[::1]".to_owned(),
                    port: None,
                }),
            ),
        ];
        for (entry, expected) in cases {
            assert_eq!(
                entry.parse::<OriginPattern>().as_ref(),
                Ok(expected),
                "{entry}"
            );
        }
    }

    const MESSAGE_CASES: &[(&str, &str)] = &[
        (
            "https://a.example.com/",
            "`https://a.example.com/` ends with `/`; remove the trailing `/` (an origin has no path)",
        ),
        (
            "https://app.example.com@evil.net",
            "`https://app.example.com@evil.net`: the origin contains userinfo (`@`); an origin is only `scheme://host[:port]`",
        ),
        (
            "https://*.com",
            "`https://*.com`: a wildcard needs at least two labels after `*.` (`https://*.example.com`, not `https://*.com`)",
        ),
        (
            "*",
            "`*` (any origin) is not allowed in an origin list; list the origins, or use a subdomain wildcard like `https://*.example.com`",
        ),
        ("", "an origin list entry is empty"),
        ("NULL", "`NULL`: write the opaque origin as lower-case `null`"),
        (
            "https://a .com",
            "`https://a .com`: the origin contains whitespace at byte 9",
        ),
        (
            "https://a.com:0443",
            "`https://a.com:0443`: the origin port has a leading zero",
        ),
        (
            "https://a.example.com.",
            "`https://a.example.com.`: the origin host ends with `.`; browsers treat that as a different origin from the host without the dot",
        ),
        (
            "https://a.*.example.com",
            "`https://a.*.example.com`: `*` may only be the leftmost label, as in `https://*.example.com`",
        ),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn error_message_table() {
        for &(entry, message) in MESSAGE_CASES {
            let err = entry.parse::<OriginPattern>().unwrap_err();
            assert_eq!(err.to_string(), message, "entry {entry:?}");
        }
        assert_eq!(
            parse_request_origin("a, b").unwrap_err().to_string(),
            "the origin contains `,`; more than one `Origin` header was probably combined"
        );
    }

    const MAIN_LIST: &[&str] = &[
        "https://app.example.com",
        "https://*.example.com",
        "http://localhost:3000",
        "https://*.corp.example.net:8443",
        "chrome-extension://abcdefghijklmnop",
        "http://[::1]:8080",
        "https://xn--bcher-kva.example",
        "http://127.0.0.1:8080",
        "https://example.org",
    ];

    const NULL_LIST: &[&str] = &["null", "https://a.example.com"];

    const DEFAULT_PORT_LIST: &[&str] = &[
        "https://*.example.com:443",
        "http://*.example.org:8080",
        "HTTPS://EXACT.EXAMPLE.NET:443",
    ];

    const EMPTY_LIST: &[&str] = &[];

    /// (list, header, matches). A header that does not parse must not match.
    const MATCH_CASES: &[(&[&str], &str, bool)] = &[
        (MAIN_LIST, "https://app.example.com", true),
        (MAIN_LIST, "HTTPS://APP.EXAMPLE.COM", true),
        (MAIN_LIST, "https://app.example.com:443", true),
        (MAIN_LIST, " https://app.example.com\t", true),
        (MAIN_LIST, "https://app.example.com:8443", false),
        (MAIN_LIST, "http://app.example.com", false),
        (MAIN_LIST, "http://app.example.com:443", false),
        (MAIN_LIST, "https://app.example.com/", false),
        (MAIN_LIST, "https://app.example.com.", false),
        (MAIN_LIST, "https://app.example.com@evil.net", false),
        (MAIN_LIST, "https://evil.net@app.example.com", false),
        (
            MAIN_LIST,
            "https://app.example.com, https://evil.net",
            false,
        ),
        (
            MAIN_LIST,
            "https://evil.net, https://app.example.com",
            false,
        ),
        (MAIN_LIST, "https://a.example.com", true),
        (MAIN_LIST, "https://A.Example.Com", true),
        (MAIN_LIST, "https://a.b.example.com", true),
        (MAIN_LIST, "https://a_b.example.com", true),
        (MAIN_LIST, "https://xn--bcher-kva.example.com", true),
        (MAIN_LIST, "https://a.example.com:443", true),
        (MAIN_LIST, "https://a.example.com:8443", false),
        (MAIN_LIST, "http://a.example.com", false),
        (MAIN_LIST, "https://example.com", false),
        (MAIN_LIST, "https://example.com.evil.net", false),
        (MAIN_LIST, "https://a.example.com.evil.net", false),
        (MAIN_LIST, "https://evilexample.com", false),
        (MAIN_LIST, "https://aexample.com", false),
        (MAIN_LIST, "https://a-example.com", false),
        (MAIN_LIST, "https://a_example.com", false),
        (MAIN_LIST, "https://x.example.comm", false),
        (MAIN_LIST, "https://x.example.co", false),
        (MAIN_LIST, "https://x.example.com.au", false),
        (MAIN_LIST, "https://x.example.com.", false),
        (MAIN_LIST, "https://.example.com", false),
        (MAIN_LIST, "https://..example.com", false),
        (MAIN_LIST, "https://*.example.com", false),
        (MAIN_LIST, "https://evil.net/.example.com", false),
        (MAIN_LIST, "https://evil.net?.example.com", false),
        (MAIN_LIST, "https://evil.net#.example.com", false),
        (MAIN_LIST, "https://evil.net\\.example.com", false),
        (MAIN_LIST, "https://evil.net%2eexample.com", false),
        (MAIN_LIST, "https://a.example\u{3002}com", false),
        (MAIN_LIST, "https://a.exampl\u{212a}.com", false),
        (MAIN_LIST, "null", false),
        (MAIN_LIST, "http://localhost:3000", true),
        (MAIN_LIST, "http://LOCALHOST:3000", true),
        (MAIN_LIST, "http://localhost", false),
        (MAIN_LIST, "http://localhost:80", false),
        (MAIN_LIST, "http://localhost:3001", false),
        (MAIN_LIST, "http://localhost:03000", false),
        (MAIN_LIST, "https://localhost:3000", false),
        (MAIN_LIST, "http://localhost.:3000", false),
        (MAIN_LIST, "http://x.localhost:3000", false),
        (MAIN_LIST, "https://x.corp.example.net:8443", true),
        (MAIN_LIST, "https://x.y.corp.example.net:8443", true),
        (MAIN_LIST, "https://x.corp.example.net", false),
        (MAIN_LIST, "https://x.corp.example.net:443", false),
        (MAIN_LIST, "https://corp.example.net:8443", false),
        (MAIN_LIST, "https://xcorp.example.net:8443", false),
        (MAIN_LIST, "https://example.net:8443", false),
        (MAIN_LIST, "chrome-extension://abcdefghijklmnop", true),
        (MAIN_LIST, "Chrome-Extension://ABCDEFGHIJKLMNOP", true),
        (MAIN_LIST, "chrome-extension://abcdefghijklmnoq", false),
        (MAIN_LIST, "chrome-extension://abcdefghijklmnop:443", false),
        (MAIN_LIST, "moz-extension://abcdefghijklmnop", false),
        (MAIN_LIST, "https://abcdefghijklmnop", false),
        (MAIN_LIST, "http://[::1]:8080", true),
        (MAIN_LIST, "http://[::1]", false),
        (MAIN_LIST, "https://[::1]:8080", false),
        (MAIN_LIST, "http://[::2]:8080", false),
        (MAIN_LIST, "http://[0:0:0:0:0:0:0:1]:8080", false),
        (MAIN_LIST, "http://[::0.0.0.1]:8080", false),
        (MAIN_LIST, "http://[::1%25lo]:8080", false),
        (MAIN_LIST, "https://xn--bcher-kva.example", true),
        (MAIN_LIST, "https://XN--BCHER-KVA.EXAMPLE", true),
        (MAIN_LIST, "https://bücher.example", false),
        (MAIN_LIST, "https://xn--bcher-kvb.example", false),
        (MAIN_LIST, "http://127.0.0.1:8080", true),
        (MAIN_LIST, "http://127.1:8080", false),
        (MAIN_LIST, "http://127.0.0.01:8080", false),
        (MAIN_LIST, "http://0x7f.0.0.1:8080", false),
        (MAIN_LIST, "http://2130706433:8080", false),
        (MAIN_LIST, "http://127.0.0.1", false),
        (MAIN_LIST, "https://example.org", true),
        (MAIN_LIST, "https://www.example.org", false),
        (MAIN_LIST, "https://example.org.", false),
        (MAIN_LIST, "https://example.org:443", true),
        (MAIN_LIST, "https://example.or", false),
        (MAIN_LIST, "https://example.orgg", false),
        (MAIN_LIST, "https://xexample.org", false),
        (NULL_LIST, "null", true),
        (NULL_LIST, " null ", true),
        (NULL_LIST, "Null", false),
        (NULL_LIST, "NULL", false),
        (NULL_LIST, "null, null", false),
        (NULL_LIST, "https://a.example.com", true),
        (NULL_LIST, "https://b.example.com", false),
        (NULL_LIST, "https://null", false),
        (DEFAULT_PORT_LIST, "https://x.example.com", true),
        (DEFAULT_PORT_LIST, "https://x.example.com:443", true),
        (DEFAULT_PORT_LIST, "https://x.example.com:8443", false),
        (DEFAULT_PORT_LIST, "http://x.example.org:8080", true),
        (DEFAULT_PORT_LIST, "http://x.example.org", false),
        (DEFAULT_PORT_LIST, "http://x.example.org:80", false),
        (DEFAULT_PORT_LIST, "https://x.example.org:8080", false),
        (DEFAULT_PORT_LIST, "https://exact.example.net", true),
        (DEFAULT_PORT_LIST, "https://exact.example.net:443", true),
        (DEFAULT_PORT_LIST, "http://exact.example.net:443", false),
        (DEFAULT_PORT_LIST, "https://x.exact.example.net", false),
        (EMPTY_LIST, "https://a.example.com", false),
        (EMPTY_LIST, "null", false),
    ];

    fn list(entries: &[&str]) -> OriginList {
        OriginList::parse(entries).unwrap()
    }

    fn header_matches(list: &OriginList, header: &str) -> bool {
        parse_request_origin(header).is_ok_and(|origin| list.matches(&origin))
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn match_table() {
        for &(entries, header, expected) in MATCH_CASES {
            let compiled = list(entries);
            assert_eq!(
                header_matches(&compiled, header),
                expected,
                "header {header:?} against {entries:?}"
            );
        }
    }

    /// (entries, len, has_wildcard, contains_null, normalised patterns in iteration order)
    type ListShape = (
        &'static [&'static str],
        usize,
        bool,
        bool,
        &'static [&'static str],
    );

    const LIST_SHAPE_CASES: &[ListShape] = &[
        (&[], 0, false, false, &[]),
        (&["null", "null"], 1, false, true, &["null"]),
        (
            &["https://a.com", "HTTPS://A.COM:443", "https://a.com:8443"],
            2,
            false,
            false,
            &["https://a.com", "https://a.com:8443"],
        ),
        (
            &[
                "https://*.example.com",
                "https://*.EXAMPLE.com:443",
                "null",
                "http://*.example.com",
            ],
            3,
            true,
            true,
            &["null", "http://*.example.com", "https://*.example.com"],
        ),
        (
            &["http://[0:0::1]", "http://[::1]:80", "http://[::1]"],
            1,
            false,
            false,
            &["http://[::1]"],
        ),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn list_shape_table() {
        for &(entries, len, wildcard, null, normalised) in LIST_SHAPE_CASES {
            let compiled = list(entries);
            assert_eq!(compiled.len(), len, "{entries:?}");
            assert_eq!(compiled.is_empty(), len == 0, "{entries:?}");
            assert_eq!(compiled.has_wildcard(), wildcard, "{entries:?}");
            assert_eq!(compiled.contains_null(), null, "{entries:?}");
            let got: Vec<String> = compiled.patterns().map(|p| p.to_string()).collect();
            assert_eq!(got, normalised, "{entries:?}");
            let rebuilt: OriginList = compiled.patterns().collect();
            assert_eq!(rebuilt, compiled, "{entries:?}");
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn list_parse_reports_first_bad_entry() {
        let err = OriginList::parse(["https://a.com", "https://b.com/", "*"]).unwrap_err();
        assert_eq!(
            err,
            OriginPatternError::TrailingSlash {
                entry: "https://b.com/".to_owned()
            }
        );
    }

    /// Fifty exact entries: each matches, each near miss does not (exercises the binary search
    /// across hosts of equal length that differ only late).
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn fifty_entry_list() {
        let entries: Vec<String> = (0..50)
            .map(|i| match i % 3 {
                0 => format!("https://app{i:02}.example.com"),
                1 => format!("http://app{i:02}.example.com:{}", 8000 + i),
                _ => format!("https://*.tenant{i:02}.example.com"),
            })
            .collect();
        let compiled = OriginList::parse(&entries).unwrap();
        assert_eq!(compiled.len(), 50);
        for i in 0..50 {
            let (hit, misses) = match i % 3 {
                0 => (
                    format!("HTTPS://APP{i:02}.example.com"),
                    vec![
                        format!("http://app{i:02}.example.com"),
                        format!("https://app{i:02}.example.com:8443"),
                        format!("https://xapp{i:02}.example.com"),
                        format!("https://app{i:02}.example.co"),
                    ],
                ),
                1 => (
                    format!("http://app{i:02}.example.com:{}", 8000 + i),
                    vec![
                        format!("http://app{i:02}.example.com"),
                        format!("http://app{i:02}.example.com:{}", 8001 + i),
                        format!("https://app{i:02}.example.com:{}", 8000 + i),
                    ],
                ),
                _ => (
                    format!("https://x.tenant{i:02}.example.com"),
                    vec![
                        format!("https://tenant{i:02}.example.com"),
                        format!("https://xtenant{i:02}.example.com"),
                        format!("https://x.tenant{i:02}.example.com.evil.net"),
                    ],
                ),
            };
            assert!(header_matches(&compiled, &hit), "{hit}");
            for miss in misses {
                assert!(!header_matches(&compiled, &miss), "{miss}");
            }
        }
    }

    /// Matching relies on the request parser for non-empty labels and bounded hosts; it must
    /// still refuse an empty prefix, a missing dot, short hosts and over-long hosts on its own.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn matcher_boundaries_without_parser_table() {
        let compiled = list(&["https://*.example.com", "https://exact.example.org"]);
        let long = format!("{}.example.com", "a".repeat(300));
        let cases: &[(&str, &str, Option<u16>, bool)] = &[
            ("https", "a.example.com", None, true),
            ("HTTPS", "A.EXAMPLE.COM", None, true),
            ("https", "Exact.Example.Org", None, true),
            ("https", ".example.com", None, false),
            ("https", "example.com", None, false),
            ("https", "xexample.com", None, false),
            ("https", "com", None, false),
            ("https", "", None, false),
            ("https", "a.example.com", Some(443), false),
            ("http", "a.example.com", None, false),
            ("httpsx", "a.example.com", None, false),
            ("https", &long, None, false),
        ];
        for &(scheme, host, port, expected) in cases {
            let origin = OriginRef { scheme, host, port };
            assert_eq!(
                compiled.matches_origin(&origin),
                expected,
                "{scheme} {host} {port:?}"
            );
        }
    }

    /// The byte-class table against its plain definition, for all 256 bytes.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn byte_class_table() {
        for b in 0..=255u8 {
            let origin = (0x21..=0x7e).contains(&b) && !b",%\\".contains(&b);
            let label = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            assert_eq!(has_class(b, ORIGIN_BYTE), origin, "origin byte {b:#04x}");
            assert_eq!(has_class(b, LABEL_BYTE), label, "label byte {b:#04x}");
        }
    }

    /// (address as parsed by std, browser serialisation)
    const IPV6_TEXT_CASES: &[(&str, &str)] = &[
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
        ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
        (
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ),
        ("::ffff:1.2.3.4", "::ffff:102:304"),
        ("::1.2.3.4", "::102:304"),
        ("2001:DB8:00A0::0001", "2001:db8:a0::1"),
        ("fe80::1:0:0:0", "fe80::1:0:0:0"),
        ("0:0:1:0:0:0:0:1", "0:0:1::1"),
        ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn ipv6_serialisation_table() {
        for &(input, expected) in IPV6_TEXT_CASES {
            let addr: Ipv6Addr = input.parse().unwrap();
            assert_eq!(Ipv6Text::new(addr).as_str(), expected, "{input}");
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    const LABELS: &[&str] = &[
        "a",
        "b",
        "A",
        "example",
        "EXAMPLE",
        "evil",
        "evilexample",
        "com",
        "Com",
        "net",
        "co",
        "uk",
        "xn--bcher-kva",
        "a-b",
        "a_b",
    ];
    const SCHEMES: &[&str] = &["http", "https", "HTTP", "Https", "chrome-extension"];
    const HTTP_SCHEMES: &[&str] = &["http", "https", "HTTPS", "hTTp"];
    const PORTS: &[Option<u16>] = &[None, Some(80), Some(443), Some(8080)];

    fn host(min: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(LABELS), min..=4).prop_map(|l| l.join("."))
    }

    fn with_port(port: Option<u16>) -> String {
        port.map_or(String::new(), |p| format!(":{p}"))
    }

    /// A valid header string.
    fn origin_text() -> impl Strategy<Value = String> {
        (
            prop::sample::select(SCHEMES),
            host(1),
            prop::sample::select(PORTS),
        )
            .prop_map(|(scheme, host, port)| format!("{scheme}://{host}{}", with_port(port)))
    }

    /// A valid list entry string.
    fn pattern_text() -> impl Strategy<Value = String> {
        prop_oneof![
            1 => Just("null".to_owned()),
            4 => origin_text(),
            4 => (
                prop::sample::select(HTTP_SCHEMES),
                host(2),
                prop::sample::select(PORTS),
            )
                .prop_map(|(scheme, suffix, port)| format!("{scheme}://*.{suffix}{}", with_port(port))),
        ]
    }

    /// Reference normal form: (scheme, host, port) in lower case with the default port removed.
    fn reference_parts(text: &str) -> (String, String, Option<String>) {
        let lower = text.to_ascii_lowercase();
        // Generated texts always contain `://`; the fallback only keeps clippy's no-unwrap rule.
        let (scheme, rest) = lower.split_once("://").unwrap_or(("", lower.as_str()));
        let (host, port) = match rest.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p.to_owned())),
            None => (rest.to_owned(), None),
        };
        let port = match (scheme, port.as_deref()) {
            ("http", Some("80")) | ("https", Some("443")) => None,
            _ => port,
        };
        (scheme.to_owned(), host, port)
    }

    fn reference_matches(patterns: &[String], header: &str) -> bool {
        if header == "null" {
            return patterns.iter().any(|p| p == "null");
        }
        let (scheme, host, port) = reference_parts(header);
        patterns.iter().filter(|p| *p != "null").any(|p| {
            let (p_scheme, p_host, p_port) = reference_parts(p);
            if p_scheme != scheme || p_port != port {
                return false;
            }
            match p_host.strip_prefix("*.") {
                Some(suffix) => host.ends_with(&format!(".{suffix}")),
                None => p_host == host,
            }
        })
    }

    fn request_text() -> impl Strategy<Value = String> {
        prop_oneof![1 => Just("null".to_owned()), 12 => origin_text()]
    }

    /// A header derived from one of the patterns so that hits and near misses are frequent:
    /// the entry itself in another case or with its default port spelled out, a subdomain of a
    /// wildcard suffix, the bare suffix, the suffix glued to a label without a dot, the suffix
    /// followed by another domain, or the other scheme/port.
    fn list_and_derived_header() -> impl Strategy<Value = (Vec<String>, String)> {
        prop::collection::vec(pattern_text(), 1..12).prop_flat_map(|patterns| {
            let n = patterns.len();
            (
                Just(patterns),
                0..n,
                0..8u8,
                prop::sample::select(LABELS),
                prop::sample::select(PORTS),
            )
                .prop_map(|(patterns, pick, how, label, port)| {
                    let entry = patterns.get(pick).cloned().unwrap_or_default();
                    let header = derive_header(&entry, how, label, port);
                    (patterns, header)
                })
        })
    }

    fn derive_header(entry: &str, how: u8, label: &str, port: Option<u16>) -> String {
        if entry == "null" {
            return if how < 4 {
                "null".to_owned()
            } else {
                format!("https://{label}")
            };
        }
        let (scheme, rest) = entry.split_once("://").unwrap_or(("https", entry));
        let (host, explicit) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        let port_text = explicit.map_or(String::new(), |p| format!(":{p}"));
        let other_scheme = if scheme.eq_ignore_ascii_case("https") {
            "http"
        } else {
            "https"
        };
        let host = host
            .strip_prefix("*.")
            .map_or(host.to_owned(), |suffix| match how {
                0..=3 => format!("{label}.{suffix}"),
                4 => suffix.to_owned(),
                5 => format!("{label}{suffix}"),
                _ => format!("{label}.{suffix}.{label}"),
            });
        match how {
            0 | 4 | 5 => format!("{scheme}://{host}{port_text}"),
            1 => format!(
                "{}://{}{port_text}",
                scheme.to_ascii_uppercase(),
                host.to_ascii_uppercase()
            ),
            2 => format!("{other_scheme}://{host}{port_text}"),
            3 => format!("{scheme}://{host}{}", with_port(port)),
            _ => format!("{scheme}://{host}{port_text}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn matcher_agrees_with_reference(
            patterns in prop::collection::vec(pattern_text(), 0..12),
            header in request_text(),
        ) {
            let compiled = OriginList::parse(&patterns).unwrap();
            let parsed = parse_request_origin(&header).unwrap();
            prop_assert_eq!(
                compiled.matches(&parsed),
                reference_matches(&patterns, &header),
                "header {} patterns {:?}", header, patterns
            );
        }

        #[test]
        fn matcher_agrees_with_reference_on_derived_headers(
            (patterns, header) in list_and_derived_header(),
        ) {
            let compiled = OriginList::parse(&patterns).unwrap();
            let parsed = parse_request_origin(&header).unwrap();
            prop_assert_eq!(
                compiled.matches(&parsed),
                reference_matches(&patterns, &header),
                "header {} patterns {:?}", header, patterns
            );
        }

        #[test]
        fn matching_ignores_case(
            patterns in prop::collection::vec(pattern_text(), 0..12),
            header in origin_text(),
        ) {
            let compiled = OriginList::parse(&patterns).unwrap();
            let lower = parse_request_origin(&header).unwrap();
            let upper_text = header.to_ascii_uppercase();
            let upper = parse_request_origin(&upper_text).unwrap();
            prop_assert_eq!(compiled.matches(&lower), compiled.matches(&upper));
        }

        #[test]
        fn request_and_config_normal_forms_agree(header in request_text()) {
            let parsed = parse_request_origin(&header).unwrap();
            let pattern: OriginPattern = header.parse().unwrap();
            let expected = match parsed.to_origin() {
                Some(origin) => OriginPattern::Exact(origin),
                None => OriginPattern::Null,
            };
            prop_assert_eq!(&pattern, &expected);
            prop_assert_eq!(parsed.to_string(), pattern.to_string());
            let reparsed = parse_request_origin(&header).map(|o| o.to_string());
            prop_assert_eq!(reparsed, Ok(parsed.to_string()));
        }

        #[test]
        fn parsing_never_panics_on_arbitrary_strings(s in any::<String>()) {
            let _ = parse_request_origin(&s);
            let _ = s.parse::<OriginPattern>();
        }

        #[test]
        fn parsing_never_panics_on_origin_like_strings(
            s in "[a-zA-Z0-9:/.@%*_\\-\\[\\], \t#?\\\\]{0,40}",
            prefix in prop::sample::select(&["", "http://", "https://", "HTTPS://*.", "http://[", "x-y://"][..]),
        ) {
            let s = format!("{prefix}{s}");
            let _ = parse_request_origin(&s);
            if let Ok(pattern) = s.parse::<OriginPattern>() {
                let shown = pattern.to_string();
                prop_assert_eq!(shown.parse::<OriginPattern>(), Ok(pattern.clone()));
                prop_assert_eq!(shown.parse::<OriginPattern>().map(|p| p.to_string()), Ok(shown.clone()));
            }
            if let Ok(origin) = parse_request_origin(&s) {
                let shown = origin.to_string();
                prop_assert_eq!(parse_request_origin(&shown), Ok(origin));
            }
        }

        #[test]
        fn display_reparses_to_same_pattern(entry in pattern_text()) {
            let pattern: OriginPattern = entry.parse().unwrap();
            let shown = pattern.to_string();
            prop_assert_eq!(shown.parse::<OriginPattern>(), Ok(pattern));
            prop_assert_eq!(&shown, &shown.to_ascii_lowercase());
        }

        #[test]
        fn ipv6_serialisation_is_canonical(segments in prop::array::uniform8(prop_oneof![Just(0u16), Just(1u16), any::<u16>()])) {
            let addr = Ipv6Addr::from(segments);
            let text = Ipv6Text::new(addr);
            let back: Ipv6Addr = text.as_str().parse().unwrap();
            prop_assert_eq!(back, addr);
            let header = format!("http://[{}]", text.as_str());
            prop_assert!(parse_request_origin(&header).is_ok(), "{}", header);
            // Every other spelling std accepts for the same address is refused in a request,
            // unless it happens to be the same text.
            let std_text = addr.to_string();
            let std_header = format!("http://[{std_text}]");
            prop_assert_eq!(parse_request_origin(&std_header).is_ok(), std_text == text.as_str());
        }
    }
}
