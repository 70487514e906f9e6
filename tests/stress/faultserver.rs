//! A misbehaving origin for the fault phase, on 127.0.0.1 (port 0). The first path segment picks the fault:
//! - `/__blackhole/...`: reads the request and never answers (holds the socket until the peer closes it);
//! - `/__late/<ms>/...`: answers normally after `ms` milliseconds;
//! - `/__close-early/...`: closes the socket right after reading the request, no response at all;
//! - `/__close-mid/...`: sends a 200 head announcing 100,000 bytes, sends 1,000, then closes;
//! - `/__garbage/...`: answers with bytes that are not HTTP, then closes;
//! - anything else: a 200 carrying `x-upstream: edge-access-test` and the JSON echo `{"method","target"}`, like the
//!   e2e recording upstream, on a keep-alive connection.
//!
//! Every request is recorded (`x-e2e-case` tag, method, target). [`FaultServer::stop`] closes the listener, so the
//! port then refuses connections (the "upstream down" fault), and makes every connection thread finish within
//! 100 ms. Open connections are counted, so a test can see whether the Worker let go of a socket it gave up on.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `(tag, method, target)` of one received request.
pub type Record = (Option<String>, String, String);

pub struct FaultServer {
    addr: String,
    stop: Arc<AtomicBool>,
    records: Arc<Mutex<Vec<Record>>>,
    open: Arc<AtomicUsize>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultServer {
    pub fn start() -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fault server: bind");
        listener
            .set_nonblocking(true)
            .expect("fault server: nonblocking");
        let addr = listener
            .local_addr()
            .expect("fault server: addr")
            .to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let records = Arc::new(Mutex::new(Vec::new()));
        let open = Arc::new(AtomicUsize::new(0));
        let acceptor = {
            let (stop, records, open) =
                (Arc::clone(&stop), Arc::clone(&records), Arc::clone(&open));
            std::thread::Builder::new()
                .name("stress-faults".into())
                .spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        match listener.accept() {
                            Ok((sock, _)) => {
                                let (stop, records, open) =
                                    (Arc::clone(&stop), Arc::clone(&records), Arc::clone(&open));
                                open.fetch_add(1, Ordering::SeqCst);
                                let _ = std::thread::Builder::new()
                                    .name("stress-faults-conn".into())
                                    .spawn(move || {
                                        let _ = serve(sock, &stop, &records);
                                        open.fetch_sub(1, Ordering::SeqCst);
                                    });
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                std::thread::sleep(Duration::from_millis(5));
                            }
                            Err(_) => std::thread::sleep(Duration::from_millis(20)),
                        }
                    }
                    // The listener drops here: the port refuses connections from now on.
                })
                .expect("fault server: spawn")
        };
        FaultServer {
            addr,
            stop,
            records,
            open,
            acceptor: Some(acceptor),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn records(&self) -> Vec<Record> {
        self.records.lock().unwrap().clone()
    }

    /// Connections currently open from the Worker.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Closes the listener and every connection (waiting up to 2 s for the connection threads to see it, so no
    /// pooled keep-alive connection can still be answered afterwards).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.open.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads one request head (and a `Content-Length` body); `None` at EOF or on stop.
fn read_request(
    sock: &mut TcpStream,
    buf: &mut Vec<u8>,
    stop: &AtomicBool,
) -> io::Result<Option<Record>> {
    let mut chunk = [0u8; 8192];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        if let httparse::Status::Complete(head) = req
            .parse(buf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
        {
            let find = |name: &str| {
                req.headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| String::from_utf8_lossy(h.value).into_owned())
            };
            let len: usize = find("content-length")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let record = (
                find(crate::support::CASE_HEADER),
                req.method.unwrap_or("").to_owned(),
                req.path.unwrap_or("").to_owned(),
            );
            while buf.len() < head + len {
                match sock.read(&mut chunk) {
                    Ok(0) => return Ok(None),
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) if is_timeout(&e) && !stop.load(Ordering::SeqCst) => {}
                    Err(e) => return Err(e),
                }
            }
            buf.drain(..head + len);
            return Ok(Some(record));
        }
        match sock.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {
                if stop.load(Ordering::SeqCst) {
                    return Ok(None);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

fn serve(mut sock: TcpStream, stop: &AtomicBool, records: &Mutex<Vec<Record>>) -> io::Result<()> {
    sock.set_nonblocking(false)?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut buf = Vec::new();
    while let Some(record) = read_request(&mut sock, &mut buf, stop)? {
        if stop.load(Ordering::SeqCst) {
            return Ok(()); // stopped: a request on a pooled connection gets no answer, like a dead origin
        }
        let (method, target) = (record.1.clone(), record.2.clone());
        records.lock().unwrap().push(record);
        let mut segs = target.trim_start_matches('/').split(['/', '?']);
        match segs.next().unwrap_or("") {
            "__blackhole" => {
                // Hold the socket, answer nothing, until the peer gives up or the server stops.
                let mut chunk = [0u8; 1024];
                loop {
                    match sock.read(&mut chunk) {
                        Ok(0) => return Ok(()),
                        Ok(_) => {}
                        Err(e) if is_timeout(&e) => {
                            if stop.load(Ordering::SeqCst) {
                                return Ok(());
                            }
                        }
                        Err(_) => return Ok(()),
                    }
                }
            }
            "__late" => {
                let ms: u64 = segs.next().and_then(|m| m.parse().ok()).unwrap_or(0);
                let until = Instant::now() + Duration::from_millis(ms);
                while Instant::now() < until {
                    if stop.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                echo(&mut sock, &method, &target)?;
            }
            "__close-early" => {
                let _ = sock.shutdown(Shutdown::Both);
                return Ok(());
            }
            "__close-mid" => {
                sock.write_all(
                    b"HTTP/1.1 200 OK\r\nx-upstream: edge-access-test\r\ncontent-type: application/octet-stream\r\ncontent-length: 100000\r\n\r\n",
                )?;
                sock.write_all(&[b'x'; 1000])?;
                sock.flush()?;
                std::thread::sleep(Duration::from_millis(50));
                let _ = sock.shutdown(Shutdown::Both);
                return Ok(());
            }
            "__garbage" => {
                sock.write_all(b"this is not HTTP at all\r\n\r\n")?;
                let _ = sock.shutdown(Shutdown::Both);
                return Ok(());
            }
            _ => echo(&mut sock, &method, &target)?,
        }
    }
    Ok(())
}

fn echo(sock: &mut TcpStream, method: &str, target: &str) -> io::Result<()> {
    let body = serde_json::json!({ "method": method, "target": target }).to_string();
    let head = format!(
        "HTTP/1.1 200 OK\r\nx-upstream: edge-access-test\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes())?;
    sock.write_all(body.as_bytes())?;
    sock.flush()
}
