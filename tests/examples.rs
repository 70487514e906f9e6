//! Every policy in `examples/` passes `edge-access check` with no errors and its `cases.json` with
//! `edge-access test`, run through the built binary as an operator would. The large-blocklist example is
//! generated here (about 200,000 CIDRs, not committed) into a temporary directory. Native only.

#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::json;

/// The committed examples; `every_example_directory_is_tested` keeps this list complete.
const EXAMPLES: &[&str] = &[
    "admin-office",
    "cloudflare-access",
    "partner-api",
    "public-site",
    "staged-rollout",
];

fn cli() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edge-access"));
    cmd.env("NO_COLOR", "1");
    cmd
}

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// `check` passes (warnings allowed) and every case passes; returns `check`'s output.
fn check_and_test(policy: &Path, cases: &Path) -> String {
    let check = cli().arg("check").arg(policy).output().unwrap();
    let check_out = String::from_utf8(check.stdout).unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "`edge-access check {}`:\n{check_out}",
        policy.display()
    );
    assert!(
        !check_out.contains("× error"),
        "`edge-access check {}`:\n{check_out}",
        policy.display()
    );
    let test = cli().arg("test").arg(policy).arg(cases).output().unwrap();
    let test_out = String::from_utf8(test.stdout).unwrap();
    let summary = test_out.lines().last().unwrap_or_default().to_owned();
    assert_eq!(
        test.status.code(),
        Some(0),
        "`edge-access test {} {}`:\n{test_out}{}",
        policy.display(),
        cases.display(),
        String::from_utf8_lossy(&test.stderr)
    );
    assert!(
        summary.ends_with(" passed, 0 failed") && !summary.starts_with("0 passed"),
        "summary `{summary}`"
    );
    check_out
}

fn example(name: &str) -> String {
    let dir = examples().join(name);
    check_and_test(&dir.join("policy.json"), &dir.join("cases.json"))
}

#[test]
fn admin_office() {
    example("admin-office");
}

#[test]
fn cloudflare_access() {
    example("cloudflare-access");
}

#[test]
fn partner_api() {
    example("partner-api");
}

#[test]
fn public_site() {
    example("public-site");
}

#[test]
fn staged_rollout() {
    let out = example("staged-rollout");
    assert!(out.contains("the whole policy is report-only"), "{out}");
}

#[test]
fn every_example_directory_is_tested() {
    let mut found: Vec<String> = std::fs::read_dir(examples())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, EXAMPLES, "add a test for each example directory");
    for name in EXAMPLES {
        let dir = examples().join(name);
        assert!(dir.join("policy.json").is_file(), "{name}/policy.json");
        assert!(dir.join("cases.json").is_file(), "{name}/cases.json");
    }
}

/// Blocked ranges: `BLOCKED_V4` IPv4 /30 blocks, one every 64 addresses from 11.0.0.0 (so none merge), and
/// `BLOCKED_V6` IPv6 /48s.
const BLOCKED_V4: u32 = 190_000;
const BLOCKED_V6: u32 = 10_000;
const FIRST: u32 = 0x0B00_0000;

#[test]
fn large_blocklist_generated_at_test_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut list = String::with_capacity(5_000_000);
    for i in 0..BLOCKED_V4 {
        let _ = write!(list, "\n      \"{}/30\",", Ipv4Addr::from(FIRST + i * 64));
    }
    for i in 0..BLOCKED_V6 {
        let _ = write!(list, "\n      \"2001:db8:{i:x}::/48\",");
    }
    list.pop();
    let policy = format!(
        r#"{{
  "version": 1,
  "ip_lists": {{
    "partners": ["11.0.0.64/26"],
    "blocklist": [{list}
    ]
  }},
  "rules": [
    {{ "id": "partners", "action": "allow", "when": {{ "client_ip_in": "partners" }} }},
    {{ "id": "blocklist", "action": "deny", "when": {{ "client_ip_in": "blocklist" }} }}
  ],
  "default": {{ "action": "allow" }}
}}
"#
    );
    let last = Ipv4Addr::from(FIRST + (BLOCKED_V4 - 1) * 64 + 3);
    let after = Ipv4Addr::from(FIRST + (BLOCKED_V4 - 1) * 64 + 4);
    let case = |name: &str, ip: &str, status: u16, rule: serde_json::Value| json!({"name": name, "request": {"ip": ip}, "expect": {"status": status, "rule": rule}});
    let cases = json!({
        "defaults": {"url": "https://www.example.com/", "now": "2026-06-01T09:00:00Z"},
        "cases": [
            case("the first blocked address", "11.0.0.0", 403, json!("blocklist")),
            case("inside the first block", "11.0.0.3", 403, json!("blocklist")),
            case("the gap after the first block", "11.0.0.4", 200, json!(null)),
            case("the last blocked address", &last.to_string(), 403, json!("blocklist")),
            case("just after the last block", &after.to_string(), 200, json!(null)),
            case("an IPv4-mapped blocked address", "::ffff:11.0.0.1", 403, json!("blocklist")),
            case("a blocked IPv6 network", "2001:db8:1a2b::1", 403, json!("blocklist")),
            case("past the IPv6 blocks", "2001:db8:ffff::1", 200, json!(null)),
            case("a partner inside a blocked range is allowed first", "11.0.0.65", 200, json!("partners")),
            case("an address outside every list", "198.51.100.7", 200, json!(null)),
        ]
    });
    let policy_path = dir.path().join("policy.json");
    let cases_path = dir.path().join("cases.json");
    std::fs::write(&policy_path, policy).unwrap();
    std::fs::write(&cases_path, cases.to_string()).unwrap();
    let out = check_and_test(&policy_path, &cases_path);
    assert!(
        out.contains("IP list `blocklist` overlaps IP list `partners` (for example 11.0.0.64 to 11.0.0.67), which rule `partners` allows: rule `partners` comes first and allows them, so this rule never denies them"),
        "{out}"
    );
}
