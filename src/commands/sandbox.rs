//! `speechops sandbox serve`.

use crate::Outcome;
use crate::cli::{GlobalArgs, SandboxCommand};

/// Runs `speechops sandbox ...`.
pub fn run(global: &GlobalArgs, cmd: &SandboxCommand) -> anyhow::Result<Outcome> {
    let _ = (global, cmd);
    anyhow::bail!("`speechops sandbox serve` is not implemented yet")
}
