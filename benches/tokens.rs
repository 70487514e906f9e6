//! Token verification, natively (RustCrypto): one signature check per algorithm on the jose-minted fixtures, the
//! whole driver (extract, parse, pin, key selection, verify, claims) on a cold cache, and a verified-token cache
//! hit. The Wasm side (WebCrypto under Node) is measured by the webcrypto module's timing test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(native::benches);

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::cell::RefCell;
    use std::hint::black_box;

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use criterion::{criterion_group, Criterion};
    use serde_json::{json, Value};

    use edge_access::engine::{HeaderList, UnixTime};
    use edge_access::policy::{KeySource, Policy};
    use edge_access::token::jwk::{parse_jwk, VerifyKey};
    use edge_access::token::Algorithm;
    use edge_access::verify::request::{verify_tokens, KeyStore, Keys, VerifiedCache};
    use edge_access::verify::rustcrypto::RustCryptoVerifier;
    use edge_access::verify::{now_or_never, SignatureVerifier};

    const VECTORS: &str = include_str!("../tests/fixtures/jwt/vectors.json");
    const ALGS: [&str; 12] = [
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
        "ES384", "EdDSA",
    ];
    /// Inside the fixtures' validity (iat 1800000000, exp 1800003600).
    const NOW: u64 = 1_800_000_100;

    fn vector(name: &str) -> Value {
        let doc: Value = serde_json::from_str(VECTORS).unwrap();
        doc["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()
            .clone()
    }

    fn key_of(v: &Value) -> VerifyKey {
        match v.get("secret") {
            Some(s) => {
                VerifyKey::hmac(&URL_SAFE_NO_PAD.decode(s.as_str().unwrap()).unwrap()).unwrap()
            }
            None => parse_jwk(&v["jwk"]).unwrap(),
        }
    }

    fn signatures(c: &mut Criterion) {
        let mut group = c.benchmark_group("verify");
        group.sample_size(30);
        for alg in ALGS {
            let v = vector(&format!("jose-{alg}-valid"));
            let token = v["token"].as_str().unwrap().to_owned();
            let (input, sig) = token.rsplit_once('.').unwrap();
            let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
            let key = key_of(&v);
            let alg = Algorithm::from_name(alg).unwrap();
            assert!(
                now_or_never(RustCryptoVerifier.verify(alg, &key, input.as_bytes(), &sig))
                    .unwrap()
                    .is_ok()
            );
            group.bench_function(alg.name(), |b| {
                b.iter(|| {
                    now_or_never(RustCryptoVerifier.verify(
                        alg,
                        black_box(&key),
                        black_box(input.as_bytes()),
                        black_box(&sig),
                    ))
                })
            });
        }
        group.finish();
    }

    struct Store(Vec<VerifyKey>);

    impl KeyStore for Store {
        fn keys(&self, _issuer: usize) -> Keys<'_> {
            Keys::Ready(&self.0)
        }
    }

    fn driver(c: &mut Criterion) {
        let mut group = c.benchmark_group("token");
        group.sample_size(30);
        let v = vector("jose-ES256-valid");
        let text = json!({
        "version": 1,
        "issuers": { "t": { "issuer": "https://issuer.example", "audiences": ["edge-access"],
                            "algorithms": ["ES256"], "jwks": { "keys": [v["jwk"].clone()] } } },
        "rules": [ { "id": "api", "action": "require", "require": { "token": { "issuer": "t" } } } ],
        "default": { "action": "allow" }
    })
    .to_string();
        let policy = Policy::compile(&text, "bench.json").unwrap().policy;
        let KeySource::Bundled(keys) = &policy.issuers()[0].keys else {
            panic!()
        };
        let store = Store(keys.clone());
        let bearer = format!("Bearer {}", v["token"].as_str().unwrap());
        let headers = HeaderList::from_pairs([("authorization", bearer.as_str())]);
        let run = |cache: &RefCell<VerifiedCache>| {
            now_or_never(verify_tokens(
                &policy,
                &headers,
                None,
                UnixTime(NOW),
                &store,
                &RustCryptoVerifier,
                cache,
            ))
            .unwrap()
            .unwrap()
        };
        group.bench_function("es256_cold_cache", |b| {
            b.iter(|| run(&RefCell::new(VerifiedCache::default())))
        });
        let warm = RefCell::new(VerifiedCache::default());
        run(&warm);
        assert_eq!(warm.borrow().len(), 1);
        group.bench_function("es256_cache_hit", |b| b.iter(|| run(black_box(&warm))));
        group.finish();
    }

    criterion_group!(benches, signatures, driver);
}
