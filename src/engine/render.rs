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

/// What the Worker does with a decided request. The edge adapter only carries it out, and the CLI shows it, so the
/// two cannot drift apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan<'d> {
    /// Answer at the edge, without forwarding.
    Respond {
        status: u16,
        headers: Vec<(&'static str, String)>,
        /// Empty for a preflight answer and for `HEAD`.
        body: Vec<u8>,
    },
    /// Forward: remove `strip` from the request (if present), set `add` on it, and add `cors` to the upstream's
    /// response (`vary` appended, the others replacing the upstream's).
    Forward {
        strip: &'d [String],
        add: &'d [(&'d str, String)],
        cors: &'d [(&'static str, String)],
    },
}

/// The headers every answer the filter gives itself carries.
fn own_headers(request_id: &str) -> Vec<(&'static str, String)> {
    let mut headers = vec![("content-type", CONTENT_TYPE.to_owned())];
    headers.extend(DENIAL_HEADERS.iter().map(|(n, v)| (*n, (*v).to_owned())));
    headers.push((REQUEST_ID_HEADER, request_id.to_owned()));
    headers
}

/// The plan for a decision. `host` is the request's host (the default realm); `head` whether the method is HEAD.
pub fn plan<'d>(
    decision: &'d Decision<'d>,
    policy: &'d Policy,
    host: &str,
    request_id: &str,
    head: bool,
) -> Plan<'d> {
    if decision.preflight && decision.effect == super::Effect::Allow {
        let mut headers = decision.cors.clone();
        headers.push((REQUEST_ID_HEADER, request_id.to_owned()));
        return Plan::Respond {
            status: 204,
            headers,
            body: Vec::new(),
        };
    }
    if decision.blocks() || decision.preflight {
        let mut headers = own_headers(request_id);
        if let Some(challenge) = www_authenticate(decision, policy, host) {
            headers.push(("www-authenticate", challenge));
        }
        if let Some(seconds) = decision.retry_after {
            headers.push(("retry-after", seconds.to_string()));
        }
        // An allowed origin may read the denial (so a single-page app can show it); a 404 that hides the
        // resource stays plain.
        if decision.status != 404 {
            headers.extend(decision.cors.iter().cloned());
        }
        let body = if head {
            Vec::new()
        } else {
            // Serialising a struct of strings cannot fail; an empty body would still be a safe denial.
            serde_json::to_vec(&denial_body(decision, policy, request_id)).unwrap_or_default()
        };
        return Plan::Respond {
            status: decision.status,
            headers,
            body,
        };
    }
    Plan::Forward {
        strip: policy.strip_headers(),
        add: &decision.identity,
        cors: &decision.cors,
    }
}

/// An answer the filter gives when it cannot decide or forward: 502 (`upstream_unavailable`), 504
/// (`upstream_timeout`) or 503 (`filter_unavailable`, failing closed).
pub fn failure(status: u16, code: &str, request_id: &str) -> Plan<'static> {
    let message = match status {
        502 => "The upstream service is unavailable",
        504 => "The upstream service did not answer in time",
        _ => "The service is temporarily unavailable",
    };
    let body = serde_json::json!({ "error": message, "code": code, "request_id": request_id });
    Plan::Respond {
        status,
        headers: own_headers(request_id),
        body: body.to_string().into_bytes(),
    }
}

/// Whether a request header must be removed before forwarding: its name is one of `strip` compared as origins
/// read names, ignoring ASCII case and treating `_` as `-` (CGI, PHP, WSGI and Rack all read `X_Auth_User` as
/// `HTTP_X_AUTH_USER`, the same as `X-Auth-User`). `strip` holds lower-case names.
pub fn is_stripped(strip: &[String], name: &str) -> bool {
    let fold = |c: u8| {
        if c == b'_' {
            b'-'
        } else {
            c.to_ascii_lowercase()
        }
    };
    strip.iter().any(|s| {
        s.len() == name.len() && s.bytes().zip(name.bytes()).all(|(a, b)| fold(a) == fold(b))
    })
}
