//! The policy compiled into this build by `build.rs` (from `policy.json`, or the file named by
//! `EDGE_ACCESS_POLICY` at build time).
//!
//! `build.rs` has already validated and compiled it with the same compiler and bundled its compiled form
//! ([`Policy::from_compiled`]), so loading cannot fail for a policy the build accepted; if it somehow does,
//! callers fail closed. IP lists arrive as precompiled range blobs, so loading does not grow with their size.

use std::sync::OnceLock;

use crate::policy::{LoadError, Policy};

mod generated {
    use crate::policy::PrecompiledIpList;
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// The file name the policy was built from, as given.
pub const SOURCE_NAME: &str = generated::SOURCE_NAME;

/// Fingerprint of the policy file's text (see [`crate::policy::fingerprint`]).
pub const FINGERPRINT: &str = generated::FINGERPRINT;

/// The bundled policy, loaded once per process (per isolate in the Worker) and shared from then on.
pub fn policy() -> Result<&'static Policy, &'static LoadError> {
    static POLICY: OnceLock<Result<Policy, LoadError>> = OnceLock::new();
    POLICY.get_or_init(load).as_ref()
}

/// Loads the bundled policy afresh (tests and benchmarks measure this; use [`policy`] otherwise).
pub fn load() -> Result<Policy, LoadError> {
    Policy::from_compiled(generated::POLICY_COMPILED, generated::IP_LISTS)
}
