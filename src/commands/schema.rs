//! `speechops schema`: print the JSON Schema of spec files (all kinds, or `--kind K`).
//!
//! The committed files under `schemas/` are this command's output; a test fails when
//! they are stale.

use crate::Outcome;
use crate::cli::{GlobalArgs, SchemaArgs};
use crate::model::Kind;
use crate::spec::schema::json_schema;

/// Runs `speechops schema`.
pub fn run(_global: &GlobalArgs, args: &SchemaArgs) -> anyhow::Result<Outcome> {
    let kind = match args.kind.as_deref() {
        None => None,
        Some(k) => Some(
            Kind::parse(k)
                .ok_or_else(|| anyhow::anyhow!("unknown kind {k:?}; expected {}", Kind::names()))?,
        ),
    };
    println!("{}", serde_json::to_string_pretty(&json_schema(kind))?);
    Ok(Outcome::Success)
}
