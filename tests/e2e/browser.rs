//! CORS in a real browser: headless Chromium (Debian's `chromium` package, driven by `tests/e2e/browser.mjs` with
//! `playwright-core`) loads a page from one origin and calls the Worker on another with `fetch`. The browser does
//! CORS itself (preflights, credentials, what a page may read), so these cases check what raw HTTP cannot: that
//! what the filter answers is what a browser needs, and that what it refuses a browser really stops.
//!
//! Origins are fixed by the policy (`http://spa.e2e.test` is in `tests/e2e/policy.json`'s `apps` list;
//! `http://evil.e2e.test` is not), ports are not: the driver maps the host names to its page server and to the
//! Worker's free port with Chromium's `--host-resolver-rules`, so the pages' origins carry no port. Requests
//! cannot carry an `x-e2e-case` header (a custom header would need a preflight of its own), so each scenario
//! marks its URL path instead (`.../browser/<name>`), and the upstream records and the Worker's decision logs are
//! matched on that.
//!
//! The browser runs once for all scenarios, before the first of these trials asserts anything, and is gone
//! before any assertion runs: the driver closes it, and [`Driver`]'s drop kills whatever is left (the driver's
//! process group, then every process whose command line names the run's temp directory, which holds Chromium's
//! profile and config). The run is bounded: each browser wait by [`STEP_TIMEOUT`], the driver by
//! [`DRIVER_DEADLINE`], and this side kills the driver after [`KILL_AFTER`]. Without Chromium every trial fails,
//! pointing at `make setup`.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};
use serde_json::{json, Value};

use crate::support::{self, Recorded};
use crate::Harness;

/// The allowed page origin's host: `http://spa.e2e.test` is in the e2e policy's `apps` origin list.
const SPA: &str = "spa.e2e.test";
/// A page origin the policy does not allow.
const EVIL: &str = "evil.e2e.test";
/// The host the pages call; it resolves to the Worker.
const API: &str = "api.e2e.test";

/// Where Debian's `chromium` package puts the browser (`E2E_CHROMIUM` overrides it).
const CHROMIUM: &str = "/usr/bin/chromium";
/// Each wait in the browser: launch, page load, one fetch.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// The driver's own limit for the whole run.
const DRIVER_DEADLINE: Duration = Duration::from_secs(60);
/// When this side stops waiting for the driver and kills it.
const KILL_AFTER: Duration = Duration::from_secs(75);

/// The cookie the upstream sets (through the filter) on a credentialed response, and the browser sends back.
const COOKIE: &str = "e2e_sid=browser-cors";
/// The upstream adds `Set-Cookie: e2e_sid=browser-cors` to every answer under this prefix
/// (`/__headers/<name>/<value>`). The cookie has no attributes because the filter refuses `%3B` and `%2F` in
/// paths: its path is the directory of the URL that set it (`<prefix>/browser`), so the scenarios that deal in
/// cookies all live under this prefix; Chromium makes it `SameSite=Lax`, which is enough because `spa.e2e.test`
/// and `api.e2e.test` are the same site (`e2e.test`), though different origins. (`SameSite=None` would need
/// `Secure`, which plain http cannot set.)
const COOKIE_DIR: &str = "/__headers/set-cookie/e2e_sid%3Dbrowser-cors";
const JSON_BODY: &str = r#"{"from":"the browser","items":[1,2,3]}"#;

#[derive(Clone, Copy)]
enum Page {
    Spa,
    Evil,
}

impl Page {
    fn name(self) -> &'static str {
        match self {
            Page::Spa => "spa",
            Page::Evil => "evil",
        }
    }

    fn origin(self) -> String {
        match self {
            Page::Spa => format!("http://{SPA}"),
            Page::Evil => format!("http://{EVIL}"),
        }
    }
}

#[derive(Clone, Copy)]
enum Want {
    /// The page reads the upstream's answer to exactly this request, which the upstream saw once (never an
    /// `OPTIONS`). `cookie`: the upstream saw [`COOKIE`] on it. `preflight`: the browser asked first, and the
    /// Worker answered that preflight itself (its decision log shows an allowed `OPTIONS` with status 204).
    Reads { cookie: bool, preflight: bool },
    /// The page reads the filter's own denial (an allowed origin may); the upstream saw nothing.
    ReadsDenial { status: u16, code: &'static str },
    /// `fetch` rejects with a `TypeError` and Chromium blames CORS; the Worker refused the request it got
    /// (`refused`: the real method, or `OPTIONS` for a refused preflight) with `code`, and the upstream saw
    /// nothing at all.
    Blocked {
        refused: &'static str,
        code: &'static str,
    },
}

struct Scenario {
    name: &'static str,
    page: Page,
    method: &'static str,
    /// Path before `/browser/<name>`: upstream behaviours (`/__headers/...`) or a path the rules treat apart.
    prefix: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: Option<&'static str>,
    /// `fetch`'s `credentials`: `same-origin` (the default: no cookies cross-origin) or `include`.
    credentials: &'static str,
    want: Want,
}

impl Scenario {
    fn path(&self) -> String {
        format!("{}/browser/{}", self.prefix, self.name)
    }
}

/// Run in this order: the cookie the first sets is what the second must send, and what the third must not
/// (it would be in scope for all three).
const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "spa-credentials-set-cookie",
        page: Page::Spa,
        method: "GET",
        prefix: COOKIE_DIR,
        headers: &[],
        body: None,
        credentials: "include",
        want: Want::Reads {
            cookie: false,
            preflight: false,
        },
    },
    Scenario {
        name: "spa-credentials",
        page: Page::Spa,
        method: "GET",
        prefix: COOKIE_DIR,
        headers: &[],
        body: None,
        credentials: "include",
        want: Want::Reads {
            cookie: true,
            preflight: false,
        },
    },
    Scenario {
        name: "spa-get",
        page: Page::Spa,
        method: "GET",
        prefix: COOKIE_DIR,
        headers: &[],
        body: None,
        credentials: "same-origin",
        want: Want::Reads {
            cookie: false,
            preflight: false,
        },
    },
    Scenario {
        name: "spa-put-custom-header",
        page: Page::Spa,
        method: "PUT",
        prefix: "",
        headers: &[
            ("X-Custom", "from-the-browser"),
            ("Content-Type", "application/json"),
        ],
        body: Some(JSON_BODY),
        credentials: "same-origin",
        want: Want::Reads {
            cookie: false,
            preflight: true,
        },
    },
    Scenario {
        name: "spa-reads-denial",
        page: Page::Spa,
        method: "GET",
        prefix: "/api",
        headers: &[],
        body: None,
        credentials: "same-origin",
        want: Want::ReadsDenial {
            status: 401,
            code: "token_missing",
        },
    },
    Scenario {
        name: "spa-header-not-allowed",
        page: Page::Spa,
        method: "GET",
        prefix: "",
        headers: &[("X-Evil", "1")],
        body: None,
        credentials: "same-origin",
        want: Want::Blocked {
            refused: "OPTIONS",
            code: "cors_denied",
        },
    },
    Scenario {
        name: "evil-get",
        page: Page::Evil,
        method: "GET",
        prefix: "",
        headers: &[],
        body: None,
        credentials: "same-origin",
        want: Want::Blocked {
            refused: "GET",
            code: "origin_denied",
        },
    },
    Scenario {
        name: "evil-credentials",
        page: Page::Evil,
        method: "GET",
        prefix: COOKIE_DIR,
        headers: &[],
        body: None,
        credentials: "include",
        want: Want::Blocked {
            refused: "GET",
            code: "origin_denied",
        },
    },
    Scenario {
        name: "evil-put-custom-header",
        page: Page::Evil,
        method: "PUT",
        prefix: "",
        headers: &[
            ("X-Custom", "from-the-browser"),
            ("Content-Type", "application/json"),
        ],
        body: Some(JSON_BODY),
        credentials: "same-origin",
        want: Want::Blocked {
            refused: "OPTIONS",
            code: "cors_denied",
        },
    },
];

/// What one browser run produced: the driver's JSON document, and how it ended.
struct Outcome {
    report: Value,
    took: Duration,
    /// Processes of the run still alive after the driver had exited and a grace period, killed by the sweep.
    leftovers_killed: usize,
}

static OUTCOME: OnceLock<Result<Outcome, String>> = OnceLock::new();

/// The browser run, done once by whichever trial comes first.
fn outcome(h: &Harness) -> Result<&'static Outcome, Failed> {
    OUTCOME
        .get_or_init(|| run_browser(h))
        .as_ref()
        .map_err(|e| Failed::from(format!("the browser run failed: {e}")))
}

fn chromium_path() -> PathBuf {
    std::env::var_os("E2E_CHROMIUM")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from)
}

fn run_browser(h: &Harness) -> Result<Outcome, String> {
    let chromium = chromium_path();
    if !chromium.is_file() {
        return Err(format!(
            "Chromium not found at `{}`. The browser CORS test needs Debian's `chromium` package: run `make setup` \
             (it installs it), or point E2E_CHROMIUM at a Chromium binary.",
            chromium.display()
        ));
    }
    let dir = tempfile::Builder::new()
        .prefix("edge-access-browser-")
        .tempdir()
        .map_err(|e| format!("creating a temp dir: {e}"))?;
    let scenarios: Vec<Value> = SCENARIOS
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "page": s.page.name(),
                "method": s.method,
                "path": s.path(),
                "headers": s.headers.iter().map(|(n, v)| (*n, *v)).collect::<BTreeMap<_, _>>(),
                "body": s.body,
                "credentials": s.credentials,
            })
        })
        .collect();
    let spec = json!({
        "chromium": chromium,
        "work_dir": dir.path(),
        "api": { "host": API, "addr": h.wrangler.addr() },
        "pages": { "spa": SPA, "evil": EVIL },
        "timeout_ms": STEP_TIMEOUT.as_millis() as u64,
        "deadline_ms": DRIVER_DEADLINE.as_millis() as u64,
        "scenarios": scenarios,
    });
    let started = Instant::now();
    let mut driver = Driver::start(&h.root, &spec, dir)?;
    let status = driver.wait(KILL_AFTER);
    let (stdout, stderr) = driver.output();
    let leftovers_killed = driver.stop();
    let took = started.elapsed();
    let status = status.ok_or_else(|| {
        format!(
            "the driver did not finish within {KILL_AFTER:?} and was killed\n--- stderr ---\n{stderr}"
        )
    })?;
    let report = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .and_then(|l| serde_json::from_str::<Value>(l).ok())
        .ok_or_else(|| {
            format!(
                "the driver ({status}) printed no JSON report\n--- stdout ---\n{stdout}\n\
                 --- stderr ---\n{stderr}"
            )
        })?;
    if !status.success() || report["ok"] != true {
        return Err(format!(
            "{}\n(driver {status})\n--- stderr ---\n{stderr}",
            report["error"].as_str().unwrap_or("the driver failed")
        ));
    }
    eprintln!(
        "browser: Chromium {} launched in {} ms; {} scenarios, {} ms in all ({} ms with node and shutdown)",
        report["chromium"].as_str().unwrap_or("?"),
        report["launch_ms"],
        SCENARIOS.len(),
        report["total_ms"],
        took.as_millis()
    );
    Ok(Outcome {
        report,
        took,
        leftovers_killed,
    })
}

/// The driver process (`node tests/e2e/browser.mjs`) in its own process group, and the run's temp directory.
/// Dropping it (or [`Driver::stop`]) leaves no process of the run alive.
struct Driver {
    child: Child,
    pgid: u32,
    /// Held open while the driver runs: the driver stops (closing the browser) when it closes, i.e. when this
    /// test process is gone.
    stdin: Option<ChildStdin>,
    readers: Vec<JoinHandle<String>>,
    outputs: Vec<String>,
    pgid_file: Option<PathBuf>,
    dir: Option<tempfile::TempDir>,
    stopped: Option<usize>,
}

impl Driver {
    fn start(root: &Path, spec: &Value, dir: tempfile::TempDir) -> Result<Driver, String> {
        let mut child = Command::new("node")
            .arg(root.join("tests/e2e/browser.mjs"))
            .arg(spec.to_string())
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start node: {e}"))?;
        let pgid = child.id();
        let readers = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .map(|stream| {
            std::thread::spawn(move || {
                let mut text = String::new();
                if let Some(mut stream) = stream {
                    let _ = stream.read_to_string(&mut text);
                }
                text
            })
        })
        .collect();
        Ok(Driver {
            stdin: child.stdin.take(),
            child,
            pgid,
            readers,
            outputs: Vec::new(),
            pgid_file: record_pgid(pgid),
            dir: Some(dir),
            stopped: None,
        })
    }

    /// Waits up to `timeout` for the driver to exit; `None` if it did not.
    fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                _ => return None,
            }
        }
    }

    /// Stdout and stderr (stops the driver first, so the readers end).
    fn output(&mut self) -> (String, String) {
        self.stop();
        if self.outputs.is_empty() {
            self.outputs = self
                .readers
                .drain(..)
                .map(|r| r.join().unwrap_or_default())
                .collect();
        }
        let get = |i: usize| self.outputs.get(i).cloned().unwrap_or_default();
        (get(0), get(1))
    }

    /// Stops everything the run started (idempotent). Returns how many processes the sweep had to kill.
    fn stop(&mut self) -> usize {
        if let Some(n) = self.stopped {
            return n;
        }
        drop(self.stdin.take());
        if self.wait(Duration::ZERO).is_none() {
            // Still running: SIGTERM lets the driver close its browser; then the whole group is killed.
            signal("-TERM", &format!("-{}", self.pgid));
            if self.wait(Duration::from_secs(5)).is_none() {
                signal("-KILL", &format!("-{}", self.pgid));
                let _ = self.child.wait();
            }
        }
        support::wait_group_empty(self.pgid, Duration::from_secs(2));
        // Chromium runs in a process group of its own, its crash handlers in others: find every process of
        // this run by the temp dir on its command line (profile, config). Give them a moment to exit on
        // their own after a normal close, then kill what is left.
        let mut killed = 0;
        if let Some(dir) = &self.dir {
            let marker = dir.path().display().to_string();
            let deadline = Instant::now() + Duration::from_secs(3);
            while !processes_naming(&marker).is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            for _ in 0..3 {
                let left = processes_naming(&marker);
                if left.is_empty() {
                    break;
                }
                killed += left.len();
                for pid in left {
                    signal("-KILL", &pid.to_string());
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        if let Some(f) = self.pgid_file.take() {
            let _ = std::fs::remove_file(f);
        }
        self.stopped = Some(killed);
        killed
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop();
        // The temp dir (profile and all) goes with `self.dir`.
    }
}

fn signal(sig: &str, target: &str) {
    let _ = Command::new("kill")
        .args([sig, "--", target])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Live (non-zombie) processes other than this one whose command line contains `marker`.
fn processes_naming(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            !matches!(state, None | Some("Z" | "X"))
                && String::from_utf8_lossy(&cmdline).contains(marker)
        })
        .collect()
}

/// `<E2E_PGID_DIR>/<pgid>.pgid`, as the Wrangler harness writes it, so `make test` reaps the driver's group if
/// this process dies without dropping the [`Driver`].
fn record_pgid(pgid: u32) -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("E2E_PGID_DIR").filter(|d| !d.is_empty())?);
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join(format!("{pgid}.pgid"));
    std::fs::write(&file, format!("{pgid}\n"))
        .ok()
        .map(|()| file)
}

/// The upstream's records for a scenario (matched by the path marker).
fn upstream_saw(h: &Harness, s: &Scenario) -> Vec<Recorded> {
    let marker = format!("/browser/{}", s.name);
    h.upstream
        .requests()
        .into_iter()
        .filter(|r| r.path().ends_with(&marker))
        .collect()
}

/// The Worker's decision log line for `method` on the scenario's path, waiting up to 10 s for it.
fn decision_log(h: &Harness, s: &Scenario, method: &str) -> Option<Value> {
    let path = s.path();
    h.wrangler.wait_for_json_log(
        |v| v["path"] == path.as_str() && v["method"] == method,
        Duration::from_secs(10),
    )
}

fn check(h: &Harness, s: &Scenario) -> Result<(), Failed> {
    let out = outcome(h)?;
    let name = s.name;
    let r = out.report["scenarios"]
        .as_array()
        .and_then(|all| all.iter().find(|r| r["name"] == name))
        .ok_or_else(|| Failed::from(format!("`{name}`: not in the driver's report")))?;
    assert_eq!(
        r["origin"],
        s.page.origin().as_str(),
        "`{name}`: the page's own origin: {r}"
    );
    let seen = upstream_saw(h, s);
    match s.want {
        Want::Reads { cookie, preflight } => {
            assert_eq!(
                r["ok"], true,
                "`{name}`: the page must read the answer: {r}"
            );
            assert_eq!(r["status"], 200, "`{name}`: {r}");
            // The upstream's JSON echo of the request it got, read by the page.
            assert_eq!(r["json"]["method"], s.method, "`{name}`: {r}");
            assert_eq!(r["json"]["target"], s.path().as_str(), "`{name}`: {r}");
            // Only CORS-safelisted and exposed response headers are visible to the page.
            assert_eq!(
                r["headers"]["content-type"], "application/json",
                "`{name}`: {r}"
            );
            assert!(
                r["headers"].get("x-upstream").is_none(),
                "`{name}`: a header the filter does not expose must stay hidden from the page: {r}"
            );
            assert_eq!(
                seen.len(),
                1,
                "`{name}`: the upstream must see exactly the one request, never a preflight: {seen:#?}"
            );
            let got = &seen[0];
            assert_eq!(got.method, s.method, "`{name}`");
            assert_eq!(got.target, s.path(), "`{name}`");
            assert_eq!(
                got.header("origin"),
                Some(s.page.origin().as_str()),
                "`{name}`: the browser's Origin (no port) reaches the upstream: {got:#?}"
            );
            assert_eq!(
                got.header("cookie"),
                cookie.then_some(COOKIE),
                "`{name}`: credentials {}: {got:#?}",
                s.credentials
            );
            for (header, value) in s.headers {
                assert_eq!(got.header(header), Some(*value), "`{name}`: {got:#?}");
            }
            if let Some(body) = s.body {
                assert_eq!(got.body_text(), body, "`{name}`: the body arrives intact");
            }
            if preflight {
                let line = decision_log(h, s, "OPTIONS").ok_or_else(|| {
                    Failed::from(format!(
                        "`{name}`: the Worker logged no preflight for {}",
                        s.path()
                    ))
                })?;
                assert_eq!(line["effect"], "allow", "`{name}`: {line}");
                assert_eq!(
                    line["status"], 204,
                    "`{name}`: answered by the filter: {line}"
                );
            }
        }
        Want::ReadsDenial { status, code } => {
            assert_eq!(
                r["ok"], true,
                "`{name}`: the page must read the denial: {r}"
            );
            assert_eq!(r["status"], status, "`{name}`: {r}");
            assert_eq!(r["json"]["code"], code, "`{name}`: {r}");
            assert_eq!(
                r["headers"]["x-request-id"], r["json"]["request_id"],
                "`{name}`: X-Request-Id is exposed to the page: {r}"
            );
            assert!(
                seen.is_empty(),
                "`{name}`: the upstream must not be reached: {seen:#?}"
            );
        }
        Want::Blocked { refused, code } => {
            assert_eq!(
                r["ok"], false,
                "`{name}`: the browser must not let the page read anything: {r}"
            );
            assert_eq!(
                r["error"]["name"], "TypeError",
                "`{name}`: fetch rejects with a TypeError: {r}"
            );
            let blamed_cors = r["console"].as_array().is_some_and(|msgs| {
                msgs.iter().any(|m| {
                    m["text"]
                        .as_str()
                        .is_some_and(|t| t.contains("blocked by CORS policy"))
                })
            });
            assert!(
                blamed_cors,
                "`{name}`: Chromium must say CORS stopped it: {r}"
            );
            // The browser did ask, and the filter refused: not a network failure.
            let line = decision_log(h, s, refused).ok_or_else(|| {
                Failed::from(format!(
                    "`{name}`: the Worker logged no {refused} for {}",
                    s.path()
                ))
            })?;
            assert_eq!(line["effect"], "deny", "`{name}`: {line}");
            assert_eq!(line["code"], code, "`{name}`: {line}");
            assert_eq!(line["status"], 403, "`{name}`: {line}");
            if refused != s.method {
                let path = s.path();
                let real = h
                    .wrangler
                    .json_logs()
                    .into_iter()
                    .filter(|v| v["path"] == path.as_str() && v["method"] == s.method)
                    .count();
                assert_eq!(
                    real, 0,
                    "`{name}`: after a refused preflight the browser never sends the {} itself",
                    s.method
                );
            }
            assert!(
                seen.is_empty(),
                "`{name}`: the upstream must see nothing from it: {seen:#?}"
            );
        }
    }
    Ok(())
}

/// The run as a whole: the pages came from their own origins (no port), and no browser process outlived it.
fn check_run(h: &Harness) -> Result<(), Failed> {
    let out = outcome(h)?;
    let mut hosts: Vec<&str> = out.report["page_requests"]
        .as_array()
        .map(|reqs| {
            reqs.iter()
                .filter(|r| r["url"] == "/")
                .filter_map(|r| r["host"].as_str())
                .collect()
        })
        .unwrap_or_default();
    hosts.sort_unstable();
    assert_eq!(
        hosts,
        [EVIL, SPA],
        "each page loaded once from its own origin, Host without a port: {}",
        out.report["page_requests"]
    );
    assert_eq!(
        out.leftovers_killed, 0,
        "the driver closes its browser: no process of the run may be left for the sweep"
    );
    assert!(
        out.took < KILL_AFTER,
        "the run took {:?}, over the limit",
        out.took
    );
    Ok(())
}

pub(crate) fn trials(h: &Arc<Harness>) -> Vec<Trial> {
    let mut trials = vec![{
        let h = Arc::clone(h);
        Trial::test("browser-cors-run", move || check_run(&h))
    }];
    trials.extend(SCENARIOS.iter().map(|s| {
        let h = Arc::clone(h);
        Trial::test(format!("browser-cors-{}", s.name), move || check(&h, s))
    }));
    trials
}
