//! The fault phase: one Worker in front of a misbehaving origin ([`FaultServer`]) and a misbehaving JWKS endpoint
//! (the e2e jwt-server's modes), every fault driven by 64 concurrent connections.
//!
//! `make test` already covers, one request at a time: an unreachable origin (502), an origin slower than the
//! timeout (504), the JWKS endpoint down or serving garbage with keys cached (still verifying) and without (503).
//! Here each of those runs under concurrency, plus what it does not cover: an origin that accepts and never
//! answers, one that closes before answering, one that closes mid-body, one that answers garbage; a JWKS endpoint
//! slower than the fetch timeout, with and without keys cached, and one that is gone altogether.
//!
//! Order matters: the Worker starts with the JWKS endpoint slow, so it has no keys until the recovery step.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::faultserver::FaultServer;
use crate::load::{self, Class, Want};
use crate::support::http::{self, RawRequest, Response};
use crate::support::{JwtServer, Wrangler, CASE_HEADER};
use crate::{corp_claims, unknown_kid_token, worker_options, Report, OK_IP};

/// The e2e policy's `upstream.timeout_seconds`.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// The Worker's JWKS fetch timeout (README: "fetched JWKS documents: 1 MiB, 5 s").
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);
/// Allowance for scheduling on a busy 2-core machine, on top of a configured timeout.
const MARGIN: Duration = Duration::from_millis(2500);
/// "Fast": an answer that waited on no timeout.
const FAST: Duration = Duration::from_secs(5);
/// Concurrent connections in every burst.
const CONCURRENCY: usize = 64;

/// What one request of a burst must get.
#[derive(Clone, Debug)]
enum Expect {
    /// This status (and JSON code), answered within `(min, max)` of sending.
    Status(u16, Option<&'static str>, Duration, Duration),
    /// The 200 head arrives, then the connection ends before the announced body does, within `max`: the client
    /// can tell the body was cut short (never a complete, silently shortened response).
    Cut(Duration),
}

/// One request of a burst.
struct Shot {
    label: &'static str,
    req: RawRequest,
    expect: Expect,
}

fn shot(label: &'static str, req: RawRequest, expect: Expect) -> Shot {
    Shot { label, req, expect }
}

/// What came back.
#[derive(Debug)]
enum Got {
    Complete(Response),
    /// The connection ended before a complete response; the status of the head if one arrived.
    Cut(Option<u16>, usize),
    Error(String),
}

impl Got {
    fn short(&self) -> String {
        match self {
            Got::Complete(r) => {
                let code = r
                    .try_json()
                    .and_then(|v| v["code"].as_str().map(str::to_owned));
                match code {
                    Some(c) => format!("{} {c}", r.status),
                    None => r.status.to_string(),
                }
            }
            Got::Cut(Some(s), n) => format!("{s} cut after {n} bytes"),
            Got::Cut(None, n) => format!("no response ({n} bytes)"),
            Got::Error(e) => format!("error: {e}"),
        }
    }
}

fn judge(expect: &Expect, got: &Got, took: Duration) -> Result<(), String> {
    match (expect, got) {
        (Expect::Status(status, code, min, max), Got::Complete(resp)) => {
            if resp.status != *status {
                return Err(format!("want {status}, got {}", load::brief(resp)));
            }
            if let Some(code) = code {
                if resp.header("content-type") != Some("application/json; charset=utf-8") {
                    return Err(format!(
                        "want a JSON denial, content-type {:?}",
                        resp.header("content-type")
                    ));
                }
                let got = resp
                    .try_json()
                    .and_then(|v| v["code"].as_str().map(str::to_owned));
                if got.as_deref() != Some(*code) {
                    return Err(format!("want code {code}, got {}", load::brief(resp)));
                }
            }
            if took < *min || took > *max {
                return Err(format!("answered after {took:?}, want {min:?}..{max:?}"));
            }
            Ok(())
        }
        (Expect::Cut(max), Got::Cut(Some(200), _)) if took <= *max => Ok(()),
        (Expect::Cut(max), Got::Cut(Some(200), _)) => {
            Err(format!("the cut came after {took:?}, want <= {max:?}"))
        }
        (want, got) => Err(format!("want {want:?}, got {}", got.short())),
    }
}

/// Sends every shot (each on its own connection, `Connection: close`) over `CONCURRENCY` threads; returns
/// `(label, got, took)` in shot order.
fn burst(addr: &str, shots: Vec<Shot>) -> Vec<(&'static str, Expect, Got, Duration)> {
    let shots = Arc::new(shots);
    let next = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..CONCURRENCY.min(shots.len()))
        .map(|_| {
            let (addr, shots, next, results) = (
                addr.to_owned(),
                Arc::clone(&shots),
                Arc::clone(&next),
                Arc::clone(&results),
            );
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(s) = shots.get(i) else { break };
                let t0 = Instant::now();
                let got = match http::exchange(&addr, &s.req.to_bytes(&addr)) {
                    Ok(raw) => match http::parse(&raw, s.req.method == "HEAD", true) {
                        Ok(Some((resp, _))) => Got::Complete(resp),
                        Ok(None) | Err(_) => {
                            let mut headers = [httparse::EMPTY_HEADER; 64];
                            let mut head = httparse::Response::new(&mut headers);
                            let status = match head.parse(&raw) {
                                Ok(httparse::Status::Complete(_)) => head.code,
                                _ => None,
                            };
                            Got::Cut(status, raw.len())
                        }
                    },
                    Err(e) => Got::Error(e.to_string()),
                };
                let took = t0.elapsed();
                results
                    .lock()
                    .unwrap()
                    .push((i, s.label, s.expect.clone(), got, took));
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a burst thread panicked");
    }
    let mut out = Arc::try_unwrap(results)
        .map(|m| m.into_inner().unwrap())
        .unwrap_or_default();
    out.sort_by_key(|r| r.0);
    out.into_iter()
        .map(|(_, l, e, g, t)| (l, e, g, t))
        .collect()
}

/// Judges a burst: one line per label (count, outcomes, latency range), one check per label.
fn verdict(step: &str, results: &[(&'static str, Expect, Got, Duration)], r: &mut Report) {
    let mut by_label: BTreeMap<&str, Vec<&(&'static str, Expect, Got, Duration)>> = BTreeMap::new();
    for res in results {
        by_label.entry(res.0).or_default().push(res);
    }
    for (label, rows) in by_label {
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        let mut bad = Vec::new();
        let mut times: Vec<Duration> = Vec::new();
        for (_, expect, got, took) in &rows {
            *outcomes.entry(got.short()).or_default() += 1;
            times.push(*took);
            if let Err(e) = judge(expect, got, *took) {
                bad.push(e);
            }
        }
        times.sort();
        let outcomes: Vec<String> = outcomes.iter().map(|(k, n)| format!("{n}x {k}")).collect();
        let want = match &rows[0].1 {
            Expect::Status(s, c, min, max) => {
                format!("{s} {} in {min:.1?}..{max:.1?}", c.unwrap_or(""))
            }
            Expect::Cut(max) => format!("200 cut short within {max:.1?}"),
        };
        r.check(
            bad.is_empty(),
            format!(
                "{step}: {label}: {} requests -> {} in {:.2?}..{:.2?} (median {:.2?}); want {want}{}",
                rows.len(),
                outcomes.join(", "),
                times[0],
                times[times.len() - 1],
                times[times.len() / 2],
                bad.first()
                    .map(|b| format!("; {} wrong, e.g. {b}", bad.len()))
                    .unwrap_or_default()
            ),
        );
    }
}

fn get(path: String) -> RawRequest {
    RawRequest::get(path).header("CF-Connecting-IP", OK_IP)
}

fn fast(status: u16, code: Option<&'static str>) -> Expect {
    Expect::Status(status, code, Duration::ZERO, FAST)
}

/// `n` shots of `label`, numbered so each has its own target and tag.
fn shots(
    label: &'static str,
    n: usize,
    make: impl Fn(usize) -> RawRequest,
    expect: &Expect,
) -> Vec<Shot> {
    (0..n)
        .map(|i| {
            shot(
                label,
                make(i).header(CASE_HEADER, format!("{label}-{i}")),
                expect.clone(),
            )
        })
        .collect()
}

pub fn phase(root: &Path, r: &mut Report) {
    let mut origin = FaultServer::start();
    let jwt = match JwtServer::start(root) {
        Ok(j) => j,
        Err(e) => return r.fail(format!("the JWKS server did not start: {e}")),
    };
    // The Worker's first JWKS fetch will hang: no keys until the recovery step.
    jwt.set_mode("slow");
    let w = match Wrangler::start(worker_options(root, &origin.base_url(), &jwt)) {
        Ok(w) => w,
        Err(e) => return r.fail(format!("wrangler dev did not start:\n{e}")),
    };
    println!(
        "faults: wrangler dev on {} (ready in {:.1?}), origin {}, JWKS {}",
        w.addr(),
        w.startup_time(),
        origin.base_url(),
        jwt.jwks_url()
    );
    let addr = w.addr();
    let token = jwt.mint("ES256", None, corp_claims());
    let bearer = |req: RawRequest, t: &str| req.header("Authorization", format!("Bearer {t}"));
    let no_keys = Expect::Status(
        503,
        Some("filter_unavailable"),
        Duration::ZERO,
        JWKS_TIMEOUT + MARGIN,
    );
    let api_seen = |origin: &FaultServer| {
        origin
            .records()
            .iter()
            .filter(|(_, _, t)| t.starts_with("/api"))
            .count()
    };

    // 1. No keys yet, the JWKS endpoint slower than the fetch timeout: token requests fail closed within the
    //    timeout; requests that need no key are not held up by the hanging fetch.
    let fetches = jwt.fetches();
    let mut s = shots(
        "jwks-slow-no-keys",
        64,
        |i| bearer(get(format!("/api/items?n={i}")), &token),
        &no_keys,
    );
    s.extend(shots(
        "no-token-meanwhile",
        64,
        |i| get(format!("/open?n={i}")),
        &fast(200, None),
    ));
    verdict("JWKS slow, no keys cached", &burst(&addr, s), r);
    // The burst waits for the first request's fetch rather than fetching 64 times (a cold isolate must not
    // stampede the issuer). Two leaves room for a straggler that arrives after the first fetch gave up.
    let burst_fetches = jwt.fetches() - fetches;
    println!("  (JWKS fetches during that burst: {burst_fetches})");
    if burst_fetches > 2 {
        r.fail(format!(
            "64 concurrent token requests on a cold isolate made {burst_fetches} JWKS fetches; want one (two at most)"
        ));
    }

    // 2. Down (503) and garbage, still no keys: fail closed, quickly.
    for (mode, label) in [
        ("down", "jwks-down-no-keys"),
        ("garbage", "jwks-garbage-no-keys"),
    ] {
        jwt.set_mode(mode);
        std::thread::sleep(Duration::from_millis(2100)); // past jwks_min_refetch_seconds
        let s = shots(
            label,
            64,
            |i| bearer(get(format!("/api/{mode}?n={i}")), &token),
            &no_keys,
        );
        verdict(&format!("JWKS {mode}, no keys cached"), &burst(&addr, s), r);
    }
    r.check(
        api_seen(&origin) == 0,
        format!(
            "nothing that needed a key was forwarded while there were none ({} were)",
            api_seen(&origin)
        ),
    );

    // 3. Recovery: the endpoint is back; the next token request fetches the keys.
    jwt.set_mode("up");
    let deadline = Instant::now() + Duration::from_secs(15);
    let recovered = loop {
        let resp = http::send(&addr, &bearer(get("/api/recover".into()), &token));
        if resp.as_ref().is_ok_and(|r| r.status == 200) {
            break Some(Instant::now());
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    r.check(
        recovered.is_some(),
        "once the JWKS endpoint is back, tokens verify again (within 15 s)",
    );

    // 4. Keys cached, then the endpoint fails in each way, under load over keep-alive connections: known keys keep
    //    verifying, an unknown kid (which triggers a refetch) is refused, nothing is a 5xx.
    let fresh = jwt.mint("RS256", None, corp_claims());
    let unknown = unknown_kid_token(&jwt, "rotated-away");
    let classes = Arc::new(vec![
        Class::new("cached-es256", "GET", "/api/cached", Want::Forwarded)
            .header("CF-Connecting-IP", OK_IP)
            .header("Authorization", format!("Bearer {token}")),
        Class::new("cached-rs256", "GET", "/api/cached", Want::Forwarded)
            .header("CF-Connecting-IP", OK_IP)
            .header("Authorization", format!("Bearer {fresh}")),
        Class::new(
            "unknown-kid",
            "GET",
            "/api/unknown",
            Want::Denied(401, "token_unknown_key"),
        )
        .header("CF-Connecting-IP", OK_IP)
        .header("Authorization", format!("Bearer {unknown}")),
        Class::new("no-token", "GET", "/open", Want::Forwarded).header("CF-Connecting-IP", OK_IP),
    ]);
    let mut jwt = Some(jwt);
    for mode in ["slow", "down", "garbage", "unreachable"] {
        match (&mode, &jwt) {
            (&"unreachable", _) => drop(jwt.take()), // nothing listens on the JWKS port any more
            (_, Some(j)) => j.set_mode(mode),
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(2100)); // an unknown kid may trigger a refetch again
        let prefix = format!("jwks-{mode}");
        let total = 1280;
        let out = load::run(
            &addr,
            &classes,
            &prefix,
            total,
            CONCURRENCY,
            Duration::from_secs(30),
        );
        let mut counts: Vec<_> = out
            .by_class
            .iter()
            .map(|((c, s), n)| format!("{c}={s}x{n}"))
            .collect();
        counts.sort();
        let (forwarded, problems) = load::check_records(origin.records(), &classes, &prefix, total);
        r.check(
            out.error_count == 0 && problems.is_empty(),
            format!(
                "JWKS {mode}, keys cached, {total} requests at {CONCURRENCY}: {} ; {:.0} req/s, latency {}; \
                 {} errors{}; origin saw exactly the {forwarded} allowed ({} discrepancies)",
                counts.join(" "),
                total as f64 / out.elapsed.as_secs_f64(),
                load::latency_line(&out.latencies_us),
                out.error_count,
                out.errors.first().map(|e| format!(" (e.g. {}-{} {}: {})", prefix, e.0, e.1, e.2)).unwrap_or_default(),
                problems.len()
            ),
        );
    }

    // 5. The origin misbehaves in every way at once, under 64 connections.
    let timeout_window = Expect::Status(
        504,
        Some("upstream_timeout"),
        UPSTREAM_TIMEOUT - Duration::from_millis(100),
        UPSTREAM_TIMEOUT + MARGIN,
    );
    let mut s = Vec::new();
    for round in 0..4 {
        let n = 16;
        let at = |p: &str, i: usize| get(format!("{p}?r={round}&n={i}"));
        s.extend(shots(
            "origin-blackhole",
            n,
            |i| at("/__blackhole/x", i),
            &timeout_window,
        ));
        s.extend(shots(
            "origin-late-3s",
            n,
            |i| at("/__late/3000/x", i),
            &timeout_window,
        ));
        s.extend(shots(
            "origin-late-300ms",
            n,
            |i| at("/__late/300/x", i),
            &fast(200, None),
        ));
        s.extend(shots(
            "origin-close-early",
            n,
            |i| at("/__close-early/x", i),
            &fast(502, Some("upstream_unavailable")),
        ));
        s.extend(shots(
            "origin-garbage",
            n,
            |i| at("/__garbage/x", i),
            &fast(502, Some("upstream_unavailable")),
        ));
        s.extend(shots(
            "origin-close-mid-body",
            n,
            |i| at("/__close-mid/x", i),
            &Expect::Cut(FAST),
        ));
        s.extend(shots("origin-ok", n, |i| at("/ok", i), &fast(200, None)));
        s.extend(shots(
            "blocked-ip",
            n,
            |i| {
                RawRequest::get(format!("/ok?r={round}&n={i}"))
                    .header("CF-Connecting-IP", "192.0.2.1")
            },
            &fast(403, Some("ip_denied")),
        ));
    }
    // Interleave the kinds so every fault is in flight at once.
    s.sort_by_key(|sh| {
        sh.req
            .target
            .rsplit('=')
            .next()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0)
    });
    let started = Instant::now();
    let results = burst(&addr, s);
    println!(
        "  (origin-fault burst: {} requests in {:.1?})",
        results.len(),
        started.elapsed()
    );
    verdict("origin faults", &results, r);
    // The Worker gives up on a socket it timed out on: none of the blackholed connections is left open.
    let deadline = Instant::now() + Duration::from_secs(10);
    while origin.open_connections() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let lingering = origin.open_connections();
    r.check(
        lingering == 0,
        format!("no connection to the origin is left open after the burst (open: {lingering}, waited up to 10 s)"),
    );
    let resp = http::send(&addr, &get("/ok/after".into()));
    r.check(
        resp.as_ref().is_ok_and(|r| r.status == 200),
        format!(
            "the Worker still serves after the faults: {:?}",
            resp.map(|r| r.status)
        ),
    );

    // 6. The origin is gone: nothing listens on its port.
    origin.stop();
    let mut s = shots(
        "origin-down",
        64,
        |i| get(format!("/ok/down?n={i}")),
        &fast(502, Some("upstream_unavailable")),
    );
    s.extend(shots(
        "origin-down-blocked-ip",
        64,
        |i| RawRequest::get(format!("/ok/down?n={i}")).header("CF-Connecting-IP", "192.0.2.1"),
        &fast(403, Some("ip_denied")),
    ));
    verdict("origin down", &burst(&addr, s), r);

    let stop = w.shutdown();
    r.check(
        stop.group_gone,
        format!("wrangler's process group stopped: {stop:?}"),
    );
}
