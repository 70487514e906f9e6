//! `policy_file`: policy JSON text through parse and compile, then the compiled policy through the engine.
//!
//! Checks: compiling never panics, whatever the text; every diagnostic renders. A policy that compiles decides a
//! fixed set of requests (prechecks, origins, methods, overrides, preflights, forwarded addresses, rate limits)
//! without panicking, with `explain` agreeing with `evaluate`, and renders its answers. Then the policy goes
//! through the bundle round trip `build.rs` performs (IP lists emptied from the text and passed as precompiled
//! range blobs, loaded with [`Policy::from_bundle`]): loading must succeed, and the loaded policy must have the
//! same rules, lists and headers and decide every fixed request exactly as the compiled one. Last, the path the
//! Worker really takes: [`Policy::to_compiled`] must succeed and [`Policy::from_compiled`] (with the same
//! precompiled lists) must load a policy whose `Debug` form is the original's and that decides every fixed request
//! and its rate-limit checks exactly as the original; a few strict prefixes of the compiled bytes (cut points
//! spread over the whole length) and the bytes with one byte appended must be refused: `LoadError::Version`
//! when the cut falls inside the version tag, `LoadError::Corrupt` otherwise, never a panic nor a policy.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use edge_access::engine::render;
use edge_access::engine::{HeaderList, NoTokens, RequestFacts, UnixTime};
use edge_access::policy::{LoadError, Policy, PrecompiledIpList};

const NOW: UnixTime = UnixTime(1_800_000_000);

type Request = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const REQUESTS: &[Request] = &[
    (
        "GET",
        "api.example.com",
        "/",
        &[("cf-connecting-ip", "198.51.100.7")],
    ),
    (
        "GET",
        "api.example.com",
        "/admin/users",
        &[("cf-connecting-ip", "203.0.113.9")],
    ),
    (
        "POST",
        "API.Example.com.",
        "/login/",
        &[
            ("cf-connecting-ip", "192.0.2.1"),
            ("origin", "https://app.example.com"),
        ],
    ),
    (
        "GET",
        "a.apps.example.com:8443",
        "/%61dmin/./x/../y",
        &[("cf-connecting-ip", "2001:db8:bad::1"), ("origin", "null")],
    ),
    (
        "DELETE",
        "api.example.com",
        "/api/v1/items/1.json",
        &[
            ("cf-connecting-ip", "::ffff:10.1.2.3"),
            ("x-forwarded-for", "198.51.100.1, 10.0.0.1"),
        ],
    ),
    (
        "OPTIONS",
        "api.example.com",
        "/api",
        &[
            ("cf-connecting-ip", "198.51.100.7"),
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type, x-api-key"),
        ],
    ),
    (
        "POST",
        "api.example.com",
        "/api",
        &[
            ("cf-connecting-ip", "198.51.100.7"),
            ("x-http-method-override", "DELETE"),
            ("x-api-key", "k"),
        ],
    ),
    (
        "GET",
        "api.example.com",
        "/admin;x",
        &[("cf-connecting-ip", "198.51.100.7")],
    ),
    (
        "GET",
        "api.example.com",
        "/",
        &[("origin", "https://evil.example")],
    ),
    (
        "GET",
        "bad host",
        "/",
        &[("cf-connecting-ip", "198.51.100.7")],
    ),
    (
        "GET",
        "api.example.com",
        "/",
        &[("cf-connecting-ip", "010.0.0.1")],
    ),
    (
        "HEAD",
        "api.example.com",
        "/Health",
        &[
            ("cf-connecting-ip", "203.0.113.1"),
            ("authorization", "Bearer x.y.z"),
            ("cookie", "session=abc"),
        ],
    ),
];

fn countries(i: usize) -> Option<&'static str> {
    [None, Some("NL"), Some("KP"), Some("US")][i % 4]
}

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let compiled = match Policy::compile(text, "fuzz.json") {
        Ok(compiled) => compiled,
        Err(e) => {
            assert!(!e.errors.is_empty(), "a failed compile names no error");
            let _ = e.to_string();
            for d in e.errors.iter().chain(&e.warnings) {
                let _ = d.render("fuzz.json");
                let _ = d.json_pointer();
            }
            return;
        }
    };
    for d in &compiled.warnings {
        let _ = d.render("fuzz.json");
    }
    let policy = compiled.policy;
    let headers: Vec<HeaderList> = REQUESTS
        .iter()
        .map(|r| HeaderList::from_pairs(r.3.iter().copied()))
        .collect();
    let limits: Vec<usize> = vec![0, 2, 5];
    for (i, (req, headers)) in REQUESTS.iter().zip(&headers).enumerate() {
        let facts = facts(req, headers, &limits, i);
        let decision = policy.evaluate(&facts, NOW);
        let explained = policy.explain(&facts, NOW);
        assert_eq!(
            explained.decision, decision,
            "explain disagrees with evaluate"
        );
        let _ = policy.limit_checks(&facts);
        let plan = render::plan(&decision, &policy, req.1, "req-1", req.0 == "HEAD");
        let _ = plan;
        if decision.blocks() {
            let _ = serde_json::to_string(&render::denial_body(&decision, &policy, "req-1"));
            let _ = render::www_authenticate(&decision, &policy, req.1);
        }
    }
    round_trip(text, &policy, &headers, &limits);
}

fn facts<'a>(
    req: &'a Request,
    headers: &'a HeaderList,
    limits: &'a Vec<usize>,
    i: usize,
) -> RequestFacts<'a> {
    RequestFacts {
        method: req.0,
        host: req.1,
        path: req.2,
        query: None,
        headers,
        country: countries(i),
        asn: (i % 3 == 0).then_some(13335),
        tokens: &NoTokens,
        limits,
    }
}

/// What `build.rs` does, then [`Policy::from_bundle`].
fn round_trip(text: &str, policy: &Policy, headers: &[HeaderList], limits: &Vec<usize>) {
    let mut doc: Value = serde_json::from_str(text).expect("the text compiled, so it is JSON");
    if let Some(lists) = doc.get_mut("ip_lists").and_then(|v| v.as_object_mut()) {
        for entries in lists.values_mut() {
            *entries = Value::Array(Vec::new());
        }
    }
    let bundle_text = doc.to_string();
    let mut lists = Vec::new();
    for list in policy.ip_lists() {
        let set = &list.set;
        let blobs = [
            intern(list.name.as_bytes()),
            intern(set.v4_bytes()),
            intern(set.v6_bytes()),
            intern(set.v4_index_bytes()),
            intern(set.v6_index_bytes()),
        ];
        let [Some(name), Some(v4), Some(v6), Some(v4_index), Some(v6_index)] = blobs else {
            return; // over the leak budget: skip the round trip for this input
        };
        lists.push(PrecompiledIpList {
            name: std::str::from_utf8(name).unwrap(),
            v4,
            v6,
            v4_index,
            v6_index,
        });
    }
    let fingerprint = edge_access::policy::fingerprint(text);
    let loaded = Policy::from_bundle(&bundle_text, "fuzz.json", &fingerprint, &lists)
        .unwrap_or_else(|e| panic!("the bundle of a policy that compiled does not load: {e}"));
    assert_eq!(loaded.fingerprint(), fingerprint);
    assert!(loaded.rule_ids().eq(policy.rule_ids()), "rule ids differ");
    assert_eq!(loaded.header_names(), policy.header_names());
    assert_eq!(loaded.strip_headers(), policy.strip_headers());
    assert_eq!(loaded.issuers().len(), policy.issuers().len());
    assert_eq!(loaded.report_only(), policy.report_only());
    assert_eq!(loaded.ip_lists().len(), policy.ip_lists().len());
    for (a, b) in loaded.ip_lists().iter().zip(policy.ip_lists()) {
        assert_eq!(a.name, b.name);
        assert!(
            a.set.iter_v4().eq(b.set.iter_v4()),
            "list {}: v4 ranges differ",
            a.name
        );
        assert!(
            a.set.iter_v6().eq(b.set.iter_v6()),
            "list {}: v6 ranges differ",
            a.name
        );
        assert!(
            a.set.validate().is_ok(),
            "list {}: bundled set is inconsistent",
            a.name
        );
    }
    for (i, (req, headers)) in REQUESTS.iter().zip(headers).enumerate() {
        let facts = facts(req, headers, limits, i);
        assert_eq!(
            loaded.evaluate(&facts, NOW),
            policy.evaluate(&facts, NOW),
            "request {i}: the bundled policy decides differently"
        );
        assert_eq!(loaded.limit_checks(&facts), policy.limit_checks(&facts));
    }
    compiled_round_trip(policy, &lists, headers, limits);
}

/// The length of the version tag that opens [`Policy::to_compiled`]'s output (`EAC1`).
const TAG_LEN: usize = 4;

/// What `build.rs` writes and the Worker loads: [`Policy::to_compiled`], then [`Policy::from_compiled`].
fn compiled_round_trip(
    policy: &Policy,
    lists: &[PrecompiledIpList],
    headers: &[HeaderList],
    limits: &Vec<usize>,
) {
    let bytes = policy
        .to_compiled()
        .unwrap_or_else(|e| panic!("a policy that compiled does not serialise: {e}"));
    assert!(bytes.len() > TAG_LEN, "the compiled form has no body");
    let loaded = Policy::from_compiled(&bytes, lists).unwrap_or_else(|e| {
        panic!("the compiled form of a policy that compiled does not load: {e}")
    });
    assert_eq!(
        format!("{loaded:?}"),
        format!("{policy:?}"),
        "the loaded policy is not the compiled one"
    );
    for (i, (req, headers)) in REQUESTS.iter().zip(headers).enumerate() {
        let facts = facts(req, headers, limits, i);
        assert_eq!(
            loaded.evaluate(&facts, NOW),
            policy.evaluate(&facts, NOW),
            "request {i}: the loaded compiled policy decides differently"
        );
        assert_eq!(
            loaded.limit_checks(&facts),
            policy.limit_checks(&facts),
            "request {i}: the loaded compiled policy checks other limits"
        );
    }
    // Damaged bytes are refused, never misread: a few strict prefixes (not all, to stay fast) and one byte more.
    let len = bytes.len();
    let mut cuts = vec![0, 1, TAG_LEN - 1, TAG_LEN, TAG_LEN + 1, len / 2, len - 1];
    cuts.extend((1..8).map(|k| len * k / 8));
    cuts.sort_unstable();
    cuts.dedup();
    for cut in cuts.into_iter().filter(|&c| c < len) {
        match Policy::from_compiled(&bytes[..cut], lists) {
            Err(LoadError::Version) if cut < TAG_LEN => {}
            Err(LoadError::Corrupt(_)) if cut >= TAG_LEN => {}
            Ok(_) => panic!("the first {cut} of {len} compiled bytes load as a policy"),
            Err(e) => panic!("the first {cut} of {len} compiled bytes: unexpected error {e:?}"),
        }
    }
    let mut longer = bytes;
    longer.push(0);
    assert!(
        matches!(
            Policy::from_compiled(&longer, lists),
            Err(LoadError::Corrupt(_))
        ),
        "the compiled bytes with one byte appended are not refused as corrupt"
    );
}

/// `PrecompiledIpList` holds `'static` blobs (`build.rs` embeds them). The harness leaks each distinct blob once
/// and reuses it; past a budget it returns `None` and the round trip is skipped, so a long fuzz run stays bounded.
fn intern(bytes: &[u8]) -> Option<&'static [u8]> {
    const BUDGET: usize = 256 * 1024 * 1024;
    /// Each distinct blob once, and the bytes leaked so far.
    type Table = Option<(HashMap<Vec<u8>, &'static [u8]>, usize)>;
    static TABLE: Mutex<Table> = Mutex::new(None);
    if bytes.is_empty() {
        return Some(&[]);
    }
    let mut guard = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    let (table, used) = guard.get_or_insert_with(Default::default);
    if let Some(found) = table.get(bytes) {
        return Some(found);
    }
    if *used + bytes.len() > BUDGET {
        return None;
    }
    *used += bytes.len();
    let leaked: &'static [u8] = Box::leak(bytes.to_vec().into_boxed_slice());
    table.insert(bytes.to_vec(), leaked);
    Some(leaked)
}
