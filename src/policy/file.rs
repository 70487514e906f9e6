//! The rules file as written by an operator: plain serde types, every struct `deny_unknown_fields`.
//!
//! Nothing here is trusted or checked beyond its JSON shape: [`super::compile`] turns a [`PolicyFile`] into the
//! immutable [`super::Policy`] and reports every semantic error with the rule id and field path. Field names are
//! chosen to read as plain English to someone who has never seen the project; the README documents each one.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The top level of a policy file.
#[derive(Debug, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Editors' JSON Schema hint; ignored by the compiler.
    #[serde(rename = "$schema", default)]
    pub schema: Option<String>,
    /// Format version; only `1` exists.
    pub version: u32,
    /// When true, no rule blocks anything: decisions are computed and logged, every request is forwarded.
    #[serde(default)]
    pub report_only: bool,
    /// Where the client IP comes from. Default: the `CF-Connecting-IP` header only.
    #[serde(default)]
    pub client_ip: ClientIpSpec,
    /// How request paths are normalised before matching.
    #[serde(default)]
    pub paths: PathSpec,
    /// What denial responses may reveal.
    #[serde(default)]
    pub responses: ResponsesSpec,
    /// Named lists of IPv4/IPv6 addresses and CIDRs.
    #[serde(default)]
    pub ip_lists: BTreeMap<String, Vec<String>>,
    /// Named lists of origins (`https://app.example.com`, `https://*.example.com`, `null`).
    #[serde(default)]
    pub origin_lists: BTreeMap<String, Vec<String>>,
    /// Named lists of ISO 3166-1 alpha-2 country codes as Cloudflare reports them (`request.cf.country`).
    #[serde(default)]
    pub country_lists: BTreeMap<String, Vec<String>>,
    /// Named lists of autonomous system numbers (`request.cf.asn`).
    #[serde(default)]
    pub asn_lists: BTreeMap<String, Vec<u32>>,
    /// Named token issuers: how their JWTs are found, verified and checked.
    #[serde(default)]
    pub issuers: BTreeMap<String, IssuerSpec>,
    /// Request headers the origin must only ever get from this filter: removed from every request before it is
    /// forwarded (the headers issuers forward claims in are removed too).
    #[serde(default)]
    pub internal_headers: Vec<String>,
    /// CORS at the edge: preflights answered here, allowed origins echoed on responses.
    #[serde(default)]
    pub cors: Option<CorsSpec>,
    /// Decision logs.
    #[serde(default)]
    pub logging: LoggingSpec,
    /// How allowed requests are sent on.
    #[serde(default)]
    pub upstream: UpstreamSpec,
    /// Ordered rules; the first that decides wins.
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    /// What happens when no rule decides. Required: a policy must say it.
    pub default: DefaultSpec,
}

/// `client_ip`: which header the client address is read from.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClientIpSpec {
    /// `cf-connecting-ip` (default) or `x-forwarded-for`.
    #[serde(default)]
    pub source: ClientIpSourceSpec,
    /// For `x-forwarded-for`: names of IP lists whose addresses are proxies we trust to append to the header.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
pub enum ClientIpSourceSpec {
    #[default]
    #[serde(rename = "cf-connecting-ip")]
    CfConnectingIp,
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
}

/// `paths`: normalisation switches; all default to false.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PathSpec {
    /// Treat `;` as an ordinary path character instead of refusing the request.
    #[serde(default)]
    pub allow_semicolons: bool,
    /// Compare paths case-insensitively (for origins such as IIS).
    #[serde(default)]
    pub case_insensitive: bool,
    /// Accept `%25` followed by two hex digits (`%252e`) instead of refusing the request (double encoding).
    #[serde(default)]
    pub allow_double_encoding: bool,
    /// Remove trailing dots and spaces from each segment before matching, as IIS does (`/admin.` is `/admin`).
    #[serde(default)]
    pub trailing_dots_and_spaces: bool,
    /// Path patterns also match the path without a format suffix (`/admin.json` as `/admin`), as Rails and Django
    /// REST framework route it.
    #[serde(default)]
    pub format_suffixes: bool,
}

/// `responses`: what a denial may reveal.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ResponsesSpec {
    /// Put the deciding rule's id in denial bodies (`"rule": "..."`). Default false.
    #[serde(default)]
    pub expose_rule_id: bool,
    /// The `realm` of `WWW-Authenticate` challenges. Default: the request's host.
    #[serde(default)]
    pub realm: Option<String>,
}

/// `cors`: which origins may call from browsers, with what.
#[derive(Debug, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CorsSpec {
    /// Origin lists whose origins may make cross-origin requests.
    pub allow_origins: Names,
    /// Methods a preflight may ask for. Default `["GET", "HEAD", "POST"]`.
    #[serde(default)]
    pub allow_methods: Option<Vec<String>>,
    /// Request headers a preflight may ask for (case-insensitive). Default none beyond the CORS-safelisted ones.
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// Response headers scripts may read. Default none.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// Send `Access-Control-Allow-Credentials: true`. Default false.
    #[serde(default)]
    pub allow_credentials: bool,
    /// `Access-Control-Max-Age` of preflight answers. Default 600.
    #[serde(default)]
    pub max_age_seconds: Option<u32>,
}

/// `logging`: what decision logs hold.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LoggingSpec {
    /// `full` (default), `truncated` (/24 for IPv4, /48 for IPv6) or `omitted`.
    #[serde(default)]
    pub client_ip: ClientIpLogging,
    /// Share of allowed requests logged, 0.0 to 1.0. Default 0.01. Denials, and allows that a report-only rule
    /// would have denied, are always logged.
    #[serde(default)]
    pub sample_allowed: Option<f64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClientIpLogging {
    #[default]
    Full,
    Truncated,
    Omitted,
}

/// `upstream`: how allowed requests are sent on.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    /// Seconds to wait for the upstream's response headers before answering 504. Default 30.
    #[serde(default)]
    pub timeout_seconds: Option<u32>,
    /// Honour `X-HTTP-Method-Override` (and `X-HTTP-Method`, `X-Method-Override`) when matching methods: the
    /// rules then see the overriding method. Default false: the headers are ignored for matching and removed
    /// before forwarding, so an origin cannot be told a method the rules did not see.
    #[serde(default)]
    pub method_override: bool,
    /// Pass on `X-Original-URL`, `X-Rewrite-URL` and the other headers some origins route by instead of the
    /// request line (IIS setups, older Symfony and Zend: the CVE-2018-14773 class; Spring's
    /// `X-Forwarded-Prefix`). Default false: they are removed from every request, because the rules matched the
    /// path, not them. Only set this when a proxy of yours behind the filter sets them itself.
    #[serde(default)]
    pub forward_path_override_headers: bool,
}

/// A rate limit: a Workers Rate Limiting binding and what counts as one client.
#[derive(Debug, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LimitSpec {
    /// The binding's name in wrangler.toml (`[[ratelimits]] name = "..."`).
    pub binding: String,
    /// What identifies a client. Default `"client_ip"`.
    #[serde(default)]
    pub key: Option<LimitKeySpec>,
    /// The binding's period (10 or 60), sent as `Retry-After`. Default 60.
    #[serde(default)]
    pub period_seconds: Option<u32>,
    /// How much of an IPv6 client address counts as one client (32 to 128). Default 64: one customer's network
    /// usually gets a whole /64, so counting /128s would hand a single client 2^64 keys. IPv4 addresses count whole.
    #[serde(default)]
    pub ipv6_prefix: Option<u8>,
}

/// What a rate limit counts by.
#[derive(Debug, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LimitKeySpec {
    /// The client IP.
    ClientIp,
    /// A request header's value (the client IP when the header is absent).
    Header(String),
    /// A verified claim (the client IP when the token is absent or invalid).
    Claim { issuer: String, claim: Names },
}

/// One token issuer.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct IssuerSpec {
    /// The exact `iss` its tokens carry.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Accepted `aud` values; a token must name at least one.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// The algorithms its tokens may use (pinned before any cryptography).
    #[serde(default)]
    pub algorithms: Vec<String>,
    /// A JWKS bundled in the policy (`{"keys": [...]}`), public keys only.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    /// A JWKS fetched by the Worker and cached per isolate.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// The name of a Worker var holding the JWKS URL (instead of `jwks_url`), held to the same rule at run time.
    #[serde(default)]
    pub jwks_url_var: Option<String>,
    /// How long a fetched JWKS is used before it is fetched again. Default 600; 0 (a fetch per request) is
    /// warned about.
    #[serde(default)]
    pub jwks_cache_seconds: Option<u64>,
    /// The least time between two fetches caused by unknown `kid`s. Default 60; at least 1.
    #[serde(default)]
    pub jwks_min_refetch_seconds: Option<u64>,
    /// Names of Worker secrets holding HMAC keys (`wrangler secret put NAME`); never the secrets themselves.
    #[serde(default)]
    pub hmac_secrets: Vec<String>,
    /// Clock leeway for `exp`, `nbf` and `iat`. Default 60.
    #[serde(default)]
    pub leeway_seconds: Option<u64>,
    /// Longest accepted `exp - iat`; tokens must then carry both.
    #[serde(default)]
    pub max_lifetime_seconds: Option<u64>,
    /// Claims every token must carry. Default `["exp"]`.
    #[serde(default)]
    pub required_claims: Option<Vec<String>>,
    /// Where tokens are looked for, in order. Default `["authorization_bearer"]`.
    #[serde(default)]
    pub token_from: Option<Vec<TokenSourceSpec>>,
    /// Claims passed to the origin on allowed requests: claim path -> header name. Dots separate nested names;
    /// a name holding dots goes in brackets (`"[https://corp.example/roles]"`). No header may carry two claims.
    #[serde(default)]
    pub forward_claims: BTreeMap<String, String>,
    /// Largest accepted token, in bytes. Default 8192.
    #[serde(default)]
    pub max_token_bytes: Option<usize>,
    /// The JOSE header `typ` every token must carry (RFC 9068 access tokens: `at+jwt`), compared
    /// case-insensitively with the `application/` prefix optional. Default: any `typ`, or none.
    #[serde(default)]
    pub typ: Option<String>,
    /// Cloudflare Access: fills in issuer, JWKS URL, algorithms and token sources from the team and AUD tag.
    #[serde(default)]
    pub cloudflare_access: Option<AccessSpec>,
}

/// `cloudflare_access`: the team name (`<team>.cloudflareaccess.com`) and the application's AUD tag.
#[derive(Debug, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AccessSpec {
    pub team: String,
    pub audience: String,
}

/// A place a token is looked for.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenSourceSpec {
    /// `Authorization: Bearer <token>` (RFC 6750).
    AuthorizationBearer,
    /// A request header holding the bare token.
    Header(String),
    /// A cookie holding the token.
    Cookie(String),
    /// A query parameter (only where the policy opts in: tokens in URLs end up in logs).
    Query(String),
}

/// A token condition: a valid token from `issuer` whose claims satisfy every predicate.
#[derive(Debug, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TokenConditionSpec {
    pub issuer: String,
    #[serde(default)]
    pub claims: Vec<ClaimSpec>,
}

/// One claim predicate: the claim's path and exactly one test.
#[derive(Debug, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClaimSpec {
    /// `"realm_access.roles"` (dots separate nested names; a name holding dots in brackets:
    /// `"[https://example.com/roles]"`) or `["https://example.com/roles"]` (one name per item).
    pub claim: Names,
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
    #[serde(default)]
    pub one_of: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub contains: Option<serde_json::Value>,
    #[serde(default)]
    pub has_all: Option<Vec<String>>,
    #[serde(default)]
    pub has_any: Option<Vec<String>>,
    #[serde(default)]
    pub exists: Option<bool>,
}

/// One rule.
#[derive(Debug, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    #[serde(default)]
    pub description: Option<String>,
    pub action: ActionSpec,
    /// Which requests the rule applies to; absent means every request.
    #[serde(default)]
    pub when: Option<ConditionSpec>,
    /// For `require`: what an applicable request must satisfy, else it is denied.
    #[serde(default)]
    pub require: Option<ConditionSpec>,
    /// Denial status: 403 (default), 401, 404 or 429.
    #[serde(default)]
    pub status: Option<u16>,
    /// Stable machine-readable reason code of the denial; derived from the conditions when absent.
    #[serde(default)]
    pub code: Option<String>,
    /// Public message of the denial; a generic one when absent.
    #[serde(default)]
    pub message: Option<String>,
    /// Log what the rule would decide, then carry on as if it had not matched.
    #[serde(default)]
    pub report_only: bool,
    /// For `limit` rules: the rate limit.
    #[serde(default)]
    pub limit: Option<LimitSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActionSpec {
    Allow,
    Deny,
    Require,
    /// Count the request against a rate limit; over the limit, deny (429 unless the rule says otherwise).
    Limit,
}

/// `default`: the decision when no rule decides.
#[derive(Debug, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DefaultSpec {
    pub action: DefaultActionSpec,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DefaultActionSpec {
    Allow,
    Deny,
}

/// A condition: an object with exactly one key.
#[derive(Debug, Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ConditionSpec {
    /// Every listed condition holds (an empty list holds).
    All(Vec<ConditionSpec>),
    /// At least one listed condition holds (an empty list never holds).
    Any(Vec<ConditionSpec>),
    /// The condition does not hold.
    Not(Box<ConditionSpec>),
    /// The client IP is in one of the named IP lists.
    ClientIpIn(Names),
    /// The request's `Origin` is in one of the named origin lists.
    OriginIn(Names),
    /// The request carries an `Origin` header (valid or not).
    HasOrigin(bool),
    /// `request.cf.country` is in one of the named country lists.
    CountryIn(Names),
    /// `request.cf.asn` is in one of the named ASN lists.
    AsnIn(Names),
    /// The request host is one of these (`api.example.com`, `*.example.com`).
    HostIs(Strings),
    /// The normalised path is exactly one of these.
    PathIs(Strings),
    /// The normalised path is one of these or below it, on a segment boundary.
    PathUnder(Strings),
    /// The normalised path matches one of these globs (`*` within a segment, `**` across segments).
    PathMatches(Strings),
    /// The method is one of these (compared case-insensitively).
    MethodIs(Strings),
    /// A valid token from the issuer whose claims satisfy the predicates.
    Token(TokenConditionSpec),
}

/// One list name or several: `"office"` or `["office", "vpn"]`.
#[derive(Debug)]
#[cfg_attr(not(target_arch = "wasm32"), derive(schemars::JsonSchema))]
#[cfg_attr(not(target_arch = "wasm32"), schemars(untagged))]
pub enum Names {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NamesVisitor;
        impl<'de> serde::de::Visitor<'de> for NamesVisitor {
            type Value = Names;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Names, E> {
                Ok(Names::One(v.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Names, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    out.push(item);
                }
                Ok(Names::Many(out))
            }
        }
        deserializer.deserialize_any(NamesVisitor)
    }
}

/// One string or several.
pub type Strings = Names;

impl Names {
    pub fn as_slice(&self) -> &[String] {
        match self {
            Names::One(one) => std::slice::from_ref(one),
            Names::Many(many) => many,
        }
    }
}
