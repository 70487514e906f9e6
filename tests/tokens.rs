//! Tokens through the whole path: policy (issuers, token conditions) -> verification driver -> engine, with
//! tokens minted by the independent npm `jose` package (`tests/fixtures/jwt/vectors.json`) and a fixed clock.
//! The same scenarios run natively with RustCrypto and under wasm-bindgen-test with WebCrypto.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::cell::RefCell;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use edge_access::engine::{Challenge, HeaderList, NoLimits, RequestFacts, UnixTime};
use edge_access::policy::{KeySource, Policy};
use edge_access::token::jwk::VerifyKey;
use edge_access::verify::request::{verify_tokens, KeyStore, Keys, VerifiedCache};
use edge_access::verify::SignatureVerifier;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test;

const VECTORS: &str = include_str!("fixtures/jwt/vectors.json");

/// The fixtures' tokens: iat 1800000000, exp 1800003600.
const DURING: u64 = 1_800_000_100;
const LEEWAY: u64 = 60;

fn vector(name: &str) -> Value {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no vector `{name}`"))
        .clone()
}

/// A policy with one issuer `t` holding the key of `vector`, and rules exercising token conditions.
fn policy_for(vector: &Value, audiences: &[&str], algorithms: &[&str]) -> Policy {
    policy_with(vector, audiences, algorithms, json!({}))
}

/// [`policy_for`] with more issuer fields.
fn policy_with(vector: &Value, audiences: &[&str], algorithms: &[&str], extra: Value) -> Policy {
    let mut issuer = json!({
        "issuer": "https://issuer.example",
        "audiences": audiences,
        "algorithms": algorithms,
        "forward_claims": { "sub": "X-Auth-Subject", "roles": "X-Auth-Roles" }
    });
    if vector.get("secret").is_some() {
        issuer["hmac_secrets"] = json!(["T_SECRET"]);
    } else {
        issuer["jwks"] = json!({ "keys": [vector["jwk"].clone()] });
    }
    for (k, v) in extra.as_object().unwrap() {
        issuer[k] = v.clone();
    }
    let text = json!({
        "version": 1,
        "issuers": { "t": issuer },
        "rules": [
            { "id": "admin", "action": "require", "when": { "path_under": "/admin" },
              "require": { "token": { "issuer": "t", "claims": [ { "claim": "roles", "contains": "admin" } ] } } },
            { "id": "root", "action": "require", "when": { "path_under": "/root" },
              "require": { "token": { "issuer": "t", "claims": [ { "claim": "roles", "contains": "superadmin" } ] } } },
            { "id": "delete", "action": "require", "when": { "path_under": "/delete" },
              "require": { "token": { "issuer": "t", "claims": [ { "claim": "scope", "has_all": ["read", "delete"] } ] } } },
            { "id": "hidden", "action": "require", "when": { "path_under": "/hidden" },
              "require": { "token": { "issuer": "t" } }, "status": 404 },
            { "id": "api", "action": "require", "when": { "path_under": "/api" },
              "require": { "token": { "issuer": "t" } } }
        ],
        "default": { "action": "allow" }
    })
    .to_string();
    Policy::compile(&text, "tokens.json")
        .unwrap_or_else(|e| panic!("{e}"))
        .policy
}

/// Keys as the Worker would hold them: bundled ones from the policy, HMAC secrets as if read from secrets.
struct Store {
    keys: Vec<VerifyKey>,
}

impl Store {
    fn new(policy: &Policy, vector: &Value) -> Store {
        let keys = match &policy.issuers()[0].keys {
            KeySource::Bundled(keys) => keys.clone(),
            KeySource::HmacSecrets(_) => {
                let secret = URL_SAFE_NO_PAD
                    .decode(vector["secret"].as_str().unwrap())
                    .unwrap();
                vec![VerifyKey::hmac(&secret).unwrap()]
            }
            KeySource::Remote(_) => panic!("no remote keys here"),
        };
        Store { keys }
    }
}

impl KeyStore for Store {
    fn keys(&self, _issuer: usize) -> Keys<'_> {
        Keys::Ready(&self.keys)
    }
}

/// Expected outcome: status, code, challenge, forwarded subject.
type Want = (u16, &'static str, Option<Challenge>, Option<&'static str>);
/// What the engine decided, in the same shape.
type Got = (u16, String, Option<Challenge>, Option<&'static str>);

/// One request header, and a list of them.
type Header<'a> = (&'a str, &'a str);
type Headers<'a> = &'a [Header<'a>];

fn want(w: Want) -> Got {
    (w.0, w.1.to_owned(), w.2, w.3)
}

async fn decide<V: SignatureVerifier>(
    policy: &Policy,
    store: &Store,
    verifier: &V,
    cache: &RefCell<VerifiedCache>,
    path: &str,
    headers: &[(&str, &str)],
    now: u64,
) -> Got {
    let mut all = vec![("cf-connecting-ip", "198.51.100.7")];
    all.extend_from_slice(headers);
    let headers = HeaderList::from_pairs(all);
    let now = UnixTime(now);
    let tokens = verify_tokens(policy, &headers, None, now, store, verifier, cache)
        .await
        .expect("keys available");
    let facts = RequestFacts {
        method: "GET",
        host: "api.example.com",
        path,
        query: None,
        headers: &headers,
        country: None,
        asn: None,
        tokens: &tokens,
        limits: &NoLimits,
    };
    let d = policy.evaluate(&facts, now);
    let subject = d
        .identity
        .iter()
        .find(|(h, _)| *h == "x-auth-subject")
        .map(|(_, v)| if v == "user-1" { "user-1" } else { "other" });
    (d.status, d.code.to_owned(), d.challenge, subject)
}

const OK: Want = (200, "allowed", None, Some("user-1"));

/// Every algorithm: the valid jose token passes, and the policy's token rules apply to it.
async fn every_algorithm<V: SignatureVerifier>(verifier: &V) {
    for alg in [
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
        "ES384", "EdDSA",
    ] {
        let v = vector(&format!("jose-{alg}-valid"));
        let token = v["token"].as_str().unwrap();
        let bearer = format!("Bearer {token}");
        let policy = policy_for(&v, &["edge-access"], &[alg]);
        let store = Store::new(&policy, &v);
        let cache = RefCell::new(VerifiedCache::default());
        let auth = [("authorization", bearer.as_str())];
        let cases: Vec<(&str, Headers, u64, Want)> = vec![
            ("/api/x", &auth, DURING, OK),
            ("/admin/x", &auth, DURING, OK),
            (
                "/root/x",
                &auth,
                DURING,
                (403, "claim_mismatch", None, None),
            ),
            (
                "/delete/x",
                &auth,
                DURING,
                (
                    403,
                    "claim_mismatch",
                    Some(Challenge::InsufficientScope),
                    None,
                ),
            ),
            (
                "/api/x",
                &[],
                DURING,
                (401, "token_missing", Some(Challenge::TokenRequired), None),
            ),
            ("/hidden/x", &[], DURING, (404, "token_missing", None, None)),
            ("/open", &auth, DURING, OK),
            ("/open", &[], DURING, (200, "allowed", None, None)),
            // Time, with the 60 s leeway on both sides.
            ("/api/x", &auth, 1_800_003_600 + LEEWAY, OK),
            (
                "/api/x",
                &auth,
                1_800_003_600 + LEEWAY + 1,
                (401, "token_expired", Some(Challenge::InvalidToken), None),
            ),
            ("/api/x", &auth, 1_800_000_000 - LEEWAY, OK),
            (
                "/api/x",
                &auth,
                1_800_000_000 - LEEWAY - 1,
                (
                    401,
                    "token_issued_in_future",
                    Some(Challenge::InvalidToken),
                    None,
                ),
            ),
        ];
        for (path, headers, now, w) in cases {
            let got = decide(&policy, &store, verifier, &cache, path, headers, now).await;
            assert_eq!(got, want(w), "{alg}: {path} at {now}");
        }
        assert_eq!(
            cache.borrow().len(),
            1,
            "{alg}: the verified token is cached once"
        );

        // The issuer's own settings: another audience, another pinned algorithm.
        let other_aud = policy_for(&v, &["someone-else"], &[alg]);
        let got = decide(
            &other_aud,
            &Store::new(&other_aud, &v),
            verifier,
            &RefCell::default(),
            "/api",
            &auth,
            DURING,
        )
        .await;
        assert_eq!(
            got,
            want((401, "token_audience", Some(Challenge::InvalidToken), None)),
            "{alg}"
        );
        let pinned = if alg.starts_with("HS") {
            "HS256"
        } else {
            "RS256"
        };
        let pinned = if pinned == alg {
            if alg.starts_with("HS") {
                "HS512"
            } else {
                "ES256"
            }
        } else {
            pinned
        };
        if pinned.starts_with("HS") == alg.starts_with("HS") {
            let other_alg = policy_for(&v, &["edge-access"], &[pinned]);
            let got = decide(
                &other_alg,
                &Store::new(&other_alg, &v),
                verifier,
                &RefCell::default(),
                "/api",
                &auth,
                DURING,
            )
            .await;
            assert_eq!(
                got,
                want((401, "token_algorithm", Some(Challenge::InvalidToken), None)),
                "{alg} with only {pinned} pinned"
            );
        }
    }
}

/// Bad signatures and hostile tokens.
async fn hostile_tokens<V: SignatureVerifier>(verifier: &V) {
    for (name, alg, code) in [
        (
            "jose-RS256-payload-tampered",
            "RS256",
            "token_invalid_signature",
        ),
        ("jose-ES256-other-key", "ES256", "token_invalid_signature"),
        (
            "jose-EdDSA-signature-truncated",
            "EdDSA",
            "token_invalid_signature",
        ),
        (
            "jose-HS256-payload-tampered",
            "HS256",
            "token_invalid_signature",
        ),
    ] {
        let v = vector(name);
        let policy = policy_for(&v, &["edge-access"], &[alg]);
        let bearer = format!("Bearer {}", v["token"].as_str().unwrap());
        let got = decide(
            &policy,
            &Store::new(&policy, &v),
            verifier,
            &RefCell::default(),
            "/api",
            &[("authorization", &bearer)],
            DURING,
        )
        .await;
        assert_eq!(
            got,
            want((401, code, Some(Challenge::InvalidToken), None)),
            "{name}"
        );
    }
    let v = vector("jose-RS256-valid");
    let policy = policy_for(&v, &["edge-access"], &["RS256"]);
    let store = Store::new(&policy, &v);
    let token = v["token"].as_str().unwrap();
    let mut parts = token.split('.');
    let (header, payload) = (parts.next().unwrap(), parts.next().unwrap());
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    let none = format!("{}.{payload}.", b64(r#"{"alg":"none"}"#));
    let none_sig = format!("{}.{payload}.c2ln", b64(r#"{"alg":"nOnE"}"#));
    let hs = format!("{}.{payload}.c2ln", b64(r#"{"alg":"HS256","typ":"JWT"}"#));
    let crit = format!(
        "{}.{payload}.c2ln",
        b64(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#)
    );
    let jwe = format!("{header}.{payload}.a.b.c");
    let huge = format!("{header}.{}.c2ln", "A".repeat(9000));
    let two = format!("Bearer {token}, Bearer {token}");
    let bearer = format!("Bearer {token}");
    let bearer_of = |t: &str| format!("Bearer {t}");
    let (none, none_sig, hs, crit, jwe, huge) = (
        bearer_of(&none),
        bearer_of(&none_sig),
        bearer_of(&hs),
        bearer_of(&crit),
        bearer_of(&jwe),
        bearer_of(&huge),
    );
    let cases: Vec<(&str, Vec<Header>, &str)> = vec![
        (
            "alg none",
            vec![("authorization", &none)],
            "token_algorithm",
        ),
        (
            "alg none, odd case",
            vec![("authorization", &none_sig)],
            "token_algorithm",
        ),
        (
            "HS256 against an RSA issuer",
            vec![("authorization", &hs)],
            "token_algorithm",
        ),
        (
            "crit header",
            vec![("authorization", &crit)],
            "token_critical_header",
        ),
        ("JWE", vec![("authorization", &jwe)], "token_encrypted"),
        (
            "oversized",
            vec![("authorization", &huge)],
            "token_too_large",
        ),
        (
            "two authorization headers",
            vec![("authorization", &bearer), ("authorization", &bearer)],
            "token_ambiguous",
        ),
        (
            "two tokens in one header",
            vec![("authorization", &two)],
            "token_ambiguous",
        ),
        (
            "bearer without token",
            vec![("authorization", "Bearer")],
            "token_ambiguous",
        ),
        (
            "garbage",
            vec![("authorization", "Bearer abc.def.ghi")],
            "token_malformed",
        ),
    ];
    for (name, headers, code) in cases {
        let got = decide(
            &policy,
            &store,
            verifier,
            &RefCell::default(),
            "/api",
            &headers,
            DURING,
        )
        .await;
        assert_eq!(
            got,
            want((401, code, Some(Challenge::InvalidToken), None)),
            "{name}"
        );
    }
    // Basic credentials are not a bearer token: the token is missing, not invalid.
    let got = decide(
        &policy,
        &store,
        verifier,
        &RefCell::default(),
        "/api",
        &[("authorization", "Basic dTpw")],
        DURING,
    )
    .await;
    assert_eq!(
        got,
        want((401, "token_missing", Some(Challenge::TokenRequired), None))
    );
}

/// The verified-token cache never outlives `exp`, and a cached token still gets every claim check.
async fn cache_respects_expiry<V: SignatureVerifier>(verifier: &V) {
    let v = vector("jose-ES256-valid");
    let policy = policy_for(&v, &["edge-access"], &["ES256"]);
    let store = Store::new(&policy, &v);
    let cache = RefCell::new(VerifiedCache::default());
    let bearer = format!("Bearer {}", v["token"].as_str().unwrap());
    let auth = [("authorization", bearer.as_str())];
    assert_eq!(
        decide(&policy, &store, verifier, &cache, "/api", &auth, DURING).await,
        want(OK)
    );
    assert_eq!(cache.borrow().len(), 1);
    assert_eq!(
        decide(
            &policy,
            &store,
            verifier,
            &cache,
            "/api",
            &auth,
            DURING + 10
        )
        .await,
        want(OK)
    );
    let late = decide(
        &policy,
        &store,
        verifier,
        &cache,
        "/api",
        &auth,
        1_800_003_600 + LEEWAY + 1,
    )
    .await;
    assert_eq!(
        late,
        want((401, "token_expired", Some(Challenge::InvalidToken), None))
    );
    assert_eq!(cache.borrow().len(), 0, "an expired entry is dropped");
}

/// A cached token is used only while the key that verified it is still held: a key removed from the issuer's
/// keys (a JWKS that dropped it, or an empty JWKS) revokes its cached tokens at once.
async fn cache_forgets_removed_keys<V: SignatureVerifier>(verifier: &V) {
    let v = vector("jose-ES256-valid");
    let policy = policy_for(&v, &["edge-access"], &["ES256"]);
    let store = Store::new(&policy, &v);
    let cache = RefCell::new(VerifiedCache::default());
    let bearer = format!("Bearer {}", v["token"].as_str().unwrap());
    let auth = [("authorization", bearer.as_str())];
    assert_eq!(
        decide(&policy, &store, verifier, &cache, "/api", &auth, DURING).await,
        want(OK)
    );
    assert_eq!(cache.borrow().len(), 1);

    // The same kid with other key material (a key replaced under its old kid) is not the key that verified it.
    let other = edge_access::token::jwk::parse_jwk(&vector("rfc7515-a3-es256")["jwk"]).unwrap();
    let mut swapped = store.keys[0].clone();
    swapped.material = other.material;
    assert_ne!(swapped.material, store.keys[0].material);
    let replaced = Store {
        keys: vec![swapped],
    };
    assert_eq!(
        decide(
            &policy,
            &replaced,
            verifier,
            &cache,
            "/api",
            &auth,
            DURING + 1
        )
        .await,
        want((
            401,
            "token_invalid_signature",
            Some(Challenge::InvalidToken),
            None
        )),
        "verified again against the key now under that kid"
    );
    assert_eq!(cache.borrow().len(), 0, "the stale entry is dropped");

    // Verified and cached again, then the key leaves the set: refused, not served from the cache.
    assert_eq!(
        decide(&policy, &store, verifier, &cache, "/api", &auth, DURING + 2).await,
        want(OK)
    );
    assert_eq!(cache.borrow().len(), 1);
    let removed = Store { keys: Vec::new() };
    assert_eq!(
        decide(
            &policy,
            &removed,
            verifier,
            &cache,
            "/api",
            &auth,
            DURING + 3
        )
        .await,
        want((
            401,
            "token_unknown_key",
            Some(Challenge::InvalidToken),
            None
        ))
    );
    assert_eq!(cache.borrow().len(), 0);
    // Another key added, the verifying one kept: still a hit.
    assert_eq!(
        decide(&policy, &store, verifier, &cache, "/api", &auth, DURING + 4).await,
        want(OK)
    );
    let mut more = store.keys.clone();
    more.insert(0, replaced.keys[0].clone());
    more[0].kid = Some("newer".into());
    let grown = Store { keys: more };
    assert_eq!(
        decide(&policy, &grown, verifier, &cache, "/api", &auth, DURING + 5).await,
        want(OK)
    );
    assert_eq!(cache.borrow().len(), 1);
}

/// `typ` pinned per issuer: checked before the signature, case-insensitively, `application/` optional.
async fn typ_pinning<V: SignatureVerifier>(verifier: &V) {
    // jose's tokens carry `"typ": "JWT"`; RFC 7515 A.3's carries none.
    let v = vector("jose-ES256-valid");
    let bearer = format!("Bearer {}", v["token"].as_str().unwrap());
    let auth = [("authorization", bearer.as_str())];
    for (typ, want_got) in [
        (json!("JWT"), want(OK)),
        (json!("jwt"), want(OK)),
        (json!("application/JWT"), want(OK)),
        (
            json!("at+jwt"),
            want((401, "token_type", Some(Challenge::InvalidToken), None)),
        ),
    ] {
        let policy = policy_with(&v, &["edge-access"], &["ES256"], json!({ "typ": typ }));
        let store = Store::new(&policy, &v);
        let got = decide(
            &policy,
            &store,
            verifier,
            &RefCell::default(),
            "/api",
            &auth,
            DURING,
        )
        .await;
        assert_eq!(got, want_got, "typ {typ}");
    }
    // Before the signature: a tampered token of the wrong type is a type error, not a signature error.
    let tampered = vector("jose-ES256-payload-tampered");
    let policy = policy_with(&v, &["edge-access"], &["ES256"], json!({ "typ": "at+jwt" }));
    let bearer = format!("Bearer {}", tampered["token"].as_str().unwrap());
    let got = decide(
        &policy,
        &Store::new(&policy, &v),
        verifier,
        &RefCell::default(),
        "/api",
        &[("authorization", &bearer)],
        DURING,
    )
    .await;
    assert_eq!(
        got,
        want((401, "token_type", Some(Challenge::InvalidToken), None))
    );
    // No `typ` at all where one is pinned.
    let header = URL_SAFE_NO_PAD
        .decode(v["token"].as_str().unwrap().split('.').next().unwrap())
        .unwrap();
    let mut header: Value = serde_json::from_slice(&header).unwrap();
    header.as_object_mut().unwrap().remove("typ");
    let rest = v["token"].as_str().unwrap().split_once('.').unwrap().1;
    let untyped = format!(
        "Bearer {}.{rest}",
        URL_SAFE_NO_PAD.encode(header.to_string())
    );
    let policy = policy_with(&v, &["edge-access"], &["ES256"], json!({ "typ": "JWT" }));
    let got = decide(
        &policy,
        &Store::new(&policy, &v),
        verifier,
        &RefCell::default(),
        "/api",
        &[("authorization", &untyped)],
        DURING,
    )
    .await;
    assert_eq!(
        got,
        want((401, "token_type", Some(Challenge::InvalidToken), None))
    );
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use edge_access::verify::now_or_never;
    use edge_access::verify::rustcrypto::RustCryptoVerifier;

    #[test]
    fn every_algorithm() {
        now_or_never(super::every_algorithm(&RustCryptoVerifier)).unwrap();
    }

    #[test]
    fn hostile_tokens() {
        now_or_never(super::hostile_tokens(&RustCryptoVerifier)).unwrap();
    }

    #[test]
    fn cache_respects_expiry() {
        now_or_never(super::cache_respects_expiry(&RustCryptoVerifier)).unwrap();
    }

    #[test]
    fn cache_forgets_removed_keys() {
        now_or_never(super::cache_forgets_removed_keys(&RustCryptoVerifier)).unwrap();
    }

    #[test]
    fn typ_pinning() {
        now_or_never(super::typ_pinning(&RustCryptoVerifier)).unwrap();
    }
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::wasm_bindgen_test;
    use edge_access::verify::webcrypto::WebCryptoVerifier;

    #[wasm_bindgen_test]
    async fn every_algorithm() {
        super::every_algorithm(&WebCryptoVerifier::new()).await;
    }

    #[wasm_bindgen_test]
    async fn hostile_tokens() {
        super::hostile_tokens(&WebCryptoVerifier::new()).await;
    }

    #[wasm_bindgen_test]
    async fn cache_respects_expiry() {
        super::cache_respects_expiry(&WebCryptoVerifier::new()).await;
    }

    #[wasm_bindgen_test]
    async fn cache_forgets_removed_keys() {
        super::cache_forgets_removed_keys(&WebCryptoVerifier::new()).await;
    }

    #[wasm_bindgen_test]
    async fn typ_pinning() {
        super::typ_pinning(&WebCryptoVerifier::new()).await;
    }
}
