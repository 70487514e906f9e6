//! Tokens: what a JWT is allowed to be, before any cryptography.
//!
//! Pure and synchronous: compact-JWS parsing with algorithms pinned per issuer before any crypto, JWK validation,
//! claim checks and predicates. It never verifies a signature itself (that is [`crate::verify`]'s, behind one
//! trait) and never fetches anything: `jku`, `x5u`, `jwk` and `x5c` headers are ignored, never followed.
//! `build.rs` compiles this module too, so a bundled JWKS is validated at build time by the same code.

pub mod jwk;
pub mod jwt;

use std::fmt;

/// A JWS algorithm this filter can verify. `none` is not one, in any spelling.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Algorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

/// The kind of key an algorithm needs. The key type always comes from the key, never from the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyFamily {
    Hmac,
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

impl Algorithm {
    pub const ALL: [Algorithm; 12] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The algorithm named exactly `name` (JOSE names are case-sensitive: `hs256` is not `HS256`).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// The key family the algorithm needs.
    pub fn family(self) -> KeyFamily {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => KeyFamily::Hmac,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => KeyFamily::Rsa,
            Algorithm::ES256 => KeyFamily::EcP256,
            Algorithm::ES384 => KeyFamily::EcP384,
            Algorithm::EdDSA => KeyFamily::Ed25519,
        }
    }

    /// True for the HMAC algorithms.
    pub fn is_hmac(self) -> bool {
        self.family() == KeyFamily::Hmac
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a token was not accepted. Each maps to a stable reason code (see [`TokenError::code`]); none carries a
/// claim value or key material, so nothing secret can reach a response or a log through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenError {
    /// No token where the issuer's sources were looked.
    Missing,
    /// More than one token, or sources that disagree, or two `Authorization` headers, or a malformed one.
    Ambiguous,
    /// Over the size cap.
    TooLarge,
    /// Not a well-formed compact JWS (segments, base64url, JSON, duplicate keys, claim types).
    Malformed,
    /// Five segments: an encrypted JWT (JWE), which this filter does not accept.
    Encrypted,
    /// `alg` is `none` (any spelling), unknown, or not pinned for the issuer.
    Algorithm,
    /// A `crit` header parameter, which this filter understands none of.
    CriticalHeader,
    /// The header's `typ` is not the one the issuer pins (or is absent where one is pinned).
    Type,
    /// No key of the issuer matches the token's `kid` and algorithm.
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
    /// `exp` is past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// Lifetime (`exp - iat`) over the issuer's maximum.
    LifetimeTooLong,
    /// `iss` is not the issuer's.
    Issuer,
    /// `aud` names none of the issuer's audiences.
    Audience,
    /// A claim the issuer requires is absent.
    MissingClaim,
}

impl TokenError {
    /// The stable reason code.
    pub fn code(self) -> &'static str {
        match self {
            TokenError::Missing => "token_missing",
            TokenError::Ambiguous => "token_ambiguous",
            TokenError::TooLarge => "token_too_large",
            TokenError::Malformed => "token_malformed",
            TokenError::Encrypted => "token_encrypted",
            TokenError::Algorithm => "token_algorithm",
            TokenError::CriticalHeader => "token_critical_header",
            TokenError::Type => "token_type",
            TokenError::UnknownKey => "token_unknown_key",
            TokenError::BadSignature => "token_invalid_signature",
            TokenError::Expired => "token_expired",
            TokenError::NotYetValid => "token_not_yet_valid",
            TokenError::IssuedInFuture => "token_issued_in_future",
            TokenError::LifetimeTooLong => "token_lifetime",
            TokenError::Issuer => "token_issuer",
            TokenError::Audience => "token_audience",
            TokenError::MissingClaim => "token_missing_claim",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for TokenError {}
