//! `edge-access explain`: decides one request as the Worker would and shows why.
//!
//! It prints the decision (status, reason code, the deciding rule), what the Worker would send (the denial with
//! its `WWW-Authenticate`, `Retry-After` and CORS headers, or the forward with claim headers added and internal
//! headers removed), the request as the rules saw it after normalisation, each issuer's token result, and every
//! rule in order with each condition's outcome as an indented tree. `--format json` gives the same as data.
//!
//! Tokens are verified natively with RustCrypto, with the keys the policy bundles, HMAC secrets from `--secret`
//! or the environment, and fetched JWKS from `--jwks` files; it never touches the network. Token claim values are
//! never printed, only whether each test held.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use edge_access::engine::{CondExplanation, DecidedBy, Effect, StepOutcome};
use serde_json::{json, Map, Value};

use super::keys::{keyring, KeySupply};
use super::request::{evaluate, load, Loaded, Outcome, RequestSpec, Verdict};
use super::time::{format_time, now, parse_time};
use super::{split_assignment, CliError, Style};

#[derive(clap::Args)]
pub struct Args {
    /// The policy file.
    #[arg(long, default_value = "policy.json")]
    pub policy: PathBuf,
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// The request URL, e.g. https://api.example.com/admin/users. The Worker sees the runtime's WHATWG-normalised
    /// serialisation of the URL; write it as a browser would send it.
    #[arg(long)]
    pub url: String,
    /// The client IP (sent as CF-Connecting-IP).
    #[arg(long)]
    pub ip: Option<String>,
    /// The Origin header.
    #[arg(long)]
    pub origin: Option<String>,
    /// A request header; repeatable. Repeated names are combined with ", " as the Fetch API does.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// request.cf.country, e.g. NL.
    #[arg(long)]
    pub country: Option<String>,
    /// request.cf.asn, e.g. 13335.
    #[arg(long)]
    pub asn: Option<u32>,
    /// The time of the request: RFC 3339 (2026-11-26T12:00:00Z) or Unix seconds. Default: now.
    #[arg(long)]
    pub now: Option<String>,
    /// An HMAC secret the policy names in `hmac_secrets`; repeatable. Secrets not given are read from the
    /// environment variable of the same name.
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    pub secrets: Vec<String>,
    /// A local JWKS file for an issuer whose JWKS the Worker fetches (jwks_url, jwks_url_var,
    /// cloudflare_access); repeatable.
    #[arg(long = "jwks", value_name = "ISSUER=FILE")]
    pub jwks: Vec<String>,
    /// Treat this `limit` rule as over its rate limit; repeatable.
    #[arg(long = "over-limit", value_name = "RULE_ID")]
    pub over_limit: Vec<String>,
    /// text: the decision and an indented trace; json: the same as one JSON document.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run(args: &Args, style: Style) -> Result<ExitCode, CliError> {
    let loaded = load(&args.policy, style)?;
    let mut supply = KeySupply {
        env: true,
        secret_flag: "--secret",
        jwks_flag: "--jwks",
        ..KeySupply::default()
    };
    for s in &args.secrets {
        let (name, value) = split_assignment(s, "--secret")?;
        supply.secrets.insert(name.to_owned(), value.to_owned());
    }
    for j in &args.jwks {
        let (issuer, path) = split_assignment(j, "--jwks")?;
        supply.jwks.insert(issuer.to_owned(), PathBuf::from(path));
    }
    let keys = keyring(&loaded.policy, &supply)?;
    for w in &keys.warnings {
        errln!("warning: {w}");
    }
    let mut headers = Vec::new();
    for h in &args.headers {
        headers.push(parse_header(h)?);
    }
    let now = match &args.now {
        Some(t) => parse_time(t).map_err(|e| CliError::Usage(e.to_string()))?,
        None => now(),
    };
    let spec = RequestSpec {
        method: args.method.clone(),
        url: args.url.clone(),
        ip: args.ip.clone(),
        origin: args.origin.clone(),
        headers,
        country: args.country.clone(),
        asn: args.asn,
        now,
        over_limit: args.over_limit.clone(),
    };
    let outcome = evaluate(&loaded, &keys, &spec)?;
    match args.format {
        Format::Text => out!("{}", render_text(&loaded, &spec, &outcome)),
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&render_json(&loaded, &spec, &outcome))
                .unwrap_or_default()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// `Name: value`, split at the first colon.
pub fn parse_header(text: &str) -> Result<(String, String), CliError> {
    match text.split_once(':') {
        Some((name, value))
            if !name.trim().is_empty() && !name.trim().contains(char::is_whitespace) =>
        {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(CliError::Usage(format!(
            "header `{text}` must be written `Name: value`"
        ))),
    }
}

/// What a rule did, in words.
pub fn outcome_words(o: StepOutcome) -> &'static str {
    match o {
        StepOutcome::NotApplicable => "does not apply",
        StepOutcome::Allowed => "allows: decides",
        StepOutcome::Denied => "denies: decides",
        StepOutcome::RequirementMet => "requirement met, goes on",
        StepOutcome::RequirementFailed => "requirement failed: decides",
        StepOutcome::WouldAllow => "would allow (report-only), goes on",
        StepOutcome::WouldDeny => "would deny (report-only), goes on",
        StepOutcome::WithinLimit => "within its rate limit, goes on",
        StepOutcome::OverLimit => "over its rate limit: decides",
    }
}

fn outcome_name(o: StepOutcome) -> &'static str {
    match o {
        StepOutcome::NotApplicable => "not_applicable",
        StepOutcome::Allowed => "allowed",
        StepOutcome::Denied => "denied",
        StepOutcome::RequirementMet => "requirement_met",
        StepOutcome::RequirementFailed => "requirement_failed",
        StepOutcome::WouldAllow => "would_allow",
        StepOutcome::WouldDeny => "would_deny",
        StepOutcome::WithinLimit => "within_limit",
        StepOutcome::OverLimit => "over_limit",
    }
}

/// Who decided, as `(kind, rule id)`.
pub fn decided_by(d: &DecidedBy<'_>) -> (&'static str, Option<String>) {
    match d {
        DecidedBy::Rule(id) => ("rule", Some((*id).to_owned())),
        DecidedBy::Default => ("default", None),
        DecidedBy::Precheck => ("precheck", None),
        DecidedBy::Cors => ("cors", None),
    }
}

fn decided_by_words(d: &DecidedBy<'_>) -> String {
    match d {
        DecidedBy::Rule(id) => format!("rule `{id}`"),
        DecidedBy::Default => "the default".to_owned(),
        DecidedBy::Precheck => "a check before the rules".to_owned(),
        DecidedBy::Cors => "the CORS preflight answer".to_owned(),
    }
}

fn mark(holds: bool) -> &'static str {
    if holds {
        "✓"
    } else {
        "✗"
    }
}

fn write_cond(out: &mut String, label: &str, c: &CondExplanation, indent: usize) {
    let pad = " ".repeat(indent);
    let detail = if c.detail.is_empty() {
        String::new()
    } else {
        format!(": {}", c.detail)
    };
    let _ = writeln!(out, "{pad}{label}{} {}{detail}", mark(c.holds), c.condition);
    for child in &c.children {
        write_cond(out, "", child, indent + 2);
    }
}

/// The decision, the Worker's answer and the trace, for people.
pub fn render_text(loaded: &Loaded, spec: &RequestSpec, outcome: &Outcome<'_>) -> String {
    let mut out = String::new();
    let action = &outcome.action;
    match &outcome.verdict {
        Verdict::Unavailable { issuer, why } => {
            let _ = writeln!(
                out,
                "FAIL CLOSED 503 filter_unavailable: the request carries a token for issuer `{issuer}`, whose keys cannot be had"
            );
            let _ = writeln!(out, "  {why}");
        }
        Verdict::Decided(e) => {
            let d = &e.decision;
            let verdict = match (d.effect, d.preflight) {
                (Effect::Allow, true) => "ALLOW 204 (CORS preflight)".to_owned(),
                (Effect::Allow, false) => "ALLOW".to_owned(),
                (Effect::Deny, _) => format!("DENY {}", d.status),
            };
            let _ = writeln!(
                out,
                "{verdict} {}, decided by {}",
                d.code,
                decided_by_words(&d.decided_by)
            );
            if d.code == "client_ip_missing" && spec.ip.is_none() {
                let _ = writeln!(
                    out,
                    "  (no --ip given: the Worker reads the client IP from CF-Connecting-IP)"
                );
            }
            if d.effect == Effect::Deny && d.report_only {
                let _ = writeln!(out, "  report-only: not enforced, the request is forwarded");
            }
            let would: Vec<String> = d
                .would_deny(&loaded.policy)
                .map(|id| format!("`{id}`"))
                .collect();
            if !would.is_empty() {
                let _ = writeln!(
                    out,
                    "  report-only rules that would deny: {}",
                    would.join(", ")
                );
            }
        }
    }
    match action.status {
        Some(status) => {
            let _ = writeln!(out, "  the Worker answers {status}:");
        }
        None => {
            let _ = writeln!(out, "  the Worker forwards the request to the origin");
        }
    }
    for (n, v) in &action.added {
        let _ = writeln!(out, "    + {n}: {v}   (added to the forwarded request)");
    }
    for n in &action.removed {
        let _ = writeln!(
            out,
            "    - {n}   (removed from the forwarded request: only the filter may set it)"
        );
    }
    for (n, v) in &action.response_headers {
        let _ = writeln!(out, "    {n}: {v}");
    }
    if let Some(body) = &action.body_text {
        let _ = writeln!(out, "    {body}");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "request: {} {} at {} ({})",
        spec.method,
        spec.url,
        format_time(outcome.now),
        outcome.now
    );
    if let Verdict::Decided(e) = &outcome.verdict {
        if let Some(seen) = &e.seen {
            let mut facts = vec![
                format!("client {}", seen.client_ip),
                format!("host {}", seen.host),
                format!("path {}", seen.path),
                format!("method {}", seen.method),
            ];
            if let Some(o) = &seen.origin {
                facts.push(format!("origin {o}"));
            }
            if let Some(c) = &spec.country {
                facts.push(format!("country {c}"));
            }
            if let Some(a) = spec.asn {
                facts.push(format!("asn {a}"));
            }
            let _ = writeln!(out, "  as the rules see it: {}", facts.join(", "));
        }
    }
    if !outcome.tokens.is_empty() {
        let _ = writeln!(out, "tokens:");
        for (issuer, result) in &outcome.tokens {
            let _ = writeln!(out, "  {issuer}: {result}");
        }
    }
    if let Verdict::Decided(e) = &outcome.verdict {
        if e.rules.is_empty() {
            let _ = writeln!(out, "rules: none ran");
        } else {
            let _ = writeln!(out, "rules, in order:");
        }
        for r in &e.rules {
            let flag = if r.report_only { ", report-only" } else { "" };
            let _ = writeln!(
                out,
                "  {}. {} [{}{flag}] {}",
                r.index + 1,
                r.id,
                r.action.as_str(),
                outcome_words(r.outcome)
            );
            match &r.when {
                Some(c) => write_cond(&mut out, "when: ", c, 7),
                None => {
                    let _ = writeln!(out, "       when: ✓ every request");
                }
            }
            if let Some(c) = &r.require {
                write_cond(&mut out, "require: ", c, 7);
            }
        }
        if !e.rules.is_empty() {
            let last = e.rules.last().map_or(0, |r| r.index + 1);
            for (i, id) in loaded.policy.rule_ids().enumerate().skip(last) {
                let _ = writeln!(out, "  {}. {id}: not reached", i + 1);
            }
        }
    }
    out
}

fn cond_json(c: &CondExplanation) -> Value {
    json!({
        "condition": c.condition,
        "holds": c.holds,
        "detail": c.detail,
        "children": c.children.iter().map(cond_json).collect::<Vec<_>>(),
    })
}

fn pairs_json(pairs: &[(String, String)]) -> Value {
    let mut map = Map::new();
    for (n, v) in pairs {
        map.insert(n.clone(), Value::String(v.clone()));
    }
    Value::Object(map)
}

/// The same as [`render_text`], as data.
pub fn render_json(loaded: &Loaded, spec: &RequestSpec, outcome: &Outcome<'_>) -> Value {
    let action = &outcome.action;
    let response = json!({
        "forwarded": action.forwarded,
        "status": action.status,
        "headers": pairs_json(&action.response_headers),
        "body": action.body,
        "added_headers": pairs_json(&action.added),
        "removed_headers": action.removed,
    });
    let request = json!({
        "method": spec.method,
        "url": spec.url,
        "now": outcome.now,
        "now_rfc3339": format_time(outcome.now),
    });
    let tokens: Vec<Value> = outcome
        .tokens
        .iter()
        .map(|(issuer, result)| json!({"issuer": issuer, "result": result}))
        .collect();
    match &outcome.verdict {
        Verdict::Unavailable { issuer, why } => json!({
            "request": request,
            "decision": {
                "effect": "deny",
                "blocks": true,
                "status": 503,
                "code": "filter_unavailable",
                "decided_by": "keys",
                "rule": null,
                "report_only": false,
                "would_deny": [],
            },
            "unavailable": {"issuer": issuer, "why": why},
            "response": response,
            "seen": null,
            "tokens": tokens,
            "rules": [],
            "not_reached": [],
        }),
        Verdict::Decided(e) => {
            let d = &e.decision;
            let (kind, rule) = decided_by(&d.decided_by);
            let rules: Vec<Value> = e
                .rules
                .iter()
                .map(|r| {
                    json!({
                        "index": r.index,
                        "id": r.id,
                        "action": r.action.as_str(),
                        "report_only": r.report_only,
                        "outcome": outcome_name(r.outcome),
                        "when": r.when.as_ref().map(cond_json),
                        "require": r.require.as_ref().map(cond_json),
                    })
                })
                .collect();
            let last = e.rules.last().map_or(0, |r| r.index + 1);
            let not_reached: Vec<&str> = if e.rules.is_empty() {
                Vec::new()
            } else {
                loaded.policy.rule_ids().skip(last).collect()
            };
            json!({
                "request": request,
                "decision": {
                    "effect": if d.effect == Effect::Allow { "allow" } else { "deny" },
                    "blocks": d.blocks(),
                    "status": d.status,
                    "code": d.code,
                    "decided_by": kind,
                    "rule": rule,
                    "report_only": d.report_only,
                    "would_deny": d.would_deny(&loaded.policy).collect::<Vec<_>>(),
                    "message": d.message,
                    "preflight": d.preflight,
                },
                "unavailable": null,
                "response": response,
                "seen": e.seen.as_ref().map(|s| json!({
                    "client_ip": s.client_ip,
                    "host": s.host,
                    "path": s.path,
                    "method": s.method,
                    "origin": s.origin,
                })),
                "tokens": tokens,
                "rules": rules,
                "not_reached": not_reached,
            })
        }
    }
}
