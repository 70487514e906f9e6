//! The oracle's corpus: every route of the table in every spelling (escaped reserved characters and letters,
//! double encoding, dot segments, `//`, case, trailing slashes and dots, `.json` suffixes, an escaped `/`), then
//! methods and overrides (header, query, form body; duplicate and odd spellings), token cookies and query
//! parameters spelled as PHP, Express and nginx read them (twins, duplicates, separators, quoting, escapes),
//! path-override headers, and a few more. Values may hold `{T1}`, `{T2}`, `{T1R}`, filled in at run time.

use crate::support::origins::{Route, RouteKind};

pub(super) const OK_IP: &str = "198.51.100.7";
const OFFICE_IP: &str = "203.0.113.20";

/// One request of the corpus. Header values and the target may hold `{T1}`, `{T2}` (tokens minted at run time).
#[derive(Clone, Debug)]
pub(super) struct Probe {
    pub(super) name: String,
    pub(super) method: &'static str,
    pub(super) target: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    /// A difference the README documents, with the option or rule that covers it: reported, not a failure.
    pub(super) documented: Option<&'static str>,
}

impl Probe {
    fn get(name: impl Into<String>, target: impl Into<String>) -> Probe {
        Probe {
            name: name.into(),
            method: "GET",
            target: target.into(),
            headers: vec![("CF-Connecting-IP".into(), OK_IP.into())],
            body: Vec::new(),
            documented: None,
        }
    }

    fn documented(mut self, why: &'static str) -> Probe {
        self.documented = Some(why);
        self
    }

    fn method(mut self, m: &'static str) -> Probe {
        self.method = m;
        self
    }

    fn header(mut self, n: &str, v: &str) -> Probe {
        self.headers.push((n.into(), v.into()));
        self
    }

    fn ip(mut self, ip: &str) -> Probe {
        self.headers.retain(|(n, _)| n != "CF-Connecting-IP");
        self.headers.push(("CF-Connecting-IP".into(), ip.into()));
        self
    }

    fn form(mut self, body: &str) -> Probe {
        self.headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        self.body = body.as_bytes().to_vec();
        self
    }
}

/// A request path that reaches each route (the `*` of a glob is `a`).
fn sample(route: &Route) -> String {
    match &route.kind {
        RouteKind::Exact(p) => p.clone(),
        RouteKind::Prefix(p) => format!("{p}/x1"),
        RouteKind::Glob(p) => p.replace('*', "a"),
    }
}

/// Reserved characters whose escapes the corpus tries (RFC 3986 sub-delims, `:` and `@`).
const RESERVED: &[(char, &str, &str)] = &[
    (':', "%3A", "%3a"),
    ('$', "%24", "%24"),
    ('@', "%40", "%40"),
    ('!', "%21", "%21"),
    ('\'', "%27", "%27"),
    ('(', "%28", "%28"),
    (')', "%29", "%29"),
    ('*', "%2A", "%2a"),
    ('+', "%2B", "%2b"),
    (',', "%2C", "%2c"),
    ('=', "%3D", "%3d"),
];

/// Path spellings of one route's sample path.
fn path_variants(route: &Route) -> Vec<(String, String)> {
    let s = sample(route);
    let rest = s.strip_prefix("/oracle").unwrap_or(&s).to_owned();
    let mut out: Vec<(String, String)> = vec![("plain".into(), s.clone())];
    for (c, upper, lower) in RESERVED {
        if s.contains(*c) {
            out.push((format!("esc-{upper}"), s.replace(*c, upper)));
            if lower != upper {
                out.push((format!("esc-{lower}"), s.replace(*c, lower)));
            }
        }
    }
    // The first letter of the route's own segment, escaped (unreserved: the filter decodes it).
    if let Some(i) = rest.find(|c: char| c.is_ascii_alphabetic()) {
        let b = rest.as_bytes()[i];
        let esc = format!("/oracle{}%{:02X}{}", &rest[..i], b, &rest[i + 1..]);
        out.push(("esc-letter".into(), esc));
        let dbl = format!("/oracle{}%25{:02X}{}", &rest[..i], b, &rest[i + 1..]);
        out.push(("double-enc".into(), dbl));
        let upper = format!(
            "/oracle{}{}{}",
            &rest[..i],
            (b as char).to_ascii_uppercase(),
            &rest[i + 1..]
        );
        out.push(("case-letter".into(), upper));
    }
    out.push(("case-all".into(), s.to_ascii_uppercase()));
    out.push(("dot-seg".into(), format!("/oracle/x/..{rest}")));
    out.push(("dot-seg-enc".into(), format!("/oracle/x/%2e%2e{rest}")));
    out.push(("single-dot".into(), format!("/oracle/.{rest}")));
    out.push((
        "double-slash".into(),
        format!(
            "//oracle/{}",
            rest.replace('/', "//").trim_start_matches('/')
        ),
    ));
    out.push(("trailing-slash".into(), format!("{s}/")));
    out.push(("trailing-dot".into(), format!("{s}.")));
    out.push(("trailing-dot-enc".into(), format!("{s}%2E")));
    out.push(("json-suffix".into(), format!("{s}.json")));
    out.push((
        "encoded-slash".into(),
        s.replacen("/oracle/", "/oracle%2F", 1),
    ));
    out
}

/// The corpus: every route in every spelling, then methods, tokens and path-override headers.
pub(super) fn corpus(routes: &[Route]) -> Vec<Probe> {
    let mut out = Vec::new();
    for r in routes {
        for (v, path) in path_variants(r) {
            out.push(Probe::get(format!("path-{}-{v}", r.name), path));
        }
    }
    // The admin area from the office (allowed): origins must agree on the route.
    for (v, path) in [
        ("plain", "/oracle/admin/users"),
        ("esc", "/oracle/%61dmin/users"),
        ("slash", "//oracle//admin//users/"),
    ] {
        out.push(Probe::get(format!("office-admin-{v}"), path).ip(OFFICE_IP));
    }
    out.extend(method_probes());
    out.extend(token_probes());
    out.extend(override_header_probes());
    out.extend(misc_probes());
    out
}

fn method_probes() -> Vec<Probe> {
    let mut out = Vec::new();
    let auth = ("Cookie", "oracle_session={T1}");
    for (route, path) in [
        ("public", "/oracle/public/x"),
        ("items", "/oracle/items/1"),
        ("static", "/oracle/static/app.js"),
    ] {
        for m in ["POST", "PUT", "DELETE", "PATCH"] {
            out.push(Probe::get(format!("method-{route}-{m}"), path).method(m));
            out.push(
                Probe::get(format!("method-{route}-{m}-token"), path)
                    .method(m)
                    .header(auth.0, auth.1),
            );
        }
        for (name, over) in [("delete", "DELETE"), ("get", "GET"), ("put", "PUT")] {
            out.push(
                Probe::get(format!("override-header-{route}-{name}"), path)
                    .method("POST")
                    .header(auth.0, auth.1)
                    .header("X-HTTP-Method-Override", over)
                    .form("a=1"),
            );
            out.push(
                Probe::get(
                    format!("override-query-{route}-{name}"),
                    format!("{path}?_method={over}"),
                )
                .method("POST")
                .header(auth.0, auth.1)
                .form("a=1"),
            );
            out.push(
                Probe::get(format!("override-body-{route}-{name}"), path)
                    .method("POST")
                    .header(auth.0, auth.1)
                    .form(&format!("_method={over}"))
                    .documented(
                        "the filter streams bodies and never reads a form's `_method`; README, Method overrides: \
                         give POST the rules of the methods a form may ask for",
                    ),
            );
        }
        out.push(
            Probe::get(
                format!("override-query-on-get-{route}"),
                format!("{path}?_method=DELETE"),
            )
            .header(auth.0, auth.1),
        );
        out.push(
            Probe::get(format!("override-two-headers-{route}"), path)
                .method("POST")
                .header(auth.0, auth.1)
                .header("X-HTTP-Method-Override", "PUT")
                .header("X-HTTP-Method-Override", "DELETE")
                .form("a=1"),
        );
        out.push(
            Probe::get(format!("override-lower-name-{route}"), path)
                .method("POST")
                .header(auth.0, auth.1)
                .header("x-http-method-override", "delete")
                .form("a=1"),
        );
        out.push(
            Probe::get(format!("override-underscore-name-{route}"), path)
                .method("POST")
                .header(auth.0, auth.1)
                .header("X_HTTP_Method_Override", "DELETE")
                .form("a=1"),
        );
        out.push(
            Probe::get(
                format!("override-query-encoded-{route}"),
                format!("{path}?%5Fmethod=DELETE"),
            )
            .method("POST")
            .header(auth.0, auth.1)
            .form("a=1"),
        );
        out.push(
            Probe::get(
                format!("override-query-lower-{route}"),
                format!("{path}?_method=delete"),
            )
            .method("POST")
            .header(auth.0, auth.1)
            .form("a=1"),
        );
    }
    out
}

fn token_probes() -> Vec<Probe> {
    let cookies: &[(&str, &[&str])] = &[
        ("cookie", &["oracle_session={T1}"]),
        ("cookie-quoted", &["oracle_session=\"{T1}\""]),
        (
            "cookie-two-semicolon",
            &["oracle_session={T1}; oracle_session={T2}"],
        ),
        (
            "cookie-two-comma",
            &["oracle_session={T1}, oracle_session={T2}"],
        ),
        (
            "cookie-two-comma-nospace",
            &["oracle_session={T1},oracle_session={T2}"],
        ),
        (
            "cookie-two-space",
            &["oracle_session={T1} oracle_session={T2}"],
        ),
        (
            "cookie-two-lines",
            &["oracle_session={T1}", "oracle_session={T2}"],
        ),
        (
            "cookie-two-lines-other-first",
            &["a=1", "oracle_session={T1}"],
        ),
        (
            "cookie-case-twin",
            &["Oracle_Session={T2}; oracle_session={T1}"],
        ),
        (
            "cookie-escaped-twin",
            &["oracle%5Fsession={T2}; oracle_session={T1}"],
        ),
        (
            "cookie-dot-twin",
            &["oracle.session={T2}; oracle_session={T1}"],
        ),
        (
            "cookie-space-twin",
            &["oracle session={T2}; oracle_session={T1}"],
        ),
        (
            "cookie-bracket-twin",
            &["oracle_session={T1}; oracle_session[]={T2}"],
        ),
        (
            "cookie-bracket-twin-first",
            &["oracle_session[]={T2}; oracle_session={T1}"],
        ),
        ("cookie-escaped-value", &["oracle_session=%7B{T1}"]),
        ("cookie-space-before-eq", &["oracle_session ={T1}"]),
    ];
    let queries: &[(&str, &str)] = &[
        ("query", "oracle_token={T1}"),
        ("query-two", "oracle_token={T1}&oracle_token={T2}"),
        ("query-space-twin", "oracle_token={T1}&%20oracle_token={T2}"),
        ("query-plus-twin", "oracle_token={T1}&+oracle_token={T2}"),
        ("query-nul-twin", "oracle_token={T1}&oracle_token%00x={T2}"),
        (
            "query-bracket-twin",
            "oracle_token={T1}&oracle_token[]={T2}",
        ),
        (
            "query-bracket-enc-twin",
            "oracle_token={T1}&oracle_token%5B%5D={T2}",
        ),
        ("query-dot-twin", "oracle_token={T1}&oracle.token={T2}"),
        ("query-case-twin", "oracle_token={T1}&ORACLE_TOKEN={T2}"),
        (
            "query-escaped-name-twin",
            "oracle_token={T1}&oracle%5Ftoken={T2}",
        ),
        (
            "query-semicolon-twin",
            "oracle_token={T1};oracle_token={T2}",
        ),
        ("query-escaped-value", "oracle_token=%65{T1R}"),
        ("query-amp-encoded", "oracle_token={T1}%26oracle_token={T2}"),
    ];
    let mut out = Vec::new();
    for (route, path) in [
        ("account", "/oracle/@me/profile"),
        ("public", "/oracle/public/t"),
    ] {
        for (name, lines) in cookies {
            let mut p = Probe::get(format!("token-{route}-{name}"), path);
            for l in *lines {
                p = p.header("Cookie", l);
            }
            out.push(p);
        }
        for (name, q) in queries {
            out.push(Probe::get(
                format!("token-{route}-{name}"),
                format!("{path}?{q}"),
            ));
        }
        out.push(
            Probe::get(
                format!("token-{route}-cookie-and-query-same"),
                format!("{path}?oracle_token={{T1}}"),
            )
            .header("Cookie", "oracle_session={T1}"),
        );
        out.push(
            Probe::get(
                format!("token-{route}-cookie-and-query-differ"),
                format!("{path}?oracle_token={{T2}}"),
            )
            .header("Cookie", "oracle_session={T1}"),
        );
    }
    out
}

fn override_header_probes() -> Vec<Probe> {
    let mut out = Vec::new();
    for (name, header) in [
        ("original-url", "X-Original-URL"),
        ("rewrite-url", "X-Rewrite-URL"),
        ("original-url-lower", "x-original-url"),
        ("original-url-underscore", "X_Original_URL"),
    ] {
        out.push(
            Probe::get(format!("path-header-{name}-admin"), "/oracle/public/x")
                .header(header, "/oracle/admin/users"),
        );
        out.push(
            Probe::get(format!("path-header-{name}-internal"), "/oracle/public/x")
                .header(header, "/oracle/internal"),
        );
    }
    out
}

fn misc_probes() -> Vec<Probe> {
    vec![
        Probe::get("misc-home-query", "/oracle?x=1"),
        Probe::get("misc-home-slash-query", "/oracle/?x=/oracle/admin"),
        Probe::get("misc-dotdot-from-public", "/oracle/public/../admin/users"),
        Probe::get(
            "misc-dotdot-from-public-enc",
            "/oracle/public/%2e%2e/admin/users",
        ),
        Probe::get("misc-dotdot-past-root", "/../../oracle/admin/users"),
        Probe::get("misc-semicolon", "/oracle/admin;x/users"),
        Probe::get("misc-semicolon-public", "/oracle/public;x"),
        Probe::get("misc-backslash", "/oracle\\admin/users"),
        Probe::get("misc-files-star", "/oracle/files/*/secret"),
        Probe::get("misc-files-star-enc", "/oracle/files/%2A/secret"),
        Probe::get("misc-files-dots", "/oracle/files/a.b/secret"),
        Probe::get("misc-files-enc-segment", "/oracle/files/%61/secret"),
        Probe::get("misc-items-enc-percent", "/oracle/items/%41%42"),
        Probe::get("misc-utf8", "/oracle/public/caf%C3%A9"),
        Probe::get("misc-admin-encoded-space", "/oracle/admin%20/users"),
        Probe::get("misc-admin-tab-escape", "/oracle/admin%09/users"),
        Probe::get("misc-me-raw-at", "/oracle/@me"),
        Probe::get("misc-me-enc-at-trailing", "/oracle/%40me/"),
        Probe::get("misc-fragment", "/oracle/internal#x"),
        Probe::get("misc-query-qmark-enc", "/oracle/internal%3Fx"),
    ]
}
