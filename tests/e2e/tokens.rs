//! Token cases through the real Worker: tokens minted by `jose` (tests/e2e/jwt-server.mjs), a JWKS fetched over
//! HTTP from that server, an HMAC secret given as a Worker var, and a bundled JWKS. Each row names the token, where
//! it goes, and the exact outcome: status, code, `WWW-Authenticate`, and what the upstream saw.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libtest_mimic::{Failed, Trial};
use serde_json::{json, Value};

use crate::support::{self, Case, JwtServer, RawRequest, Upstream, Wrangler};
use crate::{assert_denial, worker_options, Harness, Want, PARTNER_SECRET};

/// How the token's claims differ from a good one.
#[derive(Clone, Copy, Debug)]
enum Claims {
    Good,
    Expired,
    WrongAudience,
    WrongIssuer,
    NoExp,
    NotYetValid,
    Admin,
    NotAdmin,
    WriteScope,
    /// A subject with characters a header must not carry raw.
    OddSubject,
}

/// Which token, signed how.
#[derive(Clone, Copy, Debug)]
enum Mint {
    Nothing,
    /// `corp`, by jose, with the first published key of the algorithm.
    Corp(&'static str, Claims),
    /// `corp`, signed with a key of this `kid` (published or not).
    CorpKid(&'static str, &'static str),
    /// `partner`, HS256 with this secret.
    Partner(&'static str),
    /// `bundled`, EdDSA with the test key whose public half is in the policy.
    Bundled,
    /// `alg: none`.
    AlgNone,
    /// HS256 "signed" with the RSA public key as the secret (algorithm confusion).
    HmacWithRsaPublicKey,
    /// A valid token with a changed payload.
    Tampered,
}

/// Where the token goes.
#[derive(Clone, Copy, Debug)]
enum Place {
    Bearer,
    Cookie,
    PartnerHeader,
    BundledHeader,
    /// A valid token as Bearer and a different valid token in the cookie.
    BearerAndOtherCookie,
    TwoAuthorizationHeaders,
}

/// `(name, method, path, token, place, extra headers, outcome, WWW-Authenticate, x-auth-subject at the upstream)`.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    Mint,
    Place,
    &'static [(&'static str, &'static str)],
    Want,
    Option<&'static str>,
    Option<&'static str>,
);

use Claims as C;
use Mint as M;
use Place as P;
use Want::{Denied, Forwarded};

const REQUIRED: &str = r#"Bearer realm="e2e""#;
const INVALID: &str = r#"Bearer realm="e2e", error="invalid_token""#;
const SCOPE: &str = r#"Bearer realm="e2e", error="insufficient_scope""#;

const ROWS: &[Row] = &[
    (
        "tok-missing",
        "GET",
        "/api/items",
        M::Nothing,
        P::Bearer,
        &[],
        Denied(401, "token_missing"),
        Some(REQUIRED),
        None,
    ),
    (
        "tok-rs256",
        "GET",
        "/api/items",
        M::Corp("RS256", C::Good),
        P::Bearer,
        &[],
        Forwarded,
        None,
        Some("user-1"),
    ),
    (
        "tok-es256",
        "GET",
        "/api/items",
        M::Corp("ES256", C::Good),
        P::Bearer,
        &[],
        Forwarded,
        None,
        Some("user-1"),
    ),
    (
        "tok-eddsa",
        "GET",
        "/api/items",
        M::Corp("EdDSA", C::Good),
        P::Bearer,
        &[],
        Forwarded,
        None,
        Some("user-1"),
    ),
    (
        "tok-cookie",
        "GET",
        "/api/items",
        M::Corp("ES256", C::Good),
        P::Cookie,
        &[],
        Forwarded,
        None,
        Some("user-1"),
    ),
    (
        "tok-expired",
        "GET",
        "/api/items",
        M::Corp("RS256", C::Expired),
        P::Bearer,
        &[],
        Denied(401, "token_expired"),
        Some(INVALID),
        None,
    ),
    (
        "tok-audience",
        "GET",
        "/api/items",
        M::Corp("RS256", C::WrongAudience),
        P::Bearer,
        &[],
        Denied(401, "token_audience"),
        Some(INVALID),
        None,
    ),
    (
        "tok-issuer",
        "GET",
        "/api/items",
        M::Corp("RS256", C::WrongIssuer),
        P::Bearer,
        &[],
        Denied(401, "token_issuer"),
        Some(INVALID),
        None,
    ),
    (
        "tok-no-exp",
        "GET",
        "/api/items",
        M::Corp("RS256", C::NoExp),
        P::Bearer,
        &[],
        Denied(401, "token_missing_claim"),
        Some(INVALID),
        None,
    ),
    (
        "tok-nbf",
        "GET",
        "/api/items",
        M::Corp("ES256", C::NotYetValid),
        P::Bearer,
        &[],
        Denied(401, "token_not_yet_valid"),
        Some(INVALID),
        None,
    ),
    (
        "tok-alg-none",
        "GET",
        "/api/items",
        M::AlgNone,
        P::Bearer,
        &[],
        Denied(401, "token_algorithm"),
        Some(INVALID),
        None,
    ),
    (
        "tok-hs256-rsa-confusion",
        "GET",
        "/api/items",
        M::HmacWithRsaPublicKey,
        P::Bearer,
        &[],
        Denied(401, "token_algorithm"),
        Some(INVALID),
        None,
    ),
    (
        "tok-tampered",
        "GET",
        "/api/items",
        M::Tampered,
        P::Bearer,
        &[],
        Denied(401, "token_invalid_signature"),
        Some(INVALID),
        None,
    ),
    (
        "tok-unknown-kid",
        "GET",
        "/api/items",
        M::CorpKid("RS256", "not-a-key"),
        P::Bearer,
        &[],
        Denied(401, "token_unknown_key"),
        Some(INVALID),
        None,
    ),
    (
        "tok-admin",
        "GET",
        "/api/admin/users",
        M::Corp("ES256", C::Admin),
        P::Bearer,
        &[],
        Forwarded,
        None,
        Some("user-1"),
    ),
    (
        "tok-not-admin",
        "GET",
        "/api/admin/users",
        M::Corp("ES256", C::NotAdmin),
        P::Bearer,
        &[],
        Denied(403, "claim_mismatch"),
        None,
        None,
    ),
    (
        "tok-write-scope",
        "POST",
        "/api/items",
        M::Corp("ES256", C::WriteScope),
        P::Bearer,
        &[],
        Forwarded,
        None,
        Some("user-1"),
    ),
    (
        "tok-read-scope-cannot-write",
        "POST",
        "/api/items",
        M::Corp("ES256", C::Good),
        P::Bearer,
        &[],
        Denied(403, "claim_mismatch"),
        Some(SCOPE),
        None,
    ),
    (
        "tok-hidden",
        "GET",
        "/hidden/x",
        M::Nothing,
        P::Bearer,
        &[],
        Denied(404, "not_found"),
        None,
        None,
    ),
    (
        "tok-hidden-bad-token",
        "GET",
        "/hidden/x",
        M::Tampered,
        P::Bearer,
        &[],
        Denied(404, "not_found"),
        None,
        None,
    ),
    (
        "tok-partner",
        "GET",
        "/partner/x",
        M::Partner(PARTNER_SECRET),
        P::PartnerHeader,
        &[],
        Forwarded,
        None,
        None,
    ),
    (
        "tok-partner-wrong-secret",
        "GET",
        "/partner/x",
        M::Partner("another-secret-of-sufficient-length-0123456789"),
        P::PartnerHeader,
        &[],
        Denied(401, "token_invalid_signature"),
        Some(INVALID),
        None,
    ),
    (
        "tok-partner-missing",
        "GET",
        "/partner/x",
        M::Nothing,
        P::PartnerHeader,
        &[],
        Denied(401, "token_missing"),
        Some(REQUIRED),
        None,
    ),
    (
        "tok-bundled",
        "GET",
        "/bundled/x",
        M::Bundled,
        P::BundledHeader,
        &[],
        Forwarded,
        None,
        None,
    ),
    (
        "tok-header-cookie-disagree",
        "GET",
        "/api/items",
        M::Corp("ES256", C::Good),
        P::BearerAndOtherCookie,
        &[],
        Denied(401, "token_ambiguous"),
        Some(INVALID),
        None,
    ),
    (
        "tok-two-authorization",
        "GET",
        "/api/items",
        M::Corp("ES256", C::Good),
        P::TwoAuthorizationHeaders,
        &[],
        Denied(401, "token_ambiguous"),
        Some(INVALID),
        None,
    ),
    (
        "tok-basic-is-not-bearer",
        "GET",
        "/api/items",
        M::Nothing,
        P::Bearer,
        &[("Authorization", "Basic dXNlcjpwYXNz")],
        Denied(401, "token_missing"),
        Some(REQUIRED),
        None,
    ),
    // Identity headers: the client's copies never reach the origin, with or without a token.
    (
        "tok-spoofed-subject",
        "GET",
        "/api/items",
        M::Corp("ES256", C::Good),
        P::Bearer,
        &[("X-Auth-Subject", "admin"), ("X-Internal-Role", "root")],
        Forwarded,
        None,
        Some("user-1"),
    ),
    (
        "tok-spoof-without-token",
        "GET",
        "/open",
        M::Nothing,
        P::Bearer,
        &[
            ("X-Auth-Subject", "admin"),
            ("X-Auth-Email", "boss@example.com"),
            ("X-Internal-Role", "root"),
            ("X-Partner-Subject", "p"),
        ],
        Forwarded,
        None,
        None,
    ),
    (
        "tok-odd-subject-encoded",
        "GET",
        "/api/items",
        M::Corp("ES256", C::OddSubject),
        P::Bearer,
        &[],
        Forwarded,
        None,
        Some("us%C3%A9r%0D%0Ax: y"),
    ),
];

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn claims(kind: Claims) -> Value {
    let now = now();
    let mut c = json!({
        "iss": "https://issuer.test", "aud": "edge-access", "sub": "user-1", "email": "u1@example.com",
        "iat": now - 10, "exp": now + 600, "scope": "read", "roles": ["dev"]
    });
    match kind {
        C::Good => {}
        C::Expired => {
            c["iat"] = json!(now - 7200);
            c["exp"] = json!(now - 3600);
        }
        C::WrongAudience => c["aud"] = json!(["other", "more"]),
        C::WrongIssuer => c["iss"] = json!("https://issuer.test.evil.net"),
        C::NoExp => {
            c.as_object_mut().unwrap().remove("exp");
        }
        C::NotYetValid => c["nbf"] = json!(now + 3600),
        C::Admin => c["roles"] = json!(["dev", "admin"]),
        C::NotAdmin => c["roles"] = json!(["superadmin", "administrator", "Admin"]),
        C::WriteScope => c["scope"] = json!("read write"),
        C::OddSubject => c["sub"] = json!("usér\r\nx: y"),
    }
    c
}

fn mint(jwt: &JwtServer, m: Mint) -> Option<String> {
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    Some(match m {
        M::Nothing => return None,
        M::Corp(alg, kind) => jwt.mint(alg, None, claims(kind)),
        M::CorpKid(alg, kid) => {
            // An unpublished kid: sign with the first key, then name another kid in the header.
            let token = jwt.mint(alg, None, claims(C::Good));
            let mut parts = token.splitn(2, '.');
            let (_, rest) = (parts.next().unwrap(), parts.next().unwrap());
            format!(
                "{}.{rest}",
                b64(&format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#))
            )
        }
        M::Partner(secret) => {
            let mut c = claims(C::Good);
            c["iss"] = json!("https://partner.test");
            jwt.mint_hmac("HS256", secret, c)
        }
        M::Bundled => {
            let key: Value =
                serde_json::from_str(include_str!("fixtures/bundled-ed25519.private.json"))
                    .unwrap();
            let mut c = claims(C::Good);
            c["iss"] = json!("https://bundled.test");
            jwt.mint_with_private_jwk("EdDSA", &key["private_jwk"], c)
        }
        M::AlgNone => format!(
            "{}.{}.",
            b64(r#"{"alg":"none","typ":"JWT"}"#),
            b64(&claims(C::Good).to_string())
        ),
        M::HmacWithRsaPublicKey => {
            let jwks = jwt.jwks();
            let rsa = jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["kty"] == "RSA")
                .unwrap()
                .to_string();
            jwt.mint_hmac("HS256", &rsa, claims(C::Good))
        }
        M::Tampered => {
            let token = jwt.mint("RS256", None, claims(C::Good));
            let parts: Vec<&str> = token.split('.').collect();
            let mut c = claims(C::Admin);
            c["sub"] = json!("someone-else");
            format!("{}.{}.{}", parts[0], b64(&c.to_string()), parts[2])
        }
    })
}

fn check(h: &Harness, row: &Row) -> Result<(), Failed> {
    let (name, method, path, m, place, extra, want, challenge, subject) = *row;
    let case = Case::new(name, &h.wrangler, &h.upstream);
    let mut req = RawRequest::new(method, path).header("CF-Connecting-IP", "198.51.100.7");
    if let Some(token) = mint(&h.jwt, m) {
        req = match place {
            P::Bearer => req.header("Authorization", format!("Bearer {token}")),
            P::Cookie => req.header("Cookie", format!("theme=dark; session={token}")),
            P::PartnerHeader => req.header("X-Partner-Token", token),
            P::BundledHeader => req.header("X-Bundled-Token", token),
            P::BearerAndOtherCookie => {
                let other = mint(&h.jwt, M::Corp("RS256", C::Admin)).unwrap();
                req.header("Authorization", format!("Bearer {token}"))
                    .header("Cookie", format!("session={other}"))
            }
            P::TwoAuthorizationHeaders => req
                .header("Authorization", format!("Bearer {token}"))
                .header("Authorization", format!("Bearer {token}")),
        };
    }
    for (n, v) in extra {
        req = req.header(*n, *v);
    }
    let resp = case.send(req);
    assert_eq!(
        resp.header("www-authenticate"),
        challenge,
        "case `{name}`: WWW-Authenticate"
    );
    match want {
        Forwarded => {
            assert_eq!(resp.status, 200, "case `{name}`: {resp:?}");
            let seen = case.upstream_one();
            assert_eq!(seen.method, method, "case `{name}`");
            assert_eq!(
                seen.headers_named("x-auth-subject"),
                subject.into_iter().collect::<Vec<_>>(),
                "case `{name}`: the subject header, exactly once, only from a verified token"
            );
            assert_eq!(
                seen.headers_named("x-internal-role"),
                Vec::<&str>::new(),
                "case `{name}`"
            );
            match m {
                M::Partner(_) => assert_eq!(
                    seen.header("x-partner-subject"),
                    Some("user-1"),
                    "case `{name}`"
                ),
                _ => assert_eq!(seen.header("x-partner-subject"), None, "case `{name}`"),
            }
            if subject.is_none() {
                assert_eq!(seen.header("x-auth-email"), None, "case `{name}`");
            }
        }
        Denied(status, code) => {
            assert_denial(&resp, status, code, false, name);
            case.assert_upstream_untouched();
        }
    }
    Ok(())
}

/// A Worker and JWKS server of its own, for cases that change the JWKS server's state.
struct Solo {
    upstream: Upstream,
    jwt: JwtServer,
    wrangler: Wrangler,
}

impl Solo {
    fn start(h: &Harness, mode: &str) -> Result<Solo, Failed> {
        Solo::start_with(h, mode, None)
    }

    /// With `jwks_url`, the Worker var `CORP_JWKS_URL` holds it instead of the JWKS server's own URL.
    fn start_with(
        h: &Harness,
        mode: &str,
        jwks_url: Option<&dyn Fn(&str) -> String>,
    ) -> Result<Solo, Failed> {
        let upstream = Upstream::start();
        let jwt = JwtServer::start(&h.root).map_err(Failed::from)?;
        jwt.set_mode(mode);
        let options = match jwks_url {
            None => worker_options(&h.root, &upstream, &jwt),
            Some(url) => crate::options(&h.root)
                .var("ORIGIN_URL", upstream.base_url())
                .var("CORP_JWKS_URL", url(&jwt.jwks_url()))
                .var("PARTNER_HMAC_SECRET", PARTNER_SECRET),
        };
        let wrangler = Wrangler::start(options).map_err(Failed::from)?;
        Ok(Solo {
            upstream,
            jwt,
            wrangler,
        })
    }

    fn get(&self, path: &str, token: Option<&str>) -> support::Response {
        let mut req = RawRequest::get(path).header("CF-Connecting-IP", "198.51.100.7");
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        support::send(&self.wrangler.addr(), &req).expect("request")
    }
}

impl Drop for Solo {
    fn drop(&mut self) {
        self.wrangler.shutdown();
        self.upstream.stop();
    }
}

/// Keys rotate: a token signed with a key the Worker has not seen is refused until the JWKS publishes it, then
/// accepted after one refetch; a flood of unknown kids does not become a flood of fetches.
fn jwks_rotation(h: &Harness) -> Result<(), Failed> {
    let s = Solo::start(h, "up")?;
    let old = s.jwt.mint("RS256", Some("rsa-1"), claims(C::Good));
    assert_eq!(
        s.get("/api/a", Some(&old)).status,
        200,
        "the first key works"
    );
    let new = s.jwt.mint("RS256", Some("rsa-2"), claims(C::Good));
    let resp = s.get("/api/b", Some(&new));
    assert_eq!(
        (resp.status, resp.json()["code"].clone()),
        (401, json!("token_unknown_key")),
        "not published yet"
    );
    s.jwt.rotate();
    std::thread::sleep(Duration::from_millis(2100)); // jwks_min_refetch_seconds is 2 in the e2e policy
    assert_eq!(
        s.get("/api/c", Some(&new)).status,
        200,
        "accepted after the rotation"
    );
    assert_eq!(
        s.get("/api/d", Some(&old)).status,
        200,
        "the old key still works"
    );
    // A flood of random kids: at most one refetch per 2 s.
    let before = s.jwt.fetches();
    let started = std::time::Instant::now();
    for i in 0..25 {
        let token = mint(
            &s.jwt,
            M::CorpKid("RS256", if i % 2 == 0 { "zz-a" } else { "zz-b" }),
        )
        .unwrap();
        let resp = s.get(&format!("/api/flood{i}"), Some(&token));
        assert_eq!(resp.status, 401);
    }
    let elapsed = started.elapsed().as_secs() + 1;
    let fetched = s.jwt.fetches() - before;
    assert!(
        fetched <= elapsed / 2 + 1,
        "{fetched} JWKS fetches for 25 unknown kids in {elapsed} s"
    );
    Ok(())
}

/// The JWKS endpoint fails: cached keys keep working; without any keys the filter denies (503), never forwards.
fn jwks_outages(h: &Harness) -> Result<(), Failed> {
    let s = Solo::start(h, "up")?;
    let token = s.jwt.mint("ES256", None, claims(C::Good));
    assert_eq!(s.get("/api/a", Some(&token)).status, 200);
    for mode in ["down", "garbage"] {
        s.jwt.set_mode(mode);
        let fresh = s.jwt.mint("ES256", None, claims(C::Admin));
        assert_eq!(
            s.get("/api/b", Some(&fresh)).status,
            200,
            "{mode}: cached keys still verify"
        );
        std::thread::sleep(Duration::from_millis(2100));
        let unknown = mint(&s.jwt, M::CorpKid("ES256", "rotated-away")).unwrap();
        assert_eq!(
            s.get("/api/c", Some(&unknown)).status,
            401,
            "{mode}: a refetch that fails changes nothing"
        );
        assert_eq!(
            s.get("/api/d", Some(&fresh)).status,
            200,
            "{mode}: stale-if-error"
        );
    }
    drop(s);
    for mode in ["down", "garbage"] {
        let s = Solo::start(h, mode)?;
        let token = s.jwt.mint("ES256", None, claims(C::Good));
        let resp = s.get("/api/a", Some(&token));
        assert_eq!(
            resp.status, 503,
            "{mode}: no keys at all fails closed: {resp:?}"
        );
        assert_eq!(resp.json()["code"], "filter_unavailable");
        assert!(
            s.upstream
                .requests()
                .iter()
                .all(|r| !r.target.starts_with("/api")),
            "{mode}: nothing forwarded"
        );
        assert_eq!(
            s.get("/open", None).status,
            200,
            "{mode}: requests without tokens need no keys"
        );
    }
    Ok(())
}

/// A well-formed JWKS with no usable key (empty, or only an unknown key type) is the issuer's word: it replaces
/// the keys held, and tokens verified and cached before are refused (401 `token_unknown_key`, not a 503, not the
/// old keys); a JWKS with keys again restores them.
fn jwks_empty(h: &Harness) -> Result<(), Failed> {
    let s = Solo::start(h, "up")?;
    let token = s.jwt.mint("ES256", None, claims(C::Good));
    assert_eq!(
        s.get("/api/a", Some(&token)).status,
        200,
        "verified and cached"
    );
    for mode in ["empty", "unusable"] {
        s.jwt.set_mode(mode);
        std::thread::sleep(Duration::from_millis(2100)); // jwks_min_refetch_seconds is 2 in the e2e policy
        let unknown = mint(&s.jwt, M::CorpKid("ES256", "rotated-away")).unwrap();
        let before = s.jwt.fetches();
        let resp = s.get("/api/b", Some(&unknown));
        assert_eq!(
            s.jwt.fetches(),
            before + 1,
            "{mode}: the unknown kid refetches"
        );
        assert_eq!(
            (resp.status, resp.json()["code"].clone()),
            (401, json!("token_unknown_key")),
            "{mode}"
        );
        let resp = s.get("/api/c", Some(&token));
        assert_eq!(
            (resp.status, resp.json()["code"].clone()),
            (401, json!("token_unknown_key")),
            "{mode}: the withdrawn key no longer verifies, cached or not: {resp:?}"
        );
        s.jwt.set_mode("up");
        std::thread::sleep(Duration::from_millis(2100));
        assert_eq!(
            s.get("/api/d", Some(&token)).status,
            200,
            "{mode}: keys published again"
        );
    }
    assert!(
        s.upstream
            .requests()
            .iter()
            .all(|r| !["/api/b", "/api/c"].contains(&r.target.as_str())),
        "nothing refused was forwarded"
    );
    Ok(())
}

/// A `jwks_url_var` value that is not https (nor loopback http) is never fetched: the issuer's tokens fail closed.
fn jwks_url_var_checked(h: &Harness) -> Result<(), Failed> {
    // `HTTP://` is the JWKS server itself to `fetch`, but not the lower-case `https://` the check asks for; a
    // plain http URL to a host that is not loopback is refused the same way (no server there to count fetches).
    for (name, url) in [
        (
            "upper-case scheme",
            &(|u: &str| u.replacen("http://", "HTTP://", 1)) as &dyn Fn(&str) -> String,
        ),
        (
            "plain http",
            &(|u: &str| u.replacen("127.0.0.1", "issuer.test", 1)),
        ),
    ] {
        let s = Solo::start_with(h, "up", Some(url))?;
        let token = s.jwt.mint("ES256", None, claims(C::Good));
        let resp = s.get("/api/a", Some(&token));
        assert_eq!(resp.status, 503, "{name}: {resp:?}");
        assert_eq!(resp.json()["code"], "filter_unavailable", "{name}");
        assert_eq!(s.jwt.fetches(), 0, "{name}: never fetched");
        assert!(
            s.upstream
                .requests()
                .iter()
                .all(|r| !r.target.starts_with("/api")),
            "{name}: nothing forwarded"
        );
        assert_eq!(
            s.get("/open", None).status,
            200,
            "{name}: requests without tokens need no keys"
        );
    }
    Ok(())
}

pub(crate) fn trials(h: &Arc<Harness>) -> Vec<Trial> {
    let mut out: Vec<Trial> = ROWS
        .iter()
        .map(|row| {
            let h = Arc::clone(h);
            Trial::test(row.0, move || check(&h, row))
        })
        .collect();
    for (name, f) in [
        (
            "tok-jwks-rotation",
            jwks_rotation as fn(&Harness) -> Result<(), Failed>,
        ),
        ("tok-jwks-outages", jwks_outages),
        ("tok-jwks-empty", jwks_empty),
        ("tok-jwks-url-var-checked", jwks_url_var_checked),
    ] {
        let h = Arc::clone(h);
        out.push(Trial::test(name, move || f(&h)));
    }
    out
}
