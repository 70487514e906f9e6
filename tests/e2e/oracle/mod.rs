//! The differential oracle (issue #13): the filter in front of real origins, each reading the same request its own
//! way. A generated corpus of requests (escaped reserved characters, dot segments, `//`, case, `.json` suffixes,
//! trailing dots, double encoding, method overrides, cookie and query spellings, duplicate headers, path-override
//! headers) goes through the real Worker to nginx, an Express app and PHP's built-in server
//! (`tests/e2e/origins/`), one Worker per origin (`ORIGIN_URL`).
//!
//! For every request the filter lets through, each origin must read it exactly as the filter matched it:
//! - the route: the filter's is the route table (`tests/e2e/origins/routes.json`) matched with the crate's own
//!   `PathPattern`s on `normalize_path` of the path the Worker saw (the target the origin received, which the
//!   Worker's decision log confirms); the origin's is the route it dispatched to;
//! - the method: the filter's is the request method (the e2e policy leaves `upstream.method_override` off, so
//!   overrides are ignored for matching); the origin's is the one it acts on after its own override handling;
//! - the token, wherever the filter read one that verifies: `token::jwt::extract` with the `oracle` issuer's
//!   sources on the headers and query the Worker saw; every place the origin reads a token from (its cookie and its
//!   query parameter) must hold that token or nothing.
//!
//! An origin refusing what the filter let through (404, 400) is tolerated and counted. A different route, method
//! or token is a failure naming the origin, the request, the filter's reading and the origin's. A request the
//! filter denied must never reach an origin (each origin records every request's `x-oracle-id`).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edge_access::engine::{HeaderList, HeaderSource};
use edge_access::policy::scope::{normalize_path, PathOptions, PathPattern};
use edge_access::policy::Policy;
use edge_access::token::jwt::{self, TokenSource};
use libtest_mimic::{Failed, Trial};
use serde_json::{json, Value};

use crate::support::origins::{load_routes, Origin, Route, RouteKind};
use crate::support::{JwtServer, RawRequest, Response, Wrangler};
use crate::Harness;

mod corpus;

use corpus::{corpus, Probe, OK_IP};

/// What the filter read: route, method, token.
#[derive(Debug)]
struct FilterReading {
    route: Option<String>,
    method: String,
    token: Result<Option<String>, String>,
}

/// The filter side of the oracle, computed with the crate itself from the policy the Worker was built with.
struct FilterModel {
    opts: PathOptions,
    routes: Vec<(String, PathPattern)>,
    sources: Vec<TokenSource>,
}

impl FilterModel {
    fn new(root: &Path, routes: &[Route]) -> Result<FilterModel, String> {
        let path = root.join("tests/e2e/policy.json");
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        let file: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let opts: PathOptions = match file.get("paths") {
            Some(p) => serde_json::from_value(p.clone()).map_err(|e| e.to_string())?,
            None => PathOptions::default(),
        };
        if opts.format_suffixes {
            // The engine then also matches each path without its suffix, which this model does not.
            return Err("the oracle's filter model does not read `paths.format_suffixes`".into());
        }
        let policy = Policy::compile(&text, "tests/e2e/policy.json")
            .map_err(|e| format!("{:?}", e.errors))?
            .policy;
        let sources = policy
            .issuers()
            .iter()
            .find(|i| i.name == "oracle")
            .ok_or("the e2e policy has no `oracle` issuer")?
            .sources
            .clone();
        let mut compiled = Vec::new();
        for r in routes {
            let p = match &r.kind {
                RouteKind::Exact(p) => PathPattern::exact(p, &opts),
                RouteKind::Prefix(p) => PathPattern::under(p, &opts),
                RouteKind::Glob(p) => PathPattern::glob(p, &opts),
            }
            .map_err(|e| format!("route `{}`: {e}", r.name))?;
            compiled.push((r.name.clone(), p));
        }
        Ok(FilterModel {
            opts,
            routes: compiled,
            sources,
        })
    }

    /// The filter's reading of a request it forwarded: `seen_target` is the path and query the Worker saw (and
    /// forwarded as is), `headers` what the client sent.
    fn read(
        &self,
        method: &str,
        seen_target: &str,
        headers: &[(String, String)],
    ) -> Result<FilterReading, String> {
        let (path, query) = match seen_target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (seen_target, None),
        };
        let normalized = normalize_path(path, &self.opts)
            .map_err(|e| format!("the filter would refuse `{path}` ({e}), yet it was forwarded"))?;
        // The engine matches without the trailing slash (`/login/` is `/login`).
        let trimmed = match normalized.strip_suffix('/') {
            Some(t) if !t.is_empty() => t,
            _ => &normalized,
        };
        let route = self
            .routes
            .iter()
            .find(|(_, p)| p.matches(trimmed))
            .map(|(n, _)| n.clone());
        let list = HeaderList::from_pairs(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let token = jwt::extract(&self.sources, |n| list.get(n), query)
            .map(|t| t.map(|t| t.into_owned()))
            .map_err(|e| format!("{e:?}"));
        Ok(FilterReading {
            route,
            method: method.to_owned(),
            token,
        })
    }
}

/// Tokens minted for the run, with their short names for messages.
struct Tokens {
    t1: String,
    t2: String,
}

impl Tokens {
    fn fill(&self, s: &str) -> String {
        // `{T1R}`: T1 without its first character (after an escaped copy of it in the corpus: `%65` is `e`).
        s.replace("{T1R}", self.t1.get(1..).unwrap_or_default())
            .replace("{T1}", &self.t1)
            .replace("{T2}", &self.t2)
    }

    fn short(&self, v: &str) -> String {
        let v = v.replace(&self.t1, "<T1>").replace(&self.t2, "<T2>");
        match self.t1.get(1..) {
            Some(rest) => v.replace(rest, "<T1 after its first character>"),
            None => v,
        }
    }

    /// Whether the filter would verify this token (both minted tokens are valid for the `oracle` issuer).
    fn valid(&self, t: &str) -> bool {
        t == self.t1 || t == self.t2
    }
}

/// Outcome counts of one origin's run.
#[derive(Default)]
struct Tally {
    sent: usize,
    denied: usize,
    agreed: usize,
    refused: Vec<String>,
    failures: Vec<String>,
    /// Disagreements on requests whose difference the README documents (see `Probe::documented`).
    documented: Vec<String>,
}

fn show_request(p: &Probe, tokens: &Tokens) -> String {
    let mut s = format!("{} {}", p.method, tokens.short(&tokens.fill(&p.target)));
    for (n, v) in &p.headers {
        if n == "CF-Connecting-IP" && v == OK_IP {
            continue;
        }
        let _ = write!(s, " | {n}: {}", tokens.short(&tokens.fill(v)));
    }
    if !p.body.is_empty() {
        let _ = write!(s, " | body {:?}", String::from_utf8_lossy(&p.body));
    }
    s.escape_debug().to_string()
}

/// An origin's token reading as a list of strings (a PHP or qs array shows as its JSON).
fn origin_tokens(reading: &Value) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for key in ["cookie_token", "query_token"] {
        match &reading[key] {
            Value::Null => {}
            Value::String(s) if s.is_empty() => {}
            Value::String(s) => out.push((key, s.clone())),
            other => out.push((key, other.to_string())),
        }
    }
    out
}

fn run_origin(h: &Harness, which: &'static str) -> Result<(), Failed> {
    let started = Instant::now();
    let root = &h.root;
    let routes = load_routes(root)?;
    let model = FilterModel::new(root, &routes)?;
    let jwt = JwtServer::start(root)?;
    let mut origin = match which {
        "nginx" => Origin::nginx(root, &routes),
        "express" => Origin::express(root),
        _ => Origin::php(root),
    }?;
    let worker = Wrangler::start(
        crate::options(root)
            .var("ORIGIN_URL", origin.base_url())
            .var("CORP_JWKS_URL", jwt.jwks_url())
            .var("ORACLE_JWKS_URL", jwt.jwks_url())
            .var("PARTNER_HMAC_SECRET", crate::PARTNER_SECRET),
    )
    .map_err(|e| Failed::from(format!("wrangler dev for the {which} oracle: {e}")))?;
    let mint = |sub: &str| {
        jwt.mint(
            "RS256",
            None,
            json!({ "iss": "https://oracle.test", "aud": "edge-access", "sub": sub,
                    "scope": "read write", "exp": 4_102_444_800u64 }),
        )
    };
    let tokens = Tokens {
        t1: mint("alice"),
        t2: mint("mallory"),
    };
    let probes = corpus(&routes);
    let tally = Mutex::new(Tally::default());
    let denied_ids = Mutex::new(Vec::new());
    let next = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(p) = probes.get(i) else { break };
                let id = format!("oracle-{which}-{i}");
                let outcome = probe_once(&worker, &origin, &model, &tokens, p, &id);
                let mut t = tally.lock().unwrap();
                t.sent += 1;
                match outcome {
                    Outcome::Denied => {
                        t.denied += 1;
                        denied_ids.lock().unwrap().push((id, p.name.clone()));
                    }
                    Outcome::Agreed => t.agreed += 1,
                    Outcome::Refused(why) => t.refused.push(why),
                    Outcome::Failed(why) => match p.documented {
                        Some(doc) => t.documented.push(format!("{why}\n    documented: {doc}")),
                        None => t.failures.push(why),
                    },
                }
            });
        }
    });
    let mut t = tally.into_inner().unwrap();
    // Denied requests never reach an origin.
    let seen = origin.seen();
    for (id, name) in denied_ids.into_inner().unwrap() {
        if seen.contains(&id) {
            t.failures.push(format!(
                "[{which}] `{name}`: the filter denied it, yet {which} received it"
            ));
        }
    }
    worker.shutdown();
    origin.stop();
    t.failures.sort();
    t.refused.sort();
    t.documented.sort();
    eprintln!(
        "oracle {which}: {} requests: {} denied by the filter, {} forwarded and read alike, {} refused by {which} (tolerated), {} documented differences, {} disagreements ({:.1} s)",
        t.sent,
        t.denied,
        t.agreed,
        t.refused.len(),
        t.documented.len(),
        t.failures.len(),
        started.elapsed().as_secs_f64()
    );
    for d in &t.documented {
        eprintln!("  documented difference: {d}");
    }
    if std::env::var_os("ORACLE_VERBOSE").is_some() {
        for r in &t.refused {
            eprintln!("  tolerated: {r}");
        }
    }
    if t.failures.is_empty() {
        return Ok(());
    }
    Err(Failed::from(format!(
        "{} of {} requests read differently by the filter and {which}:\n{}",
        t.failures.len(),
        t.sent,
        t.failures.join("\n")
    )))
}

enum Outcome {
    Denied,
    Agreed,
    Refused(String),
    Failed(String),
}

fn probe_once(
    worker: &Wrangler,
    origin: &Origin,
    model: &FilterModel,
    tokens: &Tokens,
    p: &Probe,
    id: &str,
) -> Outcome {
    let headers: Vec<(String, String)> = p
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), tokens.fill(v)))
        .collect();
    let mut req = RawRequest::new(p.method, tokens.fill(&p.target))
        .header("x-oracle-id", id)
        .header("CF-Ray", id);
    for (n, v) in &headers {
        req = req.header(n.clone(), v.clone());
    }
    req = req.body(p.body.clone());
    let shown = show_request(p, tokens);
    let name = &p.name;
    let which = origin.name;
    let resp: Response = match worker.send(&req) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(format!("[{which}] `{name}` {shown}: no response: {e}")),
    };
    if resp.header("x-oracle-origin").is_none() {
        // The filter answered itself: a denial (4xx JSON), never a failure of its own.
        return if (400..500).contains(&resp.status) {
            Outcome::Denied
        } else {
            Outcome::Failed(format!(
                "[{which}] `{name}` {shown}: the filter answered {}: {}",
                resp.status,
                resp.text()
            ))
        };
    }
    let Some(reading) = origin.reading(&resp) else {
        return Outcome::Failed(format!(
            "[{which}] `{name}` {shown}: unreadable echo {}: {}",
            resp.status,
            resp.text()
        ));
    };
    if resp.status == 404 || resp.status == 400 {
        return Outcome::Refused(format!("[{which}] `{name}` {shown}: {}", resp.status));
    }
    let Some(seen_target) = reading["request_uri"].as_str() else {
        return Outcome::Failed(format!(
            "[{which}] `{name}` {shown}: no request_uri in {reading}"
        ));
    };
    // The Worker's own decision log says what it saw: the path must be what the origin received.
    let log = worker.wait_for_json_log(|v| v["request_id"] == id, Duration::from_secs(10));
    let seen_path = seen_target.split('?').next().unwrap_or_default();
    match &log {
        Some(line) if line["path"] == seen_path && line["method"] == p.method => {}
        other => {
            return Outcome::Failed(format!(
                "[{which}] `{name}` {shown}: the Worker's decision log {other:?} does not match what {which} received (`{seen_target}`)"
            ))
        }
    }
    let filter = match model.read(p.method, seen_target, &headers) {
        Ok(f) => f,
        Err(e) => return Outcome::Failed(format!("[{which}] `{name}` {shown}: {e}")),
    };
    let mut wrong = Vec::new();
    let origin_route = reading["route"].as_str().map(str::to_owned);
    if origin_route != filter.route {
        wrong.push(format!(
            "route: filter {:?}, {which} {:?} (it read the path as {})",
            filter.route, origin_route, reading["uri"]
        ));
    }
    let origin_method = reading["method"].as_str().unwrap_or_default();
    if !origin_method.eq_ignore_ascii_case(&filter.method) {
        wrong.push(format!(
            "method: filter {}, {which} {origin_method}",
            filter.method
        ));
    }
    // Where the filter read a token that verifies, the origin must read that one or none. (A token the filter
    // would refuse never passes a rule that asks for one; on routes without such a rule it is not the filter's.)
    if let Some(t) = filter
        .token
        .as_ref()
        .ok()
        .and_then(Option::as_ref)
        .filter(|t| tokens.valid(t))
    {
        for (source, v) in origin_tokens(&reading) {
            if v != *t {
                wrong.push(format!(
                    "token: filter {}, {which} {source} {}",
                    tokens.short(t),
                    tokens.short(&v)
                ));
            }
        }
    }
    if wrong.is_empty() {
        return Outcome::Agreed;
    }
    let rule = match log.as_ref().map(|l| (&l["effect"], l["rule"].as_str())) {
        Some((effect, Some(rule))) => {
            format!("{} by rule `{rule}`", effect.as_str().unwrap_or("?"))
        }
        Some((effect, None)) => format!("{} by default", effect.as_str().unwrap_or("?")),
        None => String::new(),
    };
    Outcome::Failed(format!(
        "[{which}] `{name}` {shown} (forwarded to {which} as `{}`, {rule}; filter token {}): {}",
        tokens.short(seen_target),
        match &filter.token {
            Ok(Some(t)) => tokens.short(t),
            Ok(None) => "none".into(),
            Err(e) => e.clone(),
        },
        wrong.join("; ")
    ))
}

pub(crate) fn trials(h: &Arc<Harness>) -> Vec<Trial> {
    ["nginx", "express", "php"]
        .into_iter()
        .map(|which| {
            let h = Arc::clone(h);
            Trial::test(format!("oracle-{which}"), move || run_origin(&h, which))
        })
        .collect()
}
