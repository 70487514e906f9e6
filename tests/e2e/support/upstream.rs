//! A recording upstream (origin) HTTP server for the end-to-end tier.
//!
//! The Worker under test forwards allowed requests here. Every request is recorded (method, raw target, headers in
//! order, body, arrival time) so a case can assert exactly what reached the origin, and, through the
//! `x-e2e-case` tag, that a denied request never did.
//!
//! Behaviours, selected by path prefixes that compose left to right (`/__slow/200/__status/503/x`):
//! - `/__status/<code>/...`: reply with that status (default 200);
//! - `/__slow/<ms>/...`: sleep `ms` milliseconds before replying;
//! - `/__headers/<name>/<value>/...`: add a response header (name and value are percent-decoded);
//! - `/__big/<n>`: reply with `n` bytes of [`big_body`] as a streamed (chunked) body instead of the echo.
//!
//! Every reply carries `x-upstream: edge-access-test`; the default body is the JSON echo
//! `{"method","target","headers":[[name,value],...],"body_len"}`.
//!
//! It must never alter what it records: the target is stored exactly as received; names are lower-cased, values
//! are as tiny_http hands them over (surrounding whitespace trimmed; non-ASCII header values make tiny_http reject
//! the request before it is recorded).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The header a case sets on its requests so [`Upstream::requests_tagged`] can find them.
pub const CASE_HEADER: &str = "x-e2e-case";

/// One request as the upstream received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Arrival order, from 0, over the server's lifetime (not reset by [`Upstream::clear`]).
    pub seq: u64,
    /// Method as received (`GET`, or a non-standard token).
    pub method: String,
    /// The request target exactly as received (path and query).
    pub target: String,
    /// Headers in received order; names lower-cased, duplicates kept.
    pub headers: Vec<(String, String)>,
    /// The whole body (de-chunked by tiny_http).
    pub body: Vec<u8>,
    /// When the request head arrived.
    pub at: Instant,
    /// The client end of the connection it came on (tells requests on one keep-alive connection apart).
    pub peer: Option<SocketAddr>,
}

impl Recorded {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of this header, in received order.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The target up to (not including) the first `?`.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The part of the target after the first `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// The body as text (lossy UTF-8).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Default)]
struct Log {
    next_seq: u64,
    requests: Vec<Recorded>,
}

/// The running server. Stops on [`Upstream::stop`] or drop.
pub struct Upstream {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

fn lock(log: &Mutex<Log>) -> MutexGuard<'_, Log> {
    // A panicking handler thread must not hide the records from the test.
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Upstream {
    /// Binds 127.0.0.1 on a free port and starts serving (one thread per request).
    pub fn start() -> Upstream {
        let server =
            Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("upstream: bind 127.0.0.1:0"));
        let addr = server
            .server_addr()
            .to_ip()
            .expect("upstream: listening on an IP address");
        let log = Arc::new(Mutex::new(Log::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (server, log, stop) = (Arc::clone(&server), Arc::clone(&log), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("e2e-upstream".into())
                .spawn(move || accept_loop(&server, &log, &stop))
                .expect("upstream: spawn acceptor")
        };
        Upstream {
            addr,
            log,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request recorded since start (or the last [`Upstream::clear`]), in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.log).requests.clone()
    }

    /// The recorded requests whose `x-e2e-case` header equals `tag` exactly.
    pub fn requests_tagged(&self, tag: &str) -> Vec<Recorded> {
        lock(&self.log)
            .requests
            .iter()
            .filter(|r| r.header(CASE_HEADER) == Some(tag))
            .cloned()
            .collect()
    }

    /// Waits until at least `n` requests tagged `tag` arrived (or `timeout` passed) and returns them all.
    pub fn wait_tagged(&self, tag: &str, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.requests_tagged(tag);
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Forgets all recorded requests.
    pub fn clear(&self) {
        lock(&self.log).requests.clear();
    }

    /// Stops accepting and joins the acceptor (requests already being handled finish on their own threads).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.acceptor.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(server: &Arc<tiny_http::Server>, log: &Arc<Mutex<Log>>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match server.recv_timeout(Duration::from_millis(50)) {
            Ok(Some(req)) => {
                let at = Instant::now();
                let log = Arc::clone(log);
                let spawned = std::thread::Builder::new()
                    .name("e2e-upstream-req".into())
                    .spawn(move || handle(req, at, &log));
                if let Err(e) = spawned {
                    eprintln!("upstream: cannot spawn a request thread: {e}");
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("upstream: recv failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn handle(mut req: tiny_http::Request, at: Instant, log: &Mutex<Log>) {
    let method = req.method().as_str().to_owned();
    let peer = req.remote_addr().copied();
    let target = req.url().to_owned();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    if let Err(e) = req.as_reader().read_to_end(&mut body) {
        eprintln!("upstream: reading the body of {method} {target} failed: {e}");
    }
    let echo = serde_json::json!({
        "method": method,
        "target": target,
        "headers": headers.iter().map(|(n, v)| [n, v]).collect::<Vec<_>>(),
        "body_len": body.len(),
    });
    {
        let mut log = lock(log);
        let seq = log.next_seq;
        log.next_seq += 1;
        log.requests.push(Recorded {
            seq,
            method,
            target: target.clone(),
            headers,
            body,
            at,
            peer,
        });
    }

    let plan = Plan::from_target(&target);
    if let Some(delay) = plan.delay {
        std::thread::sleep(delay);
    }
    let mut out_headers = vec![header("x-upstream", "edge-access-test")];
    out_headers.extend(plan.headers.iter().map(|(n, v)| header(n, v)));
    let status = tiny_http::StatusCode(plan.status);
    let result = match plan.big {
        Some(n) => {
            out_headers.push(header("content-type", "application/octet-stream"));
            req.respond(tiny_http::Response::new(
                status,
                out_headers,
                BigBody { pos: 0, len: n },
                None, // unknown length: tiny_http streams it chunked to HTTP/1.1 clients
                None,
            ))
        }
        None => {
            out_headers.push(header("content-type", "application/json"));
            let data = echo.to_string().into_bytes();
            let len = data.len();
            req.respond(tiny_http::Response::new(
                status,
                out_headers,
                io::Cursor::new(data),
                Some(len),
                None,
            ))
        }
    };
    if let Err(e) = result {
        // The Worker may abort the upstream fetch (client gone, timeout): not a test failure by itself.
        eprintln!("upstream: responding to {target} failed: {e}");
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
        .unwrap_or_else(|()| panic!("upstream: invalid response header `{name}: {value}`"))
}

/// What a target asks the upstream to do.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    status: u16,
    delay: Option<Duration>,
    headers: Vec<(String, String)>,
    big: Option<u64>,
}

impl Plan {
    fn from_target(target: &str) -> Plan {
        let path = target.split('?').next().unwrap_or("");
        let mut plan = Plan {
            status: 200,
            ..Plan::default()
        };
        let mut segs = path.trim_start_matches('/').split('/').peekable();
        loop {
            match segs.peek().copied() {
                Some("__status") => {
                    segs.next();
                    if let Some(code) = segs.next().and_then(|c| c.parse().ok()) {
                        plan.status = code;
                    }
                }
                Some("__slow") => {
                    segs.next();
                    if let Some(ms) = segs.next().and_then(|c| c.parse().ok()) {
                        plan.delay = Some(Duration::from_millis(ms));
                    }
                }
                Some("__headers") => {
                    segs.next();
                    if let (Some(n), Some(v)) = (segs.next(), segs.next()) {
                        plan.headers.push((percent_decode(n), percent_decode(v)));
                    }
                }
                Some("__big") => {
                    segs.next();
                    plan.big = segs.next().and_then(|c| c.parse().ok());
                    return plan;
                }
                _ => return plan,
            }
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `n`-byte body `/__big/<n>` sends: `0123456789abcdef` repeated, cut at `n`.
pub fn big_body(n: usize) -> Vec<u8> {
    b"0123456789abcdef"
        .iter()
        .copied()
        .cycle()
        .take(n)
        .collect()
}

struct BigBody {
    pos: u64,
    len: u64,
}

impl Read for BigBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        const PATTERN: &[u8; 16] = b"0123456789abcdef";
        let left = usize::try_from(self.len - self.pos).unwrap_or(usize::MAX);
        let n = buf.len().min(left).min(64 * 1024);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = PATTERN[((self.pos as usize) + i) % 16];
        }
        self.pos += n as u64;
        Ok(n)
    }
}
