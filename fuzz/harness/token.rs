//! `token`: a token (or, with newlines, the headers and query a token is read from) through extraction,
//! parsing, claim checks and RustCrypto verification against two fixed issuers: `hmac` (HS256/384/512 with the
//! fixture secrets) and `pk` (RS, PS, ES and EdDSA keys of the fixtures, bundled as a JWKS).
//!
//! Input: one line is a token sent as `Authorization: Bearer <line>`; several lines are the `Authorization`
//! value, the `Cookie` value, the query string and the `X-Token` value, in that order (missing or empty lines
//! are absent). The raw bytes also go through the strict JSON parser tokens use.
//!
//! Checks: never a panic and never a backend failure; a token is accepted only if it is byte for byte one of the
//! fixture tokens that were really signed with these keys (the fuzzer cannot sign), with exactly the fixture
//! claims; a second pass through the verified-token cache gives the same results; the engine's decision agrees
//! with the token results.

use std::cell::RefCell;
use std::sync::LazyLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use edge_access::engine::{HeaderList, NoLimits, RequestFacts, TokenLookup, UnixTime};
use edge_access::policy::{KeySource, Policy};
use edge_access::token::jwk::VerifyKey;
use edge_access::token::jwt::{self, Claims};
use edge_access::token::{Algorithm, TokenError};
use edge_access::verify::now_or_never;
use edge_access::verify::request::{verify_tokens, KeyStore, Keys, VerifiedCache};
use edge_access::verify::rustcrypto::RustCryptoVerifier;

const VECTORS: &str = include_str!("../../tests/fixtures/jwt/vectors.json");

/// Inside the fixture tokens' lifetime (iat 1800000000, exp 1800003600).
const NOW: u64 = 1_800_000_100;

struct Fixture {
    policy: Policy,
    /// Per issuer (policy order), its keys.
    keys: Vec<Vec<VerifyKey>>,
    /// Tokens that verify: the `jose` vectors expected `valid`.
    valid: Vec<String>,
    claims: Value,
}

impl KeyStore for Fixture {
    fn keys(&self, issuer: usize) -> Keys<'_> {
        match self.keys.get(issuer) {
            Some(keys) => Keys::Ready(keys),
            None => Keys::Unavailable,
        }
    }
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(fixture);

fn fixture() -> Fixture {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    let valid_jose = || {
        vectors.iter().filter(|v| {
            v["expected"] == "valid" && v["name"].as_str().unwrap().starts_with("jose-")
        })
    };
    let mut secrets = Vec::new();
    let mut jwks = Vec::new();
    for v in valid_jose() {
        match v.get("secret") {
            Some(s) => secrets.push(URL_SAFE_NO_PAD.decode(s.as_str().unwrap()).unwrap()),
            None => jwks.push(v["jwk"].clone()),
        }
    }
    let sources = json!(["authorization_bearer", { "cookie": "session" }, { "query": "access_token" }, { "header": "X-Token" }]);
    let text = json!({
        "version": 1,
        "issuers": {
            "hmac": {
                "issuer": "https://issuer.example",
                "audiences": ["edge-access"],
                "algorithms": ["HS256", "HS384", "HS512"],
                "hmac_secrets": ["S256", "S384", "S512"],
                "token_from": sources,
                "forward_claims": { "sub": "X-Sub", "roles": "X-Roles" }
            },
            "pk": {
                "issuer": "https://issuer.example",
                "audiences": ["edge-access", "other"],
                "algorithms": ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"],
                "jwks": { "keys": jwks },
                "token_from": sources,
                "max_lifetime_seconds": 7200,
                "required_claims": ["exp", "iat", "sub"]
            }
        },
        "rules": [
            { "id": "admin", "action": "require", "when": { "path_under": "/admin" },
              "require": { "any": [
                  { "token": { "issuer": "hmac", "claims": [ { "claim": "roles", "contains": "admin" } ] } },
                  { "token": { "issuer": "pk", "claims": [ { "claim": "scope", "has_all": ["read", "write"] } ] } }
              ] } }
        ],
        "default": { "action": "allow" }
    })
    .to_string();
    let policy = Policy::compile(&text, "token.json")
        .unwrap_or_else(|e| panic!("fixed policy: {e}"))
        .policy;
    let keys = policy
        .issuers()
        .iter()
        .map(|issuer| match &issuer.keys {
            KeySource::Bundled(keys) => keys.clone(),
            KeySource::HmacSecrets(_) => secrets
                .iter()
                .map(|s| VerifyKey::hmac(s).unwrap())
                .collect(),
            KeySource::Remote(_) => unreachable!("no remote keys"),
        })
        .collect();
    let valid = valid_jose()
        .map(|v| v["token"].as_str().unwrap().to_owned())
        .collect();
    Fixture {
        policy,
        keys,
        valid,
        claims: doc["claims"].clone(),
    }
}

pub fn run(data: &[u8]) {
    let _ = accepted(data);
}

/// The body of [`run`]; returns how many issuers accepted a token (the replay test checks the fixture tokens
/// are accepted, so the "never signed" check cannot be vacuous).
pub fn accepted(data: &[u8]) -> usize {
    let _ = jwt::parse_json_strict(data);
    let _ = Claims::from_json(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return 0;
    };
    let fx = &*FIXTURE;
    let mut lines = text.split('\n');
    let mut pairs: Vec<(&str, String)> = vec![("cf-connecting-ip", "198.51.100.7".to_owned())];
    let query;
    if text.contains('\n') {
        let (auth, cookie) = (field(lines.next()), field(lines.next()));
        query = field(lines.next());
        let header = field(lines.next());
        for (name, value) in [
            ("authorization", auth),
            ("cookie", cookie),
            ("x-token", header),
        ] {
            if let Some(value) = value {
                pairs.push((name, value.to_owned()));
            }
        }
    } else {
        query = None;
        pairs.push(("authorization", format!("Bearer {text}")));
        direct(fx, text);
    }
    let headers = HeaderList::from_pairs(pairs.iter().map(|(n, v)| (*n, v.as_str())));
    let cache = RefCell::new(VerifiedCache::default());
    let verify = || {
        now_or_never(verify_tokens(
            &fx.policy,
            &headers,
            query,
            UnixTime(NOW),
            fx,
            &RustCryptoVerifier,
            &cache,
        ))
        .expect("RustCrypto is synchronous")
        .unwrap_or_else(|e| panic!("keys are available, the backend must not fail: {e:?}"))
    };
    let first = verify();
    let second = verify();
    let mut accepted = 0;
    for (id, issuer) in fx.policy.issuers().iter().enumerate() {
        let (a, b) = (first.token(id), second.token(id));
        assert_eq!(
            a.err(),
            b.err(),
            "issuer {}: cache changed the outcome",
            issuer.name
        );
        if let Ok(claims) = a {
            let token = jwt::extract(&issuer.sources, |n| headers_get(&pairs, n), query)
                .expect("a token was accepted, so extraction succeeded")
                .expect("a token was accepted, so there was one");
            assert!(
                fx.valid.iter().any(|v| *v == *token),
                "issuer {} accepted a token it never signed: `{token}`",
                issuer.name
            );
            assert_eq!(Value::Object(claims.as_map().clone()), fx.claims);
            accepted += 1;
        }
    }
    for path in ["/admin", "/public"] {
        let facts = RequestFacts {
            method: "GET",
            host: "api.example.com",
            path,
            query: None,
            headers: &headers,
            country: None,
            asn: None,
            tokens: &first,
            limits: &NoLimits,
        };
        let decision = fx.policy.evaluate(&facts, UnixTime(NOW));
        if path == "/admin" && !decision.blocks() {
            assert!(
                (0..fx.policy.issuers().len()).any(|id| first.token(id).is_ok()),
                "admin allowed without a verified token"
            );
        }
        if !decision.identity.is_empty() {
            assert!(first.token(0).is_ok() || first.token(1).is_ok());
        }
    }
    accepted
}

fn field(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

fn headers_get<'a>(pairs: &'a [(&str, String)], name: &str) -> Option<&'a str> {
    // Every name occurs once here (the harness builds them), so the first one is the combined value.
    pairs
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

/// The pure layers on their own: parse with every algorithm allowed, then the claim checks of each issuer.
fn direct(fx: &Fixture, token: &str) {
    for max in [jwt::DEFAULT_MAX_TOKEN_BYTES, 64 * 1024] {
        let parsed = jwt::parse(token, &Algorithm::ALL, max);
        if let Ok(parsed) = &parsed {
            assert!(token.len() <= max);
            assert!(token.starts_with(parsed.signing_input));
            assert!(!parsed.signature.is_empty());
            for issuer in fx.policy.issuers() {
                match jwt::check_claims(&parsed.claims, &issuer.claim_rules, NOW) {
                    Ok(()) | Err(_) => {}
                }
            }
        }
        let none = jwt::parse(token, &[], max);
        assert!(
            matches!(
                none,
                Err(TokenError::Algorithm
                    | TokenError::Malformed
                    | TokenError::TooLarge
                    | TokenError::Encrypted)
            ),
            "an empty algorithm list accepted `{token}`: {none:?}"
        );
    }
}
