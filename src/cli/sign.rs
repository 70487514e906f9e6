//! The CLI's own token signer and key generator, for local testing only: `edge-access token`, and the `token`
//! field of a cases file.
//!
//! It signs compact JWS with RustCrypto: HMAC (HS256/384/512), RSASSA-PKCS1-v1_5 (RS256/384/512), RSASSA-PSS
//! with a salt as long as the hash (PS256/384/512), ECDSA with the JOSE `r || s` format (ES256, ES384) and
//! Ed25519 (EdDSA). Keys come from private JWKs (`d`, and for RSA `p`/`q` when present) or HMAC secrets. It
//! must never be used to sign production tokens: keys are read from plain files and randomness for key
//! generation and PSS comes from `/dev/urandom` through a hash-based generator ([`Drbg`]).

use std::io::Read;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use edge_access::token::jwk::min_hmac_secret_len;
use edge_access::token::jwt::BASE64URL_STRICT;
use edge_access::token::{Algorithm, KeyFamily};
use hmac::{Hmac, Mac};
use rsa::rand_core::{CryptoRng, RngCore};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPrivateKey};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// A private key the CLI can sign with.
pub enum SigningKey {
    Hmac(Vec<u8>),
    Rsa(Box<RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl SigningKey {
    fn family(&self) -> KeyFamily {
        match self {
            SigningKey::Hmac(_) => KeyFamily::Hmac,
            SigningKey::Rsa(_) => KeyFamily::Rsa,
            SigningKey::P256(_) => KeyFamily::EcP256,
            SigningKey::P384(_) => KeyFamily::EcP384,
            SigningKey::Ed25519(_) => KeyFamily::Ed25519,
        }
    }
}

/// A signing key with what its JWK said about itself.
pub struct PrivateKey {
    pub key: SigningKey,
    pub kid: Option<String>,
    /// The JWK's own `alg`, when it names one.
    pub alg: Option<Algorithm>,
}

/// Why a key could not be read or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("a private jwk must be a json object")]
    NotAnObject,
    #[error("the jwk has no `{0}`")]
    Missing(&'static str),
    #[error("`{0}` is not a string of unpadded base64url")]
    Base64(&'static str),
    #[error("`kty` `{0}` is not supported (expected `RSA`, `EC`, `OKP` or `oct`)")]
    UnsupportedKty(String),
    #[error("curve `{0}` is not supported (expected `P-256`, `P-384` or `Ed25519`)")]
    UnsupportedCurve(String),
    #[error("`alg` `{0}` is not a supported signature algorithm")]
    UnknownAlg(String),
    #[error("the private key `d` is not a valid {0} key")]
    BadPrivateKey(&'static str),
    #[error("the public key (`x`/`y`) does not belong to the private key `d`")]
    PublicMismatch,
    #[error("the rsa key is invalid: {0}")]
    Rsa(String),
    #[error("the rsa modulus is {0} bits long; tokens need 2048 to 8192")]
    RsaSize(usize),
    #[error("cannot read random bytes from `/dev/urandom`: {0}")]
    Random(String),
}

/// Why a token could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("`{alg}` needs {needs}, but the key is {have}")]
    WrongKey {
        alg: Algorithm,
        needs: &'static str,
        have: &'static str,
    },
    #[error("the secret is {len} bytes long; `{alg}` needs at least {min}")]
    ShortSecret {
        alg: Algorithm,
        len: usize,
        min: usize,
    },
    #[error("the key's own `alg` is `{own}`, not `{alg}`")]
    AlgMismatch { own: Algorithm, alg: Algorithm },
    #[error("signing failed: {0}")]
    Backend(String),
    #[error("{0}")]
    Key(#[from] KeyError),
}

fn describe(family: KeyFamily) -> &'static str {
    match family {
        KeyFamily::Hmac => "an hmac secret",
        KeyFamily::Rsa => "an rsa key",
        KeyFamily::EcP256 => "a p-256 key",
        KeyFamily::EcP384 => "a p-384 key",
        KeyFamily::Ed25519 => "an ed25519 key",
    }
}

/// Reads a private JWK: `RSA` (`n`, `e`, `d`, optionally `p`, `q`), `EC` P-256/P-384 (`d`, optional `x`, `y`
/// checked against it), `OKP` Ed25519 (`d`, optional `x` checked), or `oct` (`k`, an HMAC secret).
pub fn parse_private_jwk(value: &Value) -> Result<PrivateKey, KeyError> {
    let obj = value.as_object().ok_or(KeyError::NotAnObject)?;
    let text = |member: &'static str| obj.get(member).and_then(Value::as_str);
    let bytes = |member: &'static str| -> Result<Vec<u8>, KeyError> {
        let s = text(member).ok_or(KeyError::Missing(member))?;
        BASE64URL_STRICT
            .decode(s)
            .map_err(|_| KeyError::Base64(member))
    };
    let alg = match text("alg") {
        None => None,
        Some(name) => {
            Some(Algorithm::from_name(name).ok_or_else(|| KeyError::UnknownAlg(name.to_owned()))?)
        }
    };
    let kid = text("kid").map(str::to_owned);
    let kty = text("kty").ok_or(KeyError::Missing("kty"))?;
    let key = match kty {
        "oct" => SigningKey::Hmac(bytes("k")?),
        "RSA" => {
            let big = |m: &'static str| bytes(m).map(|b| BigUint::from_bytes_be(&b));
            let primes = match (obj.contains_key("p"), obj.contains_key("q")) {
                (true, true) => vec![big("p")?, big("q")?],
                _ => Vec::new(),
            };
            let key = RsaPrivateKey::from_components(big("n")?, big("e")?, big("d")?, primes)
                .map_err(|e| KeyError::Rsa(e.to_string()))?;
            let bits = key.n().bits();
            if !(2048..=8192).contains(&bits) {
                return Err(KeyError::RsaSize(bits));
            }
            SigningKey::Rsa(Box::new(key))
        }
        "EC" => {
            let d = bytes("d")?;
            match text("crv").ok_or(KeyError::Missing("crv"))? {
                "P-256" => {
                    let key = p256::ecdsa::SigningKey::from_slice(&d)
                        .map_err(|_| KeyError::BadPrivateKey("p-256"))?;
                    let point = key.verifying_key().to_encoded_point(false);
                    check_public(obj, "x", point.x().map(|x| &**x))?;
                    check_public(obj, "y", point.y().map(|y| &**y))?;
                    SigningKey::P256(key)
                }
                "P-384" => {
                    let key = p384::ecdsa::SigningKey::from_slice(&d)
                        .map_err(|_| KeyError::BadPrivateKey("p-384"))?;
                    let point = key.verifying_key().to_encoded_point(false);
                    check_public(obj, "x", point.x().map(|x| &**x))?;
                    check_public(obj, "y", point.y().map(|y| &**y))?;
                    SigningKey::P384(key)
                }
                other => return Err(KeyError::UnsupportedCurve(other.to_owned())),
            }
        }
        "OKP" => match text("crv").ok_or(KeyError::Missing("crv"))? {
            "Ed25519" => {
                let d: [u8; 32] = bytes("d")?
                    .try_into()
                    .map_err(|_| KeyError::BadPrivateKey("ed25519"))?;
                let key = ed25519_dalek::SigningKey::from_bytes(&d);
                check_public(obj, "x", Some(key.verifying_key().as_bytes()))?;
                SigningKey::Ed25519(key)
            }
            other => return Err(KeyError::UnsupportedCurve(other.to_owned())),
        },
        other => return Err(KeyError::UnsupportedKty(other.to_owned())),
    };
    Ok(PrivateKey { key, kid, alg })
}

/// When the JWK carries a public member, it must be the private key's.
fn check_public(
    obj: &Map<String, Value>,
    member: &'static str,
    derived: Option<&[u8]>,
) -> Result<(), KeyError> {
    let Some(given) = obj.get(member).and_then(Value::as_str) else {
        return Ok(());
    };
    let given = BASE64URL_STRICT
        .decode(given)
        .map_err(|_| KeyError::Base64(member))?;
    if Some(given.as_slice()) == derived {
        Ok(())
    } else {
        Err(KeyError::PublicMismatch)
    }
}

impl PrivateKey {
    /// The algorithm to sign with when none is asked for: the JWK's own `alg`, else the usual one for the key
    /// (HS256, RS256, ES256, ES384, EdDSA).
    pub fn default_alg(&self) -> Algorithm {
        self.alg.unwrap_or(match self.key.family() {
            KeyFamily::Hmac => Algorithm::HS256,
            KeyFamily::Rsa => Algorithm::RS256,
            KeyFamily::EcP256 => Algorithm::ES256,
            KeyFamily::EcP384 => Algorithm::ES384,
            KeyFamily::Ed25519 => Algorithm::EdDSA,
        })
    }

    /// The public JWK of the key (with its `kid` and `alg` when known); `None` for an HMAC secret.
    pub fn public_jwk(&self) -> Option<Value> {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut jwk = match &self.key {
            SigningKey::Hmac(_) => return None,
            SigningKey::Rsa(k) => json!({
                "kty": "RSA", "n": b64(&k.n().to_bytes_be()), "e": b64(&k.e().to_bytes_be()),
            }),
            SigningKey::P256(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                json!({
                    "kty": "EC", "crv": "P-256",
                    "x": b64(p.x().map_or(&[][..], |x| &**x)),
                    "y": b64(p.y().map_or(&[][..], |y| &**y)),
                })
            }
            SigningKey::P384(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                json!({
                    "kty": "EC", "crv": "P-384",
                    "x": b64(p.x().map_or(&[][..], |x| &**x)),
                    "y": b64(p.y().map_or(&[][..], |y| &**y)),
                })
            }
            SigningKey::Ed25519(k) => json!({
                "kty": "OKP", "crv": "Ed25519", "x": b64(k.verifying_key().as_bytes()),
            }),
        };
        if let Some(obj) = jwk.as_object_mut() {
            obj.insert("use".into(), "sig".into());
            obj.insert("alg".into(), self.default_alg().name().into());
            if let Some(kid) = &self.kid {
                obj.insert("kid".into(), kid.clone().into());
            }
        }
        Some(jwk)
    }

    /// The private JWK (public members, `d` and for RSA the CRT members); `None` for an HMAC secret.
    pub fn private_jwk(&self) -> Option<Value> {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut jwk = self.public_jwk()?;
        let obj = jwk.as_object_mut()?;
        match &self.key {
            SigningKey::Hmac(_) => return None,
            SigningKey::Rsa(k) => {
                obj.insert("d".into(), b64(&k.d().to_bytes_be()).into());
                if let [p, q] = k.primes() {
                    obj.insert("p".into(), b64(&p.to_bytes_be()).into());
                    obj.insert("q".into(), b64(&q.to_bytes_be()).into());
                }
                if let Some(dp) = k.dp() {
                    obj.insert("dp".into(), b64(&dp.to_bytes_be()).into());
                }
                if let Some(dq) = k.dq() {
                    obj.insert("dq".into(), b64(&dq.to_bytes_be()).into());
                }
                if let Some(qi) = k.crt_coefficient() {
                    obj.insert("qi".into(), b64(&qi.to_bytes_be()).into());
                }
            }
            SigningKey::P256(k) => {
                obj.insert("d".into(), b64(&k.to_bytes()).into());
            }
            SigningKey::P384(k) => {
                obj.insert("d".into(), b64(&k.to_bytes()).into());
            }
            SigningKey::Ed25519(k) => {
                obj.insert("d".into(), b64(&k.to_bytes()).into());
            }
        }
        Some(jwk)
    }
}

/// The RFC 7638 thumbprint of a public JWK (SHA-256 of its required members, base64url): a stable default
/// `kid`.
pub fn thumbprint(public_jwk: &Value) -> Option<String> {
    let s = |m: &str| public_jwk.get(m).and_then(Value::as_str);
    let canonical = match s("kty")? {
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, s("e")?, s("n")?),
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            s("crv")?,
            s("x")?,
            s("y")?
        ),
        "OKP" => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, s("crv")?, s("x")?),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// Signs `header.payload` (compact JWS) with `key` under `alg`, returning the raw signature.
pub fn sign(key: &PrivateKey, alg: Algorithm, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
    if key.key.family() != alg.family() {
        return Err(SignError::WrongKey {
            alg,
            needs: describe(alg.family()),
            have: describe(key.key.family()),
        });
    }
    if let Some(own) = key.alg.filter(|own| *own != alg) {
        return Err(SignError::AlgMismatch { own, alg });
    }
    let backend = |e: rsa::signature::Error| SignError::Backend(e.to_string());
    match (&key.key, alg) {
        (SigningKey::Hmac(secret), _) => {
            let min = min_hmac_secret_len(alg);
            if secret.len() < min {
                return Err(SignError::ShortSecret {
                    alg,
                    len: secret.len(),
                    min,
                });
            }
            match alg {
                Algorithm::HS384 => hmac_sign::<Hmac<Sha384>>(secret, signing_input),
                Algorithm::HS512 => hmac_sign::<Hmac<Sha512>>(secret, signing_input),
                _ => hmac_sign::<Hmac<Sha256>>(secret, signing_input),
            }
        }
        (SigningKey::Rsa(k), _) => {
            let k = (**k).clone();
            let mut rng = Drbg::from_os()?;
            let sig = match alg {
                Algorithm::RS256 => rsa::pkcs1v15::SigningKey::<Sha256>::new(k)
                    .try_sign_with_rng(&mut rng, signing_input)
                    .map(|s| s.to_vec()),
                Algorithm::RS384 => rsa::pkcs1v15::SigningKey::<Sha384>::new(k)
                    .try_sign_with_rng(&mut rng, signing_input)
                    .map(|s| s.to_vec()),
                Algorithm::RS512 => rsa::pkcs1v15::SigningKey::<Sha512>::new(k)
                    .try_sign_with_rng(&mut rng, signing_input)
                    .map(|s| s.to_vec()),
                Algorithm::PS256 => rsa::pss::SigningKey::<Sha256>::new(k)
                    .try_sign_with_rng(&mut rng, signing_input)
                    .map(|s| s.to_vec()),
                Algorithm::PS384 => rsa::pss::SigningKey::<Sha384>::new(k)
                    .try_sign_with_rng(&mut rng, signing_input)
                    .map(|s| s.to_vec()),
                _ => rsa::pss::SigningKey::<Sha512>::new(k)
                    .try_sign_with_rng(&mut rng, signing_input)
                    .map(|s| s.to_vec()),
            };
            sig.map_err(backend)
        }
        (SigningKey::P256(k), _) => {
            let sig: p256::ecdsa::Signature = k.try_sign(signing_input).map_err(backend)?;
            Ok(sig.to_bytes().to_vec())
        }
        (SigningKey::P384(k), _) => {
            let sig: p384::ecdsa::Signature = k.try_sign(signing_input).map_err(backend)?;
            Ok(sig.to_bytes().to_vec())
        }
        (SigningKey::Ed25519(k), _) => {
            let sig = ed25519_dalek::Signer::try_sign(k, signing_input).map_err(backend)?;
            Ok(sig.to_bytes().to_vec())
        }
    }
}

fn hmac_sign<M: Mac + hmac::digest::KeyInit>(
    secret: &[u8],
    input: &[u8],
) -> Result<Vec<u8>, SignError> {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(secret)
        .map_err(|_| SignError::Backend("the hmac secret was refused".to_owned()))?;
    mac.update(input);
    Ok(mac.finalize().into_bytes().to_vec())
}

/// A compact JWS: header `{"alg", "typ": "JWT", "kid"?}` and the claims as given.
pub fn mint(
    key: &PrivateKey,
    alg: Algorithm,
    kid: Option<&str>,
    claims: &Map<String, Value>,
) -> Result<String, SignError> {
    let mut header = Map::new();
    header.insert("alg".into(), alg.name().into());
    header.insert("typ".into(), "JWT".into());
    if let Some(kid) = kid {
        header.insert("kid".into(), kid.into());
    }
    let encode =
        |v: &Map<String, Value>| URL_SAFE_NO_PAD.encode(Value::Object(v.clone()).to_string());
    let signing_input = format!("{}.{}", encode(&header), encode(claims));
    let signature = sign(key, alg, signing_input.as_bytes())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// The kinds of key `token --generate` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyKind {
    Ed25519,
    Es256,
    Es384,
    Rs256,
}

/// A new key pair; `kid` defaults to the RFC 7638 thumbprint.
pub fn generate(kind: KeyKind, kid: Option<&str>) -> Result<PrivateKey, KeyError> {
    let mut rng = Drbg::from_os()?;
    let (key, alg) = match kind {
        KeyKind::Ed25519 => {
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            (
                SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed)),
                Algorithm::EdDSA,
            )
        }
        KeyKind::Es256 => (
            SigningKey::P256(p256::ecdsa::SigningKey::random(&mut rng)),
            Algorithm::ES256,
        ),
        KeyKind::Es384 => (
            SigningKey::P384(p384::ecdsa::SigningKey::random(&mut rng)),
            Algorithm::ES384,
        ),
        KeyKind::Rs256 => {
            let key =
                RsaPrivateKey::new(&mut rng, 2048).map_err(|e| KeyError::Rsa(e.to_string()))?;
            (SigningKey::Rsa(Box::new(key)), Algorithm::RS256)
        }
    };
    let mut out = PrivateKey {
        key,
        kid: None,
        alg: Some(alg),
    };
    out.kid = match kid {
        Some(k) => Some(k.to_owned()),
        None => out.public_jwk().as_ref().and_then(thumbprint),
    };
    Ok(out)
}

/// A deterministic random bit generator seeded with 64 bytes from `/dev/urandom`: block `i` is
/// `SHA-512(seed || i)`. Enough for test keys and PSS salts; no other use.
pub struct Drbg {
    seed: [u8; 64],
    counter: u64,
    block: [u8; 64],
    used: usize,
}

impl Drbg {
    pub fn from_os() -> Result<Drbg, KeyError> {
        let mut seed = [0u8; 64];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut seed))
            .map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Drbg {
            seed,
            counter: 0,
            block: [0; 64],
            used: 64,
        })
    }

    fn refill(&mut self) {
        let digest = Sha512::new()
            .chain_update(self.seed)
            .chain_update(self.counter.to_be_bytes())
            .finalize();
        self.block.copy_from_slice(&digest);
        self.counter = self.counter.wrapping_add(1);
        self.used = 0;
    }
}

impl RngCore for Drbg {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for out in dest.iter_mut() {
            if self.used >= self.block.len() {
                self.refill();
            }
            if let Some(b) = self.block.get(self.used) {
                *out = *b;
            }
            self.used += 1;
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for Drbg {}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_access::token::jwk::{parse_jwk, VerifyKey};
    use edge_access::verify::rustcrypto::RustCryptoVerifier;

    fn verify(public: &Value, alg: Algorithm, token: &str) -> bool {
        let key = parse_jwk(public).unwrap();
        verify_with(&key, alg, token)
    }

    fn verify_with(key: &VerifyKey, alg: Algorithm, token: &str) -> bool {
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        RustCryptoVerifier
            .verify_sync(alg, key, input.as_bytes(), &sig)
            .is_ok()
    }

    fn claims() -> Map<String, Value> {
        json!({"sub": "alice", "exp": 2_000_000_000u64})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn every_algorithm_round_trips_through_the_verifier() {
        let ed = generate(KeyKind::Ed25519, Some("ed")).unwrap();
        let p256 = generate(KeyKind::Es256, None).unwrap();
        let p384 = generate(KeyKind::Es384, Some("p384")).unwrap();
        let rsa_jwk: Value = serde_json::from_str(include_str!(
            "../../examples/cloudflare-access/TEST-ONLY-access.private.jwk.json"
        ))
        .unwrap();
        let rsa = parse_private_jwk(&rsa_jwk).unwrap();
        let mut rsa_any = parse_private_jwk(&rsa_jwk).unwrap();
        rsa_any.alg = None;
        let cases: &[(&str, &PrivateKey, Algorithm)] = &[
            ("ed25519", &ed, Algorithm::EdDSA),
            ("p-256", &p256, Algorithm::ES256),
            ("p-384", &p384, Algorithm::ES384),
            ("rs256", &rsa, Algorithm::RS256),
            ("rs384", &rsa_any, Algorithm::RS384),
            ("rs512", &rsa_any, Algorithm::RS512),
            ("ps256", &rsa_any, Algorithm::PS256),
            ("ps384", &rsa_any, Algorithm::PS384),
            ("ps512", &rsa_any, Algorithm::PS512),
        ];
        for (name, key, alg) in cases {
            let token = mint(key, *alg, key.kid.as_deref(), &claims()).unwrap();
            let mut public = key.public_jwk().unwrap();
            public
                .as_object_mut()
                .unwrap()
                .insert("alg".into(), alg.name().into());
            assert!(verify(&public, *alg, &token), "case {name}");
            // Tampered payloads do not verify.
            let (h, rest) = token.split_once('.').unwrap();
            let (_, s) = rest.split_once('.').unwrap();
            let forged = format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode(r#"{"sub":"mallory"}"#));
            assert!(!verify(&public, *alg, &forged), "case {name} (forged)");
        }
        // A private JWK written out reads back as the same key.
        for (name, key) in [("ed", &ed), ("p256", &p256), ("p384", &p384), ("rsa", &rsa)] {
            let again = parse_private_jwk(&key.private_jwk().unwrap()).unwrap();
            assert_eq!(again.public_jwk(), key.public_jwk(), "case {name}");
            assert_eq!(again.kid, key.kid, "case {name}");
        }
        assert_eq!(p256.kid, p256.public_jwk().as_ref().and_then(thumbprint));
    }

    #[test]
    fn hmac_round_trips_and_refuses_short_secrets() {
        let secret = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let key = PrivateKey {
            key: SigningKey::Hmac(secret.to_vec()),
            kid: None,
            alg: None,
        };
        let verify_key = VerifyKey::hmac(secret).unwrap();
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let token = mint(&key, alg, None, &claims()).unwrap();
            assert!(verify_with(&verify_key, alg, &token), "{alg}");
        }
        let short = PrivateKey {
            key: SigningKey::Hmac(b"0123456789abcdef0123456789abcdef".to_vec()),
            kid: None,
            alg: None,
        };
        assert!(mint(&short, Algorithm::HS256, None, &claims()).is_ok());
        assert_eq!(
            mint(&short, Algorithm::HS384, None, &claims()).err(),
            Some(SignError::ShortSecret {
                alg: Algorithm::HS384,
                len: 32,
                min: 48
            })
        );
    }

    #[test]
    fn refuses_keys_that_do_not_fit() {
        let ed = generate(KeyKind::Ed25519, None).unwrap();
        let err = mint(&ed, Algorithm::RS256, None, &claims()).err().unwrap();
        assert_eq!(
            err.to_string(),
            "`RS256` needs an rsa key, but the key is an ed25519 key"
        );
        let err = mint(&ed, Algorithm::HS256, None, &claims()).err().unwrap();
        assert_eq!(
            err.to_string(),
            "`HS256` needs an hmac secret, but the key is an ed25519 key"
        );
        // JWKs that are not usable private keys.
        let cases: &[(Value, &str)] = &[
            (json!([]), "a private jwk must be a json object"),
            (json!({"kty": "EC", "crv": "P-256"}), "the jwk has no `d`"),
            (
                json!({"kty": "OKP", "crv": "X25519", "d": "AAAA"}),
                "curve `X25519` is not supported",
            ),
            (
                json!({"kty": "oct", "k": "a+b"}),
                "`k` is not a string of unpadded base64url",
            ),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "d": "AAAA"}),
                "the private key `d` is not a valid ed25519 key",
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "d": URL_SAFE_NO_PAD.encode([0u8; 32])}),
                "not a valid p-256 key",
            ),
            (json!({"kty": "XYZ"}), "`kty` `XYZ` is not supported"),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "alg": "none", "d": "AAAA"}),
                "`alg` `none` is not a supported",
            ),
        ];
        for (jwk, want) in cases {
            let err = parse_private_jwk(jwk).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains(want)),
                "jwk {jwk}: got {err:?}"
            );
        }
        // A public member that is not the private key's.
        let mut jwk = ed.private_jwk().unwrap();
        let other = generate(KeyKind::Ed25519, None)
            .unwrap()
            .public_jwk()
            .unwrap();
        jwk["x"] = other["x"].clone();
        assert_eq!(
            parse_private_jwk(&jwk).err(),
            Some(KeyError::PublicMismatch)
        );
    }

    #[test]
    fn drbg_output_differs_between_blocks_and_instances() {
        let mut a = Drbg::from_os().unwrap();
        let mut b = Drbg::from_os().unwrap();
        let mut x = [0u8; 100];
        let mut y = [0u8; 100];
        a.fill_bytes(&mut x);
        b.fill_bytes(&mut y);
        assert_ne!(x, y);
        assert_ne!(x.get(..32), x.get(64..96));
    }
}
