//! The bodies of the fuzz targets, one module each with `pub fn run(data: &[u8])`.
//!
//! Shared by the cargo-fuzz binaries (`fuzz/fuzz_targets/*.rs`, nightly, libFuzzer) and the native replay of the
//! checked-in corpora (`tests/fuzz_replay.rs`, stable, part of `cargo test`), so both run exactly the same checks.
//! Nothing here depends on libFuzzer. A failed check is a panic, which both drivers report with the input.
//!
//! Only the crate's public API is used. The fixed policies, keys and tokens the targets need are built once
//! per process.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod client_ip;
pub mod jwks;
pub mod origin;
pub mod path;
pub mod policy_file;
pub mod token;

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target: its name (the directory under `fuzz/corpus/` and `fuzz/regressions/`) and its body.
pub const TARGETS: &[(&str, Target)] = &[
    ("policy_file", policy_file::run),
    ("token", token::run),
    ("origin", origin::run),
    ("client_ip", client_ip::run),
    ("path", path::run),
    ("jwks", jwks::run),
];
