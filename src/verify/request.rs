//! Verifies a request's tokens for every issuer of the policy, before the engine runs.
//!
//! Pure but for the signature checks, which go through [`SignatureVerifier`] (WebCrypto in the Worker, RustCrypto
//! natively): extraction, algorithm pinning, key selection and claim checks are the same code everywhere. Keys
//! come from a [`KeyStore`] the caller fills (bundled keys, HMAC secrets from Worker secrets, fetched JWKS); a
//! store that has no keys for an issuer whose token must be checked is an internal failure, and the caller fails
//! closed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use super::{SignatureVerifier, VerifyError};
use crate::engine::{HeaderSource, TokenLookup, UnixTime};
use crate::policy::{Issuer, Policy};
use crate::token::jwk::{self, KeyMaterial, VerifyKey};
use crate::token::jwt::{self, Claims};
use crate::token::TokenError;

/// Most keys tried for one token that names no `kid` (each try is a signature check).
pub const MAX_KEYS_TRIED: usize = 4;

/// The keys an issuer has right now.
#[derive(Debug, Clone, Copy)]
pub enum Keys<'a> {
    Ready(&'a [VerifyKey]),
    /// None could be had (no JWKS fetched yet and the fetch failed, a secret not set): fail closed.
    Unavailable,
}

/// Where the driver gets each issuer's keys.
pub trait KeyStore {
    fn keys(&self, issuer: usize) -> Keys<'_>;
}

/// Tokens of one request, verified per issuer.
#[derive(Debug, Clone, Default)]
pub struct TokenResults {
    results: Vec<Result<Arc<Claims>, TokenError>>,
}

impl TokenResults {
    /// Issuers whose token named a key the store did not have (a rotated JWKS may have it).
    pub fn unknown_key_issuers(&self) -> impl Iterator<Item = usize> + '_ {
        self.results
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r, Err(TokenError::UnknownKey)))
            .map(|(i, _)| i)
    }
}

impl TokenLookup for TokenResults {
    fn token(&self, issuer: usize) -> Result<&Claims, TokenError> {
        match self.results.get(issuer) {
            Some(Ok(claims)) => Ok(claims),
            Some(Err(e)) => Err(*e),
            None => Err(TokenError::Missing),
        }
    }
}

/// An internal failure: keys unavailable or the crypto backend failed. The request must not be forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    pub issuer: String,
    pub detail: String,
}

/// Verifies the request's token for each issuer of `policy`. The cache is borrowed only between awaits (the
/// Worker interleaves requests in one isolate); if it is busy the token is simply verified again.
pub async fn verify_tokens<V: SignatureVerifier>(
    policy: &Policy,
    headers: &dyn HeaderSource,
    query: Option<&str>,
    now: UnixTime,
    keys: &dyn KeyStore,
    verifier: &V,
    cache: &RefCell<VerifiedCache>,
) -> Result<TokenResults, Unavailable> {
    let mut results = Vec::with_capacity(policy.issuers().len());
    for (id, issuer) in policy.issuers().iter().enumerate() {
        let token = match jwt::extract(&issuer.sources, |name| headers.get(name), query) {
            Ok(Some(token)) => token,
            Ok(None) => {
                results.push(Err(TokenError::Missing));
                continue;
            }
            Err(e) => {
                results.push(Err(e));
                continue;
            }
        };
        let issuer_keys = keys.keys(id);
        let hit = cache
            .try_borrow_mut()
            .ok()
            .and_then(|mut c| c.get(id, &token, issuer, issuer_keys, now));
        let result = match hit {
            Some(hit) => hit,
            None => match verify_one(issuer, &token, now, issuer_keys, verifier).await? {
                Ok((claims, key)) => {
                    if let Ok(mut c) = cache.try_borrow_mut() {
                        c.insert(id, &token, Arc::clone(&claims), key, now);
                    }
                    Ok(claims)
                }
                Err(e) => Err(e),
            },
        };
        results.push(result);
    }
    Ok(TokenResults { results })
}

async fn verify_one<V: SignatureVerifier>(
    issuer: &Issuer,
    token: &str,
    now: UnixTime,
    keys: Keys<'_>,
    verifier: &V,
) -> Result<Result<(Arc<Claims>, u64), TokenError>, Unavailable> {
    let parsed = match jwt::parse(token, &issuer.algorithms, issuer.max_token_bytes) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    // A pinned `typ` is checked before any cryptography, like `alg`: an ID token is not an access token.
    if let Some(pinned) = &issuer.typ {
        if !jwt::typ_matches(pinned, parsed.header.typ.as_deref()) {
            return Ok(Err(TokenError::Type));
        }
    }
    // A token for another issuer is refused without spending a signature check on it. Nothing is trusted from
    // the unverified claims: this can only refuse.
    let iss = parsed.claims.get(&["iss"]).and_then(|v| v.as_str());
    if iss != Some(issuer.claim_rules.issuer.as_str()) {
        return Ok(Err(TokenError::Issuer));
    }
    let keys = match keys {
        Keys::Ready(keys) => keys,
        Keys::Unavailable => {
            return Err(Unavailable {
                issuer: issuer.name.clone(),
                detail: "no keys available".to_owned(),
            })
        }
    };
    let alg = parsed.header.alg;
    let candidates: Vec<&VerifyKey> = keys
        .iter()
        .filter(|k| k.suits(alg))
        // RFC 7518 3.2: an HMAC key must be at least as long as the hash (HS512 needs 64 bytes).
        .filter(|k| match &k.material {
            KeyMaterial::Hmac(secret) => secret.len() >= jwk::min_hmac_secret_len(alg),
            _ => true,
        })
        .filter(|k| match (&parsed.header.kid, &k.kid) {
            (Some(want), Some(have)) => want == have,
            // A token without `kid` may be checked against any key that suits (HMAC rotation, single-key sets).
            (None, _) => true,
            // HMAC secrets have no `kid`, so a token's `kid` cannot select among them; JWKS keys without one are
            // not candidates for a token that names one.
            (Some(_), None) => matches!(k.material, KeyMaterial::Hmac(_)),
        })
        .take(MAX_KEYS_TRIED)
        .collect();
    if candidates.is_empty() {
        return Ok(Err(TokenError::UnknownKey));
    }
    let mut verified = None;
    for key in candidates {
        match verifier
            .verify(alg, key, parsed.signing_input.as_bytes(), &parsed.signature)
            .await
        {
            Ok(()) => {
                verified = Some(key_fingerprint(key));
                break;
            }
            Err(VerifyError::BadSignature) | Err(VerifyError::KeyMismatch) => {}
            Err(VerifyError::Backend(detail)) => {
                return Err(Unavailable {
                    issuer: issuer.name.clone(),
                    detail,
                })
            }
        }
    }
    let Some(key) = verified else {
        return Ok(Err(TokenError::BadSignature));
    };
    Ok(
        jwt::check_claims(&parsed.claims, &issuer.claim_rules, now.0)
            .map(|()| (Arc::new(parsed.claims), key)),
    )
}

/// Which key verified a token, so a cached token is used only while that key is still held: its `kid`, its own
/// `alg` and its material, hashed (64-bit FNV-1a). Not collision-resistant, and it need not be: the keys compared
/// all come from the policy, Worker secrets or the issuer's JWKS, never from a client.
fn key_fingerprint(key: &VerifyKey) -> u64 {
    let (family, a, b): (u8, &[u8], &[u8]) = match &key.material {
        KeyMaterial::Hmac(secret) => (0, secret, &[]),
        KeyMaterial::Rsa { n, e } => (1, n, e),
        KeyMaterial::EcP256 { x, y } => (2, x, y),
        KeyMaterial::EcP384 { x, y } => (3, x, y),
        KeyMaterial::Ed25519 { x } => (4, x, &[]),
    };
    let head = [
        family,
        key.alg.map_or(0, |alg| alg as u8 + 1),
        u8::from(key.kid.is_some()),
    ];
    let kid = key.kid.as_deref().unwrap_or("").as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for field in [&head[..], kid, a, b] {
        // Each field is length-prefixed, so no two splits of the same bytes hash alike.
        for byte in (field.len() as u32).to_le_bytes().iter().chain(field) {
            h ^= u64::from(*byte);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Most tokens the verified-token cache holds.
pub const CACHE_ENTRIES: usize = 1024;
/// Most token bytes the cache holds in all.
pub const CACHE_BYTES: usize = 2 * 1024 * 1024;

/// Tokens that verified, so a client's repeated token costs a lookup and the time checks instead of a signature
/// check. Keyed by issuer and the full token text (a hash alone could let one token stand in for another);
/// bounded in entries and bytes; an entry is never used once the clock passes its `exp` (claims are checked
/// again on every hit, with the caller's clock), nor once the key that verified it is no longer among the
/// issuer's keys (a key removed from the JWKS revokes its cached tokens at once: the token is verified again
/// against the keys held, and fails).
#[derive(Debug, Default)]
pub struct VerifiedCache {
    entries: HashMap<(usize, Box<str>), CacheEntry>,
    bytes: usize,
    clock: u64,
}

#[derive(Debug)]
struct CacheEntry {
    claims: Arc<Claims>,
    /// `exp` (seconds), or `u64::MAX` for tokens without one.
    expires: u64,
    /// The fingerprint of the key that verified the token ([`key_fingerprint`]).
    key: u64,
    /// Insertion order, for eviction.
    stamp: u64,
}

impl VerifiedCache {
    /// The cached outcome for this token, if it verified before, has not expired and the key that verified it is
    /// still among `keys` (the issuer's keys now). An entry whose key is gone is dropped: a miss, so the token is
    /// checked again against the keys held.
    fn get(
        &mut self,
        issuer_id: usize,
        token: &str,
        issuer: &Issuer,
        keys: Keys<'_>,
        now: UnixTime,
    ) -> Option<Result<Arc<Claims>, TokenError>> {
        let key = (issuer_id, Box::<str>::from(token));
        let entry = self.entries.get(&key)?;
        let key_held = match keys {
            Keys::Ready(keys) => keys.iter().any(|k| key_fingerprint(k) == entry.key),
            Keys::Unavailable => false,
        };
        if !key_held || now.0 > entry.expires.saturating_add(issuer.claim_rules.leeway) {
            self.remove(&key);
            return None;
        }
        let claims = Arc::clone(&entry.claims);
        Some(jwt::check_claims(&claims, &issuer.claim_rules, now.0).map(|()| claims))
    }

    fn insert(
        &mut self,
        issuer_id: usize,
        token: &str,
        claims: Arc<Claims>,
        key: u64,
        now: UnixTime,
    ) {
        if token.len() > CACHE_BYTES / 16 {
            return;
        }
        let expires = claims
            .get(&["exp"])
            .and_then(serde_json::Value::as_f64)
            .map_or(u64::MAX, |e| e as u64);
        while self.entries.len() >= CACHE_ENTRIES || self.bytes + token.len() > CACHE_BYTES {
            if !self.evict(now) {
                break;
            }
        }
        self.clock += 1;
        self.bytes += token.len();
        let old = self.entries.insert(
            (issuer_id, token.into()),
            CacheEntry {
                claims,
                expires,
                key,
                stamp: self.clock,
            },
        );
        if old.is_some() {
            self.bytes -= token.len();
        }
    }

    /// Drops expired entries, or else the oldest one. False when there was nothing to drop.
    fn evict(&mut self, now: UnixTime) -> bool {
        let before = self.entries.len();
        let mut freed = 0;
        self.entries.retain(|(_, token), e| {
            let keep = e.expires >= now.0;
            if !keep {
                freed += token.len();
            }
            keep
        });
        self.bytes -= freed;
        if self.entries.len() < before {
            return true;
        }
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, e)| e.stamp)
            .map(|(k, _)| k.clone());
        match oldest {
            Some(key) => {
                self.remove(&key);
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, key: &(usize, Box<str>)) {
        if self.entries.remove(key).is_some() {
            self.bytes -= key.1.len();
        }
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
