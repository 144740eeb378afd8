//! Spec files: loading YAML with spans, per-kind spec types, validation and diagnostics.
//! (Stub: filled in by the foundation issue.)

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
    /// Stable machine-readable code, e.g. `speechrule.overlap`.
    pub code: String,
    pub message: String,
    pub location: Option<SourceLocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// One spec that loaded and validated, normalised.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub object: Object,
    /// `renamedFrom`: the previous name, for an in-place rename.
    pub renamed_from: Option<String>,
    /// Where the document starts.
    pub location: SourceLocation,
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
}

/// Loads and validates every spec under `dir`.
pub fn load_tree(dir: &Path) -> Result<SpecTree, LoadError> {
    let _ = dir;
    Ok(SpecTree::default())
}
