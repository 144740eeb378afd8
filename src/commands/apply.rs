//! `speechops apply`.

use crate::Outcome;
use crate::cli::{GlobalArgs, ApplyArgs};

/// Runs `speechops apply`.
pub fn run(global: &GlobalArgs, args: &ApplyArgs) -> anyhow::Result<Outcome> {
    let _ = (global, args);
    anyhow::bail!("`speechops apply` is not implemented yet")
}
