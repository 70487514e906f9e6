//! Per-isolate token state and the I/O it needs: HMAC secrets from Worker secrets, JWKS documents fetched over
//! HTTP. When to fetch is decided by [`JwksState`] (pure); this module only performs the fetches.
//!
//! No borrow of a `RefCell` here is ever held across an `await`: the Worker interleaves requests in one isolate.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use worker::{Env, Request};

use crate::engine::{HeaderList, HeaderSource, UnixTime};
use crate::policy::{jwks_url_allowed, JwksUrl, KeySource, Policy, RemoteJwks};
use crate::token::jwk::VerifyKey;
use crate::token::jwt;
use crate::verify::jwks::{self, JwksState};
use crate::verify::request::{verify_tokens, KeyStore, Keys, TokenResults, VerifiedCache};
use crate::verify::webcrypto::WebCryptoVerifier;

/// Longest a JWKS fetch may take.
const JWKS_TIMEOUT_MS: u32 = 5_000;
/// How often a request waiting for another request's first JWKS fetch looks again.
const WAIT_POLL_MS: u32 = 25;

/// What an isolate keeps between requests.
#[derive(Default)]
pub(super) struct Isolate {
    verifier: WebCryptoVerifier,
    cache: RefCell<VerifiedCache>,
    /// Per issuer (by position); only remote issuers' entries are used.
    jwks: RefCell<Vec<JwksState>>,
    /// Per issuer: HMAC keys read from Worker secrets, once.
    hmac: RefCell<Vec<Option<Arc<[VerifyKey]>>>>,
}

/// An issuer's keys for one request: borrowed from the policy, or shared with the isolate.
enum KeysRef<'p> {
    Static(&'p [VerifyKey]),
    Shared(Arc<[VerifyKey]>),
}

struct RequestKeys<'p>(Vec<Option<KeysRef<'p>>>);

impl KeyStore for RequestKeys<'_> {
    fn keys(&self, issuer: usize) -> Keys<'_> {
        match self.0.get(issuer) {
            Some(Some(KeysRef::Static(k))) => Keys::Ready(k),
            Some(Some(KeysRef::Shared(k))) => Keys::Ready(k),
            _ => Keys::Unavailable,
        }
    }
}

impl Isolate {
    /// Verifies the request's tokens. `Err` is an internal failure (keys unavailable, crypto backend error): the
    /// caller fails closed.
    pub(super) async fn verify(
        &self,
        policy: &'static Policy,
        headers: &HeaderList,
        query: Option<&str>,
        now: UnixTime,
        env: &Env,
    ) -> Result<TokenResults, String> {
        if policy.issuers().is_empty() {
            return Ok(TokenResults::default());
        }
        let present: Vec<bool> = policy
            .issuers()
            .iter()
            .map(|i| {
                matches!(
                    jwt::extract(&i.sources, |n| headers.get(n), query),
                    Ok(Some(_))
                )
            })
            .collect();
        let keys = self.keys(policy, &present, now, env).await;
        let results = self.run(policy, headers, query, now, &keys).await?;
        // A token naming a key we do not hold may be signed with a rotated-in key: refetch, at most once per
        // `min_refetch_seconds` per issuer, then check again.
        let mut refetched = false;
        for id in results.unknown_key_issuers().collect::<Vec<_>>() {
            let Some(issuer) = policy.issuers().get(id) else {
                continue;
            };
            let KeySource::Remote(remote) = &issuer.keys else {
                continue;
            };
            let (allowed, under_way) = self.jwks.borrow().get(id).map_or((true, false), |s| {
                (
                    s.may_refetch_for_unknown_kid(remote, now.0),
                    s.in_flight(now.0),
                )
            });
            if allowed {
                self.fetch_jwks(id, remote, now, env).await;
                refetched = true;
            } else if under_way {
                // Another request is fetching: its keys may hold this one.
                self.wait_while(id, |s| s.in_flight(now.0)).await;
                refetched = true;
            }
        }
        if !refetched {
            return Ok(results);
        }
        let keys = self.keys(policy, &present, now, env).await;
        self.run(policy, headers, query, now, &keys).await
    }

    async fn run(
        &self,
        policy: &Policy,
        headers: &HeaderList,
        query: Option<&str>,
        now: UnixTime,
        keys: &RequestKeys<'_>,
    ) -> Result<TokenResults, String> {
        verify_tokens(
            policy,
            headers,
            query,
            now,
            keys,
            &self.verifier,
            &self.cache,
        )
        .await
        .map_err(|u| format!("issuer `{}`: {}", u.issuer, u.detail))
    }

    /// The keys of every issuer whose token is present, fetching or reading what is due.
    async fn keys<'p>(
        &self,
        policy: &'p Policy,
        present: &[bool],
        now: UnixTime,
        env: &Env,
    ) -> RequestKeys<'p> {
        let mut out = Vec::with_capacity(policy.issuers().len());
        for (id, issuer) in policy.issuers().iter().enumerate() {
            if !present.get(id).copied().unwrap_or(false) {
                out.push(None);
                continue;
            }
            let keys = match &issuer.keys {
                KeySource::Bundled(keys) => Some(KeysRef::Static(keys)),
                KeySource::HmacSecrets(names) => {
                    self.hmac_keys(id, names, env).map(KeysRef::Shared)
                }
                KeySource::Remote(remote) => {
                    let due = self.jwks_state(id, |s| s.due(remote, now.0));
                    if due.flatten().is_some() {
                        self.fetch_jwks(id, remote, now, env).await;
                    } else {
                        self.wait_while(id, |s| s.awaiting_first_keys(now.0)).await;
                    }
                    self.jwks_state(id, |s| s.keys())
                        .flatten()
                        .map(KeysRef::Shared)
                }
            };
            out.push(keys);
        }
        RequestKeys(out)
    }

    fn jwks_state<T>(&self, id: usize, f: impl FnOnce(&mut JwksState) -> T) -> Option<T> {
        let mut states = self.jwks.try_borrow_mut().ok()?;
        if states.len() <= id {
            states.resize_with(id + 1, JwksState::default);
        }
        states.get_mut(id).map(f)
    }

    /// Waits, at most the fetch timeout, while `waiting` holds of the issuer's JWKS state: for another request's
    /// fetch to finish instead of starting one, so a burst on a cold isolate makes one JWKS fetch. It polls on
    /// this request's own timer: being woken from the other request's callbacks would run this request's I/O in
    /// that request's context, which Workers refuse.
    async fn wait_while(&self, id: usize, waiting: impl Fn(&mut JwksState) -> bool) {
        for _ in 0..=JWKS_TIMEOUT_MS / WAIT_POLL_MS {
            if !self.jwks_state(id, &waiting).unwrap_or(false) {
                return;
            }
            worker::Delay::from(Duration::from_millis(u64::from(WAIT_POLL_MS))).await;
        }
    }

    /// HMAC keys from the Worker secrets (or vars) the issuer names, read once per isolate.
    fn hmac_keys(&self, id: usize, names: &[String], env: &Env) -> Option<Arc<[VerifyKey]>> {
        if let Some(Some(keys)) = self.hmac.borrow().get(id) {
            return Some(Arc::clone(keys));
        }
        let mut keys = Vec::new();
        for name in names {
            let secret = env
                .secret(name)
                .map(|s| s.to_string())
                .or_else(|_| env.var(name).map(|v| v.to_string()));
            match secret.map(|s| VerifyKey::hmac(s.as_bytes())) {
                Ok(Ok(key)) => keys.push(key),
                Ok(Err(e)) => {
                    worker::console_error!("edge-access: secret `{name}` is unusable: {e}")
                }
                Err(_) => worker::console_error!("edge-access: secret `{name}` is not set"),
            }
        }
        if keys.is_empty() {
            return None;
        }
        let keys: Arc<[VerifyKey]> = keys.into();
        let mut cache = self.hmac.borrow_mut();
        if cache.len() <= id {
            cache.resize(id + 1, None);
        }
        if let Some(slot) = cache.get_mut(id) {
            *slot = Some(Arc::clone(&keys));
        }
        Some(keys)
    }

    /// Fetches an issuer's JWKS and records the outcome; a failure keeps the keys held.
    async fn fetch_jwks(&self, id: usize, remote: &RemoteJwks, now: UnixTime, env: &Env) {
        let url = match &remote.url {
            JwksUrl::Fixed(url) => Ok(url.clone()),
            // Held to what the compiler requires of `jwks_url`: a bad value is never fetched, so the issuer has
            // no keys and its tokens fail closed.
            JwksUrl::Var(name) => match env.var(name).map(|v| v.to_string()) {
                Ok(url) if jwks_url_allowed(&url) => Ok(url),
                _ => Err(format!(
                    "var `{name}` (the JWKS URL) is not set or not https"
                )),
            },
        };
        self.jwks_state(id, |s| s.begin(now.0));
        let result = match url {
            Ok(url) => fetch_keys(&url).await.map_err(|e| format!("{url}: {e}")),
            Err(e) => Err(e),
        };
        match result {
            Ok(keys) => {
                self.jwks_state(id, |s| s.fetched(keys, now.0));
            }
            Err(e) => {
                worker::console_error!("edge-access: JWKS fetch failed: {e}");
                self.jwks_state(id, |s| s.failed(now.0));
            }
        }
    }
}

async fn fetch_keys(url: &str) -> Result<Vec<VerifyKey>, String> {
    let init = web_sys::RequestInit::new();
    init.set_method("GET");
    init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(
        JWKS_TIMEOUT_MS,
    )));
    let req = web_sys::Request::new_with_str_and_init(url, &init)
        .map_err(|_| "invalid request".to_owned())?;
    let mut resp = worker::Fetch::Request(Request::from(req))
        .send()
        .await
        .map_err(|_| "unreachable or timed out".to_owned())?;
    if resp.status_code() != 200 {
        return Err(format!("status {}", resp.status_code()));
    }
    let text = resp
        .text()
        .await
        .map_err(|_| "unreadable body".to_owned())?;
    // A valid set with no usable key is honoured (an emergency revocation), not treated as a failure: its
    // tokens are then refused with `token_unknown_key`, which the decision log records.
    Ok(jwks::read_document(text.as_bytes())?.keys)
}
