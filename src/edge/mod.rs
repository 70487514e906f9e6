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

use crate::engine::{render, split_url, Decision, HeaderList, RequestFacts, UnixTime, UrlParts};
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
    let facts = RequestFacts {
        method: &method,
        host: parts.host,
        path: parts.path,
        headers: &headers,
        country: country.as_deref(),
        asn: cf.and_then(|cf| cf.asn()),
        tokens: &tokens,
        limits: &NoLimits,
    };
    let decision = policy.evaluate(&facts, now);
    // Workers' clocks do not advance during synchronous work (a Spectre mitigation), so on Cloudflare this reads 0;
    // under `wrangler dev` it is the real evaluation time.
    let eval_us = ((js_sys::Date::now() - started) * 1000.0) as u64;
    log_decision(policy, &decision, &facts, &request_id, eval_us);
    if decision.blocks() {
        return deny(policy, &decision, &request_id, &method, parts.host);
    }
    forward(req, &url, parts, env, policy, &decision, &request_id).await
}

/// Sends the request on, streaming its body, and returns the upstream's response unchanged. Headers the policy
/// keeps for itself are removed first, and verified claims added.
async fn forward(
    req: Request,
    url: &str,
    parts: UrlParts<'_>,
    env: &Env,
    policy: &Policy,
    decision: &Decision<'_>,
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
    for name in policy.strip_headers() {
        headers.delete(name)?;
    }
    for (name, value) in &decision.identity {
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
    match worker::Fetch::Request(Request::from(outbound)).send().await {
        Ok(resp) => Ok(resp),
        Err(e) => {
            log_error("edge-access: upstream unreachable:", e);
            failure(502, "upstream_unavailable", request_id)
        }
    }
}

fn deny(
    policy: &Policy,
    decision: &Decision<'_>,
    request_id: &str,
    method: &str,
    host: &str,
) -> Result<Response> {
    let body = render::denial_body(decision, policy, request_id);
    let json = serde_json::to_vec(&body).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let mut resp = respond(
        decision.status,
        request_id,
        json,
        method.eq_ignore_ascii_case("HEAD"),
    )?;
    if let Some(challenge) = render::www_authenticate(decision, policy, host) {
        resp.headers_mut().set("www-authenticate", &challenge)?;
    }
    Ok(resp)
}

/// A JSON error the filter itself produced (upstream down, filter unavailable).
fn failure(status: u16, code: &str, request_id: &str) -> Result<Response> {
    let message = match status {
        502 => "The upstream service is unavailable",
        _ => "The service is temporarily unavailable",
    };
    let json = serde_json::json!({ "error": message, "code": code, "request_id": request_id });
    respond(status, request_id, json.to_string().into_bytes(), false)
}

fn respond(status: u16, request_id: &str, body: Vec<u8>, head: bool) -> Result<Response> {
    let headers = worker::Headers::new();
    headers.set("content-type", render::CONTENT_TYPE)?;
    for (name, value) in render::DENIAL_HEADERS {
        headers.set(name, value)?;
    }
    headers.set(render::REQUEST_ID_HEADER, request_id)?;
    let builder = Response::builder()
        .with_status(status)
        .with_headers(headers);
    Ok(if head {
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
    let line = serde_json::json!({
        "time": js_sys::Date::new_0().to_iso_string().as_string(),
        "request_id": request_id,
        "effect": match decision.effect { crate::engine::Effect::Allow => "allow", crate::engine::Effect::Deny => "deny" },
        "rule": decision.rule_id(),
        "code": decision.code,
        "status": decision.status,
        "report_only": decision.report_only,
        "would_deny": decision.would_deny(policy).collect::<Vec<_>>(),
        "method": facts.method,
        "host": facts.host,
        "path": facts.path,
        "country": facts.country,
        "client_ip": decision.client_ip.map(|ip| ip.to_string()),
        "policy": policy.fingerprint(),
        "eval_us": eval_us,
    });
    worker::console_log!("{line}");
}
