//! `speechops validate`.

use crate::Outcome;
use crate::cli::{GlobalArgs, ValidateArgs};

/// Runs `speechops validate`.
pub fn run(global: &GlobalArgs, args: &ValidateArgs) -> anyhow::Result<Outcome> {
    let _ = (global, args);
    anyhow::bail!("`speechops validate` is not implemented yet")
}
