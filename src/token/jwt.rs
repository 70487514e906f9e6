//! Compact JWS parsing (RFC 7515) and JWT claim checks (RFC 7519): everything a token must be, except signed.
//!
//! Pure and synchronous: no cryptography (the signature is checked elsewhere, behind
//! [`crate::verify::SignatureVerifier`], over [`Compact::signing_input`]), no I/O, no clock (time is passed in as
//! Unix seconds). The pieces run in this order for every request:
//!
//! 1. [`extract`] finds the one token the request carries (every configured source must agree);
//! 2. [`parse`] splits and decodes it, and pins `alg` to the issuer's list before any key or crypto is touched;
//! 3. (elsewhere) a key is chosen and the signature verified;
//! 4. [`check_claims`] checks `iss`, `aud`, `exp`, `nbf`, `iat`, lifetime and required claims;
//! 5. [`predicate_holds`] evaluates the policy's claim conditions.
//!
//! What this module must never do: accept `alg: none` in any spelling or an algorithm the issuer did not pin;
//! follow or use `jku`, `x5u`, `jwk` or `x5c` (they are ignored: never fetched, never used to choose or build a
//! key); accept a JSON document with a duplicate object key at any depth (serde_json's own map keeps the last
//! one, which would let a token smuggle a second `sub` or `aud` past a checker that reads the first); accept
//! lenient base64 (padding, the standard alphabet, whitespace, non-canonical trailing bits); guess between two
//! tokens; panic on any input; or put a claim value in an error or in `Debug` output.

use std::borrow::Cow;
use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

use super::{Algorithm, TokenError};

/// The default cap on a token's length in bytes (8 KiB): far above any sane JWT, far below a header limit.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The longest `kid` header accepted, in bytes.
pub const MAX_KID_BYTES: usize = 256;

/// The largest NumericDate accepted: 9999-12-31T23:59:59Z. Later (or negative) dates are malformed.
pub const MAX_NUMERIC_DATE: u64 = 253_402_300_799;

/// Strict base64url as JWS requires (RFC 7515 §2): the URL-safe alphabet only, no padding, no whitespace, and
/// no set bits after the last full byte (so every byte string has exactly one accepted encoding).
pub const BASE64URL_STRICT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

// ---------------------------------------------------------------------------------------------------------------
// Strict JSON
// ---------------------------------------------------------------------------------------------------------------

/// A JSON value deserialized with duplicate object keys refused at every depth.
///
/// Keys are compared after unescaping, so `"alg"` and `"\u0061lg"` are duplicates. Nesting depth is bounded by
/// serde_json's recursion limit (128), so deep input is an error, not a stack overflow. Use it wherever an
/// untrusted JSON document is read (`serde_json::from_slice::<StrictValue>`); it has no `Debug` on purpose (its
/// content may be a claim value).
///
/// Assumes serde_json is built without its `arbitrary_precision` feature (the crate does not enable it): with
/// it, numbers would arrive as one-entry objects and numeric claims would be refused as malformed (closed).
pub struct StrictValue(pub Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number is not finite"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match object.entry(key) {
                // The key is not named: it may come from the token, and errors must not carry token content.
                Entry::Occupied(_) => return Err(de::Error::custom("an object key is repeated")),
                Entry::Vacant(slot) => {
                    let StrictValue(value) = map.next_value()?;
                    slot.insert(value);
                }
            }
        }
        Ok(Value::Object(object))
    }
}

/// Parses `bytes` as one JSON document (UTF-8, surrounding whitespace allowed, nothing after it) refusing
/// duplicate keys at any depth. Any failure is [`TokenError::Malformed`].
pub fn parse_json_strict(bytes: &[u8]) -> Result<Value, TokenError> {
    serde_json::from_slice::<StrictValue>(bytes)
        .map(|StrictValue(value)| value)
        .map_err(|_| TokenError::Malformed)
}

/// Like [`parse_json_strict`], and the document must be an object.
fn parse_object_strict(bytes: &[u8]) -> Result<Map<String, Value>, TokenError> {
    match parse_json_strict(bytes)? {
        Value::Object(object) => Ok(object),
        _ => Err(TokenError::Malformed),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Compact JWS
// ---------------------------------------------------------------------------------------------------------------

/// The JOSE header parameters this filter uses. Every other parameter is ignored, notably `jku`, `x5u`, `jwk`
/// and `x5c`: they are never fetched and never used to choose or build a key (keys come only from the policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The algorithm, already pinned: one of the `allowed` list given to [`parse`].
    pub alg: Algorithm,
    /// The key id, at most [`MAX_KID_BYTES`] bytes (may be empty).
    pub kid: Option<String>,
    /// The media type, unchecked (`JWT`, `at+jwt`, ...).
    pub typ: Option<String>,
}

impl Header {
    /// Reads the header object in the documented order: `alg` (present and a string, else malformed; `none` in
    /// any case, a name not exactly an [`Algorithm`], or one not in `allowed`, is an algorithm error), then any
    /// `crit`, then `kid`, then `typ`.
    fn from_object(
        mut object: Map<String, Value>,
        allowed: &[Algorithm],
    ) -> Result<Header, TokenError> {
        let alg = match object.get("alg") {
            Some(Value::String(name)) => pin_algorithm(name, allowed)?,
            _ => return Err(TokenError::Malformed),
        };
        // RFC 7515 §4.1.11: a recipient must reject a `crit` it does not fully understand; this filter
        // understands no extension, so any `crit` (even empty or null, which are invalid anyway) is refused.
        if object.contains_key("crit") {
            return Err(TokenError::CriticalHeader);
        }
        let kid = match object.remove("kid") {
            None => None,
            Some(Value::String(kid)) if kid.len() <= MAX_KID_BYTES => Some(kid),
            Some(_) => return Err(TokenError::Malformed),
        };
        let typ = match object.remove("typ") {
            None => None,
            Some(Value::String(typ)) => Some(typ),
            Some(_) => return Err(TokenError::Malformed),
        };
        Ok(Header { alg, kid, typ })
    }
}

/// The algorithm `name` denotes if it is exactly a supported JOSE name and pinned in `allowed`.
fn pin_algorithm(name: &str, allowed: &[Algorithm]) -> Result<Algorithm, TokenError> {
    // `none` in any spelling is refused by name first, so the rule survives a future `from_name` that grew
    // case-insensitive; every other non-exact name (`hs256`, `RS256 `) is refused by `from_name` itself.
    if name.trim().eq_ignore_ascii_case("none") {
        return Err(TokenError::Algorithm);
    }
    match Algorithm::from_name(name) {
        Some(alg) if allowed.contains(&alg) => Ok(alg),
        _ => Err(TokenError::Algorithm),
    }
}

/// The canonical form of a JOSE `typ` (RFC 7515 4.1.9): ASCII lower-case (media types compare
/// case-insensitively) with `application/` prepended when the value holds no `/`, so `at+jwt`, `AT+JWT` and
/// `application/at+jwt` are one type. The policy compiler stores a pinned `typ` in this form.
pub fn canonical_typ(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    if lower.contains('/') {
        lower
    } else {
        format!("application/{lower}")
    }
}

/// Whether a token header's `typ` is the pinned one (`pinned` in [`canonical_typ`] form), compared as RFC 7515
/// says: case-insensitively, the `application/` prefix optional. A token without `typ` is not of the pinned type.
pub fn typ_matches(pinned: &str, typ: Option<&str>) -> bool {
    match typ {
        Some(t) if t.contains('/') => t.eq_ignore_ascii_case(pinned),
        Some(t) => pinned
            .strip_prefix("application/")
            .is_some_and(|rest| rest.eq_ignore_ascii_case(t)),
        None => false,
    }
}

/// A token's claims: a JSON object read with duplicate keys refused at every depth.
///
/// `Debug` shows claim names only, never values.
#[derive(Clone, PartialEq, Default)]
pub struct Claims(Map<String, Value>);

impl Claims {
    /// Wraps an already-parsed object (a `Map` cannot hold duplicate keys; use [`Claims::from_json`] for text).
    pub fn from_map(map: Map<String, Value>) -> Claims {
        Claims(map)
    }

    /// Parses a JSON object strictly (see [`StrictValue`]); anything else is [`TokenError::Malformed`].
    pub fn from_json(bytes: &[u8]) -> Result<Claims, TokenError> {
        parse_object_strict(bytes).map(Claims)
    }

    /// The value at `path`, each segment naming a member of the object before it (`["org", "id"]` reads
    /// `{"org":{"id":..}}`). Arrays are never indexed. An empty path, a missing member or a step through a
    /// non-object gives `None`; a present `null` gives `Some(Value::Null)`.
    pub fn get<S: AsRef<str>>(&self, path: &[S]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        let mut value = self.0.get(first.as_ref())?;
        for segment in rest {
            value = value.as_object()?.get(segment.as_ref())?;
        }
        Some(value)
    }

    /// The whole claims object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The whole claims object, owned.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Claims")?;
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// A parsed compact JWS whose algorithm is pinned but whose signature is not yet verified.
///
/// `Debug` shows the header, claim names and lengths only (the signing input encodes the claims).
#[derive(Clone, PartialEq)]
pub struct Compact<'a> {
    pub header: Header,
    pub claims: Claims,
    /// `header_b64.payload_b64`, borrowed from the token: what the signature covers.
    pub signing_input: &'a str,
    /// The decoded signature, never empty (its length for the algorithm is the verifier's to check).
    pub signature: Vec<u8>,
}

impl fmt::Debug for Compact<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compact")
            .field("header", &self.header)
            .field("claims", &self.claims)
            .field("signing_input_len", &self.signing_input.len())
            .field("signature_len", &self.signature.len())
            .finish()
    }
}

fn decode_segment(segment: &str) -> Result<Vec<u8>, TokenError> {
    BASE64URL_STRICT
        .decode(segment)
        .map_err(|_| TokenError::Malformed)
}

/// Parses a compact JWS and pins its algorithm to `allowed`, before any key or cryptography is involved.
///
/// Checks, in this order, each failure its own error:
/// 1. `token.len() > max_bytes` → [`TokenError::TooLarge`] (before anything else; [`DEFAULT_MAX_TOKEN_BYTES`]
///    is the usual cap);
/// 2. segments: five → [`TokenError::Encrypted`] (a JWE), any count but three → [`TokenError::Malformed`];
/// 3. each segment strict base64url ([`BASE64URL_STRICT`]; the signature segment may be empty) → else
///    `Malformed`;
/// 4. the header: a JSON object without duplicate keys → else `Malformed`; `alg` present and a string → else
///    `Malformed`; `none` (any case), not exactly a supported name, or not in `allowed` →
///    [`TokenError::Algorithm`]; any `crit` → [`TokenError::CriticalHeader`]; `kid` a string of at most
///    [`MAX_KID_BYTES`] bytes and `typ` a string, when present → else `Malformed`; every other parameter
///    (`jku`, `x5u`, `jwk`, `x5c`, `b64`, ...) ignored;
/// 5. the payload: a JSON object without duplicate keys at any depth → else `Malformed`;
/// 6. the signature not empty → else [`TokenError::BadSignature`].
///
/// An empty `allowed` refuses every token ([`TokenError::Algorithm`]).
pub fn parse<'a>(
    token: &'a str,
    allowed: &[Algorithm],
    max_bytes: usize,
) -> Result<Compact<'a>, TokenError> {
    if token.len() > max_bytes {
        return Err(TokenError::TooLarge);
    }
    match token.bytes().filter(|&b| b == b'.').count() {
        2 => {}
        4 => return Err(TokenError::Encrypted),
        _ => return Err(TokenError::Malformed),
    }
    let (signing_input, signature_b64) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (header_b64, payload_b64) = signing_input.split_once('.').ok_or(TokenError::Malformed)?;
    let header_bytes = decode_segment(header_b64)?;
    let payload_bytes = decode_segment(payload_b64)?;
    let signature = decode_segment(signature_b64)?;

    let header = Header::from_object(parse_object_strict(&header_bytes)?, allowed)?;
    let claims = Claims::from_json(&payload_bytes)?;
    if signature.is_empty() {
        return Err(TokenError::BadSignature);
    }
    Ok(Compact {
        header,
        claims,
        signing_input,
        signature,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Claim checks
// ---------------------------------------------------------------------------------------------------------------

/// What an issuer requires of every token's registered claims.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClaimRules {
    /// The exact `iss` (byte equality: no trailing-slash or case folding).
    pub issuer: String,
    /// Accepted audiences; `aud` must name at least one exactly. An empty list accepts no token.
    pub audiences: Vec<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub leeway: u64,
    /// When set, `iat` and `exp` are both required and `exp - iat` may not exceed it (seconds, no leeway).
    pub max_lifetime: Option<u64>,
    /// Top-level claims that must be present and not `null` (usually includes `exp`).
    pub required: Vec<String>,
}

/// A validated NumericDate, split exactly into whole seconds and a fraction in `[0, 1)`.
#[derive(Debug, Clone, Copy)]
struct NumericDate {
    secs: u64,
    frac: f64,
}

impl NumericDate {
    /// A JSON number (integer or finite float) in `0..=MAX_NUMERIC_DATE`; anything else is malformed.
    fn from_value(value: &Value) -> Result<NumericDate, TokenError> {
        let Value::Number(number) = value else {
            return Err(TokenError::Malformed);
        };
        if let Some(secs) = number.as_u64() {
            return if secs <= MAX_NUMERIC_DATE {
                Ok(NumericDate { secs, frac: 0.0 })
            } else {
                Err(TokenError::Malformed)
            };
        }
        if number.is_i64() {
            return Err(TokenError::Malformed); // negative integer
        }
        let f = number.as_f64().ok_or(TokenError::Malformed)?;
        // Written so that NaN fails too (serde_json never produces one, but a `Map` handed in might not be ours).
        if !(f.is_finite() && f >= 0.0 && f <= MAX_NUMERIC_DATE as f64) {
            return Err(TokenError::Malformed);
        }
        let whole = f.floor();
        // Exact: `whole` is an integer in range (< 2^53) and `f - floor(f)` is exact for finite f >= 0.
        Ok(NumericDate {
            secs: whole as u64,
            frac: f - whole,
        })
    }

    /// The smallest whole second not before the date.
    fn ceil(self) -> u128 {
        u128::from(self.secs) + u128::from(self.frac > 0.0)
    }

    fn optional(value: Option<&Value>) -> Result<Option<NumericDate>, TokenError> {
        value.map(NumericDate::from_value).transpose()
    }
}

/// Checks the registered claims against `rules` at `now` (Unix seconds).
///
/// The order is fixed, so one token always gets the same error:
/// 1. `iss`: a string equal to `rules.issuer`, else [`TokenError::Issuer`] (missing, `null` or not a string
///    included);
/// 2. `aud`: a string or an array of strings (else [`TokenError::Malformed`], `null` included, every element
///    checked) naming one of `rules.audiences` exactly, else [`TokenError::Audience`] (missing included);
/// 3. `exp`, `nbf`, `iat` when present: NumericDates, i.e. a JSON integer or finite float in
///    `0..=`[`MAX_NUMERIC_DATE`], else `Malformed` (strings, booleans, `null`, negatives, huge values);
/// 4. every name in `rules.required` present and not `null`, else [`TokenError::MissingClaim`];
/// 5. `now > exp + leeway` → [`TokenError::Expired`] (`now == exp + leeway` is still valid);
/// 6. `nbf > now + leeway` → [`TokenError::NotYetValid`];
/// 7. `iat > now + leeway` → [`TokenError::IssuedInFuture`];
/// 8. with `max_lifetime` `Some(m)`: `iat` and `exp` both present (else `MissingClaim`) and `exp - iat <= m`
///    (else [`TokenError::LifetimeTooLong`]; a negative lifetime passes here).
///
/// Arithmetic cannot overflow (it is done in 128 bits) and fractional dates are compared exactly, as the
/// real numbers they denote: `exp: 99.5` has expired at `now = 100` with no leeway, `nbf: 100.5` is not yet
/// valid at `now = 100`.
pub fn check_claims(claims: &Claims, rules: &ClaimRules, now: u64) -> Result<(), TokenError> {
    let map = &claims.0;

    match map.get("iss") {
        Some(Value::String(iss)) if *iss == rules.issuer => {}
        _ => return Err(TokenError::Issuer),
    }

    match map.get("aud") {
        None => return Err(TokenError::Audience),
        Some(Value::String(aud)) => {
            if !rules.audiences.contains(aud) {
                return Err(TokenError::Audience);
            }
        }
        Some(Value::Array(items)) => {
            let mut named = false;
            for item in items {
                let Value::String(aud) = item else {
                    return Err(TokenError::Malformed);
                };
                named = named || rules.audiences.contains(aud);
            }
            if !named {
                return Err(TokenError::Audience);
            }
        }
        Some(_) => return Err(TokenError::Malformed),
    }

    let exp = NumericDate::optional(map.get("exp"))?;
    let nbf = NumericDate::optional(map.get("nbf"))?;
    let iat = NumericDate::optional(map.get("iat"))?;

    for name in &rules.required {
        if map.get(name).is_none_or(Value::is_null) {
            return Err(TokenError::MissingClaim);
        }
    }

    let now = u128::from(now);
    let leeway = u128::from(rules.leeway);
    // now > exp + leeway, exactly: `now` is whole, so with 0 < frac < 1 it is the same as now > secs + leeway.
    if exp.is_some_and(|exp| now > u128::from(exp.secs) + leeway) {
        return Err(TokenError::Expired);
    }
    // date > now + leeway, exactly: the right side is whole, so it is the same as ceil(date) > now + leeway.
    if nbf.is_some_and(|nbf| nbf.ceil() > now + leeway) {
        return Err(TokenError::NotYetValid);
    }
    if iat.is_some_and(|iat| iat.ceil() > now + leeway) {
        return Err(TokenError::IssuedInFuture);
    }

    if let Some(max) = rules.max_lifetime {
        let (Some(exp), Some(iat)) = (exp, iat) else {
            return Err(TokenError::MissingClaim);
        };
        // exp - iat = whole + (exp.frac - iat.frac), the second term in (-1, 1); against a whole `max` that is
        // whole >= max when the fractions leave a positive remainder, whole > max otherwise.
        let whole = i128::from(exp.secs) - i128::from(iat.secs);
        let max = i128::from(max);
        let too_long = if exp.frac > iat.frac {
            whole >= max
        } else {
            whole > max
        };
        if too_long {
            return Err(TokenError::LifetimeTooLong);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Predicates
// ---------------------------------------------------------------------------------------------------------------

/// A condition on one claim (see [`predicate_holds`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ClaimPredicate {
    /// The claim equals the value; numbers compare numerically and exactly (`1 == 1.0`, but
    /// `18446744073709551615 != 1.8446744073709552e19`), arrays and objects member by member.
    Equals(#[serde(with = "json_text")] Value),
    /// The claim equals one of the values (as [`ClaimPredicate::Equals`]); an empty list never holds.
    OneOf(#[serde(with = "json_text")] Vec<Value>),
    /// The claim is an array with an element equal to the value (as `Equals`). A string claim never
    /// "contains" anything: `"superadmin"` does not contain `"admin"`.
    Contains(#[serde(with = "json_text")] Value),
    /// The claim is an array of strings, or a space-delimited string (OAuth `scope`), holding every one of the
    /// strings exactly. An empty list never holds (a policy asking for nothing is a mistake, not a pass).
    HasAll(Vec<String>),
    /// As [`ClaimPredicate::HasAll`], holding at least one of the strings. An empty list never holds.
    HasAny(Vec<String>),
    /// `Exists(true)`: present and not `null`; `Exists(false)`: absent or `null`.
    Exists(bool),
}

/// Serde for the JSON values inside a compiled predicate, as JSON text: the compiled policy's binary form
/// (see `Policy::from_compiled`) cannot carry self-describing values directly. Read back with
/// [`parse_json_strict`], which the Worker has anyway (typed serde_json reads would link float formatting).
mod json_text {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    pub fn serialize<T: Serialize, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(value).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    fn value<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_json_strict(text.as_bytes()).map_err(|_| D::Error::custom("not JSON"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: FromJson>(d: D) -> Result<T, D::Error> {
        T::from_json(value(d)?).ok_or_else(|| D::Error::custom("not a JSON array"))
    }

    /// What a predicate holds: one value, or a list of them.
    pub trait FromJson: Sized {
        fn from_json(value: Value) -> Option<Self>;
    }

    impl FromJson for Value {
        fn from_json(value: Value) -> Option<Self> {
            Some(value)
        }
    }

    impl FromJson for Vec<Value> {
        fn from_json(value: Value) -> Option<Self> {
            match value {
                Value::Array(items) => Some(items),
                _ => None,
            }
        }
    }
}

/// Whether `pred` holds of the claim at `path` (see [`Claims::get`]). A missing claim (including an empty path)
/// satisfies only `Exists(false)`. A present `null` is a value for `Equals`/`OneOf` (`Equals(null)` holds).
pub fn predicate_holds(claims: &Claims, path: &[String], pred: &ClaimPredicate) -> bool {
    let value = claims.get(path);
    match pred {
        ClaimPredicate::Exists(wanted) => value.is_some_and(|v| !v.is_null()) == *wanted,
        ClaimPredicate::Equals(expected) => value.is_some_and(|v| json_eq(v, expected)),
        ClaimPredicate::OneOf(options) => {
            value.is_some_and(|v| options.iter().any(|o| json_eq(v, o)))
        }
        ClaimPredicate::Contains(expected) => value
            .and_then(Value::as_array)
            .is_some_and(|items| items.iter().any(|item| json_eq(item, expected))),
        ClaimPredicate::HasAll(wanted) => value.is_some_and(|v| {
            !wanted.is_empty() && is_word_list(v) && wanted.iter().all(|w| has_word(v, w))
        }),
        ClaimPredicate::HasAny(wanted) => {
            value.is_some_and(|v| is_word_list(v) && wanted.iter().any(|w| has_word(v, w)))
        }
    }
}

/// JSON equality with numbers compared as the numbers they denote.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_eq(x, y),
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, x)| ys.get(k).is_some_and(|y| json_eq(x, y)))
        }
        _ => a == b,
    }
}

/// The number as an exact integer, when serde_json holds it as one.
fn as_integer(n: &Number) -> Option<i128> {
    n.as_u64()
        .map(i128::from)
        .or_else(|| n.as_i64().map(i128::from))
}

fn number_eq(x: &Number, y: &Number) -> bool {
    match (as_integer(x), as_integer(y)) {
        (Some(i), Some(j)) => i == j,
        (Some(i), None) => y.as_f64().is_some_and(|f| float_is_integer(f, i)),
        (None, Some(j)) => x.as_f64().is_some_and(|f| float_is_integer(f, j)),
        // Both floats: IEEE equality (there is no NaN in JSON; -0.0 == 0.0).
        (None, None) => x.as_f64().zip(y.as_f64()).is_some_and(|(f, g)| f == g),
    }
}

/// Whether the float `f` is exactly the integer `i` (|i| < 2^64). `as` saturates, and any integral float below
/// 2^127 in magnitude converts exactly, so no rounding can make two different numbers equal.
fn float_is_integer(f: f64, i: i128) -> bool {
    f.fract() == 0.0 && f as i128 == i
}

/// An array of strings only, or a string.
fn is_word_list(value: &Value) -> bool {
    match value {
        Value::String(_) => true,
        Value::Array(items) => items.iter().all(Value::is_string),
        _ => false,
    }
}

/// Whether the word list (see [`is_word_list`]) holds `word` exactly. A string is split on spaces (runs of
/// them, empty parts ignored: RFC 6749 §3.3 `scope`); tabs and other whitespace are part of a word.
fn has_word(value: &Value, word: &str) -> bool {
    match value {
        Value::String(words) => words.split(' ').any(|w| !w.is_empty() && w == word),
        Value::Array(items) => items.iter().any(|item| item.as_str() == Some(word)),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Extraction
// ---------------------------------------------------------------------------------------------------------------

/// Where a request may carry its token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1).
    AuthorizationBearer,
    /// A request header's whole (trimmed) value; the name is lower-case.
    Header(String),
    /// A cookie of this exact name (case-sensitive, RFC 6265).
    Cookie(String),
    /// A query-string parameter of this name (RFC 6750 §2.3 uses `access_token`).
    Query(String),
}

/// Finds the request's token.
///
/// `header(name)` returns a request header's value (called with lower-case names; repeated headers arrive
/// combined as `a, b`, as the Fetch API's `Headers.get` does); `query` is the query string without `?`.
///
/// Every source in `sources` is read, in order. None has a token → `Ok(None)`. They do not all hold the
/// byte-identical token → [`TokenError::Ambiguous`] (a client must not get to choose between, say, a header
/// the filter reads and a cookie the origin reads). Otherwise the token. Any source that is itself ambiguous
/// or malformed makes the result [`TokenError::Ambiguous`] whatever the others hold:
///
/// - [`TokenSource::AuthorizationBearer`]: a comma anywhere (two headers, or two credentials) → ambiguous;
///   scheme `Bearer` (any case), one or more spaces, and an RFC 6750 `b64token`
///   (`1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`) → that token; the scheme `Bearer`
///   followed by nothing, by no space, or by anything but one `b64token` → ambiguous (a malformed credential
///   is an invalid request, not a guess); any other scheme (`Basic ...`, `Bearerish ...`) → no token here. Note this makes an `Authorization` value with commas
///   (`Digest`, AWS SigV4) ambiguous wherever this source is configured.
/// - [`TokenSource::Header`]: the value trimmed of spaces and tabs; empty → no token; a comma → ambiguous.
/// - [`TokenSource::Cookie`]: the `cookie` header as `;`-separated `name=value` pairs (spaces optional), the
///   value trimmed; empty → no token; a comma, a double quote or a `%` in it → ambiguous (origins disagree on
///   unquoting and percent-decoding cookie values, and a JWT needs neither);
///   the name appearing after a `,`, space or tab inside another cookie's value (`theme=dark, tok=x`,
///   `theme=dark tok=x`, or a second `Cookie` line joined with `, `) → ambiguous, because Python's
///   `http.cookies` and other parsers read a cookie there and the rest read none.
/// - [`TokenSource::Query`]: `&`-separated pairs; a name matches when it percent-decodes to the configured
///   name; the value is taken as written: a `%` in it → ambiguous (PHP and Express decode it, nginx's `$arg_`
///   does not, and a JWT never needs an escape); a `+` stays `+` (it fails [`parse`] later); empty → no token.
///
/// For cookies and query parameters, the name occurring more than once → ambiguous. Names that common origin
/// frameworks would read as the same one count as occurrences, and a look-alike alone is taken as the token (the
/// origin would read it as that cookie or parameter): names equal after percent-decoding (in the query, `+` read
/// as a space), dropping leading spaces, cutting at a NUL or at a `[` that a `]` follows, ASCII case-folding and
/// reading ` `, `.` and a lone `[` as `_` (PHP's and `qs`'s rules, see [`OriginName`]). So
/// `access%5Ftoken=a&access_token=b`, `+access_token=a&access_token=b`, `access_token[]=a&access_token=b` and
/// `Tok=a; tok=b` are ambiguous rather than a chance for the filter and the origin to read different tokens.
///
/// Never allocates the token: it is borrowed from the header or the query.
pub fn extract<'a>(
    sources: &[TokenSource],
    header: impl Fn(&str) -> Option<&'a str>,
    query: Option<&'a str>,
) -> Result<Option<Cow<'a, str>>, TokenError> {
    let mut found: Option<Cow<'a, str>> = None;
    for source in sources {
        let token = match source {
            TokenSource::AuthorizationBearer => match header("authorization") {
                Some(value) => from_authorization(value)?.map(Cow::Borrowed),
                None => None,
            },
            TokenSource::Header(name) => match header(name) {
                Some(value) => from_header(value)?.map(Cow::Borrowed),
                None => None,
            },
            TokenSource::Cookie(name) => match header("cookie") {
                Some(value) => from_cookie(value, name)?.map(Cow::Borrowed),
                None => None,
            },
            TokenSource::Query(name) => match query {
                Some(query) => from_query(query, name)?,
                None => None,
            },
        };
        if let Some(token) = token {
            match &found {
                None => found = Some(token),
                Some(first) if first.as_bytes() == token.as_bytes() => {}
                Some(_) => return Err(TokenError::Ambiguous),
            }
        }
    }
    Ok(found)
}

/// Trims optional whitespace (RFC 9110 OWS: spaces and tabs).
fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

fn from_authorization(value: &str) -> Result<Option<&str>, TokenError> {
    if value.contains(',') {
        return Err(TokenError::Ambiguous);
    }
    let value = trim_ows(value);
    let scheme_len = value.bytes().take_while(|&b| is_tchar(b)).count();
    let Some((scheme, rest)) = value.split_at_checked(scheme_len) else {
        return Err(TokenError::Ambiguous);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim_start_matches(' ');
    if token.len() == rest.len() || !is_b64token(token) {
        return Err(TokenError::Ambiguous);
    }
    Ok(Some(token))
}

fn from_header(value: &str) -> Result<Option<&str>, TokenError> {
    let value = trim_ows(value);
    if value.contains(',') {
        return Err(TokenError::Ambiguous);
    }
    Ok((!value.is_empty()).then_some(value))
}

fn from_cookie<'a>(cookies: &'a str, name: &str) -> Result<Option<&'a str>, TokenError> {
    let mut seen = false;
    let mut found = None;
    for pair in cookies.split(';') {
        let Some((raw_name, raw_value)) = pair.split_once('=') else {
            continue;
        };
        // Python's `http.cookies` and other parsers of the RFC 2109 era also split on `,` and white space, and a
        // second `Cookie` line arrives joined with `, `: a cookie of this name after one of those is a cookie to
        // some origins and part of another cookie's value to others.
        let hidden = raw_value
            .split([',', ' ', '\t'])
            .skip(1)
            .filter_map(|piece| piece.split_once('='))
            .any(|(n, _)| names_collide(n, name, false));
        if hidden {
            return Err(TokenError::Ambiguous);
        }
        let raw_name = trim_ows(raw_name);
        let exact = raw_name == name;
        if !exact && !names_collide(raw_name, name, false) {
            continue;
        }
        if seen {
            return Err(TokenError::Ambiguous);
        }
        seen = true;
        // A look-alike name alone is taken as the token too: an origin that folds cookie names reads it as this
        // cookie, so the filter must check the same value (and compare it with the other sources).
        found = Some(trim_ows(raw_value));
    }
    match found {
        // Origins disagree on quotes and escapes in cookie values (Go and Python unquote, nginx and PHP keep the
        // quotes; PHP percent-decodes, the rest do not), and a JWT needs neither: refused, not guessed at.
        Some(value) if value.contains([',', '"', '%']) => Err(TokenError::Ambiguous),
        Some(value) if !value.is_empty() => Ok(Some(value)),
        _ => Ok(None),
    }
}

fn from_query<'a>(query: &'a str, name: &str) -> Result<Option<Cow<'a, str>>, TokenError> {
    let mut seen = false;
    let mut found = None;
    for pair in query.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let exact = percent_decoded_equals(raw_name, name);
        if !exact && !names_collide(raw_name, name, true) {
            continue;
        }
        if seen {
            return Err(TokenError::Ambiguous);
        }
        seen = true;
        // As for cookies: a look-alike name alone is what a folding origin reads as this parameter.
        found = Some(raw_value);
    }
    match found {
        // PHP, Express and most frameworks percent-decode a query value, nginx's `$arg_` does not, and a JWT never
        // needs an escape: an escaped token is refused rather than read one way here and another at the origin.
        Some(raw) if raw.contains('%') => Err(TokenError::Ambiguous),
        Some(raw) if !raw.is_empty() => Ok(Some(Cow::Borrowed(raw))),
        _ => Ok(None),
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Lenient percent-decoding as a byte iterator (an invalid escape stays literal), optionally reading `+` as a
/// space.
#[derive(Clone)]
struct DecodedBytes<'s> {
    rest: &'s [u8],
    plus_is_space: bool,
}

impl Iterator for DecodedBytes<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (byte, rest) = match self.rest {
            [b'%', hi, lo, tail @ ..] => match (hex_value(*hi), hex_value(*lo)) {
                (Some(hi), Some(lo)) => (hi << 4 | lo, tail),
                _ => (b'%', self.rest.get(1..).unwrap_or_default()),
            },
            [b'+', tail @ ..] if self.plus_is_space => (b' ', tail),
            [b, tail @ ..] => (*b, tail),
            [] => return None,
        };
        self.rest = rest;
        Some(byte)
    }
}

fn decoded_bytes(s: &str, plus_is_space: bool) -> DecodedBytes<'_> {
    DecodedBytes {
        rest: s.as_bytes(),
        plus_is_space,
    }
}

/// The name some common origin framework reads for the query parameter or cookie written `raw`, folded so that
/// names any of them reads as the same compare equal, without allocating:
/// - percent-decoded (an invalid escape stays literal; in the query, `+` is a space);
/// - leading spaces dropped and the name cut at the first NUL (PHP: ` access_token`, `+access_token` and
///   `access_token%00x` are `access_token`);
/// - cut at a `[` that a `]` follows (PHP and Express's `qs` read `access_token[]` and `access_token[x]` as the
///   array `access_token`); a `[` without one reads as `_` (PHP);
/// - ASCII lower-cased (ASP.NET Core folds cookie and query names), ` ` and `.` read as `_` (PHP).
#[derive(Clone)]
struct OriginName<'s> {
    bytes: DecodedBytes<'s>,
    started: bool,
    done: bool,
}

impl Iterator for OriginName<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.done {
            return None;
        }
        loop {
            let b = self.bytes.next()?;
            if !self.started && b == b' ' {
                continue;
            }
            self.started = true;
            return match b {
                0 => {
                    self.done = true;
                    None
                }
                b'[' => {
                    let closed = self
                        .bytes
                        .clone()
                        .take_while(|&c| c != 0)
                        .any(|c| c == b']');
                    if closed {
                        self.done = true;
                        None
                    } else {
                        Some(b'_')
                    }
                }
                b' ' | b'.' => Some(b'_'),
                other => Some(other.to_ascii_lowercase()),
            };
        }
    }
}

fn origin_name(raw: &str, plus_is_space: bool) -> OriginName<'_> {
    OriginName {
        bytes: decoded_bytes(raw, plus_is_space),
        started: false,
        done: false,
    }
}

/// Whether the query parameter name `raw` percent-decodes to exactly `name`.
fn percent_decoded_equals(raw: &str, name: &str) -> bool {
    if raw.contains('%') {
        decoded_bytes(raw, false).eq(name.bytes())
    } else {
        raw == name
    }
}

/// Whether an origin framework could read `raw` as the parameter or cookie `name` (see [`origin_name`]).
fn names_collide(raw: &str, name: &str, plus_is_space: bool) -> bool {
    origin_name(raw, plus_is_space).eq(origin_name(name, plus_is_space))
}

/// Values of the query parameters that some common origin framework reads as `name` (see [`origin_name`]), as
/// written (not decoded). The method-override check reads `_method` with it.
pub fn query_values<'a>(query: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .filter(move |(raw_name, _)| names_collide(raw_name, name, true))
        .map(|(_, value)| value)
}

/// A query value percent-decoded with `+` as a space, as form decoders read it; `None` when it is not UTF-8.
pub fn form_decoded(raw: &str) -> Option<String> {
    String::from_utf8(decoded_bytes(raw, true).collect()).ok()
}

// ---------------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE};
    use serde_json::json;

    use Algorithm::{ES256, RS256};

    // ---- token building --------------------------------------------------------------------------------------

    /// One segment of a test token.
    #[derive(Clone, Copy)]
    enum Seg {
        /// JSON text, strict base64url.
        J(&'static str),
        /// Raw bytes, strict base64url.
        B(&'static [u8]),
        /// JSON text, base64url WITH padding.
        Pad(&'static str),
        /// JSON text, standard alphabet (`+`, `/`), no padding.
        Std(&'static str),
        /// Taken as is.
        R(&'static str),
    }
    use Seg::{Pad, Std, B, J, R};

    fn seg(s: Seg) -> String {
        match s {
            J(json) => BASE64URL_STRICT.encode(json),
            B(bytes) => BASE64URL_STRICT.encode(bytes),
            Pad(json) => URL_SAFE.encode(json),
            Std(json) => STANDARD_NO_PAD.encode(json),
            R(raw) => raw.to_owned(),
        }
    }

    fn token(segs: &[Seg]) -> String {
        segs.iter().map(|s| seg(*s)).collect::<Vec<_>>().join(".")
    }

    const H_RS: &str = r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#;
    const P: &str =
        r#"{"iss":"https://issuer.example","sub":"alice","aud":"api","exp":2000000000}"#;
    /// base64url of `sig`.
    const SIG: Seg = R("c2ln");
    const ALL: &[Algorithm] = &Algorithm::ALL;
    const ONLY_RS: &[Algorithm] = &[RS256];
    const MAX: usize = DEFAULT_MAX_TOKEN_BYTES;

    type Want = Result<(Algorithm, Option<&'static str>, Option<&'static str>), TokenError>;

    /// Name, segments, allowed algorithms, size cap, expected (algorithm, kid, typ) or error.
    type ParseCase = (
        &'static str,
        &'static [Seg],
        &'static [Algorithm],
        usize,
        Want,
    );

    #[rustfmt::skip]
    const PARSE_CASES: &[ParseCase] = &[
        ("ok rs256 kid typ", &[J(H_RS), J(P), SIG], ONLY_RS, MAX, Ok((RS256, Some("k1"), Some("JWT")))),
        ("ok bare header", &[J(r#"{"alg":"ES256"}"#), J(P), SIG], &[RS256, ES256], MAX, Ok((ES256, None, None))),
        ("ok eddsa", &[J(r#"{"alg":"EdDSA"}"#), J(P), SIG], ALL, MAX, Ok((Algorithm::EdDSA, None, None))),
        ("ok empty claims", &[J(H_RS), J("{}"), SIG], ONLY_RS, MAX, Ok((RS256, Some("k1"), Some("JWT")))),
        ("ok json whitespace", &[J(" {\"alg\" : \"RS256\"}\n"), J(" { } "), SIG], ONLY_RS, MAX, Ok((RS256, None, None))),
        ("ok typ at+jwt", &[J(r#"{"alg":"RS256","typ":"at+jwt"}"#), J(P), SIG], ONLY_RS, MAX, Ok((RS256, None, Some("at+jwt")))),
        ("ok empty kid", &[J(r#"{"alg":"RS256","kid":""}"#), J(P), SIG], ONLY_RS, MAX, Ok((RS256, Some(""), None))),
        ("ok jku x5u jwk x5c ignored", &[J(r#"{"alg":"RS256","jku":"https://evil.example/jwks","x5u":"https://evil.example/c","jwk":{"kty":"oct","k":"AAAA"},"x5c":["MIIB"]}"#), J(P), SIG], ONLY_RS, MAX, Ok((RS256, None, None))),
        ("ok unknown header params ignored", &[J(r#"{"alg":"RS256","b64":false,"zip":"DEF","cty":"JWT"}"#), J(P), SIG], ONLY_RS, MAX, Ok((RS256, None, None))),
        ("ok canonical one-byte sig", &[J(H_RS), J(P), R("YQ")], ONLY_RS, MAX, Ok((RS256, Some("k1"), Some("JWT")))),
        ("ok url-safe chars in header", &[J(r#"{"alg":"RS256","kid":"???"}"#), J(P), SIG], ONLY_RS, MAX, Ok((RS256, Some("???"), None))),
        ("ok url-safe dash in header", &[J(r#"{"alg":"RS256","kid":">>>"}"#), J(P), SIG], ONLY_RS, MAX, Ok((RS256, Some(">>>"), None))),
        ("ok nested claims", &[J(H_RS), J(r#"{"a":{"b":{"c":[1,{"d":null}]}},"e":[{"x":1},{"x":2}]}"#), SIG], ONLY_RS, MAX, Ok((RS256, Some("k1"), Some("JWT")))),
        // size
        ("too large by one", &[J(H_RS), J(P), SIG], ONLY_RS, 20, Err(TokenError::TooLarge)),
        ("too large beats jwe", &[R("a"), R("b"), R("c"), R("d"), R("e")], ALL, 4, Err(TokenError::TooLarge)),
        ("too large beats garbage", &[R("!!!!!!!!")], ALL, 3, Err(TokenError::TooLarge)),
        ("zero cap", &[R("")], ALL, 0, Err(TokenError::Malformed)),
        // segments
        ("empty string", &[R("")], ALL, MAX, Err(TokenError::Malformed)),
        ("one segment", &[J(H_RS)], ALL, MAX, Err(TokenError::Malformed)),
        ("two segments", &[J(H_RS), J(P)], ALL, MAX, Err(TokenError::Malformed)),
        ("four segments", &[J(H_RS), J(P), SIG, SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("six segments", &[J(H_RS), J(P), SIG, SIG, SIG, SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("jwe five segments", &[J(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#), R("a"), R("b"), R("c"), R("d")], ALL, MAX, Err(TokenError::Encrypted)),
        ("jwe five empty segments", &[R(""), R(""), R(""), R(""), R("")], ALL, MAX, Err(TokenError::Encrypted)),
        ("only dots", &[R(""), R(""), R("")], ALL, MAX, Err(TokenError::Malformed)),
        // base64url strictness
        ("padded header", &[Pad(r#"{"alg":"RS256","kid":"k1"}"#), J(P), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("padded signature", &[J(H_RS), J(P), R("YQ==")], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("standard alphabet slash", &[Std(r#"{"alg":"RS256","kid":"???"}"#), J(P), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("standard alphabet plus", &[Std(r#"{"alg":"RS256","kid":">>>"}"#), J(P), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("plus in signature", &[J(H_RS), J(P), R("ab+c")], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("slash in signature", &[J(H_RS), J(P), R("ab/c")], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("trailing bits set", &[J(H_RS), J(P), R("YR")], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("trailing bits set 3 chars", &[J(H_RS), J(P), R("YWJ")], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("impossible length", &[J(H_RS), J(P), R("YWJjZ")], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("space inside signature", &[J(H_RS), J(P), R("c2 ln")], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("leading space", &[R(" eyJhbGciOiJSUzI1NiJ9"), J(P), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("trailing newline", &[J(H_RS), J(P), R("c2ln\n")], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("tab in payload", &[J(H_RS), R("e30\t"), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("non-ascii", &[J(H_RS), J(P), R("c2ln\u{e9}")], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("percent-encoded", &[J(H_RS), J(P), R("c2ln%3D")], ONLY_RS, MAX, Err(TokenError::Malformed)),
        // header JSON
        ("empty header", &[R(""), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("header not json", &[B(b"alg=RS256"), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("header array", &[J(r#"["RS256"]"#), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("header string", &[J(r#""RS256""#), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("header trailing garbage", &[J(r#"{"alg":"RS256"}x"#), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("header two documents", &[J(r#"{"alg":"RS256"}{}"#), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("header trailing comma", &[J(r#"{"alg":"RS256",}"#), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("header duplicate alg", &[J(r#"{"alg":"RS256","alg":"HS256"}"#), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("header duplicate alg none last", &[J(r#"{"alg":"RS256","alg":"none"}"#), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("header duplicate escaped", &[J(r#"{"alg":"RS256","\u0061lg":"HS256"}"#), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("header duplicate kid", &[J(r#"{"alg":"RS256","kid":"a","kid":"b"}"#), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("header duplicate nested", &[J(r#"{"alg":"RS256","jwk":{"k":"a","k":"b"}}"#), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("header bom", &[B(b"\xef\xbb\xbf{\"alg\":\"RS256\"}"), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("header invalid utf8", &[B(b"{\"alg\":\"RS256\",\"kid\":\"\xff\"}"), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        // alg
        ("alg none", &[J(r#"{"alg":"none"}"#), J(P), R("")], ALL, MAX, Err(TokenError::Algorithm)),
        ("alg None", &[J(r#"{"alg":"None"}"#), J(P), R("")], ALL, MAX, Err(TokenError::Algorithm)),
        ("alg NONE", &[J(r#"{"alg":"NONE"}"#), J(P), R("")], ALL, MAX, Err(TokenError::Algorithm)),
        ("alg nOnE", &[J(r#"{"alg":"nOnE"}"#), J(P), R("")], ALL, MAX, Err(TokenError::Algorithm)),
        ("alg none with signature", &[J(r#"{"alg":"none"}"#), J(P), SIG], ALL, MAX, Err(TokenError::Algorithm)),
        ("alg none padded", &[J(r#"{"alg":" none "}"#), J(P), R("")], ALL, MAX, Err(TokenError::Algorithm)),
        ("alg none escaped", &[J(r#"{"alg":"n\u006fne"}"#), J(P), R("")], ALL, MAX, Err(TokenError::Algorithm)),
        ("alg none nul", &[J(r#"{"alg":"none\u0000"}"#), J(P), R("")], ALL, MAX, Err(TokenError::Algorithm)),
        ("alg lower-case hs256", &[J(r#"{"alg":"hs256"}"#), J(P), SIG], ALL, MAX, Err(TokenError::Algorithm)),
        ("alg trailing space", &[J(r#"{"alg":"RS256 "}"#), J(P), SIG], ALL, MAX, Err(TokenError::Algorithm)),
        ("alg unknown", &[J(r#"{"alg":"HS1024"}"#), J(P), SIG], ALL, MAX, Err(TokenError::Algorithm)),
        ("alg jwe name", &[J(r#"{"alg":"RSA-OAEP"}"#), J(P), SIG], ALL, MAX, Err(TokenError::Algorithm)),
        ("alg empty", &[J(r#"{"alg":""}"#), J(P), SIG], ALL, MAX, Err(TokenError::Algorithm)),
        ("alg not allowed hs256 for rsa issuer", &[J(r#"{"alg":"HS256"}"#), J(P), SIG], ONLY_RS, MAX, Err(TokenError::Algorithm)),
        ("alg not allowed rs384", &[J(r#"{"alg":"RS384"}"#), J(P), SIG], ONLY_RS, MAX, Err(TokenError::Algorithm)),
        ("alg nothing allowed", &[J(H_RS), J(P), SIG], &[], MAX, Err(TokenError::Algorithm)),
        ("alg missing", &[J(r#"{"kid":"k1"}"#), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("alg number", &[J(r#"{"alg":256}"#), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("alg null", &[J(r#"{"alg":null}"#), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("alg array", &[J(r#"{"alg":["RS256"]}"#), J(P), SIG], ALL, MAX, Err(TokenError::Malformed)),
        ("alg before payload", &[J(r#"{"alg":"none"}"#), J("[]"), R("")], ALL, MAX, Err(TokenError::Algorithm)),
        // crit
        ("crit list", &[J(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#), J(P), SIG], ONLY_RS, MAX, Err(TokenError::CriticalHeader)),
        ("crit b64", &[J(r#"{"alg":"RS256","crit":["b64"],"b64":false}"#), J(P), SIG], ONLY_RS, MAX, Err(TokenError::CriticalHeader)),
        ("crit empty", &[J(r#"{"alg":"RS256","crit":[]}"#), J(P), SIG], ONLY_RS, MAX, Err(TokenError::CriticalHeader)),
        ("crit null", &[J(r#"{"alg":"RS256","crit":null}"#), J(P), SIG], ONLY_RS, MAX, Err(TokenError::CriticalHeader)),
        ("crit after alg", &[J(r#"{"alg":"none","crit":["x"]}"#), J(P), SIG], ALL, MAX, Err(TokenError::Algorithm)),
        ("crit before kid", &[J(r#"{"alg":"RS256","crit":["x"],"kid":7}"#), J(P), SIG], ONLY_RS, MAX, Err(TokenError::CriticalHeader)),
        ("crit before payload", &[J(r#"{"alg":"RS256","crit":["x"]}"#), J("[]"), SIG], ONLY_RS, MAX, Err(TokenError::CriticalHeader)),
        // kid, typ
        ("kid number", &[J(r#"{"alg":"RS256","kid":1}"#), J(P), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("kid null", &[J(r#"{"alg":"RS256","kid":null}"#), J(P), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("kid object", &[J(r#"{"alg":"RS256","kid":{"a":1}}"#), J(P), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("typ number", &[J(r#"{"alg":"RS256","typ":1}"#), J(P), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("typ null", &[J(r#"{"alg":"RS256","typ":null}"#), J(P), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        // payload
        ("empty payload", &[J(H_RS), R(""), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload array", &[J(H_RS), J("[]"), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload string", &[J(H_RS), J(r#""sub""#), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload number", &[J(H_RS), J("1"), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload null", &[J(H_RS), J("null"), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload true", &[J(H_RS), J("true"), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload duplicate sub", &[J(H_RS), J(r#"{"sub":"alice","sub":"admin"}"#), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload duplicate aud", &[J(H_RS), J(r#"{"aud":"x","iss":"i","aud":"api"}"#), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload duplicate escaped", &[J(H_RS), J(r#"{"sub":"a","\u0073ub":"b"}"#), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload duplicate nested", &[J(H_RS), J(r#"{"org":{"role":"user","role":"admin"}}"#), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload duplicate deep", &[J(H_RS), J(r#"{"a":{"b":{"c":{"d":1,"d":1}}}}"#), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload duplicate in array", &[J(H_RS), J(r#"{"a":[1,{"x":1,"x":2}]}"#), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload same key different objects ok", &[J(H_RS), J(r#"{"a":{"x":1},"b":{"x":1},"x":[{"x":1},{"x":1}]}"#), SIG], ONLY_RS, MAX, Ok((RS256, Some("k1"), Some("JWT")))),
        ("payload lone surrogate", &[J(H_RS), J(r#"{"sub":"\ud800"}"#), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload invalid utf8", &[J(H_RS), B(b"{\"sub\":\"\xc3\x28\"}"), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload number overflow", &[J(H_RS), J(r#"{"exp":1e400}"#), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload NaN literal", &[J(H_RS), J(r#"{"exp":NaN}"#), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload single quotes", &[J(H_RS), J("{'sub':'a'}"), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload comment", &[J(H_RS), J("{/*x*/}"), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("payload bad base64", &[J(H_RS), R("e30="), SIG], ONLY_RS, MAX, Err(TokenError::Malformed)),
        // signature
        ("empty signature", &[J(H_RS), J(P), R("")], ONLY_RS, MAX, Err(TokenError::BadSignature)),
        ("bad payload beats empty signature", &[J(H_RS), J("[]"), R("")], ONLY_RS, MAX, Err(TokenError::Malformed)),
        ("bad signature base64 beats alg", &[J(r#"{"alg":"none"}"#), J(P), R("!")], ALL, MAX, Err(TokenError::Malformed)),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn parse_table() {
        for (name, segs, allowed, max, want) in PARSE_CASES {
            let text = token(segs);
            let got = parse(&text, allowed, *max);
            match (got, want) {
                (Ok(compact), Ok((alg, kid, typ))) => {
                    assert_eq!(compact.header.alg, *alg, "{name}");
                    assert_eq!(compact.header.kid.as_deref(), *kid, "{name}");
                    assert_eq!(compact.header.typ.as_deref(), *typ, "{name}");
                    let (input, sig) = text.rsplit_once('.').unwrap();
                    assert_eq!(compact.signing_input, input, "{name}");
                    assert_eq!(
                        compact.signature,
                        BASE64URL_STRICT.decode(sig).unwrap(),
                        "{name}"
                    );
                    let (_, payload) = input.split_once('.').unwrap();
                    let expected: Value =
                        serde_json::from_slice(&BASE64URL_STRICT.decode(payload).unwrap()).unwrap();
                    assert_eq!(Value::Object(compact.claims.into_map()), expected, "{name}");
                }
                (got, want) => assert_eq!(got.map(|_| ()), want.map(|_| ()), "{name}: {text}"),
            }
        }
    }

    /// (pinned as written in the policy, the token's `typ`, whether it matches).
    const TYP_CASES: &[(&str, Option<&str>, bool)] = &[
        ("at+jwt", Some("at+jwt"), true),
        ("at+jwt", Some("AT+JWT"), true),
        ("at+jwt", Some("application/at+jwt"), true),
        ("at+jwt", Some("Application/AT+jwt"), true),
        ("application/at+jwt", Some("at+jwt"), true),
        ("AT+JWT", Some("at+jwt"), true),
        ("at+jwt", None, false),
        ("at+jwt", Some("JWT"), false),
        ("at+jwt", Some(""), false),
        ("at+jwt", Some("at+jwt "), false),
        ("at+jwt", Some("text/at+jwt"), false),
        ("at+jwt", Some("application/jwt"), false),
        ("at+jwt", Some("application/application/at+jwt"), false),
        ("at+jwt", Some("at+jwt; charset=utf-8"), false),
        ("jwt", Some("JWT"), true),
        ("jwt", Some("at+jwt"), false),
        ("example/x", Some("example/X"), true),
        ("example/x", Some("x"), false),
        ("example/x", Some("application/example/x"), false),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn typ_table() {
        for (pinned, typ, want) in TYP_CASES {
            let canonical = canonical_typ(pinned);
            assert_eq!(typ_matches(&canonical, *typ), *want, "{pinned} vs {typ:?}");
        }
        assert_eq!(canonical_typ("AT+JWT"), "application/at+jwt");
        assert_eq!(canonical_typ("Application/AT+JWT"), "application/at+jwt");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn parse_table_is_meaningful() {
        // The alphabet rows only test something if the encodings really differ from base64url.
        assert!(seg(Std(r#"{"alg":"RS256","kid":"???"}"#)).contains('/'));
        assert!(seg(Std(r#"{"alg":"RS256","kid":">>>"}"#)).contains('+'));
        assert!(seg(Pad(r#"{"alg":"RS256","kid":"k1"}"#)).ends_with('='));
        // And the `too large by one` row sits right on the boundary.
        let text = token(&[J(H_RS), J(P), SIG]);
        assert!(parse(&text, ONLY_RS, text.len()).is_ok());
        assert_eq!(
            parse(&text, ONLY_RS, text.len() - 1).err(),
            Some(TokenError::TooLarge)
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn parse_kid_length_boundary() {
        for (len, want) in [(255, true), (256, true), (257, false), (4096, false)] {
            let header = json!({"alg": "RS256", "kid": "k".repeat(len)}).to_string();
            let text = format!(
                "{}.{}.c2ln",
                BASE64URL_STRICT.encode(header),
                BASE64URL_STRICT.encode(P)
            );
            let got = parse(&text, ONLY_RS, MAX);
            if want {
                assert_eq!(
                    got.unwrap().header.kid.map(|k| k.len()),
                    Some(len),
                    "kid {len}"
                );
            } else {
                assert_eq!(got.err(), Some(TokenError::Malformed), "kid {len}");
            }
        }
        // Multi-byte: 128 two-byte characters are 256 bytes, 129 are over.
        for (chars, ok) in [(128, true), (129, false)] {
            let header = json!({"alg": "RS256", "kid": "\u{e9}".repeat(chars)}).to_string();
            let text = format!(
                "{}.{}.c2ln",
                BASE64URL_STRICT.encode(header),
                BASE64URL_STRICT.encode(P)
            );
            assert_eq!(parse(&text, ONLY_RS, MAX).is_ok(), ok, "{chars} chars");
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn parse_deep_nesting_is_an_error_not_a_crash() {
        for (depth, ok) in [(100, true), (127, true), (200, false), (2000, false)] {
            let payload = format!(
                "{}{}",
                "{\"a\":".repeat(depth),
                "1".to_owned() + &"}".repeat(depth)
            );
            let text = format!(
                "{}.{}.c2ln",
                BASE64URL_STRICT.encode(H_RS),
                BASE64URL_STRICT.encode(payload)
            );
            let got = parse(&text, ONLY_RS, usize::MAX);
            assert_eq!(got.is_ok(), ok, "depth {depth}");
            if !ok {
                assert_eq!(got.err(), Some(TokenError::Malformed), "depth {depth}");
            }
        }
        let arrays = format!("{{\"a\":{}{}}}", "[".repeat(500), "]".repeat(500));
        let text = format!(
            "{}.{}.c2ln",
            BASE64URL_STRICT.encode(H_RS),
            BASE64URL_STRICT.encode(arrays)
        );
        assert_eq!(
            parse(&text, ONLY_RS, usize::MAX).err(),
            Some(TokenError::Malformed)
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn parse_borrows_signing_input_and_debug_hides_claims() {
        let text = token(&[J(H_RS), J(r#"{"sub":"secret-subject","n":1}"#), SIG]);
        let compact = parse(&text, ONLY_RS, MAX).unwrap();
        assert!(std::ptr::eq(compact.signing_input.as_ptr(), text.as_ptr()));
        assert_eq!(compact.signature, b"sig");
        let shown = format!("{compact:?}");
        assert!(!shown.contains("secret-subject"), "{shown}");
        assert!(!shown.contains(compact.signing_input), "{shown}");
        assert!(shown.contains("\"sub\""), "{shown}");
        assert_eq!(format!("{:?}", compact.claims), r#"Claims{"n", "sub"}"#);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn strict_json_table() {
        #[rustfmt::skip]
        const CASES: &[(&str, &str, bool)] = &[
            ("object", r#"{"a":1}"#, true),
            ("scalar", "1", true),
            ("null", "null", true),
            ("array of objects", r#"[{"a":1},{"a":1}]"#, true),
            ("duplicate top", r#"{"a":1,"a":1}"#, false),
            ("duplicate null values", r#"{"a":null,"a":null}"#, false),
            ("duplicate nested in array", r#"[[{"a":1,"b":2,"a":3}]]"#, false),
            ("duplicate after escape", r#"{"\/":1,"/":2}"#, false),
            ("distinct case", r#"{"a":1,"A":2}"#, true),
            ("empty keys duplicated", r#"{"":1,"":2}"#, false),
            ("trailing data", r#"{"a":1} 2"#, false),
            ("infinity", r#"{"a":Infinity}"#, false),
        ];
        for (name, text, ok) in CASES {
            let got = parse_json_strict(text.as_bytes());
            assert_eq!(got.is_ok(), *ok, "{name}");
            if let Ok(value) = got {
                assert_eq!(
                    value,
                    serde_json::from_str::<Value>(text).unwrap(),
                    "{name}"
                );
            } else {
                assert_eq!(got, Err(TokenError::Malformed), "{name}");
            }
        }
    }

    // ---- claims ----------------------------------------------------------------------------------------------

    const NOW: u64 = 1_700_000_000;

    fn rules(leeway: u64, max_lifetime: Option<u64>, required: &[&str]) -> ClaimRules {
        ClaimRules {
            issuer: "https://issuer.example".to_owned(),
            audiences: vec!["api".to_owned(), "web".to_owned()],
            leeway,
            max_lifetime,
            required: required.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn claims(text: &str) -> Claims {
        Claims::from_json(text.as_bytes()).unwrap()
    }

    /// `iss` and `aud`, checked with the default rules (leeway 60, required `exp`) at NOW.
    #[rustfmt::skip]
    const ISS_AUD_CASES: &[(&str, &str, Result<(), TokenError>)] = &[
        ("ok string aud", r#"{"iss":"https://issuer.example","aud":"api","exp":1700000100}"#, Ok(())),
        ("ok second audience", r#"{"iss":"https://issuer.example","aud":"web","exp":1700000100}"#, Ok(())),
        ("ok array aud", r#"{"iss":"https://issuer.example","aud":["other","web"],"exp":1700000100}"#, Ok(())),
        ("iss missing", r#"{"aud":"api","exp":1700000100}"#, Err(TokenError::Issuer)),
        ("iss null", r#"{"iss":null,"aud":"api","exp":1700000100}"#, Err(TokenError::Issuer)),
        ("iss number", r#"{"iss":1,"aud":"api","exp":1700000100}"#, Err(TokenError::Issuer)),
        ("iss array", r#"{"iss":["https://issuer.example"],"aud":"api","exp":1700000100}"#, Err(TokenError::Issuer)),
        ("iss trailing slash", r#"{"iss":"https://issuer.example/","aud":"api","exp":1700000100}"#, Err(TokenError::Issuer)),
        ("iss case", r#"{"iss":"https://Issuer.example","aud":"api","exp":1700000100}"#, Err(TokenError::Issuer)),
        ("iss prefix", r#"{"iss":"https://issuer.example.evil","aud":"api","exp":1700000100}"#, Err(TokenError::Issuer)),
        ("iss beats aud type", r#"{"iss":"x","aud":7,"exp":1700000100}"#, Err(TokenError::Issuer)),
        ("iss beats expiry", r#"{"iss":"x","aud":"api","exp":1}"#, Err(TokenError::Issuer)),
        ("aud missing", r#"{"iss":"https://issuer.example","exp":1700000100}"#, Err(TokenError::Audience)),
        ("aud other", r#"{"iss":"https://issuer.example","aud":"apis","exp":1700000100}"#, Err(TokenError::Audience)),
        ("aud case", r#"{"iss":"https://issuer.example","aud":"API","exp":1700000100}"#, Err(TokenError::Audience)),
        ("aud space", r#"{"iss":"https://issuer.example","aud":"api ","exp":1700000100}"#, Err(TokenError::Audience)),
        ("aud space-joined", r#"{"iss":"https://issuer.example","aud":"api web","exp":1700000100}"#, Err(TokenError::Audience)),
        ("aud empty array", r#"{"iss":"https://issuer.example","aud":[],"exp":1700000100}"#, Err(TokenError::Audience)),
        ("aud array none match", r#"{"iss":"https://issuer.example","aud":["a","b"],"exp":1700000100}"#, Err(TokenError::Audience)),
        ("aud nested array", r#"{"iss":"https://issuer.example","aud":[["api"]],"exp":1700000100}"#, Err(TokenError::Malformed)),
        ("aud array with number after match", r#"{"iss":"https://issuer.example","aud":["api",1],"exp":1700000100}"#, Err(TokenError::Malformed)),
        ("aud array with null", r#"{"iss":"https://issuer.example","aud":[null],"exp":1700000100}"#, Err(TokenError::Malformed)),
        ("aud number", r#"{"iss":"https://issuer.example","aud":1,"exp":1700000100}"#, Err(TokenError::Malformed)),
        ("aud null", r#"{"iss":"https://issuer.example","aud":null,"exp":1700000100}"#, Err(TokenError::Malformed)),
        ("aud object", r#"{"iss":"https://issuer.example","aud":{"api":true},"exp":1700000100}"#, Err(TokenError::Malformed)),
        ("aud bool", r#"{"iss":"https://issuer.example","aud":true,"exp":1700000100}"#, Err(TokenError::Malformed)),
        ("aud beats expiry", r#"{"iss":"https://issuer.example","aud":"x","exp":1}"#, Err(TokenError::Audience)),
        ("aud beats malformed exp", r#"{"iss":"https://issuer.example","aud":"x","exp":"soon"}"#, Err(TokenError::Audience)),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn claims_iss_aud_table() {
        let rules = rules(60, None, &["exp"]);
        for (name, text, want) in ISS_AUD_CASES {
            assert_eq!(check_claims(&claims(text), &rules, NOW), *want, "{name}");
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn claims_empty_audience_list_accepts_nothing() {
        let mut rules = rules(60, None, &[]);
        rules.audiences.clear();
        let c = claims(r#"{"iss":"https://issuer.example","aud":"api"}"#);
        assert_eq!(check_claims(&c, &rules, NOW), Err(TokenError::Audience));
        let c = claims(r#"{"iss":"https://issuer.example","aud":[""]}"#);
        assert_eq!(check_claims(&c, &rules, NOW), Err(TokenError::Audience));
    }

    type TimeCase = (
        &'static str,
        &'static str,
        u64,
        Option<u64>,
        &'static [&'static str],
        u64,
        Result<(), TokenError>,
    );

    /// Time claims: `extra` is appended to a valid `iss`/`aud`. Columns: name, extra members, leeway,
    /// max lifetime, required, now, expected.
    #[rustfmt::skip]
    const TIME_CASES: &[TimeCase] = &[
        ("exp future", r#""exp":1700000001"#, 0, None, &["exp"], NOW, Ok(())),
        ("exp equals now", r#""exp":1700000000"#, 0, None, &["exp"], NOW, Ok(())),
        ("exp one second past", r#""exp":1699999999"#, 0, None, &["exp"], NOW, Err(TokenError::Expired)),
        ("exp exactly at leeway", r#""exp":1699999940"#, 60, None, &["exp"], NOW, Ok(())),
        ("exp one past leeway", r#""exp":1699999939"#, 60, None, &["exp"], NOW, Err(TokenError::Expired)),
        ("exp float at leeway", r#""exp":1699999940.0"#, 60, None, &["exp"], NOW, Ok(())),
        ("exp float half past leeway", r#""exp":1699999939.5"#, 60, None, &["exp"], NOW, Err(TokenError::Expired)),
        ("exp float just past leeway", r#""exp":1699999939.999"#, 60, None, &["exp"], NOW, Err(TokenError::Expired)),
        ("exp float just inside", r#""exp":1699999940.001"#, 60, None, &["exp"], NOW, Ok(())),
        ("exp float half before now", r#""exp":1699999999.5"#, 0, None, &["exp"], NOW, Err(TokenError::Expired)),
        ("exp exponent form", r#""exp":1.7e9"#, 0, None, &["exp"], NOW, Ok(())),
        ("exp exponent form past", r#""exp":1.6e9"#, 0, None, &["exp"], NOW, Err(TokenError::Expired)),
        ("exp zero", r#""exp":0"#, 60, None, &["exp"], NOW, Err(TokenError::Expired)),
        ("exp zero at epoch", r#""exp":0"#, 0, None, &["exp"], 0, Ok(())),
        ("exp max date", r#""exp":253402300799"#, 0, None, &["exp"], NOW, Ok(())),
        ("exp max date float", r#""exp":253402300799.0"#, 0, None, &["exp"], NOW, Ok(())),
        ("exp over max date", r#""exp":253402300800"#, 0, None, &["exp"], NOW, Err(TokenError::Malformed)),
        ("exp over max date by half", r#""exp":253402300799.5"#, 0, None, &["exp"], NOW, Err(TokenError::Malformed)),
        ("exp huge float", r#""exp":1e300"#, 0, None, &["exp"], NOW, Err(TokenError::Malformed)),
        ("exp u64 max", r#""exp":18446744073709551615"#, 0, None, &["exp"], NOW, Err(TokenError::Malformed)),
        ("exp beyond u64", r#""exp":18446744073709551616"#, 0, None, &["exp"], NOW, Err(TokenError::Malformed)),
        ("exp negative", r#""exp":-1"#, 0, None, &["exp"], NOW, Err(TokenError::Malformed)),
        ("exp negative float", r#""exp":-0.5"#, 0, None, &["exp"], NOW, Err(TokenError::Malformed)),
        ("exp i64 min", r#""exp":-9223372036854775808"#, 0, None, &["exp"], NOW, Err(TokenError::Malformed)),
        ("exp minus zero", r#""exp":-0"#, 0, None, &["exp"], 0, Ok(())),
        ("exp minus zero float", r#""exp":-0.0"#, 0, None, &["exp"], 0, Ok(())),
        ("exp string", r#""exp":"1700000100""#, 0, None, &["exp"], NOW, Err(TokenError::Malformed)),
        ("exp bool", r#""exp":true"#, 0, None, &["exp"], NOW, Err(TokenError::Malformed)),
        ("exp null", r#""exp":null"#, 0, None, &["exp"], NOW, Err(TokenError::Malformed)),
        ("exp null not required", r#""exp":null"#, 0, None, &[], NOW, Err(TokenError::Malformed)),
        ("exp array", r#""exp":[1700000100]"#, 0, None, &["exp"], NOW, Err(TokenError::Malformed)),
        ("exp object", r#""exp":{"t":1700000100}"#, 0, None, &["exp"], NOW, Err(TokenError::Malformed)),
        ("exp missing required", r#""sub":"a""#, 0, None, &["exp"], NOW, Err(TokenError::MissingClaim)),
        ("exp missing not required", r#""sub":"a""#, 0, None, &[], NOW, Ok(())),
        ("malformed exp beats missing", r#""exp":"x""#, 0, None, &["sub"], NOW, Err(TokenError::Malformed)),
        ("malformed nbf beats expired", r#""exp":1,"nbf":"x""#, 0, None, &[], NOW, Err(TokenError::Malformed)),
        ("malformed iat beats expired", r#""exp":1,"iat":-5"#, 0, None, &[], NOW, Err(TokenError::Malformed)),
        ("leeway overflow no wrap", r#""exp":0"#, u64::MAX, None, &[], u64::MAX, Ok(())),
        ("now max expired", r#""exp":253402300799"#, 0, None, &[], u64::MAX, Err(TokenError::Expired)),
        ("nbf past", r#""exp":1700000100,"nbf":1699999000"#, 0, None, &["exp"], NOW, Ok(())),
        ("nbf equals now", r#""exp":1700000100,"nbf":1700000000"#, 0, None, &["exp"], NOW, Ok(())),
        ("nbf one ahead", r#""exp":1700000100,"nbf":1700000001"#, 0, None, &["exp"], NOW, Err(TokenError::NotYetValid)),
        ("nbf exactly at leeway", r#""exp":1700000100,"nbf":1700000060"#, 60, None, &["exp"], NOW, Ok(())),
        ("nbf one past leeway", r#""exp":1700000100,"nbf":1700000061"#, 60, None, &["exp"], NOW, Err(TokenError::NotYetValid)),
        ("nbf float at leeway", r#""exp":1700000100,"nbf":1700000060.0"#, 60, None, &["exp"], NOW, Ok(())),
        ("nbf float half past leeway", r#""exp":1700000100,"nbf":1700000060.5"#, 60, None, &["exp"], NOW, Err(TokenError::NotYetValid)),
        ("nbf float just inside", r#""exp":1700000100,"nbf":1700000059.999"#, 60, None, &["exp"], NOW, Ok(())),
        ("nbf zero", r#""exp":1700000100,"nbf":0"#, 0, None, &["exp"], NOW, Ok(())),
        ("nbf max date", r#""exp":253402300799,"nbf":253402300799"#, 0, None, &["exp"], NOW, Err(TokenError::NotYetValid)),
        ("nbf huge leeway", r#""nbf":253402300799"#, u64::MAX, None, &[], u64::MAX, Ok(())),
        ("nbf string", r#""exp":1700000100,"nbf":"0""#, 0, None, &["exp"], NOW, Err(TokenError::Malformed)),
        ("iat past", r#""exp":1700000100,"iat":1699999000"#, 0, None, &["exp"], NOW, Ok(())),
        ("iat equals now", r#""exp":1700000100,"iat":1700000000"#, 0, None, &["exp"], NOW, Ok(())),
        ("iat exactly at leeway", r#""exp":1700000100,"iat":1700000060"#, 60, None, &["exp"], NOW, Ok(())),
        ("iat one past leeway", r#""exp":1700000100,"iat":1700000061"#, 60, None, &["exp"], NOW, Err(TokenError::IssuedInFuture)),
        ("iat float just past", r#""exp":1700000100,"iat":1700000000.25"#, 0, None, &["exp"], NOW, Err(TokenError::IssuedInFuture)),
        ("iat bool", r#""exp":1700000100,"iat":false"#, 0, None, &["exp"], NOW, Err(TokenError::Malformed)),
        ("expired beats not yet valid", r#""exp":1,"nbf":1800000000"#, 0, None, &[], NOW, Err(TokenError::Expired)),
        ("not yet valid beats iat", r#""exp":1800000000,"nbf":1800000000,"iat":1800000000"#, 0, None, &[], NOW, Err(TokenError::NotYetValid)),
        ("required before expiry", r#""exp":1"#, 0, None, &["exp", "sub"], NOW, Err(TokenError::MissingClaim)),
        ("required null", r#""exp":1700000100,"sub":null"#, 0, None, &["exp", "sub"], NOW, Err(TokenError::MissingClaim)),
        ("required empty string present", r##""exp":1700000100,"sub":"""##, 0, None, &["exp", "sub"], NOW, Ok(())),
        ("required false present", r#""exp":1700000100,"sub":false"#, 0, None, &["exp", "sub"], NOW, Ok(())),
        ("required nested name is top-level only", r#""exp":1700000100,"org":{"id":1}"#, 0, None, &["org.id"], NOW, Err(TokenError::MissingClaim)),
        ("required iss aud", r#""exp":1700000100"#, 0, None, &["iss", "aud", "exp"], NOW, Ok(())),
        ("lifetime exactly max", r#""iat":1700000000,"exp":1700003600"#, 0, Some(3600), &["exp"], NOW, Ok(())),
        ("lifetime one over", r#""iat":1700000000,"exp":1700003601"#, 0, Some(3600), &["exp"], NOW, Err(TokenError::LifetimeTooLong)),
        ("lifetime no leeway applied", r#""iat":1700000000,"exp":1700003601"#, 600, Some(3600), &["exp"], NOW, Err(TokenError::LifetimeTooLong)),
        ("lifetime float exact", r#""iat":1700000000.5,"exp":1700003600.5"#, 0, Some(3600), &["exp"], 1_700_000_001, Ok(())),
        ("lifetime float quarter over", r#""iat":1700000000.5,"exp":1700003600.75"#, 0, Some(3600), &["exp"], 1_700_000_001, Err(TokenError::LifetimeTooLong)),
        ("lifetime float quarter under", r#""iat":1700000000.5,"exp":1700003600.25"#, 0, Some(3600), &["exp"], 1_700_000_001, Ok(())),
        ("lifetime float whole over frac under", r#""iat":1700000000.5,"exp":1700003601.25"#, 0, Some(3600), &["exp"], 1_700_000_001, Err(TokenError::LifetimeTooLong)),
        ("lifetime int iat float exp", r#""iat":1700000000,"exp":1700003600.001"#, 0, Some(3600), &["exp"], NOW, Err(TokenError::LifetimeTooLong)),
        ("lifetime float iat int exp", r#""iat":1699999999.999,"exp":1700003600"#, 0, Some(3600), &["exp"], NOW, Err(TokenError::LifetimeTooLong)),
        ("lifetime zero max", r#""iat":1700000000,"exp":1700000000"#, 0, Some(0), &[], NOW, Ok(())),
        ("lifetime negative passes", r#""iat":1700000000,"exp":1699999999"#, 1, Some(0), &[], 1699999999, Ok(())),
        ("lifetime missing iat", r#""exp":1700003600"#, 0, Some(3600), &["exp"], NOW, Err(TokenError::MissingClaim)),
        ("lifetime missing exp", r#""iat":1700000000"#, 0, Some(3600), &[], NOW, Err(TokenError::MissingClaim)),
        ("lifetime huge max", r#""iat":0,"exp":253402300799"#, 0, Some(u64::MAX), &[], NOW, Ok(())),
        ("lifetime after expiry check", r#""iat":0,"exp":1"#, 0, Some(0), &[], NOW, Err(TokenError::Expired)),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn claims_time_table() {
        for (name, extra, leeway, max_lifetime, required, now, want) in TIME_CASES {
            let text = format!(r#"{{"iss":"https://issuer.example","aud":"api",{extra}}}"#);
            let rules = rules(*leeway, *max_lifetime, required);
            assert_eq!(check_claims(&claims(&text), &rules, *now), *want, "{name}");
        }
    }

    // ---- predicates ------------------------------------------------------------------------------------------

    const PRED_CLAIMS: &str = r#"{
        "sub": "alice",
        "roles": ["admin", "dev"],
        "one_role": ["superadmin"],
        "scope": "  read  write openid ",
        "scope_tab": "read\twrite",
        "n": 1, "f": 1.0, "half": 0.5, "neg": -5, "big": 18446744073709551615, "bigf": 1.8446744073709552e19,
        "nested": {"org": {"id": "acme", "tier": 2}},
        "nul": null, "flag": true, "empty": "", "empty_arr": [],
        "mixed": ["a", 1], "nums": [1, 2.5], "objs": [{"a": 1}], "blank": ["", "x"]
    }"#;

    #[derive(Clone, Copy)]
    enum P {
        Eq(&'static str),
        OneOf(&'static str),
        Contains(&'static str),
        All(&'static [&'static str]),
        Any(&'static [&'static str]),
        Exists(bool),
    }

    fn predicate(p: P) -> ClaimPredicate {
        let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        let strings = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        match p {
            P::Eq(s) => ClaimPredicate::Equals(v(s)),
            P::OneOf(s) => match v(s) {
                Value::Array(items) => ClaimPredicate::OneOf(items),
                _ => unreachable!(),
            },
            P::Contains(s) => ClaimPredicate::Contains(v(s)),
            P::All(l) => ClaimPredicate::HasAll(strings(l)),
            P::Any(l) => ClaimPredicate::HasAny(strings(l)),
            P::Exists(b) => ClaimPredicate::Exists(b),
        }
    }

    #[rustfmt::skip]
    const PRED_CASES: &[(&str, &str, P, bool)] = &[
        ("eq string", "sub", P::Eq(r#""alice""#), true),
        ("eq string case", "sub", P::Eq(r#""Alice""#), false),
        ("eq string prefix", "sub", P::Eq(r#""ali""#), false),
        ("eq int float", "n", P::Eq("1.0"), true),
        ("eq float int", "f", P::Eq("1"), true),
        ("eq int int", "n", P::Eq("1"), true),
        ("eq int other", "n", P::Eq("2"), false),
        ("eq number vs string", "n", P::Eq(r#""1""#), false),
        ("eq number vs bool", "n", P::Eq("true"), false),
        ("eq half", "half", P::Eq("0.5"), true),
        ("eq half vs int", "half", P::Eq("0"), false),
        ("eq negative float", "neg", P::Eq("-5.0"), true),
        ("eq negative vs positive", "neg", P::Eq("5"), false),
        ("eq u64 max vs rounded float", "big", P::Eq("1.8446744073709552e19"), false),
        ("eq rounded float vs u64 max", "bigf", P::Eq("18446744073709551615"), false),
        ("eq u64 max", "big", P::Eq("18446744073709551615"), true),
        ("eq float float", "bigf", P::Eq("1.8446744073709552e19"), true),
        ("eq nested object numeric", "nested", P::Eq(r#"{"org":{"tier":2.0,"id":"acme"}}"#), true),
        ("eq nested object extra key", "nested", P::Eq(r#"{"org":{"tier":2,"id":"acme","x":1}}"#), false),
        ("eq nested object missing key", "nested", P::Eq(r#"{"org":{"tier":2}}"#), false),
        ("eq nested path", "nested.org.id", P::Eq(r#""acme""#), true),
        ("eq nested path number", "nested.org.tier", P::Eq("2.0"), true),
        ("eq array", "roles", P::Eq(r#"["admin","dev"]"#), true),
        ("eq array order", "roles", P::Eq(r#"["dev","admin"]"#), false),
        ("eq array prefix", "roles", P::Eq(r#"["admin"]"#), false),
        ("eq array numeric", "nums", P::Eq("[1.0, 2.5]"), true),
        ("eq null present", "nul", P::Eq("null"), true),
        ("eq null missing", "nope", P::Eq("null"), false),
        ("eq bool", "flag", P::Eq("true"), true),
        ("eq missing", "nope", P::Eq(r#""alice""#), false),
        ("eq through array", "objs.a", P::Eq("1"), false),
        ("eq empty path", "", P::Eq(r#""alice""#), false),
        ("one of hit", "sub", P::OneOf(r#"["bob","alice"]"#), true),
        ("one of numeric", "n", P::OneOf(r#"["1", 1.0]"#), true),
        ("one of miss", "sub", P::OneOf(r#"["bob","carol"]"#), false),
        ("one of empty", "sub", P::OneOf("[]"), false),
        ("one of missing", "nope", P::OneOf(r#"[null]"#), false),
        ("contains hit", "roles", P::Contains(r#""admin""#), true),
        ("contains second", "roles", P::Contains(r#""dev""#), true),
        ("contains prefix", "roles", P::Contains(r#""adm""#), false),
        ("contains not superadmin", "one_role", P::Contains(r#""admin""#), false),
        ("contains case", "roles", P::Contains(r#""Admin""#), false),
        ("contains string claim never", "sub", P::Contains(r#""ali""#), false),
        ("contains whole string claim never", "sub", P::Contains(r#""alice""#), false),
        ("contains scope string never", "scope", P::Contains(r#""read""#), false),
        ("contains number numeric", "nums", P::Contains("1.0"), true),
        ("contains float", "nums", P::Contains("2.5"), true),
        ("contains object", "objs", P::Contains(r#"{"a":1}"#), true),
        ("contains empty array", "empty_arr", P::Contains(r#""x""#), false),
        ("contains missing", "nope", P::Contains(r#""x""#), false),
        ("contains null claim", "nul", P::Contains("null"), false),
        ("has all scope", "scope", P::All(&["read", "write"]), true),
        ("has all scope one missing", "scope", P::All(&["read", "delete"]), false),
        ("has all scope prefix", "scope", P::All(&["rea"]), false),
        ("has all scope joined", "scope", P::All(&["read write"]), false),
        ("has all scope empty word", "scope", P::All(&[""]), false),
        ("has all tab is not a separator", "scope_tab", P::All(&["read"]), false),
        ("has all tab word", "scope_tab", P::All(&["read\twrite"]), true),
        ("has all array", "roles", P::All(&["admin", "dev"]), true),
        ("has all array miss", "roles", P::All(&["admin", "ops"]), false),
        ("has all array no substring", "one_role", P::All(&["admin"]), false),
        ("has all single-word string", "sub", P::All(&["alice"]), true),
        ("has all mixed array", "mixed", P::All(&["a"]), false),
        ("has all number", "n", P::All(&["1"]), false),
        ("has all empty list", "scope", P::All(&[]), false),
        ("has all missing", "nope", P::All(&["read"]), false),
        ("has all empty string claim", "empty", P::All(&[""]), false),
        ("has all array empty element", "blank", P::All(&[""]), true),
        ("has any scope", "scope", P::Any(&["delete", "openid"]), true),
        ("has any scope none", "scope", P::Any(&["delete", "admin"]), false),
        ("has any array", "roles", P::Any(&["ops", "dev"]), true),
        ("has any empty list", "roles", P::Any(&[]), false),
        ("has any mixed array", "mixed", P::Any(&["a"]), false),
        ("has any null", "nul", P::Any(&["x"]), false),
        ("has any empty array", "empty_arr", P::Any(&["x"]), false),
        ("exists present", "sub", P::Exists(true), true),
        ("exists present false", "sub", P::Exists(false), false),
        ("exists empty string", "empty", P::Exists(true), true),
        ("exists false value", "flag", P::Exists(true), true),
        ("exists null", "nul", P::Exists(true), false),
        ("exists null false", "nul", P::Exists(false), true),
        ("exists missing", "nope", P::Exists(true), false),
        ("exists missing false", "nope", P::Exists(false), true),
        ("exists nested", "nested.org.id", P::Exists(true), true),
        ("exists nested missing", "nested.org.name", P::Exists(false), true),
        ("exists through string", "sub.x", P::Exists(true), false),
        ("exists through string false", "sub.x", P::Exists(false), true),
        ("exists through array", "objs.a", P::Exists(true), false),
        ("exists empty path", "", P::Exists(false), true),
        ("exists empty path true", "", P::Exists(true), false),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn predicate_table() {
        let c = claims(PRED_CLAIMS);
        for (name, path, p, want) in PRED_CASES {
            let path: Vec<String> = if path.is_empty() {
                Vec::new()
            } else {
                path.split('.').map(str::to_owned).collect()
            };
            assert_eq!(predicate_holds(&c, &path, &predicate(*p)), *want, "{name}");
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn claims_get_paths() {
        let c = claims(r#"{"a":{"b":{"c":3}},"d":[{"e":1}],"n":null}"#);
        assert_eq!(c.get(&["a", "b", "c"]), Some(&json!(3)));
        assert_eq!(c.get(&["a", "b"]), Some(&json!({"c": 3})));
        assert_eq!(c.get(&["n"]), Some(&Value::Null));
        assert_eq!(c.get(&["a", "x"]), None);
        assert_eq!(c.get(&["d", "0"]), None);
        assert_eq!(c.get(&["d", "e"]), None);
        assert_eq!(c.get::<&str>(&[]), None);
        assert_eq!(
            c.get(&[String::from("a"), String::from("b"), String::from("c")]),
            Some(&json!(3))
        );
    }

    // ---- extraction ------------------------------------------------------------------------------------------

    #[derive(Clone, Copy)]
    enum S {
        Bearer,
        Header(&'static str),
        Cookie(&'static str),
        Query(&'static str),
    }

    fn source(s: S) -> TokenSource {
        match s {
            S::Bearer => TokenSource::AuthorizationBearer,
            S::Header(n) => TokenSource::Header(n.to_owned()),
            S::Cookie(n) => TokenSource::Cookie(n.to_owned()),
            S::Query(n) => TokenSource::Query(n.to_owned()),
        }
    }

    const BEARER: &[S] = &[S::Bearer];
    const COOKIE: &[S] = &[S::Cookie("tok")];
    const AT_COOKIE: &[S] = &[S::Cookie("access_token")];
    const QUERY: &[S] = &[S::Query("access_token")];
    const XTOKEN: &[S] = &[S::Header("x-token")];
    const EVERYWHERE: &[S] = &[
        S::Bearer,
        S::Header("x-token"),
        S::Cookie("tok"),
        S::Query("access_token"),
    ];
    type Found = Result<Option<&'static str>, TokenError>;
    /// Name, sources, headers, query, expected.
    type ExtractCase = (
        &'static str,
        &'static [S],
        &'static [(&'static str, &'static str)],
        Option<&'static str>,
        Found,
    );
    const AMB: Found = Err(TokenError::Ambiguous);

    #[rustfmt::skip]
    const EXTRACT_CASES: &[ExtractCase] = &[
        ("no sources", &[], &[("authorization", "Bearer abc")], Some("access_token=x"), Ok(None)),
        ("nothing present", EVERYWHERE, &[], None, Ok(None)),
        // Authorization
        ("bearer", BEARER, &[("authorization", "Bearer abc.def.ghi")], None, Ok(Some("abc.def.ghi"))),
        ("bearer lower-case", BEARER, &[("authorization", "bearer abc")], None, Ok(Some("abc"))),
        ("bearer upper-case", BEARER, &[("authorization", "BEARER abc")], None, Ok(Some("abc"))),
        ("bearer many spaces", BEARER, &[("authorization", "Bearer    abc")], None, Ok(Some("abc"))),
        ("bearer surrounding ows", BEARER, &[("authorization", " \tBearer abc \t")], None, Ok(Some("abc"))),
        ("bearer b64token chars", BEARER, &[("authorization", "Bearer aZ09-._~+/==")], None, Ok(Some("aZ09-._~+/=="))),
        ("bearer alone", BEARER, &[("authorization", "Bearer")], None, AMB),
        ("bearer trailing space only", BEARER, &[("authorization", "Bearer   ")], None, AMB),
        ("bearer tab separator", BEARER, &[("authorization", "Bearer\tabc")], None, AMB),
        ("bearer slash without space", BEARER, &[("authorization", "Bearer/abc")], None, AMB),
        ("bearer quote without space", BEARER, &[("authorization", "Bearer\"abc\"")], None, AMB),
        ("bearer two tokens", BEARER, &[("authorization", "Bearer abc def")], None, AMB),
        ("bearer equals inside", BEARER, &[("authorization", "Bearer ab=c")], None, AMB),
        ("bearer only equals", BEARER, &[("authorization", "Bearer ===")], None, AMB),
        ("bearer quote", BEARER, &[("authorization", "Bearer \"abc\"")], None, AMB),
        ("bearer params", BEARER, &[("authorization", "Bearer realm=\"x\"")], None, AMB),
        ("bearer non-ascii", BEARER, &[("authorization", "Bearer ab\u{e9}")], None, AMB),
        ("bearer duplicated", BEARER, &[("authorization", "Bearer abc, Bearer def")], None, AMB),
        ("bearer duplicated same", BEARER, &[("authorization", "Bearer abc, Bearer abc")], None, AMB),
        ("basic then bearer", BEARER, &[("authorization", "Basic dXNlcjpw, Bearer abc")], None, AMB),
        ("comma in token", BEARER, &[("authorization", "Bearer a,b")], None, AMB),
        ("basic", BEARER, &[("authorization", "Basic dXNlcjpwYXNz")], None, Ok(None)),
        ("other scheme with bearer prefix", BEARER, &[("authorization", "Bearerish abc")], None, Ok(None)),
        ("no scheme", BEARER, &[("authorization", "abc.def.ghi")], None, Ok(None)),
        ("empty authorization", BEARER, &[("authorization", "")], None, Ok(None)),
        ("bearer absent", BEARER, &[("x-token", "abc")], None, Ok(None)),
        // Header
        ("header", XTOKEN, &[("x-token", "abc")], None, Ok(Some("abc"))),
        ("header trimmed", XTOKEN, &[("x-token", " \tabc ")], None, Ok(Some("abc"))),
        ("header empty", XTOKEN, &[("x-token", "  ")], None, Ok(None)),
        ("header comma", XTOKEN, &[("x-token", "abc, def")], None, AMB),
        ("header takes whole value", XTOKEN, &[("x-token", "Bearer abc")], None, Ok(Some("Bearer abc"))),
        // Cookie
        ("cookie", COOKIE, &[("cookie", "tok=abc")], None, Ok(Some("abc"))),
        ("cookie among others", COOKIE, &[("cookie", "a=1; tok=abc; b=2")], None, Ok(Some("abc"))),
        ("cookie no spaces", COOKIE, &[("cookie", "a=1;tok=abc;b=2")], None, Ok(Some("abc"))),
        ("cookie extra spaces", COOKIE, &[("cookie", "a=1 ;  tok = abc ; b=2")], None, Ok(Some("abc"))),
        ("cookie quoted", COOKIE, &[("cookie", "tok=\"abc\"")], None, AMB),
        ("cookie quoted twice", COOKIE, &[("cookie", "tok=\"\"abc\"\"")], None, AMB),
        ("cookie unbalanced quote", COOKIE, &[("cookie", "tok=\"abc")], None, AMB),
        ("cookie percent-escape", COOKIE, &[("cookie", "tok=%61bc")], None, AMB),
        ("cookie empty", COOKIE, &[("cookie", "tok=")], None, Ok(None)),
        ("cookie empty quoted", COOKIE, &[("cookie", "tok=\"\"")], None, AMB),
        ("cookie value with equals", COOKIE, &[("cookie", "tok=abc==")], None, Ok(Some("abc=="))),
        ("cookie twice", COOKIE, &[("cookie", "tok=abc; tok=def")], None, AMB),
        ("cookie twice identical", COOKIE, &[("cookie", "tok=abc; tok=abc")], None, AMB),
        ("cookie twice one empty", COOKIE, &[("cookie", "tok=; tok=abc")], None, AMB),
        // A look-alike alone is the token: an origin that folds cookie names (ASP.NET Core) reads it as `tok`.
        ("cookie case variant", COOKIE, &[("cookie", "TOK=abc")], None, Ok(Some("abc"))),
        ("cookie encoded name alone", AT_COOKIE, &[("cookie", "access%5Ftoken=abc")], None, Ok(Some("abc"))),
        ("cookie case variant plus exact", COOKIE, &[("cookie", "TOK=abc; tok=def")], None, AMB),
        ("cookie encoded name plus exact", AT_COOKIE, &[("cookie", "access%5Ftoken=x; access_token=y")], None, AMB),
        ("cookie php dot plus exact", AT_COOKIE, &[("cookie", "access.token=x; access_token=y")], None, AMB),
        ("cookie php space plus exact", AT_COOKIE, &[("cookie", "access token=x; access_token=y")], None, AMB),
        // PHP reads `access.token` as `access_token`: the same value must be the one checked.
        ("cookie php dot alone", AT_COOKIE, &[("cookie", "access.token=x")], None, Ok(Some("x"))),
        ("cookie invalid escape is another name", COOKIE, &[("cookie", "tok%zz=x; tok%=x; tok=y")], None, Ok(Some("y"))),
        ("cookie name suffix", COOKIE, &[("cookie", "xtok=abc; tokx=def")], None, Ok(None)),
        ("cookie name inside value", COOKIE, &[("cookie", "other=tok=abc")], None, Ok(None)),
        ("cookie without equals ignored", COOKIE, &[("cookie", "tok; tok=abc")], None, Ok(Some("abc"))),
        ("cookie combined headers", COOKIE, &[("cookie", "tok=abc, tok=def")], None, AMB),
        // Python's http.cookies (and a second Cookie line, joined with `, `) read a cookie after `,` or a space.
        ("cookie after comma in another value", COOKIE, &[("cookie", "theme=dark, tok=abc")], None, AMB),
        ("cookie after space in another value", COOKIE, &[("cookie", "theme=dark tok=abc")], None, AMB),
        ("cookie after tab in another value", COOKIE, &[("cookie", "theme=dark\ttok=abc")], None, AMB),
        ("cookie look-alike after comma", COOKIE, &[("cookie", "theme=dark,TOK=abc; tok=abc")], None, AMB),
        ("cookie second line without it", COOKIE, &[("cookie", "tok=abc, theme=dark")], None, AMB),
        ("cookie second line with it", COOKIE, &[("cookie", "theme=dark, tok=abc")], None, AMB),
        ("cookie other name after comma", COOKIE, &[("cookie", "tok=abc; theme=dark, lang=en")], None, Ok(Some("abc"))),
        ("cookie php leading space plus exact", AT_COOKIE, &[("cookie", "a=1;%20access_token=x; access_token=y")], None, AMB),
        ("cookie php array plus exact", AT_COOKIE, &[("cookie", "access_token[]=x; access_token=y")], None, AMB),
        ("cookie absent", COOKIE, &[("cookie", "a=1")], None, Ok(None)),
        // Query
        ("query", QUERY, &[], Some("access_token=abc"), Ok(Some("abc"))),
        ("query among others", QUERY, &[], Some("a=1&access_token=abc&b=2"), Ok(Some("abc"))),
        ("query empty pairs", QUERY, &[], Some("&&access_token=abc&"), Ok(Some("abc"))),
        ("query percent-escape", QUERY, &[], Some("access_token=a%2Eb%2ec"), AMB),
        ("query plus kept", QUERY, &[], Some("access_token=a+b"), Ok(Some("a+b"))),
        ("query encoded plus", QUERY, &[], Some("access_token=a%2Bb"), AMB),
        ("query truncated escape", QUERY, &[], Some("access_token=abc%2"), AMB),
        ("query lone percent", QUERY, &[], Some("access_token=abc%"), AMB),
        ("query bad hex", QUERY, &[], Some("access_token=a%zzb"), AMB),
        ("query invalid utf8", QUERY, &[], Some("access_token=%FF"), AMB),
        ("query escaped utf8", QUERY, &[], Some("access_token=%C3%A9"), AMB),
        ("query twice", QUERY, &[], Some("access_token=abc&access_token=def"), AMB),
        ("query twice identical", QUERY, &[], Some("access_token=abc&access_token=abc"), AMB),
        ("query twice one empty", QUERY, &[], Some("access_token=&access_token=abc"), AMB),
        ("query encoded name", QUERY, &[], Some("access%5Ftoken=abc"), Ok(Some("abc"))),
        ("query encoded name twice", QUERY, &[], Some("access%5Ftoken=x&access_token=y"), AMB),
        ("query case variant plus exact", QUERY, &[], Some("ACCESS_TOKEN=x&access_token=y"), AMB),
        // As for cookies: a folding origin reads `Access_Token` as `access_token`.
        ("query case variant alone", QUERY, &[], Some("Access_Token=x"), Ok(Some("x"))),
        ("query php bracket plus exact", QUERY, &[], Some("access[token=x&access_token=y"), AMB),
        ("query plus-space name plus exact", QUERY, &[], Some("access+token=x&access_token=y"), AMB),
        // PHP: leading spaces dropped, cut at NUL, `[]` arrays; qs: `[]` and `[x]` arrays.
        ("query php leading space plus exact", QUERY, &[], Some("%20access_token=x&access_token=y"), AMB),
        ("query php leading plus plus exact", QUERY, &[], Some("+access_token=x&access_token=y"), AMB),
        ("query php nul plus exact", QUERY, &[], Some("access_token%00x=x&access_token=y"), AMB),
        ("query php array plus exact", QUERY, &[], Some("access_token[]=x&access_token=y"), AMB),
        ("query php indexed array plus exact", QUERY, &[], Some("access_token%5B0%5D=x&access_token=y"), AMB),
        ("query php array alone", QUERY, &[], Some("access_token[]=x"), Ok(Some("x"))),
        ("query php leading plus alone", QUERY, &[], Some("+access_token=x"), Ok(Some("x"))),
        ("query php nul alone", QUERY, &[], Some("access_token%00x=x"), Ok(Some("x"))),
        ("query lone bracket is underscore", QUERY, &[], Some("access[token=x"), Ok(Some("x"))),
        ("query inner space is not dropped", QUERY, &[], Some("access_%20token=x"), Ok(None)),
        ("query bracket first is another name", QUERY, &[], Some("[access_token]=x"), Ok(None)),
        ("query semicolon not a separator", QUERY, &[], Some("access_token=x;access_token=y"), Ok(Some("x;access_token=y"))),
        ("query name only", QUERY, &[], Some("access_token"), Ok(None)),
        ("query empty value", QUERY, &[], Some("access_token="), Ok(None)),
        ("query name suffix", QUERY, &[], Some("access_tokens=abc&xaccess_token=d"), Ok(None)),
        ("query empty", QUERY, &[], Some(""), Ok(None)),
        ("query absent", QUERY, &[], None, Ok(None)),
        // Several sources
        ("bearer and cookie agree", EVERYWHERE, &[("authorization", "Bearer abc"), ("cookie", "tok=abc")], None, Ok(Some("abc"))),
        ("bearer and cookie disagree", EVERYWHERE, &[("authorization", "Bearer abc"), ("cookie", "tok=abd")], None, AMB),
        ("header and query disagree", EVERYWHERE, &[("x-token", "abc")], Some("access_token=xyz"), AMB),
        ("all four agree", EVERYWHERE, &[("authorization", "Bearer a.b.c"), ("x-token", "a.b.c"), ("cookie", "tok=a.b.c")], Some("access_token=a.b.c"), Ok(Some("a.b.c"))),
        ("escaped query poisons agreement", EVERYWHERE, &[("authorization", "Bearer a.b.c")], Some("access_token=a%2Eb.c"), AMB),
        ("cookie only among many", EVERYWHERE, &[("cookie", "tok=abc")], None, Ok(Some("abc"))),
        ("basic plus cookie", EVERYWHERE, &[("authorization", "Basic dXNlcjpw"), ("cookie", "tok=abc")], None, Ok(Some("abc"))),
        ("malformed bearer poisons cookie", EVERYWHERE, &[("authorization", "Bearer"), ("cookie", "tok=abc")], None, AMB),
        ("ambiguous query poisons bearer", EVERYWHERE, &[("authorization", "Bearer abc")], Some("access_token=abc&access_token=abc"), AMB),
        ("case differs", EVERYWHERE, &[("authorization", "Bearer abc"), ("x-token", "ABC")], None, AMB),
        ("quoted cookie poisons bearer", EVERYWHERE, &[("authorization", "Bearer abc"), ("cookie", "tok=\"abc\"")], None, AMB),
        ("unlisted source ignored", BEARER, &[("authorization", "Bearer abc"), ("cookie", "tok=zzz")], Some("access_token=yyy"), Ok(Some("abc"))),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn extract_table() {
        for (name, sources, headers, query, want) in EXTRACT_CASES {
            let sources: Vec<TokenSource> = sources.iter().map(|s| source(*s)).collect();
            let lookup = |n: &str| headers.iter().find(|(h, _)| *h == n).map(|(_, v)| *v);
            let got = extract(&sources, lookup, *query);
            assert_eq!(
                got.as_ref().map(|t| t.as_deref()),
                want.as_ref().map(|t| *t),
                "{name}"
            );
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn extract_borrows_the_token() {
        let all = [
            TokenSource::AuthorizationBearer,
            TokenSource::Header("x-token".to_owned()),
            TokenSource::Cookie("tok".to_owned()),
            TokenSource::Query("access_token".to_owned()),
        ];
        let headers = |n: &str| match n {
            "authorization" => Some("Bearer a.b.c"),
            "x-token" => Some("a.b.c"),
            "cookie" => Some("tok=a.b.c"),
            _ => None,
        };
        let got = extract(&all, headers, Some("access_token=a.b.c")).unwrap();
        assert!(matches!(got, Some(Cow::Borrowed("a.b.c"))), "{got:?}");
        let got = extract(&all[3..], headers, Some("x=1&access_token=a.b.c")).unwrap();
        assert!(matches!(got, Some(Cow::Borrowed("a.b.c"))), "{got:?}");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn extract_then_parse() {
        let text = token(&[J(H_RS), J(P), SIG]);
        let header = format!("Bearer {text}");
        let got = extract(
            &[TokenSource::AuthorizationBearer],
            |n| (n == "authorization").then_some(header.as_str()),
            None,
        )
        .unwrap()
        .unwrap();
        let compact = parse(&got, ONLY_RS, MAX).unwrap();
        let rules = rules(0, None, &["exp", "sub"]);
        assert_eq!(check_claims(&compact.claims, &rules, NOW), Ok(()));
        assert_eq!(
            check_claims(&compact.claims, &rules, 2_000_000_001),
            Err(TokenError::Expired)
        );
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    const ALL: &[Algorithm] = &Algorithm::ALL;

    fn b64(bytes: &[u8]) -> String {
        BASE64URL_STRICT.encode(bytes)
    }

    /// Arbitrary JSON values with exactly representable floats (quarters), so text round-trips are exact.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-(1i64 << 40)..(1i64 << 40)).prop_map(|q| Value::from(q as f64 / 4.0)),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,8}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn claims_map() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::btree_map(".{0,10}", json_value(), 0..8)
            .prop_map(|m| m.into_iter().collect())
    }

    /// A numeric date as JSON: a whole second or a quarter.
    fn date_value() -> impl Strategy<Value = (Value, f64)> {
        prop_oneof![
            (0u64..=MAX_NUMERIC_DATE).prop_map(|s| (Value::from(s), s as f64)),
            (0u64..=MAX_NUMERIC_DATE * 4).prop_map(|q| {
                let f = q as f64 / 4.0;
                (Value::from(f), f)
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parse_never_panics(s in ".{0,400}", max in prop_oneof![Just(DEFAULT_MAX_TOKEN_BYTES), 0usize..64]) {
            let _ = parse(&s, ALL, max);
        }

        #[test]
        fn parse_never_panics_on_b64ish(
            h in "[A-Za-z0-9_=+/ -]{0,80}",
            p in "[A-Za-z0-9_=+/ -]{0,80}",
            s in "[A-Za-z0-9_=+/ -]{0,80}",
        ) {
            let text = format!("{h}.{p}.{s}");
            if let Ok(c) = parse(&text, ALL, DEFAULT_MAX_TOKEN_BYTES) {
                prop_assert!(!c.signature.is_empty());
                prop_assert_eq!(c.signing_input.len() + 1 + s.len(), text.len());
            }
        }

        #[test]
        fn parse_never_panics_on_encoded_bytes(
            h in prop::collection::vec(any::<u8>(), 0..80),
            p in prop::collection::vec(any::<u8>(), 0..80),
            s in prop::collection::vec(any::<u8>(), 0..80),
        ) {
            let _ = parse(&format!("{}.{}.{}", b64(&h), b64(&p), b64(&s)), ALL, DEFAULT_MAX_TOKEN_BYTES);
        }

        #[test]
        fn parse_never_panics_on_json_ish(
            h in r#"[{}\[\]":,a-z0-9 \\]{0,40}"#,
            p in r#"[{}\[\]":,a-z0-9 \\.eE+-]{0,60}"#,
        ) {
            let h = format!(r#"{{"alg":"HS256"{h}"#);
            let _ = parse(&format!("{}.{}.c2ln", b64(h.as_bytes()), b64(p.as_bytes())), ALL, DEFAULT_MAX_TOKEN_BYTES);
            let _ = parse_json_strict(p.as_bytes());
        }

        #[test]
        fn random_claims_round_trip(
            claims in claims_map(),
            alg in prop::sample::select(Algorithm::ALL.to_vec()),
            kid in prop::option::of(".{0,20}"),
            sig in prop::collection::vec(any::<u8>(), 1..80),
        ) {
            let mut header = json_object(&[("alg", Value::from(alg.name()))]);
            if let Some(kid) = &kid {
                header.insert("kid".to_owned(), Value::from(kid.as_str()));
            }
            let h = b64(Value::Object(header).to_string().as_bytes());
            let p = b64(Value::Object(claims.clone()).to_string().as_bytes());
            let text = format!("{h}.{p}.{}", b64(&sig));
            let c = parse(&text, &[alg], usize::MAX).unwrap();
            prop_assert_eq!(c.header.alg, alg);
            prop_assert_eq!(c.header.kid, kid);
            prop_assert_eq!(c.claims.as_map(), &claims);
            prop_assert_eq!(c.signing_input, format!("{h}.{p}"));
            prop_assert_eq!(c.signature, sig);
            // Pinned to any other algorithm, the same token is refused before any crypto.
            let others: Vec<Algorithm> = Algorithm::ALL.into_iter().filter(|a| *a != alg).collect();
            prop_assert_eq!(parse(&text, &others, usize::MAX).err(), Some(TokenError::Algorithm));
        }

        #[test]
        fn duplicate_key_anywhere_is_malformed(claims in claims_map(), key in "[a-z]{1,6}", v in json_value(), depth in 0usize..4) {
            // Nest `{"key":v,"key":v}` `depth` levels down inside otherwise random claims.
            let mut inner = format!("{{{k}:{v},{k}:{v}}}", k = Value::from(key.as_str()), v = v);
            for _ in 0..depth {
                inner = format!("{{\"n\":[{inner}]}}");
            }
            let mut text = Value::Object(claims).to_string();
            text.pop();
            let sep = if text.len() > 1 { "," } else { "" };
            let text = format!("{text}{sep}\"\\u0000dup\":{inner}}}");
            prop_assert_eq!(Claims::from_json(text.as_bytes()).err(), Some(TokenError::Malformed));
        }

        #[test]
        fn extract_never_panics(
            auth in prop::option::of(".{0,40}"),
            cookie in prop::option::of("[a-z=; \"%,.A-Z]{0,40}"),
            custom in prop::option::of(".{0,20}"),
            query in prop::option::of("[a-z_=&%0-9A-F+.]{0,40}"),
        ) {
            let sources = [
                TokenSource::AuthorizationBearer,
                TokenSource::Header("x-token".to_owned()),
                TokenSource::Cookie("tok".to_owned()),
                TokenSource::Query("access_token".to_owned()),
            ];
            let headers = |n: &str| match n {
                "authorization" => auth.as_deref(),
                "cookie" => cookie.as_deref(),
                "x-token" => custom.as_deref(),
                _ => None,
            };
            if let Ok(Some(token)) = extract(&sources, headers, query.as_deref()) {
                prop_assert!(!token.is_empty());
            }
        }

        #[test]
        fn bearer_round_trips(token in "[A-Za-z0-9._~+/-]{1,60}={0,2}", spaces in 1usize..4, scheme in prop::sample::select(vec!["Bearer", "bearer", "BEARER", "bEaReR"])) {
            let value = format!("{scheme}{}{token}", " ".repeat(spaces));
            let got = extract(&[TokenSource::AuthorizationBearer], |_| Some(value.as_str()), None).unwrap();
            prop_assert_eq!(got.as_deref(), Some(token.as_str()));
        }

        #[test]
        fn query_tokens_are_read_as_written_and_escapes_refused(bytes in "[!-~]{1,30}") {
            let raw: String = bytes.chars().filter(|c| !matches!(c, '&' | '#')).collect();
            prop_assume!(!raw.is_empty());
            let query = format!("x=1&access_token={raw}");
            let got = extract(&[TokenSource::Query("access_token".to_owned())], |_| None, Some(&query));
            if raw.contains('%') {
                prop_assert_eq!(got, Err(TokenError::Ambiguous));
            } else {
                let got = got.unwrap();
                prop_assert_eq!(got.as_deref(), Some(raw.as_str()));
            }
        }

        #[test]
        fn check_claims_never_panics(claims in claims_map(), leeway in any::<u64>(), now in any::<u64>(), max in prop::option::of(any::<u64>())) {
            let rules = ClaimRules {
                issuer: "i".to_owned(),
                audiences: vec!["a".to_owned()],
                leeway,
                max_lifetime: max,
                required: vec!["exp".to_owned()],
            };
            let mut claims = claims;
            claims.insert("iss".to_owned(), Value::from("i"));
            claims.insert("aud".to_owned(), Value::from("a"));
            let _ = check_claims(&Claims::from_map(claims), &rules, now);
        }

        #[test]
        fn time_checks_match_exact_arithmetic(
            exp in date_value(), nbf in date_value(), iat in date_value(),
            leeway in 0u64..(1 << 20), now in 0u64..(1 << 41), max in 0u64..(1 << 41),
        ) {
            // All values are below 2^42 with at most two fraction bits: f64 arithmetic is exact here.
            let (now_f, leeway_f, max_f) = (now as f64, leeway as f64, max as f64);
            let c = Claims::from_map(json_object(&[
                ("iss", Value::from("i")), ("aud", Value::from("a")),
                ("exp", exp.0.clone()), ("nbf", nbf.0.clone()), ("iat", iat.0.clone()),
            ]));
            let rules = ClaimRules {
                issuer: "i".to_owned(),
                audiences: vec!["a".to_owned()],
                leeway,
                max_lifetime: Some(max),
                required: Vec::new(),
            };
            let want = if now_f > exp.1 + leeway_f {
                Err(TokenError::Expired)
            } else if nbf.1 > now_f + leeway_f {
                Err(TokenError::NotYetValid)
            } else if iat.1 > now_f + leeway_f {
                Err(TokenError::IssuedInFuture)
            } else if exp.1 - iat.1 > max_f {
                Err(TokenError::LifetimeTooLong)
            } else {
                Ok(())
            };
            prop_assert_eq!(check_claims(&c, &rules, now), want);
        }

        #[test]
        fn integer_equals_float_exactly(i in any::<i64>()) {
            let c = Claims::from_map(json_object(&[("n", Value::from(i))]));
            let path = vec!["n".to_owned()];
            let f = i as f64;
            let exact = f as i128 == i128::from(i) && f.abs() < 9.2e18;
            prop_assert_eq!(predicate_holds(&c, &path, &ClaimPredicate::Equals(Value::from(f))), exact);
            prop_assert!(predicate_holds(&c, &path, &ClaimPredicate::Equals(Value::from(i))));
        }

        #[test]
        fn predicates_never_panic(claims in claims_map(), path in prop::collection::vec(".{0,4}", 0..3), v in json_value(), words in prop::collection::vec(".{0,4}", 0..3)) {
            let c = Claims::from_map(claims);
            for pred in [
                ClaimPredicate::Equals(v.clone()),
                ClaimPredicate::OneOf(vec![v.clone()]),
                ClaimPredicate::Contains(v.clone()),
                ClaimPredicate::HasAll(words.clone()),
                ClaimPredicate::HasAny(words.clone()),
                ClaimPredicate::Exists(true),
                ClaimPredicate::Exists(false),
            ] {
                let _ = predicate_holds(&c, &path, &pred);
            }
            let present = c.get(&path).is_some_and(|x| !x.is_null());
            prop_assert_eq!(predicate_holds(&c, &path, &ClaimPredicate::Exists(true)), present);
            prop_assert_eq!(predicate_holds(&c, &path, &ClaimPredicate::Exists(false)), !present);
        }
    }

    fn json_object(members: &[(&str, Value)]) -> Map<String, Value> {
        members
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }
}
