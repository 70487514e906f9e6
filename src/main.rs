//! `edge-access`: the native CLI. It runs the very same engine as the Worker.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::path::PathBuf;
    use std::process::ExitCode;

    use clap::{Parser, Subcommand};
    use edge_access::engine::{HeaderList, RequestFacts, StepOutcome, UnixTime};
    use edge_access::policy::{Compiled, Policy};

    #[derive(Parser)]
    #[command(
        name = "edge-access",
        version,
        about = "Check and explain edge-access policies"
    )]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Validate a policy file and print its errors and warnings.
        Check {
            /// The policy file.
            #[arg(default_value = "policy.json")]
            policy: PathBuf,
        },
        /// Decide one request and show what each rule considered.
        Explain {
            #[arg(long, default_value = "policy.json")]
            policy: PathBuf,
            #[arg(long, default_value = "GET")]
            method: String,
            /// The request URL, e.g. https://api.example.com/admin/users
            #[arg(long)]
            url: String,
            /// The client IP (sent as CF-Connecting-IP).
            #[arg(long)]
            ip: Option<String>,
            #[arg(long)]
            origin: Option<String>,
            /// A request header, `Name: value`; repeatable.
            #[arg(long = "header")]
            headers: Vec<String>,
            #[arg(long)]
            country: Option<String>,
            #[arg(long)]
            asn: Option<u32>,
            /// Unix seconds used as "now" for time checks.
            #[arg(long, default_value_t = 0)]
            now: u64,
        },
    }

    pub fn main() -> ExitCode {
        let cli = match Cli::try_parse() {
            Ok(cli) => cli,
            Err(e) => {
                let _ = e.print();
                return if e.use_stderr() {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
        };
        match cli.command {
            Command::Check { policy } => match load(&policy) {
                Ok(c) => {
                    for w in &c.warnings {
                        eprintln!("warning: {}", w.render(&policy.display().to_string()));
                    }
                    println!(
                        "{}: ok ({} rules, {} warnings)",
                        policy.display(),
                        c.policy.rule_ids().count(),
                        c.warnings.len()
                    );
                    ExitCode::SUCCESS
                }
                Err(code) => code,
            },
            Command::Explain {
                policy,
                method,
                url,
                ip,
                origin,
                headers,
                country,
                asn,
                now,
            } => {
                let compiled = match load(&policy) {
                    Ok(c) => c,
                    Err(code) => return code,
                };
                let Some((host, path)) = split_url(&url) else {
                    eprintln!("error: `{url}` is not an absolute http(s) URL");
                    return ExitCode::from(2);
                };
                let mut list = HeaderList::default();
                if let Some(ip) = &ip {
                    list.append("cf-connecting-ip", ip);
                }
                if let Some(origin) = &origin {
                    list.append("origin", origin);
                }
                for h in &headers {
                    let Some((name, value)) = h.split_once(':') else {
                        eprintln!("error: header `{h}` must be written `Name: value`");
                        return ExitCode::from(2);
                    };
                    list.append(name.trim(), value.trim());
                }
                let facts = RequestFacts {
                    method: &method,
                    host,
                    path,
                    headers: &list,
                    country: country.as_deref(),
                    asn,
                    tokens: &edge_access::engine::NoTokens,
                    limits: &edge_access::engine::NoLimits,
                };
                let p = &compiled.policy;
                let d = p.evaluate(&facts, UnixTime(now));
                println!(
                    "{} {} (code `{}`, decided by {})",
                    if d.blocks() { "DENY" } else { "ALLOW" },
                    d.status,
                    d.code,
                    match d.rule_id() {
                        Some(id) => format!("rule `{id}`"),
                        None => format!("{:?}", d.decided_by).to_lowercase(),
                    }
                );
                let ids: Vec<&str> = p.rule_ids().collect();
                for step in &d.trace {
                    let what = match step.outcome {
                        StepOutcome::NotApplicable => "does not apply",
                        StepOutcome::Allowed => "allowed",
                        StepOutcome::Denied => "denied",
                        StepOutcome::RequirementMet => "requirement met",
                        StepOutcome::RequirementFailed => "requirement failed",
                        StepOutcome::WouldAllow => "would allow (report-only)",
                        StepOutcome::WouldDeny => "would deny (report-only)",
                        StepOutcome::WithinLimit => "within its rate limit",
                        StepOutcome::OverLimit => "over its rate limit",
                    };
                    println!(
                        "  rule `{}`: {what}",
                        ids.get(step.rule).copied().unwrap_or("?")
                    );
                }
                ExitCode::SUCCESS
            }
        }
    }

    /// `https://host:port/path?query` -> (`host:port`, `/path`). Deliberately simple; the Worker gets its path
    /// from the runtime's URL parser.
    fn split_url(url: &str) -> Option<(&str, &str)> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let path = path.split(['?', '#']).next().unwrap_or("/");
        Some((authority, if path.is_empty() { "/" } else { path }))
    }

    fn load(path: &PathBuf) -> Result<Compiled, ExitCode> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read `{shown}`: {e}");
                return Err(ExitCode::from(2));
            }
        };
        Policy::compile(&text, &shown).map_err(|e| {
            for w in &e.warnings {
                eprintln!("warning: {}", w.render(&shown));
            }
            for d in &e.errors {
                eprintln!("error: {}", d.render(&shown));
            }
            ExitCode::from(1)
        })
    }
}
