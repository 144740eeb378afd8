//! `speechops validate`: load and check every spec, print every problem at once.
//!
//! The report goes to stdout (it is the command's output, not a log): rich text
//! diagnostics and a summary line, or with `--format json` a JSON array. Exit 0 when
//! the tree is valid (warnings allowed unless `--strict`), 1 otherwise.

use std::io::Write;

use serde::Serialize;

use crate::Outcome;
use crate::cli::{Format, GlobalArgs, ValidateArgs};
use crate::settings::Settings;
use crate::spec::{self, Diagnostic, Severity, SpecTree};

/// One diagnostic in `--format json` (a flat, stable shape).
#[derive(Debug, Serialize)]
struct JsonDiagnostic<'a> {
    severity: Severity,
    code: &'a str,
    message: &'a str,
    file: Option<String>,
    line: Option<u64>,
    column: Option<u64>,
    hint: Option<&'a str>,
}

impl<'a> From<&'a Diagnostic> for JsonDiagnostic<'a> {
    fn from(d: &'a Diagnostic) -> Self {
        JsonDiagnostic {
            severity: d.severity,
            code: &d.code,
            message: &d.message,
            file: d
                .location
                .as_ref()
                .map(|l| l.file.to_string_lossy().replace('\\', "/")),
            line: d.location.as_ref().map(|l| l.line),
            column: d.location.as_ref().map(|l| l.column),
            hint: d.hint.as_deref(),
        }
    }
}

/// `3 errors, 1 warning in 12 files (24 specs)`.
pub fn summary(tree: &SpecTree) -> String {
    let errors = tree
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = tree.diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {} in {} ({})",
        plural(errors, "error"),
        plural(warnings, "warning"),
        plural(tree.files.len(), "file"),
        plural(tree.specs.len(), "spec"),
    )
}

/// Runs `speechops validate`.
pub fn run(global: &GlobalArgs, args: &ValidateArgs) -> anyhow::Result<Outcome> {
    let settings = Settings::resolve(global)?;
    let tree = spec::load_tree(&settings.rules_dir)?;
    let invalid = tree.is_invalid(args.strict);
    // A closed pipe (`speechops validate | head`) is not an error worth reporting.
    match print_report(global, args, &tree, invalid) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    Ok(if invalid {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

fn print_report(
    global: &GlobalArgs,
    args: &ValidateArgs,
    tree: &SpecTree,
    invalid: bool,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match global.format {
        Format::Json => {
            let items: Vec<JsonDiagnostic<'_>> = tree.diagnostics.iter().map(Into::into).collect();
            serde_json::to_writer_pretty(&mut out, &items)?;
            writeln!(out)?;
        }
        Format::Markdown => {
            // For a pull-request comment: a heading, the verdict, then the report in a
            // plain-text block (no colour codes).
            let verdict = if invalid { "❌ invalid" } else { "✅ valid" };
            writeln!(
                out,
                "### speechops validate\n\n{verdict}: {}\n",
                summary(tree)
            )?;
            if !tree.diagnostics.is_empty() {
                let report = spec::diagnostics::render_text(&tree.diagnostics, false);
                let fence = if report.contains("```") {
                    "````"
                } else {
                    "```"
                };
                writeln!(out, "{fence}text\n{}{fence}", report)?;
            }
        }
        Format::Text | Format::Csv | Format::Html => {
            let color = crate::commands::use_color(global);
            write!(
                out,
                "{}",
                spec::diagnostics::render_text(&tree.diagnostics, color)
            )?;
            let strict = if args.strict && !tree.diagnostics.is_empty() {
                " (--strict: warnings are errors)"
            } else {
                ""
            };
            let verdict = if invalid { "invalid" } else { "valid" };
            writeln!(out, "{verdict}: {}{strict}", summary(tree))?;
        }
    }
    out.flush()
}
