//! Startup measurement only: built with `--features bench-startup` by `scripts/startup.sh`, never in the shipped
//! Worker (the feature is off by default and `scripts/build.sh` does not enable it).
//!
//! The shipped Worker's module needs Wasm exception handling (`try_table`) that Node 20 cannot compile, so the
//! startup benchmark builds this crate with plain `wasm-bindgen` instead and calls [`bench_first_decision`]: the
//! request path of the Worker's fetch handler without the `worker::Request` conversion and without forwarding
//! (the bundled policy loaded on first use, the headers the policy reads, the token driver, `Policy::evaluate`,
//! the response plan). It must never hold policy logic of its own.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

use crate::engine::{render, split_url, HeaderList, NoLimits, RequestFacts, UnixTime};
use crate::verify::request::{verify_tokens, KeyStore, Keys, VerifiedCache};
use crate::verify::webcrypto::WebCryptoVerifier;

/// No issuer has keys here: a request carrying a token fails closed, which the caller sees as an error.
struct NoKeys;

impl KeyStore for NoKeys {
    fn keys(&self, _issuer: usize) -> Keys<'_> {
        Keys::Unavailable
    }
}

/// Decides one request with the bundled policy (loading it if this is the first call) and returns
/// `"<status> <code>"`: the status the Worker would answer with (`200` for a forward) and the decision's code
/// (`allow` for a forward). `headers` alternates names and values.
#[wasm_bindgen]
pub async fn bench_first_decision(
    method: String,
    url: String,
    headers: Vec<String>,
    country: Option<String>,
) -> Result<String, JsError> {
    let policy = crate::bundled::policy().map_err(|e| JsError::new(&e.to_string()))?;
    let parts = split_url(&url).ok_or_else(|| JsError::new("unreadable request URL"))?;
    let mut list = HeaderList::default();
    for pair in headers.chunks_exact(2) {
        if let [name, value] = pair {
            if policy
                .header_names()
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name))
            {
                list.append(name, value);
            }
        }
    }
    let now = UnixTime((js_sys::Date::now() / 1000.0) as u64);
    let cache = RefCell::new(VerifiedCache::default());
    let tokens = verify_tokens(
        policy,
        &list,
        parts.query,
        now,
        &NoKeys,
        &WebCryptoVerifier::new(),
        &cache,
    )
    .await
    .map_err(|e| JsError::new(&e.detail))?;
    let facts = RequestFacts {
        method: &method,
        host: parts.host,
        path: parts.path,
        query: parts.query,
        headers: &list,
        country: country.as_deref(),
        asn: None,
        tokens: &tokens,
        limits: &NoLimits,
    };
    let decision = policy.evaluate(&facts, now);
    let status = match render::plan(&decision, policy, parts.host, "bench", false) {
        render::Plan::Respond { status, .. } => status,
        render::Plan::Forward { .. } => 200,
    };
    Ok(format!("{status} {}", decision.code))
}
