//! The load phase: many requests of known classes through the real Worker, each checked exactly.
//!
//! Request `i` is of class `i % classes.len()`, carries `x-e2e-case: st-<i>` and `?n=<i>` on its target, so the
//! upstream's records say exactly which requests reached it. Every response is compared with its class: a
//! forwarded class must get the upstream's 200 with the upstream's echo of this very target; a denied class its
//! status and public code. Connection errors, timeouts and any other status are errors the policy did not cause,
//! and the phase tolerates none of them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::conn::Conn;
use crate::support::{RawRequest, Response, Upstream, CASE_HEADER};

/// What a class of request must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// Forwarded: the upstream's 200 comes back, and the upstream saw the request once.
    Forwarded,
    /// Denied with this status and public code; the upstream saw nothing.
    Denied(u16, &'static str),
}

/// A class of request: everything but the per-request tag and counter.
#[derive(Clone, Debug)]
pub struct Class {
    pub name: &'static str,
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub want: Want,
}

impl Class {
    pub fn new(name: &'static str, method: &'static str, path: &str, want: Want) -> Class {
        Class {
            name,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            want,
        }
    }

    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Class {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    #[must_use]
    pub fn body(mut self, body: &[u8]) -> Class {
        self.body = body.to_vec();
        self
    }

    /// The target of request number `n` of this class.
    pub fn target(&self, n: u64) -> String {
        let sep = if self.path.contains('?') { '&' } else { '?' };
        format!("{}{sep}n={n}", self.path)
    }

    /// Request number `n`, tagged `<prefix>-<n>`.
    pub fn request(&self, prefix: &str, n: u64) -> RawRequest {
        let mut req = RawRequest::new(self.method, self.target(n));
        for (k, v) in &self.headers {
            req = req.header(k.clone(), v.clone());
        }
        req = req.header(CASE_HEADER, format!("{prefix}-{n}"));
        if !self.body.is_empty() {
            req = req.body(self.body.clone());
        }
        req
    }
}

/// Checks one response against its class; `Err` says what is wrong.
pub fn check(class: &Class, target: &str, resp: &Response) -> Result<(), String> {
    match class.want {
        Want::Forwarded => {
            if resp.status != 200 || resp.header("x-upstream") != Some("edge-access-test") {
                return Err(format!(
                    "want the upstream's 200, got {} {}",
                    resp.status,
                    brief(resp)
                ));
            }
            if class.method != "HEAD" {
                let echoed = resp
                    .try_json()
                    .and_then(|v| v["target"].as_str().map(str::to_owned));
                if echoed.as_deref() != Some(target) {
                    return Err(format!(
                        "the upstream echoed target {echoed:?}, not `{target}`"
                    ));
                }
            }
            Ok(())
        }
        Want::Denied(status, code) => {
            if resp.status != status || resp.header("x-upstream").is_some() {
                return Err(format!(
                    "want {status} {code}, got {} {}",
                    resp.status,
                    brief(resp)
                ));
            }
            if resp.header("content-type") != Some("application/json; charset=utf-8") {
                return Err(format!(
                    "denial content-type {:?}",
                    resp.header("content-type")
                ));
            }
            if class.method != "HEAD" {
                let got = resp
                    .try_json()
                    .and_then(|v| v["code"].as_str().map(str::to_owned));
                if got.as_deref() != Some(code) {
                    return Err(format!("want code {code}, got {got:?}: {}", brief(resp)));
                }
            }
            Ok(())
        }
    }
}

/// Status and up to 200 bytes of body, for error messages.
pub fn brief(resp: &Response) -> String {
    let text = resp.text();
    let cut: String = text.chars().take(200).collect();
    format!("{} {cut}", resp.status)
}

/// Results of a run.
pub struct Outcome {
    pub sent: u64,
    pub elapsed: Duration,
    /// Per-request latency in microseconds, unsorted.
    pub latencies_us: Vec<u32>,
    /// Errors the policy did not cause: (request number, class, message). All of them are counted in
    /// `error_count`; at most 50 are kept.
    pub errors: Vec<(u64, &'static str, String)>,
    /// When each kept error's request was sent, from `started`, and how long its exchange took.
    pub error_sent_at: Vec<(Duration, Duration)>,
    pub started: Instant,
    /// The wall-clock time at `started` (to place the Worker's log lines).
    pub started_wall: std::time::SystemTime,
    pub error_count: u64,
    /// Responses per class name and status.
    pub by_class: HashMap<(&'static str, u16), u64>,
    /// Sockets opened over the run (= concurrency when keep-alive held throughout).
    pub sockets: u64,
}

/// Sends `total` requests (`<prefix>-0` .. `<prefix>-(total-1)`) to `addr` over `concurrency` keep-alive
/// connections, checking each; `timeout` bounds each exchange.
pub fn run(
    addr: &str,
    classes: &Arc<Vec<Class>>,
    prefix: &str,
    total: u64,
    concurrency: usize,
    timeout: Duration,
) -> Outcome {
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(Mutex::new((0u64, Vec::new())));
    let started = Instant::now();
    let started_wall = std::time::SystemTime::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let (addr, classes, next, errors) = (
                addr.to_owned(),
                Arc::clone(classes),
                Arc::clone(&next),
                Arc::clone(&errors),
            );
            let prefix = prefix.to_owned();
            std::thread::Builder::new()
                .name(format!("stress-load-{w}"))
                .spawn(move || {
                    // Ramp up over about a second rather than opening every connection at once.
                    std::thread::sleep(Duration::from_millis(20 * w as u64));
                    let mut conn = Conn::new(&addr);
                    let mut lat =
                        Vec::with_capacity(usize::try_from(total).unwrap_or(0) / concurrency + 16);
                    let mut by_class: HashMap<(&'static str, u16), u64> = HashMap::new();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= total {
                            break;
                        }
                        let class = &classes[usize::try_from(n).unwrap() % classes.len()];
                        let req = class.request(&prefix, n);
                        let t0 = Instant::now();
                        let result = conn.send(&req, timeout);
                        let us = u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX);
                        lat.push(us);
                        let verdict = match &result {
                            Ok(resp) => {
                                *by_class.entry((class.name, resp.status)).or_default() += 1;
                                check(class, &req.target, resp)
                            }
                            Err(e) => {
                                *by_class.entry((class.name, 0)).or_default() += 1;
                                Err(e.to_string())
                            }
                        };
                        if let Err(msg) = verdict {
                            let mut guard = errors.lock().unwrap();
                            guard.0 += 1;
                            if guard.1.len() < 50 {
                                guard.1.push((
                                    n,
                                    class.name,
                                    msg,
                                    (t0.duration_since(started), t0.elapsed()),
                                ));
                            }
                        }
                    }
                    (lat, by_class, conn.opened)
                })
                .expect("spawn a load thread")
        })
        .collect();
    let mut latencies_us = Vec::new();
    let mut by_class = HashMap::new();
    let mut sockets = 0;
    for w in workers {
        let (lat, classes, opened) = w.join().expect("a load thread panicked");
        latencies_us.extend(lat);
        for (k, v) in classes {
            *by_class.entry(k).or_default() += v;
        }
        sockets += opened;
    }
    let elapsed = started.elapsed();
    let (error_count, kept) = Arc::try_unwrap(errors)
        .map(|m| m.into_inner().unwrap())
        .unwrap_or_default();
    let error_sent_at = kept.iter().map(|e| e.3).collect();
    let errors = kept.into_iter().map(|(n, c, m, _)| (n, c, m)).collect();
    Outcome {
        sent: total,
        elapsed,
        latencies_us,
        errors,
        error_sent_at,
        started,
        started_wall,
        error_count,
        by_class,
        sockets,
    }
}

/// `p`-th percentile (0..=100) of sorted values.
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// `p50 / p90 / p99 / p99.9 / max` in milliseconds.
pub fn latency_line(latencies_us: &[u32]) -> String {
    let mut sorted = latencies_us.to_vec();
    sorted.sort_unstable();
    let ms = |us: u32| f64::from(us) / 1000.0;
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        ms(percentile(&sorted, 50.0)),
        ms(percentile(&sorted, 90.0)),
        ms(percentile(&sorted, 99.0)),
        ms(percentile(&sorted, 99.9)),
        ms(sorted.last().copied().unwrap_or(0)),
    )
}

/// Compares the upstream's records under `<prefix>-*` with the classes: every forwarded request exactly once,
/// with its target and method, and no denied one. Returns the number forwarded and the problems (empty when exact).
pub fn check_upstream(
    upstream: &Upstream,
    classes: &[Class],
    prefix: &str,
    total: u64,
) -> (u64, Vec<String>) {
    let records = upstream
        .requests()
        .into_iter()
        .map(|r| (r.header(CASE_HEADER).map(str::to_owned), r.method, r.target))
        .collect();
    check_records(records, classes, prefix, total)
}

/// [`check_upstream`] over `(x-e2e-case tag, method, target)` records from any upstream.
pub fn check_records(
    records: Vec<(Option<String>, String, String)>,
    classes: &[Class],
    prefix: &str,
    total: u64,
) -> (u64, Vec<String>) {
    let tag_prefix = format!("{prefix}-");
    let mut seen: HashMap<u64, Vec<(String, String)>> = HashMap::new();
    let mut problems = Vec::new();
    for (tag, method, target) in records {
        let Some(tag) = tag else {
            continue;
        };
        let Some(n) = tag.strip_prefix(&tag_prefix) else {
            continue;
        };
        match n.parse::<u64>() {
            Ok(n) => seen.entry(n).or_default().push((method, target)),
            Err(_) => problems.push(format!("odd tag `{tag}`")),
        }
    }
    let mut forwarded = 0;
    for n in 0..total {
        let class = &classes[usize::try_from(n).unwrap() % classes.len()];
        let got = seen.remove(&n).unwrap_or_default();
        match class.want {
            Want::Forwarded => {
                forwarded += 1;
                let want = (class.method.to_owned(), class.target(n));
                if got != [want.clone()] {
                    problems.push(format!(
                        "{prefix}-{n} ({}): the upstream saw {got:?}, want exactly [{want:?}]",
                        class.name
                    ));
                }
            }
            Want::Denied(..) => {
                if !got.is_empty() {
                    problems.push(format!(
                        "{prefix}-{n} ({}): denied, but the upstream saw {got:?}",
                        class.name
                    ));
                }
            }
        }
    }
    for (n, got) in seen {
        problems.push(format!(
            "{prefix}-{n}: never sent, but the upstream saw {got:?}"
        ));
    }
    (forwarded, problems)
}

/// One RSS reading: when, and `(pid, VmRSS KiB)` per workerd.
pub type RssSample = (Duration, Vec<(u32, u64)>);

/// RSS samples of the `workerd` processes in a process group, taken on a thread until stopped.
pub struct MemSampler {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<Vec<RssSample>>>,
}

impl MemSampler {
    /// Samples every `every`: for each live `workerd` in group `pgid`, `(pid, VmRSS in KiB)`.
    pub fn start(pgid: u32, every: Duration) -> MemSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let t0 = Instant::now();
                let mut out = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    out.push((t0.elapsed(), workerd_rss(pgid)));
                    let until = Instant::now() + every;
                    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                out
            })
        };
        MemSampler {
            stop,
            handle: Some(handle),
        }
    }

    pub fn finish(mut self) -> Vec<RssSample> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for MemSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// `(pid, VmRSS KiB)` of every live `workerd` in group `pgid`.
pub fn workerd_rss(pgid: u32) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    for pid in crate::support::group_members(pgid) {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let name = status
            .lines()
            .find_map(|l| l.strip_prefix("Name:"))
            .map(str::trim);
        if name != Some("workerd") {
            continue;
        }
        let rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
        if let Some(rss) = rss {
            out.push((pid, rss));
        }
    }
    out.sort_unstable();
    out
}

/// Median of a slice (sorted copy).
pub fn median(values: &[u64]) -> u64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// `(pid, name, CPU seconds used so far)` of every live process in group `pgid`, plus this process as `pid 0`.
pub fn group_cpu(pgid: u32) -> Vec<(u32, String, f64)> {
    let tick = 100.0; // USER_HZ on Linux
    let read = |pid: &str| -> Option<(String, f64)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (head, after) = stat.rsplit_once(')')?;
        let name = head.split_once('(')?.1.to_owned();
        let f: Vec<&str> = after.split_whitespace().collect();
        // after `)`: state(0) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(11) stime(12)
        let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
        Some((name, ticks / tick))
    };
    let mut out: Vec<(u32, String, f64)> = crate::support::group_members(pgid)
        .into_iter()
        .filter_map(|pid| read(&pid.to_string()).map(|(n, s)| (pid, n, s)))
        .collect();
    if let Some((n, s)) = read("self") {
        out.push((0, format!("{n} (this test)"), s));
    }
    out
}

/// `name pid: +X.Y s` for each process, the CPU used between two [`group_cpu`] snapshots.
pub fn cpu_line(before: &[(u32, String, f64)], after: &[(u32, String, f64)]) -> String {
    let mut parts = Vec::new();
    for (pid, name, s) in after {
        let was = before
            .iter()
            .find(|(p, _, _)| p == pid)
            .map_or(0.0, |(_, _, s)| *s);
        if s - was >= 0.05 {
            parts.push(format!("{name} {pid}: {:.1} s", s - was));
        }
    }
    parts.join(", ")
}

/// One reading of the Worker's memory after a forced full GC (through workerd's own inspector, `heap.mjs`), with
/// the user workerd's RSS right after it.
#[derive(Clone, Debug)]
pub struct HeapSample {
    pub at: Duration,
    /// Bytes live in the V8 heap after the GC.
    pub used: u64,
    /// Bytes of ArrayBuffer backing stores (the Wasm memory among them).
    pub backing: u64,
    /// Bytes of linear memory of each live `WebAssembly.Memory` (the Worker's Wasm instance).
    pub wasm: Vec<u64>,
    /// How long the reading took, start of `heap.mjs` to its answer.
    pub took: Duration,
    /// VmRSS of the workerd running the Worker, KiB.
    pub rss_kb: u64,
}

/// Forces a full GC in the Worker's isolate and reads its memory through the inspector port of the workerd that
/// runs it (`user_pid`), not through wrangler's inspector proxy: that proxy keeps every console message of the run
/// while no devtools client is attached and replays them all to the next one (one JSON line per request: 200,000
/// after a full load), and the reading then never got its answer. Inspector messages are handled only when the
/// isolate runs, so requests are sent to `addr` meanwhile.
///
/// Not done while the load runs: in a full run, each inspector session opened mid-load was followed by a burst of
/// dropped connections and "Your worker restarted mid-request" 503s from wrangler's proxy.
pub fn heap_reading(
    root: &std::path::Path,
    addr: &str,
    user_pid: Option<u32>,
    at: Duration,
) -> Result<HeapSample, String> {
    let pid = user_pid.ok_or("no workerd running the Worker")?;
    let port = inspector_port(pid)?;
    let script = root.join("tests/stress/heap.mjs");
    let done = Arc::new(AtomicBool::new(false));
    let nudger = {
        let (done, addr) = (Arc::clone(&done), addr.to_owned());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                let _ = crate::support::send(
                    &addr,
                    &RawRequest::get("/__stress_heap_nudge")
                        .header("CF-Connecting-IP", "192.0.2.1"),
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    // A session is sometimes closed before it answers (workerd's inspector is shared with wrangler's): up to
    // three attempts; `took` is the successful one's.
    let mut t0 = Instant::now();
    let mut result = heap_once(&script, port);
    for _ in 0..2 {
        if result.is_ok() {
            break;
        }
        println!("load: heap reading failed, again: {result:?}");
        t0 = Instant::now();
        result = heap_once(&script, port);
    }
    let took = t0.elapsed();
    done.store(true, Ordering::SeqCst);
    let _ = nudger.join();
    let (used, backing, wasm) = result?;
    Ok(HeapSample {
        at,
        used,
        backing,
        wasm,
        took,
        rss_kb: rss_of(pid).unwrap_or(0),
    })
}

fn heap_once(script: &std::path::Path, port: u16) -> Result<(u64, u64, Vec<u64>), String> {
    let out = std::process::Command::new("node")
        .arg(script)
        .arg(port.to_string())
        .output()
        .map_err(|e| format!("node: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.trim()).map_err(|e| {
        format!(
            "heap.mjs said {text:?} ({e}); stderr {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let wasm = v["wasm"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect());
    match (v["used"].as_u64(), v["backing"].as_u64(), wasm) {
        (Some(u), Some(b), Some(w)) => Ok((u, b, w)),
        _ => Err(format!("heap.mjs said {text}")),
    }
}

/// The inspector port of workerd `pid`: of the ports it listens on (the Worker's entry socket, the inspector, the
/// debug port), the one whose `/json` names a debugger target. The probe carries a blocked client IP, so
/// on the entry socket it is a denied request that reaches nothing.
pub fn inspector_port(pid: u32) -> Result<u16, String> {
    use std::io::{Read as _, Write as _};
    let ports = listening_ports(pid);
    for port in &ports {
        let probe = || -> std::io::Result<String> {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], *port));
            let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            s.write_all(
                b"GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\nCF-Connecting-IP: 192.0.2.1\r\nConnection: close\r\n\r\n",
            )?;
            // workerd's inspector keeps the connection open: read until the answer names a target or 2 s pass.
            let mut out = Vec::new();
            let mut chunk = [0u8; 4096];
            while !String::from_utf8_lossy(&out).contains("webSocketDebuggerUrl") {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out.extend_from_slice(&chunk[..n]),
                }
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        };
        if probe().is_ok_and(|body| body.contains("webSocketDebuggerUrl")) {
            return Ok(*port);
        }
    }
    Err(format!(
        "workerd {pid}: none of its listening ports {ports:?} is an inspector"
    ))
}

/// The TCP ports process `pid` listens on (its socket inodes matched against `/proc/net/tcp`).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| {
                    l.to_str()?
                        .strip_prefix("socket:[")?
                        .strip_suffix(']')
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    let mut ports: Vec<u16> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st ... inode(9); st 0A = LISTEN
            let (local, st, inode) = (f.get(1)?, f.get(3)?, f.get(9)?);
            (*st == "0A" && inodes.iter().any(|i| i == inode))
                .then(|| u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok())
                .flatten()
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The pid of the workerd running the Worker itself (the one wrangler gives an inspector address), in group `pgid`.
pub fn user_workerd(pgid: u32) -> Option<u32> {
    workerd_rss(pgid).into_iter().map(|(p, _)| p).find(|p| {
        std::fs::read(format!("/proc/{p}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains("--inspector-addr"))
            .unwrap_or(false)
    })
}
