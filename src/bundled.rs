//! The policy compiled into this build by `build.rs` (from `policy.json`, or the file named by
//! `EDGE_ACCESS_POLICY` at build time).
//!
//! `build.rs` has already validated it with the same compiler, so loading cannot fail for a policy the build
//! accepted; if it somehow does, callers fail closed. IP lists arrive as precompiled range blobs, so loading
//! does not grow with their size.

use std::sync::OnceLock;

use crate::policy::{CompileError, Policy};

mod generated {
    use crate::policy::PrecompiledIpList;
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// The file name the policy was built from, as given.
pub const SOURCE_NAME: &str = generated::SOURCE_NAME;

/// Fingerprint of the policy file's text (see [`crate::policy::fingerprint`]).
pub const FINGERPRINT: &str = generated::FINGERPRINT;

/// The bundled policy, loaded once per process (per isolate in the Worker) and shared from then on.
pub fn policy() -> Result<&'static Policy, &'static CompileError> {
    static POLICY: OnceLock<Result<Policy, CompileError>> = OnceLock::new();
    POLICY.get_or_init(load).as_ref()
}

/// Loads the bundled policy afresh (tests and benchmarks measure this; use [`policy`] otherwise).
pub fn load() -> Result<Policy, CompileError> {
    Policy::from_bundle(
        generated::POLICY_TEXT,
        SOURCE_NAME,
        FINGERPRINT,
        generated::IP_LISTS,
    )
}
