//! Real origin servers for the differential oracle (`tests/e2e/oracle/`): Debian's nginx, an Express app and
//! PHP's built-in server, each on a free loopback port in a process group of its own, all reading the one route
//! table `tests/e2e/origins/routes.json`.
//!
//! Like [`super::Wrangler`], an [`Origin`] must never leave a process behind: its group is stopped (TERM, then
//! KILL) on [`Origin::stop`] or drop; `$E2E_PGID_DIR/<pgid>.pgid` exists while the group may be alive (so
//! `scripts/test.sh` can reap it); a watchdog in the group stops it if the test process disappears.
//!
//! Each origin appends every request's `x-oracle-id` to `seen.log` in its temp dir ([`Origin::seen`]), and answers
//! routed requests 200 with an echo of how it read them (JSON; nginx's `key=value` lines are turned into the
//! same JSON by [`Origin::reading`]), unrouted ones 404.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::http::{self, RawRequest, Response};
use super::wrangler::{fresh_temp_dir, record_pgid, signal_group, spawn_watchdog, wait_group_gone};

/// One route of `routes.json`.
#[derive(Clone, Debug)]
pub struct Route {
    pub name: String,
    pub kind: RouteKind,
}

/// How a route matches.
#[derive(Clone, Debug)]
pub enum RouteKind {
    /// That path only.
    Exact(String),
    /// The path and everything below it on a segment boundary.
    Prefix(String),
    /// `*` is exactly one segment.
    Glob(String),
}

/// Reads the route table.
pub fn load_routes(root: &Path) -> Result<Vec<Route>, String> {
    let path = root.join("tests/e2e/origins/routes.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut routes = Vec::new();
    for r in v["routes"].as_array().ok_or("routes.json: no `routes`")? {
        let name = r["name"]
            .as_str()
            .ok_or("routes.json: a route without `name`")?;
        let kind = if let Some(p) = r["exact"].as_str() {
            RouteKind::Exact(p.to_owned())
        } else if let Some(p) = r["prefix"].as_str() {
            RouteKind::Prefix(p.to_owned())
        } else if let Some(p) = r["glob"].as_str() {
            RouteKind::Glob(p.to_owned())
        } else {
            return Err(format!(
                "routes.json: route `{name}` has no exact/prefix/glob"
            ));
        };
        routes.push(Route {
            name: name.to_owned(),
            kind,
        });
    }
    Ok(routes)
}

/// Starts a server that must be given its port: the free port [`super::free_port`] found may be taken by another
/// process before the server binds it, so a start that fails is tried again on another port (three times in all).
fn retry_port(mut start: impl FnMut() -> Result<Origin, String>) -> Result<Origin, String> {
    let mut errors = Vec::new();
    for _ in 0..3 {
        match start() {
            Ok(origin) => return Ok(origin),
            Err(e) => errors.push(e),
        }
    }
    Err(errors.join("\n"))
}

/// A running origin server.
pub struct Origin {
    /// `nginx`, `express` or `php`.
    pub name: &'static str,
    addr: String,
    pgid: u32,
    children: Vec<Child>,
    dir: PathBuf,
    pgid_file: Option<PathBuf>,
    stopped: bool,
}

/// An nginx quoted string.
fn nginx_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A PCRE literal.
fn regex_literal(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `location` blocks of the route table.
fn nginx_locations(routes: &[Route]) -> String {
    let mut out = String::new();
    for r in routes {
        let body = format!(
            "{{ return 200 {}; }}",
            nginx_str(&format!(
                "route={}\nmethod=$request_method\nuri=$uri\nrequest_uri=$request_uri\ncookie_token=$cookie_oracle_session\nquery_token=$arg_oracle_token\n",
                r.name
            ))
        );
        match &r.kind {
            RouteKind::Exact(p) => {
                let _ = writeln!(out, "        location = {} {body}", nginx_str(p));
            }
            RouteKind::Prefix(p) => {
                let _ = writeln!(out, "        location = {} {body}", nginx_str(p));
                let _ = writeln!(
                    out,
                    "        location ^~ {} {body}",
                    nginx_str(&format!("{p}/"))
                );
            }
            RouteKind::Glob(p) => {
                let re: Vec<String> = p
                    .split('/')
                    .map(|s| {
                        if s == "*" {
                            "[^/]+".to_owned()
                        } else {
                            regex_literal(s)
                        }
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "        location ~ {} {body}",
                    nginx_str(&format!("^{}$", re.join("/")))
                );
            }
        }
    }
    out
}

impl Origin {
    /// Debian's nginx with a config generated from `nginx.conf.in` and the route table.
    pub fn nginx(root: &Path, routes: &[Route]) -> Result<Origin, String> {
        retry_port(|| Self::nginx_once(root, routes))
    }

    fn nginx_once(root: &Path, routes: &[Route]) -> Result<Origin, String> {
        let dir = fresh_temp_dir()?;
        let port = super::free_port();
        let template = std::fs::read_to_string(root.join("tests/e2e/origins/nginx.conf.in"))
            .map_err(|e| format!("nginx.conf.in: {e}"))?;
        let conf = template
            .replace("@TMP@", &dir.display().to_string())
            .replace("@PORT@", &port.to_string())
            .replace("@LOCATIONS@", &nginx_locations(routes));
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).map_err(|e| format!("writing nginx.conf: {e}"))?;
        std::fs::write(dir.join("seen.log"), "").map_err(|e| format!("seen.log: {e}"))?;
        let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .ok_or("nginx is not installed (make setup installs Debian's package)")?;
        let mut cmd = Command::new(bin);
        cmd.arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf_path);
        Self::spawn("nginx", cmd, dir, Some(port))
    }

    /// `node tests/e2e/origins/express.mjs` (it prints the port it bound).
    pub fn express(root: &Path) -> Result<Origin, String> {
        let dir = fresh_temp_dir()?;
        let mut cmd = Command::new("node");
        cmd.arg(root.join("tests/e2e/origins/express.mjs"))
            .arg(root.join("tests/e2e/origins/routes.json"))
            .arg(dir.join("seen.log"))
            .current_dir(root);
        std::fs::write(dir.join("seen.log"), "").map_err(|e| format!("seen.log: {e}"))?;
        Self::spawn("express", cmd, dir, None)
    }

    /// `php -S 127.0.0.1:PORT tests/e2e/origins/router.php`.
    pub fn php(root: &Path) -> Result<Origin, String> {
        retry_port(|| Self::php_once(root))
    }

    fn php_once(root: &Path) -> Result<Origin, String> {
        let dir = fresh_temp_dir()?;
        let port = super::free_port();
        std::fs::write(dir.join("seen.log"), "").map_err(|e| format!("seen.log: {e}"))?;
        let mut cmd = Command::new("php");
        cmd.arg("-n")
            .arg("-S")
            .arg(format!("127.0.0.1:{port}"))
            .arg(root.join("tests/e2e/origins/router.php"))
            .current_dir(&dir)
            .env("ORACLE_ROUTES", root.join("tests/e2e/origins/routes.json"))
            .env("ORACLE_SEEN", dir.join("seen.log"));
        Self::spawn("php", cmd, dir, Some(port))
    }

    fn spawn(
        name: &'static str,
        mut cmd: Command,
        dir: PathBuf,
        port: Option<u16>,
    ) -> Result<Origin, String> {
        cmd.stdin(Stdio::null())
            .stdout(if port.is_some() {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stderr(Stdio::null())
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| format!("starting {name}: {e}"))?;
        let pgid = child.id();
        let pgid_file = record_pgid(pgid);
        let mut children = Vec::new();
        let stdout = child.stdout.take();
        children.push(child);
        children.extend(spawn_watchdog(pgid, &dir, pgid_file.as_deref()));
        let mut me = Origin {
            name,
            addr: String::new(),
            pgid,
            children,
            dir,
            pgid_file,
            stopped: false,
        };
        let port = match (port, stdout) {
            (Some(p), _) => p,
            (None, Some(out)) => {
                let mut line = String::new();
                let _ = BufReader::new(out).read_line(&mut line);
                match line
                    .trim()
                    .strip_prefix("listening ")
                    .and_then(|p| p.parse().ok())
                {
                    Some(p) => p,
                    None => {
                        me.stop();
                        return Err(format!("{name} said `{}`", line.trim()));
                    }
                }
            }
            (None, None) => {
                me.stop();
                return Err(format!("{name}: no stdout"));
            }
        };
        me.addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let probe = RawRequest::get("/__oracle_ready").header("x-oracle-id", "__ready");
        loop {
            // Ours answers with its name: another process that got the port first would not.
            if http::send(&me.addr, &probe).is_ok_and(|r| r.header("x-oracle-origin") == Some(name))
            {
                return Ok(me);
            }
            let exited = me
                .children
                .first_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() >= deadline {
                let log = std::fs::read_to_string(me.dir.join("error.log")).unwrap_or_default();
                me.stop();
                return Err(format!(
                    "{name} did not answer on {} ({exited:?}); error.log: {log}",
                    me.addr
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends a request straight to the origin (not through the filter).
    pub fn send(&self, req: &RawRequest) -> std::io::Result<Response> {
        http::send(&self.addr, req)
    }

    /// Every `x-oracle-id` the origin received so far.
    pub fn seen(&self) -> HashSet<String> {
        std::fs::read_to_string(self.dir.join("seen.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The origin's echo as JSON (`route`, `method`, `uri`, `request_uri`, `cookie_token`, `query_token`): nginx
    /// answers `key=value` lines, the others JSON already. Empty nginx values (nginx's "not set") are `null`.
    pub fn reading(&self, resp: &Response) -> Option<serde_json::Value> {
        if self.name != "nginx" {
            return resp.try_json();
        }
        let mut map = serde_json::Map::new();
        map.insert("origin".into(), "nginx".into());
        for line in resp.text().lines() {
            let (k, v) = line.split_once('=')?;
            let v = if v.is_empty() {
                serde_json::Value::Null
            } else {
                v.into()
            };
            map.insert(k.to_owned(), v);
        }
        Some(map.into())
    }

    /// Stops the process group (idempotent): TERM, 5 s, KILL; removes the temp dir and the PGID file.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        signal_group("TERM", self.pgid);
        let mut gone = wait_group_gone(self.pgid, &mut self.children, Duration::from_secs(5));
        if !gone {
            signal_group("KILL", self.pgid);
            gone = wait_group_gone(self.pgid, &mut self.children, Duration::from_secs(2));
        }
        if gone {
            if let Some(f) = &self.pgid_file {
                let _ = std::fs::remove_file(f);
            }
        } else {
            eprintln!(
                "e2e: {} group {} still alive after SIGKILL",
                self.name, self.pgid
            );
        }
        if std::env::var_os("E2E_KEEP_TMP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.stop();
    }
}
