//! `speechops state show | pull | unlock | migrate`: the state backend (SPEC 12.2).

use crate::Outcome;
use crate::audit::{self, AuditLog, Entry, RunInfo};
use crate::cli::{
    BackendArg, Format, GlobalArgs, StateCommand, StateMigrateArgs, StatePullArgs, StateUnlockArgs,
};
use crate::settings::{BackendName, Settings, StateConfig};
use crate::state::Lockfile;
use crate::state::backend::{Backend, Session, StateSettings};

/// Runs `speechops state ...`.
pub fn run(global: &GlobalArgs, cmd: &StateCommand) -> anyhow::Result<Outcome> {
    let settings = Settings::resolve(global)?;
    match cmd {
        StateCommand::Show => show(global, &settings),
        StateCommand::Pull(args) => pull(&settings, args),
        StateCommand::Unlock(args) => unlock(&settings, args),
        StateCommand::Migrate(args) => migrate(&settings, args),
    }
}

fn show(global: &GlobalArgs, settings: &Settings) -> anyhow::Result<Outcome> {
    let state = &settings.state;
    Session::read(state)?;
    let holder = Session::current_lock(state)?;
    let lock = Lockfile::load(&state.lockfile)?;
    let verdict = if state.audit.exists() {
        Some(audit::verify_against(&state.audit, lock.audit.as_ref()))
    } else {
        None
    };
    let targets: Vec<(String, usize)> = lock
        .targets
        .iter()
        .map(|(name, t)| (name.clone(), t.entries().len()))
        .collect();
    // The commit the last apply or import ran from (a clean tree), so CI can find the
    // pull requests merged since.
    let last_applied = match &verdict {
        Some(Ok(_)) => audit::read_entries(&state.audit)?
            .into_iter()
            .rev()
            .filter(|e| !STATE_ACTIONS.contains(&e.action.as_str()) && e.git_dirty != Some(true))
            .find_map(|e| e.git_commit),
        _ => None,
    };
    if global.format == Format::Json {
        let doc = serde_json::json!({
            "formatVersion": 1,
            "backend": state.backend.describe(),
            "lock": holder,
            "lastAppliedCommit": last_applied,
            "targets": targets.iter().map(|(n, c)| serde_json::json!({"name": n, "objects": c})).collect::<Vec<_>>(),
            "audit": match &verdict {
                None => serde_json::Value::Null,
                Some(Ok((entries, head))) => serde_json::json!({"ok": true, "entries": entries, "head": head}),
                Some(Err(e)) => serde_json::json!({"ok": false, "error": e.to_string()}),
            },
        });
        super::out(&format!("{}\n", serde_json::to_string_pretty(&doc)?));
        return Ok(Outcome::Success);
    }
    let mut text = format!("State backend: {}\n", state.backend.describe());
    if state.backend != Backend::File {
        text.push_str(&format!(
            "Working copy: {} and {}\n",
            state.lockfile.display(),
            state.audit.display()
        ));
    }
    text.push_str(&match &holder {
        Some(h) => format!("Lock: held by {}\n", h.describe()),
        None if state.backend == Backend::File => {
            "Lock: an OS lock while a run writes, released when it ends\n".to_string()
        }
        None => "Lock: free\n".to_string(),
    });
    if targets.is_empty() {
        text.push_str("Lockfile: no managed objects yet\n");
    }
    for (name, count) in &targets {
        text.push_str(&format!("Target {name}: {count} managed object(s)\n"));
    }
    text.push_str(&match &verdict {
        None => "Audit log: none yet\n".to_string(),
        Some(Ok((entries, head))) => {
            format!(
                "Audit log: intact, {entries} entries, head {}\n",
                short(head)
            )
        }
        Some(Err(e)) => format!("Audit log: BROKEN: {e}\n"),
    });
    super::out(&text);
    Ok(if matches!(verdict, Some(Err(_))) {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

/// Audit actions about the state itself, not a run over the specs.
const STATE_ACTIONS: [&str; 3] = ["force-unlock", "lock-expired", "state-migrate"];

fn short(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}

fn pull(settings: &Settings, args: &StatePullArgs) -> anyhow::Result<Outcome> {
    let state = &settings.state;
    Session::read(state)?;
    std::fs::create_dir_all(&args.out)?;
    let mut written = 0;
    for from in [&state.lockfile, &state.audit] {
        let Some(name) = from.file_name() else {
            continue;
        };
        let to = args.out.join(name);
        let Ok(bytes) = std::fs::read(from) else {
            continue;
        };
        if std::fs::canonicalize(&to).ok() == std::fs::canonicalize(from).ok() {
            continue;
        }
        if let Ok(existing) = std::fs::read(&to)
            && existing != bytes
            && !args.force
        {
            anyhow::bail!(
                "{} exists and differs from the backend's; nothing was written (--force replaces it)",
                to.display()
            );
        }
        crate::state::write_atomic(&to, &bytes)?;
        super::out(&format!("{}\n", to.display()));
        written += 1;
    }
    super::out(&format!(
        "Pulled {written} file(s) from {}.\n",
        state.backend.describe()
    ));
    Ok(Outcome::Success)
}

fn unlock(settings: &Settings, args: &StateUnlockArgs) -> anyhow::Result<Outcome> {
    let state = &settings.state;
    if state.backend == Backend::File {
        super::out(
            "The file backend's lock is an OS lock, released when the run holding it ends; \
there is nothing to unlock.\n",
        );
        return Ok(Outcome::Success);
    }
    if !args.force {
        return Ok(match Session::current_lock(state)? {
            None => {
                super::out("The state lock is free.\n");
                Outcome::Success
            }
            Some(h) => {
                eprintln!(
                    "error: the state lock is held by {}. If that run is gone (its runner was \
killed), remove the lock with --force --reason TEXT; the removal is recorded in the audit log",
                    h.describe()
                );
                Outcome::Refused
            }
        });
    }
    let reason = args.reason.as_deref().unwrap_or_default().trim();
    if reason.is_empty() {
        anyhow::bail!("--force needs a --reason: it is recorded in the audit log");
    }
    let Some(holder) = Session::break_lock(state)? else {
        super::out("The state lock is free; nothing was removed.\n");
        return Ok(Outcome::Success);
    };
    let run = RunInfo::detect(&settings.target_name, &settings.rules_dir);
    let session = Session::write(state, "unlock", &run.actor)?;
    record(
        state,
        &run,
        "force-unlock",
        format!("removed the state lock of {}: {reason}", holder.describe()),
    )?;
    session.release(&format!("speechops: force-unlock by {}", run.actor))?;
    super::out(&format!(
        "Removed the state lock of {}; recorded in the audit log.\n",
        holder.describe()
    ));
    Ok(Outcome::Success)
}

/// Records in the audit log that `session` took over a lock whose lease had run out
/// (a run that was killed without releasing it).
pub fn record_takeover(settings: &Settings, session: &Session) -> anyhow::Result<()> {
    let Some(holder) = session.taken_over() else {
        return Ok(());
    };
    let run = RunInfo::detect(&settings.target_name, &settings.rules_dir);
    record(
        &settings.state,
        &run,
        "lock-expired",
        format!(
            "took over the state lock of {}: older than its lease",
            holder.describe()
        ),
    )
}

/// Appends one entry about the state itself (no remote object) to the working copy.
fn record(
    state: &StateSettings,
    run: &RunInfo,
    action: &str,
    message: String,
) -> anyhow::Result<()> {
    let mut lock = Lockfile::load(&state.lockfile)?;
    let mut log = AuditLog::open(&state.audit, lock.audit.as_ref())?;
    log.append(Entry {
        ts: audit::now_rfc3339(),
        actor: run.actor.clone(),
        run_id: run.run_id.clone(),
        git_commit: run.git_commit.clone(),
        git_dirty: run.git_dirty,
        target: run.target.clone(),
        action: action.to_string(),
        status: "ok".to_string(),
        message: Some(message),
        ..Entry::default()
    })?;
    lock.audit = log.head();
    lock.save(&state.lockfile)?;
    Ok(())
}

fn migrate(settings: &Settings, args: &StateMigrateArgs) -> anyhow::Result<Outcome> {
    let cfg = StateConfig {
        backend: match args.to {
            BackendArg::File => BackendName::File,
            BackendArg::Git => BackendName::Git,
            BackendArg::Http => BackendName::Http,
        },
        branch: args.branch.clone(),
        remote: args.remote.clone(),
        address: args.address.clone(),
        lock_address: args.lock_address.clone(),
        unlock_address: args.unlock_address.clone(),
        update_method: None,
        lock_method: args.lock_method.clone(),
        unlock_method: args.unlock_method.clone(),
        username_env: args.username_env.clone(),
        password_env: args.password_env.clone(),
        lease_minutes: None,
    };
    let from = &settings.state;
    let to = settings
        .state_base
        .settings_for(&cfg)
        .map_err(|e| anyhow::anyhow!("--to {}: {e}", backend_word(args.to)))?;
    if to.backend == from.backend {
        anyhow::bail!("the state is already in {}", from.backend.describe());
    }
    let run = RunInfo::detect(&settings.target_name, &settings.rules_dir);
    let source = Session::write(from, "migrate", &run.actor)?;
    let dest = match Session::write(&to, "migrate", &run.actor) {
        Ok(d) => d,
        Err(e) => {
            source.release("speechops: state migration failed; kept as it was")?;
            return Err(e.into());
        }
    };
    let copied = (|| -> anyhow::Result<()> {
        if to.lockfile.exists() || to.audit.exists() {
            anyhow::bail!(
                "{} already holds state; nothing was copied (move it away first)",
                to.backend.describe()
            );
        }
        for (f, t) in [(&from.lockfile, &to.lockfile), (&from.audit, &to.audit)] {
            if let Ok(bytes) = std::fs::read(f) {
                crate::state::write_atomic(t, &bytes)?;
            }
        }
        record(
            &to,
            &run,
            "state-migrate",
            format!(
                "state copied from {} to {}",
                from.backend.describe(),
                to.backend.describe()
            ),
        )
    })();
    let sent = dest.release(&format!(
        "speechops: state migrated from {}",
        from.backend.describe()
    ));
    source.release("speechops: state migrated away (kept as it was)")?;
    copied?;
    sent?;
    super::out(&format!(
        "Copied the state from {} to {}. Now set `state: {{backend: {}}}` in speechops.yaml \
(with the same settings), and once that is merged remove the old copy.\n",
        from.backend.describe(),
        to.backend.describe(),
        backend_word(args.to)
    ));
    Ok(Outcome::Success)
}

fn backend_word(b: BackendArg) -> &'static str {
    match b {
        BackendArg::File => "file",
        BackendArg::Git => "git",
        BackendArg::Http => "http",
    }
}
