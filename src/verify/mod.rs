//! Signature verification: the one seam between token checks and cryptography.
//!
//! The Worker verifies with WebCrypto (`crypto.subtle`, asynchronous); the CLI, tests and benches with RustCrypto
//! (synchronous, wrapped in a future that is ready at once). Both implement [`SignatureVerifier`] and pass the
//! same vectors. A verifier checks one signature with a key it is handed: choosing the key, pinning the
//! algorithm and every claim check happen before and after it, in [`crate::token`].

use std::future::Future;

use crate::token::jwk::VerifyKey;
use crate::token::Algorithm;

pub mod jwks;
pub mod request;
#[cfg(not(target_arch = "wasm32"))]
pub mod rustcrypto;
#[cfg(target_arch = "wasm32")]
pub mod webcrypto;

/// What can go wrong when checking a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The signature does not verify (or has the wrong length or encoding for the algorithm).
    BadSignature,
    /// The key cannot be used for this algorithm (a family mismatch the caller should have caught).
    KeyMismatch,
    /// The crypto backend failed (a key could not be imported, a JS exception): an internal error, so the
    /// caller fails closed.
    Backend(String),
}

/// Checks one JWS signature.
pub trait SignatureVerifier {
    /// Verifies `signature` over `signing_input` (the ASCII `header.payload` of the compact JWS) with `key` under
    /// `alg`. Implementations must not assume `alg` suits `key`: they return [`VerifyError::KeyMismatch`] when it
    /// does not.
    fn verify(
        &self,
        alg: Algorithm,
        key: &VerifyKey,
        signing_input: &[u8],
        signature: &[u8],
    ) -> impl Future<Output = Result<(), VerifyError>>;
}

/// Polls a future that is ready at once (the RustCrypto verifier's) to its output, without an executor.
/// Returns `None` if it is not ready, which for those futures does not happen.
pub fn now_or_never<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => Some(out),
        std::task::Poll::Pending => None,
    }
}
