//! RustCrypto verifier (native: CLI, tests, benches).
//!
//! Synchronous RustCrypto checks behind the asynchronous-shaped [`SignatureVerifier`] seam: the future it returns
//! is ready at once (drive it with [`crate::verify::now_or_never`], or call
//! [`RustCryptoVerifier::verify_sync`]). It verifies; it never signs, never chooses a key and never looks at
//! claims.
//!
//! Per algorithm:
//! - HS256/384/512: HMAC with a constant-time comparison of the whole tag (a truncated tag is a bad signature);
//! - RS256/384/512: RSASSA-PKCS1-v1_5; PS256/384/512: RSASSA-PSS with MGF1 over the same hash and a salt exactly
//!   as long as the hash (RFC 7518 section 3.5; the `rsa` crate checks the salt length strictly, so a PSS
//!   signature made with another salt length does not verify). The signature must be exactly as long as the
//!   modulus. The modulus must be 2048 to 8192 bits, whoever built the key;
//! - ES256/ES384: ECDSA over P-256/P-384 with the JOSE signature format, `r || s` fixed-size (64/96 bytes); DER,
//!   or any other length, is a bad signature, as is `r` or `s` zero or not below the group order;
//! - EdDSA: Ed25519 with `verify_strict` (canonical `S`, no small-order `R` or key).
//!
//! A key that does not suit the algorithm is [`VerifyError::KeyMismatch`], checked first. Key material the
//! crates refuse at import (a point off its curve, an Ed25519 key of small order, an RSA key they reject) is
//! [`VerifyError::Backend`] with a message that names the problem, never the key.

use std::future::Future;

use hmac::{Hmac, Mac};
use rsa::signature::Verifier;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};
use sha2::{Sha256, Sha384, Sha512};

use super::{SignatureVerifier, VerifyError};
use crate::token::jwk::{KeyMaterial, VerifyKey, MAX_RSA_BITS, MIN_RSA_BITS};
use crate::token::Algorithm;

/// The RustCrypto [`SignatureVerifier`]. Stateless: keys are imported on every call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RustCryptoVerifier;

impl SignatureVerifier for RustCryptoVerifier {
    fn verify(
        &self,
        alg: Algorithm,
        key: &VerifyKey,
        signing_input: &[u8],
        signature: &[u8],
    ) -> impl Future<Output = Result<(), VerifyError>> {
        std::future::ready(self.verify_sync(alg, key, signing_input, signature))
    }
}

impl RustCryptoVerifier {
    /// The same check as [`SignatureVerifier::verify`], without the future.
    pub fn verify_sync(
        &self,
        alg: Algorithm,
        key: &VerifyKey,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), VerifyError> {
        if !key.suits(alg) {
            return Err(VerifyError::KeyMismatch);
        }
        match (alg, &key.material) {
            (Algorithm::HS256, KeyMaterial::Hmac(secret)) => {
                hmac_verify::<Hmac<Sha256>>(secret, signing_input, signature)
            }
            (Algorithm::HS384, KeyMaterial::Hmac(secret)) => {
                hmac_verify::<Hmac<Sha384>>(secret, signing_input, signature)
            }
            (Algorithm::HS512, KeyMaterial::Hmac(secret)) => {
                hmac_verify::<Hmac<Sha512>>(secret, signing_input, signature)
            }
            (Algorithm::RS256, KeyMaterial::Rsa { n, e }) => {
                pkcs1_verify::<Sha256>(rsa_key(n, e)?, signing_input, signature)
            }
            (Algorithm::RS384, KeyMaterial::Rsa { n, e }) => {
                pkcs1_verify::<Sha384>(rsa_key(n, e)?, signing_input, signature)
            }
            (Algorithm::RS512, KeyMaterial::Rsa { n, e }) => {
                pkcs1_verify::<Sha512>(rsa_key(n, e)?, signing_input, signature)
            }
            (Algorithm::PS256, KeyMaterial::Rsa { n, e }) => {
                pss_verify::<Sha256>(rsa_key(n, e)?, signing_input, signature)
            }
            (Algorithm::PS384, KeyMaterial::Rsa { n, e }) => {
                pss_verify::<Sha384>(rsa_key(n, e)?, signing_input, signature)
            }
            (Algorithm::PS512, KeyMaterial::Rsa { n, e }) => {
                pss_verify::<Sha512>(rsa_key(n, e)?, signing_input, signature)
            }
            (Algorithm::ES256, KeyMaterial::EcP256 { x, y }) => {
                es256_verify(x, y, signing_input, signature)
            }
            (Algorithm::ES384, KeyMaterial::EcP384 { x, y }) => {
                es384_verify(x, y, signing_input, signature)
            }
            (Algorithm::EdDSA, KeyMaterial::Ed25519 { x }) => {
                ed25519_verify(x, signing_input, signature)
            }
            // `suits` agreed, so the family matches; this arm is only reached if the two ever disagree.
            _ => Err(VerifyError::KeyMismatch),
        }
    }
}

fn backend(message: &str) -> VerifyError {
    VerifyError::Backend(message.to_owned())
}

fn hmac_verify<M: Mac + hmac::digest::KeyInit>(
    secret: &[u8],
    input: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(secret)
        .map_err(|_| backend("the hmac secret was refused"))?;
    mac.update(input);
    // Constant time; a tag of any other length than the hash output is refused.
    mac.verify_slice(signature)
        .map_err(|_| VerifyError::BadSignature)
}

fn rsa_key(n: &[u8], e: &[u8]) -> Result<RsaPublicKey, VerifyError> {
    let n = BigUint::from_bytes_be(n);
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&n.bits()) {
        return Err(backend("the rsa modulus is not 2048 to 8192 bits long"));
    }
    RsaPublicKey::new_with_max_size(n, BigUint::from_bytes_be(e), MAX_RSA_BITS)
        .map_err(|_| backend("the rsa public key was refused by the backend"))
}

fn pkcs1_verify<D>(key: RsaPublicKey, input: &[u8], signature: &[u8]) -> Result<(), VerifyError>
where
    D: sha2::Digest + rsa::pkcs8::AssociatedOid,
{
    if signature.len() != key.size() {
        return Err(VerifyError::BadSignature);
    }
    let signature =
        rsa::pkcs1v15::Signature::try_from(signature).map_err(|_| VerifyError::BadSignature)?;
    rsa::pkcs1v15::VerifyingKey::<D>::new(key)
        .verify(input, &signature)
        .map_err(|_| VerifyError::BadSignature)
}

fn pss_verify<D>(key: RsaPublicKey, input: &[u8], signature: &[u8]) -> Result<(), VerifyError>
where
    D: sha2::Digest + sha2::digest::FixedOutputReset,
{
    if signature.len() != key.size() {
        return Err(VerifyError::BadSignature);
    }
    let signature =
        rsa::pss::Signature::try_from(signature).map_err(|_| VerifyError::BadSignature)?;
    // `new` fixes the salt length to the hash output size and verification checks it exactly.
    rsa::pss::VerifyingKey::<D>::new(key)
        .verify(input, &signature)
        .map_err(|_| VerifyError::BadSignature)
}

/// The SEC1 uncompressed encoding `0x04 || x || y` of an affine point.
fn uncompressed_point<const N: usize>(x: &[u8; N], y: &[u8; N]) -> Vec<u8> {
    let mut point = Vec::with_capacity(1 + 2 * N);
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    point
}

fn es256_verify(
    x: &[u8; 32],
    y: &[u8; 32],
    input: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    use p256::ecdsa::{Signature, VerifyingKey};
    let key = VerifyingKey::from_sec1_bytes(&uncompressed_point(x, y))
        .map_err(|_| backend("the p-256 public key is not a point on the curve"))?;
    if signature.len() != 64 {
        return Err(VerifyError::BadSignature);
    }
    // `from_slice` refuses r or s zero or not below the group order.
    let signature = Signature::from_slice(signature).map_err(|_| VerifyError::BadSignature)?;
    key.verify(input, &signature)
        .map_err(|_| VerifyError::BadSignature)
}

fn es384_verify(
    x: &[u8; 48],
    y: &[u8; 48],
    input: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    use p384::ecdsa::{Signature, VerifyingKey};
    let key = VerifyingKey::from_sec1_bytes(&uncompressed_point(x, y))
        .map_err(|_| backend("the p-384 public key is not a point on the curve"))?;
    if signature.len() != 96 {
        return Err(VerifyError::BadSignature);
    }
    let signature = Signature::from_slice(signature).map_err(|_| VerifyError::BadSignature)?;
    key.verify(input, &signature)
        .map_err(|_| VerifyError::BadSignature)
}

fn ed25519_verify(x: &[u8; 32], input: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
    let key = ed25519_dalek::VerifyingKey::from_bytes(x)
        .map_err(|_| backend("the ed25519 public key is not a valid point"))?;
    if key.is_weak() {
        return Err(backend("the ed25519 public key has small order"));
    }
    let signature: &[u8; 64] = signature
        .try_into()
        .map_err(|_| VerifyError::BadSignature)?;
    key.verify_strict(input, &ed25519_dalek::Signature::from_bytes(signature))
        .map_err(|_| VerifyError::BadSignature)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use super::*;
    use crate::token::jwk::parse_jwk;
    use crate::verify::now_or_never;

    fn b64(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).unwrap()
    }

    // RFC 7515 Appendix A.3 (ES256), public members.
    const P256_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const P256_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    const A3_INPUT: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    const A3_SIG: &str =
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    // RFC 8037 Appendix A.4 (Ed25519).
    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const A4_INPUT: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    const A4_SIG: &str =
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

    fn p256(x: [u8; 32], y: [u8; 32]) -> VerifyKey {
        VerifyKey {
            kid: None,
            alg: None,
            material: KeyMaterial::EcP256 { x, y },
        }
    }

    type Outcome = Result<(), VerifyError>;
    /// (name, algorithm, key, signing input, signature, outcome).
    type Case = (
        &'static str,
        Algorithm,
        VerifyKey,
        &'static str,
        Vec<u8>,
        Outcome,
    );

    fn run(alg: Algorithm, key: &VerifyKey, input: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
        now_or_never(RustCryptoVerifier.verify(alg, key, input, sig)).unwrap()
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn key_material_and_signature_shapes() {
        let x: [u8; 32] = b64(P256_X).try_into().unwrap();
        let y: [u8; 32] = b64(P256_Y).try_into().unwrap();
        let mut off_curve_y = y;
        off_curve_y[31] ^= 1;
        let ed: [u8; 32] = b64(ED_X).try_into().unwrap();
        let ed_key = |x: [u8; 32]| VerifyKey {
            kid: None,
            alg: None,
            material: KeyMaterial::Ed25519 { x },
        };
        // The identity point (y = 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let a3 = b64(A3_SIG);
        let a4 = b64(A4_SIG);
        let mut s_zero = a3.clone();
        s_zero[32..].fill(0);
        let mut s_order = a3.clone();
        // The P-256 group order n: s = n is out of range.
        s_order[32..].copy_from_slice(&[
            0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2,
            0xfc, 0x63, 0x25, 0x51,
        ]);
        let backend_p256 = Err(VerifyError::Backend(
            "the p-256 public key is not a point on the curve".into(),
        ));
        let cases: Vec<Case> = vec![
            (
                "es256 rfc",
                Algorithm::ES256,
                p256(x, y),
                A3_INPUT,
                a3.clone(),
                Ok(()),
            ),
            (
                "es256 off curve",
                Algorithm::ES256,
                p256(x, off_curve_y),
                A3_INPUT,
                a3.clone(),
                backend_p256.clone(),
            ),
            (
                "es256 zero point",
                Algorithm::ES256,
                p256([0; 32], [0; 32]),
                A3_INPUT,
                a3.clone(),
                backend_p256,
            ),
            (
                "es256 s zero",
                Algorithm::ES256,
                p256(x, y),
                A3_INPUT,
                s_zero,
                Err(VerifyError::BadSignature),
            ),
            (
                "es256 s = n",
                Algorithm::ES256,
                p256(x, y),
                A3_INPUT,
                s_order,
                Err(VerifyError::BadSignature),
            ),
            (
                "es256 empty sig",
                Algorithm::ES256,
                p256(x, y),
                A3_INPUT,
                vec![],
                Err(VerifyError::BadSignature),
            ),
            (
                "es256 as es384",
                Algorithm::ES384,
                p256(x, y),
                A3_INPUT,
                a3.clone(),
                Err(VerifyError::KeyMismatch),
            ),
            (
                "es256 as hs256",
                Algorithm::HS256,
                p256(x, y),
                A3_INPUT,
                a3,
                Err(VerifyError::KeyMismatch),
            ),
            (
                "ed25519 rfc",
                Algorithm::EdDSA,
                ed_key(ed),
                A4_INPUT,
                a4.clone(),
                Ok(()),
            ),
            (
                "ed25519 small order key",
                Algorithm::EdDSA,
                ed_key(identity),
                A4_INPUT,
                a4.clone(),
                Err(VerifyError::Backend(
                    "the ed25519 public key has small order".into(),
                )),
            ),
            (
                "ed25519 63 bytes",
                Algorithm::EdDSA,
                ed_key(ed),
                A4_INPUT,
                a4[..63].to_vec(),
                Err(VerifyError::BadSignature),
            ),
            (
                "ed25519 other input",
                Algorithm::EdDSA,
                ed_key(ed),
                A3_INPUT,
                a4,
                Err(VerifyError::BadSignature),
            ),
        ];
        for (name, alg, key, input, sig, want) in cases {
            assert_eq!(
                run(alg, &key, input.as_bytes(), &sig),
                want,
                "case `{name}`"
            );
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn rsa_keys_the_backend_refuses() {
        // parse_jwk would refuse these; the verifier must too when a key is built by hand.
        let mut n = vec![0xffu8; 128];
        n[127] = 0xfd;
        let short = VerifyKey {
            kid: None,
            alg: None,
            material: KeyMaterial::Rsa {
                n,
                e: vec![1, 0, 1],
            },
        };
        let even_e = VerifyKey {
            kid: None,
            alg: None,
            material: KeyMaterial::Rsa {
                n: vec![0xffu8; 256],
                e: vec![1, 0, 0],
            },
        };
        let cases = [
            (
                "1024-bit modulus",
                &short,
                "the rsa modulus is not 2048 to 8192 bits long",
            ),
            (
                "even exponent",
                &even_e,
                "the rsa public key was refused by the backend",
            ),
        ];
        for (name, key, message) in cases {
            assert_eq!(
                run(Algorithm::RS256, key, b"a.b", &[0u8; 256]),
                Err(VerifyError::Backend(message.into())),
                "case `{name}`"
            );
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn hmac_tags_must_be_whole() {
        // RFC 7515 Appendix A.1.
        let key = VerifyKey::hmac(&b64(
            "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
        ))
        .unwrap();
        let input = b"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let tag = b64("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let mut flipped = tag.clone();
        flipped[0] ^= 0x80;
        let cases: [(&str, Algorithm, Vec<u8>, Outcome); 6] = [
            ("rfc tag", Algorithm::HS256, tag.clone(), Ok(())),
            (
                "first 16 bytes",
                Algorithm::HS256,
                tag[..16].to_vec(),
                Err(VerifyError::BadSignature),
            ),
            (
                "empty",
                Algorithm::HS256,
                vec![],
                Err(VerifyError::BadSignature),
            ),
            (
                "flipped bit",
                Algorithm::HS256,
                flipped,
                Err(VerifyError::BadSignature),
            ),
            (
                "as hs384",
                Algorithm::HS384,
                tag.clone(),
                Err(VerifyError::BadSignature),
            ),
            (
                "as rs256",
                Algorithm::RS256,
                tag,
                Err(VerifyError::KeyMismatch),
            ),
        ];
        for (name, alg, sig, want) in cases {
            assert_eq!(run(alg, &key, input, &sig), want, "case `{name}`");
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn jwk_alg_pins_the_algorithm() {
        let key = parse_jwk(&serde_json::json!({
            "kty": "EC", "crv": "P-256", "x": P256_X, "y": P256_Y, "alg": "ES256"
        }))
        .unwrap();
        assert_eq!(
            run(Algorithm::ES256, &key, A3_INPUT.as_bytes(), &b64(A3_SIG)),
            Ok(())
        );
        for alg in Algorithm::ALL
            .into_iter()
            .filter(|a| *a != Algorithm::ES256)
        {
            assert_eq!(
                run(alg, &key, A3_INPUT.as_bytes(), &b64(A3_SIG)),
                Err(VerifyError::KeyMismatch),
                "alg {alg}"
            );
        }
    }
}
