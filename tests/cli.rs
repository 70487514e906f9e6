//! The `edge-access` command line end to end: every subcommand and exit code (0 ok, 1 invalid or failing, 2
//! usage), the caret diagnostics of `check`, JSON formats, the schema kept in sync with `policy.schema.json`,
//! tokens minted by `token` and accepted by `explain`, and `test` reporting a failing case with a diff.
//! Native only: it runs the built binary.

#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use predicates::prelude::*;
use serde_json::{json, Value};

fn cli() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edge-access"));
    cmd.env("NO_COLOR", "1");
    cmd
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The demo-style policy the checks below use. Line 10 holds the misspelt list name.
const MISSPELT: &str = r#"{
  "version": 1,
  "ip_lists": {
    "blocked": ["192.0.2.0/24"],
    "office": ["203.0.113.0/24", "2001:db8:1::/48"]
  },
  "rules": [
    { "id": "blocklist", "action": "deny", "when": { "client_ip_in": "blocked" } },
    { "id": "admin-from-office", "action": "require",
      "when": { "path_under": "/admin" }, "require": { "client_ip_in": "ofice" }, "status": 404 }
  ],
  "default": { "action": "allow" }
}
"#;

const VALID: &str = r#"{
  "version": 1,
  "ip_lists": {
    "blocked": ["192.0.2.0/24"],
    "office": ["203.0.113.0/24", "2001:db8:1::/48"]
  },
  "origin_lists": { "our_apps": ["https://app.example.com"] },
  "rules": [
    { "id": "blocklist", "action": "deny", "when": { "client_ip_in": "blocked" } },
    { "id": "admin-from-office", "action": "require",
      "when": { "path_under": "/admin" }, "require": { "client_ip_in": "office" }, "status": 404 },
    { "id": "browser-origins", "action": "require",
      "when": { "has_origin": true }, "require": { "origin_in": "our_apps" } }
  ],
  "default": { "action": "allow" }
}
"#;

/// A policy with one token rule per issuer kind: HMAC (secret `DEMO_SECRET`), a bundled JWKS (filled in by the
/// test), a fetched JWKS, and a rate limit.
fn token_policy(bundled_jwks: &Value) -> String {
    json!({
        "version": 1,
        "issuers": {
            "demo": {
                "issuer": "https://demo.example", "audiences": ["api"], "algorithms": ["HS256"],
                "hmac_secrets": ["DEMO_SECRET"], "forward_claims": { "sub": "X-User" }
            },
            "bundled": {
                "issuer": "https://bundled.example", "audiences": ["api"],
                "algorithms": ["EdDSA", "ES256"], "jwks": bundled_jwks,
                "token_from": [{ "header": "X-Bundled-Token" }]
            },
            "remote": {
                "issuer": "https://remote.example", "audiences": ["api"], "algorithms": ["RS256", "PS256"],
                "jwks_url": "https://remote.example/jwks.json",
                "token_from": [{ "header": "X-Remote-Token" }]
            }
        },
        "rules": [
            { "id": "demo-token", "action": "require", "when": { "path_under": "/demo" },
              "require": { "token": { "issuer": "demo", "claims": [{ "claim": "role", "equals": "reader" }] } } },
            { "id": "bundled-token", "action": "require", "when": { "path_under": "/bundled" },
              "require": { "token": { "issuer": "bundled" } } },
            { "id": "remote-token", "action": "require", "when": { "path_under": "/remote" },
              "require": { "token": { "issuer": "remote" } } },
            { "id": "slow-down", "action": "limit", "when": { "path_under": "/busy" },
              "limit": { "binding": "LIMITER", "period_seconds": 10 } }
        ],
        "default": { "action": "allow" }
    })
    .to_string()
}

const SECRET: &str = "demo-secret-0123456789abcdef0123456789";

// ---------------------------------------------------------------------------------------------------------------
// General
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn help_and_version_exit_zero_and_usage_errors_exit_two() {
    let help = run(cli().arg("--help"));
    assert_eq!(help.code, 0);
    for sub in ["check", "explain", "test", "schema", "token"] {
        assert!(help.stdout.contains(sub), "help lists `{sub}`");
    }
    cli().arg("--version").assert().code(0);
    cli().assert().code(2);
    cli().args(["check", "--no-such-flag"]).assert().code(2);
    cli().args(["frobnicate"]).assert().code(2);
    cli().args(["check", "--format", "xml"]).assert().code(2);
}

// ---------------------------------------------------------------------------------------------------------------
// check
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn check_valid_policy_exits_zero_and_reads_policy_json_by_default() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "policy.json", VALID);
    let r = run(cli().current_dir(dir.path()).arg("check"));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "policy.json: valid (3 rules, 0 warnings)\n");
}

#[test]
fn check_misspelt_list_points_at_it_with_a_caret_and_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "policy.json", MISSPELT);
    let r = run(cli().current_dir(dir.path()).args(["check", "policy.json"]));
    assert_eq!(r.code, 1, "{}", r.stdout);
    let expected = concat!(
        "  × error: rules[1] (id `admin-from-office`), field `require.client_ip_in`: unknown IP list `ofice`\n",
        "    ╭─[policy.json:10:72]\n",
        "  9 │     { \"id\": \"admin-from-office\", \"action\": \"require\",\n",
        " 10 │       \"when\": { \"path_under\": \"/admin\" }, \"require\": { \"client_ip_in\": \"ofice\" }, \"status\": 404 }\n",
        "    ·                                                                        ───┬───\n",
        "    ·                                                                           ╰── did you mean `office`?\n",
        " 11 │   ],\n",
        "    ╰────\n",
    );
    assert!(
        r.stdout.contains(expected),
        "got:\n{}\nwanted:\n{expected}",
        r.stdout
    );
    // The compiler's "list `office` is not used" is left out: the misspelling is the reason.
    assert!(r
        .stdout
        .ends_with("policy.json: invalid (1 error, 0 warnings)\n"));

    let short =
        run(cli()
            .current_dir(dir.path())
            .args(["check", "policy.json", "--format", "short"]));
    assert_eq!(short.code, 1);
    assert_eq!(
        short.stdout.lines().next().unwrap(),
        "policy.json:10:72: error: rules[1] (id `admin-from-office`), field `require.client_ip_in`: unknown IP list `ofice` (did you mean `office`?)"
    );
}

#[test]
fn check_json_is_one_document_for_ci() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.json", MISSPELT);
    let r = run(cli().args(["check", "--format", "json"]).arg(&bad));
    assert_eq!(r.code, 1);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["warnings"], json!([]));
    assert_eq!(
        doc["errors"],
        json!([{
            "message": "unknown IP list `ofice`",
            "path": "/rules/1/require/client_ip_in",
            "location": "rules[1] (id `admin-from-office`), field `require.client_ip_in`",
            "rule": "admin-from-office",
            "hint": "did you mean `office`?",
            "line": 10,
            "column": 72
        }])
    );

    let good = write(dir.path(), "good.json", VALID);
    let r = run(cli().args(["check", "--format", "json"]).arg(&good));
    assert_eq!(r.code, 0);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (&doc["valid"], &doc["rules"], &doc["errors"]),
        (&json!(true), &json!(3), &json!([]))
    );
}

#[test]
fn check_syntax_and_shape_errors_are_located() {
    let dir = tempfile::tempdir().unwrap();
    // name, text, expected exit, expected short line
    let cases: &[(&str, &str, &str)] = &[
        (
            "comma.json",
            "{\n  \"version\": 1,\n  \"default\": { \"action\": \"allow\" },\n}\n",
            "comma.json:4:1: error: trailing comma",
        ),
        (
            "field.json",
            "{\n  \"version\": 1,\n  \"rules\": [ { \"id\": \"a\", \"action\": \"deny\", \"whn\": {} } ],\n  \"default\": { \"action\": \"allow\" }\n}\n",
            "field.json:3:45: error: rules[0] (id `a`), field `whn`: unknown field `whn`, expected one of `id`, `description`, `action`, `when`, `require`, `status`, `code`, `message`, `report_only`, `limit` (did you mean `when`?)",
        ),
        (
            "variant.json",
            "{\n  \"version\": 1,\n  \"default\": { \"action\": \"alow\" }\n}\n",
            "variant.json:3:26: error: default.action: unknown variant `alow`, expected `allow` or `deny` (did you mean `allow`?)",
        ),
        (
            "type.json",
            "{\n  \"version\": \"1\",\n  \"default\": { \"action\": \"allow\" }\n}\n",
            "type.json:2:14: error: version: invalid type: string \"1\", expected u32",
        ),
    ];
    for (name, text, want) in cases {
        let path = write(dir.path(), name, text);
        let r = run(cli()
            .current_dir(dir.path())
            .args(["check", "--format", "short", name]));
        assert_eq!(r.code, 1, "case {name}");
        assert_eq!(r.stdout.lines().next(), Some(*want), "case {name}");
        // The human format shows the same position in its snippet header.
        let human = run(cli().arg("check").arg(&path));
        let pos = want.split(": ").next().unwrap();
        let pos = pos.split_once(':').unwrap().1;
        assert!(
            human.stdout.contains(&format!(":{pos}]")),
            "case {name}: {}",
            human.stdout
        );
    }
}

#[test]
fn check_warnings_pass_unless_strict() {
    let dir = tempfile::tempdir().unwrap();
    let text = VALID.replace("\"192.0.2.0/24\"", "\"192.0.2.0/24\", \"203.0.113.128/25\"");
    let path = write(dir.path(), "policy.json", &text);
    let r = run(cli().arg("check").arg(&path));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("⚠ warning: rules[0] (id `blocklist`), field `when.client_ip_in`: IP list `blocked` overlaps IP list `office` (for example 203.0.113.128 to 203.0.113.255), which rule `admin-from-office` requires: this rule denies them although rule `admin-from-office` requires them"), "{}", r.stdout);
    assert!(r.stdout.ends_with("valid (3 rules, 1 warning)\n"));
    cli()
        .arg("check")
        .arg("--strict")
        .arg(&path)
        .assert()
        .code(1);
    let json = run(cli().args(["check", "--format", "json"]).arg(&path));
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["warnings"][0]["path"], "/rules/0/when/client_ip_in");
    assert_eq!(doc["warnings"][0]["line"], 9);
}

#[test]
fn check_unreadable_file_is_a_usage_error() {
    let r = run(cli().args(["check", "/definitely/not/here.json"]));
    assert_eq!(r.code, 2);
    assert!(r
        .stderr
        .starts_with("error: cannot read `/definitely/not/here.json`"));
}

// ---------------------------------------------------------------------------------------------------------------
// schema
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn schema_output_matches_the_committed_file() {
    let r = run(cli().arg("schema"));
    assert_eq!(r.code, 0);
    let committed = std::fs::read_to_string(root().join("policy.schema.json")).unwrap_or_default();
    assert!(
        r.stdout == committed,
        "policy.schema.json is out of date with the policy format; regenerate it with:\n\n    cargo run -- schema > policy.schema.json\n"
    );
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["$id"], "urn:edge-access:policy:v1");
    assert_eq!(doc["title"], "edge-access policy");
    assert!(doc["properties"]["$schema"].is_object());
}

// ---------------------------------------------------------------------------------------------------------------
// explain
// ---------------------------------------------------------------------------------------------------------------

#[test]
fn explain_prints_the_decision_and_every_rule() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.json", VALID);
    let r = run(cli().arg("explain").arg("--policy").arg(&policy).args([
        "--url",
        "https://api.example.com//admin/./users?x=1",
        "--ip",
        "198.51.100.9",
        "--origin",
        "https://app.example.com",
        "--country",
        "NL",
        "--asn",
        "13335",
        "--now",
        "2026-11-26T12:00:00Z",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let expected = r#"DENY 404 ip_denied, decided by rule `admin-from-office`
  the Worker answers 404:
    content-type: application/json; charset=utf-8
    cache-control: no-store
    x-content-type-options: nosniff
    x-request-id: cli-request
    {"error":"Not Found","code":"not_found","request_id":"cli-request"}

request: GET https://api.example.com//admin/./users?x=1 at 2026-11-26T12:00:00Z (1795694400)
  as the rules see it: client 198.51.100.9, host api.example.com, path /admin/users, method GET, origin https://app.example.com, country NL, asn 13335
rules, in order:
  1. blocklist [deny] does not apply
       when: ✗ client_ip_in `blocked`: 198.51.100.9 is not in `blocked`
  2. admin-from-office [require] requirement failed: decides
       when: ✓ path_under `/admin`: path `/admin/users` (normalised) matches
       require: ✗ client_ip_in `office`: 198.51.100.9 is not in `office`
  3. browser-origins: not reached
"#;
    assert_eq!(r.stdout, expected);
}

#[test]
fn explain_json_gives_the_same_as_data() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.json", VALID);
    let r = run(cli()
        .arg("explain")
        .arg("--policy")
        .arg(&policy)
        .args([
            "--url",
            "https://api.example.com/shop",
            "--ip",
            "203.0.113.9",
        ])
        .args(["--origin", "https://evil.example", "--now", "1795694400"])
        .args(["--format", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        doc["decision"],
        json!({
            "effect": "deny", "blocks": true, "status": 403, "code": "origin_denied",
            "decided_by": "rule", "rule": "browser-origins", "report_only": false, "would_deny": [],
            "message": "You do not have permission to access this resource", "preflight": false
        })
    );
    assert_eq!(doc["request"]["now_rfc3339"], "2026-11-26T12:00:00Z");
    let outcomes: Vec<&str> = doc["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["not_applicable", "not_applicable", "requirement_failed"]
    );
    assert_eq!(
        doc["rules"][2]["require"]["detail"],
        "`https://evil.example` is not in `our_apps`"
    );
    assert_eq!(doc["response"]["status"], 403);
    assert_eq!(doc["response"]["body"]["code"], "origin_denied");
    assert_eq!(doc["seen"]["client_ip"], "203.0.113.9");
}

#[test]
fn explain_reads_now_as_rfc3339_or_unix_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.json", VALID);
    for now in [
        "2026-11-26T12:00:00Z",
        "2026-11-26T13:00:00+01:00",
        "1795694400",
    ] {
        let r = run(cli().arg("explain").arg("--policy").arg(&policy).args([
            "--url",
            "https://a.example/",
            "--ip",
            "203.0.113.9",
            "--now",
            now,
        ]));
        assert_eq!(r.code, 0, "now {now}: {}", r.stderr);
        assert!(
            r.stdout.contains("at 2026-11-26T12:00:00Z (1795694400)"),
            "now {now}: {}",
            r.stdout
        );
    }
}

#[test]
fn explain_usage_errors_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "policy.json",
        &token_policy(&json!({"keys": []})).replace(
            r#""jwks":{"keys":[]}"#,
            r#""jwks_url":"https://b.example/jwks""#,
        ),
    );
    // args, the message on stderr
    let cases: &[(&[&str], &str)] = &[
        (&["--url", "/relative"], "error: `/relative` is not an absolute URL"),
        (&["--url", "https://a.example/", "--now", "yesterday"], "error: `yesterday` is neither Unix seconds nor an RFC 3339 time"),
        (&["--url", "https://a.example/", "--header", "no colon"], "error: header `no colon` must be written `Name: value`"),
        (&["--url", "https://a.example/", "--over-limit", "slow-dwn"], "error: over-limit names rule `slow-dwn`, which the policy does not have (did you mean `slow-down`?)"),
        (&["--url", "https://a.example/", "--over-limit", "demo-token"], "error: over-limit names rule `demo-token`, which is not a `limit` rule"),
        (&["--url", "https://a.example/", "--secret", "DEMO_SECRT=x"], "error: --secret names secret `DEMO_SECRT`, which no issuer of the policy uses (did you mean `DEMO_SECRET`?)"),
        (&["--url", "https://a.example/", "--secret", "novalue"], "error: `novalue` must be written NAME=VALUE for --secret"),
        (&["--url", "https://a.example/", "--jwks", "demo=x.json"], "error: --jwks names issuer `demo`, whose keys are hmac secrets"),
        (&["--url", "https://a.example/", "--jwks", "remot=x.json"], "error: --jwks names issuer `remot`, which the policy does not have (did you mean `remote`?)"),
        (&["--url", "https://a.example/", "--jwks", "remote=/no/such/jwks.json"], "error: cannot read `/no/such/jwks.json`"),
    ];
    for (args, want) in cases {
        let r = run(cli()
            .arg("explain")
            .arg("--policy")
            .arg(&policy)
            .args(["--ip", "203.0.113.9"])
            .args(*args));
        assert_eq!(r.code, 2, "args {args:?}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.starts_with(want), "args {args:?}: {}", r.stderr);
    }
    // An invalid policy is exit 1, with its diagnostics.
    let bad = write(dir.path(), "bad.json", MISSPELT);
    let r = run(cli()
        .arg("explain")
        .arg("--policy")
        .arg(&bad)
        .args(["--url", "https://a.example/"]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("did you mean `office`?"));
    assert!(r.stderr.contains("is not a valid policy"));
}

#[test]
fn explain_over_limit_rule_is_a_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.json", &token_policy(&ed25519_jwks()));
    let r = run(cli()
        .arg("explain")
        .arg("--policy")
        .arg(&policy)
        .args(["--url", "https://a.example/busy", "--ip", "203.0.113.9"])
        .args(["--over-limit", "slow-down", "--format", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (&doc["decision"]["status"], &doc["decision"]["code"]),
        (&json!(429), &json!("rate_limited"))
    );
    assert_eq!(doc["response"]["headers"]["retry-after"], "10");
    // Without the flag the request is within its limit.
    let r = run(cli().arg("explain").arg("--policy").arg(&policy).args([
        "--url",
        "https://a.example/busy",
        "--ip",
        "203.0.113.9",
    ]));
    assert!(r
        .stdout
        .starts_with("ALLOW allowed, decided by the default\n"));
    assert!(r
        .stdout
        .contains("4. slow-down [limit] within its rate limit, goes on"));
}

// ---------------------------------------------------------------------------------------------------------------
// token, and explain with tokens
// ---------------------------------------------------------------------------------------------------------------

fn ed25519_jwks() -> Value {
    // Any valid public key will do where the test does not sign with it.
    json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "placeholder",
                     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})
}

fn claims_of(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "token `{token}`");
    let decode =
        |s: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    (decode(parts[0]), decode(parts[1]))
}

#[test]
fn token_hs256_round_trip_through_explain() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.json", &token_policy(&ed25519_jwks()));
    let minted = run(cli().args([
        "token",
        "--alg",
        "HS256",
        "--secret",
        SECRET,
        "--iss",
        "https://demo.example",
        "--aud",
        "api",
        "--sub",
        "alice",
        "--claim",
        "role=reader",
        "--claim",
        "n=42",
        "--ttl",
        "600",
        "--now",
        "1795694400",
    ]));
    assert_eq!(minted.code, 0, "{}", minted.stderr);
    let token = minted.stdout.trim().to_owned();
    let (header, claims) = claims_of(&token);
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    assert_eq!(
        claims,
        json!({"iss": "https://demo.example", "aud": "api", "sub": "alice", "role": "reader", "n": 42,
               "iat": 1795694400u64, "exp": 1795695000u64})
    );
    let explain = |extra: &[&str], envs: &[(&str, &str)]| {
        let mut cmd = cli();
        cmd.arg("explain")
            .arg("--policy")
            .arg(&policy)
            .args(["--url", "https://a.example/demo/x", "--ip", "203.0.113.9"])
            .args(["--format", "json"])
            .arg("--header")
            .arg(format!("Authorization: Bearer {token}"))
            .args(extra)
            .env_remove("DEMO_SECRET");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let r = run(&mut cmd);
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str::<Value>(&r.stdout).unwrap()
    };
    // The secret on the command line, or from the environment.
    for doc in [
        explain(
            &[
                "--secret",
                &format!("DEMO_SECRET={SECRET}"),
                "--now",
                "1795694500",
            ],
            &[],
        ),
        explain(&["--now", "1795694500"], &[("DEMO_SECRET", SECRET)]),
    ] {
        assert_eq!(doc["decision"]["code"], "allowed");
        assert_eq!(doc["rules"][0]["outcome"], "requirement_met");
        assert_eq!(
            doc["tokens"][1],
            json!({"issuer": "demo", "result": "valid"})
        );
        assert_eq!(doc["response"]["added_headers"], json!({"x-user": "alice"}));
    }
    // Another secret: the signature does not verify.
    let doc = explain(
        &[
            "--secret",
            "DEMO_SECRET=another-secret-0123456789abcdef0123",
            "--now",
            "1795694500",
        ],
        &[],
    );
    assert_eq!(doc["decision"]["code"], "token_invalid_signature");
    // Later than exp (plus leeway): expired.
    let doc = explain(
        &[
            "--secret",
            &format!("DEMO_SECRET={SECRET}"),
            "--now",
            "1795699999",
        ],
        &[],
    );
    assert_eq!(doc["decision"]["code"], "token_expired");
}

#[test]
fn explain_without_the_secret_fails_closed_like_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.json", &token_policy(&ed25519_jwks()));
    let token = run(cli().args([
        "token",
        "--secret",
        SECRET,
        "--iss",
        "https://demo.example",
        "--aud",
        "api",
    ]))
    .stdout;
    let r = run(cli()
        .env_remove("DEMO_SECRET")
        .arg("explain")
        .arg("--policy")
        .arg(&policy)
        .args(["--url", "https://a.example/demo", "--ip", "203.0.113.9"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {}", token.trim())));
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with(
        "FAIL CLOSED 503 filter_unavailable: the request carries a token for issuer `demo`, whose keys cannot be had\n  secret `DEMO_SECRET` is not set (give --secret DEMO_SECRET=... or set the environment variable DEMO_SECRET)\n  the Worker answers 503:\n"
    ), "{}", r.stdout);
    assert!(r.stdout.contains(r#"{"code":"filter_unavailable","error":"The service is temporarily unavailable","request_id":"cli-request"}"#));
    // Without a token nothing needs the keys.
    let r = run(cli()
        .env_remove("DEMO_SECRET")
        .arg("explain")
        .arg("--policy")
        .arg(&policy)
        .args(["--url", "https://a.example/demo", "--ip", "203.0.113.9"]));
    assert!(
        r.stdout
            .starts_with("DENY 401 token_missing, decided by rule `demo-token`\n"),
        "{}",
        r.stdout
    );
    assert!(r
        .stdout
        .contains("    www-authenticate: Bearer realm=\"a.example\"\n"));
}

#[test]
fn token_generate_and_mint_with_ed25519_and_es256() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, alg) in [("ed25519", "EdDSA"), ("es256", "ES256")] {
        let generated = run(cli().args(["token", "--generate", kind, "--kid", "k1"]));
        assert_eq!(generated.code, 0, "{}", generated.stderr);
        let doc: Value = serde_json::from_str(&generated.stdout).unwrap();
        let private = &doc["private_jwk"];
        assert!(private["d"].is_string(), "{kind}: private key has `d`");
        assert_eq!(private["kid"], "k1");
        let public = &doc["jwks"]["keys"][0];
        assert!(public.get("d").is_none(), "{kind}: public key has no `d`");
        assert_eq!(public["alg"], alg);
        let private_path = write(dir.path(), &format!("{kind}.json"), &private.to_string());
        let policy = write(
            dir.path(),
            &format!("{kind}-policy.json"),
            &token_policy(&doc["jwks"]),
        );
        cli().arg("check").arg(&policy).assert().code(0);
        let token = run(cli().args(["token", "--jwk"]).arg(&private_path).args([
            "--iss",
            "https://bundled.example",
            "--aud",
            "api",
        ]));
        assert_eq!(token.code, 0, "{}", token.stderr);
        let (header, _) = claims_of(&token.stdout);
        assert_eq!(header, json!({"alg": alg, "kid": "k1", "typ": "JWT"}));
        let r = run(cli()
            .arg("explain")
            .arg("--policy")
            .arg(&policy)
            .args(["--url", "https://a.example/bundled", "--ip", "203.0.113.9"])
            .arg("--header")
            .arg(format!("X-Bundled-Token: {}", token.stdout.trim())));
        assert!(
            r.stdout
                .starts_with("ALLOW allowed, decided by the default\n"),
            "{kind}: {}",
            r.stdout
        );
        assert!(
            r.stdout.contains("  bundled: valid\n"),
            "{kind}: {}",
            r.stdout
        );
        assert!(r
            .stdout
            .contains("       require: ✓ token from `bundled`: a valid token\n"));
    }
    // --private-out / --jwks-out write files instead.
    let (p, j) = (dir.path().join("p.json"), dir.path().join("j.json"));
    let r = run(cli()
        .args(["token", "--generate", "ed25519", "--private-out"])
        .arg(&p)
        .arg("--jwks-out")
        .arg(&j));
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
    let jwks: Value = serde_json::from_str(&std::fs::read_to_string(&j).unwrap()).unwrap();
    let private: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    // The default kid is the RFC 7638 thumbprint, the same in both.
    assert_eq!(jwks["keys"][0]["kid"], private["kid"]);
    assert_eq!(private["kid"].as_str().unwrap().len(), 43);
}

#[test]
fn token_rs256_and_ps256_with_the_example_key_and_a_local_jwks() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.json", &token_policy(&ed25519_jwks()));
    let example = root().join("examples/cloudflare-access");
    let jwks = example.join("access.jwks.json");
    for alg in ["RS256", "PS256"] {
        let token = run(cli()
            .args(["token", "--alg", alg, "--jwk"])
            .arg(example.join("TEST-ONLY-access.private.jwk.json"))
            .args(["--iss", "https://remote.example", "--aud", "api"]));
        // The key names its own alg (RS256): PS256 with it is refused, as the JWK says.
        if alg == "PS256" {
            assert_eq!(token.code, 2);
            assert!(token
                .stderr
                .contains("the key's own `alg` is `RS256`, not `PS256`"));
            continue;
        }
        assert_eq!(token.code, 0, "{}", token.stderr);
        let explain = |with_jwks: bool| {
            let mut cmd = cli();
            cmd.arg("explain")
                .arg("--policy")
                .arg(&policy)
                .args(["--url", "https://a.example/remote", "--ip", "203.0.113.9"])
                .arg("--header")
                .arg(format!("X-Remote-Token: {}", token.stdout.trim()));
            if with_jwks {
                cmd.arg("--jwks").arg(format!("remote={}", jwks.display()));
            }
            run(&mut cmd)
        };
        let r = explain(true);
        assert!(
            r.stdout
                .starts_with("ALLOW allowed, decided by the default\n"),
            "{}{}",
            r.stdout,
            r.stderr
        );
        let r = explain(false);
        assert!(r.stdout.contains("the Worker fetches its JWKS from https://remote.example/jwks.json; the CLI never does: give --jwks remote=FILE"), "{}", r.stdout);
    }
    // Without its own alg, the same RSA key signs PS256, which the verifier accepts.
    let mut private: Value = serde_json::from_str(
        &std::fs::read_to_string(example.join("TEST-ONLY-access.private.jwk.json")).unwrap(),
    )
    .unwrap();
    private.as_object_mut().unwrap().remove("alg");
    let key = write(dir.path(), "rsa.json", &private.to_string());
    let mut public: Value = serde_json::from_str(&std::fs::read_to_string(&jwks).unwrap()).unwrap();
    public["keys"][0].as_object_mut().unwrap().remove("alg");
    let any_jwks = write(dir.path(), "jwks.json", &public.to_string());
    let token = run(cli()
        .args(["token", "--alg", "PS256", "--jwk"])
        .arg(&key)
        .args(["--iss", "https://remote.example", "--aud", "api"]));
    assert_eq!(token.code, 0, "{}", token.stderr);
    let r = run(cli()
        .arg("explain")
        .arg("--policy")
        .arg(&policy)
        .args(["--url", "https://a.example/remote", "--ip", "203.0.113.9"])
        .arg("--jwks")
        .arg(format!("remote={}", any_jwks.display()))
        .arg("--header")
        .arg(format!("X-Remote-Token: {}", token.stdout.trim())));
    assert!(r.stdout.contains("  remote: valid\n"), "{}", r.stdout);
    // A well-formed JWKS with no usable key is honoured as in the Worker: the token is refused (401), not a
    // failure to get keys (503).
    for (name, doc) in [
        ("empty.json", r#"{"keys": []}"#),
        ("unusable.json", r#"{"keys": [{"kty": "PQC", "kid": "k"}]}"#),
    ] {
        let empty = write(dir.path(), name, doc);
        let r = run(cli()
            .arg("explain")
            .arg("--policy")
            .arg(&policy)
            .args(["--url", "https://a.example/remote", "--ip", "203.0.113.9"])
            .arg("--jwks")
            .arg(format!("remote={}", empty.display()))
            .arg("--header")
            .arg(format!("X-Remote-Token: {}", token.stdout.trim())));
        assert!(
            r.stdout.starts_with("DENY 401 token_unknown_key"),
            "{name}: {}{}",
            r.stdout,
            r.stderr
        );
        assert!(
            r.stdout.contains("  remote: token_unknown_key\n"),
            "{}",
            r.stdout
        );
    }
}

#[test]
fn token_usage_errors_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let not_jwk = write(
        dir.path(),
        "x.json",
        "{\"kty\": \"EC\", \"crv\": \"P-256\"}",
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["token"],
            "error: give a key: --secret, --secret-env or --jwk",
        ),
        (
            &["token", "--secret", "short"],
            "error: the secret is 5 bytes long; `HS256` needs at least 32",
        ),
        (
            &["token", "--secret", SECRET, "--alg", "HS384"],
            "error: the secret is 38 bytes long; `HS384` needs at least 48",
        ),
        (
            &["token", "--secret", SECRET, "--alg", "none"],
            "error: unknown algorithm `none`",
        ),
        (
            &["token", "--secret", SECRET, "--alg", "RS256"],
            "error: `RS256` needs an rsa key, but the key is an hmac secret",
        ),
        (
            &["token", "--secret", SECRET, "--claim", "=x"],
            "error: `=x` must be written NAME=VALUE for --claim",
        ),
        (
            &["token", "--secret-env", "EDGE_ACCESS_TEST_NO_SUCH_VAR"],
            "error: the environment variable `EDGE_ACCESS_TEST_NO_SUCH_VAR` is not set",
        ),
        (
            &["token", "--jwk", "/no/such/key.json"],
            "error: cannot read `/no/such/key.json`",
        ),
    ];
    for (args, want) in cases {
        let r = run(cli().args(*args));
        assert_eq!(r.code, 2, "args {args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with(want), "args {args:?}: {}", r.stderr);
    }
    let r = run(cli().args(["token", "--jwk"]).arg(&not_jwk));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("the jwk has no `d`"), "{}", r.stderr);
    // --secret and --jwk together are refused by the parser.
    cli()
        .args(["token", "--secret", SECRET, "--jwk", "x"])
        .assert()
        .code(2);
}

#[test]
fn token_claims_accept_json_and_null_removes() {
    let r = run(cli().args([
        "token",
        "--secret",
        SECRET,
        "--now",
        "2026-01-01T00:00:00Z",
        "--aud",
        "a",
        "--aud",
        "b",
        "--claim",
        "roles=[\"admin\",\"ops\"]",
        "--claim",
        "nested={\"x\":true}",
        "--claim",
        "exp=null",
        "--claim",
        "word=hello world",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (_, claims) = claims_of(&r.stdout);
    assert_eq!(
        claims,
        json!({"aud": ["a", "b"], "iat": 1767225600u64, "roles": ["admin", "ops"],
               "nested": {"x": true}, "word": "hello world"})
    );
}

// ---------------------------------------------------------------------------------------------------------------
// test
// ---------------------------------------------------------------------------------------------------------------

const CASES: &str = r#"{
  "defaults": { "url": "https://api.example.com/admin", "now": "2026-11-26T12:00:00Z" },
  "cases": [
    { "name": "office reaches admin", "request": { "ip": "203.0.113.9" },
      "expect": { "status": 200, "decided_by": "default", "forwarded": true } },
    { "name": "home is hidden", "request": { "ip": "198.51.100.9" },
      "expect": { "status": 404, "code": "ip_denied", "rule": "admin-from-office" } },
    { "name": "blocked is denied", "request": { "ip": "192.0.2.1", "url": "https://api.example.com/" },
      "expect": { "status": 403, "code": "ip_denied", "rule": "blocklist" } }
  ]
}"#;

#[test]
fn test_passes_and_prints_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.json", VALID);
    let cases = write(dir.path(), "cases.json", CASES);
    let r = run(cli().arg("test").arg(&policy).arg(&cases));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout,
        "PASS  office reaches admin\nPASS  home is hidden\nPASS  blocked is denied\n3 passed, 0 failed\n"
    );
    let r = run(cli()
        .arg("test")
        .arg(&policy)
        .arg(&cases)
        .args(["--run", "home"]));
    assert_eq!(r.stdout, "PASS  home is hidden\n1 passed, 0 failed\n");
    let r = run(cli()
        .arg("test")
        .arg(&policy)
        .arg(&cases)
        .args(["--run", "nothing"]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no case name contains `nothing`"));
}

#[test]
fn test_failing_case_shows_expected_and_actual() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.json", VALID);
    let wrong = CASES
        .replace(
            r#""expect": { "status": 404, "code": "ip_denied", "rule": "admin-from-office" }"#,
            r#""expect": { "status": 200, "code": "allowed", "rule": null, "headers": { "X-Request-Id": null, "Retry-After": "5" } }"#,
        )
        .replace(r#""ip": "192.0.2.1", "url": "https://api.example.com/""#, r#""url": "not a url""#);
    let cases = write(dir.path(), "cases.json", &wrong);
    let r = run(cli().arg("test").arg(&policy).arg(&cases));
    assert_eq!(r.code, 1, "{}", r.stdout);
    let expected = "PASS  office reaches admin
FAIL  home is hidden
      status:               expected 200, got 404
      code:                 expected `allowed`, got `ip_denied`
      rule:                 expected none, got `admin-from-office`
      header retry-after:   expected `5`, got none
      header x-request-id:  expected none, got `cli-request`
FAIL  blocked is denied
      error: `not a url` is not an absolute URL such as `https://api.example.com/path`
1 passed, 2 failed
";
    assert_eq!(r.stdout, expected);
    // --verbose adds the explanation under a failing case.
    let r = run(cli()
        .arg("test")
        .arg(&policy)
        .arg(&cases)
        .args(["--run", "home", "-v"]));
    assert!(r
        .stdout
        .contains("        | DENY 404 ip_denied, decided by rule `admin-from-office`\n"));
    // JSON for CI.
    let r = run(cli()
        .arg("test")
        .arg(&policy)
        .arg(&cases)
        .args(["--format", "json"]));
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((&doc["passed"], &doc["failed"]), (&json!(1), &json!(2)));
    assert_eq!(
        doc["cases"][1]["mismatches"][0],
        json!({"field": "status", "expected": "200", "actual": "404"})
    );
}

#[test]
fn test_mints_tokens_for_cases() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.json", &token_policy(&ed25519_jwks()));
    let cases = json!({
        "secrets": { "DEMO_SECRET": SECRET },
        "defaults": { "url": "https://a.example/demo", "ip": "203.0.113.9", "now": 1795694400 },
        "cases": [
            { "name": "reader", "request": { "token": { "secret_name": "DEMO_SECRET",
                "claims": { "iss": "https://demo.example", "aud": "api", "sub": "ann", "role": "reader" } } },
              "expect": { "status": 200, "tokens": { "demo": "valid" }, "headers": { "x-user": "ann" } } },
            { "name": "writer", "request": { "token": { "secret": SECRET,
                "claims": { "iss": "https://demo.example", "aud": "api", "role": "writer" } } },
              "expect": { "status": 403, "code": "claim_mismatch" } },
            { "name": "no exp", "request": { "token": { "secret": SECRET,
                "claims": { "iss": "https://demo.example", "aud": "api", "role": "reader", "exp": null } } },
              "expect": { "status": 401, "code": "token_missing_claim" } },
            { "name": "in the query", "request": { "url": "https://a.example/demo?x=1", "token": { "secret": SECRET,
                "send_in": { "query": "access_token" },
                "claims": { "iss": "https://demo.example", "aud": "api", "role": "reader" } } },
              "expect": { "status": 401, "code": "token_missing" } }
        ]
    });
    let path = write(dir.path(), "cases.json", &cases.to_string());
    let r = run(cli()
        .env_remove("DEMO_SECRET")
        .arg("test")
        .arg(&policy)
        .arg(&path));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.ends_with("4 passed, 0 failed\n"));
}

#[test]
fn test_rejects_a_file_that_is_not_a_cases_file() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "policy.json", VALID);
    let cases: &[(&str, &str)] = &[
        (
            "[]",
            "is not a cases file: it must be a JSON object with a `cases` list",
        ),
        (
            r#"{"cases": [{"name": "x", "request": {}, "expect": {"stauts": 200}}]}"#,
            "is not a cases file: at `cases[0].expect.stauts`: unknown field `stauts`",
        ),
        (r#"{"cases": [], "secret": {}}"#, "unknown field `secret`"),
        ("{", "is not a cases file"),
    ];
    for (text, want) in cases {
        let path = write(dir.path(), "cases.json", text);
        let r = run(cli().arg("test").arg(&policy).arg(&path));
        assert_eq!(r.code, 2, "cases `{text}`");
        assert!(r.stderr.contains(want), "cases `{text}`: {}", r.stderr);
    }
    cli()
        .arg("test")
        .arg(&policy)
        .arg(dir.path().join("missing.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read"));
}
