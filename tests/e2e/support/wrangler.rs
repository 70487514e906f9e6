//! Runs a real `wrangler dev` (Miniflare + workerd) for the end-to-end tier.
//!
//! [`Wrangler::start`] writes a throw-away `wrangler.toml` into a fresh temp dir (no `[build]` section, so
//! wrangler never rebuilds; `main` absolute), starts `wrangler dev` on free ports in its own process group,
//! captures its stdout and stderr line by line (the Worker's `console.log` lines land there), and returns once the
//! Worker answers HTTP. Dropping it (or [`Wrangler::shutdown`]) stops the whole process group.
//!
//! It must never leave processes behind and never use fixed ports:
//! - the group is stopped with `kill -TERM -- -PGID`, then `kill -KILL -- -PGID` after 5 s;
//! - when `$E2E_PGID_DIR` is set, `<dir>/<pgid>.pgid` (content: the PGID) exists while the group may be alive,
//!   so a Makefile can reap groups of a test process that was itself killed (`kill -TERM -- -$(cat f)`);
//! - a watchdog `sh` inside the group stops the group (TERM, 5 s, KILL) and removes the temp dir and PGID file if
//!   the test process disappears without dropping this (e.g. `kill -9`, Ctrl-C);
//! - the HTTP and inspector ports come from binding 127.0.0.1:0; the address wrangler prints in its
//!   `Ready on http://...` line wins if it differs.
//!
//! Environment given to wrangler: `CI=true`, `WRANGLER_SEND_METRICS=false`, `WRANGLER_HIDE_BANNER=true` (skips the
//! npm update check), and either `CLOUDFLARE_CF_FETCH_ENABLED=false` (no `cf` option: Miniflare's built-in
//! placeholder `request.cf`, country `US`, asn `395747`, colo `DFW`) or `CLOUDFLARE_CF_FETCH_PATH=<tmp>/cf.json`
//! with `CLOUDFLARE_CF_FETCH_ENABLED` removed (Miniflare gives `CF_FETCH_ENABLED=false` precedence over the path,
//! so both together silently yield the placeholder). Set `E2E_WRANGLER_ECHO=1` to copy wrangler's output to
//! stderr live, `E2E_KEEP_TMP=1` to keep the temp dir.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::http::{self, RawRequest, Response};

/// How to run the Worker.
#[derive(Clone, Debug)]
pub struct WranglerOptions {
    /// The project root; the binary used is `<project_root>/node_modules/.bin/wrangler`.
    pub project_root: PathBuf,
    /// The Worker's entry script (e.g. worker-build's `build/index.js`); relative paths are taken from
    /// `project_root`.
    pub main: PathBuf,
    /// `compatibility_date` for the generated config.
    pub compatibility_date: String,
    /// `[vars]`, in order (written as an inline table, so `extra_toml` may hold top-level keys too).
    pub vars: Vec<(String, String)>,
    /// The `request.cf` object to inject (written to `<tmp>/cf.json`). Replaces Miniflare's placeholder as a
    /// whole: keys not given are absent. `None`: the placeholder (country `US`, asn `395747`, colo `DFW`).
    pub cf: Option<serde_json::Value>,
    /// Appended verbatim at the end of the generated `wrangler.toml` (`[[ratelimits]]` blocks,
    /// `compatibility_flags = [...]`, ...).
    pub extra_toml: String,
    /// Extra command-line arguments for `wrangler dev`.
    pub extra_args: Vec<String>,
    /// Extra environment variables for the wrangler process.
    pub env: Vec<(String, String)>,
    /// The Worker name in the config. Default `edge-access-e2e`.
    pub name: String,
    /// How long to wait for the first HTTP answer. Default 120 s.
    pub startup_timeout: Duration,
    /// The readiness probe: any HTTP answer to it means ready. Default `GET /__e2e_ready` tagged
    /// `x-e2e-case: __e2e_ready` (it reaches the Worker, which may forward it upstream under that tag).
    pub probe: RawRequest,
}

/// The `x-e2e-case` tag of the readiness probe.
pub const PROBE_TAG: &str = "__e2e_ready";

impl WranglerOptions {
    /// Options with no vars, no `cf`, no extra config and the defaults above.
    pub fn new(
        project_root: impl Into<PathBuf>,
        main: impl Into<PathBuf>,
        compatibility_date: impl Into<String>,
    ) -> Self {
        Self {
            project_root: project_root.into(),
            main: main.into(),
            compatibility_date: compatibility_date.into(),
            vars: Vec::new(),
            cf: None,
            extra_toml: String::new(),
            extra_args: Vec::new(),
            env: Vec::new(),
            name: "edge-access-e2e".into(),
            startup_timeout: Duration::from_secs(120),
            probe: RawRequest::get("/__e2e_ready").header("x-e2e-case", PROBE_TAG),
        }
    }

    /// Adds one var.
    #[must_use]
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.push((name.into(), value.into()));
        self
    }

    /// Sets the injected `request.cf`.
    #[must_use]
    pub fn cf(mut self, cf: serde_json::Value) -> Self {
        self.cf = Some(cf);
        self
    }

    /// Appends to `extra_toml` (a newline is added first).
    #[must_use]
    pub fn toml(mut self, text: &str) -> Self {
        self.extra_toml.push('\n');
        self.extra_toml.push_str(text);
        self
    }

    /// The `wrangler.toml` text these options generate for an absolute `main`.
    pub fn render_toml(&self, main: &Path) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "name = {}", toml_str(&self.name));
        let _ = writeln!(t, "main = {}", toml_str(&main.to_string_lossy()));
        let _ = writeln!(
            t,
            "compatibility_date = {}",
            toml_str(&self.compatibility_date)
        );
        let vars: Vec<String> = self
            .vars
            .iter()
            .map(|(k, v)| format!("{} = {}", toml_str(k), toml_str(v)))
            .collect();
        let _ = writeln!(t, "vars = {{ {} }}", vars.join(", "));
        if !self.extra_toml.is_empty() {
            t.push('\n');
            t.push_str(&self.extra_toml);
            t.push('\n');
        }
        t
    }
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Captured output, one entry per line (stdout and stderr interleaved in arrival order, ANSI escapes removed).
#[derive(Default)]
struct LogBuf {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

impl LogBuf {
    fn lock(&self) -> MutexGuard<'_, Vec<String>> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, line: String) {
        self.lock().push(line);
        self.grew.notify_all();
    }

    /// First line at index >= `from` matching `pred`, waiting until `timeout`.
    fn wait(
        &self,
        from: usize,
        pred: &mut dyn FnMut(&str) -> bool,
        timeout: Duration,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = from;
        let mut lines = self.lock();
        loop {
            if let Some(hit) = lines.iter().skip(seen).find(|l| pred(l)) {
                return Some(hit.clone());
            }
            seen = seen.max(lines.len());
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            lines = self
                .grew
                .wait_timeout(lines, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// What [`Wrangler::shutdown`] observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shutdown {
    /// No live (non-zombie) process is left in the group.
    pub group_gone: bool,
    /// SIGKILL was needed (SIGTERM did not empty the group within 5 s).
    pub killed: bool,
    /// From SIGTERM to an empty group (or giving up).
    pub took: Duration,
}

/// A running `wrangler dev`. Stopped (whole process group) on [`Wrangler::shutdown`] or drop.
pub struct Wrangler {
    addr: String,
    pgid: u32,
    inspector_port: u16,
    /// Our direct children in the group: the wrangler leader, then the watchdog (reaped on shutdown).
    children: Mutex<Vec<Child>>,
    result: Mutex<Option<Shutdown>>,
    logs: Arc<LogBuf>,
    dir: PathBuf,
    pgid_file: Option<PathBuf>,
    startup: Duration,
}

impl Wrangler {
    /// Starts `wrangler dev` and waits (up to `opts.startup_timeout`) until the probe gets any HTTP response.
    ///
    /// Errors (with the captured output) when the binary or `main` is missing, the process exits early, or it
    /// is not ready in time; the process group is stopped before returning an error.
    ///
    /// The HTTP and inspector ports are found free and released before wrangler binds them, so another process
    /// (a server of another test binding port 0, workerd's own sockets) can take one in between: when wrangler
    /// exits with `Address already in use`, it is started again on fresh ports, three times in all.
    pub fn start(opts: WranglerOptions) -> Result<Wrangler, String> {
        let mut errors = Vec::new();
        for _ in 0..3 {
            match Self::start_once(opts.clone()) {
                Ok(w) => return Ok(w),
                Err(e) if e.contains("Address already in use") => errors.push(e),
                Err(e) => return Err(e),
            }
        }
        Err(errors.join("\n--- next attempt ---\n"))
    }

    fn start_once(opts: WranglerOptions) -> Result<Wrangler, String> {
        let started = Instant::now();
        let bin = opts.project_root.join("node_modules/.bin/wrangler");
        if !bin.exists() {
            return Err(format!(
                "`{}` not found (run npm ci in the project root)",
                bin.display()
            ));
        }
        let main = if opts.main.is_absolute() {
            opts.main.clone()
        } else {
            opts.project_root.join(&opts.main)
        };
        if !main.is_file() {
            return Err(format!(
                "worker script `{}` not found (build it first)",
                main.display()
            ));
        }
        let dir = fresh_temp_dir()?;
        let config = dir.join("wrangler.toml");
        std::fs::write(&config, opts.render_toml(&main))
            .map_err(|e| format!("writing `{}`: {e}", config.display()))?;

        let port = super::free_port();
        let inspector_port = super::free_port();
        let mut cmd = Command::new(&bin);
        cmd.arg("dev")
            .arg("--config")
            .arg(&config)
            .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
            .args(["--inspector-port", &inspector_port.to_string()])
            .arg("--show-interactive-dev-session=false")
            .args(&opts.extra_args)
            .current_dir(&dir)
            .env("CI", "true")
            .env("WRANGLER_SEND_METRICS", "false")
            .env("WRANGLER_HIDE_BANNER", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(cf) = &opts.cf {
            let path = dir.join("cf.json");
            std::fs::write(&path, cf.to_string())
                .map_err(|e| format!("writing `{}`: {e}", path.display()))?;
            cmd.env_remove("CLOUDFLARE_CF_FETCH_ENABLED")
                .env("CLOUDFLARE_CF_FETCH_PATH", &path);
        } else {
            cmd.env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
                .env_remove("CLOUDFLARE_CF_FETCH_PATH");
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("spawning `{}`: {e}", bin.display()))?;
        let pgid = child.id();

        let logs = Arc::new(LogBuf::default());
        let echo = std::env::var_os("E2E_WRANGLER_ECHO").is_some_and(|v| !v.is_empty() && v != "0");
        if let Some(out) = child.stdout.take() {
            spawn_reader(out, Arc::clone(&logs), echo);
        }
        if let Some(err) = child.stderr.take() {
            spawn_reader(err, Arc::clone(&logs), echo);
        }
        let pgid_file = record_pgid(pgid);
        let mut children = vec![child];
        children.extend(spawn_watchdog(pgid, &dir, pgid_file.as_deref()));

        let mut me = Wrangler {
            addr: format!("127.0.0.1:{port}"),
            pgid,
            inspector_port,
            children: Mutex::new(children),
            result: Mutex::new(None),
            logs,
            dir,
            pgid_file,
            startup: Duration::ZERO,
        };
        match me.wait_ready(&opts, started) {
            Ok(()) => {
                me.startup = started.elapsed();
                Ok(me)
            }
            Err(e) => {
                let stop = me.shutdown();
                Err(format!(
                    "{e}\n(stopped process group {pgid}: {stop:?})\n--- wrangler output ---\n{}",
                    me.logs()
                ))
            }
        }
    }

    fn wait_ready(&mut self, opts: &WranglerOptions, started: Instant) -> Result<(), String> {
        let deadline = started + opts.startup_timeout;
        let mut ready_line_seen = false;
        loop {
            if let Some(status) = self
                .children
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .first_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!("wrangler dev exited early with {status}"));
            }
            if !ready_line_seen {
                if let Some(addr) = self.logs.lock().iter().find_map(|l| ready_addr(l)) {
                    ready_line_seen = true;
                    self.addr = addr;
                }
            }
            // Probe even before the Ready line (cheap: connection refused until the port is up).
            if http::send(&self.addr, &opts.probe).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "wrangler dev did not answer HTTP on {} within {:?}",
                    self.addr, opts.startup_timeout
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `127.0.0.1:PORT` of the Worker.
    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process group id (= the wrangler process id).
    pub fn pgid(&self) -> u32 {
        self.pgid
    }

    /// The devtools inspector port it was given.
    pub fn inspector_port(&self) -> u16 {
        self.inspector_port
    }

    /// From spawn to the first HTTP answer.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The temp dir holding `wrangler.toml`, `cf.json` and `.wrangler/` state (removed on shutdown).
    pub fn config_dir(&self) -> &Path {
        &self.dir
    }

    /// Sends a raw request to the Worker.
    pub fn send(&self, req: &RawRequest) -> std::io::Result<Response> {
        http::send(&self.addr, req)
    }

    /// All captured output so far, lines joined with `\n`.
    pub fn logs(&self) -> String {
        self.logs.lock().join("\n")
    }

    /// All captured lines so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.logs.lock().clone()
    }

    /// The number of lines captured so far: pass it to [`Wrangler::wait_for_log_since`] to look only at newer
    /// output.
    pub fn log_mark(&self) -> usize {
        self.logs.lock().len()
    }

    /// The first captured line (from the start) matching `pred`, waiting up to `timeout` for it.
    ///
    /// Wait rather than read [`Wrangler::logs`] once: a Worker's `console.log` line often arrives on stdout after
    /// the client already has the response.
    pub fn wait_for_log(
        &self,
        pred: impl FnMut(&str) -> bool,
        timeout: Duration,
    ) -> Option<String> {
        self.wait_for_log_since(0, pred, timeout)
    }

    /// Like [`Wrangler::wait_for_log`], but only lines at index >= `mark` count.
    pub fn wait_for_log_since(
        &self,
        mark: usize,
        mut pred: impl FnMut(&str) -> bool,
        timeout: Duration,
    ) -> Option<String> {
        self.logs.wait(mark, &mut pred, timeout)
    }

    /// Every captured line that is a JSON object (the Worker's `console.log(JSON.stringify(...))` lines).
    pub fn json_logs(&self) -> Vec<serde_json::Value> {
        self.logs
            .lock()
            .iter()
            .filter_map(|l| json_object(l))
            .collect()
    }

    /// The first JSON-object line matching `pred`, waiting up to `timeout` for it.
    pub fn wait_for_json_log(
        &self,
        mut pred: impl FnMut(&serde_json::Value) -> bool,
        timeout: Duration,
    ) -> Option<serde_json::Value> {
        self.wait_for_log(|l| json_object(l).is_some_and(|v| pred(&v)), timeout)
            .and_then(|l| json_object(&l))
    }

    /// Stops the process group (idempotent; drop calls it): SIGTERM, wait up to 5 s for every member to exit,
    /// then SIGKILL and wait up to 2 s more. Removes the PGID file once the group is gone, and the temp dir.
    pub fn shutdown(&self) -> Shutdown {
        let mut result = self.result.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(done) = *result {
            return done;
        }
        let mut children =
            std::mem::take(&mut *self.children.lock().unwrap_or_else(PoisonError::into_inner));
        let t0 = Instant::now();
        signal_group("TERM", self.pgid);
        let mut gone = wait_group_gone(self.pgid, &mut children, Duration::from_secs(5));
        let killed = !gone;
        if killed {
            signal_group("KILL", self.pgid);
            gone = wait_group_gone(self.pgid, &mut children, Duration::from_secs(2));
        }
        let done = Shutdown {
            group_gone: gone,
            killed,
            took: t0.elapsed(),
        };
        if gone {
            if let Some(f) = &self.pgid_file {
                let _ = std::fs::remove_file(f);
            }
        } else {
            eprintln!(
                "e2e: process group {} still has live members after SIGKILL",
                self.pgid
            );
        }
        if std::env::var_os("E2E_KEEP_TMP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        *result = Some(done);
        done
    }
}

impl Drop for Wrangler {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Parses `... Ready on http://127.0.0.1:8787 ...` into `127.0.0.1:8787`.
fn ready_addr(line: &str) -> Option<String> {
    let rest = line.split("Ready on ").nth(1)?;
    let url = rest.split_whitespace().next()?;
    let hostport = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let hostport = hostport.trim_end_matches('/');
    (!hostport.is_empty()).then(|| hostport.to_owned())
}

fn json_object(line: &str) -> Option<serde_json::Value> {
    let t = line.trim();
    if !t.starts_with('{') {
        return None;
    }
    serde_json::from_str::<serde_json::Value>(t)
        .ok()
        .filter(serde_json::Value::is_object)
}

fn spawn_reader(stream: impl Read + Send + 'static, logs: Arc<LogBuf>, echo: bool) {
    let spawned = std::thread::Builder::new()
        .name("e2e-wrangler-output".into())
        .spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = strip_ansi(&String::from_utf8_lossy(&buf));
                        let line = line.trim_end_matches(['\r', '\n']).to_owned();
                        if echo {
                            eprintln!("[wrangler] {line}");
                        }
                        logs.push(line);
                    }
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("e2e: cannot spawn an output reader: {e}");
    }
}

/// Removes ANSI CSI sequences (`ESC [ ... final`) and other `ESC x` pairs.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.next_if_eq(&'[').is_some() {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

pub(crate) fn fresh_temp_dir() -> Result<PathBuf, String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!(
            "edge-access-e2e-{}-{n}-{nanos:08x}",
            std::process::id()
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("creating `{}`: {e}", dir.display())),
        }
    }
    Err("cannot create a fresh temp dir".into())
}

pub(crate) fn record_pgid(pgid: u32) -> Option<PathBuf> {
    let dir = std::env::var_os("E2E_PGID_DIR").filter(|d| !d.is_empty())?;
    let dir = PathBuf::from(dir);
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join(format!("{pgid}.pgid"));
    match std::fs::write(&file, format!("{pgid}\n")) {
        Ok(()) => Some(file),
        Err(e) => {
            eprintln!("e2e: cannot write `{}`: {e}", file.display());
            None
        }
    }
}

/// A `sh` in the wrangler group that stops the group once this test process is gone (killed, aborted, or
/// exited without dropping): SIGTERM to the group (the watchdog then ignores TERM/INT/HUP/QUIT/PIPE itself:
/// wrangler signals its own group while shutting down, which killed an earlier version), 5 s grace, removal of the temp
/// dir and the PGID file, then SIGKILL to the group (itself included). A normal shutdown's SIGTERM ends it at once.
pub(crate) fn spawn_watchdog(pgid: u32, dir: &Path, pgid_file: Option<&Path>) -> Option<Child> {
    // `env kill`: the procps binary; dash's builtin `kill` rejects `--` and would do nothing.
    let script = r#"while env kill -0 "$1" 2>/dev/null; do sleep 1; done
trap '' TERM INT HUP QUIT PIPE
env kill -TERM -- "-$2"
sleep 5
[ -n "$3" ] && rm -rf -- "$3"
[ -n "$4" ] && rm -f -- "$4"
env kill -KILL -- "-$2""#;
    let spawned = Command::new("sh")
        .args(["-c", script, "e2e-watchdog"])
        .arg(std::process::id().to_string())
        .arg(pgid.to_string())
        .arg(dir)
        .arg(pgid_file.map(Path::as_os_str).unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(i32::try_from(pgid).unwrap_or(0))
        .spawn();
    match spawned {
        Ok(child) => Some(child),
        Err(e) => {
            eprintln!("e2e: cannot start the watchdog for group {pgid}: {e}");
            None
        }
    }
}

/// `kill -SIG -- -PGID` (the `--` matters: without it procps `kill` takes `-PGID` as an option and does nothing).
pub(crate) fn signal_group(sig: &str, pgid: u32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

pub(crate) fn wait_group_gone(pgid: u32, children: &mut [Child], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        for c in children.iter_mut() {
            let _ = c.try_wait(); // reap our own children so their zombies do not linger
        }
        if !super::group_alive(pgid) {
            // Our children are group members, so they are dead now: reap them (returns at once) so no zombie
            // of ours is left, even one that exited between the try_wait above and the scan.
            for c in children.iter_mut() {
                let _ = c.wait();
            }
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}
