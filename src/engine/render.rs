//! The denial contract, rendered from a [`Decision`]: pure, so native tests check exactly what the Worker sends.
//!
//! A denial body never carries claim values, keys, list contents or (unless the policy opts in) the rule id.
//! A 404 denial looks like an ordinary not-found: its public code is `not_found` and its message `Not Found`
//! unless the rule sets one, so the response gives no hint that a filter decided it.

use serde::Serialize;

use super::{Challenge, Decision};
use crate::policy::{Policy, DEFAULT_MESSAGE};

/// The JSON body of a denial.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct DenialBody<'a> {
    pub error: &'a str,
    pub code: &'a str,
    pub request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'a str>,
}

/// The body a client sees for a blocking decision.
pub fn denial_body<'a>(
    decision: &'a Decision<'a>,
    policy: &'a Policy,
    request_id: &'a str,
) -> DenialBody<'a> {
    let hidden = decision.status == 404;
    let (error, code) = if hidden {
        let message = if decision.message == DEFAULT_MESSAGE {
            "Not Found"
        } else {
            decision.message
        };
        (message, "not_found")
    } else {
        (decision.message, decision.code)
    };
    DenialBody {
        error,
        code,
        request_id,
        rule: if policy.expose_rule_id() && !hidden {
            decision.rule_id()
        } else {
            None
        },
    }
}

/// The headers every denial carries, besides `content-type` (see [`CONTENT_TYPE`]).
pub const DENIAL_HEADERS: &[(&str, &str)] = &[
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
];

/// The media type of every denial.
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// The header that carries the request id on denials.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The `WWW-Authenticate` value for a token denial (RFC 6750 section 3), or `None` for other denials. `host` is
/// the request's host, the realm when the policy names none.
pub fn www_authenticate(decision: &Decision<'_>, policy: &Policy, host: &str) -> Option<String> {
    let challenge = decision.challenge?;
    let realm = policy
        .realm()
        .unwrap_or_else(|| crate::policy::scope::normalize_host(host).unwrap_or("api"));
    let error = match challenge {
        Challenge::TokenRequired => return Some(format!("Bearer realm=\"{realm}\"")),
        Challenge::InvalidToken => "invalid_token",
        Challenge::InsufficientScope => "insufficient_scope",
    };
    Some(format!("Bearer realm=\"{realm}\", error=\"{error}\""))
}
