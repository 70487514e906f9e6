//! Validates and precompiles the bundled policy.
//!
//! The policy is `policy.json` at the repository root unless `EDGE_ACCESS_POLICY` names another file (relative
//! paths are read from the repository root). An invalid policy fails the build with every error named by file,
//! rule id and field, so `make dev`, `wrangler dev`, `wrangler deploy` and `make test` all refuse it. A valid
//! one is written to `OUT_DIR` in its compiled form (`Policy::to_compiled`), plus one precompiled range blob per
//! IP list and address family, which the Worker maps in without parsing: the Worker never parses the policy
//! file or runs the compiler, so neither is linked into it.

#![allow(dead_code, unused_imports)]

#[path = "src/policy/mod.rs"]
mod policy;
#[path = "src/token/mod.rs"]
mod token;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    println!("cargo:rerun-if-env-changed=EDGE_ACCESS_POLICY");
    println!("cargo:rerun-if-changed=src/policy");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    let (path, shown) = match std::env::var("EDGE_ACCESS_POLICY") {
        Ok(p) if !p.is_empty() => (manifest.join(&p), p),
        _ => (manifest.join("policy.json"), "policy.json".to_owned()),
    };
    println!("cargo:rerun-if-changed={}", path.display());
    match bundle(&path, &shown, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(lines) => {
            for line in lines {
                // stderr is shown when the build fails; the cargo:warning copy also reaches wrangler's output.
                eprintln!("error: {line}");
                println!("cargo:warning=error: {line}");
            }
            ExitCode::FAILURE
        }
    }
}

fn bundle(path: &Path, shown: &str, out: &Path) -> Result<(), Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![format!("cannot read policy `{}`: {e}", path.display())])?;
    let compiled = policy::Policy::compile(&text, shown).map_err(|e| {
        for w in &e.warnings {
            println!("cargo:warning=warning: {}", w.render(shown));
        }
        e.errors.iter().map(|d| d.render(shown)).collect::<Vec<_>>()
    })?;
    for w in &compiled.warnings {
        println!("cargo:warning=warning: {}", w.render(shown));
    }
    let io = |e: std::io::Error| vec![format!("cannot write the bundled policy: {e}")];

    let bytes = compiled
        .policy
        .to_compiled()
        .map_err(|e| vec![format!("cannot encode the compiled policy: {e}")])?;
    std::fs::write(out.join("policy.bin"), bytes).map_err(io)?;

    let mut lists = String::new();
    // `PrecompiledIpList` is in scope where this file is included (src/bundled.rs).
    for (i, list) in compiled.policy.ip_lists().iter().enumerate() {
        let set = &list.set;
        let blobs = [
            ("v4", set.v4_bytes()),
            ("v6", set.v6_bytes()),
            ("v4_index", set.v4_index_bytes()),
            ("v6_index", set.v6_index_bytes()),
        ];
        let _ = write!(lists, "    PrecompiledIpList {{ name: {:?}", list.name);
        for (field, bytes) in blobs {
            let file = format!("ip_{i}_{field}.bin");
            std::fs::write(out.join(&file), bytes).map_err(io)?;
            let _ = write!(
                lists,
                ", {field}: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{file}\"))"
            );
        }
        lists.push_str(" },\n");
    }
    let generated = format!(
        "pub(crate) const SOURCE_NAME: &str = {shown:?};\n\
         pub(crate) const FINGERPRINT: &str = {:?};\n\
         pub(crate) const POLICY_COMPILED: &[u8] = include_bytes!(concat!(env!(\"OUT_DIR\"), \"/policy.bin\"));\n\
         pub(crate) static IP_LISTS: &[crate::policy::PrecompiledIpList] = &[\n{lists}];\n",
        policy::fingerprint(&text)
    );
    std::fs::write(out.join("bundled.rs"), generated).map_err(io)?;
    Ok(())
}
