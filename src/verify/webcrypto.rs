//! WebCrypto verifier (the Worker): checks JWS signatures with `crypto.subtle`.
//!
//! Compiled for `wasm32` only. It works wherever `globalThis.crypto.subtle` exists: workerd (the Worker's
//! `ServiceWorkerGlobalScope`) and Node 20 (where `wasm-bindgen-test` runs the tests). It verifies one signature
//! with the key it is handed and nothing else: choosing the key, pinning the algorithm and every claim check
//! belong to [`crate::token`].
//!
//! What it must never do: verify with a key that does not [suit](VerifyKey::suits) the algorithm (it answers
//! [`VerifyError::KeyMismatch`] before touching crypto), let one key stand in for another through its cache (a
//! hit compares the full [`KeyMaterial`], never a hash of it), put key material in an error or in `Debug`
//! output, or hold a `RefCell` borrow across an `await` (requests of one isolate interleave at awaits).
//!
//! Imported `CryptoKey`s are cached per verifier (the Worker keeps one verifier per isolate): importing costs
//! far more than a cached lookup. See [`WebCryptoVerifier`] for the cache's bound and eviction.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::VecDeque;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

use super::{SignatureVerifier, VerifyError};
use crate::token::jwk::{KeyMaterial, VerifyKey};
use crate::token::Algorithm;

/// How many imported keys a verifier keeps by default. Each distinct (algorithm, key) pair the Worker verifies
/// with takes one entry: a JWKS of a few keys needs a few entries, so 256 is ample and bounds both memory and
/// the linear lookup.
pub const DEFAULT_CACHE_CAPACITY: usize = 256;

/// Longest exception message (in characters) copied into a [`VerifyError::Backend`].
const MAX_MESSAGE_CHARS: usize = 160;

/// A [`SignatureVerifier`] backed by WebCrypto (`globalThis.crypto.subtle`).
///
/// Algorithms: HS256/384/512 (HMAC, `raw` import), RS256/384/512 (RSASSA-PKCS1-v1_5, `jwk` import), PS256/384/512
/// (RSA-PSS with a salt as long as the hash), ES256/ES384 (ECDSA on P-256/P-384, `jwk` import, raw `r || s`
/// signatures) and EdDSA (Ed25519, `raw` import; `NODE-ED25519` is tried when a runtime does not know
/// `Ed25519`).
///
/// Signatures whose length cannot be right for the algorithm and key (an ECDSA signature that is not exactly
/// 64 or 96 bytes, an HMAC tag that is not the full hash, an RSA signature not as long as the modulus, an
/// Ed25519 signature that is not 64 bytes) are [`VerifyError::BadSignature`] without calling WebCrypto.
///
/// Cache: imported keys are cached per verifier under (algorithm, full key material), up to a capacity
/// ([`DEFAULT_CACHE_CAPACITY`] unless [`WebCryptoVerifier::with_capacity`] says otherwise). A lookup scans the
/// entries and compares the algorithm and the whole [`KeyMaterial`], so a key is only ever verified with its
/// own `CryptoKey`. When full, the oldest entry (first inserted) is evicted. An import WebCrypto rejects as
/// invalid key data (`DataError`, e.g. an EC point off the curve) or unsupported (`NotSupportedError`) is cached
/// too, so a bad key costs one import per isolate rather than one per request; any other import failure is
/// not cached. Two requests that miss on the same key at once may both import it; only one entry is kept.
///
/// Single-threaded by design (`CryptoKey` is a JS object): interior mutability is a `RefCell`, and no borrow is
/// held across an `await`.
pub struct WebCryptoVerifier {
    /// `globalThis.crypto.subtle`, looked up on first use.
    subtle: OnceCell<SubtleCrypto>,
    /// Imported keys, oldest first.
    cache: RefCell<VecDeque<Entry>>,
    /// Most entries kept; 0 disables caching.
    capacity: usize,
    /// Which Ed25519 algorithm name this runtime accepts, once known.
    ed25519: Cell<Ed25519Name>,
}

/// One cached import.
struct Entry {
    alg: Algorithm,
    material: KeyMaterial,
    imported: Result<Imported, VerifyError>,
}

/// An imported key and the algorithm parameters `verify` takes with it.
#[derive(Clone)]
struct Imported {
    key: CryptoKey,
    params: Object,
}

/// The name under which the runtime knows Ed25519.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ed25519Name {
    /// Not tried yet: try `Ed25519`, then `NODE-ED25519`.
    Unknown,
    /// The standard (Secure Curves) `Ed25519`: Node 20, current workerd.
    Standard,
    /// The older non-standard `NODE-ED25519` (with `namedCurve: "NODE-ED25519"`) of early workerd.
    Node,
}

impl Default for WebCryptoVerifier {
    fn default() -> Self {
        Self::new()
    }
}

/// Shows the cache size only: never a key.
impl std::fmt::Debug for WebCryptoVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebCryptoVerifier")
            .field("cached_keys", &self.cached_keys())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl WebCryptoVerifier {
    /// A verifier with an empty cache of [`DEFAULT_CACHE_CAPACITY`] entries. Does not touch `crypto` yet: a
    /// missing `crypto.subtle` surfaces as [`VerifyError::Backend`] on the first verify.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CACHE_CAPACITY)
    }

    /// A verifier that keeps at most `capacity` imported keys (0: import on every verify, for measurements).
    pub fn with_capacity(capacity: usize) -> Self {
        WebCryptoVerifier {
            subtle: OnceCell::new(),
            cache: RefCell::new(VecDeque::new()),
            capacity,
            ed25519: Cell::new(Ed25519Name::Unknown),
        }
    }

    /// How many imports (successful or cached failures) the cache holds.
    pub fn cached_keys(&self) -> usize {
        self.cache.try_borrow().map_or(0, |cache| cache.len())
    }

    /// `globalThis.crypto.subtle`, found through the global object so it works in workerd and in Node alike.
    fn subtle(&self) -> Result<SubtleCrypto, VerifyError> {
        if let Some(subtle) = self.subtle.get() {
            return Ok(subtle.clone());
        }
        let unavailable = || VerifyError::Backend("`crypto.subtle` is not available".to_owned());
        let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
            .map_err(|_| unavailable())?;
        if !crypto.is_object() {
            return Err(unavailable());
        }
        let subtle =
            Reflect::get(&crypto, &JsValue::from_str("subtle")).map_err(|_| unavailable())?;
        if !subtle.is_object() {
            return Err(unavailable());
        }
        let subtle: SubtleCrypto = subtle.unchecked_into();
        // A concurrent first use may have set it meanwhile; either value is the same object.
        let _ = self.subtle.set(subtle.clone());
        Ok(subtle)
    }

    /// The cached import for (`alg`, `material`), if any. The borrow ends before this returns.
    fn lookup(
        &self,
        alg: Algorithm,
        material: &KeyMaterial,
    ) -> Option<Result<Imported, VerifyError>> {
        let cache = self.cache.try_borrow().ok()?;
        cache
            .iter()
            .find(|entry| entry.alg == alg && entry.material == *material)
            .map(|entry| entry.imported.clone())
    }

    /// Caches an import outcome, evicting the oldest entries beyond the capacity. Keeps an existing entry for the
    /// same key (a concurrent import that finished first).
    fn remember(
        &self,
        alg: Algorithm,
        material: &KeyMaterial,
        imported: &Result<Imported, VerifyError>,
    ) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut cache) = self.cache.try_borrow_mut() else {
            return;
        };
        if cache
            .iter()
            .any(|entry| entry.alg == alg && entry.material == *material)
        {
            return;
        }
        while cache.len() >= self.capacity {
            cache.pop_front();
        }
        cache.push_back(Entry {
            alg,
            material: material.clone(),
            imported: imported.clone(),
        });
    }

    /// Imports `material` for `alg`, through the cache.
    async fn imported(
        &self,
        alg: Algorithm,
        material: &KeyMaterial,
    ) -> Result<Imported, VerifyError> {
        if let Some(hit) = self.lookup(alg, material) {
            return hit;
        }
        match self.import(alg, material).await {
            Ok(imported) => {
                let outcome = Ok(imported);
                self.remember(alg, material, &outcome);
                outcome
            }
            Err(Failure {
                error,
                deterministic,
                ..
            }) => {
                let outcome = Err(error);
                if deterministic {
                    self.remember(alg, material, &outcome);
                }
                outcome
            }
        }
    }

    /// Imports `material` as a verify-only, non-extractable `CryptoKey` for `alg`.
    async fn import(&self, alg: Algorithm, material: &KeyMaterial) -> Result<Imported, Failure> {
        let subtle = self.subtle().map_err(Failure::transient)?;
        match (alg, material) {
            (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, KeyMaterial::Hmac(secret)) => {
                let import = object(&[("name", "HMAC".into()), ("hash", hash_name(alg).into())])?;
                let key = import_key(
                    &subtle,
                    alg,
                    "raw",
                    &Uint8Array::from(secret.as_slice()),
                    &import,
                )
                .await?;
                let params = object(&[("name", "HMAC".into())])?;
                Ok(Imported { key, params })
            }
            (
                Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512,
                KeyMaterial::Rsa { n, e },
            ) => {
                let name = if matches!(alg, Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512)
                {
                    "RSASSA-PKCS1-v1_5"
                } else {
                    "RSA-PSS"
                };
                let jwk = object(&[
                    ("kty", "RSA".into()),
                    ("n", URL_SAFE_NO_PAD.encode(n).into()),
                    ("e", URL_SAFE_NO_PAD.encode(e).into()),
                ])?;
                let import = object(&[("name", name.into()), ("hash", hash_name(alg).into())])?;
                let key = import_key(&subtle, alg, "jwk", &jwk, &import).await?;
                let params = if name == "RSA-PSS" {
                    object(&[
                        ("name", name.into()),
                        ("saltLength", JsValue::from(hash_len(alg))),
                    ])?
                } else {
                    object(&[("name", name.into())])?
                };
                Ok(Imported { key, params })
            }
            (Algorithm::ES256, KeyMaterial::EcP256 { x, y }) => {
                ec_import(&subtle, alg, "P-256", x, y).await
            }
            (Algorithm::ES384, KeyMaterial::EcP384 { x, y }) => {
                ec_import(&subtle, alg, "P-384", x, y).await
            }
            (Algorithm::EdDSA, KeyMaterial::Ed25519 { x }) => self.ed25519_import(&subtle, x).await,
            // `verify` checked `suits` first, so this is a family mismatch it already answered.
            _ => Err(Failure::transient(VerifyError::KeyMismatch)),
        }
    }

    /// Imports an Ed25519 public key as `Ed25519`, or as `NODE-ED25519` where the runtime does not know the
    /// standard name (remembered for later imports).
    async fn ed25519_import(
        &self,
        subtle: &SubtleCrypto,
        x: &[u8; 32],
    ) -> Result<Imported, Failure> {
        let alg = Algorithm::EdDSA;
        let raw = Uint8Array::from(x.as_slice());
        if self.ed25519.get() != Ed25519Name::Node {
            let import = object(&[("name", "Ed25519".into())])?;
            match import_key(subtle, alg, "raw", &raw, &import).await {
                Ok(key) => {
                    self.ed25519.set(Ed25519Name::Standard);
                    return Ok(Imported {
                        key,
                        params: import,
                    });
                }
                Err(failure)
                    if self.ed25519.get() == Ed25519Name::Unknown && failure.not_supported() => {}
                Err(failure) => return Err(failure),
            }
        }
        let import = object(&[
            ("name", "NODE-ED25519".into()),
            ("namedCurve", "NODE-ED25519".into()),
        ])?;
        let key = import_key(subtle, alg, "raw", &raw, &import).await?;
        self.ed25519.set(Ed25519Name::Node);
        let params = object(&[("name", "NODE-ED25519".into())])?;
        Ok(Imported { key, params })
    }
}

impl SignatureVerifier for WebCryptoVerifier {
    async fn verify(
        &self,
        alg: Algorithm,
        key: &VerifyKey,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), VerifyError> {
        if !key.suits(alg) {
            return Err(VerifyError::KeyMismatch);
        }
        if expected_signature_len(alg, &key.material) != Some(signature.len()) {
            return Err(VerifyError::BadSignature);
        }
        let imported = self.imported(alg, &key.material).await?;
        let subtle = self.subtle()?;
        // Copies into JS-owned buffers: WebCrypto must not read views of Wasm memory after this call returns.
        let signature = Uint8Array::from(signature);
        let data = Uint8Array::from(signing_input);
        let promise = subtle
            .verify_with_object_and_buffer_source_and_buffer_source(
                &imported.params,
                &imported.key,
                &signature,
                &data,
            )
            .map_err(|err| backend("verify", alg, &err))?;
        let outcome = JsFuture::from(promise)
            .await
            .map_err(|err| backend("verify", alg, &err))?;
        match outcome.as_bool() {
            Some(true) => Ok(()),
            Some(false) => Err(VerifyError::BadSignature),
            None => Err(VerifyError::Backend(format!(
                "webcrypto verify for `{alg}` resolved to something other than a boolean"
            ))),
        }
    }
}

/// An import failure, and whether retrying the same key could succeed.
struct Failure {
    error: VerifyError,
    /// The runtime rejected the key data or the algorithm: the same import fails again, so it may be cached.
    deterministic: bool,
    /// The JS exception's `name`, when it had one.
    name: Option<String>,
}

impl Failure {
    fn transient(error: VerifyError) -> Self {
        Failure {
            error,
            deterministic: false,
            name: None,
        }
    }

    fn not_supported(&self) -> bool {
        self.name.as_deref() == Some("NotSupportedError")
    }
}

impl From<VerifyError> for Failure {
    fn from(error: VerifyError) -> Self {
        Failure::transient(error)
    }
}

/// Imports an EC public key from its affine coordinates (as a JWK) for ECDSA on `curve`.
async fn ec_import(
    subtle: &SubtleCrypto,
    alg: Algorithm,
    curve: &str,
    x: &[u8],
    y: &[u8],
) -> Result<Imported, Failure> {
    let jwk = object(&[
        ("kty", "EC".into()),
        ("crv", curve.into()),
        ("x", URL_SAFE_NO_PAD.encode(x).into()),
        ("y", URL_SAFE_NO_PAD.encode(y).into()),
    ])?;
    let import = object(&[("name", "ECDSA".into()), ("namedCurve", curve.into())])?;
    let key = import_key(subtle, alg, "jwk", &jwk, &import).await?;
    let params = object(&[("name", "ECDSA".into()), ("hash", hash_name(alg).into())])?;
    Ok(Imported { key, params })
}

/// `subtle.importKey(format, data, algorithm, false, ["verify"])`, awaited.
async fn import_key(
    subtle: &SubtleCrypto,
    alg: Algorithm,
    format: &str,
    data: &Object,
    algorithm: &Object,
) -> Result<CryptoKey, Failure> {
    let usages = Array::of1(&JsValue::from_str("verify"));
    let failure = |err: JsValue| {
        let name = js_string(&err, "name");
        let deterministic = matches!(name.as_deref(), Some("DataError" | "NotSupportedError"));
        Failure {
            error: backend("importKey", alg, &err),
            deterministic,
            name,
        }
    };
    let promise = subtle
        .import_key_with_object(format, data, algorithm, false, &usages)
        .map_err(failure)?;
    let key = JsFuture::from(promise).await.map_err(failure)?;
    if key.is_object() {
        Ok(key.unchecked_into())
    } else {
        Err(Failure::transient(VerifyError::Backend(format!(
            "webcrypto importKey for `{alg}` resolved to something other than a key"
        ))))
    }
}

/// A plain JS object with the given properties.
fn object(properties: &[(&str, JsValue)]) -> Result<Object, VerifyError> {
    let out = Object::new();
    for (name, value) in properties {
        Reflect::set(&out, &JsValue::from_str(name), value).map_err(|_| {
            VerifyError::Backend("could not build a webcrypto parameter object".to_owned())
        })?;
    }
    Ok(out)
}

/// A string property of a thrown JS value, if it has one.
fn js_string(value: &JsValue, property: &str) -> Option<String> {
    if !value.is_object() {
        return None;
    }
    Reflect::get(value, &JsValue::from_str(property))
        .ok()?
        .as_string()
}

/// A [`VerifyError::Backend`] for a JS exception from `operation`: the exception's name and (except for HMAC,
/// whose key is a secret) the start of its message. Key bytes are never added here; an HMAC key's message is
/// left out in case a runtime echoes its input.
fn backend(operation: &str, alg: Algorithm, err: &JsValue) -> VerifyError {
    let name = js_string(err, "name").unwrap_or_else(|| "exception".to_owned());
    let mut text = format!("webcrypto {operation} for `{alg}` failed: {name}");
    if !alg.is_hmac() {
        if let Some(message) = js_string(err, "message").filter(|m| !m.is_empty()) {
            text.push_str(": ");
            text.extend(message.chars().take(MAX_MESSAGE_CHARS));
        }
    }
    VerifyError::Backend(text)
}

/// The WebCrypto hash name of an HMAC, RSA or ECDSA algorithm (SHA-512 for EdDSA, which takes none).
fn hash_name(alg: Algorithm) -> &'static str {
    match hash_len(alg) {
        32 => "SHA-256",
        48 => "SHA-384",
        _ => "SHA-512",
    }
}

/// The length in bytes of the algorithm's hash (the PSS salt length, the HMAC tag length).
fn hash_len(alg: Algorithm) -> u32 {
    match alg {
        Algorithm::HS256 | Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 => 32,
        Algorithm::HS384 | Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => 48,
        Algorithm::HS512 | Algorithm::RS512 | Algorithm::PS512 | Algorithm::EdDSA => 64,
    }
}

/// The only signature length that can verify under `alg` with `material`: the HMAC tag length, the RSA modulus
/// length, 64/96 bytes of ECDSA `r || s`, 64 bytes of Ed25519. `None` when the two do not belong together.
fn expected_signature_len(alg: Algorithm, material: &KeyMaterial) -> Option<usize> {
    let len = match (alg.family(), material) {
        (crate::token::KeyFamily::Hmac, KeyMaterial::Hmac(_)) => hash_len(alg) as usize,
        (crate::token::KeyFamily::Rsa, KeyMaterial::Rsa { n, .. }) => {
            n.iter().skip_while(|b| **b == 0).count()
        }
        (crate::token::KeyFamily::EcP256, KeyMaterial::EcP256 { .. }) => 64,
        (crate::token::KeyFamily::EcP384, KeyMaterial::EcP384 { .. }) => 96,
        (crate::token::KeyFamily::Ed25519, KeyMaterial::Ed25519 { .. }) => 64,
        _ => return None,
    };
    Some(len)
}

#[cfg(test)]
mod tests {
    //! Runs under `wasm-bindgen-test` in Node (this module exists on `wasm32` only, so the tests carry the Wasm
    //! attribute alone).

    use super::*;
    use js_sys::Promise;
    use wasm_bindgen_test::wasm_bindgen_test;

    /// The payload of RFC 7515 Appendix A.1-A.3.
    macro_rules! rfc7515_payload {
        () => {
            "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        };
    }

    /// A key of a published example, as base64url strings.
    #[derive(Clone, Copy)]
    enum Spec {
        Hmac(&'static str),
        Rsa(&'static str, &'static str),
        P256(&'static str, &'static str),
        Ed25519(&'static str),
    }

    const RFC7515_A1_K: &str =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    const RFC7515_A2_N: &str = concat!(
        "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-",
        "SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-",
        "UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2eth",
        "FkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
    );
    const RFC7515_A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const RFC7515_A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    const RFC8037_A4_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    /// The published examples: (name, algorithm, key, compact JWS). All must verify.
    const EXAMPLES: &[(&str, Algorithm, Spec, &str)] = &[
        (
            "RFC 7515 A.1 HS256",
            Algorithm::HS256,
            Spec::Hmac(RFC7515_A1_K),
            concat!(
                "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.",
                rfc7515_payload!(),
                ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
            ),
        ),
        (
            "RFC 7515 A.2 RS256",
            Algorithm::RS256,
            Spec::Rsa(RFC7515_A2_N, "AQAB"),
            concat!(
                "eyJhbGciOiJSUzI1NiJ9.",
                rfc7515_payload!(),
                ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9",
                "uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB",
                "_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rq",
                "Vt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
            ),
        ),
        (
            "RFC 7515 A.3 ES256",
            Algorithm::ES256,
            Spec::P256(RFC7515_A3_X, RFC7515_A3_Y),
            concat!(
                "eyJhbGciOiJFUzI1NiJ9.",
                rfc7515_payload!(),
                ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
            ),
        ),
        (
            "RFC 8037 A.4 Ed25519",
            Algorithm::EdDSA,
            Spec::Ed25519(RFC8037_A4_X),
            concat!(
                "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.",
                "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
            ),
        ),
    ];

    fn b64(text: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(text).unwrap()
    }

    fn material(spec: Spec) -> KeyMaterial {
        match spec {
            Spec::Hmac(k) => KeyMaterial::Hmac(b64(k)),
            Spec::Rsa(n, e) => KeyMaterial::Rsa {
                n: b64(n),
                e: b64(e),
            },
            Spec::P256(x, y) => KeyMaterial::EcP256 {
                x: b64(x).try_into().unwrap(),
                y: b64(y).try_into().unwrap(),
            },
            Spec::Ed25519(x) => KeyMaterial::Ed25519 {
                x: b64(x).try_into().unwrap(),
            },
        }
    }

    fn key(material: KeyMaterial) -> VerifyKey {
        VerifyKey {
            kid: None,
            alg: None,
            material,
        }
    }

    /// The signing input and the decoded signature of a compact JWS.
    fn split(token: &str) -> (Vec<u8>, Vec<u8>) {
        let (input, signature) = token.rsplit_once('.').unwrap();
        (input.as_bytes().to_vec(), b64(signature))
    }

    #[wasm_bindgen_test]
    async fn published_examples_verify() {
        let verifier = WebCryptoVerifier::new();
        for (name, alg, spec, token) in EXAMPLES {
            let (input, signature) = split(token);
            let got = verifier
                .verify(*alg, &key(material(*spec)), &input, &signature)
                .await;
            assert_eq!(got, Ok(()), "{name}");
        }
        assert_eq!(verifier.cached_keys(), EXAMPLES.len());
    }

    /// Each way of spoiling a valid (signing input, signature) pair.
    const TAMPERINGS: &[&str] = &[
        "last signature bit flipped",
        "first signature bit flipped",
        "signature one byte short",
        "signature one byte long",
        "empty signature",
        "signing input changed",
        "signing input extended",
        "empty signing input",
        "signature all zero",
    ];

    fn tamper(how: &str, input: &[u8], signature: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let (mut input, mut signature) = (input.to_vec(), signature.to_vec());
        match how {
            "last signature bit flipped" => *signature.last_mut().unwrap() ^= 1,
            "first signature bit flipped" => signature[0] ^= 0x80,
            "signature one byte short" => {
                signature.pop();
            }
            "signature one byte long" => signature.push(0),
            "empty signature" => signature.clear(),
            "signing input changed" => {
                let last = input.last_mut().unwrap();
                *last = if *last == b'A' { b'B' } else { b'A' };
            }
            "signing input extended" => input.extend_from_slice(b"A"),
            "empty signing input" => input.clear(),
            "signature all zero" => signature.iter_mut().for_each(|b| *b = 0),
            other => panic!("unknown tampering {other}"),
        }
        (input, signature)
    }

    #[wasm_bindgen_test]
    async fn tampered_examples_are_bad_signatures() {
        let verifier = WebCryptoVerifier::new();
        for (name, alg, spec, token) in EXAMPLES {
            let (input, signature) = split(token);
            let key = key(material(*spec));
            for how in TAMPERINGS {
                let (input, signature) = tamper(how, &input, &signature);
                let got = verifier.verify(*alg, &key, &input, &signature).await;
                assert_eq!(got, Err(VerifyError::BadSignature), "{name}: {how}");
            }
            // The untouched pair still verifies after all that (the cache holds the right key).
            assert_eq!(
                verifier.verify(*alg, &key, &input, &signature).await,
                Ok(()),
                "{name}: untouched"
            );
        }
    }

    #[wasm_bindgen_test]
    async fn mismatched_keys_are_refused_before_crypto() {
        let hmac = material(Spec::Hmac(RFC7515_A1_K));
        let rsa = material(Spec::Rsa(RFC7515_A2_N, "AQAB"));
        let p256 = material(Spec::P256(RFC7515_A3_X, RFC7515_A3_Y));
        let ed = material(Spec::Ed25519(RFC8037_A4_X));
        let p384 = KeyMaterial::EcP384 {
            x: [1; 48],
            y: [2; 48],
        };
        let pinned = |material: &KeyMaterial, alg| VerifyKey {
            kid: None,
            alg: Some(alg),
            material: material.clone(),
        };
        let cases: Vec<(&str, Algorithm, VerifyKey)> = vec![
            (
                "HS256 with an RSA key (alg confusion)",
                Algorithm::HS256,
                key(rsa.clone()),
            ),
            (
                "HS256 with a P-256 key",
                Algorithm::HS256,
                key(p256.clone()),
            ),
            (
                "HS512 with an Ed25519 key",
                Algorithm::HS512,
                key(ed.clone()),
            ),
            (
                "RS256 with an HMAC key",
                Algorithm::RS256,
                key(hmac.clone()),
            ),
            (
                "PS256 with a P-256 key",
                Algorithm::PS256,
                key(p256.clone()),
            ),
            ("ES256 with an RSA key", Algorithm::ES256, key(rsa.clone())),
            (
                "ES256 with a P-384 key",
                Algorithm::ES256,
                key(p384.clone()),
            ),
            (
                "ES384 with a P-256 key",
                Algorithm::ES384,
                key(p256.clone()),
            ),
            (
                "EdDSA with a P-256 key",
                Algorithm::EdDSA,
                key(p256.clone()),
            ),
            (
                "EdDSA with an HMAC key",
                Algorithm::EdDSA,
                key(hmac.clone()),
            ),
            (
                "RS256 with a key pinned to PS256",
                Algorithm::RS256,
                pinned(&rsa, Algorithm::PS256),
            ),
            (
                "HS384 with a key pinned to HS256",
                Algorithm::HS384,
                pinned(&hmac, Algorithm::HS256),
            ),
            (
                "ES256 with a key pinned to ES384",
                Algorithm::ES256,
                pinned(&p256, Algorithm::ES384),
            ),
        ];
        let verifier = WebCryptoVerifier::new();
        for (name, alg, key) in &cases {
            // A signature of the right length for the algorithm, so only the key can be the reason.
            let signature = vec![0u8; 64];
            let got = verifier.verify(*alg, key, b"a.b", &signature).await;
            assert_eq!(got, Err(VerifyError::KeyMismatch), "{name}");
        }
        assert_eq!(verifier.cached_keys(), 0, "nothing was imported");
    }

    #[wasm_bindgen_test]
    async fn wrong_length_ecdsa_signatures_fail_without_crypto() {
        let (input, good) = split(EXAMPLES[2].3);
        let mut der = vec![0x30, 0x44, 0x02, 0x20];
        der.extend_from_slice(&good[..32]);
        der.extend_from_slice(&[0x02, 0x20]);
        der.extend_from_slice(&good[32..]);
        let cases: &[(&str, Vec<u8>)] = &[
            ("empty", vec![]),
            ("63 bytes", good[..63].to_vec()),
            ("65 bytes", [good.as_slice(), &[0]].concat()),
            ("DER encoding of the valid signature", der),
            (
                "96 bytes (an ES384 length)",
                [good.as_slice(), &good[..32]].concat(),
            ),
            ("r only", good[..32].to_vec()),
        ];
        let verifier = WebCryptoVerifier::new();
        let p256 = key(material(Spec::P256(RFC7515_A3_X, RFC7515_A3_Y)));
        for (name, signature) in cases {
            let got = verifier
                .verify(Algorithm::ES256, &p256, &input, signature)
                .await;
            assert_eq!(got, Err(VerifyError::BadSignature), "{name}");
        }
        let p384 = key(KeyMaterial::EcP384 {
            x: [1; 48],
            y: [2; 48],
        });
        for len in [0, 64, 95, 97, 104] {
            let got = verifier
                .verify(Algorithm::ES384, &p384, &input, &vec![1u8; len])
                .await;
            assert_eq!(
                got,
                Err(VerifyError::BadSignature),
                "ES384 with {len} bytes"
            );
        }
        assert_eq!(
            verifier.cached_keys(),
            0,
            "no key was imported for a wrong length"
        );
    }

    #[wasm_bindgen_test]
    async fn cache_hits_return_the_same_result_and_never_mix_keys() {
        let verifier = WebCryptoVerifier::new();
        let (name, alg, spec, token) = EXAMPLES[2];
        let (input, signature) = split(token);
        let right = key(material(spec));
        for round in 0..3 {
            assert_eq!(
                verifier.verify(alg, &right, &input, &signature).await,
                Ok(()),
                "{name} round {round}"
            );
            assert_eq!(verifier.cached_keys(), 1, "{name} round {round}");
        }
        let (bad_input, bad_signature) = tamper("last signature bit flipped", &input, &signature);
        assert_eq!(
            verifier
                .verify(alg, &right, &bad_input, &bad_signature)
                .await,
            Err(VerifyError::BadSignature)
        );

        // Another P-256 key differing in one coordinate byte: its own entry, and it does not verify the example.
        let KeyMaterial::EcP256 { x, y } = right.material.clone() else {
            unreachable!()
        };
        let generated = generated_p256().await;
        let mut near = y;
        near[31] ^= 1;
        for (label, other) in [
            ("generated key", generated),
            (
                "x of the right key, y off by one bit",
                KeyMaterial::EcP256 { x, y: near },
            ),
        ] {
            let got = verifier.verify(alg, &key(other), &input, &signature).await;
            assert!(
                matches!(
                    got,
                    Err(VerifyError::BadSignature | VerifyError::Backend(_))
                ),
                "{label}: {got:?}"
            );
        }
        assert_eq!(verifier.cached_keys(), 3);
        assert_eq!(
            verifier.verify(alg, &right, &input, &signature).await,
            Ok(()),
            "right key after the others"
        );

        // One RSA key under two algorithms: two entries, each with its own parameters.
        let (_, _, rsa_spec, rsa_token) = EXAMPLES[1];
        let (rsa_input, rsa_signature) = split(rsa_token);
        let rsa = key(material(rsa_spec));
        assert_eq!(
            verifier
                .verify(Algorithm::RS256, &rsa, &rsa_input, &rsa_signature)
                .await,
            Ok(())
        );
        for alg in [Algorithm::PS256, Algorithm::RS384, Algorithm::RS512] {
            let got = verifier.verify(alg, &rsa, &rsa_input, &rsa_signature).await;
            assert_eq!(
                got,
                Err(VerifyError::BadSignature),
                "RS256 signature under {alg}"
            );
        }
        assert_eq!(
            verifier
                .verify(Algorithm::RS256, &rsa, &rsa_input, &rsa_signature)
                .await,
            Ok(())
        );
        assert_eq!(verifier.cached_keys(), 7);
        assert_eq!(
            format!("{verifier:?}"),
            "WebCryptoVerifier { cached_keys: 7, capacity: 256 }"
        );
    }

    #[wasm_bindgen_test]
    async fn the_cache_is_bounded_and_evicts_the_oldest() {
        let verifier = WebCryptoVerifier::with_capacity(2);
        for round in 0..2 {
            for (name, alg, spec, token) in EXAMPLES {
                let (input, signature) = split(token);
                let got = verifier
                    .verify(*alg, &key(material(*spec)), &input, &signature)
                    .await;
                assert_eq!(got, Ok(()), "{name} round {round}");
                assert!(verifier.cached_keys() <= 2, "{name} round {round}");
            }
        }
        assert_eq!(verifier.cached_keys(), 2);
        let uncached = WebCryptoVerifier::with_capacity(0);
        for (name, alg, spec, token) in EXAMPLES {
            let (input, signature) = split(token);
            let got = uncached
                .verify(*alg, &key(material(*spec)), &input, &signature)
                .await;
            assert_eq!(got, Ok(()), "{name} without a cache");
        }
        assert_eq!(uncached.cached_keys(), 0);
    }

    #[wasm_bindgen_test]
    async fn unusable_keys_are_backend_errors_without_key_bytes() {
        let zero_point = KeyMaterial::EcP256 {
            x: [0; 32],
            y: [0; 32],
        };
        let off_curve = KeyMaterial::EcP256 {
            x: [1; 32],
            y: [1; 32],
        };
        let cases: &[(&str, Algorithm, KeyMaterial, usize, &str)] = &[
            (
                "P-256 point (0, 0)",
                Algorithm::ES256,
                zero_point,
                64,
                "webcrypto importKey for `ES256` failed: DataError",
            ),
            (
                "P-256 point off the curve",
                Algorithm::ES256,
                off_curve,
                64,
                "webcrypto importKey for `ES256` failed: DataError",
            ),
            (
                "P-384 point off the curve",
                Algorithm::ES384,
                KeyMaterial::EcP384 {
                    x: [1; 48],
                    y: [1; 48],
                },
                96,
                "webcrypto importKey for `ES384` failed: DataError",
            ),
            (
                "empty HMAC secret",
                Algorithm::HS256,
                KeyMaterial::Hmac(vec![]),
                32,
                "webcrypto importKey for `HS256` failed: DataError",
            ),
        ];
        let verifier = WebCryptoVerifier::new();
        for (index, (name, alg, material, len, prefix)) in cases.iter().enumerate() {
            for attempt in 0..2 {
                let got = verifier
                    .verify(*alg, &key(material.clone()), b"a.b", &vec![1u8; *len])
                    .await;
                let Err(VerifyError::Backend(message)) = got else {
                    panic!("{name}: {got:?}")
                };
                assert!(message.starts_with(prefix), "{name}: {message}");
                assert!(
                    !message.contains("AQEBAQEB") && !message.contains("AAAAAAAA"),
                    "{name}: {message}"
                );
                if alg.is_hmac() {
                    assert_eq!(
                        message, *prefix,
                        "{name}: no exception message for a secret"
                    );
                }
                assert_eq!(
                    verifier.cached_keys(),
                    index + 1,
                    "{name}: the failure is cached (attempt {attempt})"
                );
            }
        }
    }

    // ---- keys minted by WebCrypto itself, for the algorithms the published examples do not cover ----

    fn subtle() -> SubtleCrypto {
        WebCryptoVerifier::new().subtle().unwrap()
    }

    async fn wait(promise: Result<Promise, JsValue>) -> JsValue {
        JsFuture::from(promise.unwrap()).await.unwrap()
    }

    fn get(value: &JsValue, property: &str) -> JsValue {
        Reflect::get(value, &JsValue::from_str(property)).unwrap()
    }

    fn bytes(value: &JsValue) -> Vec<u8> {
        Uint8Array::new(value).to_vec()
    }

    fn usages(list: &[&str]) -> Array {
        list.iter().map(|u| JsValue::from_str(u)).collect()
    }

    async fn generate(params: &Object) -> JsValue {
        wait(subtle().generate_key_with_object(params, true, &usages(&["sign", "verify"]))).await
    }

    async fn sign(params: &Object, key: &JsValue, data: &[u8]) -> Vec<u8> {
        let key: CryptoKey = key.clone().unchecked_into();
        bytes(
            &wait(subtle().sign_with_object_and_buffer_source(
                params,
                &key,
                &Uint8Array::from(data),
            ))
            .await,
        )
    }

    async fn generated_p256() -> KeyMaterial {
        let pair =
            generate(&object(&[("name", "ECDSA".into()), ("namedCurve", "P-256".into())]).unwrap())
                .await;
        let public: CryptoKey = get(&pair, "publicKey").unchecked_into();
        let jwk = wait(subtle().export_key("jwk", &public)).await;
        KeyMaterial::EcP256 {
            x: b64(&get(&jwk, "x").as_string().unwrap())
                .try_into()
                .unwrap(),
            y: b64(&get(&jwk, "y").as_string().unwrap())
                .try_into()
                .unwrap(),
        }
    }

    const INPUT: &[u8] = b"eyJhbGciOiJ0ZXN0In0.eyJzdWIiOiJ3ZWJjcnlwdG8gdGVzdCJ9";

    /// A valid (algorithm, key, signature over [`INPUT`]) for every algorithm, minted with WebCrypto.
    async fn minted() -> Vec<(Algorithm, VerifyKey, Vec<u8>)> {
        let mut out = Vec::new();
        let secret: Vec<u8> = (0u8..64).collect();
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let params =
                object(&[("name", "HMAC".into()), ("hash", hash_name(alg).into())]).unwrap();
            let signer = wait(subtle().import_key_with_object(
                "raw",
                &Uint8Array::from(secret.as_slice()),
                &params,
                false,
                &usages(&["sign"]),
            ))
            .await;
            let signature =
                sign(&object(&[("name", "HMAC".into())]).unwrap(), &signer, INPUT).await;
            out.push((alg, key(KeyMaterial::Hmac(secret.clone())), signature));
        }

        let rsa_params = object(&[
            ("name", "RSASSA-PKCS1-v1_5".into()),
            ("modulusLength", 2048.into()),
            (
                "publicExponent",
                Uint8Array::from([1u8, 0, 1].as_slice()).into(),
            ),
            ("hash", "SHA-256".into()),
        ])
        .unwrap();
        let pair = generate(&rsa_params).await;
        let private: CryptoKey = get(&pair, "privateKey").unchecked_into();
        let jwk = wait(subtle().export_key("jwk", &private)).await;
        Reflect::delete_property(jwk.unchecked_ref::<Object>(), &"alg".into()).unwrap();
        let rsa = KeyMaterial::Rsa {
            n: b64(&get(&jwk, "n").as_string().unwrap()),
            e: b64(&get(&jwk, "e").as_string().unwrap()),
        };
        for alg in [
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ] {
            let pss = matches!(alg, Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512);
            let name = if pss { "RSA-PSS" } else { "RSASSA-PKCS1-v1_5" };
            let import = object(&[("name", name.into()), ("hash", hash_name(alg).into())]).unwrap();
            let signer = wait(subtle().import_key_with_object(
                "jwk",
                jwk.unchecked_ref(),
                &import,
                false,
                &usages(&["sign"]),
            ))
            .await;
            let params = if pss {
                object(&[("name", name.into()), ("saltLength", hash_len(alg).into())]).unwrap()
            } else {
                object(&[("name", name.into())]).unwrap()
            };
            out.push((alg, key(rsa.clone()), sign(&params, &signer, INPUT).await));
        }

        for (alg, curve) in [(Algorithm::ES256, "P-256"), (Algorithm::ES384, "P-384")] {
            let pair = generate(
                &object(&[("name", "ECDSA".into()), ("namedCurve", curve.into())]).unwrap(),
            )
            .await;
            let public: CryptoKey = get(&pair, "publicKey").unchecked_into();
            let jwk = wait(subtle().export_key("jwk", &public)).await;
            let (x, y) = (
                b64(&get(&jwk, "x").as_string().unwrap()),
                b64(&get(&jwk, "y").as_string().unwrap()),
            );
            let material = if alg == Algorithm::ES256 {
                KeyMaterial::EcP256 {
                    x: x.try_into().unwrap(),
                    y: y.try_into().unwrap(),
                }
            } else {
                KeyMaterial::EcP384 {
                    x: x.try_into().unwrap(),
                    y: y.try_into().unwrap(),
                }
            };
            let params =
                object(&[("name", "ECDSA".into()), ("hash", hash_name(alg).into())]).unwrap();
            out.push((
                alg,
                key(material),
                sign(&params, &get(&pair, "privateKey"), INPUT).await,
            ));
        }

        let ed = object(&[("name", "Ed25519".into())]).unwrap();
        let pair = generate(&ed).await;
        let public: CryptoKey = get(&pair, "publicKey").unchecked_into();
        let raw = bytes(&wait(subtle().export_key("raw", &public)).await);
        let signature = sign(&ed, &get(&pair, "privateKey"), INPUT).await;
        out.push((
            Algorithm::EdDSA,
            key(KeyMaterial::Ed25519 {
                x: raw.try_into().unwrap(),
            }),
            signature,
        ));
        out
    }

    #[wasm_bindgen_test]
    async fn minted_signatures_verify_for_every_algorithm() {
        let verifier = WebCryptoVerifier::new();
        let minted = minted().await;
        let algs: Vec<Algorithm> = minted.iter().map(|(alg, _, _)| *alg).collect();
        assert_eq!(algs, Algorithm::ALL.to_vec(), "every algorithm is covered");
        for (alg, key, signature) in &minted {
            assert_eq!(
                verifier.verify(*alg, key, INPUT, signature).await,
                Ok(()),
                "{alg}"
            );
            for how in TAMPERINGS {
                let (input, signature) = tamper(how, INPUT, signature);
                let got = verifier.verify(*alg, key, &input, &signature).await;
                assert_eq!(got, Err(VerifyError::BadSignature), "{alg}: {how}");
            }
        }
        // A signature made for one algorithm never verifies under another that the key also suits.
        for (alg, key, signature) in &minted {
            for other in Algorithm::ALL {
                if other == *alg || !key.suits(other) {
                    continue;
                }
                let got = verifier.verify(other, key, INPUT, signature).await;
                assert_eq!(
                    got,
                    Err(VerifyError::BadSignature),
                    "{alg} signature verified as {other}"
                );
            }
        }
    }
}
