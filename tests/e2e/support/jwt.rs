//! The JWKS endpoint and token mint of `tests/e2e/jwt-server.mjs`, run as a child process. Tokens come from the
//! independent `jose` package, never from edge-access's own code.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::http::{send, RawRequest};

pub struct JwtServer {
    child: Child,
    addr: String,
}

impl JwtServer {
    pub fn start(root: &Path) -> Result<JwtServer, String> {
        let mut child = Command::new("node")
            .arg(root.join("tests/e2e/jwt-server.mjs"))
            .current_dir(root)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start node: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("jwt-server: {e}"))?;
        let port = line
            .trim()
            .strip_prefix("listening ")
            .ok_or_else(|| format!("jwt-server said `{line}`"))?
            .to_owned();
        Ok(JwtServer {
            child,
            addr: format!("127.0.0.1:{port}"),
        })
    }

    pub fn jwks_url(&self) -> String {
        format!("http://{}/jwks", self.addr)
    }

    fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let resp = send(&self.addr, &RawRequest::post(path).json(&body))
            .unwrap_or_else(|e| panic!("jwt-server {path}: {e}"));
        assert_eq!(resp.status, 200, "jwt-server {path}: {}", resp.text());
        resp.json()
    }

    /// A token signed by `jose`. `kid` None uses the first published key of the algorithm.
    pub fn mint(&self, alg: &str, kid: Option<&str>, claims: serde_json::Value) -> String {
        let mut req = serde_json::json!({ "alg": alg, "claims": claims });
        if let Some(kid) = kid {
            req["kid"] = kid.into();
        }
        self.post("/mint", req)["token"]
            .as_str()
            .expect("a token")
            .to_owned()
    }

    /// An HMAC token signed by `jose` with `secret`.
    pub fn mint_hmac(&self, alg: &str, secret: &str, claims: serde_json::Value) -> String {
        self.post(
            "/mint",
            serde_json::json!({ "alg": alg, "secret": secret, "claims": claims }),
        )["token"]
            .as_str()
            .expect("a token")
            .to_owned()
    }

    /// A token signed by `jose` with the given private JWK (whose `kid` goes in the header).
    pub fn mint_with_private_jwk(
        &self,
        alg: &str,
        private_jwk: &serde_json::Value,
        claims: serde_json::Value,
    ) -> String {
        self.post(
            "/mint",
            serde_json::json!({ "alg": alg, "private_jwk": private_jwk, "claims": claims }),
        )["token"]
            .as_str()
            .expect("a token")
            .to_owned()
    }

    /// The JWKS as published now.
    pub fn jwks(&self) -> serde_json::Value {
        send(&self.addr, &RawRequest::get("/jwks"))
            .expect("jwt-server jwks")
            .json()
    }

    /// Publishes the second generation of keys.
    pub fn rotate(&self) {
        self.post("/rotate", serde_json::json!({}));
    }

    /// `up`, `down` (503), `garbage` (invalid JSON) or `slow` (15 s).
    pub fn set_mode(&self, mode: &str) {
        self.post("/mode", serde_json::json!({ "mode": mode }));
    }

    /// How many times the JWKS was fetched.
    pub fn fetches(&self) -> u64 {
        let resp = send(&self.addr, &RawRequest::get("/stats")).expect("jwt-server stats");
        resp.json()["fetches"].as_u64().unwrap_or(0)
    }
}

impl Drop for JwtServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
