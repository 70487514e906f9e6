//! Token forgeries for the adversarial end-to-end cases, built from tokens the independent `jose` package minted
//! (`tests/e2e/jwt-server.mjs`), never from edge-access's own code.
//!
//! - [`mint`]: any `/mint` request, including the `header` override, so a token can be *validly* signed by a
//!   real issuer key and still carry `jku`, `x5u`, `jwk`, `x5c`, `crit`, an odd `kid` or an odd claim;
//! - [`reheader`], [`repayload`], [`resign`]: re-encode one segment of a minted token (the signature then no
//!   longer covers it, which is the point: these must be refused before or at the signature check);
//! - [`hs256_raw`]: an HS256 signature over exact header and payload bytes (duplicate JSON keys, numbers that
//!   JavaScript cannot write), for an issuer whose secret the test knows;
//! - [`sized`]: a validly signed token of an exact length (size caps are tested at the byte);
//! - [`b64`], [`segments`]: the small pieces.
//!
//! Nothing here validates or normalises: a forgery is sent exactly as built.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::http::{send, RawRequest};
use super::jwt::JwtServer;

/// Unpadded base64url, as JWS writes segments.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes an unpadded base64url segment; panics on anything else (forgeries start from well-formed tokens).
pub fn unb64(segment: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .unwrap_or_else(|e| panic!("forge: `{segment}` is not base64url: {e}"))
}

/// The three segments of a compact JWS; panics on anything else.
pub fn segments(token: &str) -> [String; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    match parts.as_slice() {
        [h, p, s] => [(*h).to_owned(), (*p).to_owned(), (*s).to_owned()],
        _ => panic!("forge: not a compact JWS: {token}"),
    }
}

/// The decoded JSON of a token's header segment.
pub fn header_of(token: &str) -> Value {
    let [h, _, _] = segments(token);
    serde_json::from_slice(&unb64(&h)).expect("forge: header JSON")
}

/// `token` with its header segment replaced by base64url of exactly `header_json` (payload and signature kept).
pub fn reheader(token: &str, header_json: &str) -> String {
    let [_, p, s] = segments(token);
    format!("{}.{p}.{s}", b64(header_json))
}

/// `token` with its payload segment replaced by base64url of exactly `payload_json` (header and signature kept).
pub fn repayload(token: &str, payload_json: &str) -> String {
    let [h, _, s] = segments(token);
    format!("{h}.{}.{s}", b64(payload_json))
}

/// `token` with its signature segment replaced by `signature_segment`, verbatim (not encoded here).
pub fn resign(token: &str, signature_segment: &str) -> String {
    let [h, p, _] = segments(token);
    format!("{h}.{p}.{signature_segment}")
}

/// A compact JWS over exactly these header and payload bytes, HS256-signed with `secret`. The JSON is not parsed
/// or re-serialised, so it may hold duplicate keys or numbers no JSON library would write.
pub fn hs256_raw(secret: &[u8], header_json: &str, payload_json: &str) -> String {
    let signing_input = format!("{}.{}", b64(header_json), b64(payload_json));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(mac.finalize().into_bytes()))
}

/// `127.0.0.1:PORT` of the jwt-server (read off its JWKS URL).
fn addr(jwt: &JwtServer) -> String {
    let url = jwt.jwks_url();
    url.trim_start_matches("http://")
        .trim_end_matches("/jwks")
        .to_owned()
}

/// Any `/mint` request: `{alg, kid?, claims, header?, secret?, private_jwk?}` (see `jwt-server.mjs`). The
/// `header` members are merged over `{alg, kid}`, so they may add `jku`, `crit`, ... or replace `kid`.
pub fn mint(jwt: &JwtServer, request: &Value) -> String {
    let resp = send(&addr(jwt), &RawRequest::post("/mint").json(request))
        .unwrap_or_else(|e| panic!("forge: jwt-server /mint: {e}"));
    assert_eq!(
        resp.status,
        200,
        "forge: jwt-server /mint {request}: {}",
        resp.text()
    );
    resp.json()["token"]
        .as_str()
        .unwrap_or_else(|| panic!("forge: /mint gave no token: {}", resp.text()))
        .to_owned()
}

/// Length of the unpadded base64url encoding of `n` bytes.
fn b64_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

/// A token of exactly `len` bytes, validly signed by jose with `alg` (a corp key): `claims` plus a `pad` claim,
/// and when needed a filler header member `x`, sized so the whole token has that length.
pub fn sized(jwt: &JwtServer, alg: &str, claims: &Value, len: usize) -> String {
    let probe = mint(jwt, &json!({ "alg": alg, "claims": claims }));
    let [h, p, s] = segments(&probe);
    let (head_bytes, payload_bytes) = (unb64(&h).len(), unb64(&p).len());
    // `"pad":""` adds 9 bytes to the payload (with its comma); `"x":""` adds 7 to the header.
    let fixed = s.len() + 2;
    for extra in 0..4usize {
        let head_len = if extra == 0 {
            b64_len(head_bytes)
        } else {
            b64_len(head_bytes + 7 + (extra - 1))
        };
        for pad in 0..len {
            let total = fixed + head_len + b64_len(payload_bytes + 9 + pad);
            if total > len {
                break;
            }
            if total < len {
                continue;
            }
            let mut claims = claims.clone();
            claims["pad"] = Value::String("p".repeat(pad));
            let mut request = json!({ "alg": alg, "claims": claims });
            if extra > 0 {
                request["header"] = json!({ "x": "x".repeat(extra - 1) });
            }
            let token = mint(jwt, &request);
            assert_eq!(
                token.len(),
                len,
                "forge: sized token came out {} bytes",
                token.len()
            );
            return token;
        }
    }
    panic!("forge: no token of exactly {len} bytes can be built this way");
}
