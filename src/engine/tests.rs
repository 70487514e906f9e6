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
