//! Load and fault suite (`make stress`): the real Worker (built with `tests/e2e/policy.json` into the directory
//! named by `E2E_WORKER`) under a real `wrangler dev`, driven hard, on loopback only, bounded in count and time.
//!
//! Phases, in order (name them as arguments to run only some: `cargo test --features e2e --test stress -- load`):
//! - `load`: `STRESS_REQUESTS` (200,000) requests of 24 allowed and denied classes over `STRESS_CONCURRENCY` (64)
//!   keep-alive connections; every response checked against its class, the upstream's records checked against
//!   the allowed ones, the Worker's live heap, ArrayBuffers and Wasm memory after forced GCs required flat, the
//!   workerd RSS sampled and reported (see [`load_phase`]);
//! - `faults`: a second Worker in front of a misbehaving upstream and a misbehaving JWKS endpoint, each fault
//!   under 64 concurrent connections (see `faults.rs`);
//! - `policy`: `scripts/build.sh` with broken policies must fail, naming file, rule and field.
//!
//! Each phase prints its figures; the process exits non-zero if any phase failed. Every process started is in a
//! process group that is stopped on the way out (wrangler: `support::wrangler`; the rest is this process's own
//! group, which `scripts/stress.sh` stops).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

#[path = "../e2e/support/mod.rs"]
mod support;

mod conn;
mod faults;
mod faultserver;
mod load;
mod policy_build;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use load::{Class, Want};
use support::{JwtServer, Upstream, Wrangler, WranglerOptions};

/// The HMAC secret of the `partner` issuer (as in the e2e suite).
pub const PARTNER_SECRET: &str = "partner-secret-for-e2e-tests-only-0123456789";
pub const OK_IP: &str = "198.51.100.7";

/// A Worker in front of `origin` whose `corp` issuer fetches its JWKS from `jwt` (the e2e suite's setup).
pub fn worker_options(root: &Path, origin: &str, jwt: &JwtServer) -> WranglerOptions {
    let main = std::env::var("E2E_WORKER").unwrap_or_else(|_| {
        root.join("target/e2e-worker/index.js")
            .display()
            .to_string()
    });
    WranglerOptions::new(root, main, "2026-04-01")
        .cf(json!({ "country": "NL", "asn": 13335, "colo": "AMS" }))
        .toml("[[ratelimits]]\nname = \"LOGIN_LIMITER\"\nnamespace_id = \"1001\"\nsimple = { limit = 3, period = 60 }\n")
        .var("ORIGIN_URL", origin)
        .var("CORP_JWKS_URL", jwt.jwks_url())
        .var("PARTNER_HMAC_SECRET", PARTNER_SECRET)
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Good `corp` claims (as tokens.rs mints them), valid for an hour.
pub fn corp_claims() -> Value {
    let now = now();
    json!({
        "iss": "https://issuer.test", "aud": "edge-access", "sub": "user-1", "email": "u1@example.com",
        "iat": now - 10, "exp": now + 3600, "scope": "read", "roles": ["dev"]
    })
}

/// A token naming `kid` in its header but signed with the first ES256 key (unknown kid -> `token_unknown_key`).
pub fn unknown_kid_token(jwt: &JwtServer, kid: &str) -> String {
    use base64::Engine as _;
    let token = jwt.mint("ES256", None, corp_claims());
    let rest = token.split_once('.').unwrap().1;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#));
    format!("{header}.{rest}")
}

/// The load mix: 10 forwarded and 14 denied classes (several deny reasons: IP, origin, token missing, expired,
/// tampered, of an unknown key, claims, path, method, HMAC secret).
fn classes(jwt: &JwtServer) -> Vec<Class> {
    let bearer = |t: &str| format!("Bearer {t}");
    let good = |alg: &str| jwt.mint(alg, None, corp_claims());
    let (rs, es, ed) = (good("RS256"), good("ES256"), good("EdDSA"));
    let mut write = corp_claims();
    write["scope"] = json!("read write");
    let write = jwt.mint("ES256", None, write);
    let mut expired = corp_claims();
    expired["iat"] = json!(now() - 7200);
    expired["exp"] = json!(now() - 3600);
    let expired = jwt.mint("RS256", None, expired);
    let tampered = {
        let parts: Vec<&str> = rs.split('.').collect();
        let mut c = corp_claims();
        c["sub"] = json!("someone-else");
        use base64::Engine as _;
        let p = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c.to_string());
        format!("{}.{p}.{}", parts[0], parts[2])
    };
    let unknown = unknown_kid_token(jwt, "not-a-key");
    let mut partner = corp_claims();
    partner["iss"] = json!("https://partner.test");
    let partner_ok = jwt.mint_hmac("HS256", PARTNER_SECRET, partner.clone());
    let partner_bad = jwt.mint_hmac(
        "HS256",
        "another-secret-of-sufficient-length-0123456789",
        partner,
    );
    let ip = |c: Class, ip: &str| c.header("CF-Connecting-IP", ip);
    let ok = |c: Class| ip(c, OK_IP);
    use Want::{Denied, Forwarded};
    vec![
        ok(Class::new("hello", "GET", "/hello", Forwarded)),
        ip(
            Class::new("blocked-v4", "GET", "/hello", Denied(403, "ip_denied")),
            "192.0.2.77",
        ),
        ok(Class::new("api-rs256", "GET", "/api/items", Forwarded))
            .header("Authorization", bearer(&rs)),
        ok(Class::new(
            "api-missing",
            "GET",
            "/api/items",
            Denied(401, "token_missing"),
        )),
        ok(Class::new(
            "api-es256-cookie",
            "GET",
            "/api/items",
            Forwarded,
        ))
        .header("Cookie", format!("theme=dark; session={es}")),
        ok(Class::new(
            "api-expired",
            "GET",
            "/api/items",
            Denied(401, "token_expired"),
        ))
        .header("Authorization", bearer(&expired)),
        ok(Class::new("api-eddsa", "GET", "/api/items", Forwarded))
            .header("Authorization", bearer(&ed)),
        ok(Class::new(
            "api-tampered",
            "GET",
            "/api/items",
            Denied(401, "token_invalid_signature"),
        ))
        .header("Authorization", bearer(&tampered)),
        ok(Class::new("api-write", "POST", "/api/items", Forwarded))
            .header("Authorization", bearer(&write))
            .header("Content-Type", "application/json")
            .body(br#"{"item":1}"#),
        ok(Class::new(
            "api-unknown-kid",
            "GET",
            "/api/items",
            Denied(401, "token_unknown_key"),
        ))
        .header("Authorization", bearer(&unknown)),
        ok(Class::new("web-origin", "GET", "/web", Forwarded))
            .header("Origin", "https://eu.apps.example.com"),
        ok(Class::new(
            "web-bad-origin",
            "GET",
            "/web",
            Denied(403, "origin_denied"),
        ))
        .header("Origin", "https://app.example.com.evil.net"),
        ok(Class::new("partner", "GET", "/partner/x", Forwarded))
            .header("X-Partner-Token", partner_ok),
        ip(
            Class::new(
                "blocked-v6",
                "GET",
                "/static/app.js",
                Denied(403, "ip_denied"),
            ),
            "2001:db8:bad::1",
        ),
        ok(Class::new(
            "static-head",
            "HEAD",
            "/static/app.js",
            Forwarded,
        )),
        ok(Class::new(
            "static-put",
            "PUT",
            "/static/app.js",
            Denied(403, "method_denied"),
        ))
        .body(b"x"),
        ip(
            Class::new("admin-office", "GET", "/admin/users", Forwarded),
            "203.0.113.20",
        ),
        ok(Class::new(
            "admin-hidden",
            "GET",
            "/admin/users",
            Denied(404, "not_found"),
        )),
        ok(Class::new(
            "beta-report-only",
            "GET",
            "/beta/feature",
            Forwarded,
        )),
        ok(Class::new(
            "secrets",
            "GET",
            "/internal/team/secrets",
            Denied(401, "access_denied"),
        )),
        ok(Class::new(
            "read-cannot-write",
            "POST",
            "/api/items",
            Denied(403, "claim_mismatch"),
        ))
        .header("Authorization", bearer(&es))
        .body(b"{}"),
        ok(Class::new(
            "limited",
            "GET",
            "/limited",
            Denied(429, "slow_down"),
        )),
        ok(Class::new(
            "partner-bad-secret",
            "GET",
            "/partner/x",
            Denied(401, "token_invalid_signature"),
        ))
        .header("X-Partner-Token", partner_bad),
        ok(Class::new(
            "hidden",
            "GET",
            "/hidden/x",
            Denied(404, "not_found"),
        )),
    ]
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// Collects failures without stopping the phase, so one run shows everything that is wrong.
#[derive(Default)]
pub struct Report {
    failures: Vec<String>,
}

impl Report {
    pub fn check(&mut self, ok: bool, what: impl Into<String>) {
        let what = what.into();
        if ok {
            println!("  ok    {what}");
        } else {
            println!("  FAIL  {what}");
            self.failures.push(what);
        }
    }

    pub fn fail(&mut self, what: impl Into<String>) {
        self.check(false, what);
    }
}

/// The load phase. Memory: the Worker's live heap after forced GCs must be flat ([`heap_verdict`]); the workerd
/// RSS is sampled and reported ([`memory_verdict`]).
fn load_phase(root: &Path, r: &mut Report) {
    let total = env_u64("STRESS_REQUESTS", 200_000);
    let concurrency = usize::try_from(env_u64("STRESS_CONCURRENCY", 64)).unwrap_or(64);
    // RSS is reported; it is judged only when a bound is given (see `memory_verdict`).
    let bound_mb = std::env::var("STRESS_RSS_GROWTH_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    let upstream = Upstream::start();
    let jwt = match JwtServer::start(root) {
        Ok(j) => j,
        Err(e) => return r.fail(format!("the JWKS server did not start: {e}")),
    };
    let wrangler = match Wrangler::start(worker_options(root, &upstream.base_url(), &jwt)) {
        Ok(w) => w,
        Err(e) => return r.fail(format!("wrangler dev did not start:\n{e}")),
    };
    println!(
        "load: wrangler dev on {} (pgid {}, ready in {:.1?}); upstream {}, JWKS {}",
        wrangler.addr(),
        wrangler.pgid(),
        wrangler.startup_time(),
        upstream.addr(),
        jwt.jwks_url(),
    );
    for (pid, kb) in load::workerd_rss(wrangler.pgid()) {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        println!("load: workerd {pid}: {} MiB: {cmd}", kb / 1024);
    }
    let mut all = classes(&jwt);
    // Diagnostics: `STRESS_CLASSES=hello,blocked-v4` keeps only those classes.
    if let Ok(only) = std::env::var("STRESS_CLASSES") {
        all.retain(|c| only.split(',').any(|o| o == c.name));
    }
    let classes = Arc::new(all);
    // Warm the isolate and the JWKS cache with one of each class (tagged apart, not counted).
    let warm = load::run(
        &wrangler.addr(),
        &classes,
        "warm",
        classes.len() as u64,
        1,
        Duration::from_secs(30),
    );
    r.check(
        warm.error_count == 0,
        format!(
            "warm-up: one request per class, as expected ({:?})",
            warm.errors
        ),
    );
    let user_pid = load::user_workerd(wrangler.pgid());
    let heap_before = load::heap_reading(root, &wrangler.addr(), user_pid, Duration::ZERO);
    let cpu_before = load::group_cpu(wrangler.pgid());
    let sampler = load::MemSampler::start(wrangler.pgid(), Duration::from_millis(250));

    let out = load::run(
        &wrangler.addr(),
        &classes,
        "st",
        total,
        concurrency,
        Duration::from_secs(30),
    );
    let samples = sampler.finish();
    let heap_after = load::heap_reading(root, &wrangler.addr(), user_pid, out.elapsed);
    let cpu_after = load::group_cpu(wrangler.pgid());
    let rps = out.sent as f64 / out.elapsed.as_secs_f64();
    println!(
        "load: {} requests, concurrency {concurrency}, {:.1?}, {rps:.0} req/s, {} sockets opened",
        out.sent, out.elapsed, out.sockets
    );
    println!("load: latency {}", load::latency_line(&out.latencies_us));
    println!(
        "load: CPU used: {}",
        load::cpu_line(&cpu_before, &cpu_after)
    );
    let mut statuses: Vec<_> = out.by_class.iter().collect();
    statuses.sort();
    let mut line = String::from("load: per class:");
    for ((name, status), n) in statuses {
        line.push_str(&format!(" {name}={status}x{n}"));
    }
    println!("{line}");
    let records = upstream.requests();
    let logs = wrangler.log_lines();
    for ((n, class, msg), (at, took)) in out.errors.iter().zip(&out.error_sent_at) {
        // Where the time went: when the upstream got the request, if it did, on which connection, and when the
        // Worker logged its decision.
        let tag = format!("st-{n}");
        let arrived = records
            .iter()
            .find(|r| r.header(support::CASE_HEADER) == Some(tag.as_str()))
            .map(|r| {
                let same_conn: Vec<_> = records.iter().filter(|o| o.peer == r.peer).collect();
                let nth = same_conn.iter().position(|o| o.seq == r.seq).unwrap_or(0);
                let gap = nth
                    .checked_sub(1)
                    .map(|p| format!("{:.0?}", r.at.duration_since(same_conn[p].at)));
                format!(
                    "{:.0?} after sending, request {} of {} on connection {:?} (previous one {} before)",
                    r.at.duration_since(out.started).saturating_sub(*at),
                    nth + 1,
                    same_conn.len(),
                    r.peer,
                    gap.unwrap_or_else(|| "-".into())
                )
            })
            .unwrap_or_else(|| "never".into());
        let logged = msg
            .split("\"request_id\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|id| logs.iter().find(|l| l.contains(id)))
            .map_or_else(|| "-".to_owned(), |l| l.chars().take(120).collect());
        let sent_wall = humantime_utc(out.started_wall + *at);
        println!(
            "  error {tag} ({class}), sent at +{at:.1?} ({sent_wall}), answered after {took:.1?}, upstream got it: \
             {arrived}; Worker log: {logged}: {msg}"
        );
    }
    r.check(
        out.error_count == 0,
        format!(
            "every response is the one its class expects: {} errors of {} (no 5xx, no connection error, no timeout)",
            out.error_count, out.sent
        ),
    );
    // The upstream receives a forwarded request just before the client has its answer: wait for stragglers.
    let want_forwarded = (0..total)
        .filter(|n| classes[(*n as usize) % classes.len()].want == Want::Forwarded)
        .count();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline
        && upstream
            .requests()
            .iter()
            .filter(|r| {
                r.header(support::CASE_HEADER)
                    .is_some_and(|t| t.starts_with("st-"))
            })
            .count()
            < want_forwarded
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let (forwarded, problems) = load::check_upstream(&upstream, &classes, "st", total);
    for p in problems.iter().take(20) {
        println!("  upstream: {p}");
    }
    r.check(
        problems.is_empty(),
        format!(
            "the upstream received exactly the {forwarded} allowed requests, each once, and none of the {} denied ({} discrepancies)",
            total - forwarded,
            problems.len()
        ),
    );
    memory_verdict(&samples, bound_mb, r);
    heap_verdict(heap_before, heap_after, r);
    let stop = wrangler.shutdown();
    r.check(
        stop.group_gone,
        format!("wrangler's process group stopped: {stop:?}"),
    );
}

/// RSS of each workerd (the one running the Worker, and wrangler's proxy in front of it), sampled every 250 ms.
///
/// Under `wrangler dev` both grow with the request count whatever the Worker. Measured with this harness, 200,000
/// requests at 64: edge-access's workerd 98 -> 485 MiB (max 529), the proxy's 62 -> 563 MiB; for
/// `trivial-worker.mjs` (forwards everything, logs one line per request) 68 -> 735 MiB (max 783) and
/// 63 -> 535 MiB; meanwhile edge-access's V8 heap, ArrayBuffers and Wasm memory after a forced GC stayed within
/// 0.6 MiB of where they started. The growth is the dev runtime's, not the Worker's (for the proxy's workerd at
/// least in part wrangler's inspector proxy, which keeps every console message while no devtools client is
/// attached). So RSS is reported, and judged only when `STRESS_RSS_GROWTH_MB` is set: then the median of the last
/// quarter of samples must be within that many MiB of the median of the second quarter (the first quarter is
/// warm-up), per process. The Worker's own memory is judged by [`heap_verdict`].
fn memory_verdict(samples: &[load::RssSample], bound_mb: Option<u64>, r: &mut Report) {
    let mut pids: Vec<u32> = samples
        .iter()
        .flat_map(|(_, s)| s.iter().map(|(p, _)| *p))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    if pids.is_empty() || samples.len() < 8 {
        return r.fail(format!(
            "memory: {} samples of {} workerd processes: too few to judge",
            samples.len(),
            pids.len()
        ));
    }
    for pid in pids {
        let series: Vec<(Duration, u64)> = samples
            .iter()
            .filter_map(|(t, s)| s.iter().find(|(p, _)| *p == pid).map(|(_, kb)| (*t, *kb)))
            .collect();
        let q = series.len() / 4;
        let kb: Vec<u64> = series.iter().map(|(_, kb)| *kb).collect();
        let (q2, q4) = (median(&kb[q..2 * q]), median(&kb[3 * q..]));
        let mb = |kb: u64| kb as f64 / 1024.0;
        let shown: Vec<String> = series
            .iter()
            .step_by((series.len() / 12).max(1))
            .map(|(t, kb)| format!("{:.0}s:{:.0}", t.as_secs_f64(), mb(*kb)))
            .collect();
        println!(
            "load: workerd pid {pid} RSS MiB over {} samples: first {:.1}, min {:.1}, max {:.1}, last {:.1}; \
             median 2nd quarter {:.1}, median 4th quarter {:.1}; [{}]",
            series.len(),
            mb(kb[0]),
            mb(*kb.iter().min().unwrap()),
            mb(*kb.iter().max().unwrap()),
            mb(*kb.last().unwrap()),
            mb(q2),
            mb(q4),
            shown.join(" ")
        );
        if let Some(bound_mb) = bound_mb {
            r.check(
                q4 <= q2 + bound_mb * 1024,
                format!(
                    "RSS of workerd {pid} is flat: 4th-quarter median {:.1} MiB <= 2nd-quarter median {:.1} MiB + {bound_mb} MiB",
                    mb(q4),
                    mb(q2)
                ),
            );
        }
    }
}

/// The Worker's live memory after a forced full GC, before and after the load: V8 heap used, ArrayBuffer backing
/// stores and the Wasm linear memory. Flat: after <= before + `STRESS_HEAP_GROWTH_MB` (default 8) MiB.
fn heap_verdict(
    before: Result<load::HeapSample, String>,
    after: Result<load::HeapSample, String>,
    r: &mut Report,
) {
    let bound = env_u64("STRESS_HEAP_GROWTH_MB", 8) * 1024 * 1024;
    let (before, after) = match (before, after) {
        (Ok(b), Ok(a)) => (b, a),
        (b, a) => {
            return r.fail(format!(
                "heap after GC: no reading: before {b:?}, after {a:?}"
            ))
        }
    };
    let mb = |b: u64| b as f64 / 1_048_576.0;
    println!(
        "load: heap readings took {:.1?} before and {:.1?} after the load; Wasm memories {:?} / {:?} bytes",
        before.took, after.took, before.wasm, after.wasm
    );
    for (what, b, a) in [
        ("V8 heap used", before.used, after.used),
        ("ArrayBuffer backing stores", before.backing, after.backing),
        (
            "Wasm linear memory",
            before.wasm.iter().sum(),
            after.wasm.iter().sum(),
        ),
    ] {
        r.check(
            a <= b + bound,
            format!(
                "the Worker's {what} after a forced GC: {:.2} MiB before the load, {:.2} MiB after {:.0?} of it \
                 (bound +{} MiB); user workerd RSS then {:.0} / {:.0} MiB",
                mb(b),
                mb(a),
                after.at,
                bound / 1_048_576,
                before.rss_kb as f64 / 1024.0,
                after.rss_kb as f64 / 1024.0
            ),
        );
    }
}

/// `HH:MM:SS.mmm` UTC of a wall-clock time (to compare with the Worker's ISO log times).
fn humantime_utc(t: SystemTime) -> String {
    let ms = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let s = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        ms % 1000
    )
}

fn median(values: &[u64]) -> u64 {
    load::median(values)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |phase: &str| args.is_empty() || args.iter().any(|a| a == phase);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let started = Instant::now();
    let mut results: Vec<(&str, Duration, Vec<String>)> = Vec::new();
    type Phase = fn(&Path, &mut Report);
    let phases: [(&str, Phase); 3] = [
        ("load", load_phase),
        ("faults", faults::phase),
        ("policy", policy_build::phase),
    ];
    for (name, phase) in phases {
        if !wanted(name) {
            continue;
        }
        println!("\n== stress: {name} ==");
        let t0 = Instant::now();
        let mut report = Report::default();
        phase(&root, &mut report);
        results.push((name, t0.elapsed(), report.failures));
    }
    println!("\n== stress summary ({:.0?}) ==", started.elapsed());
    let mut failed = results.is_empty();
    for (name, took, failures) in &results {
        if failures.is_empty() {
            println!("{name:<8} ok ({took:.0?})");
        } else {
            failed = true;
            println!("{name:<8} FAILED ({took:.0?}): {} checks", failures.len());
            for f in failures {
                println!("         - {}", f.lines().next().unwrap_or(""));
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
