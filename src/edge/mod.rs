//! The edge adapter: the only module that knows `worker` types.
//!
//! Request in, facts out; decision in, response out. It holds no policy logic: what to decide is the engine's,
//! which tokens verify is [`crate::verify::request`]'s, what a denial looks like is [`crate::engine::render`]'s.
//! Its own work is I/O: reading Worker secrets and vars, fetching JWKS documents, forwarding. It must fail
//! closed: anything unexpected (the policy did not load, no keys, a JS exception) ends in a JSON 503, never in a
//! forwarded request.

mod keys;

use std::rc::Rc;

use wasm_bindgen::JsCast;
use worker::{event, Context, Env, Request, Response, Result};

use std::time::Duration;

use futures_util::future::{select, Either};

use crate::engine::{
    render, split_url, Decision, Effect, HeaderList, NoLimits, RequestFacts, UnixTime, UrlParts,
};
use crate::policy::Policy;
use keys::Isolate;

/// Where allowed requests go: the request's own URL unless the `ORIGIN_URL` var names a base URL.
const ORIGIN_URL_VAR: &str = "ORIGIN_URL";

thread_local! {
    /// Per-isolate state: the verifier's imported keys, verified tokens, JWKS documents, HMAC secrets.
    static ISOLATE: Rc<Isolate> = Rc::new(Isolate::default());
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    console_error_panic_hook::set_once();
    match handle(req, &env).await {
        Ok(resp) => Ok(resp),
        Err(e) => {
            log_error("edge-access: failing closed:", e);
            failure(503, "filter_unavailable", &fallback_request_id())
        }
    }
}

async fn handle(req: Request, env: &Env) -> Result<Response> {
    let started = js_sys::Date::now();
    let request_id = request_id(&req);
    let policy = match crate::bundled::policy() {
        Ok(policy) => policy,
        Err(e) => {
            worker::console_error!("edge-access: the bundled policy did not load: {e}");
            return failure(503, "filter_unavailable", &request_id);
        }
    };
    let url = req.inner().url();
    let Some(parts) = split_url(&url) else {
        return Err(worker::Error::RustError(format!(
            "unreadable request URL `{url}`"
        )));
    };
    let method = req.inner().method();
    let mut headers = HeaderList::default();
    for name in policy.header_names() {
        if let Some(value) = req.headers().get(name)? {
            headers.append(name, &value);
        }
    }
    let now = UnixTime((started / 1000.0) as u64);
    let isolate = ISOLATE.with(Rc::clone);
    let tokens = match isolate
        .verify(policy, &headers, parts.query, now, env)
        .await
    {
        Ok(tokens) => tokens,
        Err(detail) => {
            worker::console_error!("edge-access: failing closed: {detail}");
            return failure(503, "filter_unavailable", &request_id);
        }
    };
    let cf = req.cf();
    let country = cf.and_then(|cf| cf.country());
    let mut facts = RequestFacts {
        method: &method,
        host: parts.host,
        path: parts.path,
        headers: &headers,
        country: country.as_deref(),
        asn: cf.and_then(|cf| cf.asn()),
        tokens: &tokens,
        limits: &NoLimits,
    };
    let over = match over_limits(policy, &facts, env).await {
        Ok(over) => over,
        Err(detail) => {
            worker::console_error!("edge-access: failing closed: {detail}");
            return failure(503, "filter_unavailable", &request_id);
        }
    };
    facts.limits = &over;
    let decision = policy.evaluate(&facts, now);
    // Workers' clocks do not advance during synchronous work (a Spectre mitigation), so on Cloudflare this reads 0;
    // under `wrangler dev` it is the real evaluation time.
    let eval_us = ((js_sys::Date::now() - started) * 1000.0) as u64;
    log_decision(policy, &decision, &facts, &request_id, eval_us);
    match render::plan(
        &decision,
        policy,
        parts.host,
        &request_id,
        method.eq_ignore_ascii_case("HEAD"),
    ) {
        render::Plan::Respond {
            status,
            headers,
            body,
        } => respond(status, &headers, body),
        render::Plan::Forward { strip, add, cors } => {
            forward(
                req,
                &url,
                parts,
                env,
                policy,
                (strip, add, cors),
                &request_id,
            )
            .await
        }
    }
}

/// Asks the Rate Limiting bindings for every limit rule that applies; returns the rules over their limit. A
/// binding that is missing or fails is an internal failure: the caller fails closed.
async fn over_limits(
    policy: &Policy,
    facts: &RequestFacts<'_>,
    env: &Env,
) -> std::result::Result<Vec<usize>, String> {
    let mut over = Vec::new();
    for check in policy.limit_checks(facts) {
        let limiter = env.rate_limiter(check.binding).map_err(|_| {
            format!(
                "rate limiting binding `{}` is not configured",
                check.binding
            )
        })?;
        let outcome = limiter
            .limit(check.key)
            .await
            .map_err(|_| format!("rate limiting binding `{}` failed", check.binding))?;
        if !outcome.success {
            over.push(check.rule);
        }
    }
    Ok(over)
}

/// Sends the request on, streaming its body, and returns the upstream's response unchanged. Headers the policy
/// keeps for itself are removed first, and verified claims added.
/// What a forward changes: request headers to remove and to set, CORS headers for the response.
type ForwardPlan<'a> = (
    &'a [String],
    &'a [(&'a str, String)],
    &'a [(&'static str, String)],
);

async fn forward(
    req: Request,
    url: &str,
    parts: UrlParts<'_>,
    env: &Env,
    policy: &Policy,
    (strip, add, cors): ForwardPlan<'_>,
    request_id: &str,
) -> Result<Response> {
    let target = match env.var(ORIGIN_URL_VAR) {
        Ok(base) => {
            let base = base.to_string();
            let mut target = base.trim_end_matches('/').to_owned();
            target.push_str(parts.path);
            if let Some(q) = parts.query {
                target.push('?');
                target.push_str(q);
            }
            target
        }
        Err(_) => url.to_owned(),
    };
    let inner = req.inner();
    let headers = web_sys::Headers::new_with_headers(&inner.headers())?;
    // Every spelling an origin would read as a stripped header goes: `X_Auth_Subject` too, not just
    // `X-Auth-Subject`.
    let mut doomed = Vec::new();
    if let Ok(Some(entries)) = js_sys::try_iter(&headers) {
        for entry in entries.flatten() {
            let name = js_sys::Array::from(&entry)
                .get(0)
                .as_string()
                .unwrap_or_default();
            if render::is_stripped(strip, &name) {
                doomed.push(name);
            }
        }
    }
    for name in doomed {
        headers.delete(&name)?;
    }
    for (name, value) in add {
        headers.set(name, value)?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method(&inner.method());
    init.set_headers(&headers);
    if let Some(body) = inner.body() {
        init.set_body(&body);
    }
    init.set_redirect(web_sys::RequestRedirect::Manual);
    let outbound = web_sys::Request::new_with_str_and_init(&target, &init)?;
    // The timeout covers the wait for the response headers only: a long streamed body is not cut off.
    let controller = worker::AbortController::default();
    let signal = controller.signal();
    let fetch = worker::Fetch::Request(Request::from(outbound));
    let send = fetch.send_with_signal(&signal);
    let timeout = worker::Delay::from(Duration::from_secs(u64::from(
        policy.upstream().timeout_seconds,
    )));
    futures_util::pin_mut!(send, timeout);
    let resp = match select(send, timeout).await {
        Either::Left((Ok(resp), _)) => resp,
        Either::Left((Err(e), _)) => {
            log_error("edge-access: upstream unreachable:", e);
            return failure(502, "upstream_unavailable", request_id);
        }
        Either::Right(((), _)) => {
            controller.abort();
            worker::console_error!("edge-access: upstream timed out");
            return failure(504, "upstream_timeout", request_id);
        }
    };
    if cors.is_empty() {
        return Ok(resp);
    }
    with_cors(resp, cors)
}

/// The upstream's response with the filter's CORS headers: its own `Access-Control-Allow-Origin` and
/// `-Credentials` are replaced (the policy decides which origins may read responses), `Vary` is extended.
/// The body streams through.
fn with_cors(resp: Response, cors: &[(&'static str, String)]) -> Result<Response> {
    let inner: web_sys::Response = resp.into();
    let headers = web_sys::Headers::new_with_headers(&inner.headers())?;
    headers.delete("access-control-allow-origin")?;
    headers.delete("access-control-allow-credentials")?;
    for (name, value) in cors {
        if *name == "vary" {
            headers.append(name, value)?;
        } else {
            headers.set(name, value)?;
        }
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(inner.status());
    init.set_status_text(&inner.status_text());
    init.set_headers(&headers);
    let out =
        web_sys::Response::new_with_opt_readable_stream_and_init(inner.body().as_ref(), &init)?;
    Ok(Response::from(out))
}

/// A JSON error the filter itself produced (upstream down or slow, filter unavailable).
fn failure(status: u16, code: &str, request_id: &str) -> Result<Response> {
    match render::failure(status, code, request_id) {
        render::Plan::Respond {
            status,
            headers,
            body,
        } => respond(status, &headers, body),
        render::Plan::Forward { .. } => Err(worker::Error::RustError(
            "a failure is never forwarded".into(),
        )),
    }
}

/// An answer the filter gives itself.
fn respond(status: u16, headers: &[(&'static str, String)], body: Vec<u8>) -> Result<Response> {
    let out = worker::Headers::new();
    for (name, value) in headers {
        out.set(name, value)?;
    }
    let builder = Response::builder().with_status(status).with_headers(out);
    Ok(if body.is_empty() {
        builder.empty()
    } else {
        builder.fixed(body)
    })
}

/// The `CF-Ray` id when present, otherwise a random one.
fn request_id(req: &Request) -> String {
    match req.headers().get("cf-ray") {
        Ok(Some(ray))
            if !ray.is_empty() && ray.len() <= 64 && ray.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            ray
        }
        _ => fallback_request_id(),
    }
}

fn fallback_request_id() -> String {
    js_sys::global()
        .unchecked_into::<web_sys::WorkerGlobalScope>()
        .crypto()
        .map(|c| c.random_uuid())
        .unwrap_or_else(|_| format!("{:x}", (js_sys::Math::random() * 1e15) as u64))
}

/// Hands the error to `console.error` as the JS value it is, without formatting it in Rust (which would link
/// float formatting into the Wasm for JS numbers).
fn log_error(context: &str, e: worker::Error) {
    web_sys::console::error_2(&context.into(), &wasm_bindgen::JsValue::from(e));
}

/// One JSON line per decision on `console.log`, which Workers Logs indexes.
fn log_decision(
    policy: &Policy,
    decision: &Decision<'_>,
    facts: &RequestFacts<'_>,
    request_id: &str,
    eval_us: u64,
) {
    let logging = policy.logging();
    // Denials and report-only denials are always logged; allows are sampled.
    if decision.effect == Effect::Allow && !logging.log_allowed(js_sys::Math::random()) {
        return;
    }
    let line = serde_json::json!({
        "time": js_sys::Date::new_0().to_iso_string().as_string(),
        "request_id": request_id,
        "effect": match decision.effect { Effect::Allow => "allow", Effect::Deny => "deny" },
        "rule": decision.rule_id(),
        "code": decision.code,
        "status": decision.status,
        "report_only": decision.report_only,
        "would_deny": decision.would_deny(policy).collect::<Vec<_>>(),
        "method": facts.method,
        "host": facts.host,
        "path": facts.path,
        "country": facts.country,
        "client_ip": decision.client_ip.and_then(|ip| logging.client_ip(ip)),
        "policy": policy.fingerprint(),
        "eval_us": eval_us,
    });
    worker::console_log!("{line}");
}
