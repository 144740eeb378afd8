//! Spec files: loading YAML with spans, per-kind spec types, validation and diagnostics.
//!
//! [`load_tree`] walks a folder, parses every document of every `*.yaml`/`*.yml` file
//! ([`load`], [`yaml`]), checks it against its kind ([`kinds`], [`validate`]) and then
//! across the tree, and returns normalised objects plus every problem found, each
//! with a file:line:column. It never stops at the first problem and never panics.
//! [`diagnostics`] renders the problems for people.

pub mod diagnostics;
pub mod load;
pub mod schema;
pub mod validate;
pub mod yaml;

use std::path::{Path, PathBuf};

use crate::model::Object;

/// Where something is in a spec file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct SourceLocation {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in the spec tree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable machine-readable code, e.g. `topic.duplicate-phrase`.
    pub code: String,
    pub message: String,
    pub location: Option<SourceLocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `file:line:column`.
    pub fn new(
        severity: Severity,
        code: &str,
        message: String,
        file: &Path,
        (line, column): (u64, u64),
        hint: Option<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity,
            code: code.to_string(),
            message,
            location: Some(SourceLocation {
                file: file.to_path_buf(),
                line,
                column,
            }),
            hint,
        }
    }
}

/// One spec that loaded and validated, normalised.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub object: Object,
    /// `renamedFrom`: the previous name, for an in-place rename.
    pub renamed_from: Option<String>,
    /// Where the document starts.
    pub location: SourceLocation,
    /// Where it names outside objects: `(class, name, location)`.
    pub external: Vec<(&'static str, String, SourceLocation)>,
}

/// A spec file and the sha256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecFile {
    /// Path relative to the spec root, with `/` separators.
    pub path: String,
    pub sha256: String,
}

/// Everything loaded from a spec tree.
#[derive(Debug, Clone, Default)]
pub struct SpecTree {
    /// Specs sorted by (kind, name).
    pub specs: Vec<LoadedSpec>,
    /// Files sorted by path.
    pub files: Vec<SpecFile>,
    /// Every problem, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl SpecTree {
    /// True when the tree must not be used: any error, or any warning under `strict`.
    pub fn is_invalid(&self, strict: bool) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error || strict)
    }
}

/// Errors that stop loading altogether (the root itself is unreadable).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read spec directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("spec directory {path} is not a directory")]
    NotADirectory { path: PathBuf },
}

/// Loads and validates every spec under `dir`.
///
/// Specs come back normalised and sorted by (kind, name); a spec whose document has
/// errors is still returned when it could be read (so later checks can see it), but
/// [`SpecTree::is_invalid`] is then true. A spec repeating another's name is dropped.
pub fn load_tree(dir: &Path) -> Result<SpecTree, LoadError> {
    let mut diagnostics = Vec::new();
    let found = load::find_files(dir, &mut diagnostics)?;
    let results = load::load_files(dir, &found);
    let mut files = Vec::with_capacity(results.len());
    let mut entries = Vec::new();
    let mut broken = Vec::new();
    for r in results {
        files.extend(r.file);
        entries.extend(r.entries);
        broken.extend(r.broken);
        diagnostics.extend(r.diagnostics);
    }
    validate::qualify(&mut entries, &mut diagnostics);
    // Sorting by (kind, name, file, position) keeps the first-defined spec of a
    // duplicated name first, so the duplicate points back at it.
    entries.sort_by(|a, b| {
        (a.object.kind(), a.object.name(), &a.file, a.doc_pos).cmp(&(
            b.object.kind(),
            b.object.name(),
            &b.file,
            b.doc_pos,
        ))
    });
    let dropped = validate::tree(&entries, &broken, &mut diagnostics);
    let specs = entries
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !dropped.contains(i))
        .map(|(_, e)| LoadedSpec {
            external: e
                .external
                .into_iter()
                .map(|(class, name, (line, column))| {
                    let file = e.file.clone();
                    (class, name, SourceLocation { file, line, column })
                })
                .collect(),
            location: SourceLocation {
                file: e.file,
                line: e.doc_pos.0,
                column: e.doc_pos.1,
            },
            object: e.object,
            renamed_from: e.renamed_from,
        })
        .collect();
    files.sort_by(|a: &SpecFile, b: &SpecFile| a.path.cmp(&b.path));
    sort_diagnostics(&mut diagnostics);
    Ok(SpecTree {
        specs,
        files,
        diagnostics,
    })
}

/// Deterministic order: file, line, column, then severity, code and message.
fn sort_diagnostics(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.location, a.severity, &a.code, &a.message).cmp(&(
            &b.location,
            b.severity,
            &b.code,
            &b.message,
        ))
    });
}
