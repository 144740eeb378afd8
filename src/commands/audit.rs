//! `speechops audit verify`: check the audit log's hash chain.

use crate::Outcome;
use crate::audit::{self, AuditError};
use crate::cli::{AuditCommand, GlobalArgs};
use crate::settings::Settings;

/// Runs `speechops audit ...`.
pub fn run(global: &GlobalArgs, cmd: &AuditCommand) -> anyhow::Result<Outcome> {
    let AuditCommand::Verify = cmd;
    let settings = Settings::resolve(global)?;
    let path = &settings.audit_log;
    if !path.exists() {
        anyhow::bail!("audit log {} does not exist", path.display());
    }
    // The lockfile anchors the last entry it was recorded with; a missing lockfile
    // just means there is no anchor to check.
    let lock = crate::state::Lockfile::load(&settings.lockfile)?;
    match audit::verify_against(path, lock.audit.as_ref()) {
        Ok((lines, head)) => {
            super::out(&format!(
                "{}: {lines} entries, hash chain intact (head {}).\n",
                path.display(),
                head.get(..16).unwrap_or(&head)
            ));
            Ok(Outcome::Success)
        }
        Err(e @ AuditError::Broken { .. }) => {
            eprintln!("error: {e}");
            Ok(Outcome::Failure)
        }
        Err(e) => Err(e.into()),
    }
}
