//! When to fetch a remote JWKS: the per-isolate cache's state machine, pure so it is tested without a network.
//!
//! A JWKS is fetched when there are no keys or they are older than the issuer's cache lifetime. A token whose
//! `kid` is unknown may trigger one refetch per `min_refetch_seconds` (a flood of random kids must not become a
//! flood of fetches). A failed fetch keeps serving the keys already held (stale-if-error); with no keys at all the
//! issuer's tokens cannot be checked and the caller fails closed. Never fail open.

use std::sync::Arc;

use crate::policy::RemoteJwks;
use crate::token::jwk::VerifyKey;

/// What the cache holds for one remote JWKS.
#[derive(Debug, Clone, Default)]
pub struct JwksState {
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

    /// Records a successful fetch.
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
