//! `speechops import`.

use crate::Outcome;
use crate::cli::{GlobalArgs, ImportArgs};

/// Runs `speechops import`.
pub fn run(global: &GlobalArgs, args: &ImportArgs) -> anyhow::Result<Outcome> {
    let _ = (global, args);
    anyhow::bail!("`speechops import` is not implemented yet")
}
