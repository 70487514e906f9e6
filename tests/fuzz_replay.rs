//! Replays the fuzz corpora natively: every file in `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`
//! through the same target bodies cargo-fuzz runs (`fuzz/harness`), on stable Rust, as part of `cargo test`.
//! One test per target; a failure names the file. Native only (files, RustCrypto).

#![cfg(not(target_arch = "wasm32"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../fuzz/harness/mod.rs"]
mod harness;

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn replay(target: &str) {
    let (_, run) = harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no target `{target}`"));
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "no corpus for `{target}` under fuzz/corpus or fuzz/regressions"
    );
    let mut failed = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        if let Err(panic) = std::panic::catch_unwind(|| run(&data)) {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            failed.push(format!("{}: {message}", file.display()));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} `{target}` inputs failed:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
}

#[test]
fn policy_file() {
    replay("policy_file");
}

#[test]
fn token() {
    replay("token");
}

/// The token target's "never accepts a token it did not sign" check is only worth something if the fixture
/// tokens that were signed are accepted, in every place a token can come from.
#[test]
fn token_fixture_accepts_signed_tokens() {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/jwt/vectors.json")).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    // jose-minted tokens that verify (the RFC ones are expired and from another issuer). A confusion vector may
    // reuse one of them under another algorithm: as a token it is still that signed token.
    let signed: Vec<&str> = vectors
        .iter()
        .filter(|v| v["expected"] == "valid" && v["name"].as_str().unwrap().starts_with("jose-"))
        .map(|v| v["token"].as_str().unwrap())
        .collect();
    assert_eq!(signed.len(), 12);
    for v in vectors {
        let (name, token) = (v["name"].as_str().unwrap(), v["token"].as_str().unwrap());
        let want = usize::from(signed.contains(&token));
        assert_eq!(harness::token::accepted(token.as_bytes()), want, "{name}");
        let everywhere = format!("Bearer {token}\nsession={token}\naccess_token={token}\n{token}");
        assert_eq!(
            harness::token::accepted(everywhere.as_bytes()),
            want,
            "{name} from every source"
        );
    }
}

#[test]
fn origin() {
    replay("origin");
}

#[test]
fn client_ip() {
    replay("client_ip");
}

#[test]
fn path() {
    replay("path");
}

#[test]
fn jwks() {
    replay("jwks");
}
