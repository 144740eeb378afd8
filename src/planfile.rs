//! Saved plans (`plan --out FILE`, `apply FILE`): a versioned JSON document holding
//! the plan, the fingerprint of the remote state it was computed against and the
//! sha256 of every spec file, so that apply can refuse a stale plan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::diff::Plan;
use crate::spec::SpecFile;

/// Current saved-plan format.
pub const FORMAT_VERSION: u32 = 1;

/// A saved plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SavedPlan {
    pub format_version: u32,
    /// speechops version that wrote the plan.
    pub speechops_version: String,
    pub target: String,
    pub fingerprint: String,
    pub prune: bool,
    /// Spec file path (relative to the spec root) -> sha256 of its bytes.
    pub specs: BTreeMap<String, String>,
    pub plan: Plan,
}

/// Errors reading a saved plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read plan file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a speechops plan file: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write plan file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl SavedPlan {
    /// Builds a saved plan from its parts.
    pub fn new(plan: &Plan, fingerprint: &str, prune: bool, files: &[SpecFile]) -> SavedPlan {
        SavedPlan {
            format_version: FORMAT_VERSION,
            speechops_version: env!("CARGO_PKG_VERSION").to_string(),
            target: plan.target.clone(),
            fingerprint: fingerprint.to_string(),
            prune,
            specs: spec_hashes(files),
            plan: plan.clone(),
        }
    }

    pub fn load(path: &Path) -> Result<SavedPlan, PlanFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlanFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let saved: SavedPlan = serde_json::from_str(&text).map_err(|e| PlanFileError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if saved.format_version != FORMAT_VERSION {
            return Err(PlanFileError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "formatVersion {} (this speechops reads {FORMAT_VERSION})",
                    saved.format_version
                ),
            });
        }
        Ok(saved)
    }

    pub fn save(&self, path: &Path) -> Result<(), PlanFileError> {
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        crate::state::write_atomic(path, json.as_bytes()).map_err(|source| PlanFileError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Spec files that were added, removed or changed since the plan was saved.
    pub fn changed_specs(&self, files: &[SpecFile]) -> Vec<String> {
        let now = spec_hashes(files);
        let mut changed: Vec<String> = self
            .specs
            .iter()
            .filter(|(p, h)| now.get(*p) != Some(*h))
            .map(|(p, _)| p.clone())
            .chain(now.keys().filter(|p| !self.specs.contains_key(*p)).cloned())
            .collect();
        changed.sort();
        changed.dedup();
        changed
    }
}

fn spec_hashes(files: &[SpecFile]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|f| (f.path.clone(), f.sha256.clone()))
        .collect()
}
