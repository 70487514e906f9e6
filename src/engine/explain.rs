//! Why a decision came out as it did: every rule considered, and for each of its conditions whether it held and
//! why, in words. For the CLI's `explain` and for debugging; the Worker's hot path never builds one.
//!
//! Details name request facts (the client IP, the path as normalised, the Origin) and policy values (list names,
//! patterns, claim tests), never a token's claim values.

use super::{DecidedBy, Decision, RequestFacts, Seen, StepOutcome, UnixTime};
use crate::policy::scope::PathPattern;
use crate::policy::{Action, Cond, Policy};
use crate::token::jwt::{self, ClaimPredicate};

/// A decision and what led to it.
#[derive(Debug, Clone)]
pub struct Explanation<'p> {
    pub decision: Decision<'p>,
    /// The rules considered, in order (none when a precheck or a CORS preflight decided).
    pub rules: Vec<RuleExplanation<'p>>,
    /// The request as the rules saw it (after normalisation), when they ran.
    pub seen: Option<SeenSummary>,
}

/// The normalised facts the rules matched against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenSummary {
    pub client_ip: String,
    pub host: String,
    pub path: String,
    pub method: String,
    pub origin: Option<String>,
}

/// One rule considered.
#[derive(Debug, Clone)]
pub struct RuleExplanation<'p> {
    pub index: usize,
    pub id: &'p str,
    pub action: Action,
    pub report_only: bool,
    pub outcome: StepOutcome,
    pub when: Option<CondExplanation>,
    pub require: Option<CondExplanation>,
}

/// One condition: what it tests, whether it held, why, and its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondExplanation {
    pub condition: String,
    pub holds: bool,
    pub detail: String,
    pub children: Vec<CondExplanation>,
}

impl Policy {
    /// Decides the request exactly as [`Policy::evaluate`] does, and explains it.
    pub fn explain<'p>(&'p self, facts: &RequestFacts<'_>, now: UnixTime) -> Explanation<'p> {
        let decision = self.evaluate(facts, now);
        let seen = match (&decision.decided_by, self.observe(facts)) {
            (DecidedBy::Precheck | DecidedBy::Cors, _) | (_, Err(_)) => None,
            (_, Ok(seen)) => Some(seen),
        };
        let Some(seen) = seen else {
            return Explanation {
                decision,
                rules: Vec::new(),
                seen: None,
            };
        };
        let rules = decision
            .trace
            .iter()
            .filter_map(|step| {
                let rule = self.rules.get(step.rule)?;
                let require = match (rule.action, step.outcome) {
                    (
                        Action::Require,
                        StepOutcome::RequirementMet | StepOutcome::RequirementFailed,
                    )
                    | (Action::Require, StepOutcome::WouldAllow | StepOutcome::WouldDeny) => {
                        rule.require.as_ref().map(|c| self.explain_cond(c, &seen))
                    }
                    _ => None,
                };
                Some(RuleExplanation {
                    index: step.rule,
                    id: &rule.id,
                    action: rule.action,
                    report_only: rule.report_only,
                    outcome: step.outcome,
                    when: rule.when.as_ref().map(|c| self.explain_cond(c, &seen)),
                    require,
                })
            })
            .collect();
        let summary = SeenSummary {
            client_ip: seen.client_ip.to_string(),
            host: seen.host.to_owned(),
            path: seen.path.to_string(),
            method: seen.method.to_string(),
            origin: seen.origin_raw.map(str::to_owned),
        };
        Explanation {
            decision,
            rules,
            seen: Some(summary),
        }
    }

    fn explain_cond(&self, cond: &Cond, seen: &Seen<'_>) -> CondExplanation {
        let holds = self.holds(cond, seen);
        let leaf = |condition: String, detail: String| CondExplanation {
            condition,
            holds,
            detail,
            children: Vec::new(),
        };
        let names = |ids: &[usize], name: &dyn Fn(usize) -> Option<String>| {
            ids.iter()
                .filter_map(|&i| name(i))
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match cond {
            Cond::All(cs) | Cond::Any(cs) => {
                let all = matches!(cond, Cond::All(_));
                let children: Vec<CondExplanation> =
                    cs.iter().map(|c| self.explain_cond(c, seen)).collect();
                let passed = children.iter().filter(|c| c.holds).count();
                CondExplanation {
                    condition: if all { "all" } else { "any" }.to_owned(),
                    holds,
                    detail: format!("{passed} of {} hold", children.len()),
                    children,
                }
            }
            Cond::Not(c) => CondExplanation {
                condition: "not".to_owned(),
                holds,
                detail: String::new(),
                children: vec![self.explain_cond(c, seen)],
            },
            Cond::ClientIpIn(ids) => {
                let lists = names(ids, &|i| self.ip_lists.get(i).map(|l| l.name.clone()));
                let detail = if holds {
                    format!("{} is in {lists}", seen.client_ip)
                } else {
                    format!("{} is not in {lists}", seen.client_ip)
                };
                leaf(format!("client_ip_in {lists}"), detail)
            }
            Cond::OriginIn(ids) => {
                let lists = names(ids, &|i| self.origin_lists.get(i).map(|l| l.0.clone()));
                let detail = match (seen.origin_raw, holds) {
                    (None, _) => "the request has no Origin header".to_owned(),
                    (Some(o), true) => format!("`{o}` is in {lists}"),
                    (Some(o), false) => format!("`{o}` is not in {lists}"),
                };
                leaf(format!("origin_in {lists}"), detail)
            }
            Cond::HasOrigin(want) => leaf(
                format!("has_origin {want}"),
                match seen.origin_raw {
                    Some(_) => "the request has an Origin header".to_owned(),
                    None => "the request has no Origin header".to_owned(),
                },
            ),
            Cond::CountryIn(ids) => {
                let lists = names(ids, &|i| self.country_lists.get(i).map(|l| l.0.clone()));
                let detail = match seen.country {
                    None => "Cloudflare gave no country".to_owned(),
                    Some(c) => format!(
                        "country `{c}` is {}in {lists}",
                        if holds { "" } else { "not " }
                    ),
                };
                leaf(format!("country_in {lists}"), detail)
            }
            Cond::AsnIn(ids) => {
                let lists = names(ids, &|i| self.asn_lists.get(i).map(|l| l.0.clone()));
                let detail = match seen.asn {
                    None => "Cloudflare gave no ASN".to_owned(),
                    Some(a) => format!("AS{a} is {}in {lists}", if holds { "" } else { "not " }),
                };
                leaf(format!("asn_in {lists}"), detail)
            }
            Cond::HostIs(patterns) => {
                let list = patterns
                    .iter()
                    .map(|p| format!("`{}`", p.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ");
                leaf(
                    format!("host_is {list}"),
                    format!(
                        "host `{}` {}",
                        seen.host,
                        if holds { "matches" } else { "matches none" }
                    ),
                )
            }
            Cond::Path(patterns) => {
                let kind = match patterns.first() {
                    Some(PathPattern::Exact(_)) => "path_is",
                    Some(PathPattern::Under(_)) => "path_under",
                    _ => "path_matches",
                };
                let list = patterns
                    .iter()
                    .map(|p| format!("`{}`", p.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ");
                leaf(
                    format!("{kind} {list}"),
                    format!(
                        "path `{}` (normalised) {}",
                        seen.path,
                        if holds { "matches" } else { "matches none" }
                    ),
                )
            }
            Cond::MethodIs(set) => {
                let list = set
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                leaf(
                    format!("method_is {list}"),
                    format!(
                        "method `{}` {}",
                        seen.method,
                        if holds { "is listed" } else { "is not listed" }
                    ),
                )
            }
            Cond::Token(t) => {
                let issuer = self.issuers.get(t.issuer).map_or("?", |i| i.name.as_str());
                let (detail, children) = match seen.tokens.token(t.issuer) {
                    Err(e) => (format!("no valid token: {}", e.code()), Vec::new()),
                    Ok(claims) => (
                        "a valid token".to_owned(),
                        t.claims
                            .iter()
                            .map(|(path, pred)| CondExplanation {
                                condition: format!(
                                    "claim `{}` {}",
                                    claim_path(path),
                                    describe(pred)
                                ),
                                holds: jwt::predicate_holds(claims, path, pred),
                                detail: String::new(),
                                children: Vec::new(),
                            })
                            .collect(),
                    ),
                };
                CondExplanation {
                    condition: format!("token from `{issuer}`"),
                    holds,
                    detail,
                    children,
                }
            }
        }
    }
}

/// A claim test in words (the policy's values only).
/// A claim path as a policy writes it: names joined by dots, a name holding a dot in brackets
/// (`[https://corp.example/roles]`); a name holding a bracket as a JSON array of names.
fn claim_path(path: &[String]) -> String {
    if path.iter().any(|n| n.contains(['[', ']'])) {
        return serde_json::Value::from(path.to_vec()).to_string();
    }
    let names: Vec<String> = path
        .iter()
        .map(|n| {
            if n.contains('.') {
                format!("[{n}]")
            } else {
                n.clone()
            }
        })
        .collect();
    names.join(".")
}

fn describe(pred: &ClaimPredicate) -> String {
    let list = |v: &[String]| {
        v.iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match pred {
        ClaimPredicate::Equals(v) => format!("equals {v}"),
        ClaimPredicate::OneOf(vs) => format!(
            "is one of {}",
            vs.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ClaimPredicate::Contains(v) => format!("contains {v}"),
        ClaimPredicate::HasAll(v) => format!("has all of {}", list(v)),
        ClaimPredicate::HasAny(v) => format!("has any of {}", list(v)),
        ClaimPredicate::Exists(true) => "exists".to_owned(),
        ClaimPredicate::Exists(false) => "does not exist".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{HeaderList, NoLimits, NoTokens};

    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
    fn explains_each_rule_and_condition() {
        let text = r#"{
  "version": 1,
  "ip_lists": { "office": ["203.0.113.0/24"] },
  "origin_lists": { "apps": ["https://app.example.com"] },
  "rules": [
    { "id": "open-health", "action": "allow", "when": { "path_is": "/health" } },
    { "id": "admin", "action": "require", "when": { "path_under": "/admin" },
      "require": { "any": [ { "client_ip_in": "office" }, { "origin_in": "apps" } ] }, "status": 404 }
  ],
  "default": { "action": "allow" }
}"#;
        let policy = Policy::compile(text, "p.json").unwrap().policy;
        let headers = HeaderList::from_pairs([
            ("cf-connecting-ip", "198.51.100.7"),
            ("origin", "https://evil.example"),
        ]);
        let facts = RequestFacts {
            method: "GET",
            host: "api.example.com",
            path: "//admin/./users",
            query: None,
            headers: &headers,
            country: None,
            asn: None,
            tokens: &NoTokens,
            limits: &NoLimits,
        };
        let e = policy.explain(&facts, UnixTime(0));
        assert_eq!((e.decision.status, e.decision.code), (404, "ip_denied"));
        assert_eq!(
            e.seen.as_ref().map(|s| s.path.as_str()),
            Some("/admin/users")
        );
        assert_eq!(e.rules.len(), 2);
        let first = &e.rules[0];
        assert_eq!(
            (first.id, first.outcome),
            ("open-health", StepOutcome::NotApplicable)
        );
        let when = first.when.as_ref().unwrap();
        assert_eq!(
            (when.condition.as_str(), when.holds, when.detail.as_str()),
            (
                "path_is `/health`",
                false,
                "path `/admin/users` (normalised) matches none"
            )
        );
        let second = &e.rules[1];
        assert_eq!(second.outcome, StepOutcome::RequirementFailed);
        let req = second.require.as_ref().unwrap();
        assert_eq!(
            (req.condition.as_str(), req.holds, req.detail.as_str()),
            ("any", false, "0 of 2 hold")
        );
        let details: Vec<&str> = req.children.iter().map(|c| c.detail.as_str()).collect();
        assert_eq!(
            details,
            [
                "198.51.100.7 is not in `office`",
                "`https://evil.example` is not in `apps`"
            ]
        );
        // A precheck decides before any rule: nothing to explain but the decision.
        let bad = HeaderList::from_pairs([("cf-connecting-ip", "nope")]);
        let e = policy.explain(
            &RequestFacts {
                headers: &bad,
                ..facts
            },
            UnixTime(0),
        );
        assert_eq!(e.decision.code, "client_ip_invalid");
        assert!(e.rules.is_empty() && e.seen.is_none());
    }

    /// Claim paths are shown as a policy writes them, and read back to the same names.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
    fn claim_paths_are_shown_as_written() {
        let cases: &[(&[&str], &str)] = &[
            (&["sub"], "sub"),
            (&["realm_access", "roles"], "realm_access.roles"),
            (
                &["https://corp.example/roles"],
                "[https://corp.example/roles]",
            ),
            (
                &["https://corp.example/app", "tier"],
                "[https://corp.example/app].tier",
            ),
            (&["a[b]", "c"], r#"["a[b]","c"]"#),
        ];
        for (names, shown) in cases {
            let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
            assert_eq!(claim_path(&names), *shown);
            if !shown.starts_with("[\"") {
                assert_eq!(crate::policy::parse_claim_path(shown), Ok(names));
            }
        }
    }
}
