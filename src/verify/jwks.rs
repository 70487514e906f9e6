//! When to fetch a remote JWKS: the per-isolate cache's state machine, pure so it is tested without a network.
//!
//! A JWKS is fetched when there are no keys or they are older than the issuer's cache lifetime. A token whose
//! `kid` is unknown may trigger one refetch per `min_refetch_seconds` (a flood of random kids must not become a
//! flood of fetches). A failed fetch keeps serving the keys already held (stale-if-error); with no keys at all the
//! issuer's tokens cannot be checked and the caller fails closed. Never fail open.
//!
//! A fetch that fails and a document that is valid but holds no usable key are different things
//! ([`read_document`]): an unreachable issuer, an error status or a damaged document keep the last good keys; a
//! well-formed JWKS with an empty `keys` array (an identity provider's emergency revocation), or with only keys
//! this filter cannot use, replaces them, and the issuer's tokens are then refused (`token_unknown_key`).

use std::sync::Arc;

use crate::policy::RemoteJwks;
use crate::token::jwk::{self, JwksMode, JwksParsed, VerifyKey};
use crate::token::jwt;

/// Largest JWKS document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Reads a fetched JWKS document (the body of a 200 answer). `Err` means the document is damaged (over
/// [`MAX_DOCUMENT_BYTES`], not strict JSON, a repeated member, not `{"keys": [...]}`, over the key cap): the
/// fetch counts as failed and the keys held stay in use. `Ok` is the issuer's key set as published, even with no
/// usable key in it (an empty `keys` array, or only keys of a type, curve or use this filter cannot verify with,
/// listed in [`JwksParsed::skipped`]): the caller replaces the keys held with it, so keys the issuer withdrew
/// stop verifying at once.
pub fn read_document(text: &[u8]) -> Result<JwksParsed, String> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err("document too large".to_owned());
    }
    // Strict JSON: a document with a repeated member (`"use": "enc", "use": "sig"`) is refused, not read as
    // whichever copy a parser keeps.
    let doc = jwt::parse_json_strict(text).map_err(|_| "not strict JSON".to_owned())?;
    jwk::parse_jwks(&doc, JwksMode::Remote).map_err(|e| e.to_string())
}

/// What the cache holds for one remote JWKS.
#[derive(Debug, Clone, Default)]
pub struct JwksState {
    /// The keys of the last good document; `Some` of an empty set when the issuer published no usable key.
    keys: Option<Arc<[VerifyKey]>>,
    /// When the keys held were fetched.
    fetched_at: Option<u64>,
    /// When the last fetch was attempted (successful or not).
    attempted_at: Option<u64>,
    /// Consecutive failed fetches.
    failures: u32,
    /// When a fetch now under way started: while it runs, other requests use the keys held instead of starting
    /// their own. Bounded by [`FETCH_TIMEOUT_SECONDS`], in case the request that started it was cancelled.
    in_flight_since: Option<u64>,
}

/// How long a fetch counts as under way.
pub const FETCH_TIMEOUT_SECONDS: u64 = 10;

/// Why a fetch is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchReason {
    /// No keys yet.
    Empty,
    /// The keys are older than the cache lifetime.
    Stale,
    /// A token named a key that is not held.
    UnknownKid,
}

/// Least seconds between retries after a failed fetch while keys are held (doubling per failure, capped at the
/// issuer's cache lifetime).
pub const RETRY_SECONDS: u64 = 5;

impl JwksState {
    /// The keys held, if any (possibly stale), shared so a request can keep them across awaits.
    pub fn keys(&self) -> Option<Arc<[VerifyKey]>> {
        self.keys.clone()
    }

    /// Whether a fetch started within [`FETCH_TIMEOUT_SECONDS`] is still under way.
    pub fn in_flight(&self, now: u64) -> bool {
        self.in_flight_since
            .is_some_and(|at| now < at.saturating_add(FETCH_TIMEOUT_SECONDS))
    }

    /// Whether to fetch before checking tokens. Never while another request's fetch is under way: with keys held
    /// the request uses them meanwhile; without, it waits for that fetch ([`JwksState::awaiting_first_keys`]),
    /// so a burst of requests on a cold isolate makes one fetch, not one each.
    pub fn due(&self, spec: &RemoteJwks, now: u64) -> Option<FetchReason> {
        if self.in_flight(now) {
            return None;
        }
        let Some(fetched) = self.fetched_at else {
            // With no keys every token fails, so retry on each request but at most once a second.
            return match self.attempted_at {
                Some(at) if now < at.saturating_add(1) => None,
                _ => Some(FetchReason::Empty),
            };
        };
        if now < fetched.saturating_add(spec.cache_seconds) {
            return None;
        }
        let backoff = RETRY_SECONDS
            .saturating_mul(1u64 << self.failures.min(16))
            .min(spec.cache_seconds.max(RETRY_SECONDS));
        match self.attempted_at {
            Some(at) if self.failures > 0 && now < at.saturating_add(backoff) => None,
            _ => Some(FetchReason::Stale),
        }
    }

    /// Whether there are no keys yet and a fetch is under way: the request should wait for it rather than fetch.
    pub fn awaiting_first_keys(&self, now: u64) -> bool {
        self.keys.is_none() && self.in_flight(now)
    }

    /// Whether a token naming an unknown `kid` may trigger a refetch now (never while a fetch is under way).
    pub fn may_refetch_for_unknown_kid(&self, spec: &RemoteJwks, now: u64) -> bool {
        if self.in_flight(now) {
            return false;
        }
        match self.attempted_at {
            Some(at) => now >= at.saturating_add(spec.min_refetch_seconds),
            None => true,
        }
    }

    /// Records that a fetch starts.
    pub fn begin(&mut self, now: u64) {
        self.in_flight_since = Some(now);
    }

    /// Records a successful fetch: `keys` replace the keys held, even when there are none (see
    /// [`read_document`]).
    pub fn fetched(&mut self, keys: Vec<VerifyKey>, now: u64) {
        self.in_flight_since = None;
        self.keys = Some(keys.into());
        self.fetched_at = Some(now);
        self.attempted_at = Some(now);
        self.failures = 0;
    }

    /// Records a failed fetch: the keys held, if any, stay in use.
    pub fn failed(&mut self, now: u64) {
        self.in_flight_since = None;
        self.attempted_at = Some(now);
        self.failures = self.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::JwksUrl;
    use crate::token::jwk::KeyMaterial;

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test;

    fn spec() -> RemoteJwks {
        RemoteJwks {
            url: JwksUrl::Fixed("https://issuer.example/jwks".into()),
            cache_seconds: 600,
            min_refetch_seconds: 60,
        }
    }

    fn key() -> VerifyKey {
        VerifyKey {
            kid: Some("k1".into()),
            alg: None,
            material: KeyMaterial::Ed25519 { x: [7; 32] },
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
    fn fetch_schedule() {
        let s = spec();
        let mut st = JwksState::default();
        assert_eq!(st.due(&s, 1000), Some(FetchReason::Empty));
        st.failed(1000);
        assert_eq!(
            st.due(&s, 1000),
            None,
            "at most one attempt a second while empty"
        );
        assert_eq!(st.due(&s, 1001), Some(FetchReason::Empty));
        assert!(st.keys().is_none());

        st.fetched(vec![key()], 1001);
        assert_eq!(st.due(&s, 1001 + 599), None);
        assert_eq!(st.due(&s, 1001 + 600), Some(FetchReason::Stale));

        // A failed refresh keeps the keys (stale-if-error) and backs off.
        st.failed(1601);
        assert_eq!(st.keys().map(|k| k.len()), Some(1));
        assert_eq!(
            st.due(&s, 1601 + 9),
            None,
            "backoff after one failure is 10 s"
        );
        assert_eq!(st.due(&s, 1601 + 10), Some(FetchReason::Stale));
        st.failed(1611);
        assert_eq!(st.due(&s, 1611 + 19), None, "then 20 s");
        assert_eq!(st.due(&s, 1611 + 20), Some(FetchReason::Stale));
        st.fetched(vec![key(), key()], 1700);
        assert_eq!(st.due(&s, 1701), None);
        assert_eq!(st.keys().map(|k| k.len()), Some(2));
    }

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    /// Ok(number of usable keys, number skipped) or the error.
    type Read = Result<(usize, usize), &'static str>;

    /// (name, document, what reading it gives).
    const DOCUMENTS: &[(&str, &str, Read)] = &[
        (
            "one key",
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"$X","kid":"a"}]}"#,
            Ok((1, 0)),
        ),
        ("empty set: honoured", r#"{"keys":[]}"#, Ok((0, 0))),
        (
            "other members ignored",
            r#"{"keys":[],"next":"later"}"#,
            Ok((0, 0)),
        ),
        (
            "only an unsupported kty: no usable key",
            r#"{"keys":[{"kty":"EC","crv":"secp256k1","x":"$X","y":"$X","kid":"k"}]}"#,
            Ok((0, 1)),
        ),
        (
            "only an unknown kty",
            r#"{"keys":[{"kty":"PQC","kid":"k"}]}"#,
            Ok((0, 1)),
        ),
        (
            "only an encryption key",
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"$X","use":"enc"}]}"#,
            Ok((0, 1)),
        ),
        (
            "a usable key next to an unusable one",
            r#"{"keys":[{"kty":"PQC"},{"kty":"OKP","crv":"Ed25519","x":"$X"}]}"#,
            Ok((1, 1)),
        ),
        (
            "not json",
            "<html>maintenance</html>",
            Err("not strict JSON"),
        ),
        (
            "truncated",
            r#"{"keys":[{"kty":"OKP","#,
            Err("not strict JSON"),
        ),
        (
            "repeated member",
            r#"{"keys":[],"keys":[]}"#,
            Err("not strict JSON"),
        ),
        (
            "no keys member",
            r#"{"jwks":[]}"#,
            Err("a jwks must be a json object with a `keys` array"),
        ),
        (
            "keys not an array",
            r#"{"keys":{}}"#,
            Err("a jwks must be a json object with a `keys` array"),
        ),
        (
            "keys null",
            r#"{"keys":null}"#,
            Err("a jwks must be a json object with a `keys` array"),
        ),
        (
            "an array",
            r#"[]"#,
            Err("a jwks must be a json object with a `keys` array"),
        ),
        ("empty body", "", Err("not strict JSON")),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
    fn documents_damaged_or_honoured() {
        for (name, doc, want) in DOCUMENTS {
            let doc = doc.replace("$X", ED_X);
            let got = read_document(doc.as_bytes()).map(|p| (p.keys.len(), p.skipped.len()));
            assert_eq!(got, want.map_err(str::to_owned), "{name}");
        }
        let many = format!("{{\"keys\":[{}]}}", vec!["{}"; 101].join(","));
        assert_eq!(
            read_document(many.as_bytes()).map(|p| p.keys.len()),
            Err("the jwks has 101 keys, over the limit of 100".to_owned())
        );
        let huge = format!(
            "{{\"keys\":[],\"pad\":\"{}\"}}",
            "a".repeat(MAX_DOCUMENT_BYTES)
        );
        assert_eq!(
            read_document(huge.as_bytes()).map(|p| p.keys.len()),
            Err("document too large".to_owned())
        );
    }

    /// An empty set replaces the keys held (they are not kept as after a failed fetch), is not refetched before
    /// the cache lifetime, and a later good document restores keys.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
    fn an_empty_set_replaces_the_keys_held() {
        let s = spec();
        let mut st = JwksState::default();
        st.fetched(vec![key(), key()], 0);
        st.failed(600);
        assert_eq!(
            st.keys().map(|k| k.len()),
            Some(2),
            "a failed fetch keeps them"
        );
        let revoked = read_document(br#"{"keys":[]}"#).unwrap().keys;
        st.fetched(revoked, 700);
        assert_eq!(
            st.keys().map(|k| k.len()),
            Some(0),
            "an empty set is honoured"
        );
        assert!(!st.awaiting_first_keys(700));
        assert_eq!(
            st.due(&s, 701),
            None,
            "an empty set is a good answer, not a failure to retry"
        );
        assert_eq!(st.due(&s, 1300), Some(FetchReason::Stale));
        assert!(st.may_refetch_for_unknown_kid(&s, 760));
        st.fetched(vec![key()], 760);
        assert_eq!(st.keys().map(|k| k.len()), Some(1));
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
    fn one_refresh_at_a_time() {
        let s = spec();
        let mut st = JwksState::default();
        assert!(!st.awaiting_first_keys(0));
        st.begin(0);
        assert_eq!(
            st.due(&s, 0),
            None,
            "with no keys and a fetch under way, wait for it rather than fetch again"
        );
        assert!(st.awaiting_first_keys(0));
        assert!(st.awaiting_first_keys(9));
        assert!(
            !st.awaiting_first_keys(10),
            "a first fetch that never finished stops counting"
        );
        assert_eq!(st.due(&s, 10), Some(FetchReason::Empty));
        st.fetched(vec![key()], 0);
        assert!(!st.awaiting_first_keys(0));
        assert_eq!(st.due(&s, 600), Some(FetchReason::Stale));
        st.begin(600);
        assert_eq!(
            st.due(&s, 601),
            None,
            "a refresh is under way: use the keys held"
        );
        assert_eq!(st.due(&s, 609), None);
        assert_eq!(
            st.due(&s, 610),
            Some(FetchReason::Stale),
            "a refresh that never finished stops counting"
        );
        st.fetched(vec![key()], 611);
        assert_eq!(st.due(&s, 612), None);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
    fn unknown_kid_refetches_are_rate_limited() {
        let s = spec();
        let mut st = JwksState::default();
        assert!(st.may_refetch_for_unknown_kid(&s, 0));
        st.fetched(vec![key()], 100);
        assert!(!st.may_refetch_for_unknown_kid(&s, 100));
        assert!(!st.may_refetch_for_unknown_kid(&s, 159));
        assert!(st.may_refetch_for_unknown_kid(&s, 160));
        st.failed(160);
        assert!(
            !st.may_refetch_for_unknown_kid(&s, 200),
            "a failed attempt counts too"
        );
        assert!(st.may_refetch_for_unknown_kid(&s, 220));
        st.begin(220);
        assert!(
            !st.may_refetch_for_unknown_kid(&s, 221),
            "not while a fetch is under way"
        );
        st.failed(222);
        assert!(st.may_refetch_for_unknown_kid(&s, 282));
    }
}
