//! Native and Wasm decide alike: the same deterministic stream of generated requests (client IPs, hosts, paths,
//! origins, methods, countries, with the usual attack spellings mixed in) is decided natively and under
//! wasm-bindgen-test, and both must fold their decisions into the same digest, pinned below. A change in policy
//! semantics changes the digest: re-pin it (the failure message prints the new one) after checking the change is
//! intended. The same run checks that deciding a request twice gives the same decision.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use edge_access::engine::{HeaderList, NoLimits, NoTokens, RequestFacts, UnixTime};
use edge_access::policy::Policy;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test;

const POLICY: &str = r#"{
  "version": 1,
  "ip_lists": {
    "blocked": ["192.0.2.0/24", "2001:db8:bad::/48", "::ffff:198.51.100.128/121"],
    "office": ["203.0.113.0/24", "2001:db8:1::/48"]
  },
  "origin_lists": { "apps": ["https://app.example.com", "https://*.apps.example.com", "null"] },
  "country_lists": { "embargoed": ["KP", "IR"] },
  "cors": { "allow_origins": "apps", "allow_methods": ["GET", "PUT"], "allow_headers": ["content-type"] },
  "rules": [
    { "id": "blocklist", "action": "deny", "when": { "client_ip_in": "blocked" } },
    { "id": "embargo", "action": "deny", "when": { "country_in": "embargoed" } },
    { "id": "admin", "action": "require", "when": { "path_under": "/admin" }, "require": { "client_ip_in": "office" }, "status": 404 },
    { "id": "origins", "action": "require", "when": { "has_origin": true }, "require": { "origin_in": "apps" } },
    { "id": "static", "action": "require", "when": { "host_is": "*.static.example.com" }, "require": { "method_is": ["GET", "HEAD"] } },
    { "id": "secrets", "action": "deny", "when": { "path_matches": "/internal/**/secret*" }, "status": 401 },
    { "id": "beta", "action": "deny", "when": { "path_under": "/beta" }, "report_only": true }
  ],
  "default": { "action": "allow" }
}"#;

const IPS: &[&str] = &[
    "198.51.100.7",
    "192.0.2.1",
    "192.0.2.255",
    "192.0.3.0",
    "203.0.113.9",
    "::ffff:192.0.2.1",
    "::ffff:c000:201",
    "::192.0.2.1",
    "2001:db8:bad::1",
    "2001:db8:1::5",
    "198.51.100.129",
    "::ffff:198.51.100.200",
    "010.0.0.1",
    " 198.51.100.7 ",
    "198.51.100.7, 192.0.2.1",
    "",
    "fe80::1%eth0",
    "[2001:db8::1]",
    "1.2.3.4:80",
    "2001:DB8:BAD::1",
];
const HOSTS: &[&str] = &[
    "api.example.com",
    "cdn.static.example.com",
    "CDN.STATIC.example.com.",
    "static.example.com",
    "evilstatic.example.com",
    "api.example.com:8443",
    "[::1]:8787",
    "a..b",
];
const PATHS: &[&str] = &[
    "/",
    "/admin",
    "/admin/",
    "/administrator",
    "//admin",
    "/%61dmin",
    "/x/../admin",
    "/admin%2f",
    "/x/%2e%2e/admin",
    "/admin;x",
    "/ADMIN",
    "/internal/a/b/secrets",
    "/internal/secret",
    "/internal/x/secre",
    "/beta/x",
    "/a%zz",
    "/a%00b",
    "/%C0%AE%C0%AE/admin",
    "/ok/./admin/..",
    "/caf%C3%A9",
];
const ORIGINS: &[Option<&str>] = &[
    None,
    Some("https://app.example.com"),
    Some("https://eu.apps.example.com"),
    Some("https://apps.example.com"),
    Some("https://app.example.com.evil.net"),
    Some("null"),
    Some("Null"),
    Some("https://APP.example.com:443"),
    Some("https://app.example.com/"),
    Some("https://app.example.com@evil.net"),
];
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "OPTIONS", "delete", "PATCH"];
const COUNTRIES: &[Option<&str>] = &[None, Some("NL"), Some("KP"), Some("ir"), Some("T1")];

/// The digest both targets must reach; see the module docs.
const EXPECTED_DIGEST: u64 = 0x6b1c_fcde_6d2c_8fb6;

/// xorshift64*: a deterministic stream, the same on every target.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn digest(requests: usize) -> (u64, std::collections::BTreeSet<String>) {
    let policy = Policy::compile(POLICY, "agreement.json").unwrap().policy;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut h = 0xcbf2_9ce4_8422_2325;
    let mut codes = std::collections::BTreeSet::new();
    for _ in 0..requests {
        let ip = rng.pick(IPS);
        let origin = rng.pick(ORIGINS);
        let method = rng.pick(METHODS);
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if !ip.is_empty() {
            pairs.push(("cf-connecting-ip", ip));
        }
        if let Some(o) = origin {
            pairs.push(("origin", o));
        }
        if method == "OPTIONS" && rng.next() % 2 == 0 {
            pairs.push((
                "access-control-request-method",
                if rng.next() % 2 == 0 { "PUT" } else { "DELETE" },
            ));
        }
        let headers = HeaderList::from_pairs(pairs);
        let facts = RequestFacts {
            method,
            host: rng.pick(HOSTS),
            path: rng.pick(PATHS),
            query: None,
            headers: &headers,
            country: rng.pick(COUNTRIES),
            asn: None,
            tokens: &NoTokens,
            limits: &NoLimits,
        };
        let a = policy.evaluate(&facts, UnixTime(0));
        let b = policy.evaluate(&facts, UnixTime(0));
        assert_eq!(a, b, "the same request decided twice: {facts:?}");
        let line = format!(
            "{}|{}|{}|{}|{}|{}\n",
            a.status,
            a.code,
            a.rule_id().unwrap_or("-"),
            a.report_only,
            a.blocks(),
            a.cors.len()
        );
        h = fnv(h, line.as_bytes());
        codes.insert(a.code.to_owned());
    }
    (h, codes)
}

fn check() {
    let (got, codes) = digest(20_000);
    // The stream reaches every kind of outcome, so the digest is not pinned on a degenerate run.
    for code in [
        "allowed",
        "ip_denied",
        "client_ip_invalid",
        "client_ip_missing",
        "path_invalid",
        "origin_invalid",
        "origin_denied",
        "method_denied",
        "host_invalid",
        "cors_denied",
        "country_denied",
        "access_denied",
    ] {
        assert!(
            codes.contains(code),
            "no request decided `{code}`: {codes:?}"
        );
    }
    assert_eq!(
        got, EXPECTED_DIGEST,
        "decisions changed: if intended, pin EXPECTED_DIGEST = {got:#x} (native and wasm must agree)"
    );
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn native_decisions_match_the_pinned_digest() {
    check();
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test]
fn wasm_decisions_match_the_pinned_digest() {
    check();
}
