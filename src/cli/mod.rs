//! The `edge-access` command line: the operator's view of a policy, running the very same compiler, engine and
//! token checks as the Worker, natively.
//!
//! - `check`: validate a policy with compiler-quality diagnostics (file:line:column, snippet, caret, hint);
//! - `explain`: decide one request and show every rule and condition considered;
//! - `test`: run a cases file against a policy, like `opa test`;
//! - `schema`: print the policy format's JSON Schema;
//! - `token`: mint tokens (and generate keys) for local testing.
//!
//! Exit codes: 0 success, 1 an invalid policy, a failing case or a failed check, 2 a usage error (bad flags, a
//! file that cannot be read). The CLI never touches the network: remote JWKS come from local files.

/// `print!` / `println!` / `eprint!` / `eprintln!` that never panic: a closed pipe (`edge-access check | head`)
/// ends the output quietly instead.
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::emit(&mut std::io::stdout(), &format!($($t)*)) };
}
macro_rules! outln {
    ($($t:tt)*) => { $crate::cli::emit(&mut std::io::stdout(), &format!("{}\n", format_args!($($t)*))) };
}
macro_rules! errout {
    ($($t:tt)*) => { $crate::cli::emit(&mut std::io::stderr(), &format!($($t)*)) };
}
macro_rules! errln {
    ($($t:tt)*) => { $crate::cli::emit(&mut std::io::stderr(), &format!("{}\n", format_args!($($t)*))) };
}

mod cases;
mod check;
mod explain;
mod keys;
mod lint;
mod locate;
mod request;
mod schema;
mod sign;
mod time;
mod token;

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Why a command did not succeed; the exit code follows from the kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// Bad flags or inputs the command cannot work with (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The policy is invalid or a check failed (exit 1); details were already printed.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) => ExitCode::from(2),
            CliError::Failed(_) => ExitCode::from(1),
        }
    }
}

#[derive(Parser)]
#[command(
    name = "edge-access",
    version,
    about = "Check, explain and test edge-access policies; mint tokens for local testing",
    long_about = "Check, explain and test edge-access policies; mint tokens for local testing.\n\n\
        Runs the same policy compiler, engine and token checks as the Worker, natively. Never touches the \
        network: remote JWKS are read from local files (--jwks).\n\n\
        Exit codes: 0 success, 1 invalid policy or failing check, 2 usage error."
)]
struct Cli {
    /// Colour diagnostics: auto (when writing to a terminal and NO_COLOR is unset), always or never.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a policy: errors and warnings with file, line, column, snippet and hint.
    Check(check::Args),
    /// Decide one request and show every rule and condition the engine considered.
    Explain(explain::Args),
    /// Run a cases file against a policy and report every mismatch (like `opa test`).
    Test(cases::Args),
    /// Print the JSON Schema of the policy format.
    Schema(schema::Args),
    /// Mint a signed token for local testing, or generate a test key pair.
    Token(token::Args),
}

/// Output settings shared by the commands.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Colour on standard output.
    pub color_stdout: bool,
    /// Colour on standard error.
    pub color_stderr: bool,
}

impl Style {
    fn new(color: Color) -> Style {
        let allowed = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        match color {
            Color::Always => Style {
                color_stdout: true,
                color_stderr: true,
            },
            Color::Never => Style {
                color_stdout: false,
                color_stderr: false,
            },
            Color::Auto => Style {
                color_stdout: allowed && std::io::stdout().is_terminal(),
                color_stderr: allowed && std::io::stderr().is_terminal(),
            },
        }
    }
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
    let style = Style::new(cli.color);
    let result = match cli.command {
        Command::Check(args) => check::run(&args, style),
        Command::Explain(args) => explain::run(&args, style),
        Command::Test(args) => cases::run(&args, style),
        Command::Schema(args) => schema::run(&args),
        Command::Token(args) => token::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let message = e.to_string();
            if !message.is_empty() {
                errln!("error: {message}");
            }
            e.exit_code()
        }
    }
}

/// Writes text to a stream, ignoring errors (a closed pipe, a full disk): there is nowhere left to report them.
pub fn emit(stream: &mut impl std::io::Write, text: &str) {
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.flush();
}

/// Reads a text file, or says which one could not be read (a usage error).
pub fn read_text(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read `{}`: {e}", path.display())))
}

/// `NAME=VALUE` split at the first `=`, for `--secret`, `--jwks` and `--claim`.
pub fn split_assignment<'a>(text: &'a str, flag: &str) -> Result<(&'a str, &'a str), CliError> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => Ok((name.trim(), value)),
        _ => Err(CliError::Usage(format!(
            "`{text}` must be written NAME=VALUE for {flag}"
        ))),
    }
}

/// The closest known name for a misspelt one, as a " (did you mean `x`?)" suffix, or nothing.
pub fn did_you_mean<'a>(wanted: &str, known: impl Iterator<Item = &'a str>) -> String {
    known
        .map(|k| (strsim::damerau_levenshtein(wanted, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}
