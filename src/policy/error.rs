//! Diagnostics of the policy compiler: errors and warnings that name the file, the rule and the field.
//!
//! A diagnostic keeps its location as data (a field path from the document root) so the CLI can point at the
//! exact spot in the file, and renders on one line for build output:
//! ``policy.json: rules[3] (id `admin`), field `when.client_ip_in`: unknown IP list `ofice` (did you mean `office`?)``.

use std::fmt;

/// One step of a field path from the document root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Error or warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding of the compiler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Field path from the document root, e.g. `rules`, `3`, `when`, `client_ip_in`.
    pub path: Vec<Segment>,
    /// Id of the rule the finding is about, when it is about one.
    pub rule_id: Option<String>,
    pub message: String,
    /// A suggestion, e.g. "did you mean `office`?".
    pub hint: Option<String>,
    /// 1-based line and column, when the JSON parser knows them (syntax and shape errors).
    pub position: Option<(usize, usize)>,
}

impl Diagnostic {
    /// The path as a JSON Pointer (RFC 6901), for locating the spot in the source text.
    pub fn json_pointer(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            out.push('/');
            match seg {
                Segment::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
                Segment::Index(i) => out.push_str(&i.to_string()),
            }
        }
        out
    }

    /// Where the finding is, without the file name: ``rules[3] (id `admin`), field `when.client_ip_in` ``.
    pub fn location(&self) -> String {
        let mut segs = self.path.iter().peekable();
        let mut out = String::new();
        if let (Some(Segment::Key(top)), Some(rule_id)) = (self.path.first(), &self.rule_id) {
            if top == "rules" {
                segs.next();
                if let Some(Segment::Index(i)) = segs.next() {
                    out.push_str(&format!("rules[{i}] (id `{rule_id}`)"));
                }
            }
        }
        let field = render_path(segs);
        match (out.is_empty(), field.is_empty()) {
            (true, _) => field,
            (false, true) => out,
            (false, false) => format!("{out}, field `{field}`"),
        }
    }
}

fn render_path<'a>(segs: impl Iterator<Item = &'a Segment>) -> String {
    let mut out = String::new();
    for seg in segs {
        match seg {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

impl Diagnostic {
    /// One line for build output: `file:line:col: location: message (hint)`.
    pub fn render(&self, source_name: &str) -> String {
        match self.position {
            Some((line, col)) => format!("{source_name}:{line}:{col}: {self}"),
            None => format!("{source_name}: {self}"),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loc = self.location();
        if !loc.is_empty() {
            write!(f, "{loc}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// A policy that did not compile: every error found, plus the warnings seen on the way.
#[derive(Debug, Clone)]
pub struct CompileError {
    /// The file name as the user gave it.
    pub source_name: String,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, e) in self.errors.iter().enumerate() {
            if n > 0 {
                writeln!(f)?;
            }
            f.write_str(&e.render(&self.source_name))?;
        }
        Ok(())
    }
}

impl std::error::Error for CompileError {}

/// Suggest the closest known name for a misspelt one. Only native builds (CLI, build.rs) suggest: the Worker
/// loads a policy the build already validated, so it carries no diagnostics code.
#[cfg(target_arch = "wasm32")]
pub(crate) fn did_you_mean<'a>(
    _wanted: &str,
    _known: impl Iterator<Item = &'a str>,
) -> Option<String> {
    None
}

/// Suggest the closest known name for a misspelt one.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn did_you_mean<'a>(
    wanted: &str,
    known: impl Iterator<Item = &'a str>,
) -> Option<String> {
    known
        .map(|k| (strsim::damerau_levenshtein(wanted, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| format!("did you mean `{k}`?"))
}
