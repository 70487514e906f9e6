//! Warnings `check` adds to the compiler's, about policies that are valid but probably not what was meant:
//!
//! - an IP list a `deny` rule matches on overlaps one an `allow` rule (or a `require` rule's requirement)
//!   matches on: the addresses in both are decided by rule order, silently;
//! - an `allow` rule that matches on the `Origin` header alone: any client but a browser can send any Origin;
//! - a trusted-proxies list that covers every address: anyone can then pick their client IP with
//!   `X-Forwarded-For`;
//! - a policy that is report-only as a whole: nothing is blocked.
//!
//! It reads the compiled policy (IP sets) and the parsed file (rule structure); it never fails and never turns a
//! valid policy invalid: everything here is a warning.

use std::fmt::Display;
use std::net::{Ipv4Addr, Ipv6Addr};

use edge_access::policy::file::{ActionSpec, ClientIpSourceSpec, ConditionSpec, PolicyFile};
use edge_access::policy::ip::IpSet;
use edge_access::policy::{Diagnostic, Policy, Segment, Severity};

/// Most overlap warnings reported before they are summarised.
const MAX_OVERLAP_WARNINGS: usize = 20;

/// The extra warnings for a policy that compiled.
pub fn extra_warnings(policy: &Policy, file: &PolicyFile) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if file.report_only {
        out.push(warning(
            vec![key("report_only")],
            None,
            "the whole policy is report-only: nothing is blocked, every request is forwarded and decisions are only logged".to_owned(),
            Some("set `report_only` to false to enforce the policy".to_owned()),
        ));
    }
    trusted_proxies(policy, file, &mut out);
    origin_only_allows(file, &mut out);
    overlaps(policy, file, &mut out);
    out
}

fn key(k: &str) -> Segment {
    Segment::Key(k.to_owned())
}

fn warning(
    path: Vec<Segment>,
    rule_id: Option<&str>,
    message: String,
    hint: Option<String>,
) -> Diagnostic {
    Diagnostic {
        severity: Severity::Warning,
        path,
        rule_id: rule_id.map(str::to_owned),
        message,
        hint,
        position: None,
    }
}

fn set<'p>(policy: &'p Policy, name: &str) -> Option<&'p IpSet> {
    policy
        .ip_lists()
        .iter()
        .find(|l| l.name == name)
        .map(|l| &l.set)
}

fn trusted_proxies(policy: &Policy, file: &PolicyFile, out: &mut Vec<Diagnostic>) {
    if file.client_ip.source != ClientIpSourceSpec::XForwardedFor {
        return;
    }
    for (i, name) in file.client_ip.trusted_proxies.iter().enumerate() {
        let Some(set) = set(policy, name) else {
            continue;
        };
        let family = if set.iter_v4().any(|r| r == (0, u32::MAX)) {
            "IPv4"
        } else if set.iter_v6().any(|r| r == (0, u128::MAX)) {
            "IPv6"
        } else {
            continue;
        };
        out.push(warning(
            vec![key("client_ip"), key("trusted_proxies"), Segment::Index(i)],
            None,
            format!("IP list `{name}` covers every {family} address: every client counts as a trusted proxy, so anyone can choose their client IP with `X-Forwarded-For`"),
            Some("list only the proxies in front of this Worker".to_owned()),
        ));
    }
}

/// What a leaf condition looks at, for these checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ip,
    Origin,
    /// Country, ASN or token: facts a client cannot simply write into a header.
    Trusted,
    /// Host, path, method: the request's own scope.
    Scope,
}

struct Leaf<'a> {
    kind: Kind,
    /// For IP leaves, the list names.
    lists: &'a [String],
    path: Vec<Segment>,
    negated: bool,
}

fn leaves<'a>(
    cond: &'a ConditionSpec,
    path: &mut Vec<Segment>,
    negated: bool,
    out: &mut Vec<Leaf<'a>>,
) {
    let mut leaf = |name: &str, kind: Kind, lists: &'a [String], path: &mut Vec<Segment>| {
        path.push(key(name));
        out.push(Leaf {
            kind,
            lists,
            path: path.clone(),
            negated,
        });
        path.pop();
    };
    match cond {
        ConditionSpec::All(list) | ConditionSpec::Any(list) => {
            let name = if matches!(cond, ConditionSpec::All(_)) {
                "all"
            } else {
                "any"
            };
            path.push(key(name));
            for (i, c) in list.iter().enumerate() {
                path.push(Segment::Index(i));
                leaves(c, path, negated, out);
                path.pop();
            }
            path.pop();
        }
        ConditionSpec::Not(inner) => {
            path.push(key("not"));
            leaves(inner, path, !negated, out);
            path.pop();
        }
        ConditionSpec::ClientIpIn(names) => leaf("client_ip_in", Kind::Ip, names.as_slice(), path),
        ConditionSpec::OriginIn(_) => leaf("origin_in", Kind::Origin, &[], path),
        ConditionSpec::HasOrigin(_) => leaf("has_origin", Kind::Origin, &[], path),
        ConditionSpec::CountryIn(_) => leaf("country_in", Kind::Trusted, &[], path),
        ConditionSpec::AsnIn(_) => leaf("asn_in", Kind::Trusted, &[], path),
        ConditionSpec::Token(_) => leaf("token", Kind::Trusted, &[], path),
        ConditionSpec::HostIs(_) => leaf("host_is", Kind::Scope, &[], path),
        ConditionSpec::PathIs(_) => leaf("path_is", Kind::Scope, &[], path),
        ConditionSpec::PathUnder(_) => leaf("path_under", Kind::Scope, &[], path),
        ConditionSpec::PathMatches(_) => leaf("path_matches", Kind::Scope, &[], path),
        ConditionSpec::MethodIs(_) => leaf("method_is", Kind::Scope, &[], path),
    }
}

/// The leaves of a rule's `when` or `require`, with paths from the document root.
fn rule_leaves<'a>(index: usize, field: &str, cond: Option<&'a ConditionSpec>) -> Vec<Leaf<'a>> {
    let mut out = Vec::new();
    if let Some(cond) = cond {
        let mut path = vec![key("rules"), Segment::Index(index), key(field)];
        leaves(cond, &mut path, false, &mut out);
    }
    out
}

fn origin_only_allows(file: &PolicyFile, out: &mut Vec<Diagnostic>) {
    for (i, rule) in file.rules.iter().enumerate() {
        if rule.action != ActionSpec::Allow || rule.report_only {
            continue;
        }
        let found = rule_leaves(i, "when", rule.when.as_ref());
        let on_origin = found.iter().any(|l| l.kind == Kind::Origin && !l.negated);
        let other = found
            .iter()
            .any(|l| matches!(l.kind, Kind::Ip | Kind::Trusted));
        if on_origin && !other {
            out.push(warning(
                vec![key("rules"), Segment::Index(i), key("when")],
                Some(&rule.id),
                "this rule allows on the `Origin` header, which any client but a browser can set to anything: it lets in whoever claims the origin".to_owned(),
                Some("add a client IP, token or country condition, or check origins with a `require` rule".to_owned()),
            ));
        }
    }
}

/// Which side of an overlap a rule is on.
struct Side<'a> {
    rule: usize,
    id: &'a str,
    verb: &'static str,
    list: &'a str,
    path: Vec<Segment>,
}

fn overlaps(policy: &Policy, file: &PolicyFile, out: &mut Vec<Diagnostic>) {
    let mut denies: Vec<Side<'_>> = Vec::new();
    let mut allows: Vec<Side<'_>> = Vec::new();
    for (i, rule) in file.rules.iter().enumerate() {
        if rule.report_only {
            continue;
        }
        let (field, cond, verb, into) = match rule.action {
            ActionSpec::Deny => ("when", rule.when.as_ref(), "denies", &mut denies),
            ActionSpec::Allow => ("when", rule.when.as_ref(), "allows", &mut allows),
            ActionSpec::Require => ("require", rule.require.as_ref(), "requires", &mut allows),
            ActionSpec::Limit => continue,
        };
        for leaf in rule_leaves(i, field, cond) {
            if leaf.kind != Kind::Ip || leaf.negated {
                continue;
            }
            for list in leaf.lists {
                into.push(Side {
                    rule: i,
                    id: &rule.id,
                    verb,
                    list,
                    path: leaf.path.clone(),
                });
            }
        }
    }
    let mut reported = 0usize;
    let mut more = 0usize;
    let mut seen: Vec<(usize, &str, &str)> = Vec::new();
    for deny in &denies {
        for allow in &allows {
            if deny.list == allow.list || seen.contains(&(deny.rule, deny.list, allow.list)) {
                continue;
            }
            let (Some(a), Some(b)) = (set(policy, deny.list), set(policy, allow.list)) else {
                continue;
            };
            if !a.overlaps(b) {
                continue;
            }
            seen.push((deny.rule, deny.list, allow.list));
            if reported >= MAX_OVERLAP_WARNINGS {
                more += 1;
                continue;
            }
            reported += 1;
            let example = first_overlap(a.iter_v4(), b.iter_v4())
                .map(|(s, e)| range(Ipv4Addr::from(s), Ipv4Addr::from(e), s == e))
                .or_else(|| {
                    first_overlap(a.iter_v6(), b.iter_v6())
                        .map(|(s, e)| range(Ipv6Addr::from(s), Ipv6Addr::from(e), s == e))
                })
                .unwrap_or_default();
            let outcome = if allow.rule < deny.rule && allow.verb == "allows" {
                format!(
                    "rule `{}` comes first and allows them, so this rule never denies them",
                    allow.id
                )
            } else {
                format!(
                    "this rule denies them although rule `{}` {} them",
                    allow.id, allow.verb
                )
            };
            out.push(warning(
                deny.path.clone(),
                Some(deny.id),
                format!(
                    "IP list `{}` overlaps IP list `{}` ({example}), which rule `{}` {}: {outcome}",
                    deny.list, allow.list, allow.id, allow.verb
                ),
                Some("take the shared addresses out of one list, or make the rule order say what you mean".to_owned()),
            ));
        }
    }
    if more > 0 {
        out.push(warning(
            vec![key("rules")],
            None,
            format!("{more} more overlaps between denied and allowed IP lists are not shown"),
            None,
        ));
    }
}

fn range(start: impl Display, end: impl Display, single: bool) -> String {
    if single {
        format!("for example {start}")
    } else {
        format!("for example {start} to {end}")
    }
}

/// The first range two sorted lists of disjoint inclusive ranges share.
fn first_overlap<T: Ord + Copy>(
    a: impl Iterator<Item = (T, T)>,
    b: impl Iterator<Item = (T, T)>,
) -> Option<(T, T)> {
    let mut a = a.peekable();
    let mut b = b.peekable();
    loop {
        let (&(a0, a1), &(b0, b1)) = (a.peek()?, b.peek()?);
        let start = a0.max(b0);
        let end = a1.min(b1);
        if start <= end {
            return Some((start, end));
        }
        if a1 < b1 {
            a.next();
        } else {
            b.next();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warnings(text: &str) -> Vec<(String, String)> {
        let compiled = Policy::compile(text, "p.json").unwrap();
        let file: PolicyFile = serde_json::from_str(text).unwrap();
        extra_warnings(&compiled.policy, &file)
            .into_iter()
            .map(|d| (d.json_pointer(), d.message))
            .collect()
    }

    #[test]
    fn first_overlap_table() {
        type R = &'static [(u32, u32)];
        type Case = (R, R, Option<(u32, u32)>);
        const CASES: &[Case] = &[
            (&[], &[(1, 2)], None),
            (&[(1, 5)], &[(6, 9)], None),
            (&[(1, 5)], &[(5, 9)], Some((5, 5))),
            (&[(1, 2), (10, 20)], &[(3, 4), (15, 30)], Some((15, 20))),
            (&[(10, 20)], &[(0, 100)], Some((10, 20))),
        ];
        for (a, b, want) in CASES {
            let got = first_overlap(a.iter().copied(), b.iter().copied());
            assert_eq!(got, *want, "{a:?} x {b:?}");
            let swapped = first_overlap(b.iter().copied(), a.iter().copied());
            assert_eq!(swapped, *want, "{b:?} x {a:?}");
        }
    }

    #[test]
    fn policies_and_their_warnings() {
        /// name, policy, expected (pointer, message) pairs
        type Case = (
            &'static str,
            &'static str,
            &'static [(&'static str, &'static str)],
        );
        const CASES: &[Case] = &[
            (
                "deny list overlapping a later require list",
                r#"{"version": 1,
                    "ip_lists": {"blocked": ["192.0.2.0/24"], "office": ["192.0.2.128/25", "203.0.113.0/24"]},
                    "rules": [
                      {"id": "block", "action": "deny", "when": {"client_ip_in": "blocked"}},
                      {"id": "admin", "action": "require", "when": {"path_under": "/admin"}, "require": {"client_ip_in": "office"}}
                    ],
                    "default": {"action": "allow"}}"#,
                &[(
                    "/rules/0/when/client_ip_in",
                    "IP list `blocked` overlaps IP list `office` (for example 192.0.2.128 to 192.0.2.255), which rule `admin` requires: this rule denies them although rule `admin` requires them",
                )],
            ),
            (
                "an earlier allow wins the overlap; negated and report-only uses do not count",
                r#"{"version": 1,
                    "ip_lists": {"partners": ["2001:db8::1"], "bad": ["2001:db8::/32"], "x": ["2001:db8::/64"]},
                    "rules": [
                      {"id": "partners", "action": "allow", "when": {"all": [{"client_ip_in": ["partners"]}]}},
                      {"id": "bad", "action": "deny", "when": {"client_ip_in": "bad"}},
                      {"id": "not-x", "action": "deny", "when": {"not": {"client_ip_in": "x"}}},
                      {"id": "trial", "action": "deny", "report_only": true, "when": {"client_ip_in": "x"}}
                    ],
                    "default": {"action": "deny"}}"#,
                &[(
                    "/rules/1/when/client_ip_in",
                    "IP list `bad` overlaps IP list `partners` (for example 2001:db8::1), which rule `partners` allows: rule `partners` comes first and allows them, so this rule never denies them",
                )],
            ),
            (
                "allowing on Origin alone",
                r#"{"version": 1,
                    "origin_lists": {"apps": ["https://app.example.com"]},
                    "ip_lists": {"office": ["203.0.113.0/24"]},
                    "rules": [
                      {"id": "apps", "action": "allow", "when": {"all": [{"origin_in": "apps"}, {"path_under": "/api"}]}},
                      {"id": "office-apps", "action": "allow", "when": {"all": [{"origin_in": "apps"}, {"client_ip_in": "office"}]}}
                    ],
                    "default": {"action": "deny"}}"#,
                &[(
                    "/rules/0/when",
                    "this rule allows on the `Origin` header, which any client but a browser can set to anything: it lets in whoever claims the origin",
                )],
            ),
            (
                "everyone a trusted proxy, and a report-only policy",
                r#"{"version": 1, "report_only": true,
                    "ip_lists": {"all": ["0.0.0.0/0"]},
                    "client_ip": {"source": "x-forwarded-for", "trusted_proxies": ["all"]},
                    "default": {"action": "allow"}}"#,
                &[
                    (
                        "/report_only",
                        "the whole policy is report-only: nothing is blocked, every request is forwarded and decisions are only logged",
                    ),
                    (
                        "/client_ip/trusted_proxies/0",
                        "IP list `all` covers every IPv4 address: every client counts as a trusted proxy, so anyone can choose their client IP with `X-Forwarded-For`",
                    ),
                ],
            ),
            (
                "a clean policy",
                r#"{"version": 1,
                    "ip_lists": {"blocked": ["192.0.2.0/24"], "office": ["203.0.113.0/24"]},
                    "rules": [
                      {"id": "block", "action": "deny", "when": {"client_ip_in": "blocked"}},
                      {"id": "office", "action": "allow", "when": {"client_ip_in": "office"}}
                    ],
                    "default": {"action": "deny"}}"#,
                &[],
            ),
        ];
        for (name, text, want) in CASES {
            let got = warnings(text);
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(p, m)| ((*p).to_owned(), (*m).to_owned()))
                .collect();
            assert_eq!(got, want, "case `{name}`");
        }
    }
}
