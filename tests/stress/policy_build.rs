//! The policy phase: `scripts/build.sh` with a broken policy (`EDGE_ACCESS_POLICY`) must fail, write no Worker, and
//! say on stderr which file, which rule (or IP list) and which field is wrong.
//!
//! The broken policies are `tests/e2e/policy.json` with one thing broken each, written to
//! `target/stress-policies/`. The builds use their own cargo target dir (`STRESS_POLICY_CARGO_DIR`, default
//! `target/stress-policy-cargo`) so they never invalidate the e2e Worker's build; the first run compiles the
//! dependencies there once (a few minutes), later runs take seconds per policy.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::{json, Value};

use crate::Report;

/// `(name, how to break the policy, what stderr must name)`. The file name is always required as well.
type Breakage = (&'static str, fn(&str) -> String, &'static [&'static str]);

fn edit(text: &str, f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(text).expect("tests/e2e/policy.json is JSON");
    f(&mut v);
    serde_json::to_string_pretty(&v).expect("serialise")
}

const BREAKAGES: &[Breakage] = &[
    (
        "bad-json",
        |t| t[..t.len() / 2].to_owned(),
        &["EOF while parsing"],
    ),
    (
        "unknown-condition",
        |t| {
            edit(t, |v| {
                let when = v["rules"][4]["when"].as_object_mut().unwrap();
                let path = when.remove("path_under").unwrap();
                when.insert("path_undr".into(), path);
            })
        },
        &["rules[4] (id `admin`)", "field `when`", "`path_undr`"],
    ),
    (
        "unknown-rule-field",
        |t| edit(t, |v| v["rules"][4]["statuss"] = json!(404)),
        &["rules[4] (id `admin`)", "`statuss`"],
    ),
    (
        "unknown-ip-list",
        |t| {
            edit(t, |v| {
                v["rules"][4]["require"]["client_ip_in"] = json!("ofice")
            })
        },
        &[
            "rules[4] (id `admin`)",
            "field `require.client_ip_in`",
            "`ofice`",
        ],
    ),
    (
        "bad-cidr",
        |t| edit(t, |v| v["ip_lists"]["office"][0] = json!("203.0.113.0/33")),
        &["ip_lists.office[0]", "`203.0.113.0/33`"],
    ),
];

pub fn phase(root: &Path, r: &mut Report) {
    let text =
        std::fs::read_to_string(root.join("tests/e2e/policy.json")).expect("read the e2e policy");
    let dir = root.join("target/stress-policies");
    std::fs::create_dir_all(&dir).expect("create target/stress-policies");
    let cargo_dir = std::env::var("STRESS_POLICY_CARGO_DIR").unwrap_or_else(|_| {
        root.join("target/stress-policy-cargo")
            .display()
            .to_string()
    });
    let out = root.join("target/stress-policy-out");
    for (name, breakage, needles) in BREAKAGES {
        let rel = format!("target/stress-policies/{name}.json");
        std::fs::write(root.join(&rel), breakage(&text)).expect("write a broken policy");
        let _ = std::fs::remove_dir_all(&out);
        let started = Instant::now();
        let run = Command::new(root.join("scripts/build.sh"))
            .arg("target/stress-policy-out")
            .current_dir(root)
            .env("EDGE_ACCESS_POLICY", &rel)
            .env("CARGO_TARGET_DIR", &cargo_dir)
            .output();
        let Ok(run) = run else {
            r.fail(format!("{name}: scripts/build.sh did not run: {run:?}"));
            continue;
        };
        let stderr = String::from_utf8_lossy(&run.stderr);
        // The policy errors build.rs printed (cargo repeats them under `--- stderr`; the first copy is enough).
        let errors: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("error: ") && l.contains(".json"))
            .collect();
        let first = errors.first().copied().unwrap_or("");
        let missing: Vec<&str> = std::iter::once(rel.as_str())
            .chain(needles.iter().copied())
            .filter(|n| !first.contains(n))
            .collect();
        let wrote_worker = out.join("index.js").exists();
        r.check(
            !run.status.success() && missing.is_empty() && !wrote_worker,
            format!(
                "policy {name}: build.sh exit {:?} in {:.1?}, Worker written: {wrote_worker}; stderr: {first}{}",
                run.status.code(),
                started.elapsed(),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!(" -- MISSING {missing:?}\n{stderr}")
                }
            ),
        );
    }
}
