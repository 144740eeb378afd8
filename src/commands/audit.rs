//! `speechops audit verify`.

use crate::Outcome;
use crate::cli::{AuditCommand, GlobalArgs};

/// Runs `speechops audit ...`.
pub fn run(global: &GlobalArgs, cmd: &AuditCommand) -> anyhow::Result<Outcome> {
    let _ = (global, cmd);
    anyhow::bail!("`speechops audit verify` is not implemented yet")
}
