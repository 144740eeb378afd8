//! Rendering diagnostics for people: miette's graphical report (file:line:col, a
//! snippet with the offending text underlined, and the hint), one per problem.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use super::{Diagnostic, Severity};

/// One diagnostic in the shape miette renders.
#[derive(Debug)]
struct Report<'a> {
    diag: &'a Diagnostic,
    source: Option<NamedSource<String>>,
    span: Option<SourceSpan>,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.diag.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diag
            .hint
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            None, span,
        ))))
    }
}

/// Byte span of the token at 1-based `line`/`column` (columns count characters).
fn span_at(text: &str, line: u64, column: u64) -> Option<SourceSpan> {
    let line_idx = usize::try_from(line.checked_sub(1)?).ok()?;
    let mut start = 0usize;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i == line_idx {
            let l = l.trim_end_matches(['\n', '\r']);
            let col = usize::try_from(column.saturating_sub(1)).ok()?;
            let byte_col = l.char_indices().nth(col).map_or(l.len(), |(b, _)| b);
            let rest = &l[byte_col..];
            let len = token_len(rest, l[..byte_col].contains(['[', '{']));
            return Some(SourceSpan::new((start + byte_col).into(), len));
        }
        start += l.len();
    }
    None
}

/// Length in bytes of the YAML token at the start of `rest`: a quoted string, or a
/// plain scalar up to `: `, ` #` (or `,`/`]`/`}` inside a flow collection).
fn token_len(rest: &str, in_flow: bool) -> usize {
    let mut chars = rest.char_indices();
    if let Some((_, q @ ('"' | '\''))) = chars.next() {
        let mut escaped = false;
        for (i, c) in chars {
            if c == q && !escaped {
                return i + 1;
            }
            escaped = q == '"' && c == '\\' && !escaped;
        }
        return rest.len().max(1);
    }
    let mut end = rest.len();
    for pat in [": ", " #"] {
        if let Some(i) = rest.find(pat) {
            end = end.min(i);
        }
    }
    if rest.ends_with(':') {
        end = end.min(rest.len() - 1);
    }
    if in_flow && let Some(i) = rest.find([',', ']', '}']) {
        end = end.min(i);
    }
    rest[..end].trim_end().len().max(1)
}

/// Renders diagnostics as text reports, reading each file once for its snippets.
pub fn render_text(diags: &[Diagnostic], color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::none()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_context_lines(1);
    let mut sources: HashMap<PathBuf, Option<String>> = HashMap::new();
    let mut out = String::new();
    for d in diags {
        let mut report = Report {
            diag: d,
            source: None,
            span: None,
        };
        if let Some(loc) = &d.location {
            let text = sources
                .entry(loc.file.clone())
                .or_insert_with(|| {
                    // Huge or binary files get no snippet; the location is still shown.
                    // Only regular files: opening a FIFO would wait forever.
                    let meta = std::fs::metadata(&loc.file).ok()?;
                    if !meta.is_file() || meta.len() > super::load::MAX_FILE_BYTES {
                        return None;
                    }
                    std::fs::read_to_string(&loc.file).ok()
                })
                .clone();
            if let Some(text) = text.filter(|_| loc.line > 0) {
                report.span = span_at(&text, loc.line, loc.column);
                report.source = Some(NamedSource::new(loc.file.display().to_string(), text));
            }
        }
        let mut rendered = String::new();
        if report.span.is_none() || handler.render_report(&mut rendered, &report).is_err() {
            rendered = plain(d);
        }
        out.push_str(&rendered);
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// One-line form `file:line:col: severity[code]: message (hint)`.
pub fn plain(d: &Diagnostic) -> String {
    let loc = d
        .location
        .as_ref()
        .map(|l| format!("{}:{}:{}: ", l.file.display(), l.line, l.column))
        .unwrap_or_default();
    let sev = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let hint = d
        .hint
        .as_ref()
        .map(|h| format!("\n  help: {h}"))
        .unwrap_or_default();
    format!("{loc}{sev}[{}]: {}{hint}\n", d.code, d.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_the_token() {
        let text = "kind: Topic\nname: \"a b\" # c\ntags: [x, yy]\n";
        assert_eq!(span_at(text, 2, 7), Some(SourceSpan::new(18.into(), 5)));
        assert_eq!(span_at(text, 3, 11), Some(SourceSpan::new(38.into(), 2)));
        assert_eq!(span_at(text, 1, 1), Some(SourceSpan::new(0.into(), 4)));
        assert_eq!(span_at(text, 9, 1), None);
    }
}
