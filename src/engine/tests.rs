//! Engine cases: one table per policy, run natively and under wasm-bindgen-test.

use super::*;
use crate::engine::NoLimits;
use crate::policy::Policy;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test;

const POLICY: &str = r#"{
  "version": 1,
  "ip_lists": {
    "blocked": ["192.0.2.0/24", "2001:db8:bad::/48"],
    "office": ["203.0.113.0/24", "2001:db8:1::/48"]
  },
  "origin_lists": {
    "apps": ["https://app.example.com", "https://*.apps.example.com", "http://localhost:8080"],
    "sandboxed": ["null"]
  },
  "country_lists": { "embargoed": ["KP", "ir"] },
  "asn_lists": { "hosting": [16509, 14061] },
  "rules": [
    { "id": "blocklist", "action": "deny", "when": { "client_ip_in": "blocked" } },
    { "id": "embargo", "action": "deny", "when": { "country_in": "embargoed" }, "code": "geo_blocked", "message": "Not available in your region" },
    { "id": "no-hosting-signups", "action": "deny", "when": { "all": [ { "path_under": "/signup" }, { "asn_in": "hosting" } ] } },
    { "id": "admin", "action": "require", "when": { "path_under": "/admin" }, "require": { "client_ip_in": "office" }, "status": 404 },
    { "id": "health", "action": "allow", "when": { "path_is": "/health" } },
    { "id": "sandbox-embed", "action": "allow", "when": { "all": [ { "path_under": "/embed" }, { "origin_in": "sandboxed" } ] } },
    { "id": "origins", "action": "require", "when": { "has_origin": true }, "require": { "origin_in": "apps" } },
    { "id": "static-read-only", "action": "require", "when": { "host_is": "static.example.com" }, "require": { "method_is": ["GET", "HEAD"] } },
    { "id": "beta-preview", "action": "deny", "when": { "path_matches": "/beta/**" }, "report_only": true, "code": "beta_closed" },
    { "id": "internal-secrets", "action": "deny", "when": { "path_matches": "/internal/*/secrets" }, "status": 401 },
    { "id": "partners", "action": "require", "when": { "path_under": "/partner" },
      "require": { "any": [ { "client_ip_in": "office" }, { "not": { "country_in": "embargoed" } } ] } }
  ],
  "default": { "action": "allow" }
}"#;

struct Case {
    name: &'static str,
    method: &'static str,
    host: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    country: Option<&'static str>,
    asn: Option<u32>,
    /// Expected: blocks, status, code, deciding rule (None = default or precheck).
    want: (bool, u16, &'static str, Option<&'static str>),
}

const IP_OK: (&str, &str) = ("cf-connecting-ip", "198.51.100.7");

const fn case(
    name: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    want: (bool, u16, &'static str, Option<&'static str>),
) -> Case {
    Case {
        name,
        method: "GET",
        host: "api.example.com",
        path,
        headers,
        country: None,
        asn: None,
        want,
    }
}

const ALLOW: (bool, u16, &str, Option<&str>) = (false, 200, "allowed", None);

fn cases() -> Vec<Case> {
    vec![
        case(
            "plain request is allowed by default",
            "/hello",
            &[IP_OK],
            ALLOW,
        ),
        case(
            "blocked v4",
            "/hello",
            &[("cf-connecting-ip", "192.0.2.44")],
            (true, 403, "ip_denied", Some("blocklist")),
        ),
        case(
            "blocked v6",
            "/",
            &[("cf-connecting-ip", "2001:db8:bad:1::9")],
            (true, 403, "ip_denied", Some("blocklist")),
        ),
        case(
            "blocked v4 written as v4-mapped v6",
            "/",
            &[("cf-connecting-ip", "::ffff:192.0.2.44")],
            (true, 403, "ip_denied", Some("blocklist")),
        ),
        case(
            "just outside the blocked range",
            "/",
            &[("cf-connecting-ip", "192.0.3.0")],
            ALLOW,
        ),
        case(
            "no client ip",
            "/",
            &[],
            (true, 403, "client_ip_missing", None),
        ),
        case(
            "garbage client ip",
            "/",
            &[("cf-connecting-ip", "not-an-ip")],
            (true, 403, "client_ip_invalid", None),
        ),
        case(
            "two client ips combined",
            "/",
            &[
                ("cf-connecting-ip", "198.51.100.7"),
                ("cf-connecting-ip", "192.0.2.1"),
            ],
            (true, 403, "client_ip_invalid", None),
        ),
        case(
            "leading zero client ip",
            "/",
            &[("cf-connecting-ip", "192.000.2.1")],
            (true, 403, "client_ip_invalid", None),
        ),
        case(
            "client ip with zone id",
            "/",
            &[("cf-connecting-ip", "fe80::1%eth0")],
            (true, 403, "client_ip_invalid", None),
        ),
        case(
            "x-forwarded-for is never read by default",
            "/",
            &[
                ("cf-connecting-ip", "192.0.2.9"),
                ("x-forwarded-for", "198.51.100.7"),
            ],
            (true, 403, "ip_denied", Some("blocklist")),
        ),
        case(
            "x-forwarded-for cannot rescue a missing cf-connecting-ip",
            "/",
            &[("x-forwarded-for", "198.51.100.7")],
            (true, 403, "client_ip_missing", None),
        ),
        case(
            "admin from outside is hidden",
            "/admin/users",
            &[IP_OK],
            (true, 404, "ip_denied", Some("admin")),
        ),
        case(
            "admin from the office",
            "/admin/users",
            &[("cf-connecting-ip", "203.0.113.9")],
            ALLOW,
        ),
        case(
            "admin itself from outside",
            "/admin",
            &[IP_OK],
            (true, 404, "ip_denied", Some("admin")),
        ),
        case(
            "administrator is not admin",
            "/administrator",
            &[IP_OK],
            ALLOW,
        ),
        case(
            "doubled slash does not dodge admin",
            "//admin/users",
            &[IP_OK],
            (true, 404, "ip_denied", Some("admin")),
        ),
        case(
            "dot segments do not dodge admin",
            "/public/../admin/users",
            &[IP_OK],
            (true, 404, "ip_denied", Some("admin")),
        ),
        case(
            "encoded letters do not dodge admin",
            "/%61dmin",
            &[IP_OK],
            (true, 404, "ip_denied", Some("admin")),
        ),
        case(
            "encoded slash is refused",
            "/admin%2fusers",
            &[IP_OK],
            (true, 403, "path_invalid", None),
        ),
        case(
            "encoded dot segment is refused",
            "/x/%2e%2e/admin",
            &[IP_OK],
            (true, 403, "path_invalid", None),
        ),
        case(
            "semicolon parameters are refused",
            "/admin;jsessionid=1",
            &[IP_OK],
            (true, 403, "path_invalid", None),
        ),
        case(
            "health needs nothing",
            "/health",
            &[IP_OK, ("origin", "https://evil.example.net")],
            (false, 200, "allowed", Some("health")),
        ),
        case(
            "allowed origin",
            "/api",
            &[IP_OK, ("origin", "https://app.example.com")],
            ALLOW,
        ),
        case(
            "allowed origin, explicit default port and upper case",
            "/api",
            &[IP_OK, ("origin", "HTTPS://APP.example.com:443")],
            ALLOW,
        ),
        case(
            "wildcard origin on a label boundary",
            "/api",
            &[IP_OK, ("origin", "https://eu.apps.example.com")],
            ALLOW,
        ),
        case(
            "wildcard does not cover its own suffix",
            "/api",
            &[IP_OK, ("origin", "https://apps.example.com")],
            (true, 403, "origin_denied", Some("origins")),
        ),
        case(
            "look-alike suffix origin",
            "/api",
            &[IP_OK, ("origin", "https://app.example.com.evil.net")],
            (true, 403, "origin_denied", Some("origins")),
        ),
        case(
            "look-alike prefix origin",
            "/api",
            &[IP_OK, ("origin", "https://evilapp.example.com")],
            (true, 403, "origin_denied", Some("origins")),
        ),
        case(
            "userinfo origin",
            "/api",
            &[IP_OK, ("origin", "https://app.example.com@evil.net")],
            (true, 403, "origin_invalid", None),
        ),
        case(
            "scheme must match",
            "/api",
            &[IP_OK, ("origin", "http://app.example.com")],
            (true, 403, "origin_denied", Some("origins")),
        ),
        case(
            "port must match",
            "/api",
            &[IP_OK, ("origin", "http://localhost:8081")],
            (true, 403, "origin_denied", Some("origins")),
        ),
        case(
            "origin with a path is invalid",
            "/health",
            &[IP_OK, ("origin", "https://app.example.com/")],
            (true, 403, "origin_invalid", None),
        ),
        case(
            "null origin only where listed",
            "/api",
            &[IP_OK, ("origin", "null")],
            (true, 403, "origin_denied", Some("origins")),
        ),
        case(
            "null origin where listed",
            "/embed/x",
            &[IP_OK, ("origin", "null")],
            (false, 200, "allowed", Some("sandbox-embed")),
        ),
        case(
            "two origins combined",
            "/api",
            &[
                IP_OK,
                ("origin", "https://app.example.com"),
                ("origin", "https://evil.net"),
            ],
            (true, 403, "origin_invalid", None),
        ),
        case(
            "no origin is not checked by the origin rule",
            "/api",
            &[IP_OK],
            ALLOW,
        ),
        case("report-only rule forwards", "/beta/x", &[IP_OK], ALLOW),
        case(
            "glob within one segment",
            "/internal/team/secrets",
            &[IP_OK],
            (true, 401, "access_denied", Some("internal-secrets")),
        ),
        case(
            "glob star does not cross segments",
            "/internal/a/b/secrets",
            &[IP_OK],
            ALLOW,
        ),
        case(
            "a trailing slash does not dodge a glob",
            "/internal/team/secrets/",
            &[IP_OK],
            (true, 401, "access_denied", Some("internal-secrets")),
        ),
        case(
            "a trailing slash does not dodge an exact path",
            "/health/",
            &[IP_OK, ("origin", "https://evil.example.net")],
            (false, 200, "allowed", Some("health")),
        ),
        Case {
            country: Some("KP"),
            ..case(
                "embargoed country, custom code",
                "/",
                &[IP_OK],
                (true, 403, "geo_blocked", Some("embargo")),
            )
        },
        Case {
            country: Some("ir"),
            ..case(
                "country codes compare case-insensitively",
                "/",
                &[IP_OK],
                (true, 403, "geo_blocked", Some("embargo")),
            )
        },
        Case {
            country: Some("NL"),
            ..case("other country", "/", &[IP_OK], ALLOW)
        },
        Case {
            asn: Some(16509),
            ..case(
                "hosting asn on signup",
                "/signup/new",
                &[IP_OK],
                (true, 403, "asn_denied", Some("no-hosting-signups")),
            )
        },
        Case {
            asn: Some(16509),
            ..case("hosting asn elsewhere", "/home", &[IP_OK], ALLOW)
        },
        Case {
            host: "static.example.com",
            ..case("read-only host allows GET", "/a.css", &[IP_OK], ALLOW)
        },
        Case {
            host: "STATIC.example.com.",
            method: "POST",
            ..case(
                "read-only host refuses POST, host normalised",
                "/a.css",
                &[IP_OK],
                (true, 403, "method_denied", Some("static-read-only")),
            )
        },
        Case {
            host: "static.example.com",
            method: "head",
            ..case(
                "methods compare case-insensitively",
                "/a.css",
                &[IP_OK],
                ALLOW,
            )
        },
        Case {
            country: Some("KP"),
            ..case(
                "the embargo rule decides before the partner rule",
                "/partner/x",
                &[("cf-connecting-ip", "203.0.113.1")],
                (true, 403, "geo_blocked", Some("embargo")),
            )
        },
        Case {
            country: Some("NL"),
            ..case("require any: not embargoed", "/partner/x", &[IP_OK], ALLOW)
        },
    ]
}

fn run(policy: &Policy, cases: &[Case]) {
    for c in cases {
        let headers = HeaderList::from_pairs(c.headers.iter().copied());
        let facts = RequestFacts {
            method: c.method,
            host: c.host,
            path: c.path,
            query: None,
            headers: &headers,
            country: c.country,
            asn: c.asn,
            tokens: &NoTokens,
            limits: &NoLimits,
        };
        let d = policy.evaluate(&facts, UnixTime(1_800_000_000));
        let got = (d.blocks(), d.status, d.code, d.rule_id());
        assert_eq!(got, c.want, "case `{}`", c.name);
    }
}

/// A GET of `path` on `host` with these headers, no country, ASN, tokens or limits.
fn get<'a>(host: &'a str, path: &'a str, headers: &'a HeaderList) -> RequestFacts<'a> {
    RequestFacts {
        method: "GET",
        host,
        path,
        query: None,
        headers,
        country: None,
        asn: None,
        tokens: &NoTokens,
        limits: &NoLimits,
    }
}

fn compile(text: &str) -> Policy {
    match Policy::compile(text, "test.json") {
        Ok(c) => c.policy,
        Err(e) => panic!("{e}"),
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn decisions_follow_the_rules() {
    run(&compile(POLICY), &cases());
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn trace_records_each_rule_considered() {
    let policy = compile(POLICY);
    let headers = HeaderList::from_pairs([("cf-connecting-ip", "198.51.100.7")]);
    let facts = get("api.example.com", "/beta/new", &headers);
    let d = policy.evaluate(&facts, UnixTime(0));
    assert!(!d.blocks());
    assert_eq!(d.decided_by, DecidedBy::Default);
    assert_eq!(d.trace.len(), 11, "every rule considered");
    assert_eq!(
        d.trace.get(8).map(|s| s.outcome),
        Some(StepOutcome::WouldDeny)
    );
    assert_eq!(
        d.would_deny(&policy).collect::<Vec<_>>(),
        vec!["beta-preview"]
    );
    assert!(d
        .trace
        .iter()
        .enumerate()
        .all(|(i, s)| s.rule == i && (i == 8 || s.outcome == StepOutcome::NotApplicable)));
}

const XFF_POLICY: &str = r#"{
  "version": 1,
  "client_ip": { "source": "x-forwarded-for", "trusted_proxies": ["proxies"] },
  "ip_lists": { "proxies": ["10.0.0.0/8", "2001:db8:ffff::/48"], "blocked": ["192.0.2.0/24"] },
  "rules": [ { "id": "blocklist", "action": "deny", "when": { "client_ip_in": "blocked" } } ],
  "default": { "action": "deny", "code": "not_listed", "status": 403 }
}"#;

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn forwarded_for_is_read_right_to_left_past_trusted_proxies() {
    let policy = compile(XFF_POLICY);
    let deny_default = (true, 403, "not_listed", None);
    let blocked = (true, 403, "ip_denied", Some("blocklist"));
    let cases = vec![
        // The peer is not a trusted proxy: the header is ignored, whatever it says.
        case(
            "untrusted peer, header ignored",
            "/",
            &[
                ("cf-connecting-ip", "192.0.2.1"),
                ("x-forwarded-for", "198.51.100.7"),
            ],
            blocked,
        ),
        // Trusted peer: the rightmost untrusted element is the client.
        case(
            "one trusted hop",
            "/",
            &[
                ("cf-connecting-ip", "10.1.1.1"),
                ("x-forwarded-for", "192.0.2.5"),
            ],
            blocked,
        ),
        case(
            "spoofed leftmost element is not used",
            "/",
            &[
                ("cf-connecting-ip", "10.1.1.1"),
                ("x-forwarded-for", "198.51.100.7, 192.0.2.5"),
            ],
            blocked,
        ),
        case(
            "client behind two proxies",
            "/",
            &[
                ("cf-connecting-ip", "10.1.1.1"),
                ("x-forwarded-for", "192.0.2.5, 10.2.2.2"),
            ],
            blocked,
        ),
        case(
            "spaces and v6 proxies",
            "/",
            &[
                ("cf-connecting-ip", "2001:db8:ffff::1"),
                ("x-forwarded-for", " 192.0.2.5 ,\t10.2.2.2 "),
            ],
            blocked,
        ),
        case(
            "garbage element denies",
            "/",
            &[
                ("cf-connecting-ip", "10.1.1.1"),
                ("x-forwarded-for", "192.0.2.5, bogus"),
            ],
            (true, 403, "client_ip_invalid", None),
        ),
        case(
            "empty element denies",
            "/",
            &[
                ("cf-connecting-ip", "10.1.1.1"),
                ("x-forwarded-for", "192.0.2.5,,10.2.2.2"),
            ],
            (true, 403, "client_ip_invalid", None),
        ),
        case(
            "all trusted: leftmost",
            "/",
            &[
                ("cf-connecting-ip", "10.1.1.1"),
                ("x-forwarded-for", "10.3.3.3, 10.2.2.2"),
            ],
            deny_default,
        ),
        case(
            "trusted peer without header is the client",
            "/",
            &[("cf-connecting-ip", "10.1.1.1")],
            deny_default,
        ),
        case(
            "no peer at all",
            "/",
            &[("x-forwarded-for", "198.51.100.7")],
            (true, 403, "client_ip_missing", None),
        ),
    ];
    run(&policy, &cases);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn policy_wide_report_only_never_blocks_but_still_decides() {
    let text = POLICY.replacen(
        "\"version\": 1,",
        "\"version\": 1, \"report_only\": true,",
        1,
    );
    let policy = compile(&text);
    let headers = HeaderList::from_pairs([("cf-connecting-ip", "192.0.2.1")]);
    let facts = get("a", "/", &headers);
    let d = policy.evaluate(&facts, UnixTime(0));
    assert_eq!(d.effect, Effect::Deny);
    assert_eq!(d.code, "ip_denied");
    assert!(d.report_only);
    assert!(!d.blocks());
    let missing = HeaderList::default();
    let d = policy.evaluate(
        &RequestFacts {
            headers: &missing,
            ..facts
        },
        UnixTime(0),
    );
    assert_eq!(
        (d.effect, d.code, d.blocks()),
        (Effect::Deny, "client_ip_missing", false)
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn denials_and_staged_denials_are_always_logged_and_allows_sampled() {
    // (sample_allowed in the policy or None for the default, path, client IP, random draw, logged)
    let cases: &[(Option<&str>, &str, &str, f64, bool)] = &[
        (Some("0.0"), "/hello", "192.0.2.1", 0.999, true), // enforced denial
        (Some("0.0"), "/hello", "198.51.100.7", 0.0, false), // plain allow, sampling off
        (Some("0.0"), "/beta/x", "198.51.100.7", 0.999, true), // allow a report-only rule would deny
        (Some("1.0"), "/hello", "198.51.100.7", 0.999_999, true),
        (Some("0.5"), "/hello", "198.51.100.7", 0.499, true),
        (Some("0.5"), "/hello", "198.51.100.7", 0.5, false),
        (None, "/hello", "198.51.100.7", 0.009, true), // the default: 1 in 100
        (None, "/hello", "198.51.100.7", 0.01, false),
        (None, "/beta/x", "198.51.100.7", 0.999, true),
    ];
    for &(sample, path, ip, random, want) in cases {
        let text = match sample {
            Some(s) => POLICY.replacen(
                "\"version\": 1,",
                &format!("\"version\": 1, \"logging\": {{ \"sample_allowed\": {s} }},"),
                1,
            ),
            None => POLICY.to_owned(),
        };
        let policy = compile(&text);
        let headers = HeaderList::from_pairs([("cf-connecting-ip", ip)]);
        let facts = get("api.example.com", path, &headers);
        let d = policy.evaluate(&facts, UnixTime(0));
        assert_eq!(
            d.logged(&policy, random),
            want,
            "sample {sample:?}, {path} from {ip}, draw {random}: {:?} {}",
            d.effect,
            d.code
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn denial_body_hides_what_it_should() {
    let policy = compile(POLICY);
    let headers = HeaderList::from_pairs([IP_OK]);
    let facts = get("a", "/admin", &headers);
    let d = policy.evaluate(&facts, UnixTime(0));
    let body = render::denial_body(&d, &policy, "req-1");
    assert_eq!(
        serde_json::to_string(&body).unwrap(),
        r#"{"error":"Not Found","code":"not_found","request_id":"req-1"}"#
    );
    let exposed = compile(&POLICY.replacen(
        "\"version\": 1,",
        "\"version\": 1, \"responses\": { \"expose_rule_id\": true },",
        1,
    ));
    let blocked = HeaderList::from_pairs([("cf-connecting-ip", "192.0.2.1")]);
    let d = exposed.evaluate(
        &RequestFacts {
            headers: &blocked,
            path: "/",
            query: None,
            ..facts
        },
        UnixTime(0),
    );
    let body = render::denial_body(&d, &exposed, "req-2");
    assert_eq!(
        serde_json::to_string(&body).unwrap(),
        r#"{"error":"You do not have permission to access this resource","code":"ip_denied","request_id":"req-2","rule":"blocklist"}"#
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn the_plan_is_what_the_worker_sends() {
    let text = POLICY.replacen(
        "\"version\": 1,",
        r#""version": 1, "internal_headers": ["X-Internal"], "cors": { "allow_origins": "apps", "allow_methods": ["PUT"] },"#,
        1,
    );
    let policy = compile(&text);
    let decide = |method: &'static str,
                  path: &'static str,
                  pairs: &'static [(&'static str, &'static str)]| {
        let headers = HeaderList::from_pairs(pairs.iter().copied());
        let facts = RequestFacts {
            method,
            host: "api.example.com:8443",
            path,
            query: None,
            headers: &headers,
            country: None,
            asn: None,
            tokens: &NoTokens,
            limits: &NoLimits,
        };
        let d = policy.evaluate(&facts, UnixTime(0));
        match render::plan(&d, &policy, "api.example.com:8443", "rid", method == "HEAD") {
            render::Plan::Respond {
                status,
                headers,
                body,
            } => (
                status,
                headers
                    .iter()
                    .map(|(n, v)| format!("{n}: {v}"))
                    .collect::<Vec<_>>(),
                String::from_utf8(body).unwrap(),
            ),
            render::Plan::Forward { strip, add, cors } => (
                0,
                strip
                    .iter()
                    .map(|s| format!("-{s}"))
                    .chain(add.iter().map(|(n, v)| format!("+{n}: {v}")))
                    .chain(cors.iter().map(|(n, v)| format!("{n}: {v}")))
                    .collect(),
                String::new(),
            ),
        }
    };
    let own: Vec<String> = [
        "content-type: application/json; charset=utf-8",
        "cache-control: no-store",
        "x-content-type-options: nosniff",
        "x-request-id: rid",
    ]
    .iter()
    .map(|h| (*h).to_owned())
    .collect();

    let (status, headers, body) = decide("GET", "/", &[("cf-connecting-ip", "192.0.2.1")]);
    assert_eq!((status, headers.as_slice()), (403, own.as_slice()));
    assert!(body.contains(r#""code":"ip_denied""#), "{body}");

    let (status, headers, body) = decide("HEAD", "/", &[("cf-connecting-ip", "192.0.2.1")]);
    assert_eq!(
        (status, headers.as_slice(), body.as_str()),
        (403, own.as_slice(), "")
    );

    let (status, headers, body) = decide(
        "OPTIONS",
        "/x",
        &[
            IP_OK,
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "PUT"),
        ],
    );
    assert_eq!(status, 204);
    assert!(body.is_empty());
    assert!(
        headers.contains(&"access-control-allow-origin: https://app.example.com".to_owned()),
        "{headers:?}"
    );
    assert!(headers.contains(&"x-request-id: rid".to_owned()));

    let (status, headers, _) = decide("GET", "/x", &[IP_OK, ("origin", "https://app.example.com")]);
    assert_eq!(status, 0, "forwarded");
    assert_eq!(
        headers,
        [
            "-x-internal",
            "-x-http-method-override",
            "-x-http-method",
            "-x-method-override",
            "-x-original-url",
            "-x-rewrite-url",
            "-x-original-uri",
            "-x-forwarded-uri",
            "-x-forwarded-path",
            "-x-forwarded-prefix",
            "vary: Origin",
            "access-control-allow-origin: https://app.example.com"
        ]
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn stripped_headers_cover_every_spelling_an_origin_reads() {
    let strip = vec![
        "x-auth-subject".to_owned(),
        "x-http-method-override".to_owned(),
    ];
    for (name, want) in [
        ("x-auth-subject", true),
        ("X-Auth-Subject", true),
        ("X_Auth_Subject", true),
        ("x_auth-subject", true),
        ("X_HTTP_METHOD_OVERRIDE", true),
        ("x-auth-subjects", false),
        ("x-auth-subjec", false),
        ("x.auth.subject", false),
        ("authorization", false),
    ] {
        assert_eq!(render::is_stripped(&strip, name), want, "`{name}`");
    }
}

/// A policy for the method-override cases: DELETE is denied, everything else allowed.
fn override_policy(honoured: bool) -> Policy {
    compile(&format!(
        r#"{{ "version": 1, "upstream": {{ "method_override": {honoured} }},
        "rules": [ {{ "id": "no-delete", "action": "deny", "when": {{ "method_is": "DELETE" }} }} ],
        "default": {{ "action": "allow" }} }}"#
    ))
}

/// (name, honoured, method, headers, query, expected code).
type OverrideCase = (
    &'static str,
    bool,
    &'static str,
    &'static [(&'static str, &'static str)],
    Option<&'static str>,
    &'static str,
);

#[rustfmt::skip]
const OVERRIDE_CASES: &[OverrideCase] = &[
    // Not honoured: the headers are stripped before forwarding (see the plan test), so they are ignored here.
    ("off: header ignored", false, "POST", &[("x-http-method-override", "DELETE")], None, "allowed"),
    ("off: delete denied", false, "DELETE", &[], None, "method_denied"),
    // ... but `_method` in the query reaches the origin, which would honour it on POST: refused.
    ("off: _method on post", false, "POST", &[], Some("_method=DELETE"), "method_invalid"),
    ("off: _method same as method", false, "POST", &[], Some("_method=POST"), "method_invalid"),
    ("off: _method php spelling", false, "POST", &[], Some("+_method=DELETE"), "method_invalid"),
    ("off: _method array", false, "POST", &[], Some("a=1&_method[]=DELETE"), "method_invalid"),
    ("off: _method case variant", false, "POST", &[], Some("_METHOD=DELETE"), "method_invalid"),
    ("off: _method on get is inert", false, "GET", &[], Some("_method=DELETE"), "allowed"),
    ("off: other parameter", false, "POST", &[], Some("method=DELETE&x_method=DELETE"), "allowed"),
    // Honoured: on POST only, every override must agree.
    ("on: header on post", true, "POST", &[("x-http-method-override", "DELETE")], None, "method_denied"),
    ("on: lower-case header value", true, "POST", &[("x-http-method-override", "delete")], None, "method_denied"),
    ("on: x-http-method", true, "POST", &[("x-http-method", "DELETE")], None, "method_denied"),
    ("on: x-method-override", true, "POST", &[("x-method-override", "DELETE")], None, "method_denied"),
    ("on: _method on post", true, "POST", &[], Some("_method=DELETE"), "method_denied"),
    ("on: _method encoded", true, "POST", &[], Some("_method=DEL%45TE"), "method_denied"),
    ("on: override to get", true, "POST", &[("x-http-method-override", "GET")], None, "allowed"),
    ("on: overrides agree", true, "POST", &[("x-http-method-override", "GET"), ("x-http-method", "get")], Some("_method=GET"), "allowed"),
    ("on: headers disagree", true, "POST", &[("x-http-method-override", "GET"), ("x-http-method", "DELETE")], None, "method_invalid"),
    ("on: header and _method disagree", true, "POST", &[("x-http-method-override", "GET")], Some("_method=DELETE"), "method_invalid"),
    ("on: two _method disagree", true, "POST", &[], Some("_method=GET&_method=DELETE"), "method_invalid"),
    ("on: header twice", true, "POST", &[("x-http-method-override", "GET"), ("x-http-method-override", "DELETE")], None, "method_invalid"),
    ("on: not a token", true, "POST", &[("x-http-method-override", "GET X")], None, "method_invalid"),
    ("on: empty", true, "POST", &[("x-http-method-override", " ")], None, "method_invalid"),
    ("on: _method not utf-8", true, "POST", &[], Some("_method=%FF"), "method_invalid"),
    // Frameworks honour overrides on POST only: a DELETE that claims to be a GET is a DELETE, and refused.
    ("on: delete claiming get", true, "DELETE", &[("x-http-method-override", "GET")], None, "method_invalid"),
    ("on: get claiming delete", true, "GET", &[("x-http-method-override", "DELETE")], None, "method_invalid"),
    ("on: put with _method", true, "PUT", &[], Some("_method=GET"), "method_invalid"),
    ("on: override naming the method", true, "GET", &[("x-http-method-override", "get")], None, "allowed"),
    ("on: delete without override", true, "DELETE", &[], None, "method_denied"),
];

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn method_overrides_are_read_as_frameworks_read_them() {
    let policies = [override_policy(false), override_policy(true)];
    for &(name, honoured, method, pairs, query, want) in OVERRIDE_CASES {
        let mut all = vec![IP_OK];
        all.extend_from_slice(pairs);
        let headers = HeaderList::from_pairs(all);
        let facts = RequestFacts {
            method,
            query,
            ..get("api.example.com", "/x", &headers)
        };
        let d = policies[usize::from(honoured)].evaluate(&facts, UnixTime(0));
        assert_eq!(d.code, want, "case `{name}`");
        assert_eq!(d.blocks(), want != "allowed", "case `{name}`");
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn pseudo_ipv4_is_read_as_the_real_ipv6_client() {
    let policy = compile(POLICY);
    /// (name, headers, blocks, code, client IP the decision used)
    type Row = (
        &'static str,
        &'static [(&'static str, &'static str)],
        bool,
        &'static str,
        Option<&'static str>,
    );
    let rows: &[Row] = &[
        (
            "pseudo with blocked v6",
            &[
                ("cf-connecting-ip", "240.1.2.3"),
                ("cf-connecting-ipv6", "2001:db8:bad::1"),
            ],
            true,
            "ip_denied",
            Some("2001:db8:bad::1"),
        ),
        (
            "pseudo with good v6",
            &[
                ("cf-connecting-ip", "250.9.9.9"),
                ("cf-connecting-ipv6", "2001:db8:beef::1"),
            ],
            false,
            "allowed",
            Some("2001:db8:beef::1"),
        ),
        (
            "top of class e",
            &[
                ("cf-connecting-ip", "255.255.255.255"),
                ("cf-connecting-ipv6", "2001:db8:bad::2"),
            ],
            true,
            "ip_denied",
            Some("2001:db8:bad::2"),
        ),
        (
            "pseudo without v6",
            &[("cf-connecting-ip", "240.1.2.3")],
            true,
            "client_ip_invalid",
            None,
        ),
        (
            "pseudo with garbage v6",
            &[
                ("cf-connecting-ip", "240.1.2.3"),
                ("cf-connecting-ipv6", "nope"),
            ],
            true,
            "client_ip_invalid",
            None,
        ),
        (
            "pseudo with v4 in the v6 header",
            &[
                ("cf-connecting-ip", "240.1.2.3"),
                ("cf-connecting-ipv6", "192.0.2.1"),
            ],
            true,
            "client_ip_invalid",
            None,
        ),
        (
            "pseudo with mapped v4 in the v6 header",
            &[
                ("cf-connecting-ip", "240.1.2.3"),
                ("cf-connecting-ipv6", "::ffff:198.51.100.7"),
            ],
            true,
            "client_ip_invalid",
            None,
        ),
        (
            "below class e",
            &[
                ("cf-connecting-ip", "239.255.255.255"),
                ("cf-connecting-ipv6", "2001:db8:bad::1"),
            ],
            false,
            "allowed",
            Some("239.255.255.255"),
        ),
        // A client-set CF-Connecting-IPv6 is never read for a real IPv4 client.
        (
            "v6 header ignored for real v4",
            &[
                ("cf-connecting-ip", "192.0.2.1"),
                ("cf-connecting-ipv6", "2001:db8:beef::1"),
            ],
            true,
            "ip_denied",
            Some("192.0.2.1"),
        ),
    ];
    for &(name, pairs, blocks, code, ip) in rows {
        let headers = HeaderList::from_pairs(pairs.iter().copied());
        let d = policy.evaluate(&get("api.example.com", "/x", &headers), UnixTime(0));
        assert_eq!((d.blocks(), d.code), (blocks, code), "case `{name}`");
        assert_eq!(
            d.client_ip.map(|i| i.to_string()).as_deref(),
            ip,
            "case `{name}`"
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn rate_limit_keys_count_an_ipv6_network_as_one_client() {
    let policy = compile(
        r#"{ "version": 1, "rules": [
        { "id": "by-64", "action": "limit", "limit": { "binding": "L" } },
        { "id": "by-128", "action": "limit", "limit": { "binding": "L", "ipv6_prefix": 128 } },
        { "id": "by-48", "action": "limit", "limit": { "binding": "L", "ipv6_prefix": 48, "key": { "header": "X-Key" } } } ],
        "default": { "action": "allow" } }"#,
    );
    let keys = |ip: &'static str| {
        let headers = HeaderList::from_pairs([("cf-connecting-ip", ip)]);
        policy
            .limit_checks(&get("api.example.com", "/", &headers))
            .into_iter()
            .map(|c| c.key)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys("2001:db8:1:2:aaaa:bbbb:cccc:dddd"),
        [
            "by-64|ip:2001:db8:1:2::/64",
            "by-128|ip:2001:db8:1:2:aaaa:bbbb:cccc:dddd/128",
            "by-48|ip:2001:db8:1::/48"
        ]
    );
    assert_eq!(keys("2001:db8:1:2::9")[0], "by-64|ip:2001:db8:1:2::/64");
    assert_eq!(
        keys("198.51.100.7"),
        [
            "by-64|ip:198.51.100.7",
            "by-128|ip:198.51.100.7",
            "by-48|ip:198.51.100.7"
        ]
    );
    for bad in ["31", "129"] {
        let text = format!(
            r#"{{ "version": 1, "rules": [ {{ "id": "l", "action": "limit", "limit": {{ "binding": "L", "ipv6_prefix": {bad} }} }} ], "default": {{ "action": "allow" }} }}"#
        );
        let err = Policy::compile(&text, "t.json")
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("must be 32 to 128 bits")),
            "{bad}: {err:?}"
        );
    }
}

/// One issuer's verified claims, for the identity cases.
struct Verified(crate::token::jwt::Claims);

impl TokenLookup for Verified {
    fn token(&self, _issuer: usize) -> Result<&crate::token::jwt::Claims, TokenError> {
        Ok(&self.0)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn forwarded_claims_cannot_look_like_two_values() {
    let policy = compile(
        r#"{ "version": 1, "issuers": { "t": { "issuer": "https://t", "audiences": ["a"], "algorithms": ["HS256"],
        "hmac_secrets": ["S"], "forward_claims": { "roles": "X-Roles", "sub": "X-Sub" } } },
        "default": { "action": "allow" } }"#,
    );
    let rows: &[(&str, &str, &str)] = &[
        (
            r#"["reader,admin"]"#,
            "reader%2Cadmin",
            "one element with a comma",
        ),
        (r#"["reader", "admin"]"#, "reader,admin", "two elements"),
        (r#"["a%2Cb"]"#, "a%252Cb", "an element that looks encoded"),
        (r#"[1, true, "x y"]"#, "1,true,x y", "scalars"),
        (
            r#""reader,admin""#,
            "reader%2Cadmin",
            "a string with a comma",
        ),
    ];
    for &(roles, want, name) in rows {
        let claims = crate::token::jwt::Claims::from_json(
            format!(r#"{{"sub": "s,1", "roles": {roles}}}"#).as_bytes(),
        )
        .unwrap();
        let tokens = Verified(claims);
        let headers = HeaderList::from_pairs([IP_OK]);
        let facts = RequestFacts {
            tokens: &tokens,
            ..get("api.example.com", "/", &headers)
        };
        let d = policy.evaluate(&facts, UnixTime(0));
        assert_eq!(
            d.identity,
            [("x-roles", want.to_owned()), ("x-sub", "s%2C1".to_owned())],
            "{name}"
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn origin_path_readings_are_covered_by_the_path_options() {
    let policy = |paths: &str| {
        compile(&format!(
            r#"{{ "version": 1, "paths": {paths}, "rules": [
            {{ "id": "admin", "action": "deny", "when": {{ "path_under": "/admin" }} }},
            {{ "id": "report", "action": "deny", "when": {{ "path_is": "/reports/summary" }} }} ],
            "default": {{ "action": "allow" }} }}"#
        ))
    };
    let plain = policy("{}");
    let rails = policy(r#"{ "format_suffixes": true }"#);
    let iis = policy(r#"{ "trailing_dots_and_spaces": true, "case_insensitive": true }"#);
    /// (path, plain, rails, iis): the deciding rule, or None for allowed; "!" for path_invalid.
    type Row = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );
    let rows: &[Row] = &[
        ("/admin", Some("admin"), Some("admin"), Some("admin")),
        ("/admin.json", None, Some("admin"), None),
        ("/admin.json/", None, Some("admin"), None),
        ("/reports/summary.csv", None, Some("report"), None),
        ("/reports/summary.2024.csv", None, Some("report"), None),
        (
            "/admin/users.xml",
            Some("admin"),
            Some("admin"),
            Some("admin"),
        ),
        ("/administrator.json", None, None, None),
        ("/.admin", None, None, None),
        ("/admin.", None, Some("admin"), Some("admin")),
        ("/admin%20", None, None, Some("admin")),
        ("/ADMIN.", None, None, Some("admin")),
        ("/reports/summary.%20", None, Some("report"), Some("report")),
        ("/admin/...", Some("admin"), Some("admin"), Some("!")),
    ];
    let decide = |p: &Policy, path: &'static str| {
        let headers = HeaderList::from_pairs([IP_OK]);
        let d = p.evaluate(&get("api.example.com", path, &headers), UnixTime(0));
        match (d.code, d.rule_id()) {
            ("path_invalid", _) => Some("!".to_owned()),
            (_, rule) => rule.map(str::to_owned),
        }
    };
    for &(path, want_plain, want_rails, want_iis) in rows {
        assert_eq!(decide(&plain, path).as_deref(), want_plain, "plain {path}");
        assert_eq!(decide(&rails, path).as_deref(), want_rails, "rails {path}");
        assert_eq!(decide(&iis, path).as_deref(), want_iis, "iis {path}");
    }
}
