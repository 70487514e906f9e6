//! The engine: `(Policy, RequestFacts, now) -> Decision`, pure and synchronous.
//!
//! It must never read a clock, do I/O, touch `worker` types or panic: the edge adapter and the CLI hand it the
//! facts of one request and render what it decides. Every denial it returns names the rule (or the built-in
//! check) that decided, a stable reason code and a status; the trace records what each rule considered.

mod facts;
pub mod render;

use std::net::IpAddr;

pub use facts::{
    split_url, HeaderList, HeaderSource, LimitLookup, NoLimits, NoTokens, RequestFacts,
    TokenLookup, UnixTime, UrlParts,
};

mod cors;
mod explain;
pub use explain::{CondExplanation, Explanation, RuleExplanation, SeenSummary};

use crate::policy::ip;
use crate::policy::origin::{self, RequestOrigin};
use crate::policy::scope;
use crate::policy::{
    codes, without_trailing_slash, Action, ClientIpSource, Cond, DefaultDecision, LeafKind,
    LimitKey, Policy, Rule, Status, TokenCond, DEFAULT_MESSAGE, METHOD_OVERRIDE_HEADERS,
    METHOD_OVERRIDE_PARAM,
};
use crate::token::jwt::{self, ClaimPredicate};
use crate::token::TokenError;

/// Most `X-Forwarded-For` elements read (right to left) before the header is refused.
pub const MAX_FORWARDED_HOPS: usize = 32;

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// What one rule did for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// Its `when` did not hold.
    NotApplicable,
    /// An allow rule matched and decided.
    Allowed,
    /// A deny rule matched and decided.
    Denied,
    /// A require rule applied and its requirement held; evaluation went on.
    RequirementMet,
    /// A require rule applied and its requirement failed: it decided a denial.
    RequirementFailed,
    /// A report-only rule would have allowed; evaluation went on.
    WouldAllow,
    /// A report-only rule would have denied; evaluation went on.
    WouldDeny,
    /// A limit rule applied and the request is within its limit; evaluation went on.
    WithinLimit,
    /// A limit rule applied and the request is over its limit: it decided a denial.
    OverLimit,
}

/// One entry of the trace: a rule (by position) and what it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub rule: usize,
    pub outcome: StepOutcome,
}

/// Who decided: a rule, the default, or a check that runs before any rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecidedBy<'p> {
    Rule(&'p str),
    Default,
    /// The request could not be evaluated safely (no client IP, an unsafe path).
    Precheck,
    /// A CORS preflight, answered from the policy's `cors` section.
    Cors,
}

/// One rate-limit check for the Worker to make: the rule, the binding to ask, and the key to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitCheck<'p> {
    pub rule: usize,
    pub binding: &'p str,
    pub key: String,
}

/// The `WWW-Authenticate` challenge a token denial carries (RFC 6750 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// No token was sent: `Bearer realm="..."`.
    TokenRequired,
    /// The token is invalid, expired, or for another issuer or audience: `error="invalid_token"`.
    InvalidToken,
    /// A valid token lacks a required scope: `error="insufficient_scope"`.
    InsufficientScope,
}

/// The engine's answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'p> {
    pub effect: Effect,
    pub decided_by: DecidedBy<'p>,
    /// Stable reason code (`ip_denied`, `no_rule_matched`, `allowed`, ...).
    pub code: &'p str,
    /// HTTP status of a denial; 200 for an allow (the upstream's status is what the client sees).
    pub status: u16,
    /// Public message of a denial.
    pub message: &'p str,
    /// A denial that is not enforced because the deciding rule or the whole policy is report-only.
    pub report_only: bool,
    /// The client IP the decision used, when there was one.
    pub client_ip: Option<IpAddr>,
    /// What each rule considered did, in order.
    pub trace: Vec<Step>,
    /// For token denials: the challenge to send.
    pub challenge: Option<Challenge>,
    /// For requests that go on to the origin: headers carrying verified claims (lower-case name, value).
    pub identity: Vec<(&'p str, String)>,
    /// For rate-limit denials: seconds for `Retry-After`.
    pub retry_after: Option<u32>,
    /// CORS headers for the response (the preflight answer, or the origin echo added to responses).
    pub cors: Vec<(&'static str, String)>,
    /// The request is a CORS preflight the filter answers itself (204 when allowed); it is never forwarded.
    pub preflight: bool,
}

impl Decision<'_> {
    /// True when the request must be turned away (a denial that is not report-only).
    pub fn blocks(&self) -> bool {
        self.effect == Effect::Deny && !self.report_only
    }

    /// The deciding rule's id, if a rule decided.
    pub fn rule_id(&self) -> Option<&str> {
        match self.decided_by {
            DecidedBy::Rule(id) => Some(id),
            _ => None,
        }
    }

    /// Whether this decision gets a log line, given a uniform random number in `[0, 1)`: denials (enforced or
    /// report-only) and allows that a report-only rule would have denied always do, so a staged rule's effect is
    /// never sampled away; plain allows at the policy's `logging.sample_allowed`.
    pub fn logged(&self, policy: &Policy, random: f64) -> bool {
        self.effect == Effect::Deny
            || self
                .trace
                .iter()
                .any(|s| s.outcome == StepOutcome::WouldDeny)
            || policy.logging().log_allowed(random)
    }

    /// Ids of report-only rules that would have denied this request.
    pub fn would_deny<'a>(&'a self, policy: &'a Policy) -> impl Iterator<Item = &'a str> + 'a {
        self.trace
            .iter()
            .filter(|s| s.outcome == StepOutcome::WouldDeny)
            .filter_map(|s| policy.rules.get(s.rule).map(|r| r.id.as_str()))
    }
}

/// The facts of the request as the rules see them, parsed once.
struct Seen<'a> {
    client_ip: IpAddr,
    origin: Option<RequestOrigin<'a>>,
    /// The `Origin` header as sent (for CORS echoes).
    origin_raw: Option<&'a str>,
    host: &'a str,
    path: std::borrow::Cow<'a, str>,
    /// With `paths.format_suffixes`: lengths of `path` without a format suffix (0: none), see
    /// [`scope::format_suffix_cuts`].
    suffix_cuts: [usize; 2],
    /// The method rules see: the request's, or an override the policy honours.
    method: std::borrow::Cow<'a, str>,
    country: Option<&'a str>,
    asn: Option<u32>,
    tokens: &'a dyn TokenLookup,
    limits: &'a dyn LimitLookup,
    headers: &'a dyn HeaderSource,
}

impl Seen<'_> {
    /// The normalised path, then its readings without a format suffix (`paths.format_suffixes`).
    fn paths(&self) -> impl Iterator<Item = &str> {
        let path: &str = &self.path;
        std::iter::once(path).chain(
            self.suffix_cuts
                .iter()
                .filter(|&&cut| cut > 0)
                .filter_map(move |&cut| path.get(..cut)),
        )
    }
}

/// Why a requirement failed: the code to report, and what kind of failure it was (which sets the status and
/// the challenge).
#[derive(Debug, Clone, Copy)]
struct Why {
    code: &'static str,
    kind: WhyKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WhyKind {
    /// Anything but a token.
    Plain,
    /// No token.
    TokenMissing,
    /// A token that did not verify or check out.
    TokenInvalid,
    /// A valid token whose claims fall short; `scope` when the failing claim is `scope`/`scp`.
    Claims { scope: bool },
}

impl Why {
    fn plain(code: &'static str) -> Why {
        Why {
            code,
            kind: WhyKind::Plain,
        }
    }
}

impl Policy {
    /// Decides one request. `now` is the caller's clock (the engine never reads one); token time checks already
    /// happened when the tokens were verified, so it is kept for rules that may need it.
    pub fn evaluate<'p>(&'p self, facts: &RequestFacts<'_>, now: UnixTime) -> Decision<'p> {
        let _ = now;
        let seen = match self.observe(facts) {
            Ok(seen) => seen,
            Err((code, client_ip)) => return self.precheck_denial(code, client_ip),
        };
        if let Some(preflight) = self.preflight(&seen) {
            return preflight;
        }
        let mut decision = self.decide(&seen);
        decision.cors = self.cors_headers(&seen);
        decision
    }

    /// The facts as the rules see them, or the precheck that refuses the request.
    fn observe<'a>(
        &self,
        facts: &RequestFacts<'a>,
    ) -> Result<Seen<'a>, (&'static str, Option<IpAddr>)> {
        let client_ip = self.client_ip(facts.headers).map_err(|code| (code, None))?;
        let host =
            scope::normalize_host(facts.host).ok_or((codes::HOST_INVALID, Some(client_ip)))?;
        let path = scope::normalize_path(facts.path, &self.path_options)
            .map_err(|_| (codes::PATH_INVALID, Some(client_ip)))?;
        // A trailing slash is not significant for matching: many origins serve `/login/` as `/login`, so a rule on
        // one must cover the other (patterns are compiled the same way).
        let path = match path {
            std::borrow::Cow::Borrowed(p) => std::borrow::Cow::Borrowed(without_trailing_slash(p)),
            std::borrow::Cow::Owned(p) => {
                std::borrow::Cow::Owned(without_trailing_slash(&p).to_owned())
            }
        };
        // A browser never sends an Origin that does not parse; one that does not is refused outright, so that a
        // malformed value cannot dodge a rule that denies listed origins.
        let origin_raw = facts.headers.get("origin");
        let origin = match origin_raw.map(origin::parse_request_origin) {
            None => None,
            Some(Ok(origin)) => Some(origin),
            Some(Err(_)) => return Err((codes::ORIGIN_INVALID, Some(client_ip))),
        };
        let method = self.method(facts).map_err(|code| (code, Some(client_ip)))?;
        let suffix_cuts = if self.path_options.format_suffixes {
            scope::format_suffix_cuts(&path)
        } else {
            [0, 0]
        };
        Ok(Seen {
            suffix_cuts,
            client_ip,
            origin,
            origin_raw: origin_raw.map(str::trim),
            host,
            path,
            method,
            country: facts.country,
            asn: facts.asn,
            tokens: facts.tokens,
            limits: facts.limits,
            headers: facts.headers,
        })
    }

    /// The method the rules see, or the precheck code that refuses the request. Frameworks honour a method
    /// override on `POST` only (Express's `method-override`, Symfony and Laravel): the overrides a policy honours
    /// are read there, must all name the same method and be one method token each; an override that differs from
    /// the method on any other request is refused, as is an override the policy does not honour where an origin
    /// would (a `_method` query parameter on `POST`). The override headers a policy does not honour never reach
    /// the origin (they are stripped).
    fn method<'a>(
        &self,
        facts: &RequestFacts<'a>,
    ) -> Result<std::borrow::Cow<'a, str>, &'static str> {
        use std::borrow::Cow;
        let post = facts.method.eq_ignore_ascii_case("POST");
        let query = facts
            .query
            .into_iter()
            .flat_map(|q| jwt::query_values(q, METHOD_OVERRIDE_PARAM));
        if !self.upstream.method_override {
            if post && query.count() > 0 {
                return Err(codes::METHOD_INVALID);
            }
            return Ok(Cow::Borrowed(facts.method));
        }
        let headers = METHOD_OVERRIDE_HEADERS
            .iter()
            .filter_map(|name| facts.headers.get(name))
            .map(|m| Some(Cow::Borrowed(m.trim_matches([' ', '\t']))));
        let params = query.map(|raw| jwt::form_decoded(raw).map(Cow::Owned));
        let mut chosen: Option<Cow<'a, str>> = None;
        for m in headers.chain(params) {
            // A header sent twice arrives as `a, b`, which is no method token: refused like any other.
            let Some(m) = m.filter(|m| m.parse::<scope::Method>().is_ok()) else {
                return Err(codes::METHOD_INVALID);
            };
            match &chosen {
                Some(first) if !first.eq_ignore_ascii_case(&m) => {
                    return Err(codes::METHOD_INVALID)
                }
                Some(_) => {}
                None => chosen = Some(m),
            }
        }
        match chosen {
            None => Ok(Cow::Borrowed(facts.method)),
            Some(m) if post => Ok(m),
            Some(m) if m.eq_ignore_ascii_case(facts.method) => Ok(Cow::Borrowed(facts.method)),
            Some(_) => Err(codes::METHOD_INVALID),
        }
    }

    /// Runs the rules in order.
    fn decide<'p>(&'p self, seen: &Seen<'_>) -> Decision<'p> {
        let client_ip = seen.client_ip;
        let mut trace = Vec::with_capacity(self.rules.len());
        for (i, rule) in self.rules.iter().enumerate() {
            let (outcome, verdict) = self.step(i, rule, seen);
            trace.push(Step { rule: i, outcome });
            if let Some(verdict) = verdict {
                return self.finish(rule, verdict, seen, trace);
            }
        }
        let mut decision = match &self.default {
            DefaultDecision::Allow => self.allow(DecidedBy::Default, client_ip, trace),
            DefaultDecision::Deny(denial) => Decision {
                effect: Effect::Deny,
                decided_by: DecidedBy::Default,
                code: denial
                    .code
                    .as_ref()
                    .map_or(codes::NO_RULE_MATCHED, |c| c.as_str()),
                status: denial.status.unwrap_or(Status::FORBIDDEN).get(),
                message: &denial.message,
                report_only: self.report_only,
                client_ip: Some(client_ip),
                trace,
                challenge: None,
                identity: Vec::new(),
                retry_after: None,
                cors: Vec::new(),
                preflight: false,
            },
        };
        if !decision.blocks() {
            decision.identity = self.identity(seen.tokens);
        }
        decision
    }

    /// What one rule does: its trace outcome and, when it decides, its verdict.
    fn step(&self, index: usize, rule: &Rule, seen: &Seen<'_>) -> (StepOutcome, Option<Verdict>) {
        let applies = rule.when.as_ref().is_none_or(|c| self.holds(c, seen));
        if !applies {
            return (StepOutcome::NotApplicable, None);
        }
        let verdict = match rule.action {
            Action::Allow => Verdict::Allow,
            Action::Deny => Verdict::Deny(Why::plain(rule.derived_code)),
            Action::Limit if !seen.limits.over_limit(index) => {
                return (StepOutcome::WithinLimit, None)
            }
            Action::Limit => Verdict::Deny(Why::plain(codes::RATE_LIMITED)),
            Action::Require => match &rule.require {
                Some(req) if self.holds(req, seen) => return (StepOutcome::RequirementMet, None),
                Some(req) => Verdict::Deny(self.why_not(req, seen)),
                // The compiler refuses a require rule without a requirement; fail closed all the same.
                None => Verdict::Deny(Why::plain(codes::ACCESS_DENIED)),
            },
        };
        if rule.report_only {
            let outcome = match verdict {
                Verdict::Allow => StepOutcome::WouldAllow,
                Verdict::Deny(_) => StepOutcome::WouldDeny,
            };
            return (outcome, None);
        }
        let outcome = match (rule.action, verdict) {
            (_, Verdict::Allow) => StepOutcome::Allowed,
            (Action::Require, Verdict::Deny(_)) => StepOutcome::RequirementFailed,
            (Action::Limit, Verdict::Deny(_)) => StepOutcome::OverLimit,
            (_, Verdict::Deny(_)) => StepOutcome::Denied,
        };
        (outcome, Some(verdict))
    }

    fn finish<'p>(
        &'p self,
        rule: &'p Rule,
        verdict: Verdict,
        seen: &Seen<'_>,
        trace: Vec<Step>,
    ) -> Decision<'p> {
        let why = match verdict {
            Verdict::Allow => {
                let mut d = self.allow(DecidedBy::Rule(&rule.id), seen.client_ip, trace);
                d.identity = self.identity(seen.tokens);
                return d;
            }
            Verdict::Deny(why) => why,
        };
        let hide = rule.denial.status == Some(Status::NOT_FOUND);
        let (status, challenge) = match why.kind {
            // A token problem is a 401 with a challenge, unless the rule hides the resource.
            WhyKind::TokenMissing if !hide => {
                (Status::UNAUTHORIZED, Some(Challenge::TokenRequired))
            }
            WhyKind::TokenInvalid if !hide => (Status::UNAUTHORIZED, Some(Challenge::InvalidToken)),
            WhyKind::Claims { scope: true } if !hide => (
                rule.denial.status.unwrap_or(Status::FORBIDDEN),
                Some(Challenge::InsufficientScope),
            ),
            _ => (rule.denial.status.unwrap_or(Status::FORBIDDEN), None),
        };
        let mut decision = Decision {
            effect: Effect::Deny,
            decided_by: DecidedBy::Rule(&rule.id),
            code: rule.denial.code.as_ref().map_or(why.code, |c| c.as_str()),
            status: status.get(),
            message: &rule.denial.message,
            report_only: self.report_only,
            client_ip: Some(seen.client_ip),
            trace,
            challenge,
            identity: Vec::new(),
            retry_after: rule.limit.as_ref().map(|l| l.period_seconds),
            cors: Vec::new(),
            preflight: false,
        };
        if !decision.blocks() {
            decision.identity = self.identity(seen.tokens);
        }
        decision
    }

    fn allow<'p>(
        &'p self,
        decided_by: DecidedBy<'p>,
        client_ip: IpAddr,
        trace: Vec<Step>,
    ) -> Decision<'p> {
        Decision {
            effect: Effect::Allow,
            decided_by,
            code: codes::ALLOWED,
            status: 200,
            message: "",
            report_only: false,
            client_ip: Some(client_ip),
            trace,
            challenge: None,
            identity: Vec::new(),
            retry_after: None,
            cors: Vec::new(),
            preflight: false,
        }
    }

    fn precheck_denial(&self, code: &'static str, client_ip: Option<IpAddr>) -> Decision<'_> {
        Decision {
            effect: Effect::Deny,
            decided_by: DecidedBy::Precheck,
            code,
            status: 403,
            message: DEFAULT_MESSAGE,
            report_only: self.report_only,
            client_ip,
            trace: Vec::new(),
            challenge: None,
            identity: Vec::new(),
            retry_after: None,
            cors: Vec::new(),
            preflight: false,
        }
    }

    /// The rate-limit checks this request needs: one per `limit` rule whose `when` holds. The Worker asks the
    /// named Rate Limiting bindings and passes the rules that are over their limit to [`Policy::evaluate`]. Every
    /// limit rule that applies counts the request, wherever it sits in the rule order. A request the prechecks
    /// refuse needs none.
    pub fn limit_checks<'p>(&'p self, facts: &RequestFacts<'_>) -> Vec<LimitCheck<'p>> {
        // Most policies have no limit rules: then the request is not observed twice.
        if self.rules.iter().all(|r| r.limit.is_none()) {
            return Vec::new();
        }
        let Ok(seen) = self.observe(facts) else {
            return Vec::new();
        };
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(i, rule)| {
                let limit = rule.limit.as_ref()?;
                if !rule.when.as_ref().is_none_or(|c| self.holds(c, &seen)) {
                    return None;
                }
                // Each source has its own prefix, so a header cannot be made to collide with an address.
                let by_ip = || client_key(seen.client_ip, limit.ipv6_prefix);
                let key = match &limit.key {
                    LimitKey::ClientIp => by_ip(),
                    LimitKey::Header(h) => seen
                        .headers
                        .get(h)
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map_or_else(by_ip, |v| format!("header:{v}")),
                    LimitKey::Claim { issuer, path } => seen
                        .tokens
                        .token(*issuer)
                        .ok()
                        .and_then(|claims| claims.get(path))
                        .and_then(header_value)
                        .map_or_else(by_ip, |v| format!("claim:{v}")),
                };
                Some(LimitCheck {
                    rule: i,
                    binding: &limit.binding,
                    key: format!("{}|{key}", rule.id),
                })
            })
            .collect()
    }

    /// Headers carrying verified claims, for every issuer that forwards claims and whose token verified.
    fn identity(&self, tokens: &dyn TokenLookup) -> Vec<(&str, String)> {
        let mut out = Vec::new();
        for (id, issuer) in self.issuers.iter().enumerate() {
            if issuer.forward.is_empty() {
                continue;
            }
            let Ok(claims) = tokens.token(id) else {
                continue;
            };
            for f in &issuer.forward {
                if let Some(value) = claims.get(&f.path).and_then(header_value) {
                    out.push((f.header.as_str(), value));
                }
            }
        }
        out
    }

    /// The client address, as the policy says to find it.
    fn client_ip(&self, headers: &dyn HeaderSource) -> Result<IpAddr, &'static str> {
        let peer = headers
            .get("cf-connecting-ip")
            .ok_or(codes::CLIENT_IP_MISSING)?;
        let mut peer = ip::parse_client_ip(peer).map_err(|_| codes::CLIENT_IP_INVALID)?;
        if is_pseudo_ipv4(peer) {
            // Cloudflare's Pseudo IPv4 ("overwrite headers") puts a class E address in CF-Connecting-IP and the real
            // IPv6 client in CF-Connecting-IPv6, which the edge sets itself in that mode. No real client has a class
            // E address, so without a valid IPv6 there the request is refused rather than matched as a pseudo one.
            peer = headers
                .get("cf-connecting-ipv6")
                .and_then(|v| ip::parse_client_ip(v).ok())
                .filter(IpAddr::is_ipv6)
                .ok_or(codes::CLIENT_IP_INVALID)?;
        }
        let ClientIpSource::XForwardedFor { trusted } = &self.client_ip else {
            return Ok(peer);
        };
        let is_trusted = |addr: IpAddr| {
            trusted.iter().any(|&id| {
                self.ip_lists
                    .get(id)
                    .is_some_and(|list| list.set.contains(addr))
            })
        };
        if !is_trusted(peer) {
            return Ok(peer);
        }
        let Some(forwarded) = headers.get("x-forwarded-for") else {
            return Ok(peer);
        };
        let mut last = peer;
        for (hop, element) in forwarded.rsplit(',').enumerate() {
            if hop >= MAX_FORWARDED_HOPS {
                return Err(codes::CLIENT_IP_INVALID);
            }
            let addr = ip::parse_client_ip(element).map_err(|_| codes::CLIENT_IP_INVALID)?;
            if !is_trusted(addr) {
                return Ok(addr);
            }
            last = addr;
        }
        Ok(last)
    }

    /// Whether a condition holds for this request.
    fn holds(&self, cond: &Cond, seen: &Seen<'_>) -> bool {
        match cond {
            Cond::All(cs) => cs.iter().all(|c| self.holds(c, seen)),
            Cond::Any(cs) => cs.iter().any(|c| self.holds(c, seen)),
            Cond::Not(c) => !self.holds(c, seen),
            Cond::ClientIpIn(ids) => ids.iter().any(|&id| {
                self.ip_lists
                    .get(id)
                    .is_some_and(|l| l.set.contains(seen.client_ip))
            }),
            Cond::OriginIn(ids) => seen.origin.as_ref().is_some_and(|origin| {
                ids.iter().any(|&id| {
                    self.origin_lists
                        .get(id)
                        .is_some_and(|(_, l)| l.matches(origin))
                })
            }),
            Cond::HasOrigin(want) => seen.origin.is_some() == *want,
            Cond::CountryIn(ids) => seen.country.is_some_and(|c| {
                ids.iter().any(|&id| {
                    self.country_lists
                        .get(id)
                        .is_some_and(|(_, l)| l.contains(c))
                })
            }),
            Cond::AsnIn(ids) => seen.asn.is_some_and(|a| {
                ids.iter()
                    .any(|&id| self.asn_lists.get(id).is_some_and(|(_, l)| l.contains(a)))
            }),
            Cond::HostIs(patterns) => patterns.iter().any(|p| p.matches_normalized(seen.host)),
            Cond::Path(patterns) => seen
                .paths()
                .any(|path| patterns.iter().any(|p| p.matches(path))),
            Cond::MethodIs(set) => set.contains(&seen.method),
            Cond::Token(t) => match seen.tokens.token(t.issuer) {
                Ok(claims) => t
                    .claims
                    .iter()
                    .all(|(path, pred)| jwt::predicate_holds(claims, path, pred)),
                Err(_) => false,
            },
        }
    }

    /// For a condition that does not hold: the leaf that made it fail, which names the denial.
    fn why_not(&self, cond: &Cond, seen: &Seen<'_>) -> Why {
        match cond {
            Cond::All(cs) => cs
                .iter()
                .find(|c| !self.holds(c, seen))
                .map_or(Why::plain(codes::ACCESS_DENIED), |c| self.why_not(c, seen)),
            Cond::Any(cs) => cs
                .first()
                .map_or(Why::plain(codes::ACCESS_DENIED), |c| self.why_not(c, seen)),
            Cond::Token(t) => token_why(t, seen.tokens),
            leaf => Why::plain(
                leaf.primary_leaf()
                    .map_or(codes::ACCESS_DENIED, LeafKind::reason),
            ),
        }
    }
}

/// Why a token condition failed: the token's own problem, or the first claim test that failed.
fn token_why(t: &TokenCond, tokens: &dyn TokenLookup) -> Why {
    match tokens.token(t.issuer) {
        Err(TokenError::Missing) => Why {
            code: TokenError::Missing.code(),
            kind: WhyKind::TokenMissing,
        },
        Err(e) => Why {
            code: e.code(),
            kind: WhyKind::TokenInvalid,
        },
        Ok(claims) => {
            let failing = t
                .claims
                .iter()
                .find(|(path, pred)| !jwt::predicate_holds(claims, path, pred));
            let scope = failing.is_some_and(|(path, pred)| {
                matches!(path.as_slice(), [name] if name == "scope" || name == "scp")
                    && matches!(
                        pred,
                        ClaimPredicate::HasAll(_)
                            | ClaimPredicate::HasAny(_)
                            | ClaimPredicate::Contains(_)
                    )
            });
            Why {
                code: codes::CLAIM_MISMATCH,
                kind: WhyKind::Claims { scope },
            }
        }
    }
}

/// The rate-limit key of a client address: IPv4 whole, IPv6 cut to its first `prefix` bits (`ip:2001:db8::/64`).
fn client_key(ip: IpAddr, prefix: u8) -> String {
    match ip {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            let net = std::net::Ipv6Addr::from(u128::from(v6) & mask);
            format!("ip:{net}/{prefix}")
        }
    }
}

/// Whether `ip` is in 240.0.0.0/4, where Cloudflare's Pseudo IPv4 maps IPv6 clients.
fn is_pseudo_ipv4(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.octets()[0] >= 240)
}

/// Longest claim value forwarded in a header, in bytes after encoding.
pub const MAX_IDENTITY_VALUE: usize = 4096;

/// A claim as a header value: strings (bytes outside printable ASCII, `%` and `,` percent-encoded so a value can
/// neither break the header, nor smuggle a second one, nor look like two list elements), numbers and booleans as
/// written, arrays of those joined with `,`: `["reader,admin"]` is `reader%2Cadmin`, `["reader", "admin"]` is
/// `reader,admin`. Objects, nulls and over-long values are not forwarded.
fn header_value(v: &serde_json::Value) -> Option<String> {
    fn scalar(v: &serde_json::Value, out: &mut String) -> Option<()> {
        match v {
            serde_json::Value::String(s) => {
                for b in s.bytes() {
                    if (b' '..=b'~').contains(&b) && b != b'%' && b != b',' {
                        out.push(char::from(b));
                    } else {
                        out.push_str(&format!("%{b:02X}"));
                    }
                }
                Some(())
            }
            serde_json::Value::Number(n) => {
                out.push_str(&n.to_string());
                Some(())
            }
            serde_json::Value::Bool(b) => {
                out.push_str(if *b { "true" } else { "false" });
                Some(())
            }
            _ => None,
        }
    }
    let mut out = String::new();
    match v {
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                scalar(item, &mut out)?;
            }
        }
        other => scalar(other, &mut out)?,
    }
    (out.len() <= MAX_IDENTITY_VALUE).then_some(out)
}

/// A rule's verdict: allow, or deny with the reason.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    Allow,
    Deny(Why),
}

#[cfg(test)]
mod tests;
