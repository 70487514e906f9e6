//! One request through the same steps as the Worker, natively: keep only the headers the policy reads, verify
//! tokens (RustCrypto, keys from the [`Keyring`]), evaluate and explain, then work out what the Worker would
//! send (a denial with its headers, or a forward with claims added and internal headers removed). Shared by
//! `explain` and `test`, so both decide exactly alike.
//!
//! The Worker reads the URL as the runtime serialises it (WHATWG-normalised: `/a/../b` is already `/b`, `%7E` is
//! `~`); the CLI takes `--url` as given and only splits it ([`split_url`]), so write URLs as a browser would send
//! them.

use std::cell::RefCell;
use std::path::Path;

use edge_access::engine::{
    render, split_url, Explanation, HeaderList, HeaderSource, RequestFacts, TokenLookup, UnixTime,
};
use edge_access::policy::file::{ActionSpec, PolicyFile};
use edge_access::policy::Policy;
use edge_access::token::TokenError;
use edge_access::verify::now_or_never;
use edge_access::verify::request::{verify_tokens, TokenResults, VerifiedCache};
use edge_access::verify::rustcrypto::RustCryptoVerifier;
use serde_json::Value;

use super::keys::Keyring;
use super::{check, did_you_mean, CliError, Style};

/// The request id a denial carries when the request has no `CF-Ray` header.
pub const REQUEST_ID: &str = "cli-request";

/// A compiled policy with the file it came from.
pub struct Loaded {
    pub policy: Policy,
    pub file: PolicyFile,
    pub name: String,
}

/// Reads and compiles a policy; an invalid one is reported on standard error (as `check` would) and fails.
pub fn load(path: &Path, style: Style) -> Result<Loaded, CliError> {
    let text = super::read_text(path)?;
    let name = path.display().to_string();
    match Policy::compile(&text, &name) {
        Ok(compiled) => {
            let file: PolicyFile = serde_json::from_str(&text)
                .map_err(|e| CliError::Failed(format!("`{name}` could not be read again: {e}")))?;
            Ok(Loaded {
                policy: compiled.policy,
                file,
                name,
            })
        }
        Err(e) => {
            let warnings = check::without_echoes(&e.errors, e.warnings);
            let mut all = e.errors;
            all.extend(warnings);
            errout!(
                "{}",
                check::render_human(&all, &text, &name, style.color_stderr)
            );
            Err(CliError::Failed(format!(
                "`{name}` is not a valid policy (see `edge-access check {name}`)"
            )))
        }
    }
}

/// A request as the user describes it.
#[derive(Debug, Clone, Default)]
pub struct RequestSpec {
    pub method: String,
    pub url: String,
    /// Sent as `CF-Connecting-IP`.
    pub ip: Option<String>,
    /// Sent as `Origin`.
    pub origin: Option<String>,
    /// Other headers, in order (repeated names are combined as the Fetch API does).
    pub headers: Vec<(String, String)>,
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub now: u64,
    /// Ids of `limit` rules whose limit the request is over.
    pub over_limit: Vec<String>,
}

/// What happened to one request.
pub struct Outcome<'p> {
    pub now: u64,
    /// The engine's decision and explanation, or the failure that stopped the Worker before it.
    pub verdict: Verdict<'p>,
    /// Per issuer (policy order): its name and `valid` or the token error code.
    pub tokens: Vec<(String, &'static str)>,
    /// What the Worker sends.
    pub action: WorkerAction,
}

/// The engine's answer, or the fail-closed 503 when an issuer's keys could not be had.
pub enum Verdict<'p> {
    Decided(Box<Explanation<'p>>),
    Unavailable { issuer: String, why: String },
}

/// What the Worker would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerAction {
    /// Sent on to the origin (allowed, or a denial that is report-only).
    pub forwarded: bool,
    /// The status the filter answers with; `None` when forwarded (the origin's status is what the client sees).
    pub status: Option<u16>,
    /// The denial body, as data.
    pub body: Option<Value>,
    /// The denial body, byte for byte as the Worker sends it.
    pub body_text: Option<String>,
    /// Headers the filter sets on its answer, or adds to the origin's response (CORS).
    pub response_headers: Vec<(String, String)>,
    /// Headers added to the forwarded request (verified claims).
    pub added: Vec<(String, String)>,
    /// Request headers removed before forwarding (only those the request had).
    pub removed: Vec<String>,
}

impl WorkerAction {
    /// A header the filter sets, on its answer or on the forwarded request (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.response_headers
            .iter()
            .chain(&self.added)
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Runs one request through the policy.
pub fn evaluate<'p>(
    loaded: &'p Loaded,
    keyring: &Keyring,
    spec: &RequestSpec,
) -> Result<Outcome<'p>, CliError> {
    let policy = &loaded.policy;
    let Some(parts) = split_url(&spec.url) else {
        return Err(CliError::Usage(format!(
            "`{}` is not an absolute URL such as `https://api.example.com/path`",
            spec.url
        )));
    };
    let over: Vec<usize> = spec
        .over_limit
        .iter()
        .map(|id| limit_rule(loaded, id))
        .collect::<Result<_, _>>()?;
    let mut all = HeaderList::default();
    if let Some(ip) = &spec.ip {
        all.append("cf-connecting-ip", ip);
    }
    if let Some(origin) = &spec.origin {
        all.append("origin", origin);
    }
    for (name, value) in &spec.headers {
        all.append(name, value);
    }
    // The Worker copies only the headers the policy reads.
    let mut headers = HeaderList::default();
    for name in policy.header_names() {
        if let Some(value) = all.get(name) {
            headers.append(name, value);
        }
    }
    let now = UnixTime(spec.now);
    let request_id = all
        .get("cf-ray")
        .filter(|r| !r.is_empty() && r.len() <= 64 && r.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or(REQUEST_ID)
        .to_owned();
    let cache = RefCell::new(VerifiedCache::default());
    let verified = now_or_never(verify_tokens(
        policy,
        &headers,
        parts.query,
        now,
        keyring,
        &RustCryptoVerifier,
        &cache,
    ))
    .ok_or_else(|| CliError::Failed("token verification did not complete".to_owned()))?;
    let results = match verified {
        Ok(results) => results,
        Err(unavailable) => {
            let issuer_id = policy
                .issuers()
                .iter()
                .position(|i| i.name == unavailable.issuer);
            let why = issuer_id
                .and_then(|i| keyring.missing(i))
                .map_or(unavailable.detail.clone(), str::to_owned);
            return Ok(Outcome {
                now: spec.now,
                verdict: Verdict::Unavailable {
                    issuer: unavailable.issuer,
                    why,
                },
                tokens: Vec::new(),
                action: failure_action(&request_id),
            });
        }
    };
    let facts = RequestFacts {
        method: &spec.method,
        host: parts.host,
        path: parts.path,
        query: parts.query,
        headers: &headers,
        country: spec.country.as_deref(),
        asn: spec.asn,
        tokens: &results,
        limits: &over,
    };
    let explanation = policy.explain(&facts, now);
    let action = worker_action(policy, &explanation, &all, parts.host, &request_id);
    Ok(Outcome {
        now: spec.now,
        tokens: token_summary(policy, &results),
        verdict: Verdict::Decided(Box::new(explanation)),
        action,
    })
}

/// The position of a `limit` rule named by `--over-limit`.
fn limit_rule(loaded: &Loaded, id: &str) -> Result<usize, CliError> {
    let ids: Vec<&str> = loaded.policy.rule_ids().collect();
    let Some(index) = ids.iter().position(|r| *r == id) else {
        return Err(CliError::Usage(format!(
            "over-limit names rule `{id}`, which the policy does not have{}",
            did_you_mean(id, ids.iter().copied())
        )));
    };
    match loaded.file.rules.get(index).map(|r| r.action) {
        Some(ActionSpec::Limit) => Ok(index),
        _ => Err(CliError::Usage(format!(
            "over-limit names rule `{id}`, which is not a `limit` rule"
        ))),
    }
}

fn token_summary(policy: &Policy, results: &TokenResults) -> Vec<(String, &'static str)> {
    policy
        .issuers()
        .iter()
        .enumerate()
        .map(|(i, issuer)| {
            let status = match results.token(i) {
                Ok(_) => "valid",
                Err(e) => TokenError::code(e),
            };
            (issuer.name.clone(), status)
        })
        .collect()
}

/// The Worker's fail-closed answer.
fn failure_action(request_id: &str) -> WorkerAction {
    from_plan(
        render::failure(503, "filter_unavailable", request_id),
        &HeaderList::default(),
    )
}

/// What the Worker sends for a decision: the very plan the edge adapter carries out.
fn worker_action(
    policy: &Policy,
    explanation: &Explanation<'_>,
    request: &HeaderList,
    host: &str,
    request_id: &str,
) -> WorkerAction {
    // The CLI shows the body a GET would get; for HEAD the Worker sends the same headers without it.
    from_plan(
        render::plan(&explanation.decision, policy, host, request_id, false),
        request,
    )
}

fn from_plan(plan: render::Plan<'_>, request: &HeaderList) -> WorkerAction {
    let owned = |pairs: &[(&str, String)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.clone()))
            .collect()
    };
    match plan {
        render::Plan::Respond {
            status,
            headers,
            body,
        } => {
            let body_text = (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned());
            WorkerAction {
                forwarded: false,
                status: Some(status),
                body: body_text
                    .as_deref()
                    .and_then(|t| serde_json::from_str::<Value>(t).ok()),
                body_text,
                response_headers: owned(&headers),
                added: Vec::new(),
                removed: Vec::new(),
            }
        }
        render::Plan::Forward { strip, add, cors } => WorkerAction {
            forwarded: true,
            status: None,
            body: None,
            body_text: None,
            response_headers: owned(cors),
            added: owned(add),
            removed: request
                .iter()
                .map(|(name, _)| name)
                .filter(|name| render::is_stripped(strip, name))
                .map(str::to_owned)
                .collect(),
        },
    }
}
