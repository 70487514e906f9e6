//! End-to-end tests: the real Worker (built by `make test` with `tests/e2e/policy.json` into the directory named
//! by `E2E_WORKER`) under a real `wrangler dev` (workerd), in front of a real recording upstream, driven by raw
//! HTTP requests. Every denial is checked against the contract, and against the upstream: a denied request must
//! never reach it.
//!
//! Cases are data: add a line to `CASES`. Behaviours that need more than one request or a second Worker are
//! functions in `SPECIAL`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod adversarial;
mod browser;
mod edge;
mod oracle;
mod support;
mod tokens;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use support::{Case, JwtServer, RawRequest, Response, Upstream, Wrangler, WranglerOptions};

/// What a case must get.
#[derive(Clone, Copy, Debug)]
enum Want {
    /// Forwarded: the upstream saw exactly this request and its answer came back.
    Forwarded,
    /// Denied with this status and public code; the upstream saw nothing.
    Denied(u16, &'static str),
}

use Want::{Denied, Forwarded};

/// `(name, method, target, headers, want)`. The name doubles as the `x-e2e-case` tag.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    Want,
);

const OK_IP: (&str, &str) = ("CF-Connecting-IP", "198.51.100.7");
const OFFICE_IP: (&str, &str) = ("CF-Connecting-IP", "203.0.113.20");

const CASES: &[Row] = &[
    // The vertical slice: one IP deny list.
    ("allowed-get", "GET", "/hello", &[OK_IP], Forwarded),
    (
        "blocked-v4",
        "GET",
        "/hello",
        &[("CF-Connecting-IP", "192.0.2.1")],
        Denied(403, "ip_denied"),
    ),
    (
        "blocked-v6",
        "GET",
        "/hello",
        &[("CF-Connecting-IP", "2001:db8:bad::1")],
        Denied(403, "ip_denied"),
    ),
    (
        "blocked-v4-mapped",
        "GET",
        "/hello",
        &[("CF-Connecting-IP", "::ffff:192.0.2.1")],
        Denied(403, "ip_denied"),
    ),
    (
        "blocked-post",
        "POST",
        "/hello",
        &[("CF-Connecting-IP", "192.0.2.77")],
        Denied(403, "ip_denied"),
    ),
    (
        "blocked-head",
        "HEAD",
        "/hello",
        &[("CF-Connecting-IP", "192.0.2.77")],
        Denied(403, "ip_denied"),
    ),
    (
        "garbage-ip",
        "GET",
        "/hello",
        &[("CF-Connecting-IP", "999.1.1.1")],
        Denied(403, "client_ip_invalid"),
    ),
    (
        "two-ips",
        "GET",
        "/hello",
        &[
            ("CF-Connecting-IP", "198.51.100.7"),
            ("CF-Connecting-IP", "192.0.2.1"),
        ],
        Denied(403, "client_ip_invalid"),
    ),
    (
        "xff-ignored",
        "GET",
        "/hello",
        &[
            ("CF-Connecting-IP", "192.0.2.1"),
            ("X-Forwarded-For", "198.51.100.7"),
            ("X-Real-IP", "198.51.100.7"),
            ("True-Client-IP", "198.51.100.7"),
        ],
        Denied(403, "ip_denied"),
    ),
    (
        "query-kept",
        "GET",
        "/search?q=a%20b&x=1",
        &[OK_IP],
        Forwarded,
    ),
    // Scope.
    (
        "admin-hidden",
        "GET",
        "/admin/users",
        &[OK_IP],
        Denied(404, "not_found"),
    ),
    (
        "admin-office",
        "GET",
        "/admin/users",
        &[OFFICE_IP],
        Forwarded,
    ),
    (
        "admin-double-slash",
        "GET",
        "//admin/users",
        &[OK_IP],
        Denied(404, "not_found"),
    ),
    (
        "admin-encoded-letter",
        "GET",
        "/%61dmin/users",
        &[OK_IP],
        Denied(404, "not_found"),
    ),
    (
        "admin-dot-segments",
        "GET",
        "/x/../admin/users",
        &[OK_IP],
        Denied(404, "not_found"),
    ),
    (
        "admin-encoded-dots",
        "GET",
        "/x/%2e%2e/admin/users",
        &[OK_IP],
        Denied(404, "not_found"),
    ),
    (
        "administrator-is-not-admin",
        "GET",
        "/administrator",
        &[OK_IP],
        Forwarded,
    ),
    (
        "encoded-slash",
        "GET",
        "/admin%2fusers",
        &[OK_IP],
        Denied(403, "path_invalid"),
    ),
    (
        "semicolon",
        "GET",
        "/admin;jsessionid=1",
        &[OK_IP],
        Denied(403, "path_invalid"),
    ),
    (
        "read-only-get",
        "GET",
        "/static/app.js",
        &[OK_IP],
        Forwarded,
    ),
    (
        "read-only-put",
        "PUT",
        "/static/app.js",
        &[OK_IP],
        Denied(403, "method_denied"),
    ),
    (
        "glob-secrets",
        "GET",
        "/internal/team/secrets",
        &[OK_IP],
        Denied(401, "access_denied"),
    ),
    (
        "glob-one-segment-only",
        "GET",
        "/internal/a/b/secrets",
        &[OK_IP],
        Forwarded,
    ),
    (
        "limited",
        "GET",
        "/limited",
        &[OK_IP],
        Denied(429, "slow_down"),
    ),
    // Origins.
    (
        "origin-allowed",
        "GET",
        "/web",
        &[OK_IP, ("Origin", "https://app.example.com")],
        Forwarded,
    ),
    (
        "origin-wildcard",
        "GET",
        "/web",
        &[OK_IP, ("Origin", "https://eu.apps.example.com")],
        Forwarded,
    ),
    (
        "origin-default-port",
        "GET",
        "/web",
        &[OK_IP, ("Origin", "https://APP.example.com:443")],
        Forwarded,
    ),
    ("origin-none", "GET", "/web", &[OK_IP], Forwarded),
    (
        "origin-suffix-trick",
        "GET",
        "/web",
        &[OK_IP, ("Origin", "https://app.example.com.evil.net")],
        Denied(403, "origin_denied"),
    ),
    (
        "origin-prefix-trick",
        "GET",
        "/web",
        &[OK_IP, ("Origin", "https://evilapp.example.com")],
        Denied(403, "origin_denied"),
    ),
    (
        "origin-bare-suffix",
        "GET",
        "/web",
        &[OK_IP, ("Origin", "https://apps.example.com")],
        Denied(403, "origin_denied"),
    ),
    (
        "origin-http",
        "GET",
        "/web",
        &[OK_IP, ("Origin", "http://app.example.com")],
        Denied(403, "origin_denied"),
    ),
    (
        "origin-null",
        "GET",
        "/web",
        &[OK_IP, ("Origin", "null")],
        Denied(403, "origin_denied"),
    ),
    (
        "origin-userinfo",
        "GET",
        "/web",
        &[OK_IP, ("Origin", "https://app.example.com@evil.net")],
        Denied(403, "origin_invalid"),
    ),
    (
        "origin-trailing-slash",
        "GET",
        "/web",
        &[OK_IP, ("Origin", "https://app.example.com/")],
        Denied(403, "origin_invalid"),
    ),
    (
        "origin-two-headers",
        "GET",
        "/web",
        &[
            OK_IP,
            ("Origin", "https://app.example.com"),
            ("Origin", "https://evil.net"),
        ],
        Denied(403, "origin_invalid"),
    ),
    // request.cf (the harness injects country NL, ASN 13335).
    (
        "geo-denied",
        "GET",
        "/geo/x",
        &[OK_IP],
        Denied(403, "geo_test"),
    ),
    // Report-only rules forward.
    (
        "beta-report-only",
        "GET",
        "/beta/feature",
        &[OK_IP],
        Forwarded,
    ),
];

fn check_row(h: &Harness, row: &Row) -> Result<(), Failed> {
    let (name, method, target, headers, want) = *row;
    let case = Case::new(name, &h.wrangler, &h.upstream);
    let mut req = RawRequest::new(method, target);
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let resp = case.send(req);
    match want {
        Forwarded => {
            assert_eq!(resp.status, 200, "case `{name}`: {resp:?}");
            assert_eq!(
                resp.header("x-upstream"),
                Some("edge-access-test"),
                "case `{name}`: the upstream's answer must come back: {resp:?}"
            );
            let seen = case.upstream_one();
            assert_eq!(seen.method, method, "case `{name}`");
            assert_eq!(seen.target, expected_target(target), "case `{name}`");
        }
        Denied(status, code) => {
            assert_denial(&resp, status, code, method == "HEAD", name);
            case.assert_upstream_untouched();
        }
    }
    Ok(())
}

/// The target the upstream sees: the runtime's URL parser resolves dot segments (and their `%2e` forms) before
/// the Worker runs; everything else arrives as sent.
fn expected_target(target: &str) -> String {
    match target {
        "/x/../admin/users" | "/x/%2e%2e/admin/users" => "/admin/users".to_owned(),
        other => other.to_owned(),
    }
}

/// The denial contract: status, JSON body with the public code and request id, the three fixed headers.
fn assert_denial(resp: &Response, status: u16, code: &str, head: bool, name: &str) {
    assert_eq!(resp.status, status, "case `{name}`: {resp:?}");
    assert_eq!(
        resp.header("content-type"),
        Some("application/json; charset=utf-8"),
        "case `{name}`"
    );
    assert_eq!(
        resp.header("cache-control"),
        Some("no-store"),
        "case `{name}`"
    );
    assert_eq!(
        resp.header("x-content-type-options"),
        Some("nosniff"),
        "case `{name}`"
    );
    assert_eq!(
        resp.header("x-upstream"),
        None,
        "case `{name}`: a denial must not come from the upstream"
    );
    let request_id = resp.header("x-request-id").unwrap_or_default();
    assert!(
        !request_id.is_empty(),
        "case `{name}`: x-request-id missing"
    );
    if head {
        assert!(resp.body.is_empty(), "case `{name}`: HEAD must get no body");
        return;
    }
    let body = resp.json();
    let keys: Vec<&String> = body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        ["code", "error", "request_id"],
        "case `{name}`: exactly these keys, no rule id: {body}"
    );
    assert_eq!(body["code"], code, "case `{name}`: {body}");
    assert_eq!(body["request_id"], request_id, "case `{name}`");
    let error = body["error"].as_str().unwrap_or_default();
    let expected = match (status, code) {
        (404, _) => "Not Found",
        (_, "geo_test") => "Not from there",
        _ => "You do not have permission to access this resource",
    };
    assert_eq!(error, expected, "case `{name}`");
}

fn post_body_streams_intact(h: &Harness) -> Result<(), Failed> {
    let case = Case::new("post-body", &h.wrangler, &h.upstream);
    let body: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let resp = case.send(
        RawRequest::post("/upload?kind=bin")
            .header("CF-Connecting-IP", "198.51.100.7")
            .header("Content-Type", "application/octet-stream")
            .header("X-Custom", "kept")
            .body(body.clone()),
    );
    assert_eq!(resp.status, 200, "{resp:?}");
    let seen = case.upstream_one();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.target, "/upload?kind=bin");
    assert_eq!(seen.header("x-custom"), Some("kept"));
    assert_eq!(
        seen.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(seen.body.len(), body.len());
    assert!(
        seen.body == body,
        "the body must reach the upstream byte for byte"
    );
    Ok(())
}

fn upstream_response_comes_back_unchanged(h: &Harness) -> Result<(), Failed> {
    let case = Case::new("upstream-503", &h.wrangler, &h.upstream);
    let resp = case.send(
        RawRequest::get("/__headers/x-from-upstream/yes/__status/503/x")
            .header("CF-Connecting-IP", "198.51.100.7"),
    );
    assert_eq!(
        resp.status, 503,
        "an upstream error is passed through, not rewritten: {resp:?}"
    );
    assert_eq!(resp.header("x-from-upstream"), Some("yes"));
    assert_eq!(resp.header("x-upstream"), Some("edge-access-test"));
    case.upstream_one();

    let case = Case::new("upstream-big", &h.wrangler, &h.upstream);
    let resp =
        case.send(RawRequest::get("/__big/3000000").header("CF-Connecting-IP", "198.51.100.7"));
    assert_eq!(resp.status, 200);
    assert!(
        resp.body == support::big_body(3_000_000),
        "a large streamed answer comes back byte for byte"
    );
    Ok(())
}

fn decisions_are_logged(h: &Harness) -> Result<(), Failed> {
    let case = Case::new("log-deny", &h.wrangler, &h.upstream);
    let resp = case.send(RawRequest::get("/logged-deny").header("CF-Connecting-IP", "192.0.2.9"));
    assert_eq!(resp.status, 403);
    let line = h
        .wrangler
        .wait_for_json_log(|v| v["path"] == "/logged-deny", Duration::from_secs(10))
        .expect("a decision log line for the denial");
    assert_eq!(line["effect"], "deny");
    assert_eq!(line["rule"], "blocklist");
    assert_eq!(line["code"], "ip_denied");
    assert_eq!(line["status"], 403);
    assert_eq!(line["client_ip"], "192.0.2.9");
    assert_eq!(line["country"], "NL");
    assert_eq!(line["request_id"], resp.header("x-request-id").unwrap());

    let case = Case::new("log-report-only", &h.wrangler, &h.upstream);
    let resp =
        case.send(RawRequest::get("/beta/logged").header("CF-Connecting-IP", "198.51.100.7"));
    assert_eq!(resp.status, 200, "report-only never blocks");
    case.upstream_one();
    let line = h
        .wrangler
        .wait_for_json_log(|v| v["path"] == "/beta/logged", Duration::from_secs(10))
        .expect("a decision log line for the report-only match");
    assert_eq!(line["effect"], "allow");
    assert_eq!(line["would_deny"], serde_json::json!(["beta"]));
    Ok(())
}

fn unreachable_upstream_is_a_502(h: &Harness) -> Result<(), Failed> {
    // A second Worker whose ORIGIN_URL points at a port nothing listens on.
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let w = Wrangler::start(options(&h.root).var("ORIGIN_URL", dead)).map_err(Failed::from)?;
    let resp = support::send(
        &w.addr(),
        &RawRequest::get("/hello").header("CF-Connecting-IP", "198.51.100.7"),
    )
    .map_err(|e| Failed::from(e.to_string()))?;
    let denied = support::send(
        &w.addr(),
        &RawRequest::get("/hello").header("CF-Connecting-IP", "192.0.2.1"),
    )
    .map_err(|e| Failed::from(e.to_string()))?;
    w.shutdown();
    assert_eq!(resp.status, 502, "{resp:?}");
    assert_eq!(
        resp.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(resp.json()["code"], "upstream_unavailable");
    assert_eq!(denied.status, 403, "denials do not depend on the upstream");
    Ok(())
}

/// A behaviour that needs more than one request, or its own Worker.
type Special = fn(&Harness) -> Result<(), Failed>;

const SPECIAL: &[(&str, Special)] = &[
    ("post-body-streams-intact", post_body_streams_intact),
    (
        "upstream-response-comes-back-unchanged",
        upstream_response_comes_back_unchanged,
    ),
    ("decisions-are-logged", decisions_are_logged),
    (
        "unreachable-upstream-is-a-502",
        unreachable_upstream_is_a_502,
    ),
];

struct Harness {
    root: PathBuf,
    upstream: Upstream,
    jwt: JwtServer,
    wrangler: Wrangler,
}

/// The HMAC secret of the `partner` issuer, given to the Worker as a var (as `wrangler secret put` would).
const PARTNER_SECRET: &str = "partner-secret-for-e2e-tests-only-0123456789";

/// A Worker in front of `upstream` whose `corp` issuer fetches its JWKS from `jwt`.
fn worker_options(root: &std::path::Path, upstream: &Upstream, jwt: &JwtServer) -> WranglerOptions {
    options(root)
        .var("ORIGIN_URL", upstream.base_url())
        .var("CORP_JWKS_URL", jwt.jwks_url())
        .var("PARTNER_HMAC_SECRET", PARTNER_SECRET)
        // The oracle's issuer (tests/e2e/oracle/); no other case sends its cookie or query parameter.
        .var("ORACLE_JWKS_URL", jwt.jwks_url())
}

pub(crate) fn options(root: &std::path::Path) -> WranglerOptions {
    let main = std::env::var("E2E_WORKER").unwrap_or_else(|_| {
        root.join("target/e2e-worker/index.js")
            .display()
            .to_string()
    });
    WranglerOptions::new(root, main, "2026-04-01")
        .cf(serde_json::json!({ "country": "NL", "asn": 13335, "colo": "AMS" }))
        // The binding the e2e policy's `login-limit` rule names; wrangler dev simulates it locally.
        .toml("[[ratelimits]]\nname = \"LOGIN_LIMITER\"\nnamespace_id = \"1001\"\nsimple = { limit = 3, period = 60 }\n")
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let upstream = Upstream::start();
    let jwt = match JwtServer::start(&root) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("e2e: the JWKS server did not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let wrangler = match Wrangler::start(worker_options(&root, &upstream, &jwt)) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("e2e: wrangler dev did not start:\n{e}");
            return ExitCode::FAILURE;
        }
    };
    let h = Arc::new(Harness {
        root,
        upstream,
        jwt,
        wrangler,
    });
    let mut trials: Vec<Trial> = CASES
        .iter()
        .map(|row| {
            let h = Arc::clone(&h);
            Trial::test(row.0, move || check_row(&h, row))
        })
        .collect();
    trials.extend(tokens::trials(&h));
    trials.extend(edge::trials(&h));
    trials.extend(browser::trials(&h));
    trials.extend(adversarial::trials(&h));
    trials.extend(oracle::trials(&h));
    trials.extend(SPECIAL.iter().map(|(name, f)| {
        let h = Arc::clone(&h);
        let f = *f;
        Trial::test(*name, move || f(&h))
    }));
    let conclusion = libtest_mimic::run(&args, trials);
    // `exit` skips destructors: stop wrangler explicitly first.
    match Arc::try_unwrap(h) {
        Ok(mut h) => {
            h.wrangler.shutdown();
            h.upstream.stop();
        }
        Err(h) => {
            h.wrangler.shutdown();
        }
    }
    if conclusion.has_failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
