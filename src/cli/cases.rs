//! `edge-access test POLICY CASES`: runs a cases file against a policy, like `opa test`.
//!
//! A cases file is JSON (documented in `examples/README.md`):
//!
//! ```json
//! { "secrets": {"NAME": "value"}, "jwks": {"issuer": "file.json"}, "defaults": {request fields},
//!   "cases": [ { "name": "...", "request": {...}, "expect": {...} } ] }
//! ```
//!
//! Each request is decided exactly as `explain` decides it (same keys, same verification, same engine); a
//! `token` in a request is minted by the CLI's own signer at the case's `now`. Every expectation that does not
//! hold is shown as expected-vs-actual; the run ends with `N passed, M failed` and exits 1 if any failed. A case
//! that cannot run (a bad URL, a key that does not fit) fails with the reason. A cases file that is not one is a
//! usage error (exit 2).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use edge_access::policy::file::TokenSourceSpec;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::explain::{decided_by, render_text};
use super::keys::{keyring, KeySupply, Keyring};
use super::request::{evaluate, load, Loaded, Outcome, RequestSpec, Verdict};
use super::sign::{self, PrivateKey};
use super::time::{now, parse_time};
use super::token::{hmac_key, parse_alg, read_private_jwk, set_claim};
use super::{CliError, Style};

#[derive(clap::Args)]
pub struct Args {
    /// The policy file.
    policy: PathBuf,
    /// The cases file (see examples/README.md for the format).
    cases: PathBuf,
    /// Run only the cases whose name contains this text.
    #[arg(long, value_name = "TEXT")]
    run: Option<String>,
    /// Show the full explanation (as `explain` prints it) under each failing case.
    #[arg(long, short)]
    verbose: bool,
    /// text: a line per case and the diffs; json: one document for CI.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// The cases file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CasesFile {
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    /// What the file is about.
    #[serde(rename = "description", default)]
    _description: Option<String>,
    /// HMAC secrets by Worker secret name (names not given are read from the environment).
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    /// JWKS files (relative to the cases file) for issuers whose JWKS the Worker fetches.
    #[serde(default)]
    jwks: BTreeMap<String, String>,
    /// Request fields every case starts from (a case's own fields win; `headers` objects are merged).
    #[serde(default)]
    defaults: Option<Map<String, Value>>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(rename = "description", default)]
    _description: Option<String>,
    request: Map<String, Value>,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestCase {
    #[serde(default = "get")]
    method: String,
    url: String,
    #[serde(default)]
    ip: Option<String>,
    #[serde(default)]
    origin: Option<String>,
    /// `{"Name": "value"}`, or `[["Name", "value"], ...]` / `["Name: value", ...]` for repeated names.
    #[serde(default)]
    headers: Option<Value>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    asn: Option<u32>,
    /// RFC 3339 or Unix seconds; default: the current time.
    #[serde(default)]
    now: Option<Value>,
    #[serde(default)]
    token: Option<TokenCase>,
    #[serde(default)]
    over_limit: Vec<String>,
}

/// A member that is present, `null` included (plain `Option` reads `null` as absent).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn get() -> String {
    "GET".to_owned()
}

/// A token the CLI mints for the case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenCase {
    /// Default: the key's own `alg`, else by key type (HS256 for secrets).
    #[serde(default)]
    alg: Option<String>,
    /// An HMAC secret, literally.
    #[serde(default)]
    secret: Option<String>,
    /// An HMAC secret by name: from the file's `secrets`, else the environment.
    #[serde(default)]
    secret_name: Option<String>,
    /// A private JWK, inline or as a file path relative to the cases file.
    #[serde(default)]
    private_jwk: Option<Value>,
    /// The claims; `iat` (= now) and `exp` (= now + ttl) are added unless given (`null` leaves one out).
    #[serde(default)]
    claims: Map<String, Value>,
    #[serde(default)]
    kid: Option<String>,
    /// Seconds until `exp`. Default 3600.
    #[serde(default)]
    ttl: Option<u64>,
    /// Where the token goes, in `token_from` terms. Default `"authorization_bearer"`.
    #[serde(default)]
    send_in: Option<TokenSourceSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// The decision's status: 200 allowed, 204 preflight, the denial's status (also when report-only), 503.
    #[serde(default)]
    status: Option<u16>,
    /// The decision's reason code (the real one: a 404 denial's body says `not_found`).
    #[serde(default)]
    code: Option<String>,
    /// The deciding rule's id; `null` for the default, a precheck or a failure.
    #[serde(default, deserialize_with = "present")]
    rule: Option<Value>,
    /// `rule`, `default`, `precheck`, `cors` or `keys`.
    #[serde(default)]
    decided_by: Option<String>,
    /// Whether the request goes on to the origin.
    #[serde(default)]
    forwarded: Option<bool>,
    /// Report-only rules that would have denied.
    #[serde(default)]
    would_deny: Option<Vec<String>>,
    /// Headers the filter sets on its answer or adds to the forwarded request; `null`: must be absent.
    #[serde(default)]
    headers: Option<BTreeMap<String, Option<String>>>,
    /// Token results by issuer: `valid` or a `token_*` code.
    #[serde(default)]
    tokens: Option<BTreeMap<String, String>>,
}

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mismatch {
    field: String,
    expected: String,
    actual: String,
}

/// How one case went.
struct Report {
    name: String,
    mismatches: Vec<Mismatch>,
    error: Option<String>,
    explanation: Option<String>,
}

impl Report {
    fn passed(&self) -> bool {
        self.error.is_none() && self.mismatches.is_empty()
    }
}

pub fn run(args: &Args, style: Style) -> Result<ExitCode, CliError> {
    let loaded = load(&args.policy, style)?;
    let text = super::read_text(&args.cases)?;
    let not_a_file = |why: String| {
        CliError::Usage(format!(
            "`{}` is not a cases file: {why}",
            args.cases.display()
        ))
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(_)) => {}
        Ok(_) => {
            return Err(not_a_file(
                "it must be a JSON object with a `cases` list".to_owned(),
            ))
        }
        Err(e) => return Err(not_a_file(e.to_string())),
    }
    let file: CasesFile = {
        let mut de = serde_json::Deserializer::from_str(&text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            not_a_file(if path == "." {
                inner.to_string()
            } else {
                format!("at `{path}`: {inner}")
            })
        })?
    };
    let base = args.cases.parent().unwrap_or(Path::new("")).to_path_buf();
    let supply = KeySupply {
        secrets: file.secrets.clone(),
        jwks: file
            .jwks
            .iter()
            .map(|(k, v)| (k.clone(), base.join(v)))
            .collect(),
        env: true,
        secret_flag: "the cases file's \"secrets\"",
        jwks_flag: "the cases file's \"jwks\"",
    };
    let keys = keyring(&loaded.policy, &supply)?;
    for w in &keys.warnings {
        errln!("warning: {w}");
    }
    let ctx = Context {
        loaded: &loaded,
        keys: &keys,
        secrets: &file.secrets,
        base: &base,
        defaults: file.defaults.as_ref(),
        verbose: args.verbose,
    };
    let reports: Vec<Report> = file
        .cases
        .iter()
        .filter(|c| {
            args.run
                .as_ref()
                .is_none_or(|r| c.name.contains(r.as_str()))
        })
        .map(|c| run_case(&ctx, c))
        .collect();
    let passed = reports.iter().filter(|r| r.passed()).count();
    let failed = reports.len() - passed;
    match args.format {
        Format::Text => out!("{}", render_text_report(&reports, passed, failed)),
        Format::Json => {
            let doc = json!({
                "policy": loaded.name,
                "passed": passed,
                "failed": failed,
                "cases": reports.iter().map(|r| json!({
                    "name": r.name,
                    "passed": r.passed(),
                    "error": r.error,
                    "mismatches": r.mismatches.iter().map(|m| json!({
                        "field": m.field, "expected": m.expected, "actual": m.actual,
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            });
            outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
    }
    if reports.is_empty() {
        return Err(CliError::Failed(match &args.run {
            Some(r) => format!("no case name contains `{r}`"),
            None => "the cases file has no cases".to_owned(),
        }));
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn render_text_report(reports: &[Report], passed: usize, failed: usize) -> String {
    let mut out = String::new();
    for r in reports {
        if r.passed() {
            let _ = writeln!(out, "PASS  {}", r.name);
            continue;
        }
        let _ = writeln!(out, "FAIL  {}", r.name);
        if let Some(e) = &r.error {
            let _ = writeln!(out, "      error: {e}");
        }
        let width = r
            .mismatches
            .iter()
            .map(|m| m.field.len())
            .max()
            .unwrap_or(0);
        for m in &r.mismatches {
            let _ = writeln!(
                out,
                "      {:<width$}  expected {}, got {}",
                format!("{}:", m.field),
                m.expected,
                m.actual,
                width = width + 1
            );
        }
        if let Some(explanation) = &r.explanation {
            for line in explanation.lines() {
                let _ = writeln!(out, "        | {line}");
            }
        }
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    out
}

struct Context<'a> {
    loaded: &'a Loaded,
    keys: &'a Keyring,
    secrets: &'a BTreeMap<String, String>,
    base: &'a Path,
    defaults: Option<&'a Map<String, Value>>,
    verbose: bool,
}

fn run_case(ctx: &Context<'_>, case: &Case) -> Report {
    let mut report = Report {
        name: case.name.clone(),
        mismatches: Vec::new(),
        error: None,
        explanation: None,
    };
    let spec = match request_spec(ctx, &case.request) {
        Ok(spec) => spec,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    match evaluate(ctx.loaded, ctx.keys, &spec) {
        Ok(outcome) => {
            report.mismatches = compare(&case.expect, &outcome, ctx.loaded);
            if ctx.verbose && !report.mismatches.is_empty() {
                report.explanation = Some(render_text(ctx.loaded, &spec, &outcome));
            }
        }
        Err(e) => report.error = Some(e.to_string()),
    }
    report
}

/// The case's request: defaults merged in, the token minted and placed.
fn request_spec(ctx: &Context<'_>, request: &Map<String, Value>) -> Result<RequestSpec, String> {
    let mut merged = ctx.defaults.cloned().unwrap_or_default();
    for (k, v) in request {
        match (merged.get_mut(k), v) {
            (Some(Value::Object(base)), Value::Object(over)) if k == "headers" => {
                for (hk, hv) in over {
                    base.insert(hk.clone(), hv.clone());
                }
            }
            _ => {
                merged.insert(k.clone(), v.clone());
            }
        }
    }
    let req: RequestCase =
        serde_json::from_value(Value::Object(merged)).map_err(|e| format!("request: {e}"))?;
    let now = match &req.now {
        None => now(),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| format!("request: `now` {n} is not Unix seconds"))?,
        Some(Value::String(s)) => parse_time(s).map_err(|e| format!("request: {e}"))?,
        Some(other) => return Err(format!("request: `now` {other} is not a time")),
    };
    let mut headers = match &req.headers {
        None => Vec::new(),
        Some(h) => headers_of(h)?,
    };
    let mut url = req.url.clone();
    if let Some(t) = &req.token {
        let token = mint(ctx, t, now)?;
        match t
            .send_in
            .clone()
            .unwrap_or(TokenSourceSpec::AuthorizationBearer)
        {
            TokenSourceSpec::AuthorizationBearer => {
                headers.push(("Authorization".to_owned(), format!("Bearer {token}")))
            }
            TokenSourceSpec::Header(name) => headers.push((name, token)),
            TokenSourceSpec::Cookie(name) => {
                headers.push(("Cookie".to_owned(), format!("{name}={token}")))
            }
            TokenSourceSpec::Query(name) => {
                let sep = if url.contains('?') { '&' } else { '?' };
                url = format!("{url}{sep}{name}={token}");
            }
        }
    }
    Ok(RequestSpec {
        method: req.method,
        url,
        ip: req.ip,
        origin: req.origin,
        headers,
        country: req.country,
        asn: req.asn,
        now,
        over_limit: req.over_limit,
    })
}

fn headers_of(value: &Value) -> Result<Vec<(String, String)>, String> {
    let bad = || {
        "request: `headers` must be an object of names to values, or a list of `[name, value]` pairs or `\"Name: value\"` strings".to_owned()
    };
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|v| (k.clone(), v.to_owned()))
                    .ok_or_else(bad)
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => super::explain::parse_header(s).map_err(|e| e.to_string()),
                Value::Array(pair) => match pair.as_slice() {
                    [Value::String(n), Value::String(v)] => Ok((n.clone(), v.clone())),
                    _ => Err(bad()),
                },
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

fn mint(ctx: &Context<'_>, t: &TokenCase, now: u64) -> Result<String, String> {
    let key: PrivateKey = match (&t.secret, &t.secret_name, &t.private_jwk) {
        (Some(s), None, None) => hmac_key(s.as_bytes()),
        (None, Some(name), None) => {
            let value = ctx
                .secrets
                .get(name)
                .cloned()
                .or_else(|| std::env::var(name).ok())
                .ok_or_else(|| {
                    format!(
                        "token: secret `{name}` is neither in \"secrets\" nor in the environment"
                    )
                })?;
            hmac_key(value.as_bytes())
        }
        (None, None, Some(Value::String(path))) => {
            read_private_jwk(&ctx.base.join(path)).map_err(|e| format!("token: {e}"))?
        }
        (None, None, Some(jwk)) => {
            sign::parse_private_jwk(jwk).map_err(|e| format!("token: private_jwk: {e}"))?
        }
        _ => {
            return Err(
                "token: give exactly one of `secret`, `secret_name` and `private_jwk`".to_owned(),
            )
        }
    };
    let alg = match &t.alg {
        Some(a) => parse_alg(a).map_err(|e| format!("token: {e}"))?,
        None => key.default_alg(),
    };
    let mut claims = Map::new();
    claims.insert("iat".into(), now.into());
    claims.insert(
        "exp".into(),
        now.saturating_add(t.ttl.unwrap_or(3600)).into(),
    );
    for (k, v) in &t.claims {
        set_claim(&mut claims, k, v.clone());
    }
    let kid = t.kid.as_deref().or(key.kid.as_deref());
    sign::mint(&key, alg, kid, &claims).map_err(|e| format!("token: {e}"))
}

fn shown(v: Option<&str>) -> String {
    match v {
        Some(s) => format!("`{s}`"),
        None => "none".to_owned(),
    }
}

/// Every expectation that does not hold.
fn compare(expect: &Expect, outcome: &Outcome<'_>, loaded: &Loaded) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut check = |field: &str, expected: String, actual: String| {
        if expected != actual {
            out.push(Mismatch {
                field: field.to_owned(),
                expected,
                actual,
            });
        }
    };
    let (status, code, kind, rule, would): (u16, &str, &str, Option<String>, Vec<String>) =
        match &outcome.verdict {
            Verdict::Unavailable { .. } => (503, "filter_unavailable", "keys", None, Vec::new()),
            Verdict::Decided(e) => {
                let d = &e.decision;
                let (kind, rule) = decided_by(&d.decided_by);
                (
                    d.status,
                    d.code,
                    kind,
                    rule,
                    d.would_deny(&loaded.policy).map(str::to_owned).collect(),
                )
            }
        };
    if let Some(s) = expect.status {
        check("status", s.to_string(), status.to_string());
    }
    if let Some(c) = &expect.code {
        check("code", format!("`{c}`"), format!("`{code}`"));
    }
    if let Some(r) = &expect.rule {
        let expected = match r {
            Value::String(s) => shown(Some(s)),
            Value::Null => shown(None),
            other => format!("{other} (not a rule id)"),
        };
        check("rule", expected, shown(rule.as_deref()));
    }
    if let Some(k) = &expect.decided_by {
        check("decided_by", format!("`{k}`"), format!("`{kind}`"));
    }
    if let Some(f) = expect.forwarded {
        check(
            "forwarded",
            f.to_string(),
            outcome.action.forwarded.to_string(),
        );
    }
    if let Some(w) = &expect.would_deny {
        let list = |v: &[String]| format!("[{}]", v.join(", "));
        check("would_deny", list(w), list(&would));
    }
    if let Some(headers) = &expect.headers {
        for (name, want) in headers {
            let have = outcome.action.header(name);
            check(
                &format!("header {}", name.to_ascii_lowercase()),
                shown(want.as_deref()),
                shown(have),
            );
        }
    }
    if let Some(tokens) = &expect.tokens {
        for (issuer, want) in tokens {
            let have = outcome
                .tokens
                .iter()
                .find(|(i, _)| i == issuer)
                .map(|(_, r)| *r);
            check(&format!("token {issuer}"), shown(Some(want)), shown(have));
        }
    }
    out
}
