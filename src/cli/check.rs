//! `edge-access check`: validates a policy and prints compiler-quality diagnostics.
//!
//! Every finding of the compiler (and the extra warnings of [`super::lint`]) is shown with the file, line and
//! column, the offending line of the policy with a caret under the value at fault, the rule id and field path,
//! and the hint ("did you mean ..."). Errors and warnings are told apart by symbol, word and colour. `--format
//! json` prints one document for CI instead; `--format short` one line per finding for editors. Exit 0 when
//! valid (warnings allowed, unless `--strict`), 1 when invalid, 2 when the file cannot be read.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::process::ExitCode;

use edge_access::policy::file::PolicyFile;
use edge_access::policy::{Diagnostic, Policy, Severity};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};
use serde_json::{json, Value};

use super::{lint, locate, CliError, Style};

#[derive(clap::Args)]
pub struct Args {
    /// The policy file.
    #[arg(default_value = "policy.json")]
    policy: PathBuf,
    /// human: snippets with carets; short: one `file:line:col: severity: message` line per finding; json: one
    /// document `{valid, errors, warnings}` for CI.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit 1 on warnings too.
    #[arg(long)]
    strict: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Human,
    Short,
    Json,
}

pub fn run(args: &Args, style: Style) -> Result<ExitCode, CliError> {
    let text = super::read_text(&args.policy)?;
    let name = args.policy.display().to_string();
    let (errors, warnings, rules) = match Policy::compile(&text, &name) {
        Ok(compiled) => {
            let mut warnings = compiled.warnings;
            if let Ok(file) = serde_json::from_str::<PolicyFile>(&text) {
                warnings.extend(lint::extra_warnings(&compiled.policy, &file));
            }
            let rules = compiled.policy.rule_ids().count();
            (Vec::new(), warnings, Some(rules))
        }
        Err(e) => {
            let warnings = without_echoes(&e.errors, e.warnings);
            (e.errors, warnings, None)
        }
    };
    match args.format {
        Format::Json => {
            let doc = json!({
                "file": name,
                "valid": errors.is_empty(),
                "rules": rules,
                "errors": errors.iter().map(|d| as_json(d, &text)).collect::<Vec<_>>(),
                "warnings": warnings.iter().map(|d| as_json(d, &text)).collect::<Vec<_>>(),
            });
            outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Format::Short => {
            for d in errors.iter().chain(&warnings) {
                outln!("{}", short(d, &text, &name));
            }
            outln!("{}", summary(&name, errors.len(), warnings.len(), rules));
        }
        Format::Human => {
            let mut all = errors.clone();
            all.extend(warnings.iter().cloned());
            out!("{}", render_human(&all, &text, &name, style.color_stdout));
            outln!("{}", summary(&name, errors.len(), warnings.len(), rules));
        }
    }
    let failed = !errors.is_empty() || (args.strict && !warnings.is_empty());
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Drops "list `x` is not used by any rule" when an error already asks "did you mean `x`?": the list is
/// unused only because of that misspelling, and saying so twice hides the point.
pub fn without_echoes(errors: &[Diagnostic], warnings: Vec<Diagnostic>) -> Vec<Diagnostic> {
    warnings
        .into_iter()
        .filter(|w| {
            let Some(name) = first_quoted(&w.message) else {
                return true;
            };
            let unused = w.message.ends_with("is not used by any rule");
            let suggested = format!("did you mean `{name}`?");
            !(unused && errors.iter().any(|e| e.hint.as_deref() == Some(&suggested)))
        })
        .collect()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn summary(name: &str, errors: usize, warnings: usize, rules: Option<usize>) -> String {
    match rules {
        Some(rules) => format!(
            "{name}: valid ({}, {})",
            plural(rules, "rule"),
            plural(warnings, "warning")
        ),
        None => format!(
            "{name}: invalid ({}, {})",
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
    }
}

/// The byte span a diagnostic is about: from the parser's line and column, or else by walking its field path
/// through the text (narrowed to the list element the message names, when it names one).
pub fn span_of(d: &Diagnostic, text: &str) -> Option<Range<usize>> {
    let located = locate::locate_pointer(text, &d.json_pointer());
    if let Some((line, column)) = d.position {
        // A shape error (wrong type, unknown field) names a field that is in the text: point at it rather than
        // where the parser stopped; a syntax error has only the position.
        match located {
            Some(l) if l.exact && !d.path.is_empty() => {
                if d.message.starts_with("unknown field") {
                    return l.key.or(Some(l.span));
                }
                return Some(l.span);
            }
            _ => {
                let offset = locate::offset_of(text, line, column)?;
                return Some(locate::token_at(text, offset));
            }
        }
    }
    let located = located?;
    if let Some(name) = first_quoted(&d.message) {
        if let Some(span) = locate::narrow_to_element(text, &located, name) {
            return Some(span);
        }
    }
    Some(located.span)
}

/// The diagnostic's hint, or for the parser's "unknown field `x`, expected one of `a`, `b`" (and unknown
/// variants) the closest expected name.
pub fn hint_of(d: &Diagnostic) -> Option<String> {
    if d.hint.is_some() {
        return d.hint.clone();
    }
    if !(d.message.starts_with("unknown field") || d.message.starts_with("unknown variant")) {
        return None;
    }
    let wanted = first_quoted(&d.message)?;
    let (_, expected) = d.message.split_once("expected")?;
    let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let hint = super::did_you_mean(wanted, names.into_iter());
    let hint = hint.trim().trim_start_matches('(').trim_end_matches(')');
    (!hint.is_empty()).then(|| hint.to_owned())
}

/// A copy of the diagnostic with its hint filled in by [`hint_of`].
fn with_hint(d: &Diagnostic) -> Diagnostic {
    let mut d = d.clone();
    d.hint = hint_of(&d);
    d
}

/// The first name written in backticks in a message.
fn first_quoted(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once('`')?;
    rest.split_once('`').map(|(name, _)| name)
}

/// Line and column (1-based) of a diagnostic, when it can be placed.
fn line_col(d: &Diagnostic, text: &str) -> Option<(usize, usize)> {
    span_of(d, text).map(|s| locate::line_col(text, s.start))
}

fn severity_word(d: &Diagnostic) -> &'static str {
    match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn as_json(d: &Diagnostic, text: &str) -> Value {
    let (line, column) = match line_col(d, text) {
        Some((l, c)) => (Some(l), Some(c)),
        None => (None, None),
    };
    json!({
        "message": d.message,
        "path": d.json_pointer(),
        "location": d.location(),
        "rule": d.rule_id,
        "hint": hint_of(d),
        "line": line,
        "column": column,
    })
}

fn short(d: &Diagnostic, text: &str, name: &str) -> String {
    let d = &with_hint(d);
    match line_col(d, text) {
        Some((line, col)) => format!("{name}:{line}:{col}: {}: {d}", severity_word(d)),
        None => format!("{name}: {}: {d}", severity_word(d)),
    }
}

/// Longest source line shown in a snippet; a longer one (a minified policy) is named by position only.
const MAX_SNIPPET_LINE: usize = 400;

/// Diagnostics as miette renders them: the header, then the policy's lines around the spot with a caret and
/// the hint (or the message) as its label.
pub fn render_human(diags: &[Diagnostic], text: &str, name: &str, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_urls(false)
        .with_wrap_lines(false)
        .with_width(usize::MAX / 2);
    let source = NamedSource::new(name, text.to_owned()).with_language("json");
    let mut out = String::new();
    for d in diags {
        let d = &with_hint(d);
        let span = span_of(d, text);
        let shown = span
            .clone()
            .filter(|s| line_len_at(text, s.start) <= MAX_SNIPPET_LINE);
        let place = match (&shown, &span) {
            (None, Some(s)) => {
                let (l, c) = locate::line_col(text, s.start);
                format!("{name}:{l}:{c}: ")
            }
            (None, None) => format!("{name}: "),
            (Some(_), _) => String::new(),
        };
        // With a snippet the hint labels the caret; without one it stays in the header.
        let header = if shown.is_some() {
            format!("{}: {}", severity_word(d), NoHint(d))
        } else {
            format!("{place}{}: {d}", severity_word(d))
        };
        let report = Report {
            header,
            severity: match d.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            },
            label: shown.map(|s| {
                // The hint, or the message without the parser's list of expected names.
                let label = d.hint.clone().unwrap_or_else(|| {
                    d.message
                        .split(", expected one of")
                        .next()
                        .unwrap_or(&d.message)
                        .to_owned()
                });
                LabeledSpan::new_primary_with_span(Some(label), s)
            }),
            source: &source,
        };
        let _ = handler.render_report(&mut out, &report);
        out.push('\n');
    }
    out
}

fn line_len_at(text: &str, offset: usize) -> usize {
    let start = text
        .get(..offset)
        .and_then(|b| b.rfind('\n'))
        .map_or(0, |i| i + 1);
    text.get(start..)
        .map_or(0, |rest| rest.find('\n').unwrap_or(rest.len()))
}

/// A diagnostic's location and message, without the hint (the hint labels the caret).
struct NoHint<'a>(&'a Diagnostic);

impl fmt::Display for NoHint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loc = self.0.location();
        if !loc.is_empty() {
            write!(f, "{loc}: ")?;
        }
        f.write_str(&self.0.message)
    }
}

/// One diagnostic for miette.
struct Report<'a> {
    header: String,
    severity: miette::Severity,
    label: Option<LabeledSpan>,
    source: &'a NamedSource<String>,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.label.as_ref().map(|_| self.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.label
            .clone()
            .map(|l| Box::new(std::iter::once(l)) as Box<dyn Iterator<Item = LabeledSpan>>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_access::policy::Segment;

    fn diag(message: &str, hint: Option<&str>, path: &[&str]) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            path: path.iter().map(|k| Segment::Key((*k).to_owned())).collect(),
            rule_id: None,
            message: message.to_owned(),
            hint: hint.map(str::to_owned),
            position: None,
        }
    }

    #[test]
    fn hints_table() {
        const CASES: &[(&str, Option<&str>, Option<&str>)] = &[
            (
                "unknown IP list `ofice`",
                Some("did you mean `office`?"),
                Some("did you mean `office`?"),
            ),
            (
                "unknown field `whn`, expected one of `id`, `when`, `require`",
                None,
                Some("did you mean `when`?"),
            ),
            (
                "unknown variant `alow`, expected `allow` or `deny`",
                None,
                Some("did you mean `allow`?"),
            ),
            (
                "unknown field `zzzzzz`, expected one of `id`, `when`",
                None,
                None,
            ),
            ("invalid type: string \"1\", expected u32", None, None),
        ];
        for (message, hint, want) in CASES {
            assert_eq!(
                hint_of(&diag(message, *hint, &[])).as_deref(),
                *want,
                "message `{message}`"
            );
        }
    }

    #[test]
    fn spans_table() {
        let text = "{\n  \"a\": [\"x\", \"yy\"],\n  \"b\": {\"c\": 1}\n}";
        // message, path, position, underlined text
        type Case = (
            &'static str,
            &'static [&'static str],
            Option<(usize, usize)>,
            &'static str,
        );
        const CASES: &[Case] = &[
            ("unknown list `yy`", &["a"], None, "\"yy\""),
            ("unknown list `zz`", &["a"], None, "\"a\""),
            ("bad", &["b", "c"], None, "1"),
            ("missing", &["b", "d"], None, "\"b\""),
            ("unknown field `c`", &["b", "c"], Some((3, 12)), "\"c\""),
            ("invalid type", &["b", "c"], Some((3, 14)), "1"),
            ("trailing comma", &[], Some((4, 1)), "}"),
        ];
        for (message, path, position, want) in CASES {
            let mut d = diag(message, None, path);
            d.position = *position;
            let span = span_of(&d, text).unwrap();
            assert_eq!(text.get(span), Some(*want), "message `{message}`");
        }
    }
}
