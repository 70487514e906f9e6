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
//! have their surrounding whitespace trimmed; a request head with a non-ASCII byte is not recorded (the connection
//! is closed without an answer).
//!
//! The HTTP/1.1 server is a small one of its own (httparse for the head, a thread per connection, keep-alive,
//! Content-Length and chunked request bodies). It used tiny_http 0.12 before, whose connection pool has a race:
//! it counts a thread it has just woken for one new connection as still idle, so a second connection accepted
//! in the same instant is queued until some other connection ends. Under the stress load (tests/stress) such a
//! connection's request sat unread in the socket for 5 to 19 s and the Worker answered 504 upstream_timeout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
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
    /// The whole body (de-chunked when it came chunked).
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
    /// Binds 127.0.0.1 on a free port and starts serving (one thread per connection).
    pub fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("upstream: bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("upstream: listening on an IP address");
        let log = Arc::new(Mutex::new(Log::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("e2e-upstream".into())
                .spawn(move || accept_loop(&listener, &log, &stop))
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

    /// Stops accepting and joins the acceptor (connections already open are served to their end on their own
    /// threads).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.acceptor.take() {
            // Wake the blocking accept so it sees the flag.
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
            let _ = handle.join();
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: &TcpListener, log: &Arc<Mutex<Log>>, stop: &AtomicBool) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match conn {
            Ok(stream) => {
                let log = Arc::clone(log);
                let spawned = std::thread::Builder::new()
                    .name("e2e-upstream-conn".into())
                    .spawn(move || serve(stream, &log));
                if let Err(e) = spawned {
                    eprintln!("upstream: cannot spawn a connection thread: {e}");
                }
            }
            Err(e) => {
                eprintln!("upstream: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// One request head as read from the wire.
struct Head {
    method: String,
    target: String,
    http10: bool,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Serves the requests of one connection, in order, until the peer closes it or asks to.
fn serve(stream: TcpStream, log: &Mutex<Log>) {
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok();
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        let Some(raw) = read_head(&mut reader) else {
            return;
        };
        let at = Instant::now();
        if !raw.is_ascii() {
            return;
        }
        let Some(head) = parse_head(&raw) else {
            let _ = writer.write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
            return;
        };
        if head
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            let _ = writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let body = match read_body(&mut reader, &head) {
            Ok(body) => body,
            Err(e) => {
                eprintln!(
                    "upstream: reading the body of {} {} failed: {e}",
                    head.method, head.target
                );
                return;
            }
        };
        let connection = head.header("connection").map(str::to_ascii_lowercase);
        let close = match &connection {
            Some(c) if c.contains("close") => true,
            Some(c) => head.http10 && !c.contains("keep-alive"),
            None => head.http10,
        };
        if let Err(e) = respond(&mut writer, head, body, at, peer, close, log) {
            // The Worker may abort the upstream fetch (client gone, timeout): not a test failure by itself.
            eprintln!("upstream: responding failed: {e}");
            return;
        }
        if close {
            return;
        }
    }
}

/// Reads up to and including the blank line that ends a request head; `None` on EOF, an error or a head over
/// 1 MiB. Empty lines before the request line are skipped (RFC 9112 2.2).
fn read_head(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut raw = Vec::new();
    loop {
        let start = raw.len();
        match reader.read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let line = &raw[start..];
        if line == b"\r\n" || line == b"\n" {
            if start == 0 {
                raw.clear();
                continue;
            }
            return Some(raw);
        }
        if raw.len() > 1 << 20 {
            return None;
        }
    }
}

fn parse_head(raw: &[u8]) -> Option<Head> {
    // As many header slots as the head has lines (the adversarial cases send thousands of headers).
    let lines = raw.iter().filter(|b| **b == b'\n').count();
    let mut headers = vec![httparse::EMPTY_HEADER; lines];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(raw) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return None,
    }
    Some(Head {
        method: req.method?.to_owned(),
        target: req.path?.to_owned(),
        http10: req.version? == 0,
        headers: req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).trim().to_owned(),
                )
            })
            .collect(),
    })
}

/// The whole request body: chunked (de-chunked here), by Content-Length, or none.
fn read_body(reader: &mut impl BufRead, head: &Head) -> io::Result<Vec<u8>> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let chunked = head
        .header("transfer-encoding")
        .is_some_and(|te| !te.eq_ignore_ascii_case("identity"));
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size, 16).map_err(|_| bad("chunk size"))?;
            if size == 0 {
                // Trailers, up to the blank line.
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
        }
    }
    if let Some(len) = head.header("content-length") {
        let len: usize = len.parse().map_err(|_| bad("content-length"))?;
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(body)
}

/// Records the request, then answers it as its target asks ([`Plan`]).
fn respond(
    out: &mut TcpStream,
    head: Head,
    body: Vec<u8>,
    at: Instant,
    peer: Option<SocketAddr>,
    close: bool,
    log: &Mutex<Log>,
) -> io::Result<()> {
    let Head {
        method,
        target,
        headers,
        ..
    } = head;
    let echo = serde_json::json!({
        "method": method,
        "target": target,
        "headers": headers.iter().map(|(n, v)| [n, v]).collect::<Vec<_>>(),
        "body_len": body.len(),
    });
    let head_only = method.eq_ignore_ascii_case("HEAD");
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
    let mut resp = format!(
        "HTTP/1.1 {} {}\r\nx-upstream: edge-access-test\r\n",
        plan.status,
        reason(plan.status)
    );
    for (n, v) in &plan.headers {
        resp.push_str(&format!("{n}: {v}\r\n"));
    }
    if close {
        resp.push_str("connection: close\r\n");
    }
    match plan.big {
        Some(n) => {
            resp.push_str("content-type: application/octet-stream\r\n");
            if head_only {
                resp.push_str("\r\n");
                return out.write_all(resp.as_bytes());
            }
            // Unknown length: streamed chunked, 64 KiB at a time.
            resp.push_str("transfer-encoding: chunked\r\n\r\n");
            out.write_all(resp.as_bytes())?;
            let mut pos = 0u64;
            while pos < n {
                let len = (n - pos).min(64 * 1024);
                let chunk: Vec<u8> = (pos..pos + len)
                    .map(|i| PATTERN[(i % 16) as usize])
                    .collect();
                out.write_all(format!("{len:x}\r\n").as_bytes())?;
                out.write_all(&chunk)?;
                out.write_all(b"\r\n")?;
                pos += len;
            }
            out.write_all(b"0\r\n\r\n")
        }
        None => {
            let data = echo.to_string().into_bytes();
            resp.push_str(&format!(
                "content-type: application/json\r\ncontent-length: {}\r\n\r\n",
                data.len()
            ));
            let mut bytes = resp.into_bytes();
            if !head_only {
                bytes.extend_from_slice(&data);
            }
            out.write_all(&bytes)
        }
    }
}

/// The standard reason phrase of a status code (`Status` for the ones not listed).
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
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

const PATTERN: &[u8; 16] = b"0123456789abcdef";

/// The `n`-byte body `/__big/<n>` sends: `0123456789abcdef` repeated, cut at `n`.
pub fn big_body(n: usize) -> Vec<u8> {
    PATTERN.iter().copied().cycle().take(n).collect()
}
