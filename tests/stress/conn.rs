//! A keep-alive HTTP/1.1 connection for the load driver: requests are written verbatim (see
//! [`RawRequest::to_bytes`]) with `Connection: keep-alive`, and each response is read to the end of its framing
//! with the e2e client's parser ([`http::parse`]), so one socket carries many exchanges.
//!
//! It never retries: a request that fails on the wire is reported as an error, so the caller's "zero errors the
//! policy did not cause" is exact. A response that says `Connection: close` (or an EOF after a complete response)
//! just means the next request opens a new socket.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::http::{self, RawRequest, Response};

/// One keep-alive client connection to `addr`.
pub struct Conn {
    addr: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    /// Sockets opened so far (1 when keep-alive held throughout).
    pub opened: u64,
}

/// Why an exchange failed.
#[derive(Debug)]
pub enum ConnError {
    /// Connect, write or read failed (including EOF before a complete response).
    Io(io::Error),
    /// No complete response within the timeout.
    Timeout(Duration),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Io(e) => write!(f, "i/o: {e}"),
            ConnError::Timeout(d) => write!(f, "no response within {d:?}"),
        }
    }
}

impl Conn {
    pub fn new(addr: &str) -> Conn {
        Conn {
            addr: addr.to_owned(),
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
            opened: 0,
        }
    }

    /// Sends `req` (with `Connection: keep-alive` appended unless it has a `Connection` header) and reads one
    /// response, waiting at most `timeout`.
    pub fn send(&mut self, req: &RawRequest, timeout: Duration) -> Result<Response, ConnError> {
        let bytes = if req.header_value("connection").is_some() {
            req.to_bytes(&self.addr)
        } else {
            req.clone()
                .header("Connection", "keep-alive")
                .to_bytes(&self.addr)
        };
        let head_only = req.method.eq_ignore_ascii_case("HEAD");
        let result = self.exchange(&bytes, head_only, timeout);
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    fn exchange(
        &mut self,
        bytes: &[u8],
        head_only: bool,
        timeout: Duration,
    ) -> Result<Response, ConnError> {
        let deadline = Instant::now() + timeout;
        if self.stream.is_none() {
            let sock = self
                .addr
                .parse()
                .map_err(|e| ConnError::Io(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
            let s = TcpStream::connect_timeout(&sock, timeout).map_err(ConnError::Io)?;
            s.set_nodelay(true).map_err(ConnError::Io)?;
            self.stream = Some(s);
            self.opened += 1;
            self.buf.clear();
        }
        let stream = self.stream.as_mut().ok_or_else(|| {
            ConnError::Io(io::Error::new(io::ErrorKind::NotConnected, "no socket"))
        })?;
        stream
            .set_write_timeout(Some(timeout))
            .map_err(ConnError::Io)?;
        stream.write_all(bytes).map_err(ConnError::Io)?;
        let mut chunk = [0u8; 32 * 1024];
        loop {
            if !self.buf.is_empty() {
                if let Some((resp, used)) =
                    http::parse(&self.buf, head_only, false).map_err(ConnError::Io)?
                {
                    self.buf.drain(..used);
                    let close = resp
                        .header("connection")
                        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                    if close {
                        self.stream = None;
                    }
                    return Ok(resp);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ConnError::Timeout(timeout));
            }
            stream.set_read_timeout(Some(left)).map_err(ConnError::Io)?;
            match stream.read(&mut chunk) {
                Ok(0) => {
                    // EOF: a response delimited by EOF is complete now; anything else is truncated.
                    let parsed = http::parse(&self.buf, head_only, true).map_err(ConnError::Io)?;
                    self.stream = None;
                    return match parsed {
                        Some((resp, _)) => Ok(resp),
                        None => Err(ConnError::Io(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "closed before a response",
                        ))),
                    };
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(ConnError::Timeout(timeout));
                }
                Err(e) => return Err(ConnError::Io(e)),
            }
        }
    }
}
