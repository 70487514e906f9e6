//! Verification keys: JWKs (RFC 7517/7518/8037) validated into key material, and HMAC secrets.
//!
//! [`parse_jwks`] and [`parse_jwk`] turn a JWK Set or one JWK into [`VerifyKey`]s; [`VerifyKey::hmac`] wraps an
//! HMAC secret. The same code runs in `build.rs` (a bundled JWKS is validated at build time), in the CLI and in the
//! Worker (a JWKS fetched at runtime), so it is pure, synchronous and free of cryptography.
//!
//! What a JWK must be to be accepted:
//! - `kty` `RSA` (`n`, `e`), `EC` (`crv` `P-256` or `P-384`, `x`, `y`) or `OKP` (`crv` `Ed25519`, `x`); every
//!   byte member is strict unpadded base64url (no padding, no `+`/`/`, no whitespace, no stray trailing bits);
//! - RSA: `n` has no leading zero byte, is odd and is 2048 to 8192 bits long; `e` has no leading zero byte, is
//!   odd, at least 3 and at most 4 bytes long (so at most 2^32 - 1; 65537 is what everyone uses);
//! - EC and OKP: coordinates exactly as long as the curve's field (32 bytes for P-256 and Ed25519, 48 for P-384),
//!   as RFC 7518 section 6.2.1.2 requires;
//! - `kty` `oct` is refused: HMAC secrets never live in a JWKS, bundled or fetched; they come from Worker secrets
//!   through [`VerifyKey::hmac`];
//! - no private member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`): a private key must never be bundled or
//!   fetched, whatever its type;
//! - `use` absent or `sig`; `key_ops`, if present, an array of distinct strings that includes `verify`;
//! - `alg`, if present, one of [`Algorithm`] whose key family is the key's (RS*/PS* for RSA, ES256 for P-256,
//!   ES384 for P-384, EdDSA for Ed25519): an HS* `alg` on an asymmetric key is refused, `none` is unknown;
//! - `kid`, if present, a non-empty string of at most [`MAX_KID_LEN`] bytes;
//! - other members (`x5c`, `x5t`, `x5t#S256`, `x5u`, anything unknown) are ignored, never followed.
//!
//! Points are NOT validated against their curve here: that needs the curve arithmetic this module must not link.
//! The verifiers reject a point that is not on its curve (or an Ed25519 key of small order) when they import the
//! key, as an internal error, so such a key can never verify anything.
//!
//! Errors name the key's position and `kid` and the member at fault, never key bytes; values echoed from the
//! document (`kty`, `crv`, `use`, `alg`, `kid`) are escaped and truncated.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use super::{Algorithm, KeyFamily};

/// Validated key material. Byte strings are as the JWK encodes them after base64url decoding.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KeyMaterial {
    /// An HMAC secret.
    Hmac(Vec<u8>),
    /// An RSA public key: modulus and exponent, big-endian, no leading zero bytes.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// A P-256 public key: affine coordinates, 32 bytes each.
    EcP256 { x: [u8; 32], y: [u8; 32] },
    /// A P-384 public key: affine coordinates, 48 bytes each.
    EcP384 {
        #[serde(with = "bytes48")]
        x: [u8; 48],
        #[serde(with = "bytes48")]
        y: [u8; 48],
    },
    /// An Ed25519 public key.
    Ed25519 { x: [u8; 32] },
}

/// Key material never appears in debug output.
impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyMaterial::Hmac(_) => "Hmac(..)",
            KeyMaterial::Rsa { .. } => "Rsa(..)",
            KeyMaterial::EcP256 { .. } => "EcP256(..)",
            KeyMaterial::EcP384 { .. } => "EcP384(..)",
            KeyMaterial::Ed25519 { .. } => "Ed25519(..)",
        })
    }
}

/// A key a token may be verified with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerifyKey {
    /// The JWK's `kid`, when it has one.
    pub kid: Option<String>,
    /// The JWK's own `alg`, when it names one: the key is then usable with that algorithm only.
    pub alg: Option<Algorithm>,
    pub material: KeyMaterial,
}

impl VerifyKey {
    /// The family of the key's material.
    pub fn family(&self) -> KeyFamily {
        match self.material {
            KeyMaterial::Hmac(_) => KeyFamily::Hmac,
            KeyMaterial::Rsa { .. } => KeyFamily::Rsa,
            KeyMaterial::EcP256 { .. } => KeyFamily::EcP256,
            KeyMaterial::EcP384 { .. } => KeyFamily::EcP384,
            KeyMaterial::Ed25519 { .. } => KeyFamily::Ed25519,
        }
    }

    /// Whether the key may verify `alg`: the families agree and the key's own `alg`, if any, is `alg`. An HMAC
    /// algorithm never suits an asymmetric key (the classic confusion attack), whatever the token says.
    pub fn suits(&self, alg: Algorithm) -> bool {
        self.family() == alg.family() && self.alg.is_none_or(|own| own == alg)
    }
}

/// Serde for the 48-byte P-384 coordinates (serde stops at 32-element arrays), as a sequence of bytes.
mod bytes48 {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 48], s: S) -> Result<S::Ok, S::Error> {
        bytes.as_slice().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 48], D::Error> {
        let bytes = Vec::<u8>::deserialize(d)?;
        <[u8; 48]>::try_from(bytes.as_slice())
            .map_err(|_| serde::de::Error::invalid_length(bytes.len(), &"48 bytes"))
    }
}

/// The longest `kid` accepted, in bytes.
pub const MAX_KID_LEN: usize = 256;
/// The most keys one JWKS may hold (a cap on work for a fetched document; real issuers publish a handful).
pub const MAX_JWKS_KEYS: usize = 100;
/// The shortest HMAC secret accepted at all, in bytes (the HS256 minimum, see [`min_hmac_secret_len`]).
pub const MIN_HMAC_SECRET_LEN: usize = 32;
/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits.
pub const MAX_RSA_BITS: usize = 8192;
/// The longest RSA public exponent accepted, in bytes.
pub const MAX_RSA_EXPONENT_LEN: usize = 4;

/// Members that only a private (or symmetric) JWK has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
/// How many characters of a value taken from the document an error message shows.
const SHOWN_CHARS: usize = 64;

/// Where a JWKS comes from, which decides how a key it cannot use is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JwksMode {
    /// In the policy file: strict, any bad key (or duplicate `kid`) is an error, so a mistake fails the build.
    Bundled,
    /// Fetched at runtime: a key that cannot be used (or repeats an earlier key's `kid`) is skipped and reported,
    /// so an issuer publishing, say, an encryption key next to its signing keys does not break verification.
    Remote,
}

/// The usable keys of a JWKS, in document order, and the keys skipped (only in [`JwksMode::Remote`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksParsed {
    pub keys: Vec<VerifyKey>,
    /// Each skipped key's position in `keys` and why it was skipped (a [`JwkError::InKey`], so its message names
    /// the key on its own).
    pub skipped: Vec<(usize, JwkError)>,
}

/// Why a JWK, a JWKS or an HMAC secret was refused. No variant carries key bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    #[error("a jwks must be a json object with a `keys` array")]
    NotAJwks,
    #[error("the jwks has no keys")]
    EmptyJwks,
    #[error("the jwks has {count} keys, over the limit of {max}")]
    TooManyKeys { count: usize, max: usize },
    /// An error in one key of a JWKS: its position, its `kid` when it has a valid one (escaped), and the error.
    #[error("keys[{index}]{}: {error}", kid_note(.kid))]
    InKey {
        index: usize,
        kid: Option<String>,
        error: Box<JwkError>,
    },
    #[error("a jwk must be a json object")]
    NotAnObject,
    #[error("`{0}` is missing")]
    Missing(&'static str),
    #[error("`{member}` must be {expected}")]
    WrongType {
        member: &'static str,
        expected: &'static str,
    },
    #[error("`{0}` is not strict unpadded base64url")]
    Base64(&'static str),
    #[error("`{member}` is longer than {max} bytes")]
    TooLong { member: &'static str, max: usize },
    #[error("`kty` `{0}` is not supported (expected `RSA`, `EC` or `OKP`)")]
    UnsupportedKty(String),
    #[error("`kty` `oct` is refused: hmac secrets come from worker secrets, never from a jwks")]
    SymmetricKey,
    #[error("private key member `{0}` is present: a private key must never be bundled or fetched")]
    PrivateMember(&'static str),
    #[error("`use` is `{0}`, not `sig`")]
    Use(String),
    #[error("`key_ops` does not include `verify`")]
    KeyOpsWithoutVerify,
    #[error("`key_ops` lists `{0}` twice")]
    KeyOpsDuplicate(String),
    #[error("`alg` `{0}` is not a supported signature algorithm")]
    UnknownAlg(String),
    #[error("`alg` `{alg}` does not suit {key} key")]
    AlgMismatch { alg: Algorithm, key: &'static str },
    #[error("`kid` is empty")]
    EmptyKid,
    #[error("`kid` is {len} bytes long, over the limit of {max}")]
    KidTooLong { len: usize, max: usize },
    #[error("`{0}` has a leading zero byte")]
    LeadingZero(&'static str),
    #[error("the rsa modulus is {bits} bits long, outside {min}..={max}")]
    RsaModulusSize { bits: usize, min: usize, max: usize },
    #[error("the rsa modulus is even")]
    RsaModulusEven,
    #[error("the rsa exponent must be odd, at least 3 and at most {max} bytes long")]
    RsaExponent { max: usize },
    #[error("curve `{crv}` is not supported for `kty` `{kty}`")]
    UnsupportedCurve { kty: &'static str, crv: String },
    #[error("curve `{0}` is for key agreement, not signatures")]
    KeyAgreementCurve(String),
    #[error("`{member}` is {len} bytes long, expected {expected} for {curve}")]
    CoordinateLength {
        member: &'static str,
        len: usize,
        expected: usize,
        curve: &'static str,
    },
    #[error("`kid` `{kid}` repeats the one of keys[{first}]")]
    DuplicateKid { kid: String, first: usize },
    #[error("the hmac secret is {len} bytes long, under the minimum of {min}")]
    HmacTooShort { len: usize, min: usize },
}

fn kid_note(kid: &Option<String>) -> String {
    kid.as_ref()
        .map(|k| format!(" (kid `{k}`)"))
        .unwrap_or_default()
}

/// A value from the document, made safe to print: control and format characters escaped, at most
/// [`SHOWN_CHARS`] characters.
fn shown(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == SHOWN_CHARS {
            out.push_str("...");
            break;
        }
        out.extend(c.escape_debug());
    }
    out
}

/// The shortest secret RFC 7518 section 3.2 allows for `alg`: as long as the hash output (32, 48 or 64 bytes for
/// HS256, HS384, HS512). 0 for the asymmetric algorithms, which take no secret.
pub fn min_hmac_secret_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::HS256 => 32,
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512
        | Algorithm::ES256
        | Algorithm::ES384
        | Algorithm::EdDSA => 0,
    }
}

impl VerifyKey {
    /// An HMAC key from a secret (a Worker secret, never a JWKS), without `kid` or `alg`. The secret must be at
    /// least [`MIN_HMAC_SECRET_LEN`] (32) bytes; whoever pins HS384 or HS512 for the key must also check
    /// [`min_hmac_secret_len`] for that algorithm.
    pub fn hmac(secret: &[u8]) -> Result<VerifyKey, JwkError> {
        if secret.len() < MIN_HMAC_SECRET_LEN {
            return Err(JwkError::HmacTooShort {
                len: secret.len(),
                min: MIN_HMAC_SECRET_LEN,
            });
        }
        Ok(VerifyKey {
            kid: None,
            alg: None,
            material: KeyMaterial::Hmac(secret.to_vec()),
        })
    }
}

/// Parses a JWK Set (`{"keys": [...]}`; other top-level members are ignored) into its keys, in document order.
///
/// [`JwksMode::Bundled`]: the first bad key, or a `kid` that repeats an earlier one, is an error, as is an empty
/// `keys` array. [`JwksMode::Remote`]: such keys are skipped and listed in [`JwksParsed::skipped`] (a repeated
/// `kid` only counts keys that were kept: the first usable key with a `kid` wins); an empty or all-skipped set
/// yields no keys, which verifies nothing. In both modes a document that is not a JWKS, or holds more than
/// [`MAX_JWKS_KEYS`] keys, is an error.
///
/// The caller parses the JSON text; it should refuse duplicate member names there (a `serde_json::Value` keeps
/// the last one silently).
pub fn parse_jwks(doc: &Value, mode: JwksMode) -> Result<JwksParsed, JwkError> {
    let entries = doc
        .as_object()
        .and_then(|o| o.get("keys"))
        .and_then(Value::as_array)
        .ok_or(JwkError::NotAJwks)?;
    if entries.len() > MAX_JWKS_KEYS {
        return Err(JwkError::TooManyKeys {
            count: entries.len(),
            max: MAX_JWKS_KEYS,
        });
    }
    if entries.is_empty() && mode == JwksMode::Bundled {
        return Err(JwkError::EmptyJwks);
    }
    let mut parsed = JwksParsed {
        keys: Vec::with_capacity(entries.len()),
        skipped: Vec::new(),
    };
    // (kid, position in the document) of each kept key that has a kid.
    let mut kids: Vec<(&str, usize)> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let outcome = parse_jwk(entry).and_then(|key| {
            let earlier = key
                .kid
                .as_deref()
                .and_then(|kid| kids.iter().find(|(k, _)| *k == kid));
            match earlier {
                Some((kid, first)) => Err(JwkError::DuplicateKid {
                    kid: shown(kid),
                    first: *first,
                }),
                None => Ok(key),
            }
        });
        match outcome {
            Ok(key) => {
                if let Some(kid) = entry.get("kid").and_then(Value::as_str) {
                    kids.push((kid, index));
                }
                parsed.keys.push(key);
            }
            Err(error) => {
                let error = JwkError::InKey {
                    index,
                    kid: valid_kid(entry).map(shown),
                    error: Box::new(error),
                };
                match mode {
                    JwksMode::Bundled => return Err(error),
                    JwksMode::Remote => parsed.skipped.push((index, error)),
                }
            }
        }
    }
    Ok(parsed)
}

/// The entry's `kid` when it is one this module accepts (for naming the key in an error).
fn valid_kid(entry: &Value) -> Option<&str> {
    entry
        .get("kid")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KID_LEN)
}

/// Parses and validates one public JWK (see the module documentation for the rules).
pub fn parse_jwk(value: &Value) -> Result<VerifyKey, JwkError> {
    let obj = value.as_object().ok_or(JwkError::NotAnObject)?;
    let kty = required_str(obj, "kty")?;
    if kty == "oct" {
        return Err(JwkError::SymmetricKey);
    }
    if let Some(member) = PRIVATE_MEMBERS.into_iter().find(|m| obj.contains_key(*m)) {
        return Err(JwkError::PrivateMember(member));
    }
    let kid = match optional_str(obj, "kid")? {
        None => None,
        Some("") => return Err(JwkError::EmptyKid),
        Some(k) if k.len() > MAX_KID_LEN => {
            return Err(JwkError::KidTooLong {
                len: k.len(),
                max: MAX_KID_LEN,
            })
        }
        Some(k) => Some(k.to_owned()),
    };
    match optional_str(obj, "use")? {
        None | Some("sig") => {}
        Some(other) => return Err(JwkError::Use(shown(other))),
    }
    check_key_ops(obj)?;
    let alg = optional_str(obj, "alg")?
        .map(|name| Algorithm::from_name(name).ok_or_else(|| JwkError::UnknownAlg(shown(name))))
        .transpose()?;
    let material = match kty {
        "RSA" => rsa_material(obj)?,
        "EC" => ec_material(obj)?,
        "OKP" => okp_material(obj)?,
        other => return Err(JwkError::UnsupportedKty(shown(other))),
    };
    let key = VerifyKey { kid, alg, material };
    if let Some(alg) = alg {
        if alg.family() != key.family() {
            return Err(JwkError::AlgMismatch {
                alg,
                key: family_article(key.family()),
            });
        }
    }
    Ok(key)
}

fn family_article(family: KeyFamily) -> &'static str {
    match family {
        KeyFamily::Hmac => "an hmac",
        KeyFamily::Rsa => "an rsa",
        KeyFamily::EcP256 => "a p-256",
        KeyFamily::EcP384 => "a p-384",
        KeyFamily::Ed25519 => "an ed25519",
    }
}

fn optional_str<'a>(
    obj: &'a Map<String, Value>,
    member: &'static str,
) -> Result<Option<&'a str>, JwkError> {
    match obj.get(member) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JwkError::WrongType {
            member,
            expected: "a string",
        }),
    }
}

fn required_str<'a>(
    obj: &'a Map<String, Value>,
    member: &'static str,
) -> Result<&'a str, JwkError> {
    optional_str(obj, member)?.ok_or(JwkError::Missing(member))
}

fn check_key_ops(obj: &Map<String, Value>) -> Result<(), JwkError> {
    let Some(ops) = obj.get("key_ops") else {
        return Ok(());
    };
    let wrong = JwkError::WrongType {
        member: "key_ops",
        expected: "an array of strings",
    };
    let ops = ops.as_array().ok_or_else(|| wrong.clone())?;
    let mut seen: Vec<&str> = Vec::with_capacity(ops.len());
    for op in ops {
        let op = op.as_str().ok_or_else(|| wrong.clone())?;
        if seen.contains(&op) {
            return Err(JwkError::KeyOpsDuplicate(shown(op)));
        }
        seen.push(op);
    }
    if seen.contains(&"verify") {
        Ok(())
    } else {
        Err(JwkError::KeyOpsWithoutVerify)
    }
}

/// Decodes a required base64url member of at most `max` bytes, without decoding anything longer.
fn bytes(obj: &Map<String, Value>, member: &'static str, max: usize) -> Result<Vec<u8>, JwkError> {
    let text = required_str(obj, member)?;
    // Unpadded base64url of `max` bytes is at most ceil(4 * max / 3) characters.
    if text.len() > max.saturating_mul(4).div_ceil(3) {
        return Err(JwkError::TooLong { member, max });
    }
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| JwkError::Base64(member))
}

/// Decodes a required member that must be exactly `N` bytes (a curve coordinate).
fn fixed<const N: usize>(
    obj: &Map<String, Value>,
    member: &'static str,
    curve: &'static str,
) -> Result<[u8; N], JwkError> {
    // Decode up to twice N so that a plausible mistake (another curve's coordinate) reports its length.
    let raw = bytes(obj, member, 2 * N)?;
    let len = raw.len();
    raw.try_into().map_err(|_| JwkError::CoordinateLength {
        member,
        len,
        expected: N,
        curve,
    })
}

fn rsa_material(obj: &Map<String, Value>) -> Result<KeyMaterial, JwkError> {
    let n = bytes(obj, "n", MAX_RSA_BITS / 8 + 1)?;
    let e = bytes(obj, "e", MAX_RSA_EXPONENT_LEN + 1)?;
    let bits = match n.first() {
        None => 0,
        Some(0) => return Err(JwkError::LeadingZero("n")),
        // Bits of a big-endian unsigned integer whose first byte is not zero.
        Some(first) => n.len().saturating_sub(1) * 8 + (8 - first.leading_zeros() as usize),
    };
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(JwkError::RsaModulusSize {
            bits,
            min: MIN_RSA_BITS,
            max: MAX_RSA_BITS,
        });
    }
    if n.last().is_none_or(|b| b & 1 == 0) {
        return Err(JwkError::RsaModulusEven);
    }
    if e.first() == Some(&0) {
        return Err(JwkError::LeadingZero("e"));
    }
    let exponent_error = JwkError::RsaExponent {
        max: MAX_RSA_EXPONENT_LEN,
    };
    if e.is_empty() || e.len() > MAX_RSA_EXPONENT_LEN {
        return Err(exponent_error);
    }
    let value = e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    if value < 3 || value & 1 == 0 {
        return Err(exponent_error);
    }
    Ok(KeyMaterial::Rsa { n, e })
}

fn ec_material(obj: &Map<String, Value>) -> Result<KeyMaterial, JwkError> {
    match required_str(obj, "crv")? {
        "P-256" => Ok(KeyMaterial::EcP256 {
            x: fixed::<32>(obj, "x", "P-256")?,
            y: fixed::<32>(obj, "y", "P-256")?,
        }),
        "P-384" => Ok(KeyMaterial::EcP384 {
            x: fixed::<48>(obj, "x", "P-384")?,
            y: fixed::<48>(obj, "y", "P-384")?,
        }),
        other => Err(JwkError::UnsupportedCurve {
            kty: "EC",
            crv: shown(other),
        }),
    }
}

fn okp_material(obj: &Map<String, Value>) -> Result<KeyMaterial, JwkError> {
    match required_str(obj, "crv")? {
        "Ed25519" => Ok(KeyMaterial::Ed25519 {
            x: fixed::<32>(obj, "x", "Ed25519")?,
        }),
        crv @ ("X25519" | "X448") => Err(JwkError::KeyAgreementCurve(crv.to_owned())),
        other => Err(JwkError::UnsupportedCurve {
            kty: "OKP",
            crv: shown(other),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Public members of real keys: RFC 7515 A.2 (RSA 2048), A.3 (P-256), RFC 8037 A.2 (Ed25519), and a P-384 key
    // minted by jose (tests/fixtures/jwt). `$N`, `$X256`, ... in the tables are replaced by these.
    const N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    const X256: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y256: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    const X384: &str = "z1OkEiVcAcYm2S1HU_w0RJNP6b81vEzvbbmaJ-JpGvneuWmgiApubRT0ByShENnv";
    const Y384: &str = "BzU27p4pX_fMdCSOVOyv3K1cf0HY9JYqQtpEqSoyBSAUtkUjq4O8tVogVcnTzeqt";
    const ED: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A modulus of `len` bytes: first byte `first`, then 0xff (odd).
    fn modulus(len: usize, first: u8) -> String {
        let mut n = vec![0xffu8; len];
        n[0] = first;
        b64(&n)
    }

    fn expand(template: &str) -> Value {
        let text = template
            .replace("$N8192", &modulus(1024, 0xff))
            .replace("$N8193", &modulus(1025, 0x01))
            .replace("$N2047", &modulus(256, 0x7f))
            .replace("$N2048", &modulus(256, 0x80))
            .replace("$NZERO", &modulus(257, 0x00))
            .replace("$NEVEN", &{
                let mut n = vec![0xffu8; 256];
                n[255] = 0xfe;
                b64(&n)
            })
            .replace("$NHUGE", &"A".repeat(100_000))
            .replace("$N", N)
            .replace("$X256", X256)
            .replace("$Y256", Y256)
            .replace("$X384", X384)
            .replace("$Y384", Y384)
            .replace("$ED", ED)
            .replace("$B33", &b64(&[7u8; 33]))
            .replace("$B31", &b64(&[7u8; 31]))
            .replace("$B48", &b64(&[7u8; 48]))
            .replace("$B1000", &b64(&[7u8; 1000]))
            .replace("$KID257", &"k".repeat(257))
            .replace("$KID256", &"k".repeat(256));
        serde_json::from_str(&text).unwrap()
    }

    /// (name, JWK template, expected family or error message).
    const JWK_CASES: &[(&str, &str, Result<KeyFamily, &str>)] = &[
        // Accepted.
        ("rsa", r#"{"kty":"RSA","n":"$N","e":"AQAB"}"#, Ok(KeyFamily::Rsa)),
        ("rsa full", r#"{"kty":"RSA","n":"$N","e":"AQAB","kid":"k1","use":"sig","alg":"RS256","key_ops":["verify"],"x5c":["MIIB"],"x5t":"abc","x5u":"https://example.com/x"}"#, Ok(KeyFamily::Rsa)),
        ("rsa ps512", r#"{"kty":"RSA","n":"$N","e":"AQAB","alg":"PS512"}"#, Ok(KeyFamily::Rsa)),
        ("rsa 2048 bits exactly", r#"{"kty":"RSA","n":"$N2048","e":"AQAB"}"#, Ok(KeyFamily::Rsa)),
        ("rsa 8192 bits", r#"{"kty":"RSA","n":"$N8192","e":"AQAB"}"#, Ok(KeyFamily::Rsa)),
        ("rsa e 3", r#"{"kty":"RSA","n":"$N","e":"Aw"}"#, Ok(KeyFamily::Rsa)),
        ("rsa e 4 bytes", r#"{"kty":"RSA","n":"$N","e":"_____w"}"#, Ok(KeyFamily::Rsa)),
        ("p-256", r#"{"kty":"EC","crv":"P-256","x":"$X256","y":"$Y256"}"#, Ok(KeyFamily::EcP256)),
        ("p-256 es256", r#"{"kty":"EC","crv":"P-256","x":"$X256","y":"$Y256","alg":"ES256"}"#, Ok(KeyFamily::EcP256)),
        ("p-384", r#"{"kty":"EC","crv":"P-384","x":"$X384","y":"$Y384","alg":"ES384"}"#, Ok(KeyFamily::EcP384)),
        ("ed25519", r#"{"kty":"OKP","crv":"Ed25519","x":"$ED","alg":"EdDSA"}"#, Ok(KeyFamily::Ed25519)),
        ("key_ops with more", r#"{"kty":"OKP","crv":"Ed25519","x":"$ED","key_ops":["sign","verify"]}"#, Ok(KeyFamily::Ed25519)),
        ("kid 256 bytes", r#"{"kty":"OKP","crv":"Ed25519","x":"$ED","kid":"$KID256"}"#, Ok(KeyFamily::Ed25519)),
        ("unknown members ignored", r#"{"kty":"OKP","crv":"Ed25519","x":"$ED","ext":true,"y":"zz"}"#, Ok(KeyFamily::Ed25519)),
        // Shape.
        ("not an object", r#"["RSA"]"#, Err("a jwk must be a json object")),
        ("no kty", r#"{"n":"$N","e":"AQAB"}"#, Err("`kty` is missing")),
        ("kty not a string", r#"{"kty":1}"#, Err("`kty` must be a string")),
        ("kty lower case", r#"{"kty":"rsa","n":"$N","e":"AQAB"}"#, Err("`kty` `rsa` is not supported (expected `RSA`, `EC` or `OKP`)")),
        ("kty escaped", "{\"kty\":\"R\\u0000\\u202eA\"}", Err("`kty` `R\\0\\u{202e}A` is not supported (expected `RSA`, `EC` or `OKP`)")),
        // Symmetric and private keys.
        ("oct", r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ"}"#, Err("`kty` `oct` is refused: hmac secrets come from worker secrets, never from a jwks")),
        ("oct without k", r#"{"kty":"oct"}"#, Err("`kty` `oct` is refused: hmac secrets come from worker secrets, never from a jwks")),
        ("rsa private d", r#"{"kty":"RSA","n":"$N","e":"AQAB","d":"AQAB"}"#, Err("private key member `d` is present: a private key must never be bundled or fetched")),
        ("rsa private p", r#"{"kty":"RSA","n":"$N","e":"AQAB","p":"AQAB"}"#, Err("private key member `p` is present: a private key must never be bundled or fetched")),
        ("rsa private q", r#"{"kty":"RSA","n":"$N","e":"AQAB","q":"AQAB"}"#, Err("private key member `q` is present: a private key must never be bundled or fetched")),
        ("rsa private dp", r#"{"kty":"RSA","n":"$N","e":"AQAB","dp":"AQAB"}"#, Err("private key member `dp` is present: a private key must never be bundled or fetched")),
        ("rsa private dq", r#"{"kty":"RSA","n":"$N","e":"AQAB","dq":"AQAB"}"#, Err("private key member `dq` is present: a private key must never be bundled or fetched")),
        ("rsa private qi", r#"{"kty":"RSA","n":"$N","e":"AQAB","qi":"AQAB"}"#, Err("private key member `qi` is present: a private key must never be bundled or fetched")),
        ("rsa private oth", r#"{"kty":"RSA","n":"$N","e":"AQAB","oth":[]}"#, Err("private key member `oth` is present: a private key must never be bundled or fetched")),
        ("ec private d", r#"{"kty":"EC","crv":"P-256","x":"$X256","y":"$Y256","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#, Err("private key member `d` is present: a private key must never be bundled or fetched")),
        ("okp private d null", r#"{"kty":"OKP","crv":"Ed25519","x":"$ED","d":null}"#, Err("private key member `d` is present: a private key must never be bundled or fetched")),
        ("k on an asymmetric key", r#"{"kty":"OKP","crv":"Ed25519","x":"$ED","k":"AQAB"}"#, Err("private key member `k` is present: a private key must never be bundled or fetched")),
        // use, key_ops.
        ("use enc", r#"{"kty":"RSA","n":"$N","e":"AQAB","use":"enc"}"#, Err("`use` is `enc`, not `sig`")),
        ("use Sig", r#"{"kty":"RSA","n":"$N","e":"AQAB","use":"Sig"}"#, Err("`use` is `Sig`, not `sig`")),
        ("use null", r#"{"kty":"RSA","n":"$N","e":"AQAB","use":null}"#, Err("`use` must be a string")),
        ("key_ops sign only", r#"{"kty":"RSA","n":"$N","e":"AQAB","key_ops":["sign"]}"#, Err("`key_ops` does not include `verify`")),
        ("key_ops empty", r#"{"kty":"RSA","n":"$N","e":"AQAB","key_ops":[]}"#, Err("`key_ops` does not include `verify`")),
        ("key_ops string", r#"{"kty":"RSA","n":"$N","e":"AQAB","key_ops":"verify"}"#, Err("`key_ops` must be an array of strings")),
        ("key_ops number", r#"{"kty":"RSA","n":"$N","e":"AQAB","key_ops":["verify",1]}"#, Err("`key_ops` must be an array of strings")),
        ("key_ops duplicate", r#"{"kty":"RSA","n":"$N","e":"AQAB","key_ops":["verify","verify"]}"#, Err("`key_ops` lists `verify` twice")),
        // alg.
        ("alg none", r#"{"kty":"RSA","n":"$N","e":"AQAB","alg":"none"}"#, Err("`alg` `none` is not a supported signature algorithm")),
        ("alg rs256 lower", r#"{"kty":"RSA","n":"$N","e":"AQAB","alg":"rs256"}"#, Err("`alg` `rs256` is not a supported signature algorithm")),
        ("alg rsa-oaep", r#"{"kty":"RSA","n":"$N","e":"AQAB","alg":"RSA-OAEP"}"#, Err("`alg` `RSA-OAEP` is not a supported signature algorithm")),
        ("alg not a string", r#"{"kty":"RSA","n":"$N","e":"AQAB","alg":["RS256"]}"#, Err("`alg` must be a string")),
        ("hs256 on rsa", r#"{"kty":"RSA","n":"$N","e":"AQAB","alg":"HS256"}"#, Err("`alg` `HS256` does not suit an rsa key")),
        ("es256 on rsa", r#"{"kty":"RSA","n":"$N","e":"AQAB","alg":"ES256"}"#, Err("`alg` `ES256` does not suit an rsa key")),
        ("es384 on p-256", r#"{"kty":"EC","crv":"P-256","x":"$X256","y":"$Y256","alg":"ES384"}"#, Err("`alg` `ES384` does not suit a p-256 key")),
        ("es256 on p-384", r#"{"kty":"EC","crv":"P-384","x":"$X384","y":"$Y384","alg":"ES256"}"#, Err("`alg` `ES256` does not suit a p-384 key")),
        ("hs512 on ed25519", r#"{"kty":"OKP","crv":"Ed25519","x":"$ED","alg":"HS512"}"#, Err("`alg` `HS512` does not suit an ed25519 key")),
        ("rs256 on ed25519", r#"{"kty":"OKP","crv":"Ed25519","x":"$ED","alg":"RS256"}"#, Err("`alg` `RS256` does not suit an ed25519 key")),
        // kid.
        ("kid empty", r#"{"kty":"OKP","crv":"Ed25519","x":"$ED","kid":""}"#, Err("`kid` is empty")),
        ("kid 257 bytes", r#"{"kty":"OKP","crv":"Ed25519","x":"$ED","kid":"$KID257"}"#, Err("`kid` is 257 bytes long, over the limit of 256")),
        ("kid number", r#"{"kty":"OKP","crv":"Ed25519","x":"$ED","kid":7}"#, Err("`kid` must be a string")),
        // RSA material.
        ("rsa no n", r#"{"kty":"RSA","e":"AQAB"}"#, Err("`n` is missing")),
        ("rsa no e", r#"{"kty":"RSA","n":"$N"}"#, Err("`e` is missing")),
        ("rsa n padded", r#"{"kty":"RSA","n":"$N=","e":"AQAB"}"#, Err("`n` is not strict unpadded base64url")),
        ("rsa e padded", r#"{"kty":"RSA","n":"$N","e":"AQAB=="}"#, Err("`e` is not strict unpadded base64url")),
        ("rsa e standard alphabet", r#"{"kty":"RSA","n":"$N","e":"A+/B"}"#, Err("`e` is not strict unpadded base64url")),
        ("rsa e whitespace", r#"{"kty":"RSA","n":"$N","e":"AQ AB"}"#, Err("`e` is not strict unpadded base64url")),
        ("rsa e trailing bits", r#"{"kty":"RSA","n":"$N","e":"AQB"}"#, Err("`e` is not strict unpadded base64url")),
        ("rsa n empty", r#"{"kty":"RSA","n":"","e":"AQAB"}"#, Err("the rsa modulus is 0 bits long, outside 2048..=8192")),
        ("rsa n leading zero", r#"{"kty":"RSA","n":"$NZERO","e":"AQAB"}"#, Err("`n` has a leading zero byte")),
        ("rsa 2047 bits", r#"{"kty":"RSA","n":"$N2047","e":"AQAB"}"#, Err("the rsa modulus is 2047 bits long, outside 2048..=8192")),
        ("rsa 8193 bits", r#"{"kty":"RSA","n":"$N8193","e":"AQAB"}"#, Err("the rsa modulus is 8193 bits long, outside 2048..=8192")),
        ("rsa n huge", r#"{"kty":"RSA","n":"$NHUGE","e":"AQAB"}"#, Err("`n` is longer than 1025 bytes")),
        ("rsa n even", r#"{"kty":"RSA","n":"$NEVEN","e":"AQAB"}"#, Err("the rsa modulus is even")),
        ("rsa e leading zero", r#"{"kty":"RSA","n":"$N","e":"AAEAAQ"}"#, Err("`e` has a leading zero byte")),
        ("rsa e empty", r#"{"kty":"RSA","n":"$N","e":""}"#, Err("the rsa exponent must be odd, at least 3 and at most 4 bytes long")),
        ("rsa e 1", r#"{"kty":"RSA","n":"$N","e":"AQ"}"#, Err("the rsa exponent must be odd, at least 3 and at most 4 bytes long")),
        ("rsa e even", r#"{"kty":"RSA","n":"$N","e":"AQAA"}"#, Err("the rsa exponent must be odd, at least 3 and at most 4 bytes long")),
        ("rsa e 5 bytes", r#"{"kty":"RSA","n":"$N","e":"AQAAAAE"}"#, Err("the rsa exponent must be odd, at least 3 and at most 4 bytes long")),
        ("rsa e 9 bytes", r#"{"kty":"RSA","n":"$N","e":"AQAAAAAAAAAB"}"#, Err("`e` is longer than 5 bytes")),
        ("rsa n number", r#"{"kty":"RSA","n":12,"e":"AQAB"}"#, Err("`n` must be a string")),
        // EC material.
        ("ec no crv", r#"{"kty":"EC","x":"$X256","y":"$Y256"}"#, Err("`crv` is missing")),
        ("ec p-521", r#"{"kty":"EC","crv":"P-521","x":"$X256","y":"$Y256"}"#, Err("curve `P-521` is not supported for `kty` `EC`")),
        ("ec secp256k1", r#"{"kty":"EC","crv":"secp256k1","x":"$X256","y":"$Y256"}"#, Err("curve `secp256k1` is not supported for `kty` `EC`")),
        ("ec ed25519 curve", r#"{"kty":"EC","crv":"Ed25519","x":"$ED"}"#, Err("curve `Ed25519` is not supported for `kty` `EC`")),
        ("ec no y", r#"{"kty":"EC","crv":"P-256","x":"$X256"}"#, Err("`y` is missing")),
        ("ec x 31 bytes", r#"{"kty":"EC","crv":"P-256","x":"$B31","y":"$Y256"}"#, Err("`x` is 31 bytes long, expected 32 for P-256")),
        ("ec y 33 bytes", r#"{"kty":"EC","crv":"P-256","x":"$X256","y":"$B33"}"#, Err("`y` is 33 bytes long, expected 32 for P-256")),
        ("ec p-256 with p-384 coords", r#"{"kty":"EC","crv":"P-256","x":"$X384","y":"$Y384"}"#, Err("`x` is 48 bytes long, expected 32 for P-256")),
        ("ec p-384 with p-256 coords", r#"{"kty":"EC","crv":"P-384","x":"$X256","y":"$Y256"}"#, Err("`x` is 32 bytes long, expected 48 for P-384")),
        ("ec x huge", r#"{"kty":"EC","crv":"P-384","x":"$B1000","y":"$B48"}"#, Err("`x` is longer than 96 bytes")),
        ("ec x padded", r#"{"kty":"EC","crv":"P-256","x":"$X256=","y":"$Y256"}"#, Err("`x` is not strict unpadded base64url")),
        // OKP material.
        ("okp x25519", r#"{"kty":"OKP","crv":"X25519","x":"$ED"}"#, Err("curve `X25519` is for key agreement, not signatures")),
        ("okp x448", r#"{"kty":"OKP","crv":"X448","x":"$ED"}"#, Err("curve `X448` is for key agreement, not signatures")),
        ("okp ed448", r#"{"kty":"OKP","crv":"Ed448","x":"$ED"}"#, Err("curve `Ed448` is not supported for `kty` `OKP`")),
        ("okp p-256", r#"{"kty":"OKP","crv":"P-256","x":"$X256","y":"$Y256"}"#, Err("curve `P-256` is not supported for `kty` `OKP`")),
        ("okp x 33 bytes", r#"{"kty":"OKP","crv":"Ed25519","x":"$B33"}"#, Err("`x` is 33 bytes long, expected 32 for Ed25519")),
        ("okp no x", r#"{"kty":"OKP","crv":"Ed25519"}"#, Err("`x` is missing")),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn jwk_rules() {
        for (name, template, want) in JWK_CASES {
            let got = parse_jwk(&expand(template));
            match (got, want) {
                (Ok(key), Ok(family)) => assert_eq!(key.family(), *family, "case `{name}`"),
                (Err(err), Err(message)) => assert_eq!(err.to_string(), *message, "case `{name}`"),
                (got, want) => panic!("case `{name}`: got {got:?}, want {want:?}"),
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn jwk_fields_are_kept_exactly() {
        let key = parse_jwk(&expand(
            r#"{"kty":"RSA","n":"$N","e":"AQAB","kid":"k1","alg":"PS256"}"#,
        ))
        .unwrap();
        assert_eq!(key.kid.as_deref(), Some("k1"));
        assert_eq!(key.alg, Some(Algorithm::PS256));
        let KeyMaterial::Rsa { n, e } = &key.material else {
            panic!("not rsa")
        };
        assert_eq!(n.len(), 256);
        assert_eq!(n.first(), Some(&0xa1));
        assert_eq!(e, &vec![1, 0, 1]);
        assert!(key.suits(Algorithm::PS256));
        assert!(!key.suits(Algorithm::RS256));

        let key = parse_jwk(&expand(
            r#"{"kty":"EC","crv":"P-256","x":"$X256","y":"$Y256"}"#,
        ))
        .unwrap();
        assert_eq!((key.kid, key.alg), (None, None));
        let KeyMaterial::EcP256 { x, y } = key.material else {
            panic!("not p-256")
        };
        assert_eq!(b64(&x), X256);
        assert_eq!(b64(&y), Y256);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn debug_never_shows_key_bytes() {
        let key = parse_jwk(&expand(
            r#"{"kty":"OKP","crv":"Ed25519","x":"$ED","kid":"k"}"#,
        ))
        .unwrap();
        let secret = VerifyKey::hmac(&[0x41; 40]).unwrap();
        let shown = format!("{key:?} {secret:?}");
        assert_eq!(
            shown,
            "VerifyKey { kid: Some(\"k\"), alg: None, material: Ed25519(..) } \
             VerifyKey { kid: None, alg: None, material: Hmac(..) }"
        );
    }

    const R1: &str = r#"{"kty":"RSA","n":"$N","e":"AQAB","kid":"r1"}"#;
    const E1: &str = r#"{"kty":"EC","crv":"P-256","x":"$X256","y":"$Y256","kid":"e1"}"#;
    const D1: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"$ED","kid":"d1"}"#;
    const NOKID: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"$ED"}"#;
    const ENC: &str = r#"{"kty":"RSA","n":"$N","e":"AQAB","kid":"enc1","use":"enc"}"#;
    const OCT: &str = r#"{"kty":"oct","k":"c2VjcmV0","kid":"h1"}"#;
    const E1_AGAIN: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"$ED","kid":"e1"}"#;

    /// (name, JWKS template, mode, expected (kept kids, skipped messages) or error message).
    #[allow(clippy::type_complexity)]
    const JWKS_CASES: &[(&str, &str, JwksMode, Result<(&[&str], &[&str]), &str>)] = &[
        ("three keys bundled", "[R1,E1,D1]", JwksMode::Bundled, Ok((&["r1", "e1", "d1"], &[]))),
        ("three keys remote", "[R1,E1,D1]", JwksMode::Remote, Ok((&["r1", "e1", "d1"], &[]))),
        ("keys without kid", "[NOKID,NOKID]", JwksMode::Bundled, Ok((&["-", "-"], &[]))),
        ("empty bundled", "[]", JwksMode::Bundled, Err("the jwks has no keys")),
        ("empty remote", "[]", JwksMode::Remote, Ok((&[], &[]))),
        ("enc bundled", "[R1,ENC]", JwksMode::Bundled, Err("keys[1] (kid `enc1`): `use` is `enc`, not `sig`")),
        ("enc remote", "[R1,ENC,D1]", JwksMode::Remote, Ok((&["r1", "d1"], &["keys[1] (kid `enc1`): `use` is `enc`, not `sig`"]))),
        ("oct bundled", "[OCT]", JwksMode::Bundled, Err("keys[0] (kid `h1`): `kty` `oct` is refused: hmac secrets come from worker secrets, never from a jwks")),
        ("oct remote", "[OCT,E1]", JwksMode::Remote, Ok((&["e1"], &["keys[0] (kid `h1`): `kty` `oct` is refused: hmac secrets come from worker secrets, never from a jwks"]))),
        ("duplicate kid bundled", "[R1,E1,E1_AGAIN]", JwksMode::Bundled, Err("keys[2] (kid `e1`): `kid` `e1` repeats the one of keys[1]")),
        ("duplicate kid remote", "[E1,R1,E1_AGAIN]", JwksMode::Remote, Ok((&["e1", "r1"], &["keys[2] (kid `e1`): `kid` `e1` repeats the one of keys[0]"]))),
        ("duplicate of a skipped key", "[ENC,{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"$ED\",\"kid\":\"enc1\"}]", JwksMode::Remote, Ok((&["enc1"], &["keys[0] (kid `enc1`): `use` is `enc`, not `sig`"]))),
        ("not an object entry", "[R1,7]", JwksMode::Bundled, Err("keys[1]: a jwk must be a json object")),
        ("bad kid not named", "[{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"$ED\",\"kid\":\"\"}]", JwksMode::Bundled, Err("keys[0]: `kid` is empty")),
        ("all skipped remote", "[ENC,OCT]", JwksMode::Remote, Ok((&[], &["keys[0] (kid `enc1`): `use` is `enc`, not `sig`", "keys[1] (kid `h1`): `kty` `oct` is refused: hmac secrets come from worker secrets, never from a jwks"]))),
    ];

    fn jwks(list: &str) -> Value {
        let body = list
            .replace("R1", R1)
            .replace("E1_AGAIN", E1_AGAIN)
            .replace("E1", E1)
            .replace("D1", D1)
            .replace("NOKID", NOKID)
            .replace("ENC", ENC)
            .replace("OCT", OCT);
        expand(&format!(r#"{{"keys":{body}}}"#))
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn jwks_modes() {
        for (name, list, mode, want) in JWKS_CASES {
            let got = parse_jwks(&jwks(list), *mode);
            match (got, want) {
                (Ok(parsed), Ok((kids, skipped))) => {
                    let got_kids: Vec<&str> = parsed
                        .keys
                        .iter()
                        .map(|k| k.kid.as_deref().unwrap_or("-"))
                        .collect();
                    assert_eq!(got_kids, *kids, "case `{name}`");
                    let got_skipped: Vec<String> =
                        parsed.skipped.iter().map(|(_, e)| e.to_string()).collect();
                    assert_eq!(got_skipped, *skipped, "case `{name}`");
                    for (index, error) in &parsed.skipped {
                        assert!(
                            matches!(error, JwkError::InKey { index: i, .. } if i == index),
                            "case `{name}`"
                        );
                    }
                }
                (Err(err), Err(message)) => assert_eq!(err.to_string(), *message, "case `{name}`"),
                (got, want) => panic!("case `{name}`: got {got:?}, want {want:?}"),
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn jwks_documents() {
        let cases: &[(&str, Value, &str)] = &[
            (
                "array",
                serde_json::json!([]),
                "a jwks must be a json object with a `keys` array",
            ),
            (
                "no keys",
                serde_json::json!({"key": []}),
                "a jwks must be a json object with a `keys` array",
            ),
            (
                "keys object",
                serde_json::json!({"keys": {}}),
                "a jwks must be a json object with a `keys` array",
            ),
            (
                "keys null",
                serde_json::json!({"keys": null}),
                "a jwks must be a json object with a `keys` array",
            ),
            (
                "too many",
                serde_json::json!({"keys": vec![serde_json::json!({}); MAX_JWKS_KEYS + 1]}),
                "the jwks has 101 keys, over the limit of 100",
            ),
        ];
        for mode in [JwksMode::Bundled, JwksMode::Remote] {
            for (name, doc, message) in cases {
                let got = parse_jwks(doc, mode).map(|_| ()).unwrap_err().to_string();
                assert_eq!(got, *message, "case `{name}` {mode:?}");
            }
        }
        // At the cap, and other top-level members ignored.
        let doc = expand(&format!(
            r#"{{"keys":[{}],"other":1}}"#,
            vec![NOKID; MAX_JWKS_KEYS].join(",")
        ));
        assert_eq!(
            parse_jwks(&doc, JwksMode::Bundled).unwrap().keys.len(),
            MAX_JWKS_KEYS
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn hmac_secrets() {
        let cases: &[(&str, usize, Result<(), &str>)] = &[
            (
                "empty",
                0,
                Err("the hmac secret is 0 bytes long, under the minimum of 32"),
            ),
            (
                "31 bytes",
                31,
                Err("the hmac secret is 31 bytes long, under the minimum of 32"),
            ),
            ("32 bytes", 32, Ok(())),
            ("64 bytes", 64, Ok(())),
        ];
        for (name, len, want) in cases {
            let got = VerifyKey::hmac(&vec![9u8; *len]);
            match (got, want) {
                (Ok(key), Ok(())) => {
                    assert_eq!(
                        key.material,
                        KeyMaterial::Hmac(vec![9u8; *len]),
                        "case `{name}`"
                    );
                    assert_eq!((key.kid, key.alg), (None, None), "case `{name}`");
                }
                (Err(err), Err(message)) => assert_eq!(err.to_string(), *message, "case `{name}`"),
                (got, want) => panic!("case `{name}`: got {got:?}, want {want:?}"),
            }
        }
        let lens: Vec<(Algorithm, usize)> = Algorithm::ALL
            .into_iter()
            .map(|a| (a, min_hmac_secret_len(a)))
            .collect();
        assert_eq!(
            lens,
            vec![
                (Algorithm::HS256, 32),
                (Algorithm::HS384, 48),
                (Algorithm::HS512, 64),
                (Algorithm::RS256, 0),
                (Algorithm::RS384, 0),
                (Algorithm::RS512, 0),
                (Algorithm::PS256, 0),
                (Algorithm::PS384, 0),
                (Algorithm::PS512, 0),
                (Algorithm::ES256, 0),
                (Algorithm::ES384, 0),
                (Algorithm::EdDSA, 0),
            ]
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn shown_truncates_and_escapes() {
        let cases: &[(&str, &str, &str)] = &[
            ("plain", "abc", "abc"),
            ("controls", "a\n\u{1b}[31m", "a\\n\\u{1b}[31m"),
            ("bidi", "\u{202e}x", "\\u{202e}x"),
        ];
        for (name, input, want) in cases {
            assert_eq!(shown(input), *want, "case `{name}`");
        }
        let long = "é".repeat(100);
        assert_eq!(shown(&long), format!("{}...", "é".repeat(SHOWN_CHARS)));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// No input panics the parser, in either mode.
        #[test]
        fn arbitrary_json_never_panics(text in "\\PC{0,64}", kty in prop::sample::select(vec!["RSA", "EC", "OKP", "oct", "x"])) {
            let doc = serde_json::json!({"keys": [{"kty": kty, "n": text, "e": text, "x": text, "y": text, "crv": text, "kid": text, "alg": text, "use": text}]});
            let _ = parse_jwks(&doc, JwksMode::Bundled);
            let _ = parse_jwks(&doc, JwksMode::Remote);
        }

        /// Any valid-shaped P-256 key round-trips its coordinates; any other length is refused.
        #[test]
        fn coordinates_round_trip(x in prop::collection::vec(any::<u8>(), 0..40), y in prop::collection::vec(any::<u8>(), 32..=32)) {
            let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
            let got = parse_jwk(&serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(&x), "y": b64(&y)}));
            if x.len() == 32 {
                let key = got.unwrap();
                prop_assert_eq!(key.material, KeyMaterial::EcP256 { x: x.clone().try_into().unwrap(), y: y.try_into().unwrap() });
            } else {
                prop_assert!(got.is_err());
            }
        }
    }
}
