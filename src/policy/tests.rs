//! Compiler cases: what is refused, what is warned about, and how each finding is located.

use super::*;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test;

/// A minimal valid policy with `rules` spliced in.
fn with_rules(rules: &str) -> String {
    format!(
        r#"{{
  "version": 1,
  "ip_lists": {{ "office": ["203.0.113.0/24"], "blocked": ["192.0.2.0/24"] }},
  "origin_lists": {{ "apps": ["https://app.example.com"] }},
  "rules": [{rules}],
  "default": {{ "action": "deny" }}
}}"#
    )
}

fn errors(text: &str) -> Vec<String> {
    match Policy::compile(text, "p.json") {
        Ok(_) => Vec::new(),
        Err(e) => e.errors.iter().map(|d| d.render("p.json")).collect(),
    }
}

fn warnings(text: &str) -> Vec<String> {
    match Policy::compile(text, "p.json") {
        Ok(c) => c.warnings.iter().map(|d| d.render("p.json")).collect(),
        Err(e) => panic!("expected a valid policy, got {e}"),
    }
}

const USE_ALL: &str = r#"{ "id": "a", "action": "deny", "when": { "client_ip_in": "blocked" } },
    { "id": "b", "action": "require", "when": { "origin_in": "apps" }, "require": { "client_ip_in": "office" } }"#;

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn errors_name_file_rule_and_field() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{ "id": "x", "action": "deny", "when": { "origin_in": ["apps", "nope"] } }"#,
            "p.json: rules[0] (id `x`), field `when.origin_in`: unknown origin list `nope`",
        ),
        (
            r#"{ "id": "x", "action": "deny", "status": 500 }"#,
            "p.json: rules[0] (id `x`), field `status`: status `500` is not one a denial may use: 401, 403, 404 or 429",
        ),
        (
            r#"{ "id": "x", "action": "deny", "code": "Bad Code" }"#,
            "p.json: rules[0] (id `x`), field `code`: code `Bad Code` must be lower-case letters, digits and `_`, starting with a letter, at most 64 bytes",
        ),
        (
            r#"{ "id": "x", "action": "require" }"#,
            "p.json: rules[0] (id `x`), field `require`: a `require` rule needs a `require` condition",
        ),
        (
            r#"{ "id": "x", "action": "deny", "require": { "client_ip_in": "office" } }"#,
            "p.json: rules[0] (id `x`), field `require`: `require` only applies to `\"action\": \"require\"` rules, not `deny`",
        ),
        (
            r#"{ "id": "x", "action": "deny", "when": { "path_under": [] } }"#,
            "p.json: rules[0] (id `x`), field `when.path_under`: the list is empty, so the condition never holds",
        ),
        (
            r#"{ "id": "bad id!", "action": "deny" }"#,
            "p.json: rules[0] (id `bad id!`), field `id`: rule id `bad id!` must be 1 to 64 letters, digits, `_`, `-` or `.`",
        ),
    ];
    for (rules, want) in cases {
        let got = errors(&with_rules(rules));
        assert_eq!(
            got.first().map(String::as_str),
            Some(*want),
            "rules: {rules}\nall: {got:?}"
        );
    }
}

// Suggestions and line/column positions are diagnostics for the CLI and build.rs; the Worker only loads a policy
// the build already accepted and carries no diagnostics code, so these two run natively only.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn misspelt_names_get_a_suggestion() {
    let got = errors(&with_rules(
        r#"{ "id": "admin", "action": "require", "when": { "path_under": "/admin" }, "require": { "client_ip_in": "ofice" } }"#,
    ));
    assert_eq!(
        got,
        vec!["p.json: rules[0] (id `admin`), field `require.client_ip_in`: unknown IP list `ofice` (did you mean `office`?)"]
    );
    let got = errors(&with_rules(
        r#"{ "id": "x", "action": "deny", "when": { "client_ip_in": "zzzzzz" } }"#,
    ));
    assert_eq!(
        got,
        vec!["p.json: rules[0] (id `x`), field `when.client_ip_in`: unknown IP list `zzzzzz`"],
        "no suggestion when nothing is close"
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn duplicate_rule_ids_are_refused() {
    let got = errors(&with_rules(&format!(
        r#"{USE_ALL}, {{ "id": "a", "action": "allow" }}"#
    )));
    assert_eq!(
        got,
        vec!["p.json: rules[2] (id `a`), field `id`: duplicate rule id `a`: ids must be unique"]
    );
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn shape_errors_carry_line_column_and_rule() {
    let text = with_rules(r#"{ "id": "typo", "action": "deny", "whne": {} }"#);
    let got = errors(&text);
    assert_eq!(got.len(), 1, "{got:?}");
    let first = got.first().unwrap();
    assert!(
        first.starts_with("p.json:5:")
            && first.contains("rules[0] (id `typo`)")
            && first.contains("unknown field `whne`"),
        "{first}"
    );
    let got = errors("{ \"version\": 1, ");
    assert!(got.first().unwrap().starts_with("p.json:1:"), "{got:?}");
    let got = errors(&with_rules(r#"{ "id": "x", "action": "maybe" }"#));
    assert!(
        got.first().unwrap().contains("unknown variant `maybe`"),
        "{got:?}"
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn bad_list_entries_are_located() {
    let text = r#"{
  "version": 1,
  "ip_lists": { "l": ["192.0.2.0/24", "010.0.0.1", "10.0.0.0/33", "garbage"] },
  "origin_lists": { "o": ["https://ok.example.com", "https://example.com/"] },
  "country_lists": { "c": ["NL", "NLD"] },
  "rules": [ { "id": "r", "action": "deny", "when": { "any": [ { "client_ip_in": "l" }, { "origin_in": "o" }, { "country_in": "c" } ] } } ],
  "default": { "action": "allow" }
}"#;
    let got = errors(text);
    let located: Vec<&str> = got
        .iter()
        .map(|e| e.split(": ").nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        located,
        vec![
            "ip_lists.l[1]",
            "ip_lists.l[2]",
            "ip_lists.l[3]",
            "origin_lists.o[1]",
            "country_lists.c[1]"
        ],
        "{got:#?}"
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn nesting_is_capped() {
    let mut cond = r#"{ "client_ip_in": "office" }"#.to_owned();
    for _ in 0..MAX_CONDITION_DEPTH {
        cond = format!(r#"{{ "not": {cond} }}"#);
    }
    let got = errors(&with_rules(&format!(
        r#"{USE_ALL}, {{ "id": "deep", "action": "deny", "when": {cond} }}"#
    )));
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got.first().unwrap().contains("nest deeper than 16 levels"),
        "{got:?}"
    );
    // One level less is fine.
    let mut ok = r#"{ "client_ip_in": "office" }"#.to_owned();
    for _ in 0..MAX_CONDITION_DEPTH - 1 {
        ok = format!(r#"{{ "not": {ok} }}"#);
    }
    assert!(errors(&with_rules(&format!(
        r#"{USE_ALL}, {{ "id": "deep", "action": "deny", "when": {ok} }}"#
    )))
    .is_empty());
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn warnings_for_dead_rules_unused_lists_and_host_bits() {
    let text = r#"{
  "version": 1,
  "ip_lists": { "office": ["203.0.113.9/24"], "spare": ["198.51.100.0/24"] },
  "rules": [
    { "id": "open", "action": "allow" },
    { "id": "office-only", "action": "deny", "when": { "not": { "client_ip_in": "office" } } }
  ],
  "default": { "action": "deny" }
}"#;
    assert_eq!(
        warnings(text),
        vec![
            "p.json: ip_lists.office[0]: `203.0.113.9/24` has host bits set; it is read as `203.0.113.0/24`",
            "p.json: ip_lists.spare: list `spare` is not used by any rule",
            "p.json: rules[1] (id `office-only`): this rule can never match: rule `open` already decides every request (an allow rule without conditions ahead of denies lets everything through)",
        ]
    );
    assert!(warnings(&with_rules(USE_ALL)).is_empty());
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn xff_without_trusted_proxies_is_refused() {
    let text = r#"{ "version": 1, "client_ip": { "source": "x-forwarded-for" }, "default": { "action": "allow" } }"#;
    assert_eq!(
        errors(text),
        vec!["p.json: client_ip.trusted_proxies: `x-forwarded-for` needs `trusted_proxies`: without them anyone can forge the header"]
    );
    let text = r#"{ "version": 1, "client_ip": { "source": "x-real-ip" }, "default": { "action": "allow" } }"#;
    assert!(errors(text)
        .first()
        .unwrap()
        .contains("unknown variant `x-real-ip`"));
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn bundle_round_trip_matches_direct_compile() {
    let text = with_rules(USE_ALL);
    let direct = Policy::compile(&text, "p.json").unwrap().policy;
    let pre = precompiled(&direct);
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    for v in doc["ip_lists"].as_object_mut().unwrap().values_mut() {
        *v = serde_json::json!([]);
    }
    let bundled = Policy::from_bundle(&doc.to_string(), "p.json", "f00d", &pre).unwrap();
    assert_eq!(bundled.fingerprint(), "f00d");
    for ip in [
        "192.0.2.1",
        "203.0.113.200",
        "198.51.100.1",
        "::ffff:192.0.2.9",
    ] {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        for (a, b) in direct.ip_lists().iter().zip(bundled.ip_lists()) {
            assert_eq!(a.set.contains(ip), b.set.contains(ip), "{ip} in {}", a.name);
        }
    }
    // A bundle whose blob is missing does not load.
    assert!(Policy::from_bundle(&doc.to_string(), "p.json", "f", &[]).is_err());
}

/// The IP lists of a compiled policy as `build.rs` bundles them (leaked: they are `'static` in a build).
fn precompiled(policy: &Policy) -> Vec<PrecompiledIpList> {
    let leak = |b: &[u8]| -> &'static [u8] { Box::leak(b.to_vec().into_boxed_slice()) };
    policy
        .ip_lists()
        .iter()
        .map(|l| PrecompiledIpList {
            name: Box::leak(l.name.clone().into_boxed_str()),
            v4: leak(l.set.v4_bytes()),
            v6: leak(l.set.v6_bytes()),
            v4_index: leak(l.set.v4_index_bytes()),
            v6_index: leak(l.set.v6_index_bytes()),
        })
        .collect()
}

/// Every policy the repository ships or tests with, and one using every condition.
fn shipped_policies() -> Vec<(&'static str, String)> {
    vec![
        ("policy.json", include_str!("../../policy.json").to_owned()),
        (
            "tests/e2e/policy.json",
            include_str!("../../tests/e2e/policy.json").to_owned(),
        ),
        (
            "examples/admin-office",
            include_str!("../../examples/admin-office/policy.json").to_owned(),
        ),
        (
            "examples/cloudflare-access",
            include_str!("../../examples/cloudflare-access/policy.json").to_owned(),
        ),
        (
            "examples/partner-api",
            include_str!("../../examples/partner-api/policy.json").to_owned(),
        ),
        (
            "examples/public-site",
            include_str!("../../examples/public-site/policy.json").to_owned(),
        ),
        (
            "examples/staged-rollout",
            include_str!("../../examples/staged-rollout/policy.json").to_owned(),
        ),
        ("use-all", with_rules(USE_ALL)),
    ]
}

/// The Worker loads what `build.rs` wrote with `to_compiled`: it must be the very policy the compiler built,
/// field for field, including derived reason codes, key material and IP sets.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn compiled_round_trip_is_the_same_policy() {
    for (name, text) in shipped_policies() {
        let direct = Policy::compile(&text, name).unwrap().policy;
        let bytes = direct.to_compiled().unwrap();
        let loaded = Policy::from_compiled(&bytes, &precompiled(&direct)).unwrap();
        assert_eq!(format!("{direct:?}"), format!("{loaded:?}"), "{name}");
        for (a, b) in direct.rules.iter().zip(&loaded.rules) {
            assert_eq!(a.derived_code, b.derived_code, "{name}: rule {}", a.id);
        }
        for (a, b) in direct.issuers().iter().zip(loaded.issuers()) {
            if let (KeySource::Bundled(ka), KeySource::Bundled(kb)) = (&a.keys, &b.keys) {
                assert_eq!(ka, kb, "{name}: keys of issuer {}", a.name);
            }
        }
        for (a, b) in direct.ip_lists().iter().zip(loaded.ip_lists()) {
            assert_eq!(a.set, b.set, "{name}: IP list {}", a.name);
        }
    }
}

/// Bytes from another build, or damaged ones, are refused (the Worker then fails closed), never misread.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn compiled_form_refuses_foreign_or_damaged_bytes() {
    let direct = Policy::compile(&with_rules(USE_ALL), "p.json")
        .unwrap()
        .policy;
    let pre = precompiled(&direct);
    let bytes = direct.to_compiled().unwrap();
    let mut other_version = bytes.clone();
    other_version[3] = b'0';
    assert_eq!(
        Policy::from_compiled(&other_version, &pre).unwrap_err(),
        LoadError::Version
    );
    assert!(matches!(
        Policy::from_compiled(&bytes[..bytes.len() - 1], &pre),
        Err(LoadError::Corrupt(_))
    ));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        Policy::from_compiled(&trailing, &pre),
        Err(LoadError::Corrupt(_))
    ));
    assert!(matches!(
        Policy::from_compiled(&bytes, &[]),
        Err(LoadError::MissingIpList(_))
    ));
    let mut short_blob = pre.clone();
    short_blob[0].v4 = &[1, 2, 3];
    assert!(matches!(
        Policy::from_compiled(&bytes, &short_blob),
        Err(LoadError::CorruptIpList { .. })
    ));
}

/// A policy with one issuer `i` (fields spliced in) and a rule that uses it.
fn with_issuer(issuer: &str, claims: &str) -> String {
    format!(
        r#"{{
  "version": 1,
  "issuers": {{ "i": {{ {issuer} }} }},
  "rules": [ {{ "id": "t", "action": "require", "require": {{ "token": {{ "issuer": "i", "claims": [{claims}] }} }} }} ],
  "default": {{ "action": "allow" }}
}}"#
    )
}

const JWKS: &str = r#""jwks": { "keys": [ { "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "k1" } ] }"#;

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn issuers_are_checked() {
    let base = r#""issuer": "https://id.example", "audiences": ["api"]"#;
    let cases: &[(String, &str, &str)] = &[
        (format!(r#"{base}, "algorithms": ["none"], {JWKS}"#), "", "issuers.i.algorithms[0]: `none` is never accepted: unsigned tokens prove nothing"),
        (format!(r#"{base}, "algorithms": ["rs256"], {JWKS}"#), "", "issuers.i.algorithms[0]: unknown algorithm `rs256`"),
        (format!(r#"{base}, "algorithms": ["HS256"], {JWKS}"#), "", "issuers.i.algorithms[0]: `HS256` needs an HMAC secret (`hmac_secrets`); an HMAC algorithm over public keys is the classic algorithm-confusion attack"),
        (format!(r#"{base}, "algorithms": ["EdDSA"], "hmac_secrets": ["S"]"#), "", "issuers.i.algorithms[0]: `EdDSA` is not an HMAC algorithm, but this issuer's keys are HMAC secrets"),
        (format!(r#"{base}, "algorithms": ["EdDSA"]"#), "", "issuers.i: give the issuer's keys: `jwks`, `jwks_url`, `jwks_url_var` or `hmac_secrets`"),
        (format!(r#"{base}, "algorithms": ["EdDSA"], {JWKS}, "jwks_url": "https://id.example/jwks""#), "", "issuers.i: give exactly one of `jwks`, `jwks_url`, `jwks_url_var` and `hmac_secrets`"),
        (format!(r#"{base}, "algorithms": ["RS256"], "jwks_url": "http://id.example/jwks""#), "", "issuers.i.jwks_url: `http://id.example/jwks` must be an https:// URL (plain http only for loopback addresses)"),
        (format!(r#"{base}, "algorithms": ["HS256"], "hmac_secrets": ["not a name"]"#), "", "issuers.i.hmac_secrets[0]: `not a name` is not a Worker binding name (letters, digits and `_`)"),
        (r#""audiences": ["api"], "algorithms": ["EdDSA"], "jwks": { "keys": [] }"#.to_owned(), "", "issuers.i.issuer: the `iss` its tokens carry is required"),
        (format!(r#""issuer": "https://id.example", "algorithms": ["EdDSA"], {JWKS}"#), "", "issuers.i.audiences: name at least one audience (`aud`); tokens for other audiences are refused"),
        (format!(r#"{base}, "algorithms": ["EdDSA"], {JWKS}, "leeway_seconds": 7200"#), "", "issuers.i.leeway_seconds: a leeway of 7200 s is more than the 3600 s allowed"),
        (format!(r#"{base}, "algorithms": ["EdDSA"], {JWKS}, "forward_claims": {{ "sub": "Authorization" }}"#), "", "issuers.i.forward_claims.sub: `Authorization` cannot carry a claim: the origin or Cloudflare relies on it"),
        (format!(r#"{base}, "algorithms": ["EdDSA"], {JWKS}, "forward_claims": {{ "a..b": "X-A" }}"#), "", "issuers.i.forward_claims.a..b: claim path `a..b` has an empty name"),
        (format!(r#"{base}, "algorithms": ["EdDSA"], {JWKS}"#), r#"{ "claim": "roles", "contains": "admin", "equals": "x" }"#, "rules[0] (id `t`), field `require.token.claims[0]`: give exactly one test per claim entry (add another entry for another test)"),
        (format!(r#"{base}, "algorithms": ["EdDSA"], {JWKS}"#), r#"{ "claim": "roles" }"#, "rules[0] (id `t`), field `require.token.claims[0]`: give one test: `equals`, `one_of`, `contains`, `has_all`, `has_any` or `exists`"),
        (format!(r#"{base}, "algorithms": ["EdDSA"], {JWKS}"#), r#"{ "claim": "scope", "has_all": ["read write"] }"#, "rules[0] (id `t`), field `require.token.claims[0].has_all`: `has_all` takes a non-empty list of words without spaces"),
        (format!(r#"{base}, "algorithms": ["EdDSA"], {JWKS}"#), r#"{ "claim": "roles", "equals": ["a"] }"#, "rules[0] (id `t`), field `require.token.claims[0].equals`: `equals` takes a string, number, boolean or null"),
        (r#""cloudflare_access": { "team": "Acme Corp", "audience": "abc" }"#.to_owned(), "", "issuers.i.cloudflare_access.team: team `Acme Corp` must be the lower-case name before `.cloudflareaccess.com`"),
        (r#""cloudflare_access": { "team": "acme", "audience": "abc" }, "issuer": "https://x""#.to_owned(), "", "issuers.i.issuer: `issuer` is set by `cloudflare_access`; remove it"),
    ];
    for (issuer, claims, want) in cases {
        let got = errors(&with_issuer(issuer, claims));
        assert!(
            got.iter()
                .any(|e| e.starts_with(&format!("p.json: {want}"))),
            "issuer {issuer} / claims {claims}:\n want p.json: {want}\n  got {got:#?}"
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn cloudflare_access_preset_fills_in_the_issuer() {
    let text = with_issuer(
        r#""cloudflare_access": { "team": "acme", "audience": "aud-tag-123" }"#,
        "",
    );
    let p = Policy::compile(&text, "p.json").unwrap().policy;
    let i = &p.issuers()[0];
    assert_eq!(i.claim_rules.issuer, "https://acme.cloudflareaccess.com");
    assert_eq!(i.claim_rules.audiences, vec!["aud-tag-123".to_owned()]);
    assert_eq!(i.algorithms, vec![crate::token::Algorithm::RS256]);
    assert_eq!(i.claim_rules.leeway, DEFAULT_LEEWAY_SECONDS);
    assert_eq!(i.claim_rules.required, vec!["exp".to_owned()]);
    match &i.keys {
        KeySource::Remote(r) => {
            assert_eq!(
                r.url,
                JwksUrl::Fixed("https://acme.cloudflareaccess.com/cdn-cgi/access/certs".into())
            );
            assert_eq!((r.cache_seconds, r.min_refetch_seconds), (600, 60));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        i.sources,
        vec![
            crate::token::jwt::TokenSource::Header("cf-access-jwt-assertion".into()),
            crate::token::jwt::TokenSource::Cookie("CF_Authorization".into()),
        ]
    );
    assert!(p
        .header_names()
        .iter()
        .any(|h| h == "cf-access-jwt-assertion"));
    assert!(p.header_names().iter().any(|h| h == "cookie"));
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn identity_headers_are_always_stripped() {
    let text = r#"{
  "version": 1,
  "internal_headers": ["X-Internal-Role"],
  "issuers": { "i": { "issuer": "https://id.example", "audiences": ["api"], "algorithms": ["HS256"],
                      "hmac_secrets": ["S"], "forward_claims": { "sub": "X-User", "org.id": "X-Org" } } },
  "default": { "action": "allow" }
}"#;
    let c = Policy::compile(text, "p.json").unwrap();
    assert_eq!(
        c.policy.strip_headers(),
        [
            "x-internal-role",
            "x-org",
            "x-user",
            // Method overrides are ignored for matching unless the policy honours them, so never passed on.
            "x-http-method-override",
            "x-http-method",
            "x-method-override",
            // The rules matched the request line, so no origin may route by these instead.
            "x-original-url",
            "x-rewrite-url",
            "x-original-uri",
            "x-forwarded-uri",
            "x-forwarded-path",
            "x-forwarded-prefix"
        ]
    );
    assert!(
        c.warnings.is_empty(),
        "an issuer that forwards claims is in use: {:?}",
        c.warnings
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn path_override_headers_pass_only_when_the_policy_says() {
    let strip = |upstream: &str| {
        let text = format!(
            r#"{{ "version": 1, "upstream": {upstream}, "default": {{ "action": "allow" }} }}"#
        );
        Policy::compile(&text, "p.json")
            .unwrap()
            .policy
            .strip_headers()
            .to_vec()
    };
    assert!(strip("{}").iter().any(|h| h == "x-original-url"));
    let kept = strip(r#"{ "forward_path_override_headers": true, "method_override": true }"#);
    assert!(kept.is_empty(), "{kept:?}");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn logs_show_client_ips_as_the_policy_says() {
    let with = |logging: &str| {
        let text = format!(
            r#"{{ "version": 1, "logging": {logging}, "default": {{ "action": "allow" }} }}"#
        );
        Policy::compile(&text, "p.json").unwrap().policy.logging()
    };
    let v4: std::net::IpAddr = "198.51.100.77".parse().unwrap();
    let v6: std::net::IpAddr = "2001:db8:1234:5678:9abc::1".parse().unwrap();
    let full = with("{}");
    assert_eq!(full.client_ip(v4).as_deref(), Some("198.51.100.77"));
    let truncated = with(r#"{ "client_ip": "truncated" }"#);
    assert_eq!(truncated.client_ip(v4).as_deref(), Some("198.51.100.0/24"));
    assert_eq!(
        truncated.client_ip(v6).as_deref(),
        Some("2001:db8:1234::/48")
    );
    assert_eq!(with(r#"{ "client_ip": "omitted" }"#).client_ip(v4), None);
    // Sampling: 1 in 100 allows by default, every allow at 1.0, none at 0.0, about a share in between.
    assert!(full.log_allowed(0.009) && !full.log_allowed(0.01));
    assert!(with(r#"{ "sample_allowed": 1.0 }"#).log_allowed(0.999_999));
    let none = with(r#"{ "sample_allowed": 0.0 }"#);
    assert!(!none.log_allowed(0.0));
    let tenth = with(r#"{ "sample_allowed": 0.1 }"#);
    assert!(tenth.log_allowed(0.05) && !tenth.log_allowed(0.1) && !tenth.log_allowed(0.5));
    assert_eq!(
        errors(
            r#"{ "version": 1, "logging": { "sample_allowed": 1.5 }, "default": { "action": "allow" } }"#
        ),
        vec!["p.json: logging.sample_allowed: `1.5` is not a share between 0.0 and 1.0"]
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn typ_pins_are_checked() {
    let base = r#""issuer": "https://id.example", "audiences": ["api"], "algorithms": ["EdDSA"]"#;
    let cases: &[(String, &str)] = &[
        (
            format!(r#"{base}, {JWKS}, "typ": """#),
            "issuers.i.typ: `` is not a media type such as `at+jwt` or `application/at+jwt`",
        ),
        (
            format!(r#"{base}, {JWKS}, "typ": "at+jwt; q=1""#),
            "issuers.i.typ: `at+jwt; q=1` is not a media type",
        ),
        (
            format!(r#"{base}, {JWKS}, "typ": "a/b/c""#),
            "issuers.i.typ: `a/b/c` is not a media type",
        ),
        (
            format!(r#"{base}, {JWKS}, "typ": "/jwt""#),
            "issuers.i.typ: `/jwt` is not a media type",
        ),
    ];
    for (issuer, want) in cases {
        let got = errors(&with_issuer(issuer, ""));
        assert!(
            got.iter()
                .any(|e| e.starts_with(&format!("p.json: {want}"))),
            "issuer {issuer}:\n want p.json: {want}\n  got {got:#?}"
        );
    }
    for (typ, canonical) in [
        ("at+jwt", "application/at+jwt"),
        ("AT+JWT", "application/at+jwt"),
        ("application/at+JWT", "application/at+jwt"),
        ("JWT", "application/jwt"),
    ] {
        let text = with_issuer(&format!(r#"{base}, {JWKS}, "typ": "{typ}""#), "");
        let p = Policy::compile(&text, "p.json").unwrap().policy;
        assert_eq!(p.issuers()[0].typ.as_deref(), Some(canonical), "{typ}");
    }
    let p = Policy::compile(&with_issuer(&format!("{base}, {JWKS}"), ""), "p.json")
        .unwrap()
        .policy;
    assert_eq!(p.issuers()[0].typ, None, "no pin unless the policy asks");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn jwks_urls_must_be_https_or_loopback() {
    let cases: &[(&str, bool)] = &[
        ("https://id.example/jwks", true),
        ("https://id.example", true),
        ("http://127.0.0.1:8080/jwks", true),
        ("http://localhost/jwks", true),
        ("http://[::1]:9/jwks", true),
        ("http://localhost", true),
        ("http://id.example/jwks", false),
        ("http://localhost.evil.example/jwks", false),
        ("http://127.0.0.1.evil.example/jwks", false),
        ("http://localhost@evil.example/jwks", false),
        ("HTTP://id.example/jwks", false),
        ("ftp://id.example/jwks", false),
        (" https://id.example/jwks", false),
        ("//id.example/jwks", false),
        ("id.example/jwks", false),
        ("", false),
    ];
    for (url, want) in cases {
        assert_eq!(jwks_url_allowed(url), *want, "{url:?}");
    }
}

/// (written, names or the error's start).
const CLAIM_PATHS: &[(&str, Result<&[&str], &str>)] = &[
    ("sub", Ok(&["sub"])),
    ("realm_access.roles", Ok(&["realm_access", "roles"])),
    ("[https://corp.example/roles]", Ok(&["https://corp.example/roles"])),
    ("[https://corp.example/app].roles", Ok(&["https://corp.example/app", "roles"])),
    ("ext.[a.b].c", Ok(&["ext", "a.b", "c"])),
    ("[a].[b.c]", Ok(&["a", "b.c"])),
    ("[]]", Err("claim path `[]]`: a name in brackets must be followed by `.` or the end")),
    ("[a]]", Err("claim path `[a]]`: a name in brackets must be followed by `.` or the end")),
    ("a..b", Err("claim path `a..b` has an empty name; write a name that holds dots in brackets: `[a..b]`")),
    (".a", Err("claim path `.a` has an empty name")),
    ("a.", Err("claim path `a.` has an empty name")),
    ("", Err("claim path `` has an empty name")),
    ("[]", Err("claim path `[]` has an empty name")),
    ("[a.b", Err("claim path `[a.b` has a `[` without its `]`")),
    ("[a]b", Err("claim path `[a]b`: a name in brackets must be followed by `.` or the end")),
    ("a[b]", Err("claim path `a[b]`: `[` and `]` may only bracket a whole name")),
    ("a.b]", Err("claim path `a.b]`: `[` and `]` may only bracket a whole name")),
    ("[a[b]", Err("claim path `[a[b]`: `[` and `]` may only bracket a whole name")),
];

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn claim_paths_take_bracketed_names() {
    for (written, want) in CLAIM_PATHS {
        match (parse_claim_path(written), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, *want, "{written}"),
            (Err(got), Err(want)) => assert!(got.starts_with(want), "{written}: {got}"),
            (got, want) => panic!("{written}: got {got:?}, want {want:?}"),
        }
    }
    // Both spellings reach the same claim, in a claim test and in `forward_claims`.
    let text = with_issuer(
        &format!(
            r#""issuer": "https://id.example", "audiences": ["api"], "algorithms": ["EdDSA"], {JWKS},
               "forward_claims": {{ "[https://corp.example/roles]": "X-Roles", "[https://corp.example/app].tier": "X-Tier" }}"#
        ),
        r#"{ "claim": "[https://corp.example/roles]", "contains": "admin" },
           { "claim": ["https://corp.example/roles"], "contains": "admin" }"#,
    );
    let c = Policy::compile(&text, "p.json").unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let forward: Vec<(Vec<String>, String)> = c.policy.issuers()[0]
        .forward
        .iter()
        .map(|f| (f.path.clone(), f.header.clone()))
        .collect();
    assert_eq!(
        forward,
        vec![
            (
                vec!["https://corp.example/app".to_owned(), "tier".to_owned()],
                "x-tier".to_owned()
            ),
            (
                vec!["https://corp.example/roles".to_owned()],
                "x-roles".to_owned()
            ),
        ]
    );
    let Some(Cond::Token(t)) = &c.policy.rules[0].require else {
        panic!("a token condition");
    };
    assert_eq!(t.claims[0].0, t.claims[1].0);
    assert_eq!(t.claims[0].0, vec!["https://corp.example/roles".to_owned()]);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn warnings_for_namespaced_claims() {
    let base = r#""issuer": "https://id.example", "audiences": ["api"], "algorithms": ["EdDSA"]"#;
    let text = with_issuer(
        &format!(
            r#"{base}, "jwks_url": "https://id.example/jwks",
               "forward_claims": {{ "https://corp.example/tenant": "X-Tenant" }}"#
        ),
        r#"{ "claim": "https://corp.example/banned", "exists": false },
           { "claim": "urn:corp.roles", "contains": "admin" },
           { "claim": "realm_access.roles", "contains": "admin" },
           { "claim": "[https://corp.example/roles]", "contains": "admin" },
           { "claim": "urn:corp:roles", "contains": "admin" }"#,
    );
    assert_eq!(
        warnings(&text),
        vec![
            "p.json: issuers.i.forward_claims.https://corp.example/tenant: claim path `https://corp.example/tenant` is read as nested names `https://corp` > `example/tenant`; a namespaced claim named with dots never matches that (to name one claim whose name holds dots, write it in brackets: `[https://corp.example/tenant]`)",
            "p.json: rules[0] (id `t`), field `require.token.claims[0].claim`: claim path `https://corp.example/banned` is read as nested names `https://corp` > `example/banned`; a namespaced claim named with dots never matches that (to name one claim whose name holds dots, write it in brackets: `[https://corp.example/banned]`)",
            "p.json: rules[0] (id `t`), field `require.token.claims[1].claim`: claim path `urn:corp.roles` is read as nested names `urn:corp` > `roles`; a namespaced claim named with dots never matches that (to name one claim whose name holds dots, write it in brackets: `[urn:corp.roles]`)",
        ]
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn a_header_carries_one_claim() {
    let issuer = |name: &str, forward: &str| {
        format!(
            r#""{name}": {{ "issuer": "https://{name}.example", "audiences": ["api"], "algorithms": ["HS256"],
                 "hmac_secrets": ["S_{name}"], "forward_claims": {{ {forward} }} }}"#
        )
    };
    let policy = |issuers: &[String]| {
        format!(
            r#"{{ "version": 1, "issuers": {{ {} }}, "default": {{ "action": "allow" }} }}"#,
            issuers.join(",")
        )
    };
    let cases: &[(Vec<String>, &[&str])] = &[
        (
            vec![issuer("corp", r#""sub": "X-User""#), issuer("partner", r#""sub": "X-User""#)],
            &["p.json: issuers.partner.forward_claims.sub: header `X-User` already carries claim `sub` of issuer `corp` (as `X-User`): the origin could not tell whose claim it reads, and one issuer's token could fill in another's identity"],
        ),
        (
            vec![issuer("corp", r#""sub": "X-User""#), issuer("partner", r#""client_id": "x_user""#)],
            &["p.json: issuers.partner.forward_claims.client_id: header `x_user` already carries claim `sub` of issuer `corp` (as `X-User`): the origin could not tell whose claim it reads, and one issuer's token could fill in another's identity"],
        ),
        (
            vec![issuer("corp", r#""email": "X-Who", "sub": "x-WHO""#)],
            &["p.json: issuers.corp.forward_claims.sub: header `x-WHO` already carries claim `email` of this issuer (as `X-Who`): the origin could not tell whose claim it reads, and one issuer's token could fill in another's identity"],
        ),
        (
            vec![issuer("corp", r#""sub": "X-User""#), issuer("partner", r#""sub": "X-Partner-User""#)],
            &[],
        ),
    ];
    for (issuers, want) in cases {
        assert_eq!(errors(&policy(issuers)), *want, "{issuers:?}");
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn path_patterns_that_end_in_a_slash_are_rewritten() {
    let text = with_rules(
        r#"{ "id": "a", "action": "deny", "when": { "path_is": ["/admin//", "/secret/.", "/x/y/..", "/ok/", "/", "//"] } },
           { "id": "b", "action": "deny", "when": { "path_matches": ["/files/**//", "/f/*/", "/g/*"] } },
           { "id": "c", "action": "deny", "when": { "path_under": ["/under//", "/u/."] } },
           { "id": "d", "action": "deny", "when": { "client_ip_in": "blocked" } },
           { "id": "e", "action": "require", "when": { "origin_in": "apps" }, "require": { "client_ip_in": "office" } }"#,
    );
    let c = Policy::compile(&text, "p.json").unwrap();
    let got: Vec<String> = c.warnings.iter().map(|d| d.render("p.json")).collect();
    assert_eq!(
        got,
        vec![
            "p.json: rules[0] (id `a`), field `when.path_is[0]`: path pattern `/admin//` normalises to `/admin/`, which no request path is (requests are matched without their trailing slash); it is read as `/admin` (write `/admin`)",
            "p.json: rules[0] (id `a`), field `when.path_is[1]`: path pattern `/secret/.` normalises to `/secret/`, which no request path is (requests are matched without their trailing slash); it is read as `/secret` (write `/secret`)",
            "p.json: rules[0] (id `a`), field `when.path_is[2]`: path pattern `/x/y/..` normalises to `/x/`, which no request path is (requests are matched without their trailing slash); it is read as `/x` (write `/x`)",
            "p.json: rules[1] (id `b`), field `when.path_matches[0]`: path pattern `/files/**//` normalises to `/files/**/`, which no request path is (requests are matched without their trailing slash); it is read as `/files/**` (write `/files/**`)",
        ]
    );
    let Some(Cond::Path(is)) = &c.policy.rules[0].when else {
        panic!("path_is");
    };
    let is: Vec<&str> = is.iter().map(PathPattern::as_str).collect();
    assert_eq!(is, ["/admin", "/secret", "/x", "/ok", "/", "/"]);
    let Some(Cond::Path(globs)) = &c.policy.rules[1].when else {
        panic!("path_matches");
    };
    let globs: Vec<&str> = globs.iter().map(PathPattern::as_str).collect();
    assert_eq!(globs, ["/files/**", "/f/*", "/g/*"]);
    // The rewritten patterns match what a request for the path they were meant for normalises to.
    let opts = PathOptions::default();
    for (path, rule) in [("/admin/", 0), ("//secret", 0), ("/files/a/b/", 1)] {
        let norm = scope::normalize_path(path, &opts).unwrap();
        let norm = without_trailing_slash(&norm);
        let pats = match &c.policy.rules[rule].when {
            Some(Cond::Path(p)) => p,
            _ => panic!(),
        };
        assert!(pats.iter().any(|p| p.matches(norm)), "{path}");
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn jwks_refetch_settings_are_checked() {
    let base = r#""issuer": "https://id.example", "audiences": ["api"], "algorithms": ["EdDSA"], "jwks_url": "https://id.example/jwks""#;
    let zero = with_issuer(&format!(r#"{base}, "jwks_min_refetch_seconds": 0"#), "");
    assert_eq!(
        errors(&zero).first().map(String::as_str),
        Some("p.json: issuers.i.jwks_min_refetch_seconds: 0 lets every token naming an unknown `kid` start a JWKS fetch: a flood of tokens with random kids becomes a flood of fetches to the issuer (use at least 1; the default is 60)")
    );
    // 1 s is the least refetch interval accepted, without a warning.
    let one = with_issuer(&format!(r#"{base}, "jwks_min_refetch_seconds": 1"#), "");
    assert!(warnings(&one).is_empty());
    // A cache lifetime of 0 is allowed (the freshest keys), but what it costs is said.
    let zero = with_issuer(&format!(r#"{base}, "jwks_cache_seconds": 0"#), "");
    assert_eq!(
        warnings(&zero),
        ["p.json: issuers.i.jwks_cache_seconds: a JWKS cache lifetime of 0 fetches the JWKS again for every request that carries a token: each waits for the issuer, and the issuer sees all your traffic (keys the issuer removes stop verifying when the JWKS is next fetched; the default is 600)"]
    );
}
