//! CORS at the edge: preflights answered by the filter, allowed origins echoed on responses.
//!
//! Only with a `cors` section in the policy; without one, an `OPTIONS` request is an ordinary request for the
//! rules. A preflight is answered after the prechecks (a client IP, a valid host, path and Origin) but without
//! running the rules: it carries no credentials, and the real request that follows meets every rule. Never `*`,
//! never a list of origins in one header: the one origin that asked is echoed, and only when it is allowed.

use super::{codes, DecidedBy, Decision, Effect, Seen};
use crate::policy::{Cors, Policy, DEFAULT_MESSAGE};

/// Methods a browser never needs to ask for (Fetch standard: CORS-safelisted methods).
const SAFELISTED_METHODS: [&str; 3] = ["GET", "HEAD", "POST"];
/// Request headers a browser never needs to ask for. `content-type` is not among them: a browser asks for it when
/// its value is not a form or plain-text type (JSON is not), so a policy must allow it explicitly.
const SAFELISTED_HEADERS: [&str; 3] = ["accept", "accept-language", "content-language"];
/// Most request headers one preflight may ask for.
const MAX_REQUESTED_HEADERS: usize = 64;

impl Policy {
    /// The answer to a CORS preflight, or `None` when the request is not one (or the policy does no CORS).
    pub(super) fn preflight(&self, seen: &Seen<'_>) -> Option<Decision<'_>> {
        let cors = self.cors.as_ref()?;
        if !seen.method.eq_ignore_ascii_case("OPTIONS") {
            return None;
        }
        let origin = seen.origin_raw?;
        let method = seen.headers.get("access-control-request-method")?.trim();
        let allowed = self.origin_allowed(cors, seen)
            && (cors.methods.contains(method) || SAFELISTED_METHODS.contains(&method))
            && requested_headers_allowed(cors, seen.headers.get("access-control-request-headers"));
        let mut decision = Decision {
            effect: Effect::Allow,
            decided_by: DecidedBy::Cors,
            code: codes::ALLOWED,
            status: 204,
            message: "",
            report_only: false,
            client_ip: Some(seen.client_ip),
            trace: Vec::new(),
            challenge: None,
            identity: Vec::new(),
            retry_after: None,
            cors: Vec::new(),
            preflight: true,
        };
        if !allowed {
            // A refused preflight is a plain JSON 403 with no CORS headers: the browser stops there. It is
            // never report-only: nothing would be forwarded either way.
            decision.effect = Effect::Deny;
            decision.code = codes::CORS_DENIED;
            decision.status = 403;
            decision.message = DEFAULT_MESSAGE;
            return Some(decision);
        }
        let mut headers = vec![
            ("access-control-allow-origin", origin.to_owned()),
            ("access-control-allow-methods", cors.methods_header.clone()),
            ("access-control-max-age", cors.max_age.to_string()),
            (
                "vary",
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers".to_owned(),
            ),
        ];
        if !cors.headers_header.is_empty() {
            headers.push(("access-control-allow-headers", cors.headers_header.clone()));
        }
        if cors.credentials {
            headers.push(("access-control-allow-credentials", "true".to_owned()));
        }
        decision.cors = headers;
        Some(decision)
    }

    /// Headers added to a response (forwarded or denied) for a cross-origin request from an allowed origin; with
    /// CORS configured, `Vary: Origin` is added for any request carrying an Origin, so caches keep them apart.
    pub(super) fn cors_headers(&self, seen: &Seen<'_>) -> Vec<(&'static str, String)> {
        let (Some(cors), Some(origin)) = (self.cors.as_ref(), seen.origin_raw) else {
            return Vec::new();
        };
        let mut headers = vec![("vary", "Origin".to_owned())];
        if !self.origin_allowed(cors, seen) {
            return headers;
        }
        headers.push(("access-control-allow-origin", origin.to_owned()));
        if cors.credentials {
            headers.push(("access-control-allow-credentials", "true".to_owned()));
        }
        if !cors.expose_header.is_empty() {
            headers.push(("access-control-expose-headers", cors.expose_header.clone()));
        }
        headers
    }

    fn origin_allowed(&self, cors: &Cors, seen: &Seen<'_>) -> bool {
        seen.origin.as_ref().is_some_and(|origin| {
            cors.origins.iter().any(|&id| {
                self.origin_lists
                    .get(id)
                    .is_some_and(|(_, list)| list.matches(origin))
            })
        })
    }
}

/// Every header a preflight asks for is allowed (compared case-insensitively).
fn requested_headers_allowed(cors: &Cors, requested: Option<&str>) -> bool {
    let Some(requested) = requested else {
        return true;
    };
    let mut count = 0;
    requested
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .all(|h| {
            count += 1;
            count <= MAX_REQUESTED_HEADERS
                && (SAFELISTED_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(h))
                    || cors.headers.iter().any(|a| a.eq_ignore_ascii_case(h)))
        })
}
