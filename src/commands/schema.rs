//! `speechops schema`.

use crate::Outcome;
use crate::cli::{GlobalArgs, SchemaArgs};

/// Runs `speechops schema`.
pub fn run(global: &GlobalArgs, args: &SchemaArgs) -> anyhow::Result<Outcome> {
    let _ = (global, args);
    anyhow::bail!("`speechops schema` is not implemented yet")
}
