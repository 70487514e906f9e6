//! A raw HTTP/1.1 client over a plain `TcpStream`, for the end-to-end tier.
//!
//! Real clients normalise what an attacker would not: they resolve dot segments, decode `%2F`, merge duplicate
//! headers, refuse odd methods and cap header sizes. This client sends the request line, the headers and the body
//! exactly as the test wrote them, so the Worker under test sees the hostile input the case means to send.
//!
//! It must never "fix" a request: no normalisation of the target, no re-ordering, merging or case-folding of
//! request headers. It only adds `Host`, `Connection: close` and `Content-Length` when the test did not give them
//! (see [`RawRequest::to_bytes`]). Every exchange uses a fresh connection and reads exactly one response, ended by
//! its framing (not by EOF: workerd keeps the socket open 5 s despite `Connection: close`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Upper bound for one whole exchange (connect, write, read to EOF).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A request to send verbatim. Build it with [`RawRequest::get`] and friends, then [`send`] it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRequest {
    /// The method token, sent as is (`GET`, `get`, `FOO`, ...).
    pub method: String,
    /// The request target, sent as is: `/a/../b`, `/a%2Fb`, `*`, `http://x/abs`, ...
    pub target: String,
    /// Headers in sending order; names and values are written verbatim, duplicates are kept.
    pub headers: Vec<(String, String)>,
    /// The body; when non-empty and no `Content-Length`/`Transfer-Encoding` header is given, `Content-Length` is
    /// added.
    pub body: Vec<u8>,
}

impl RawRequest {
    /// A request with any method token and target, no headers and no body.
    pub fn new(method: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `GET target`.
    pub fn get(target: impl Into<String>) -> Self {
        Self::new("GET", target)
    }

    /// `HEAD target` (the response body is then taken as empty whatever `Content-Length` says).
    pub fn head(target: impl Into<String>) -> Self {
        Self::new("HEAD", target)
    }

    /// `POST target`.
    pub fn post(target: impl Into<String>) -> Self {
        Self::new("POST", target)
    }

    /// `OPTIONS target`.
    pub fn options(target: impl Into<String>) -> Self {
        Self::new("OPTIONS", target)
    }

    /// Appends one header (never replaces: call twice to send a duplicate).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and appends `Content-Type: application/json`.
    #[must_use]
    pub fn json(self, value: &serde_json::Value) -> Self {
        self.header("Content-Type", "application/json")
            .body(value.to_string())
    }

    /// The first header with this name (ASCII case-insensitive), if any.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn has_header(&self, name: &str) -> bool {
        self.header_value(name).is_some()
    }

    /// The exact bytes [`send`] writes for this request to `addr` (`host:port`).
    ///
    /// Added only when absent (compared case-insensitively): `Host: <addr>`, `Connection: close` (a test that
    /// sends its own `Connection` header must make sure the server still closes, or the read waits for
    /// [`TIMEOUT`]), and `Content-Length: <len>` when the body is non-empty and neither `Content-Length` nor
    /// `Transfer-Encoding` was given (so a test can send a lying or chunked framing on purpose).
    pub fn to_bytes(&self, addr: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.len());
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        if !self.has_header("host") {
            out.extend_from_slice(format!("Host: {addr}\r\n").as_bytes());
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if !self.has_header("connection") {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        if !self.body.is_empty()
            && !self.has_header("content-length")
            && !self.has_header("transfer-encoding")
        {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// A parsed response.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code of the final (non-1xx) response.
    pub status: u16,
    /// The reason phrase as sent.
    pub reason: String,
    /// Headers in received order; names lower-cased, values as sent (lossy UTF-8), duplicates kept.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked when `Transfer-Encoding: chunked` (trailers are dropped).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header with this name (case-insensitive), if any.
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

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics (with the status and body) when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        match serde_json::from_slice(&self.body) {
            Ok(v) => v,
            Err(e) => panic!("response body is not JSON ({e}): {self:?}"),
        }
    }

    /// The body parsed as JSON, or `None`.
    pub fn try_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

impl fmt::Debug for Response {
    /// Status, headers and the body as (at most 2 KiB of) text, for assertion messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.text();
        let shown: String = text.chars().take(2048).collect();
        let more = if shown.len() < text.len() { " ..." } else { "" };
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &format!("{shown}{more}"))
            .finish()
    }
}

/// Sends `req` to `addr` (`127.0.0.1:port`) over a fresh connection and reads one response.
///
/// Reading stops at the end of the response as its framing says (`Content-Length`, the last chunk, or no body
/// for `HEAD`/1xx/204/304) or at EOF when there is no framing. Waiting for EOF alone is not enough: workerd
/// ignores `Connection: close` and keeps the socket open for its 5 s keep-alive.
pub fn send(addr: &str, req: &RawRequest) -> io::Result<Response> {
    let head_only = req.method.eq_ignore_ascii_case("HEAD");
    let raw = exchange_framed(addr, &req.to_bytes(addr), head_only)?;
    finish(&raw, head_only)
}

/// Sends `bytes` verbatim (nothing added) to `addr` and parses the first response.
///
/// When the bytes start with `HEAD ` the response body is taken as empty. With pipelined requests only the
/// first response is returned.
pub fn send_bytes(addr: &str, bytes: &[u8]) -> io::Result<Response> {
    let head_only = bytes.len() >= 5 && bytes[..5].eq_ignore_ascii_case(b"HEAD ");
    let raw = exchange_framed(addr, bytes, head_only)?;
    finish(&raw, head_only)
}

/// Sends `bytes` verbatim and returns the raw reply bytes, unparsed: everything up to the end of the first
/// complete HTTP response, or up to EOF (possibly nothing) when the reply never forms one. For cases where the
/// server may answer with something that is not HTTP, or close without answering.
pub fn exchange(addr: &str, bytes: &[u8]) -> io::Result<Vec<u8>> {
    let head_only = bytes.len() >= 5 && bytes[..5].eq_ignore_ascii_case(b"HEAD ");
    exchange_framed(addr, bytes, head_only)
}

fn finish(raw: &[u8], head_only: bool) -> io::Result<Response> {
    match parse(raw, head_only, true)? {
        Some((resp, _)) => Ok(resp),
        None => Err(invalid(format!(
            "incomplete response ({} bytes): {:?}",
            raw.len(),
            preview(raw)
        ))),
    }
}

fn preview(raw: &[u8]) -> String {
    String::from_utf8_lossy(&raw[..raw.len().min(512)]).into_owned()
}

fn exchange_framed(addr: &str, bytes: &[u8], head_only: bool) -> io::Result<Vec<u8>> {
    let deadline = Instant::now() + TIMEOUT;
    let sock = resolve(addr)?;
    let mut stream = TcpStream::connect_timeout(&sock, TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    // A server may answer and close before reading a large body: a failed write is not fatal, the reply is.
    let write_err = stream.write_all(bytes).and_then(|()| stream.flush()).err();
    let mut out = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no complete response from {addr} within {TIMEOUT:?}; got {} bytes: {:?}",
                    out.len(),
                    preview(&out)
                ),
            ));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                // Complete (or unparsable: no point waiting) -> stop reading.
                match response_len(&out, head_only) {
                    Ok(Some(used)) => {
                        out.truncate(used);
                        break;
                    }
                    Ok(None) => {}
                    Err(_) => break,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            // A reset after some reply (server closed with unread request bytes) keeps what arrived.
            Err(e) if !out.is_empty() && e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) => return Err(e),
        }
    }
    if out.is_empty() {
        if let Some(e) = write_err {
            return Err(e);
        }
    }
    Ok(out)
}

fn resolve(addr: &str) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{addr}` resolves to nothing"),
        )
    })
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Parses the first final response in `raw` (interim 1xx responses other than 101 are skipped).
///
/// Returns `Ok(None)` while more bytes are needed, `Ok(Some((response, bytes_used)))` once complete, and an error
/// on unparsable input. With `at_eof`, a response without length framing takes the rest as its body, and a
/// truncated `Content-Length` or chunked body is an error.
pub fn parse(raw: &[u8], head_only: bool, at_eof: bool) -> io::Result<Option<(Response, usize)>> {
    let mut offset = 0;
    loop {
        let rest = &raw[offset..];
        let Some((status, reason, headers, head_len)) = parse_head(rest)? else {
            return if at_eof {
                Err(invalid(format!(
                    "incomplete response head ({} bytes): {:?}",
                    rest.len(),
                    preview(rest)
                )))
            } else {
                Ok(None)
            };
        };
        let after = &rest[head_len..];
        let base = offset + head_len;
        if (100..200).contains(&status) && status != 101 {
            offset = base;
            continue;
        }
        let mut resp = Response {
            status,
            reason,
            headers,
            body: Vec::new(),
        };
        if head_only || (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(Some((resp, base)));
        }
        let chunked = resp
            .headers_named("transfer-encoding")
            .iter()
            .any(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            return match dechunk(after)? {
                Some((body, used)) => {
                    resp.body = body;
                    Ok(Some((resp, base + used)))
                }
                None if at_eof => Err(invalid(format!(
                    "chunked body truncated after {} bytes",
                    after.len()
                ))),
                None => Ok(None),
            };
        }
        if let Some(len) = resp.header("content-length") {
            let len: usize = len
                .trim()
                .parse()
                .map_err(|_| invalid(format!("bad content-length `{len}`")))?;
            return if after.len() >= len {
                resp.body = after[..len].to_vec();
                Ok(Some((resp, base + len)))
            } else if at_eof {
                Err(invalid(format!(
                    "body truncated: content-length {len}, got {}",
                    after.len()
                )))
            } else {
                Ok(None)
            };
        }
        if !at_eof {
            return Ok(None); // delimited by EOF
        }
        resp.body = after.to_vec();
        return Ok(Some((resp, raw.len())));
    }
}

type Head = (u16, String, Vec<(String, String)>, usize);

fn parse_head(rest: &[u8]) -> io::Result<Option<Head>> {
    let mut cap = 64;
    loop {
        let mut slots = vec![httparse::EMPTY_HEADER; cap];
        let mut parsed = httparse::Response::new(&mut slots);
        match parsed.parse(rest) {
            Ok(httparse::Status::Complete(n)) => {
                let headers = parsed
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                return Ok(Some((
                    parsed.code.unwrap_or(0),
                    parsed.reason.unwrap_or("").to_owned(),
                    headers,
                    n,
                )));
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) if cap < 16 * 1024 => cap *= 4,
            Err(e) => {
                return Err(invalid(format!(
                    "unparsable response ({e}): {:?}",
                    preview(rest)
                )))
            }
        }
    }
}

/// The length of the first complete final response in `raw` (heads and chunk lines are scanned, bodies are not
/// copied), or `Ok(None)` while more bytes are needed or the body runs to EOF.
fn response_len(raw: &[u8], head_only: bool) -> io::Result<Option<usize>> {
    let mut offset = 0;
    loop {
        let rest = &raw[offset..];
        let Some((status, _, headers, head_len)) = parse_head(rest)? else {
            return Ok(None);
        };
        let base = offset + head_len;
        if (100..200).contains(&status) && status != 101 {
            offset = base;
            continue;
        }
        if head_only || (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(Some(base));
        }
        let named = |name: &'static str| {
            headers
                .iter()
                .filter(move |(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if named("transfer-encoding").any(|v| v.to_ascii_lowercase().contains("chunked")) {
            return Ok(scan_chunked(&rest[head_len..], None)?.map(|used| base + used));
        }
        if let Some(len) = named("content-length").next() {
            let len: usize = len
                .trim()
                .parse()
                .map_err(|_| invalid(format!("bad content-length `{len}`")))?;
            return Ok((raw.len() >= base + len).then_some(base + len));
        }
        return Ok(None);
    }
}

/// Decodes a chunked body (extensions ignored, trailers dropped): `Ok(None)` while incomplete, else the body and
/// the bytes used (through the blank line after the trailers).
pub fn dechunk(data: &[u8]) -> io::Result<Option<(Vec<u8>, usize)>> {
    let mut out = Vec::new();
    Ok(scan_chunked(data, Some(&mut out))?.map(|used| (out, used)))
}

/// Walks a chunked body, appending the data to `out` when given; returns the bytes used once complete.
fn scan_chunked(mut data: &[u8], mut out: Option<&mut Vec<u8>>) -> io::Result<Option<usize>> {
    let total = data.len();
    loop {
        let Some(eol) = find_crlf(data) else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&data[..eol]);
        let size_txt = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_txt, 16)
            .map_err(|_| invalid(format!("bad chunk size `{size_txt}`")))?;
        data = &data[eol + 2..];
        if size == 0 {
            // Trailer lines, then an empty line.
            loop {
                let Some(eol) = find_crlf(data) else {
                    return Ok(None);
                };
                data = &data[eol + 2..];
                if eol == 0 {
                    return Ok(Some(total - data.len()));
                }
            }
        }
        if data.len() < size + 2 {
            return Ok(None);
        }
        if let Some(out) = out.as_deref_mut() {
            out.extend_from_slice(&data[..size]);
        }
        if &data[size..size + 2] != b"\r\n" {
            return Err(invalid("chunk not followed by CRLF".into()));
        }
        data = &data[size + 2..];
    }
}

fn find_crlf(data: &[u8]) -> Option<usize> {
    data.windows(2).position(|w| w == b"\r\n")
}
