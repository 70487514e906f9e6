//! Plumbing for the end-to-end tier: a real `wrangler dev` ([`Wrangler`]), a recording upstream ([`Upstream`]) and
//! a raw HTTP/1.1 client ([`send`], [`send_bytes`]). The case tables and the test main live in `tests/e2e/main.rs`.
//!
//! This module must never use fixed ports, never leave a process behind, and never alter a request on the way
//! out (the client) or in (the upstream's records). Cases tag their requests with `x-e2e-case: <name>` (see
//! [`Case`]) so assertions about what the upstream saw are exact even when cases share one server.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod forge;
pub mod http;
pub mod jwt;
pub mod origins;
pub mod upstream;
pub mod wrangler;

use std::time::Duration;

pub use http::{send, send_bytes, RawRequest, Response};
pub use jwt::JwtServer;
pub use upstream::{big_body, Recorded, Upstream, CASE_HEADER};
pub use wrangler::{Shutdown, Wrangler, WranglerOptions, PROBE_TAG};

/// A currently free TCP port on 127.0.0.1 (bind `:0`, read the port, release it). Another process can take it
/// before it is used; wrangler reports the port it really bound in its `Ready on` line, which [`Wrangler`] follows.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0 to find a free port")
}

/// The pids of live (non-zombie) processes in process group `pgid`, from `/proc`. Where `/proc` cannot be read,
/// falls back to `kill -0 -- -PGID` and returns `[pgid]` when that succeeds (zombies then count as alive).
pub fn group_members(pgid: u32) -> Vec<u32> {
    group_pids(pgid, false)
}

/// Waits up to `timeout` until no process at all, zombies included, is in group `pgid` (what `pgrep -g` shows).
/// Grandchildren orphaned by the shutdown are zombies until PID 1 reaps them (about 1 s in the dev sandbox;
/// never, under a PID 1 that does not reap). Returns whether the group became empty.
pub fn wait_group_empty(pgid: u32, timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if group_pids(pgid, true).is_empty() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pids in group `pgid`, zombies included or not.
pub fn group_pids(pgid: u32, include_zombies: bool) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        let alive = std::process::Command::new("kill")
            .args(["-0", "--", &format!("-{pgid}")])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        return if alive { vec![pgid] } else { Vec::new() };
    };
    let mut pids = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue; // exited meanwhile
        };
        // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parens, so split after the last `)`.
        let Some((_, after)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = after.split_whitespace();
        let state = fields.next().unwrap_or("");
        let pgrp = fields.nth(1).and_then(|p| p.parse::<u32>().ok());
        if pgrp == Some(pgid) && (include_zombies || (state != "Z" && state != "X")) {
            pids.push(pid);
        }
    }
    pids
}

/// Whether process group `pgid` has a live (non-zombie) member.
pub fn group_alive(pgid: u32) -> bool {
    !group_members(pgid).is_empty()
}

/// One case's view of the shared harness: it tags what it sends with `x-e2e-case: <name>` and reads back only
/// its own upstream records.
pub struct Case<'h> {
    /// The case name, also its tag.
    pub name: String,
    /// The Worker under test.
    pub wrangler: &'h Wrangler,
    /// The recording upstream the Worker forwards to.
    pub upstream: &'h Upstream,
}

impl<'h> Case<'h> {
    /// A case named `name` (names must be unique across the run for the tag to be exact).
    pub fn new(name: impl Into<String>, wrangler: &'h Wrangler, upstream: &'h Upstream) -> Self {
        Case {
            name: name.into(),
            wrangler,
            upstream,
        }
    }

    /// `req` with `x-e2e-case: <name>` appended unless it already carries that header.
    pub fn tagged(&self, req: RawRequest) -> RawRequest {
        if req.header_value(CASE_HEADER).is_some() {
            req
        } else {
            req.header(CASE_HEADER, self.name.clone())
        }
    }

    /// Tags and sends `req` to the Worker; panics (naming the case) on an I/O error.
    pub fn send(&self, req: RawRequest) -> Response {
        let req = self.tagged(req);
        send(&self.wrangler.addr(), &req)
            .unwrap_or_else(|e| panic!("case `{}`: sending {req:?} failed: {e}", self.name))
    }

    /// Sends raw bytes (untagged unless the bytes carry the header); panics (naming the case) on an I/O error.
    pub fn send_bytes(&self, bytes: &[u8]) -> Response {
        send_bytes(&self.wrangler.addr(), bytes).unwrap_or_else(|e| {
            panic!(
                "case `{}`: sending {:?} failed: {e}",
                self.name,
                String::from_utf8_lossy(bytes)
            )
        })
    }

    /// What the upstream received under this case's tag.
    pub fn upstream_saw(&self) -> Vec<Recorded> {
        self.upstream.requests_tagged(&self.name)
    }

    /// The one request the upstream received under this tag; panics (naming the case) on zero or several.
    pub fn upstream_one(&self) -> Recorded {
        let mut seen = self.upstream_saw();
        assert_eq!(
            seen.len(),
            1,
            "case `{}`: expected exactly one upstream request, got {seen:#?}",
            self.name
        );
        seen.remove(0)
    }

    /// Panics (naming the case) if the upstream received anything under this tag.
    pub fn assert_upstream_untouched(&self) {
        let seen = self.upstream_saw();
        assert!(
            seen.is_empty(),
            "case `{}`: the upstream must not have been reached, got {seen:#?}",
            self.name
        );
    }

    /// The first Worker log line that is a JSON object with `"<field>": "<name>"`, waiting up to `timeout`.
    pub fn log_with(&self, field: &str, timeout: Duration) -> Option<serde_json::Value> {
        self.wrangler.wait_for_json_log(
            |v| v.get(field).and_then(serde_json::Value::as_str) == Some(self.name.as_str()),
            timeout,
        )
    }
}
