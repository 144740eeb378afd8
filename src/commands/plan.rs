//! `speechops plan`.

use crate::Outcome;
use crate::cli::{GlobalArgs, PlanArgs};

/// Runs `speechops plan`.
pub fn run(global: &GlobalArgs, args: &PlanArgs) -> anyhow::Result<Outcome> {
    let _ = (global, args);
    anyhow::bail!("`speechops plan` is not implemented yet")
}
