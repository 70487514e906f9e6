//! Edge behaviour through the real Worker: CORS preflights and origin echoes, rate limits through wrangler's
//! simulated Rate Limiting binding, the upstream timeout, method-override stripping, and the fail-closed paths
//! (a missing binding, a key WebCrypto cannot import).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libtest_mimic::{Failed, Trial};

use crate::support::{Case, RawRequest, Response};
use crate::{assert_denial, Harness};

const APP: &str = "https://app.example.com";

fn preflight(origin: &str, method: &str, headers: Option<&str>) -> RawRequest {
    let mut req = RawRequest::options("/web/items")
        .header("CF-Connecting-IP", "198.51.100.7")
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method);
    if let Some(h) = headers {
        req = req.header("Access-Control-Request-Headers", h);
    }
    req
}

fn cors_preflights(h: &Harness) -> Result<(), Failed> {
    let case = Case::new("cors-preflight-allowed", &h.wrangler, &h.upstream);
    let resp = case.send(preflight(APP, "PUT", Some("Content-Type, x-custom")));
    assert_eq!(resp.status, 204, "{resp:?}");
    assert_eq!(resp.header("access-control-allow-origin"), Some(APP));
    assert_eq!(
        resp.headers_named("access-control-allow-origin").len(),
        1,
        "one origin, never a list"
    );
    assert_eq!(
        resp.header("access-control-allow-methods"),
        Some("GET, POST, PUT, DELETE")
    );
    assert_eq!(
        resp.header("access-control-allow-headers"),
        Some("content-type, authorization, x-custom")
    );
    assert_eq!(resp.header("access-control-max-age"), Some("300"));
    assert_eq!(
        resp.header("access-control-allow-credentials"),
        Some("true")
    );
    assert!(
        resp.header("vary").unwrap_or("").contains("Origin"),
        "{resp:?}"
    );
    assert!(resp.body.is_empty());
    case.assert_upstream_untouched();

    let refused: [(&str, RawRequest); 5] = [
        (
            "cors-preflight-other-origin",
            preflight("https://evil.example", "GET", None),
        ),
        (
            "cors-preflight-look-alike",
            preflight("https://app.example.com.evil.net", "GET", None),
        ),
        ("cors-preflight-method", preflight(APP, "PATCH", None)),
        (
            "cors-preflight-header",
            preflight(APP, "POST", Some("content-type, x-evil")),
        ),
        ("cors-preflight-null", preflight("null", "GET", None)),
    ];
    for (name, req) in refused {
        let case = Case::new(name, &h.wrangler, &h.upstream);
        let resp = case.send(req);
        assert_denial(&resp, 403, "cors_denied", false, name);
        assert_eq!(
            resp.header("access-control-allow-origin"),
            None,
            "{name}: no CORS headers on a refusal"
        );
        assert_eq!(
            resp.header("access-control-allow-credentials"),
            None,
            "{name}"
        );
        case.assert_upstream_untouched();
    }

    // A plain OPTIONS without the preflight headers is an ordinary request for the rules.
    let case = Case::new("cors-plain-options", &h.wrangler, &h.upstream);
    let resp =
        case.send(RawRequest::options("/web/items").header("CF-Connecting-IP", "198.51.100.7"));
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(case.upstream_one().method, "OPTIONS");
    Ok(())
}

fn cors_on_responses(h: &Harness) -> Result<(), Failed> {
    // The upstream says `*`; the filter's policy decides: the one allowed origin is echoed instead.
    let case = Case::new("cors-echo", &h.wrangler, &h.upstream);
    let resp = case.send(
        RawRequest::get(
            "/__headers/access-control-allow-origin/*/__headers/vary/Accept-Encoding/web",
        )
        .header("CF-Connecting-IP", "198.51.100.7")
        .header("Origin", APP),
    );
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.headers_named("access-control-allow-origin"), vec![APP]);
    assert_eq!(
        resp.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        resp.header("access-control-expose-headers"),
        Some("x-request-id")
    );
    let vary = resp.headers_named("vary").join(", ");
    assert!(
        vary.contains("Accept-Encoding") && vary.contains("Origin"),
        "Vary keeps the upstream's and adds Origin: {vary}"
    );
    assert_eq!(resp.header("x-upstream"), Some("edge-access-test"));
    case.upstream_one();

    // An allowed origin can read a denial; a denial for anyone else carries no CORS headers.
    let case = Case::new("cors-on-denial", &h.wrangler, &h.upstream);
    let resp = case.send(
        RawRequest::get("/api/items")
            .header("CF-Connecting-IP", "198.51.100.7")
            .header("Origin", APP),
    );
    assert_denial(&resp, 401, "token_missing", false, "cors-on-denial");
    assert_eq!(resp.header("access-control-allow-origin"), Some(APP));
    case.assert_upstream_untouched();
    let case = Case::new("cors-denied-origin", &h.wrangler, &h.upstream);
    let resp = case.send(
        RawRequest::get("/web")
            .header("CF-Connecting-IP", "198.51.100.7")
            .header("Origin", "https://evil.example"),
    );
    assert_denial(&resp, 403, "origin_denied", false, "cors-denied-origin");
    assert_eq!(resp.header("access-control-allow-origin"), None);
    case.assert_upstream_untouched();
    Ok(())
}

/// `LOGIN_LIMITER`'s limit and period (the `[[ratelimits]]` block `crate::options` writes).
const LOGIN_LIMIT: usize = 3;
const LOGIN_PERIOD_MS: u128 = 60_000;

/// Milliseconds since the Unix epoch: the clock workerd's `Date.now()` reads on this machine.
fn epoch_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// Exact whatever the wall clock: wrangler dev simulates a Rate Limiting binding with fixed windows aligned to
/// the clock (miniflare's `ratelimit.worker.js`: the window is `floor(Date.now() / (period * 1000))`, all buckets
/// are cleared when it changes, a key is allowed while its count in the window is below the limit, refusals do not
/// count). So requests sent one after another within one period touch at most two windows, and among 2L+1 of them
/// (L the limit) some window gets more than L: a 429 must come. The first L always pass (no window has seen more
/// than L-1 of them before), and a 429 that comes later than request L+1 is only right if a window boundary fell
/// between the first request and the last one that passed.
fn rate_limits(h: &Harness) -> Result<(), Failed> {
    let login = |ip: &str, n: usize| {
        let case = Case::new(format!("limit-{ip}-{n}"), &h.wrangler, &h.upstream);
        let sent = epoch_ms();
        let resp = case.send(
            RawRequest::post("/login")
                .header("CF-Connecting-IP", ip)
                .body("u=1"),
        );
        (case, resp, sent, epoch_ms())
    };
    // The key is the client IP, used by no other case.
    let ip = "198.51.100.201";
    let first_sent = epoch_ms();
    let mut last_pass_received = first_sent;
    let mut refused = None;
    for n in 0..=2 * LOGIN_LIMIT {
        let (case, resp, _, received) = login(ip, n);
        if resp.status == 200 {
            case.upstream_one();
            last_pass_received = received;
            continue;
        }
        assert!(
            n >= LOGIN_LIMIT,
            "request {n} is within the limit of {LOGIN_LIMIT}: {resp:?}"
        );
        refused = Some((n, case, resp, received));
        break;
    }
    let Some((n, case, resp, received)) = refused else {
        panic!(
            "{} requests in a row all passed a limit of {LOGIN_LIMIT} per {LOGIN_PERIOD_MS} ms",
            2 * LOGIN_LIMIT + 1
        );
    };
    assert!(
        received - first_sent < LOGIN_PERIOD_MS,
        "the requests took {} ms, more than one period: the pigeonhole argument needs them within one",
        received - first_sent
    );
    assert_denial(&resp, 429, "rate_limited", false, "limit-over");
    assert_eq!(resp.header("retry-after"), Some("60"));
    case.assert_upstream_untouched();
    if n > LOGIN_LIMIT {
        // More than L passed: a window must have started between the first request and the last that passed.
        assert!(
            first_sent / LOGIN_PERIOD_MS < last_pass_received / LOGIN_PERIOD_MS,
            "{n} requests passed a limit of {LOGIN_LIMIT} with no window boundary between {first_sent} and {last_pass_received} ms"
        );
    }
    let (case, resp, _, _) = login("198.51.100.202", 0);
    assert_eq!(
        resp.status, 200,
        "another client has its own count: {resp:?}"
    );
    case.upstream_one();
    // Other paths are not counted.
    let case = Case::new("limit-other-path", &h.wrangler, &h.upstream);
    assert_eq!(
        case.send(RawRequest::get("/web").header("CF-Connecting-IP", ip))
            .status,
        200
    );
    Ok(())
}

fn fails_closed(h: &Harness) -> Result<(), Failed> {
    // A limit rule naming a binding wrangler.toml does not define: 503, nothing forwarded.
    let case = Case::new("fail-missing-binding", &h.wrangler, &h.upstream);
    let resp =
        case.send(RawRequest::get("/broken-limit").header("CF-Connecting-IP", "198.51.100.7"));
    assert_eq!(resp.status, 503, "{resp:?}");
    assert_eq!(resp.json()["code"], "filter_unavailable");
    case.assert_upstream_untouched();
    // A bundled key whose point is not on the curve passes the build (lengths are right) but WebCrypto refuses to
    // import it: 503, nothing forwarded.
    let case = Case::new("fail-key-import", &h.wrangler, &h.upstream);
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    let token = format!(
        "{}.{}.{}",
        b64(r#"{"alg":"ES256","kid":"broken-1"}"#),
        b64(r#"{"iss":"https://broken.test","aud":"edge-access","exp":4102444800}"#),
        URL_SAFE_NO_PAD.encode([7u8; 64])
    );
    let resp = case.send(
        RawRequest::get("/broken-key/x")
            .header("CF-Connecting-IP", "198.51.100.7")
            .header("X-Broken-Token", token.as_str()),
    );
    assert_eq!(resp.status, 503, "{resp:?}");
    assert_eq!(resp.json()["code"], "filter_unavailable");
    case.assert_upstream_untouched();
    // Tokens on demand: the same token on a path no rule reads it on is never verified, so the issuer's unusable
    // key fails nothing there (before, every present token was verified first and this was a 503 too).
    let case = Case::new("on-demand-unread-token", &h.wrangler, &h.upstream);
    let resp = case.send(
        RawRequest::get("/hello/on-demand")
            .header("CF-Connecting-IP", "198.51.100.7")
            .header("X-Broken-Token", token.as_str()),
    );
    assert_eq!(resp.status, 200, "{resp:?}");
    case.upstream_one();
    Ok(())
}

fn upstream_timeout(h: &Harness) -> Result<(), Failed> {
    // The e2e policy waits 2 s for the upstream's response headers.
    let case = Case::new("upstream-slow", &h.wrangler, &h.upstream);
    let started = Instant::now();
    let resp =
        case.send(RawRequest::get("/__slow/5000/x").header("CF-Connecting-IP", "198.51.100.7"));
    let took = started.elapsed();
    assert_eq!(resp.status, 504, "{resp:?}");
    assert_eq!(
        resp.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(resp.json()["code"], "upstream_timeout");
    assert!(
        took < Duration::from_millis(4500),
        "answered after {took:?}, before the upstream would have"
    );
    let case = Case::new("upstream-a-bit-slow", &h.wrangler, &h.upstream);
    let resp =
        case.send(RawRequest::get("/__slow/300/x").header("CF-Connecting-IP", "198.51.100.7"));
    assert_eq!(resp.status, 200, "{resp:?}");
    Ok(())
}

fn method_override_is_stripped(h: &Harness) -> Result<(), Failed> {
    let case = Case::new("method-override", &h.wrangler, &h.upstream);
    let resp = case.send(
        RawRequest::post("/web/items")
            .header("CF-Connecting-IP", "198.51.100.7")
            .header("X-HTTP-Method-Override", "DELETE")
            .header("X-HTTP-Method", "DELETE")
            .header("X-Method-Override", "DELETE")
            .body("x"),
    );
    assert_eq!(resp.status, 200, "{resp:?}");
    let seen = case.upstream_one();
    assert_eq!(seen.method, "POST");
    for h in [
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
    ] {
        assert_eq!(
            seen.header(h),
            None,
            "`{h}` must not reach the origin: the rules did not see it"
        );
    }
    Ok(())
}

fn head_denial_has_no_body(h: &Harness) -> Result<(), Failed> {
    let case = Case::new("head-denial", &h.wrangler, &h.upstream);
    let resp: Response =
        case.send(RawRequest::head("/api/items").header("CF-Connecting-IP", "198.51.100.7"));
    assert_denial(&resp, 401, "token_missing", true, "head-denial");
    assert_eq!(
        resp.header("www-authenticate"),
        Some(r#"Bearer realm="e2e""#)
    );
    case.assert_upstream_untouched();
    Ok(())
}

pub(crate) fn trials(h: &Arc<Harness>) -> Vec<Trial> {
    let specials: [(&str, crate::Special); 7] = [
        ("edge-cors-preflights", cors_preflights),
        ("edge-cors-on-responses", cors_on_responses),
        ("edge-rate-limits", rate_limits),
        ("edge-fails-closed", fails_closed),
        ("edge-upstream-timeout", upstream_timeout),
        ("edge-method-override-stripped", method_override_is_stripped),
        ("edge-head-denial", head_denial_has_no_body),
    ];
    specials
        .into_iter()
        .map(|(name, f)| {
            let h = Arc::clone(h);
            Trial::test(name, move || f(&h))
        })
        .collect()
}
