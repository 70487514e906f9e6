//! The policy layer: the rules file is parsed, validated and compiled once into an immutable [`Policy`].
//!
//! Everything an operator can get wrong is caught here, at build time, with the file, rule id and field named;
//! a compiled `Policy` holds only values that cannot be bad (truncated CIDRs, normalised origins, validated codes).
//! This layer must never depend on the engine or the edge adapter: `build.rs` compiles it on its own to validate
//! and precompile the bundled policy.

pub mod error;
pub mod file;
pub mod ip;
pub mod origin;
pub mod scope;

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::token::jwk::{self, JwksMode, VerifyKey};
use crate::token::jwt::{self, ClaimPredicate, ClaimRules, TokenSource};
use crate::token::Algorithm;
pub use error::{CompileError, Diagnostic, Segment, Severity};
pub use file::ClientIpLogging;
use file::{
    ActionSpec, ClaimSpec, ConditionSpec, CorsSpec, DefaultActionSpec, IssuerSpec, LimitKeySpec,
    LimitSpec, PolicyFile, RuleSpec, TokenSourceSpec,
};
use ip::{IpSet, IpSetBuilder};
use origin::{OriginList, OriginPattern};
use scope::{HostPattern, MethodSet, PathOptions, PathPattern};

/// A path pattern without one trailing slash: a trailing slash is not significant for matching (the engine
/// drops it from request paths too), so `/login` and `/login/` are one pattern.
pub(crate) fn without_trailing_slash(pattern: &str) -> &str {
    match pattern.strip_suffix('/') {
        Some(rest) if !rest.is_empty() => rest,
        _ => pattern,
    }
}

/// Whether a JWKS may be fetched from `url`: https, or plain http to a loopback address only. The compiler holds
/// `jwks_url` to it and the Worker holds the value of a `jwks_url_var` var to it before any fetch.
pub fn jwks_url_allowed(url: &str) -> bool {
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| {
            url.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        });
    url.starts_with("https://") || loopback
}

/// Reads a claim path written as one string: dots separate nested names (`realm_access.roles`), and a name in
/// brackets is taken whole, dots and all (`[https://corp.example/roles]`, `[https://corp.example/app].roles`), so
/// `forward_claims` keys and claim tests can name namespaced claims alike. A name may not be empty, and `[`/`]`
/// only bracket a whole name.
pub(crate) fn parse_claim_path(path: &str) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut rest = path;
    loop {
        let (name, bracketed, next) = match rest.strip_prefix('[') {
            Some(inner) => {
                let (name, after) = inner
                    .split_once(']')
                    .ok_or_else(|| format!("claim path `{path}` has a `[` without its `]`"))?;
                let next = match after.strip_prefix('.') {
                    Some(next) => Some(next),
                    None if after.is_empty() => None,
                    None => {
                        return Err(format!(
                            "claim path `{path}`: a name in brackets must be followed by `.` or the end"
                        ))
                    }
                };
                (name, true, next)
            }
            None => match rest.split_once('.') {
                Some((name, next)) => (name, false, Some(next)),
                None => (rest, false, None),
            },
        };
        if name.is_empty() {
            return Err(format!(
                "claim path `{path}` has an empty name; write a name that holds dots in brackets: `[{path}]`"
            ));
        }
        // A bracketed name ends at its first `]`, so only a `[` can be stray in it.
        let stray = if bracketed {
            name.contains('[')
        } else {
            name.contains(['[', ']'])
        };
        if stray {
            return Err(format!(
                "claim path `{path}`: `[` and `]` may only bracket a whole name"
            ));
        }
        parts.push(name.to_owned());
        match next {
            Some(next) => rest = next,
            None => return Ok(parts),
        }
    }
}

/// Deepest nesting of `all` / `any` / `not` a policy may use.
pub const MAX_CONDITION_DEPTH: usize = 16;
/// Most rules a policy may hold.
pub const MAX_RULES: usize = 1_000;
/// Longest public message, in bytes.
pub const MAX_MESSAGE_LEN: usize = 256;
/// Most entries one origin, country, ASN or pattern list may hold (IP lists are not capped).
pub const MAX_SMALL_LIST: usize = 10_000;

/// The public message of a denial when the rule sets none.
pub const DEFAULT_MESSAGE: &str = "You do not have permission to access this resource";

/// A compiled, immutable policy. Build it with [`Policy::compile`] (from a file's text) or
/// [`Policy::from_bundle`] (from what `build.rs` precompiled).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    pub(crate) source_name: String,
    pub(crate) fingerprint: String,
    pub(crate) report_only: bool,
    pub(crate) client_ip: ClientIpSource,
    pub(crate) path_options: PathOptions,
    pub(crate) expose_rule_id: bool,
    pub(crate) ip_lists: Vec<NamedIpList>,
    pub(crate) origin_lists: Vec<(String, OriginList)>,
    pub(crate) country_lists: Vec<(String, CountrySet)>,
    pub(crate) asn_lists: Vec<(String, AsnSet)>,
    pub(crate) issuers: Vec<Issuer>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) default: DefaultDecision,
    pub(crate) header_names: Vec<String>,
    pub(crate) strip_headers: Vec<String>,
    pub(crate) realm: Option<String>,
    pub(crate) cors: Option<Cors>,
    pub(crate) logging: Logging,
    pub(crate) upstream: UpstreamSettings,
}

/// Compiled CORS settings.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Cors {
    pub origins: Vec<ListId>,
    pub methods: MethodSet,
    /// `Access-Control-Allow-Methods` as sent.
    pub methods_header: String,
    /// Lower-case allowed request headers.
    pub headers: Vec<String>,
    /// `Access-Control-Allow-Headers` as sent (empty: not sent).
    pub headers_header: String,
    /// `Access-Control-Expose-Headers` as sent (empty: not sent).
    pub expose_header: String,
    pub credentials: bool,
    pub max_age: u32,
}

/// Compiled logging settings.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Logging {
    pub client_ip: ClientIpLogging,
    /// Share of allowed requests logged, 0.0 to 1.0.
    pub sample_allowed: f64,
}

impl Logging {
    /// Share of plain allows logged when the policy does not say: enough to see what passes, without a log line
    /// (and its cost) per request. Workers' own invocation logs and the origin's access log cover the rest.
    pub const DEFAULT_SAMPLE_ALLOWED: f64 = 0.01;

    /// The client IP as the logs show it: full, truncated to its /24 (IPv4) or /48 (IPv6), or not at all.
    pub fn client_ip(&self, ip: std::net::IpAddr) -> Option<String> {
        match self.client_ip {
            ClientIpLogging::Full => Some(ip.to_string()),
            ClientIpLogging::Omitted => None,
            ClientIpLogging::Truncated => Some(match ip {
                std::net::IpAddr::V4(v4) => {
                    let [a, b, c, _] = v4.octets();
                    format!("{a}.{b}.{c}.0/24")
                }
                std::net::IpAddr::V6(v6) => {
                    let bits = u128::from(v6) & !((1u128 << 80) - 1);
                    format!("{}/48", std::net::Ipv6Addr::from(bits))
                }
            }),
        }
    }

    /// Whether an allowed request is logged, given a uniform random number in `[0, 1)`.
    pub fn log_allowed(&self, random: f64) -> bool {
        random < self.sample_allowed
    }
}

/// Compiled upstream settings.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct UpstreamSettings {
    /// Seconds to wait for the upstream's response headers.
    pub timeout_seconds: u32,
    /// Whether method-override headers change the method rules see.
    pub method_override: bool,
}

/// Headers that ask an origin to treat a request as another method.
pub const METHOD_OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Headers some origins route by instead of the request line (IIS URL Rewrite with Symfony or Zend:
/// CVE-2018-14773; nginx's `auth_request` convention; Traefik; Spring's `ForwardedHeaderFilter`). Removed from
/// every request unless `upstream.forward_path_override_headers`.
pub const PATH_OVERRIDE_HEADERS: [&str; 6] = [
    "x-original-url",
    "x-rewrite-url",
    "x-original-uri",
    "x-forwarded-uri",
    "x-forwarded-path",
    "x-forwarded-prefix",
];

/// The query parameter Laravel, Symfony and Express's `methodOverride('_method')` read as a method override on
/// `POST` (in every spelling PHP reads as this name).
pub const METHOD_OVERRIDE_PARAM: &str = "_method";

/// Default upstream timeout, in seconds.
pub const DEFAULT_UPSTREAM_TIMEOUT_SECONDS: u32 = 30;
/// Default CORS preflight cache time, in seconds.
pub const DEFAULT_CORS_MAX_AGE: u32 = 600;

/// A rate limit of a `limit` rule.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Limit {
    pub binding: String,
    pub key: LimitKey,
    pub period_seconds: u32,
    /// Leading bits of an IPv6 client address that identify a client.
    pub ipv6_prefix: u8,
}

/// Default `limit.ipv6_prefix`.
pub const DEFAULT_LIMIT_IPV6_PREFIX: u8 = 64;

/// What a rate limit counts by.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum LimitKey {
    ClientIp,
    Header(String),
    Claim { issuer: usize, path: Vec<String> },
}

/// A compiled token issuer.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Issuer {
    pub name: String,
    /// `iss`, audiences, leeway, lifetime and required claims.
    pub claim_rules: ClaimRules,
    /// Pinned algorithms: a token with any other `alg` is refused before any cryptography.
    pub algorithms: Vec<Algorithm>,
    pub keys: KeySource,
    /// Where tokens are looked for, in order.
    pub sources: Vec<TokenSource>,
    /// Claims passed to the origin on allowed requests.
    pub forward: Vec<ForwardClaim>,
    pub max_token_bytes: usize,
    /// The pinned header `typ`, in [`crate::token::jwt::canonical_typ`] form: a token with another `typ`, or
    /// none, is refused before any cryptography. `None`: any `typ`.
    pub typ: Option<String>,
}

/// Where an issuer's keys come from.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub enum KeySource {
    /// A JWKS bundled in the policy.
    Bundled(Vec<VerifyKey>),
    /// A JWKS the Worker fetches and caches.
    Remote(RemoteJwks),
    /// HMAC secrets, by Worker secret name, tried in order (rotation).
    HmacSecrets(Vec<String>),
}

/// A remote JWKS and how it is cached.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RemoteJwks {
    pub url: JwksUrl,
    pub cache_seconds: u64,
    pub min_refetch_seconds: u64,
}

/// The URL of a remote JWKS: written in the policy, or read from a Worker var.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum JwksUrl {
    Fixed(String),
    Var(String),
}

/// A claim forwarded to the origin as a header.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ForwardClaim {
    pub path: Vec<String>,
    /// Lower-case header name.
    pub header: String,
}

/// Default clock leeway for token time claims, in seconds.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 60;
/// Largest leeway a policy may set.
pub const MAX_LEEWAY_SECONDS: u64 = 3600;
/// Default largest token, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Largest `max_token_bytes` a policy may set.
pub const MAX_TOKEN_BYTES_LIMIT: usize = 64 * 1024;
/// Default JWKS cache lifetime, in seconds.
pub const DEFAULT_JWKS_CACHE_SECONDS: u64 = 600;
/// Default least time between unknown-`kid` refetches, in seconds.
pub const DEFAULT_JWKS_MIN_REFETCH_SECONDS: u64 = 60;
/// Most claim predicates one token condition may hold.
pub const MAX_CLAIM_PREDICATES: usize = 64;

/// A named IP list and its compiled set.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct NamedIpList {
    pub name: String,
    /// Not part of the compiled form: the range blobs travel on their own (see [`Policy::from_compiled`]).
    #[serde(skip)]
    pub set: IpSet,
}

/// Where the client address comes from.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) enum ClientIpSource {
    /// `CF-Connecting-IP`, set by Cloudflare's edge itself.
    CfConnectingIp,
    /// `X-Forwarded-For` read right to left, past addresses in these IP lists.
    XForwardedFor { trusted: Vec<ListId> },
}

/// Index into one of the policy's list tables.
pub(crate) type ListId = usize;

/// A rule's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Action {
    Allow,
    Deny,
    Require,
    Limit,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
            Action::Require => "require",
            Action::Limit => "limit",
        }
    }
}

/// How a denial is answered.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Denial {
    /// The rule's status; `None` means the default (403, or 401 for token problems).
    pub status: Option<Status>,
    /// The rule's own code; `None` derives one from what failed.
    pub code: Option<ReasonCode>,
    pub message: Cow<'static, str>,
}

/// A compiled rule.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Rule {
    pub id: String,
    pub action: Action,
    pub when: Option<Cond>,
    pub require: Option<Cond>,
    pub denial: Denial,
    /// The code a `deny` rule reports when it sets none, derived from its conditions at compile time.
    /// Not part of the compiled form: [`Rule::derived_code`] recomputes it when a compiled policy is loaded.
    #[serde(skip)]
    pub derived_code: &'static str,
    pub report_only: bool,
    pub limit: Option<Limit>,
}

impl Rule {
    /// The code a rule reports when it sets none: `rate_limited` for a `limit` rule, otherwise named after the
    /// primary leaf of its `when` (see [`Cond::primary_leaf`]), `access_denied` when it has none.
    fn derived_code(action: Action, when: Option<&Cond>) -> &'static str {
        if action == Action::Limit {
            return codes::RATE_LIMITED;
        }
        when.and_then(Cond::primary_leaf)
            .map_or(codes::ACCESS_DENIED, LeafKind::reason)
    }
}

/// The decision when no rule decides.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum DefaultDecision {
    Allow,
    Deny(Denial),
}

/// The kinds of leaf condition, which name the reason of a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeafKind {
    ClientIp,
    Origin,
    Country,
    Asn,
    Host,
    Path,
    Method,
    Token,
}

impl LeafKind {
    /// The reason code of a denial this kind of condition decided.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            LeafKind::ClientIp => codes::IP_DENIED,
            LeafKind::Origin => codes::ORIGIN_DENIED,
            LeafKind::Country => codes::COUNTRY_DENIED,
            LeafKind::Asn => codes::ASN_DENIED,
            LeafKind::Method => codes::METHOD_DENIED,
            LeafKind::Host | LeafKind::Path | LeafKind::Token => codes::ACCESS_DENIED,
        }
    }
}

/// The built-in reason codes. They are part of the public contract: never rename one.
pub mod codes {
    /// A deny rule matched on the client IP, or a require rule's IP condition failed.
    pub const IP_DENIED: &str = "ip_denied";
    /// The same for the `Origin` header.
    pub const ORIGIN_DENIED: &str = "origin_denied";
    /// The same for `request.cf.country`.
    pub const COUNTRY_DENIED: &str = "country_denied";
    /// The same for `request.cf.asn`.
    pub const ASN_DENIED: &str = "asn_denied";
    /// The same for the method.
    pub const METHOD_DENIED: &str = "method_denied";
    /// A rule decided on host or path, or on a mix of conditions.
    pub const ACCESS_DENIED: &str = "access_denied";
    /// No rule decided and the default is to deny.
    pub const NO_RULE_MATCHED: &str = "no_rule_matched";
    /// The request carried no client IP where the policy reads it.
    pub const CLIENT_IP_MISSING: &str = "client_ip_missing";
    /// The client IP header could not be read as one address.
    pub const CLIENT_IP_INVALID: &str = "client_ip_invalid";
    /// The request's `Origin` header is not a valid origin (browsers never send one that is not).
    pub const ORIGIN_INVALID: &str = "origin_invalid";
    /// The request host is not a valid host name or address.
    pub const HOST_INVALID: &str = "host_invalid";
    /// The path cannot be normalised safely (encoded slash or dot segment, bad escape, `;`, ...).
    pub const PATH_INVALID: &str = "path_invalid";
    /// The request was allowed.
    pub const ALLOWED: &str = "allowed";
    /// A valid token's claims do not satisfy the rule.
    pub const CLAIM_MISMATCH: &str = "claim_mismatch";
    /// A method-override header the policy honours does not hold one method.
    pub const METHOD_INVALID: &str = "method_invalid";
    /// Over a `limit` rule's rate limit.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// A CORS preflight for an origin, method or header the policy does not allow.
    pub const CORS_DENIED: &str = "cors_denied";
}

/// A compiled condition.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    ClientIpIn(Vec<ListId>),
    OriginIn(Vec<ListId>),
    HasOrigin(bool),
    CountryIn(Vec<ListId>),
    AsnIn(Vec<ListId>),
    HostIs(Vec<HostPattern>),
    Path(Vec<PathPattern>),
    MethodIs(MethodSet),
    Token(TokenCond),
}

/// A compiled token condition.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct TokenCond {
    pub issuer: usize,
    pub claims: Vec<(Vec<String>, ClaimPredicate)>,
}

impl Cond {
    /// The first leaf in document order whose kind names a denial (IP, origin, geography) or, failing that, the
    /// first leaf at all.
    pub(crate) fn primary_leaf(&self) -> Option<LeafKind> {
        let mut first = None;
        let mut primary = None;
        self.visit_leaves(&mut |k| {
            first.get_or_insert(k);
            if primary.is_none()
                && matches!(
                    k,
                    LeafKind::ClientIp | LeafKind::Origin | LeafKind::Country | LeafKind::Asn
                )
            {
                primary = Some(k);
            }
        });
        primary.or(first)
    }

    fn visit_leaves(&self, f: &mut impl FnMut(LeafKind)) {
        match self {
            Cond::All(cs) | Cond::Any(cs) => cs.iter().for_each(|c| c.visit_leaves(f)),
            Cond::Not(c) => c.visit_leaves(f),
            Cond::ClientIpIn(_) => f(LeafKind::ClientIp),
            Cond::OriginIn(_) | Cond::HasOrigin(_) => f(LeafKind::Origin),
            Cond::CountryIn(_) => f(LeafKind::Country),
            Cond::AsnIn(_) => f(LeafKind::Asn),
            Cond::HostIs(_) => f(LeafKind::Host),
            Cond::Path(_) => f(LeafKind::Path),
            Cond::MethodIs(_) => f(LeafKind::Method),
            Cond::Token(_) => f(LeafKind::Token),
        }
    }
}

/// The HTTP status of a denial: 401, 403, 404 or 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status(u16);

impl Status {
    pub const UNAUTHORIZED: Status = Status(401);
    pub const FORBIDDEN: Status = Status(403);
    pub const NOT_FOUND: Status = Status(404);
    pub const TOO_MANY_REQUESTS: Status = Status(429);

    /// Accepts only the statuses a denial may use.
    pub fn new(code: u16) -> Option<Status> {
        matches!(code, 401 | 403 | 404 | 429).then_some(Status(code))
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

/// A stable, machine-readable reason code: `[a-z][a-z0-9_]*`, at most 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReasonCode(String);

impl ReasonCode {
    /// Validates an operator-chosen code.
    pub fn new(code: &str) -> Option<ReasonCode> {
        let mut bytes = code.bytes();
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
        let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        (first_ok && rest_ok && code.len() <= 64).then(|| ReasonCode(code.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A set of two-character country codes as Cloudflare reports them (`NL`, `US`, `T1` for Tor, `XX` unknown).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct CountrySet(Vec<[u8; 2]>);

impl CountrySet {
    /// True when `code` (compared case-insensitively) is in the set.
    pub fn contains(&self, code: &str) -> bool {
        match code.as_bytes() {
            [a, b] => self
                .0
                .contains(&[a.to_ascii_uppercase(), b.to_ascii_uppercase()]),
            _ => false,
        }
    }
}

/// A sorted set of autonomous system numbers.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct AsnSet(Vec<u32>);

impl AsnSet {
    pub fn contains(&self, asn: u32) -> bool {
        self.0.binary_search(&asn).is_ok()
    }
}

/// A policy and the warnings its compilation produced.
#[derive(Debug)]
pub struct Compiled {
    pub policy: Policy,
    pub warnings: Vec<Diagnostic>,
}

/// One IP list compiled ahead of time by `build.rs`: its name, the v4 and v6 range blobs and their lookup
/// indexes (see [`ip::IpSet`]).
#[derive(Debug, Clone, Copy)]
pub struct PrecompiledIpList {
    pub name: &'static str,
    pub v4: &'static [u8],
    pub v6: &'static [u8],
    pub v4_index: &'static [u8],
    pub v6_index: &'static [u8],
}

/// The first bytes of [`Policy::to_compiled`]'s output. Bump the digit whenever a compiled type changes shape, so a
/// stale compiled policy is refused rather than misread.
const COMPILED_TAG: &[u8; 4] = b"EAC2";

/// Why [`Policy::from_compiled`] refused its input. Never seen with a policy this build compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("the compiled policy was written by another version of edge-access")]
    Version,
    #[error("the compiled policy is corrupt: {0}")]
    Corrupt(String),
    #[error("bundled IP list `{0}` is missing")]
    MissingIpList(String),
    #[error("bundled IP list `{name}` is corrupt: {error}")]
    CorruptIpList {
        name: String,
        error: ip::IpSetBytesError,
    },
}

/// IP lists compiled ahead of time, by name.
pub type Precompiled<'a> = &'a [PrecompiledIpList];

impl Policy {
    /// Parses and compiles a policy file's text. `source_name` is how errors name the file.
    pub fn compile(text: &str, source_name: &str) -> Result<Compiled, CompileError> {
        compile_text(text, source_name, None)
    }

    /// Loads a policy from its text with the IP lists emptied, and the lists as precompiled range blobs: the
    /// compiler runs, but loading does not grow with the size of the IP lists. The Worker loads the smaller and
    /// faster [`Policy::from_compiled`] instead.
    pub fn from_bundle(
        text: &str,
        source_name: &str,
        fingerprint: &str,
        ip_lists: Precompiled<'_>,
    ) -> Result<Policy, CompileError> {
        let mut policy = compile_text(text, source_name, Some(ip_lists))?.policy;
        fingerprint.clone_into(&mut policy.fingerprint);
        Ok(policy)
    }

    /// The policy in the compiled form [`Policy::from_compiled`] loads: a version tag, then every compiled field
    /// but the IP sets (which travel as range blobs, see [`Policy::ip_lists`] and [`ip::IpSet::v4_bytes`]) in
    /// postcard's binary encoding. `build.rs` writes it, so the Worker links neither the JSON parser of the
    /// policy file nor the compiler and its diagnostics.
    pub fn to_compiled(&self) -> Result<Vec<u8>, LoadError> {
        let out = COMPILED_TAG.to_vec();
        postcard::to_extend(self, out).map_err(|e| LoadError::Corrupt(e.to_string()))
    }

    /// Loads what [`Policy::to_compiled`] wrote, attaching each IP list's precompiled blobs by name. Loading
    /// does not grow with the size of the IP lists. It fails only on bytes another build wrote (a tag or shape
    /// mismatch) or on corrupt blobs; the Worker then fails closed.
    pub fn from_compiled(bytes: &[u8], ip_lists: Precompiled<'_>) -> Result<Policy, LoadError> {
        let body = bytes
            .strip_prefix(COMPILED_TAG.as_slice())
            .ok_or(LoadError::Version)?;
        let (mut policy, rest) = postcard::take_from_bytes::<Policy>(body)
            .map_err(|e| LoadError::Corrupt(e.to_string()))?;
        if !rest.is_empty() {
            return Err(LoadError::Corrupt(format!(
                "{} bytes after the end",
                rest.len()
            )));
        }
        for list in &mut policy.ip_lists {
            let pre = ip_lists
                .iter()
                .find(|l| l.name == list.name)
                .ok_or_else(|| LoadError::MissingIpList(list.name.clone()))?;
            list.set = IpSet::from_static_with_index(pre.v4, pre.v6, pre.v4_index, pre.v6_index)
                .map_err(|error| LoadError::CorruptIpList {
                    name: list.name.clone(),
                    error,
                })?;
        }
        for rule in &mut policy.rules {
            rule.derived_code = Rule::derived_code(rule.action, rule.when.as_ref());
        }
        Ok(policy)
    }

    /// The file the policy came from.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// A short fingerprint of the policy text, for decision logs.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The request headers the engine reads (lower-case); the adapter copies only these out of the request.
    pub fn header_names(&self) -> &[String] {
        &self.header_names
    }

    /// Request headers removed before every forward (lower-case): the policy's internal headers and the headers
    /// issuers forward claims in, so an origin never sees a client's copy of them.
    pub fn strip_headers(&self) -> &[String] {
        &self.strip_headers
    }

    /// The token issuers, in name order (an issuer's position is its id in token results).
    pub fn issuers(&self) -> &[Issuer] {
        &self.issuers
    }

    /// What decision logs hold.
    pub fn logging(&self) -> Logging {
        self.logging
    }

    /// How allowed requests are sent on.
    pub fn upstream(&self) -> UpstreamSettings {
        self.upstream
    }

    /// The `realm` for `WWW-Authenticate`, when the policy sets one.
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// The named IP lists, in name order.
    pub fn ip_lists(&self) -> &[NamedIpList] {
        &self.ip_lists
    }

    /// Whether denials may name their rule.
    pub fn expose_rule_id(&self) -> bool {
        self.expose_rule_id
    }

    /// Whether the whole policy is report-only.
    pub fn report_only(&self) -> bool {
        self.report_only
    }

    /// Rule ids in order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }
}

/// A fingerprint of the policy text: 64-bit FNV-1a, hex. It identifies a policy version in logs; it is not a
/// security boundary.
pub fn fingerprint(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn compile_text(
    text: &str,
    source_name: &str,
    precompiled: Option<Precompiled<'_>>,
) -> Result<Compiled, CompileError> {
    let file: PolicyFile = match serde_json::from_str(text) {
        Ok(file) => file,
        Err(_) => {
            return Err(CompileError {
                source_name: source_name.to_owned(),
                errors: vec![shape_error(text)],
                warnings: Vec::new(),
            })
        }
    };
    let mut cx = Compiler::new(precompiled);
    let policy = cx.policy(&file, text, source_name);
    if cx.errors.is_empty() {
        if let Some(policy) = policy {
            return Ok(Compiled {
                policy,
                warnings: cx.warnings,
            });
        }
    }
    Err(CompileError {
        source_name: source_name.to_owned(),
        errors: cx.errors,
        warnings: cx.warnings,
    })
}

/// A document that failed to deserialize, in the Worker: the bundled policy was validated at build time, so this
/// never happens there, and the Wasm carries no path-tracking deserializer to explain it.
#[cfg(target_arch = "wasm32")]
fn shape_error(text: &str) -> Diagnostic {
    let message = match serde_json::from_str::<PolicyFile>(text) {
        Ok(_) => "the policy could not be read".to_owned(),
        Err(e) => e.to_string(),
    };
    Diagnostic {
        severity: Severity::Error,
        path: Vec::new(),
        rule_id: None,
        message,
        hint: None,
        position: None,
    }
}

/// Re-parses a document that failed to deserialize, to say where and in which rule.
#[cfg(not(target_arch = "wasm32"))]
fn shape_error(text: &str) -> Diagnostic {
    let mut de = serde_json::Deserializer::from_str(text);
    let result: Result<PolicyFile, _> = serde_path_to_error::deserialize(&mut de);
    let (path, inner) = match result {
        Ok(_) => (Vec::new(), None),
        Err(e) => {
            let path = e
                .path()
                .iter()
                .filter_map(|seg| match seg {
                    serde_path_to_error::Segment::Seq { index } => Some(Segment::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => Some(Segment::Key(key.clone())),
                    serde_path_to_error::Segment::Enum { variant } => {
                        Some(Segment::Key(variant.clone()))
                    }
                    serde_path_to_error::Segment::Unknown => None,
                })
                .collect::<Vec<_>>();
            (path, Some(e.into_inner()))
        }
    };
    let (message, position) = match &inner {
        Some(e) => {
            let full = e.to_string();
            // serde_json appends " at line L column C"; the position is reported separately.
            let message = match full.rfind(" at line ") {
                Some(at) => full.get(..at).unwrap_or(&full).to_owned(),
                None => full,
            };
            let position = (e.line() > 0).then(|| (e.line(), e.column()));
            (message, position)
        }
        None => ("the policy could not be read".to_owned(), None),
    };
    Diagnostic {
        severity: Severity::Error,
        rule_id: rule_id_at(text, &path),
        path,
        message,
        hint: None,
        position,
    }
}

/// The `id` of the rule a path points into, read leniently from the raw document.
#[cfg(not(target_arch = "wasm32"))]
fn rule_id_at(text: &str, path: &[Segment]) -> Option<String> {
    let (Some(Segment::Key(top)), Some(Segment::Index(i))) = (path.first(), path.get(1)) else {
        return None;
    };
    if top != "rules" {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_str(text).ok()?;
    doc.get("rules")?
        .get(*i)?
        .get("id")?
        .as_str()
        .map(str::to_owned)
}

struct Compiler<'p> {
    precompiled: Option<Precompiled<'p>>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    path: Vec<Segment>,
    rule_id: Option<String>,
    used_ip: BTreeSet<String>,
    used_origin: BTreeSet<String>,
    used_country: BTreeSet<String>,
    used_asn: BTreeSet<String>,
    used_issuer: BTreeSet<String>,
    origin_wildcards: BTreeSet<String>,
}

/// Most host-bit warnings reported per IP list before they are summarised.
const MAX_HOST_BIT_WARNINGS: usize = 5;

impl<'p> Compiler<'p> {
    fn new(precompiled: Option<Precompiled<'p>>) -> Self {
        Compiler {
            precompiled,
            errors: Vec::new(),
            warnings: Vec::new(),
            path: Vec::new(),
            rule_id: None,
            used_ip: BTreeSet::new(),
            used_origin: BTreeSet::new(),
            used_country: BTreeSet::new(),
            used_asn: BTreeSet::new(),
            used_issuer: BTreeSet::new(),
            origin_wildcards: BTreeSet::new(),
        }
    }

    fn diag(&mut self, severity: Severity, field: &[&str], message: String, hint: Option<String>) {
        let mut path = self.path.clone();
        path.extend(field.iter().map(|k| Segment::Key((*k).to_owned())));
        let d = Diagnostic {
            severity,
            path,
            rule_id: self.rule_id.clone(),
            message,
            hint,
            position: None,
        };
        match severity {
            Severity::Error => self.errors.push(d),
            Severity::Warning => self.warnings.push(d),
        }
    }

    fn error(&mut self, field: &[&str], message: String) {
        self.diag(Severity::Error, field, message, None);
    }

    fn warn(&mut self, field: &[&str], message: String) {
        self.diag(Severity::Warning, field, message, None);
    }

    fn at<T>(&mut self, seg: Segment, f: impl FnOnce(&mut Self) -> T) -> T {
        self.path.push(seg);
        let out = f(self);
        self.path.pop();
        out
    }

    fn key<T>(&mut self, key: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        self.at(Segment::Key(key.to_owned()), f)
    }

    fn policy(&mut self, file: &PolicyFile, text: &str, source_name: &str) -> Option<Policy> {
        if file.version != 1 {
            self.error(
                &["version"],
                format!(
                    "unsupported policy version `{}`: this build reads version `1`",
                    file.version
                ),
            );
        }
        let path_options = PathOptions {
            allow_semicolons: file.paths.allow_semicolons,
            case_insensitive: file.paths.case_insensitive,
            allow_double_encoding: file.paths.allow_double_encoding,
            trailing_dots_and_spaces: file.paths.trailing_dots_and_spaces,
            format_suffixes: file.paths.format_suffixes,
        };
        let ip_lists = self.key("ip_lists", |cx| cx.ip_lists(file));
        let origin_lists = self.key("origin_lists", |cx| cx.origin_lists(file));
        let country_lists = self.key("country_lists", |cx| cx.country_lists(file));
        let asn_lists = self.key("asn_lists", |cx| cx.asn_lists(file));
        let issuers = self.key("issuers", |cx| cx.issuers(file));
        let names = ListNames {
            ip: ip_lists.iter().map(|l| l.name.as_str()).collect(),
            origin: origin_lists.iter().map(|(n, _)| n.as_str()).collect(),
            country: country_lists.iter().map(|(n, _)| n.as_str()).collect(),
            asn: asn_lists.iter().map(|(n, _)| n.as_str()).collect(),
            issuer: issuers.iter().map(|i| i.name.as_str()).collect(),
        };
        let client_ip = self.key("client_ip", |cx| cx.client_ip(file, &names));
        if file.rules.len() > MAX_RULES {
            self.error(
                &["rules"],
                format!(
                    "{} rules is more than the {MAX_RULES} a policy may hold",
                    file.rules.len()
                ),
            );
        }
        let mut seen_ids = BTreeSet::new();
        let rules: Vec<Rule> = self.key("rules", |cx| {
            file.rules
                .iter()
                .enumerate()
                .filter_map(|(i, spec)| {
                    cx.rule_id = Some(spec.id.clone());
                    let rule = cx.at(Segment::Index(i), |cx| {
                        if !seen_ids.insert(spec.id.clone()) {
                            cx.error(
                                &["id"],
                                format!("duplicate rule id `{}`: ids must be unique", spec.id),
                            );
                        }
                        cx.rule(spec, &names, path_options)
                    });
                    cx.rule_id = None;
                    rule
                })
                .collect()
        });
        let default = self.key("default", |cx| cx.default(file));
        self.unused_lists(file);
        self.shadowing(&rules, file);

        let mut header_names: Vec<String> = vec![
            "cf-connecting-ip".into(),
            "cf-connecting-ipv6".into(),
            "origin".into(),
        ];
        if matches!(client_ip, Some(ClientIpSource::XForwardedFor { .. })) {
            header_names.push("x-forwarded-for".into());
        }
        for issuer in &issuers {
            for source in &issuer.sources {
                let name = match source {
                    TokenSource::AuthorizationBearer => "authorization",
                    TokenSource::Header(h) => h.as_str(),
                    TokenSource::Cookie(_) => "cookie",
                    TokenSource::Query(_) => continue,
                };
                if !header_names.iter().any(|h| h == name) {
                    header_names.push(name.to_owned());
                }
            }
        }
        let mut strip_headers = self.key("internal_headers", |cx| cx.strip_headers(file, &issuers));
        let upstream = self.key("upstream", |cx| cx.upstream(file));
        if upstream.method_override {
            header_names.extend(METHOD_OVERRIDE_HEADERS.iter().map(|h| (*h).to_owned()));
        } else {
            // Ignored for matching, so never passed on either: the origin must not act on a method the rules
            // did not see.
            strip_headers.extend(METHOD_OVERRIDE_HEADERS.iter().map(|h| (*h).to_owned()));
        }
        if !file.upstream.forward_path_override_headers {
            // The rules matched the request line; an origin that routes by one of these would serve another path.
            strip_headers.extend(PATH_OVERRIDE_HEADERS.iter().map(|h| (*h).to_owned()));
        }
        for rule in &rules {
            if let Some(Limit {
                key: LimitKey::Header(h),
                ..
            }) = &rule.limit
            {
                if !header_names.contains(h) {
                    header_names.push(h.clone());
                }
            }
        }
        let cors = file
            .cors
            .as_ref()
            .and_then(|c| self.key("cors", |cx| cx.cors(c, &names)));
        if cors.is_some()
            && !header_names
                .iter()
                .any(|h| h == "access-control-request-method")
        {
            header_names.push("access-control-request-method".to_owned());
            header_names.push("access-control-request-headers".to_owned());
        }
        let logging = self.key("logging", |cx| {
            let sample = file
                .logging
                .sample_allowed
                .unwrap_or(Logging::DEFAULT_SAMPLE_ALLOWED);
            if !(0.0..=1.0).contains(&sample) {
                cx.error(
                    &["sample_allowed"],
                    format!("`{sample}` is not a share between 0.0 and 1.0"),
                );
            }
            Logging {
                client_ip: file.logging.client_ip,
                sample_allowed: sample,
            }
        });
        let realm = self.key("responses", |cx| {
            cx.key("realm", |cx| {
                file.responses.realm.as_ref().and_then(|r| {
                    let ok = !r.is_empty()
                        && r.len() <= 128
                        && r.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
                    if !ok {
                        cx.error(&[], format!("realm `{r}` must be 1 to 128 printable ASCII characters without `\"` or `\\`"));
                    }
                    ok.then(|| r.clone())
                })
            })
        });
        Some(Policy {
            source_name: source_name.to_owned(),
            fingerprint: fingerprint(text),
            report_only: file.report_only,
            client_ip: client_ip?,
            path_options,
            expose_rule_id: file.responses.expose_rule_id,
            ip_lists,
            origin_lists,
            country_lists,
            asn_lists,
            issuers,
            rules,
            default: default?,
            header_names,
            strip_headers,
            realm,
            cors,
            logging,
            upstream,
        })
    }

    fn check_list_name(&mut self, name: &str) {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            self.error(
                &[],
                format!("list name `{name}` must be 1 to 64 letters, digits, `_` or `-`"),
            );
        }
    }

    fn ip_lists(&mut self, file: &PolicyFile) -> Vec<NamedIpList> {
        let mut out = Vec::with_capacity(file.ip_lists.len());
        for (name, entries) in &file.ip_lists {
            let set = self.key(name, |cx| {
                cx.check_list_name(name);
                if let Some(pre) = cx.precompiled {
                    let found = pre.iter().find(|l| l.name == name);
                    return match found {
                        Some(l) if entries.is_empty() => {
                            match IpSet::from_static_with_index(l.v4, l.v6, l.v4_index, l.v6_index)
                            {
                                Ok(set) => set,
                                Err(e) => {
                                    cx.error(&[], format!("bundled IP list is corrupt: {e}"));
                                    IpSet::default()
                                }
                            }
                        }
                        _ => {
                            cx.error(&[], "bundled IP list is missing".to_owned());
                            IpSet::default()
                        }
                    };
                }
                let mut builder = IpSetBuilder::default();
                let mut host_bits = 0usize;
                for (i, entry) in entries.iter().enumerate() {
                    match ip::parse_entry(entry) {
                        Ok(parsed) => {
                            if parsed.host_bits_cleared {
                                host_bits += 1;
                                if host_bits <= MAX_HOST_BIT_WARNINGS {
                                    cx.at(Segment::Index(i), |cx| {
                                        cx.warn(
                                            &[],
                                            format!(
                                                "`{entry}` has host bits set; it is read as `{}`",
                                                parsed.net
                                            ),
                                        )
                                    });
                                }
                            }
                            builder.insert(parsed.net);
                        }
                        Err(e) => cx.at(Segment::Index(i), |cx| cx.error(&[], e.to_string())),
                    }
                }
                if host_bits > MAX_HOST_BIT_WARNINGS {
                    cx.warn(
                        &[],
                        format!(
                            "{} more entries have host bits set and were normalised",
                            host_bits - MAX_HOST_BIT_WARNINGS
                        ),
                    );
                }
                builder.build()
            });
            out.push(NamedIpList {
                name: name.clone(),
                set,
            });
        }
        out
    }

    fn origin_lists(&mut self, file: &PolicyFile) -> Vec<(String, OriginList)> {
        let mut out = Vec::new();
        for (name, entries) in &file.origin_lists {
            let list = self.key(name, |cx| {
                cx.check_list_name(name);
                cx.cap(entries.len());
                let mut patterns = Vec::with_capacity(entries.len());
                for (i, entry) in entries.iter().enumerate() {
                    match entry.parse::<OriginPattern>() {
                        Ok(p) => patterns.push(p),
                        Err(e) => cx.at(Segment::Index(i), |cx| cx.error(&[], e.to_string())),
                    }
                }
                OriginList::new(patterns)
            });
            if list.has_wildcard() {
                self.origin_wildcards.insert(name.clone());
            }
            out.push((name.clone(), list));
        }
        out
    }

    fn country_lists(&mut self, file: &PolicyFile) -> Vec<(String, CountrySet)> {
        let mut out = Vec::new();
        for (name, entries) in &file.country_lists {
            let set = self.key(name, |cx| {
                cx.check_list_name(name);
                cx.cap(entries.len());
                let mut codes = Vec::with_capacity(entries.len());
                for (i, entry) in entries.iter().enumerate() {
                    match entry.as_bytes() {
                        [a, b] if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() => {
                            codes.push([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
                        }
                        _ => cx.at(Segment::Index(i), |cx| {
                            cx.error(
                                &[],
                                format!(
                                    "`{entry}` is not a two-letter country code (ISO 3166-1 alpha-2, such as `NL`)"
                                ),
                            )
                        }),
                    }
                }
                codes.sort_unstable();
                codes.dedup();
                CountrySet(codes)
            });
            out.push((name.clone(), set));
        }
        out
    }

    fn asn_lists(&mut self, file: &PolicyFile) -> Vec<(String, AsnSet)> {
        let mut out = Vec::new();
        for (name, entries) in &file.asn_lists {
            let set = self.key(name, |cx| {
                cx.check_list_name(name);
                cx.cap(entries.len());
                let mut asns = entries.clone();
                asns.sort_unstable();
                asns.dedup();
                AsnSet(asns)
            });
            out.push((name.clone(), set));
        }
        out
    }

    fn cap(&mut self, len: usize) {
        if len > MAX_SMALL_LIST {
            self.error(
                &[],
                format!("{len} entries is more than the {MAX_SMALL_LIST} this list may hold"),
            );
        }
    }

    fn client_ip(&mut self, file: &PolicyFile, names: &ListNames<'_>) -> Option<ClientIpSource> {
        match file.client_ip.source {
            file::ClientIpSourceSpec::CfConnectingIp => {
                if !file.client_ip.trusted_proxies.is_empty() {
                    self.error(
                        &["trusted_proxies"],
                        "`trusted_proxies` only applies with `\"source\": \"x-forwarded-for\"`"
                            .to_owned(),
                    );
                }
                Some(ClientIpSource::CfConnectingIp)
            }
            file::ClientIpSourceSpec::XForwardedFor => {
                if file.client_ip.trusted_proxies.is_empty() {
                    self.error(
                        &["trusted_proxies"],
                        "`x-forwarded-for` needs `trusted_proxies`: without them anyone can forge the header"
                            .to_owned(),
                    );
                    return None;
                }
                let trusted = self.key("trusted_proxies", |cx| {
                    cx.resolve(
                        &file.client_ip.trusted_proxies,
                        &names.ip,
                        "IP list",
                        Used::Ip,
                    )
                });
                Some(ClientIpSource::XForwardedFor { trusted })
            }
        }
    }

    fn rule(&mut self, spec: &RuleSpec, names: &ListNames<'_>, opts: PathOptions) -> Option<Rule> {
        let id_ok = !spec.id.is_empty()
            && spec.id.len() <= 64
            && spec
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !id_ok {
            self.error(
                &["id"],
                format!(
                    "rule id `{}` must be 1 to 64 letters, digits, `_`, `-` or `.`",
                    spec.id
                ),
            );
        }
        let action = match spec.action {
            ActionSpec::Allow => Action::Allow,
            ActionSpec::Deny => Action::Deny,
            ActionSpec::Require => Action::Require,
            ActionSpec::Limit => Action::Limit,
        };
        let limit = match (&spec.limit, action) {
            (Some(l), Action::Limit) => self.key("limit", |cx| cx.limit(l, names)),
            (None, Action::Limit) => {
                self.error(&["limit"], "a `limit` rule needs a `limit`".to_owned());
                None
            }
            (Some(_), _) => {
                self.error(
                    &["limit"],
                    format!(
                        "`limit` only applies to `\"action\": \"limit\"` rules, not `{}`",
                        action.as_str()
                    ),
                );
                None
            }
            (None, _) => None,
        };
        let when = spec
            .when
            .as_ref()
            .and_then(|c| self.key("when", |cx| cx.cond(c, names, opts, 1)));
        let require = match (&spec.require, action) {
            (Some(c), Action::Require) => self.key("require", |cx| cx.cond(c, names, opts, 1)),
            (None, Action::Require) => {
                self.error(
                    &["require"],
                    "a `require` rule needs a `require` condition".to_owned(),
                );
                None
            }
            (Some(_), _) => {
                self.error(
                    &["require"],
                    format!(
                        "`require` only applies to `\"action\": \"require\"` rules, not `{}`",
                        action.as_str()
                    ),
                );
                None
            }
            (None, _) => None,
        };
        if action == Action::Allow && (spec.status.is_some() || spec.code.is_some()) {
            self.warn(
                &[],
                "`status` and `code` have no effect on an `allow` rule".to_owned(),
            );
        }
        let mut denial = self.denial(spec.status, spec.code.as_deref(), spec.message.as_deref())?;
        if action == Action::Limit && denial.status.is_none() {
            denial.status = Some(Status::TOO_MANY_REQUESTS);
        }
        Some(Rule {
            id: spec.id.clone(),
            action,
            derived_code: Rule::derived_code(action, when.as_ref()),
            when,
            require,
            denial,
            report_only: spec.report_only,
            limit,
        })
    }

    fn denial(
        &mut self,
        status: Option<u16>,
        code: Option<&str>,
        message: Option<&str>,
    ) -> Option<Denial> {
        let status = match status {
            None => None,
            Some(s) => match Status::new(s) {
                Some(s) => Some(s),
                None => {
                    self.error(
                        &["status"],
                        format!("status `{s}` is not one a denial may use: 401, 403, 404 or 429"),
                    );
                    return None;
                }
            },
        };
        let code = match code {
            None => None,
            Some(c) => match ReasonCode::new(c) {
                Some(c) => Some(c),
                None => {
                    self.error(
                        &["code"],
                        format!("code `{c}` must be lower-case letters, digits and `_`, starting with a letter, at most 64 bytes"),
                    );
                    return None;
                }
            },
        };
        let message = match message {
            None => Cow::Borrowed(DEFAULT_MESSAGE),
            Some(m) if m.len() > MAX_MESSAGE_LEN || m.chars().any(char::is_control) => {
                self.error(
                    &["message"],
                    format!("a message must be at most {MAX_MESSAGE_LEN} bytes without control characters"),
                );
                return None;
            }
            Some(m) => Cow::Owned(m.to_owned()),
        };
        Some(Denial {
            status,
            code,
            message,
        })
    }

    fn default(&mut self, file: &PolicyFile) -> Option<DefaultDecision> {
        let d = &file.default;
        match d.action {
            DefaultActionSpec::Allow => {
                if d.status.is_some() || d.code.is_some() || d.message.is_some() {
                    self.warn(
                        &[],
                        "`status`, `code` and `message` have no effect when the default is `allow`"
                            .to_owned(),
                    );
                }
                Some(DefaultDecision::Allow)
            }
            DefaultActionSpec::Deny => {
                let denial = self.denial(d.status, d.code.as_deref(), d.message.as_deref())?;
                Some(DefaultDecision::Deny(denial))
            }
        }
    }

    fn resolve(
        &mut self,
        wanted: &[String],
        known: &[&str],
        what: &str,
        used: Used,
    ) -> Vec<ListId> {
        let mut out = Vec::with_capacity(wanted.len());
        if wanted.is_empty() {
            self.error(&[], format!("name at least one {what}"));
        }
        for name in wanted {
            match known.iter().position(|k| k == name) {
                Some(id) => {
                    out.push(id);
                    let set = match used {
                        Used::Ip => &mut self.used_ip,
                        Used::Origin => &mut self.used_origin,
                        Used::Country => &mut self.used_country,
                        Used::Asn => &mut self.used_asn,
                        Used::Issuer => &mut self.used_issuer,
                    };
                    set.insert(name.clone());
                }
                None => {
                    let hint = error::did_you_mean(name, known.iter().copied());
                    self.diag(
                        Severity::Error,
                        &[],
                        format!("unknown {what} `{name}`"),
                        hint,
                    );
                }
            }
        }
        out
    }

    fn cond(
        &mut self,
        spec: &ConditionSpec,
        names: &ListNames<'_>,
        opts: PathOptions,
        depth: usize,
    ) -> Option<Cond> {
        if depth > MAX_CONDITION_DEPTH {
            self.error(
                &[],
                format!("conditions nest deeper than {MAX_CONDITION_DEPTH} levels"),
            );
            return None;
        }
        let children = |cx: &mut Self, key: &str, list: &[ConditionSpec]| -> Vec<Cond> {
            cx.key(key, |cx| {
                list.iter()
                    .enumerate()
                    .filter_map(|(i, c)| {
                        cx.at(Segment::Index(i), |cx| cx.cond(c, names, opts, depth + 1))
                    })
                    .collect()
            })
        };
        Some(match spec {
            ConditionSpec::All(list) => Cond::All(children(self, "all", list)),
            ConditionSpec::Any(list) => Cond::Any(children(self, "any", list)),
            ConditionSpec::Not(inner) => Cond::Not(Box::new(
                self.key("not", |cx| cx.cond(inner, names, opts, depth + 1))?,
            )),
            ConditionSpec::ClientIpIn(n) => Cond::ClientIpIn(self.key("client_ip_in", |cx| {
                cx.resolve(n.as_slice(), &names.ip, "IP list", Used::Ip)
            })),
            ConditionSpec::OriginIn(n) => Cond::OriginIn(self.key("origin_in", |cx| {
                cx.resolve(n.as_slice(), &names.origin, "origin list", Used::Origin)
            })),
            ConditionSpec::HasOrigin(b) => Cond::HasOrigin(*b),
            ConditionSpec::CountryIn(n) => Cond::CountryIn(self.key("country_in", |cx| {
                cx.resolve(n.as_slice(), &names.country, "country list", Used::Country)
            })),
            ConditionSpec::AsnIn(n) => Cond::AsnIn(self.key("asn_in", |cx| {
                cx.resolve(n.as_slice(), &names.asn, "ASN list", Used::Asn)
            })),
            ConditionSpec::HostIs(hosts) => Cond::HostIs(self.key("host_is", |cx| {
                cx.patterns(hosts.as_slice(), |h| {
                    h.parse::<HostPattern>().map_err(|e| e.to_string())
                })
            })),
            ConditionSpec::PathIs(p) => Cond::Path(self.key("path_is", |cx| {
                cx.path_patterns(p.as_slice(), |s| PathPattern::exact(s, &opts))
            })),
            ConditionSpec::PathUnder(p) => Cond::Path(self.key("path_under", |cx| {
                cx.patterns(p.as_slice(), |s| {
                    PathPattern::under(s, &opts).map_err(|e| e.to_string())
                })
            })),
            ConditionSpec::PathMatches(p) => Cond::Path(self.key("path_matches", |cx| {
                cx.path_patterns(p.as_slice(), |s| PathPattern::glob(s, &opts))
            })),
            ConditionSpec::Token(t) => {
                Cond::Token(self.key("token", |cx| cx.token_cond(t, names))?)
            }
            ConditionSpec::MethodIs(m) => Cond::MethodIs(self.key("method_is", |cx| {
                let methods = cx.patterns(m.as_slice(), |s| {
                    s.parse::<scope::Method>().map_err(|e| e.to_string())
                });
                MethodSet::new(methods)
            })),
        })
    }

    /// `path_is` and `path_matches` patterns. Request paths are matched without their trailing slash, so a pattern
    /// is too; one that still ends in `/` once normalised (`/admin//`, `/secret/.`, `/files/**//`) could never
    /// match any request: it is read as the path without that slash, with a warning saying so.
    fn path_patterns(
        &mut self,
        items: &[String],
        build: impl Fn(&str) -> Result<PathPattern, scope::PathPatternError>,
    ) -> Vec<PathPattern> {
        let mut out = self.patterns(items, |s| {
            build(without_trailing_slash(s)).map_err(|e| e.to_string())
        });
        if out.len() != items.len() {
            return out;
        }
        for (i, (pattern, raw)) in out.iter_mut().zip(items).enumerate() {
            let text = pattern.as_str();
            if text.len() < 2 || !text.ends_with('/') {
                continue;
            }
            let Ok(rewritten) = build(without_trailing_slash(text)) else {
                continue;
            };
            self.at(Segment::Index(i), |cx| {
                cx.diag(
                    Severity::Warning,
                    &[],
                    format!(
                        "path pattern `{raw}` normalises to `{text}`, which no request path is (requests are matched without their trailing slash); it is read as `{}`",
                        rewritten.as_str()
                    ),
                    Some(format!("write `{}`", rewritten.as_str())),
                )
            });
            *pattern = rewritten;
        }
        out
    }

    fn patterns<T>(
        &mut self,
        items: &[String],
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Vec<T> {
        if items.is_empty() {
            self.error(
                &[],
                "the list is empty, so the condition never holds".to_owned(),
            );
        }
        if items.len() > MAX_SMALL_LIST {
            self.cap(items.len());
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match parse(item) {
                Ok(p) => out.push(p),
                Err(e) => self.at(Segment::Index(i), |cx| cx.error(&[], e)),
            }
        }
        out
    }

    fn issuers(&mut self, file: &PolicyFile) -> Vec<Issuer> {
        let mut out = Vec::with_capacity(file.issuers.len());
        for (name, spec) in &file.issuers {
            let issuer = self.key(name, |cx| {
                cx.check_list_name(name);
                cx.issuer(name, spec)
            });
            if let Some(issuer) = issuer {
                if !issuer.forward.is_empty() {
                    // Forwarding verified claims is a use of its own, even when no rule names the issuer.
                    self.used_issuer.insert(name.clone());
                }
                out.push(issuer);
            }
        }
        self.forward_conflicts(file);
        out
    }

    /// Refuses a header that carries two claims (of two issuers, or two of one issuer), in any spelling an origin
    /// reads as the same header (case, `_` for `-`): a partner that mints its own `sub` could otherwise fill the
    /// header the origin trusts for the corporate identity.
    fn forward_conflicts(&mut self, file: &PolicyFile) {
        let fold = |h: &str| h.to_ascii_lowercase().replace('_', "-");
        let mut seen: Vec<(String, &str, &str, &str)> = Vec::new();
        for (name, spec) in &file.issuers {
            for (claim, header) in &spec.forward_claims {
                let folded = fold(header);
                match seen.iter().find(|(h, ..)| *h == folded) {
                    Some((_, first_issuer, first_claim, first_header)) => {
                        let by = if *first_issuer == name.as_str() {
                            "this issuer".to_owned()
                        } else {
                            format!("issuer `{first_issuer}`")
                        };
                        let message = format!(
                            "header `{header}` already carries claim `{first_claim}` of {by} (as `{first_header}`): the origin could not tell whose claim it reads, and one issuer's token could fill in another's identity"
                        );
                        self.key(name, |cx| {
                            cx.key("forward_claims", |cx| {
                                cx.key(claim, |cx| cx.error(&[], message))
                            })
                        });
                    }
                    None => seen.push((folded, name, claim, header)),
                }
            }
        }
    }

    fn issuer(&mut self, name: &str, spec: &IssuerSpec) -> Option<Issuer> {
        let errors_before = self.errors.len();
        // The Cloudflare Access preset fills in what Access fixes; the fields it sets cannot also be given.
        let access = spec.cloudflare_access.as_ref().and_then(|a| {
            let team_ok = !a.team.is_empty()
                && a.team.len() <= 63
                && a.team
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !team_ok {
                self.error(
                    &["cloudflare_access", "team"],
                    format!(
                        "team `{}` must be the lower-case name before `.cloudflareaccess.com`",
                        a.team
                    ),
                );
            }
            if a.audience.is_empty() {
                self.error(
                    &["cloudflare_access", "audience"],
                    "the application's AUD tag is required".to_owned(),
                );
            }
            let conflicts = [
                ("issuer", spec.issuer.is_some()),
                ("audiences", !spec.audiences.is_empty()),
                ("algorithms", !spec.algorithms.is_empty()),
                ("jwks", spec.jwks.is_some()),
                ("jwks_url", spec.jwks_url.is_some()),
                ("jwks_url_var", spec.jwks_url_var.is_some()),
                ("hmac_secrets", !spec.hmac_secrets.is_empty()),
            ];
            for (field, given) in conflicts {
                if given {
                    self.error(
                        &[field],
                        format!("`{field}` is set by `cloudflare_access`; remove it"),
                    );
                }
            }
            team_ok.then_some(a)
        });
        let (iss, audiences, algorithm_names, default_sources) = match access {
            Some(a) => (
                Some(format!("https://{}.cloudflareaccess.com", a.team)),
                vec![a.audience.clone()],
                vec!["RS256".to_owned()],
                vec![
                    TokenSource::Header("cf-access-jwt-assertion".to_owned()),
                    TokenSource::Cookie("CF_Authorization".to_owned()),
                ],
            ),
            None => (
                spec.issuer.clone(),
                spec.audiences.clone(),
                spec.algorithms.clone(),
                vec![TokenSource::AuthorizationBearer],
            ),
        };
        let iss = match iss {
            Some(i) if !i.is_empty() => i,
            _ => {
                self.error(
                    &["issuer"],
                    "the `iss` its tokens carry is required".to_owned(),
                );
                String::new()
            }
        };
        if audiences.is_empty() || audiences.iter().any(String::is_empty) {
            self.error(
                &["audiences"],
                "name at least one audience (`aud`); tokens for other audiences are refused"
                    .to_owned(),
            );
        }
        let mut algorithms = Vec::new();
        if algorithm_names.is_empty() {
            self.error(&["algorithms"], "pin at least one algorithm".to_owned());
        }
        for (i, a) in algorithm_names.iter().enumerate() {
            match Algorithm::from_name(a) {
                Some(alg) if !algorithms.contains(&alg) => algorithms.push(alg),
                Some(_) => {}
                None if a.eq_ignore_ascii_case("none") => self.at(Segment::Key("algorithms".into()), |cx| {
                    cx.at(Segment::Index(i), |cx| {
                        cx.error(&[], "`none` is never accepted: unsigned tokens prove nothing".to_owned())
                    })
                }),
                None => self.at(Segment::Key("algorithms".into()), |cx| {
                    cx.at(Segment::Index(i), |cx| {
                        cx.error(
                            &[],
                            format!(
                                "unknown algorithm `{a}`: use HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384 or EdDSA"
                            ),
                        )
                    })
                }),
            }
        }
        let keys = self.issuer_keys(spec, access.is_some(), &algorithms);
        let sources = match &spec.token_from {
            None => default_sources,
            Some(list) => self.key("token_from", |cx| {
                if list.is_empty() {
                    cx.error(&[], "name at least one place to look for tokens".to_owned());
                }
                list.iter()
                    .enumerate()
                    .filter_map(|(i, src)| cx.at(Segment::Index(i), |cx| cx.token_source(src)))
                    .collect()
            }),
        };
        let leeway = spec.leeway_seconds.unwrap_or(DEFAULT_LEEWAY_SECONDS);
        if leeway > MAX_LEEWAY_SECONDS {
            self.error(
                &["leeway_seconds"],
                format!("a leeway of {leeway} s is more than the {MAX_LEEWAY_SECONDS} s allowed"),
            );
        }
        if spec.max_lifetime_seconds == Some(0) {
            self.error(
                &["max_lifetime_seconds"],
                "a maximum lifetime must be positive".to_owned(),
            );
        }
        let required = spec
            .required_claims
            .clone()
            .unwrap_or_else(|| vec!["exp".to_owned()]);
        if !required.iter().any(|c| c == "exp") {
            self.warn(
                &["required_claims"],
                "`exp` is not required: tokens without an expiry are accepted forever".to_owned(),
            );
        }
        let max_token_bytes = spec.max_token_bytes.unwrap_or(DEFAULT_MAX_TOKEN_BYTES);
        if max_token_bytes == 0 || max_token_bytes > MAX_TOKEN_BYTES_LIMIT {
            self.error(
                &["max_token_bytes"],
                format!("`max_token_bytes` must be 1 to {MAX_TOKEN_BYTES_LIMIT}"),
            );
        }
        let forward = self.key("forward_claims", |cx| {
            spec.forward_claims
                .iter()
                .filter_map(|(claim, header)| {
                    cx.key(claim, |cx| {
                        let path = cx.claim_path_str(claim)?;
                        let header = cx.header_name(header, true)?;
                        Some(ForwardClaim { path, header })
                    })
                })
                .collect()
        });
        let typ = spec.typ.as_ref().and_then(|t| {
            // A media type (RFC 6838 names): `type/subtype` or, with `application/` implied, `subtype`.
            let name_ok = |s: &str| {
                !s.is_empty()
                    && s.len() <= 127
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
            };
            let ok = match t.split_once('/') {
                Some((top, sub)) => name_ok(top) && name_ok(sub),
                None => name_ok(t),
            };
            if !ok {
                self.error(
                    &["typ"],
                    format!("`{t}` is not a media type such as `at+jwt` or `application/at+jwt`"),
                );
            }
            ok.then(|| jwt::canonical_typ(t))
        });
        if self.errors.len() > errors_before {
            return None;
        }
        Some(Issuer {
            name: name.to_owned(),
            claim_rules: ClaimRules {
                issuer: iss,
                audiences,
                leeway,
                max_lifetime: spec.max_lifetime_seconds,
                required,
            },
            algorithms,
            keys: keys?,
            sources,
            forward,
            max_token_bytes,
            typ,
        })
    }

    fn issuer_keys(
        &mut self,
        spec: &IssuerSpec,
        access: bool,
        algorithms: &[Algorithm],
    ) -> Option<KeySource> {
        let cache_seconds = spec
            .jwks_cache_seconds
            .unwrap_or(DEFAULT_JWKS_CACHE_SECONDS);
        let min_refetch_seconds = spec
            .jwks_min_refetch_seconds
            .unwrap_or(DEFAULT_JWKS_MIN_REFETCH_SECONDS);
        if cache_seconds == 0 {
            self.diag(
                Severity::Warning,
                &["jwks_cache_seconds"],
                "a JWKS cache lifetime of 0 fetches the JWKS again for every request that carries a token: each waits for the issuer, and the issuer sees all your traffic".to_owned(),
                Some(format!("keys the issuer removes stop verifying when the JWKS is next fetched; the default is {DEFAULT_JWKS_CACHE_SECONDS}")),
            );
        }
        if min_refetch_seconds == 0 {
            // Nothing is gained over 1 s and the only limit on kid floods is lost: refused, not warned about.
            self.diag(
                Severity::Error,
                &["jwks_min_refetch_seconds"],
                "0 lets every token naming an unknown `kid` start a JWKS fetch: a flood of tokens with random kids becomes a flood of fetches to the issuer".to_owned(),
                Some(format!("use at least 1; the default is {DEFAULT_JWKS_MIN_REFETCH_SECONDS}")),
            );
        }
        let given = [
            spec.jwks.is_some() || access,
            spec.jwks_url.is_some(),
            spec.jwks_url_var.is_some(),
            !spec.hmac_secrets.is_empty(),
        ];
        match given.iter().filter(|g| **g).count() {
            0 => {
                self.error(
                    &[],
                    "give the issuer's keys: `jwks`, `jwks_url`, `jwks_url_var` or `hmac_secrets`"
                        .to_owned(),
                );
                return None;
            }
            1 => {}
            _ => {
                self.error(
                    &[],
                    "give exactly one of `jwks`, `jwks_url`, `jwks_url_var` and `hmac_secrets`"
                        .to_owned(),
                );
                return None;
            }
        }
        let hmac = !spec.hmac_secrets.is_empty();
        for (i, alg) in algorithms.iter().enumerate() {
            if alg.is_hmac() != hmac {
                let why = if hmac {
                    format!(
                        "`{alg}` is not an HMAC algorithm, but this issuer's keys are HMAC secrets"
                    )
                } else {
                    format!("`{alg}` needs an HMAC secret (`hmac_secrets`); an HMAC algorithm over public keys is the classic algorithm-confusion attack")
                };
                self.at(Segment::Key("algorithms".into()), |cx| {
                    cx.at(Segment::Index(i), |cx| cx.error(&[], why))
                });
            }
        }
        let remote = |url: JwksUrl| {
            KeySource::Remote(RemoteJwks {
                url,
                cache_seconds,
                min_refetch_seconds,
            })
        };
        if let Some(team) = spec.cloudflare_access.as_ref().map(|a| &a.team) {
            return Some(remote(JwksUrl::Fixed(format!(
                "https://{team}.cloudflareaccess.com/cdn-cgi/access/certs"
            ))));
        }
        if let Some(doc) = &spec.jwks {
            return self.key("jwks", |cx| match jwk::parse_jwks(doc, JwksMode::Bundled) {
                Ok(parsed) => {
                    if parsed.keys.is_empty() {
                        cx.error(&[], "the JWKS holds no keys".to_owned());
                        return None;
                    }
                    for (i, key) in parsed.keys.iter().enumerate() {
                        if !algorithms.iter().any(|a| key.suits(*a)) {
                            cx.at(Segment::Key("keys".into()), |cx| {
                                cx.at(Segment::Index(i), |cx| {
                                    cx.warn(&[], "this key suits none of the issuer's algorithms, so it is never used".to_owned())
                                })
                            });
                        }
                    }
                    Some(KeySource::Bundled(parsed.keys))
                }
                Err(e) => {
                    cx.error(&[], e.to_string());
                    None
                }
            });
        }
        if let Some(url) = &spec.jwks_url {
            if !jwks_url_allowed(url) {
                self.error(
                    &["jwks_url"],
                    format!(
                        "`{url}` must be an https:// URL (plain http only for loopback addresses)"
                    ),
                );
                return None;
            }
            return Some(remote(JwksUrl::Fixed(url.clone())));
        }
        if let Some(var) = &spec.jwks_url_var {
            return self
                .key("jwks_url_var", |cx| cx.binding_name(var))
                .map(|v| remote(JwksUrl::Var(v)));
        }
        let names: Vec<String> = self.key("hmac_secrets", |cx| {
            spec.hmac_secrets
                .iter()
                .enumerate()
                .filter_map(|(i, n)| cx.at(Segment::Index(i), |cx| cx.binding_name(n)))
                .collect()
        });
        Some(KeySource::HmacSecrets(names))
    }

    /// A Worker var or secret name: `[A-Za-z_][A-Za-z0-9_]*`.
    fn binding_name(&mut self, name: &str) -> Option<String> {
        let ok = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && name.len() <= 128;
        if !ok {
            self.error(
                &[],
                format!("`{name}` is not a Worker binding name (letters, digits and `_`)"),
            );
        }
        ok.then(|| name.to_owned())
    }

    /// A header name (RFC 9110 token), lower-cased. With `forwarded`, names the origin relies on for routing or
    /// authentication are refused.
    fn header_name(&mut self, name: &str, forwarded: bool) -> Option<String> {
        let token_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(token_char) {
            self.error(&[], format!("`{name}` is not a valid header name"));
            return None;
        }
        let lower = name.to_ascii_lowercase();
        const RESERVED: &[&str] = &[
            "host",
            "content-length",
            "transfer-encoding",
            "connection",
            "upgrade",
            "te",
            "trailer",
            "cookie",
            "authorization",
            "origin",
            "cf-connecting-ip",
            "x-forwarded-for",
        ];
        if forwarded && (RESERVED.contains(&lower.as_str()) || lower.starts_with("cf-")) {
            self.error(
                &[],
                format!("`{name}` cannot carry a claim: the origin or Cloudflare relies on it"),
            );
            return None;
        }
        Some(lower)
    }

    fn token_source(&mut self, spec: &TokenSourceSpec) -> Option<TokenSource> {
        match spec {
            TokenSourceSpec::AuthorizationBearer => Some(TokenSource::AuthorizationBearer),
            TokenSourceSpec::Header(h) => self
                .key("header", |cx| cx.header_name(h, false))
                .map(TokenSource::Header),
            TokenSourceSpec::Cookie(c) => {
                let ok = !c.is_empty()
                    && c.bytes()
                        .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
                if !ok {
                    self.error(&["cookie"], format!("`{c}` is not a valid cookie name"));
                }
                ok.then(|| TokenSource::Cookie(c.clone()))
            }
            TokenSourceSpec::Query(q) => {
                let ok = !q.is_empty()
                    && q.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
                if !ok {
                    self.error(
                        &["query"],
                        format!("`{q}` must be letters, digits, `-`, `.`, `_` or `~`"),
                    );
                }
                self.warn(
                    &["query"],
                    "tokens in URLs end up in logs and browser history; prefer a header or cookie"
                        .to_owned(),
                );
                ok.then(|| TokenSource::Query(q.clone()))
            }
        }
    }

    /// A claim path written as a string (see [`parse_claim_path`]), with a warning when it reads like one
    /// namespaced claim (`https://corp.example/roles`) split at its dots into names that never match.
    fn claim_path_str(&mut self, path: &str) -> Option<Vec<String>> {
        let parts = parse_claim_path(path)
            .map_err(|e| self.error(&[], e))
            .ok()?;
        if !path.contains('[') && parts.len() > 1 && path.contains([':', '/']) {
            let shown: Vec<String> = parts.iter().map(|p| format!("`{p}`")).collect();
            self.diag(
                Severity::Warning,
                &[],
                format!(
                    "claim path `{path}` is read as nested names {}; a namespaced claim named with dots never matches that",
                    shown.join(" > ")
                ),
                Some(format!("to name one claim whose name holds dots, write it in brackets: `[{path}]`")),
            );
        }
        Some(parts)
    }

    fn strip_headers(&mut self, file: &PolicyFile, issuers: &[Issuer]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (i, h) in file.internal_headers.iter().enumerate() {
            if let Some(name) = self.at(Segment::Index(i), |cx| cx.header_name(h, true)) {
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        for issuer in issuers {
            for f in &issuer.forward {
                if !out.contains(&f.header) {
                    out.push(f.header.clone());
                }
            }
        }
        out
    }

    fn token_cond(
        &mut self,
        spec: &file::TokenConditionSpec,
        names: &ListNames<'_>,
    ) -> Option<TokenCond> {
        let ids = self.key("issuer", |cx| {
            cx.resolve(
                std::slice::from_ref(&spec.issuer),
                &names.issuer,
                "issuer",
                Used::Issuer,
            )
        });
        if spec.claims.len() > MAX_CLAIM_PREDICATES {
            self.error(
                &["claims"],
                format!(
                    "{} claim tests is more than the {MAX_CLAIM_PREDICATES} allowed",
                    spec.claims.len()
                ),
            );
        }
        let claims: Vec<(Vec<String>, ClaimPredicate)> = self.key("claims", |cx| {
            spec.claims
                .iter()
                .enumerate()
                .filter_map(|(i, c)| cx.at(Segment::Index(i), |cx| cx.claim(c)))
                .collect()
        });
        Some(TokenCond {
            issuer: *ids.first()?,
            claims,
        })
    }

    fn claim(&mut self, spec: &ClaimSpec) -> Option<(Vec<String>, ClaimPredicate)> {
        let path = match &spec.claim {
            file::Names::One(p) => self.key("claim", |cx| cx.claim_path_str(p))?,
            file::Names::Many(parts) => {
                if parts.is_empty() || parts.iter().any(String::is_empty) {
                    self.error(
                        &["claim"],
                        "a claim path needs at least one non-empty name".to_owned(),
                    );
                    return None;
                }
                parts.clone()
            }
        };
        let scalar = |v: &serde_json::Value| !(v.is_array() || v.is_object());
        let mut tests: Vec<(&str, Option<ClaimPredicate>)> = Vec::new();
        if let Some(v) = &spec.equals {
            tests.push((
                "equals",
                scalar(v).then(|| ClaimPredicate::Equals(v.clone())),
            ));
        }
        if let Some(v) = &spec.one_of {
            let ok = !v.is_empty() && v.iter().all(scalar);
            tests.push(("one_of", ok.then(|| ClaimPredicate::OneOf(v.clone()))));
        }
        if let Some(v) = &spec.contains {
            tests.push((
                "contains",
                scalar(v).then(|| ClaimPredicate::Contains(v.clone())),
            ));
        }
        let words =
            |v: &Vec<String>| !v.is_empty() && v.iter().all(|w| !w.is_empty() && !w.contains(' '));
        if let Some(v) = &spec.has_all {
            tests.push((
                "has_all",
                words(v).then(|| ClaimPredicate::HasAll(v.clone())),
            ));
        }
        if let Some(v) = &spec.has_any {
            tests.push((
                "has_any",
                words(v).then(|| ClaimPredicate::HasAny(v.clone())),
            ));
        }
        if let Some(v) = spec.exists {
            tests.push(("exists", Some(ClaimPredicate::Exists(v))));
        }
        match tests.len() {
            1 => {}
            0 => {
                self.error(&[], "give one test: `equals`, `one_of`, `contains`, `has_all`, `has_any` or `exists`".to_owned());
                return None;
            }
            _ => {
                self.error(
                    &[],
                    "give exactly one test per claim entry (add another entry for another test)"
                        .to_owned(),
                );
                return None;
            }
        }
        match tests.pop() {
            Some((_, Some(pred))) => Some((path, pred)),
            Some((field, None)) => {
                let what = match field {
                    "has_all" | "has_any" => "a non-empty list of words without spaces",
                    "one_of" => "a non-empty list of strings, numbers, booleans or null",
                    _ => "a string, number, boolean or null",
                };
                self.error(&[field], format!("`{field}` takes {what}"));
                None
            }
            None => None,
        }
    }

    fn upstream(&mut self, file: &PolicyFile) -> UpstreamSettings {
        let timeout = file
            .upstream
            .timeout_seconds
            .unwrap_or(DEFAULT_UPSTREAM_TIMEOUT_SECONDS);
        if timeout == 0 || timeout > 300 {
            self.error(
                &["timeout_seconds"],
                format!("`{timeout}` must be 1 to 300 seconds"),
            );
        }
        UpstreamSettings {
            timeout_seconds: timeout,
            method_override: file.upstream.method_override,
        }
    }

    fn limit(&mut self, spec: &LimitSpec, names: &ListNames<'_>) -> Option<Limit> {
        let binding = self.key("binding", |cx| cx.binding_name(&spec.binding))?;
        let period = spec.period_seconds.unwrap_or(60);
        if period != 10 && period != 60 {
            self.error(
                &["period_seconds"],
                format!("`{period}` is not a period the Rate Limiting binding offers: 10 or 60"),
            );
        }
        let key = match &spec.key {
            None | Some(LimitKeySpec::ClientIp) => LimitKey::ClientIp,
            Some(LimitKeySpec::Header(h)) => LimitKey::Header(
                self.key("key", |cx| cx.key("header", |cx| cx.header_name(h, false)))?,
            ),
            Some(LimitKeySpec::Claim { issuer, claim }) => self.key("key", |cx| {
                cx.key("claim", |cx| {
                    let ids = cx.key("issuer", |cx| {
                        cx.resolve(
                            std::slice::from_ref(issuer),
                            &names.issuer,
                            "issuer",
                            Used::Issuer,
                        )
                    });
                    let path = match claim {
                        file::Names::One(p) => cx.key("claim", |cx| cx.claim_path_str(p))?,
                        file::Names::Many(parts) => parts.clone(),
                    };
                    Some(LimitKey::Claim {
                        issuer: *ids.first()?,
                        path,
                    })
                })
            })?,
        };
        let ipv6_prefix = spec.ipv6_prefix.unwrap_or(DEFAULT_LIMIT_IPV6_PREFIX);
        if !(32..=128).contains(&ipv6_prefix) {
            self.error(
                &["ipv6_prefix"],
                format!("`{ipv6_prefix}` must be 32 to 128 bits"),
            );
        }
        Some(Limit {
            binding,
            key,
            period_seconds: period,
            ipv6_prefix,
        })
    }

    fn cors(&mut self, spec: &CorsSpec, names: &ListNames<'_>) -> Option<Cors> {
        let origins = self.key("allow_origins", |cx| {
            cx.resolve(
                spec.allow_origins.as_slice(),
                &names.origin,
                "origin list",
                Used::Origin,
            )
        });
        let method_names = spec
            .allow_methods
            .clone()
            .unwrap_or_else(|| vec!["GET".into(), "HEAD".into(), "POST".into()]);
        let methods = self.key("allow_methods", |cx| {
            cx.patterns(&method_names, |m| {
                m.parse::<scope::Method>().map_err(|e| e.to_string())
            })
        });
        let methods_header = methods
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let headers: Vec<String> = self.key("allow_headers", |cx| {
            spec.allow_headers
                .iter()
                .enumerate()
                .filter_map(|(i, h)| cx.at(Segment::Index(i), |cx| cx.header_name(h, false)))
                .collect()
        });
        let expose: Vec<String> = self.key("expose_headers", |cx| {
            spec.expose_headers
                .iter()
                .enumerate()
                .filter_map(|(i, h)| cx.at(Segment::Index(i), |cx| cx.header_name(h, false)))
                .collect()
        });
        if spec.allow_credentials {
            // Never `*` with credentials: origin lists cannot hold `*`, but a wildcard subdomain pattern with
            // credentials trusts every subdomain with the user's cookies.
            for id in &origins {
                let wildcard = names
                    .origin
                    .get(*id)
                    .is_some_and(|n| self.origin_wildcards.contains(*n));
                if wildcard {
                    self.warn(
                        &["allow_credentials"],
                        "credentials are allowed for a list with wildcard origins: every matching subdomain can make credentialed requests".to_owned(),
                    );
                }
            }
        }
        let max_age = spec.max_age_seconds.unwrap_or(DEFAULT_CORS_MAX_AGE);
        if max_age > 86_400 {
            self.error(
                &["max_age_seconds"],
                "`max_age_seconds` must be at most 86400".to_owned(),
            );
        }
        Some(Cors {
            origins,
            methods_header,
            methods: MethodSet::new(methods),
            headers_header: headers.join(", "),
            headers,
            expose_header: expose.join(", "),
            credentials: spec.allow_credentials,
            max_age,
        })
    }

    fn unused_lists(&mut self, file: &PolicyFile) {
        let groups: [(&str, Vec<&String>, &BTreeSet<String>); 5] = [
            ("ip_lists", file.ip_lists.keys().collect(), &self.used_ip),
            (
                "origin_lists",
                file.origin_lists.keys().collect(),
                &self.used_origin,
            ),
            (
                "country_lists",
                file.country_lists.keys().collect(),
                &self.used_country,
            ),
            ("asn_lists", file.asn_lists.keys().collect(), &self.used_asn),
            ("issuers", file.issuers.keys().collect(), &self.used_issuer),
        ];
        let mut found = Vec::new();
        for (group, names, used) in groups {
            for name in names {
                if !used.contains(name) {
                    found.push((group, name.clone()));
                }
            }
        }
        for (group, name) in found {
            self.key(group, |cx| {
                cx.warn(
                    &[name.as_str()],
                    if group == "issuers" {
                        format!("issuer `{name}` is not used by any rule and forwards no claims")
                    } else {
                        format!("list `{name}` is not used by any rule")
                    },
                )
            });
        }
    }

    /// Warns about rules that can never decide because an earlier rule decides every request first (the plain
    /// cases: an earlier unconditional allow or deny), and about an unconditional allow ahead of denies.
    fn shadowing(&mut self, rules: &[Rule], file: &PolicyFile) {
        let mut catch_all: Option<&Rule> = None;
        for (i, rule) in rules.iter().enumerate() {
            let Some(spec) = file.rules.get(i) else { break };
            self.rule_id = Some(spec.id.clone());
            if let Some(earlier) = catch_all {
                self.at(Segment::Key("rules".to_owned()), |cx| {
                    cx.at(Segment::Index(i), |cx| {
                        let also = if earlier.action == Action::Allow
                            && rule.action != Action::Allow
                        {
                            " (an allow rule without conditions ahead of denies lets everything through)"
                        } else {
                            ""
                        };
                        cx.warn(
                            &[],
                            format!(
                                "this rule can never match: rule `{}` already decides every request{also}",
                                earlier.id
                            ),
                        )
                    })
                });
            }
            let decides_all = rule.when.is_none()
                && !rule.report_only
                && matches!(rule.action, Action::Allow | Action::Deny);
            if catch_all.is_none() && decides_all {
                catch_all = Some(rule);
            }
        }
        self.rule_id = None;
    }
}

/// Known list names, in table order, for resolving references.
struct ListNames<'a> {
    ip: Vec<&'a str>,
    origin: Vec<&'a str>,
    country: Vec<&'a str>,
    asn: Vec<&'a str>,
    issuer: Vec<&'a str>,
}

#[derive(Clone, Copy)]
enum Used {
    Ip,
    Origin,
    Country,
    Asn,
    Issuer,
}

#[cfg(test)]
mod tests;
