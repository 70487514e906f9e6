//! `jwks`: a JWK Set document as the Worker fetches it (untrusted: `src/edge/keys.rs` `fetch_keys`), through
//! `parse_json_strict`, then `parse_jwks` in both modes.
//!
//! Checks, all from what `token::jwk` and `token::jwt` document:
//! - strict JSON: what `parse_json_strict` accepts, plain `serde_json` accepts too, as the same value;
//! - only a document-level problem fails a mode: not an object with a `keys` array (`NotAJwks`), more than
//!   [`MAX_JWKS_KEYS`] entries (`TooManyKeys`), and in Bundled mode only, an empty `keys` (`EmptyJwks`);
//!   otherwise Remote mode succeeds, whatever the keys;
//! - Remote mode accounts for every entry: each is kept or skipped, the skipped positions ascend and each error
//!   is a `JwkError::InKey` naming its own position; the kept keys are, in document order, exactly what
//!   `parse_jwk` makes of the entries that were not skipped; an entry is skipped only for `parse_jwk`'s own
//!   error, or for a `kid` that repeats the one of an earlier kept key (`DuplicateKid` naming that key);
//! - every kept key: no HMAC (`oct`) material, a `kid` (if any) non-empty and at most [`MAX_KID_LEN`] bytes and
//!   unique among the kept keys, an RSA modulus odd, without a leading zero byte and [`MIN_RSA_BITS`] to
//!   [`MAX_RSA_BITS`] bits long, an exponent odd, at least 3, without a leading zero byte and at most
//!   [`MAX_RSA_EXPONENT_LEN`] bytes; its own `alg` of its family; it `suits` exactly the algorithms of its family
//!   (only its own `alg` when it names one), never an HMAC one; it survives a serde round trip (the compiled
//!   policy carries bundled keys);
//! - Bundled mode succeeds exactly when Remote mode skips nothing (and the set is not empty), with the same keys;
//!   when it fails over a key, its error is Remote mode's first skipped one;
//! - no error message carries key bytes: a base64url member value of 16 characters or more (`n`, `e`, `x`, `y`,
//!   or a private member) appears in a message only inside a value the message may echo (`kty`, `crv`, `use`,
//!   `alg`, `kid`, a `key_ops` entry).

use serde_json::Value;

use edge_access::token::jwk::{
    parse_jwk, parse_jwks, JwkError, JwksMode, JwksParsed, KeyMaterial, VerifyKey, MAX_JWKS_KEYS,
    MAX_KID_LEN, MAX_RSA_BITS, MAX_RSA_EXPONENT_LEN, MIN_RSA_BITS,
};
use edge_access::token::jwt::parse_json_strict;
use edge_access::token::{Algorithm, KeyFamily};

pub fn run(data: &[u8]) {
    let Ok(doc) = parse_json_strict(data) else {
        return;
    };
    let plain: Value =
        serde_json::from_slice(data).expect("strict JSON that plain serde_json refuses");
    assert_eq!(plain, doc, "the strict parser reads another value");

    let remote = parse_jwks(&doc, JwksMode::Remote);
    let bundled = parse_jwks(&doc, JwksMode::Bundled);
    for result in [&remote, &bundled] {
        if let Err(e) = result {
            let _ = e.to_string();
        }
    }

    let entries = match doc
        .as_object()
        .and_then(|o| o.get("keys"))
        .and_then(Value::as_array)
    {
        None => {
            assert_eq!(remote, Err(JwkError::NotAJwks), "not a jwks, remote");
            assert_eq!(bundled, Err(JwkError::NotAJwks), "not a jwks, bundled");
            return;
        }
        Some(entries) => entries,
    };
    if entries.len() > MAX_JWKS_KEYS {
        let want = Err(JwkError::TooManyKeys {
            count: entries.len(),
            max: MAX_JWKS_KEYS,
        });
        assert_eq!(remote, want, "too many keys, remote");
        assert_eq!(bundled, want, "too many keys, bundled");
        return;
    }
    let remote = remote.unwrap_or_else(|e| panic!("remote mode fails over a key: {e}"));
    check_remote(entries, &remote);

    match bundled {
        Ok(parsed) => {
            assert!(!entries.is_empty(), "bundled mode accepts an empty set");
            assert!(parsed.skipped.is_empty(), "bundled mode skipped a key");
            assert!(
                remote.skipped.is_empty(),
                "bundled mode accepts a set remote mode skips keys of"
            );
            assert_eq!(parsed.keys, remote.keys, "the modes keep different keys");
        }
        Err(JwkError::EmptyJwks) => assert!(entries.is_empty(), "EmptyJwks for a non-empty set"),
        Err(error) => {
            let first = remote.skipped.first().unwrap_or_else(|| {
                panic!("bundled mode refuses ({error}) what remote skips nothing of")
            });
            assert_eq!(
                error, first.1,
                "bundled mode's error is not remote mode's first skipped one"
            );
        }
    }
}

fn check_remote(entries: &[Value], parsed: &JwksParsed) {
    assert_eq!(
        parsed.keys.len() + parsed.skipped.len(),
        entries.len(),
        "kept and skipped keys do not add up to the entries"
    );
    assert!(parsed.keys.len() <= MAX_JWKS_KEYS);
    let mut kept = parsed.keys.iter();
    let mut skipped = parsed.skipped.iter().peekable();
    // (kid, position) of each kept key with a kid, in document order.
    let mut kids: Vec<(&str, usize)> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let single = parse_jwk(entry);
        if skipped.peek().is_some_and(|(i, _)| *i == index) {
            let (_, error) = skipped.next().unwrap();
            let JwkError::InKey {
                index: named,
                error: inner,
                ..
            } = error
            else {
                panic!("skipped key {index}: not an InKey error: {error:?}");
            };
            assert_eq!(
                *named, index,
                "a skipped key's error names another position"
            );
            let message = error.to_string();
            assert!(message.starts_with(&format!("keys[{index}]")), "{message}");
            no_key_bytes(entry, &message);
            match single {
                Err(e) => assert_eq!(
                    **inner, e,
                    "skipped key {index}: another error than parse_jwk's"
                ),
                Ok(key) => {
                    let JwkError::DuplicateKid { first, .. } = **inner else {
                        panic!("key {index} parses alone but was skipped for {inner:?}");
                    };
                    let kid = key.kid.as_deref().expect("a duplicate kid without a kid");
                    assert!(
                        kids.contains(&(kid, first)),
                        "key {index}: DuplicateKid names keys[{first}], which is not a kept key with kid {kid:?}"
                    );
                }
            }
        } else {
            let key = kept
                .next()
                .unwrap_or_else(|| panic!("entry {index} neither kept nor skipped"));
            let single = single
                .unwrap_or_else(|e| panic!("entry {index} was kept but parse_jwk refuses it: {e}"));
            assert_eq!(
                key, &single,
                "kept key {index} is not what parse_jwk makes of it"
            );
            check_key(index, entry, key);
            if let Some(kid) = key.kid.as_deref() {
                assert!(
                    kids.iter().all(|(k, _)| *k != kid),
                    "key {index}: kid {kid:?} kept twice"
                );
                kids.push((kid, index));
            }
        }
    }
    assert!(kept.next().is_none(), "more keys kept than entries");
    assert!(
        skipped.next().is_none(),
        "skipped positions out of order or out of range"
    );
}

fn check_key(index: usize, entry: &Value, key: &VerifyKey) {
    match (&key.kid, entry.get("kid")) {
        (None, None) => {}
        (Some(kid), Some(Value::String(s))) => {
            assert_eq!(kid, s, "key {index}: kid changed");
            assert!(
                !kid.is_empty() && kid.len() <= MAX_KID_LEN,
                "key {index}: kid length {}",
                kid.len()
            );
        }
        (kid, member) => panic!("key {index}: kid {kid:?} from member {member:?}"),
    }
    match &key.material {
        KeyMaterial::Hmac(_) => panic!("key {index}: an HMAC key from a jwks"),
        KeyMaterial::Rsa { n, e } => {
            assert_ne!(
                n.first(),
                Some(&0),
                "key {index}: modulus with a leading zero"
            );
            assert_ne!(
                e.first(),
                Some(&0),
                "key {index}: exponent with a leading zero"
            );
            let bits = n.len() * 8 - n[0].leading_zeros() as usize;
            assert!(
                (MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits),
                "key {index}: {bits}-bit modulus"
            );
            assert_eq!(n.last().unwrap() & 1, 1, "key {index}: even modulus");
            assert!(
                !e.is_empty() && e.len() <= MAX_RSA_EXPONENT_LEN,
                "key {index}: exponent of {} bytes",
                e.len()
            );
            let value = e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            assert!(
                value >= 3 && value & 1 == 1,
                "key {index}: exponent {value}"
            );
        }
        KeyMaterial::EcP256 { .. } | KeyMaterial::EcP384 { .. } | KeyMaterial::Ed25519 { .. } => {}
    }
    let family = key.family();
    assert_ne!(family, KeyFamily::Hmac);
    if let Some(own) = key.alg {
        assert_eq!(
            own.family(),
            family,
            "key {index}: alg {own:?} of another family"
        );
    }
    for alg in Algorithm::ALL {
        let want = alg.family() == family && key.alg.is_none_or(|own| own == alg);
        assert_eq!(key.suits(alg), want, "key {index}: suits({alg:?})");
        assert!(
            !(alg.is_hmac() && key.suits(alg)),
            "key {index} suits {alg:?}"
        );
    }
    let json = serde_json::to_string(key).unwrap();
    let back: VerifyKey = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, key, "key {index}: serde round trip");
}

/// Fails if `message` shows a byte member's value other than inside a value the message may echo.
fn no_key_bytes(entry: &Value, message: &str) {
    let Some(obj) = entry.as_object() else {
        return;
    };
    let mut echoed: Vec<&str> = ["kty", "crv", "use", "alg", "kid"]
        .iter()
        .filter_map(|m| obj.get(*m).and_then(Value::as_str))
        .collect();
    if let Some(ops) = obj.get("key_ops").and_then(Value::as_array) {
        echoed.extend(ops.iter().filter_map(Value::as_str));
    }
    for member in ["n", "e", "x", "y", "d", "p", "q", "dp", "dq", "qi", "k"] {
        let Some(value) = obj.get(member).and_then(Value::as_str) else {
            continue;
        };
        let base64url = value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if value.len() < 16 || !base64url || echoed.iter().any(|e| e.contains(value)) {
            continue;
        }
        assert!(
            !message.contains(value),
            "the error message shows member `{member}`: {message}"
        );
    }
}
