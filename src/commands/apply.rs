//! `speechops apply [PLANFILE]`: plan (or check a saved plan), enforce the guards,
//! confirm, execute, record, notify.

use std::io::{BufRead, IsTerminal, Write};

use crate::Outcome;
use crate::audit::{AuditLog, RunInfo};
use crate::cli::{ApplyArgs, Format, GlobalArgs};
use crate::diff::{Desired, Plan, ReviewedPlan};
use crate::executor::{self, ExecOptions, Recorder, Report, Status};
use crate::notify;
use crate::planfile::SavedPlan;
use crate::settings::Settings;
use crate::spec::SpecTree;
use crate::state::backend::Session;
use crate::state::{ApplyLock, Lockfile, StateError};

/// Runs `speechops apply`.
pub fn run(global: &GlobalArgs, args: &ApplyArgs) -> anyhow::Result<Outcome> {
    let settings = Settings::resolve(global)?;
    // A signing key that is set but unusable fails before anything is written.
    crate::audit::signing_key()?;
    let saved = args.planfile.as_deref().map(SavedPlan::load).transpose()?;
    let reviewed = reviewed_plans(&args.reviewed)?;
    let Some(mut tree) = super::load_valid_specs(&settings, global)? else {
        return Ok(Outcome::Failure);
    };
    let mut desired = super::plan::take_desired(&mut tree);
    // The detection tests that fail a plan fail an apply too, before anything is sent.
    if !detection_tests_pass(&settings, &desired)? {
        return Ok(Outcome::Failure);
    }
    if let Some(saved) = &saved
        && !saved_plan_fits_tree(saved, &settings, &tree)
    {
        return Ok(Outcome::Refused);
    }
    if !args.auto_approve && !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "apply needs --auto-approve when stdin is not a terminal (as in CI); nothing was changed"
        );
    }

    let holder = format!(
        "pid {} of {} started {}",
        std::process::id(),
        RunInfo::detect(&settings.target_name, &settings.rules_dir).actor,
        crate::audit::now_rfc3339()
    );
    let _lock = match ApplyLock::acquire_state(&settings.lockfile, &settings.audit_log, &holder) {
        Ok(l) => l,
        Err(e @ StateError::LockHeld { .. }) => {
            eprintln!("error: {e}");
            return Ok(Outcome::Refused);
        }
        Err(e) => return Err(e.into()),
    };
    // The state backend's lock (across machines) once this machine's is ours.
    let session = match Session::write(&settings.state, "apply", &holder) {
        Ok(s) => s,
        Err(e @ StateError::BackendLockHeld { .. }) => {
            eprintln!("error: {e}");
            return Ok(Outcome::Refused);
        }
        Err(e) => return Err(e.into()),
    };
    super::state::record_takeover(&settings, &session)?;
    let outcome = apply_locked(
        global,
        args,
        &settings,
        (saved.as_ref(), reviewed.as_ref()),
        &mut desired,
    );
    // The state goes back to the backend whatever happened: every audit entry this
    // run wrote is kept, and the lock is released.
    let message = format!(
        "speechops: apply by {} ({})",
        RunInfo::detect(&settings.target_name, &settings.rules_dir).actor,
        match &outcome {
            Ok(o) => format!("exit {}", o.code()),
            Err(_) => "failed".to_string(),
        }
    );
    if let Err(e) = session.release(&message) {
        if let Err(first) = &outcome {
            eprintln!("error: {first:#}");
        }
        return Err(e.into());
    }
    outcome
}

/// The part of apply that runs under the lock.
fn apply_locked(
    global: &GlobalArgs,
    args: &ApplyArgs,
    settings: &Settings,
    (saved, reviewed): (Option<&SavedPlan>, Option<&ReviewedPlan>),
    desired: &mut [Desired],
) -> anyhow::Result<Outcome> {
    // Killed runs' half-written state files go once the lock is ours.
    let cleaned = crate::state::clean_stale_temps(&settings.lockfile);
    if cleaned > 0 {
        tracing::info!("removed {cleaned} temporary file(s) left by killed runs");
    }
    // Read state only once the lock is ours: a concurrent apply may just have written it.
    let mut lock = Lockfile::load(&settings.lockfile)?;
    let audit = AuditLog::open(&settings.audit_log, lock.audit.as_ref())?;
    let prune = saved
        .as_ref()
        .map_or(args.prune || settings.prune, |s| s.prune);

    let rt = super::runtime()?;
    rt.block_on(async {
        let conn = super::connect(settings, args.parallelism).await?;
        let org_id = super::org_id(&conn.client).await;
        if !super::plan::locate_state(&mut lock, &settings.target_name, org_id.as_deref()) {
            return Ok(Outcome::Refused);
        }
        let mut target_state = lock.target(&settings.target_name);
        let (mut plan, remote) =
            super::plan::compute(&conn.client, settings, desired, &mut target_state, prune).await?;
        // Entries moved to their identity (a lockfile from before topic identity
        // carried the dialect) are saved with this run.
        if lock.targets.contains_key(&settings.target_name) {
            lock.targets
                .insert(settings.target_name.clone(), target_state.clone());
        }
        let mut run = RunInfo::detect(&settings.target_name, &settings.rules_dir);
        run.org_id = org_id;
        let mut recorder = Recorder::new(lock, settings.lockfile.clone(), audit, run);
        if let Some(reviewed) = reviewed {
            recorder.set_reviews(
                reviewed
                    .changes
                    .iter()
                    .filter_map(|c| {
                        let pr = serde_json::from_value(c.pull_request.clone()?).ok()?;
                        Some(((c.kind, c.name.clone()), pr))
                    })
                    .collect(),
            );
        }
        // Writes an earlier run began but never recorded the end of (it was killed)
        // are resolved against the org before anything else happens.
        for line in recorder.resolve_intents(&remote, desired)? {
            eprintln!("note: {line}");
        }
        // A section moved to this target's name, or an org id recorded for the first
        // time, is kept even if nothing else changes (a no-op when nothing did).
        recorder.flush()?;
        if let Some(saved) = &saved
            && !saved_plan_fits_org(saved, &plan, &remote.fingerprint)
        {
            return Ok(Outcome::Refused);
        }
        let overrides = super::plan::overrides(settings, &args.overrides);
        plan.overrides = overrides;
        // Changes reviewed whose objects moved since: the rest is applied, then exit 3.
        let mut moved = false;
        if let Some(reviewed) = reviewed {
            match keep_reviewed(&mut plan, reviewed) {
                None => return Ok(Outcome::Refused),
                Some(m) => moved = m,
            }
            if moved && !plan.has_changes() {
                return Ok(Outcome::Refused);
            }
        }
        if !plan.errors.is_empty() || !plan.blocking(overrides).is_empty() {
            super::plan::print_plan(global, &plan, &remote.fingerprint);
            return Ok(super::plan::refusal(&plan, overrides).unwrap_or(Outcome::Refused));
        }
        if global.format != Format::Json {
            super::plan::print_plan(global, &plan, &remote.fingerprint);
        }
        let stale_entries = target_state
            .entries()
            .iter()
            .any(|(k, _, e)| remote.by_id(*k, &e.id).is_none());
        if !plan.has_changes() && !stale_entries {
            if global.format == Format::Json {
                print_json(&plan.target, &Report::default());
            }
            return Ok(Outcome::Success);
        }
        if !args.auto_approve && !confirm()? {
            println!("Apply cancelled; nothing was changed.");
            return Ok(Outcome::Failure);
        }

        let opts = ExecOptions {
            atomic: args.atomic,
            parallelism: usize::from(args.parallelism),
        };
        let (progress, listener) = progress(plan.changes.len());
        let mut report = executor::Report::with_listener(Some(listener));
        let run = executor::execute(
            &conn.client,
            &plan,
            &remote,
            &mut recorder,
            &opts,
            &mut report,
        )
        .await;
        progress.finish_and_clear();
        report.sort();
        // The state could not be recorded (a full disk): say what was done before
        // that, and what never started, then the error.
        if let Err(e) = run {
            match global.format {
                Format::Json => print_json(&plan.target, &report),
                _ => print_report(&report, true),
            }
            let started = report.results.len();
            let never = plan.changes.len().saturating_sub(started);
            eprintln!(
                "apply stopped: the state could not be recorded after {started} result(s); \
{never} planned change(s) were not attempted"
            );
            return Err(e.into());
        }
        notify_all(settings, &plan, &mut report, &mut recorder, &remote).await?;
        recorder.flush()?;
        match global.format {
            Format::Json => print_json(&plan.target, &report),
            _ => print_report(&report, false),
        }
        Ok(if report.failed() {
            Outcome::Failure
        } else if moved {
            Outcome::Refused
        } else {
            Outcome::Success
        })
    })
}

/// The reviewed plans of `--reviewed`, as one: every change of each, the union of
/// their overrides, and the digest when there is just one.
fn reviewed_plans(paths: &[std::path::PathBuf]) -> anyhow::Result<Option<ReviewedPlan>> {
    let mut all: Option<ReviewedPlan> = None;
    for path in paths {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let one = ReviewedPlan::from_text(&text).ok_or_else(|| {
            anyhow::anyhow!(
                "{} holds no speechops plan (no `speechops-digest` marker): it was never \
reviewed; nothing was changed",
                path.display()
            )
        })?;
        all = Some(match all {
            None => one,
            Some(mut acc) => {
                // Several plans: only their changes count, never one digest.
                acc.digest.clear();
                for c in one.changes {
                    if !acc.changes.iter().any(|a| a.key == c.key) {
                        acc.changes.push(c);
                    }
                }
                for o in one.overrides {
                    if !acc.overrides.contains(&o) {
                        acc.overrides.push(o);
                    }
                }
                acc
            }
        });
    }
    if let Some(acc) = &mut all {
        acc.overrides.sort();
    }
    Ok(all)
}

/// Cuts the plan down to the changes reviewed whose objects are as they were at review
/// and prints what was left out. `None`: nothing may be applied (the guard overrides
/// changed since review); `Some(true)`: some reviewed changes moved and were left out.
fn keep_reviewed(plan: &mut Plan, reviewed: &ReviewedPlan) -> Option<bool> {
    let flags: Vec<String> = plan
        .overrides
        .flags()
        .iter()
        .map(|f| f.to_string())
        .collect();
    if flags != reviewed.overrides {
        eprintln!(
            "error: the guard overrides are `{}` now but were `{}` when the plan was reviewed; \
nothing was applied. Plan again so the overrides are reviewed",
            flags.join(" "),
            reviewed.overrides.join(" ")
        );
        return None;
    }
    let now = plan.digest();
    if now == reviewed.digest {
        return Some(false);
    }
    let r = plan.restrict(&reviewed.changes);
    eprintln!(
        "note: the plan changed since review (digest {} is now {}); applying the {} reviewed \
change(s) whose objects are as they were",
        short(&reviewed.digest),
        short(&now),
        plan.changes.len()
    );
    for label in &r.done {
        eprintln!("note: already as reviewed, nothing to do: {label}");
    }
    for label in &r.unreviewed {
        eprintln!(
            "note: not applied, never reviewed: {label} (the org or the repository changed \
since review; the next plan and the drift check show it)"
        );
    }
    for label in &r.moved {
        eprintln!(
            "error: not applied, its object moved since review: {label}; review a new plan \
of it (re-run the pull request's plan, or open a new one) before it is applied"
        );
    }
    Some(!r.moved.is_empty())
}

/// Runs the detection tests, if the repository has any. False when one fails or a
/// test file is invalid (both are reported on stderr).
fn detection_tests_pass(settings: &Settings, desired: &[Desired]) -> anyhow::Result<bool> {
    if !settings.tests_dir.is_dir() {
        return Ok(true);
    }
    let objects: Vec<&crate::model::Object> = desired.iter().map(|d| &*d.object).collect();
    match super::test::run_tests(&settings.tests_dir, &objects)? {
        Some(report) if report.ok() => Ok(true),
        Some(report) => {
            eprint!("{}", crate::testing::text(&report));
            eprintln!("error: detection tests failed; nothing was changed");
            Ok(false)
        }
        None => Ok(false),
    }
}

/// A saved plan applies only to its own target and to the spec files it was made
/// from. Prints why when it does not.
fn saved_plan_fits_tree(saved: &SavedPlan, settings: &Settings, tree: &SpecTree) -> bool {
    if saved.target != settings.target_name {
        eprintln!(
            "error: the plan was made for target {:?}, not {:?}; refusing to apply it",
            saved.target, settings.target_name
        );
        return false;
    }
    let changed = saved.changed_specs(&tree.files);
    if !changed.is_empty() {
        eprintln!(
            "error: stale plan: spec files changed since the plan was saved: {}. \
Run `speechops plan --out FILE` again.",
            changed.join(", ")
        );
        return false;
    }
    true
}

/// A saved plan applies only while the org is as it was when the plan was made, and
/// while the plan computed now has the same changes. Prints why when it does not.
fn saved_plan_fits_org(saved: &SavedPlan, plan: &Plan, fingerprint: &str) -> bool {
    if saved.fingerprint != fingerprint {
        eprintln!(
            "error: stale plan: the org changed since the plan was saved \
(fingerprint {} is now {}). Run `speechops plan --out FILE` again.",
            short(&saved.fingerprint),
            short(fingerprint)
        );
        return false;
    }
    let key = |p: &Plan| -> Vec<(
        crate::diff::Action,
        crate::model::Kind,
        String,
        Option<String>,
    )> {
        p.changes
            .iter()
            .map(|c| (c.action, c.kind, c.name.clone(), c.id.clone()))
            .collect()
    };
    if key(&saved.plan) != key(plan) {
        eprintln!(
            "error: stale plan: the plan computed now differs from the saved one (the \
lockfile or the config changed since it was saved). Run `speechops plan --out FILE` again."
        );
        return false;
    }
    true
}

fn short(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}

/// Guards tripped by the plan and not overridden; prints why and how to proceed.
fn confirm() -> anyhow::Result<bool> {
    print!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// A progress bar on a terminal; plain log lines on stderr otherwise (CI logs).
fn progress(len: usize) -> (indicatif::ProgressBar, executor::Listener) {
    let tty = std::io::stderr().is_terminal();
    let bar = if tty {
        let pb = indicatif::ProgressBar::new(len as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
        {
            pb.set_style(style);
        }
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
    let handle = bar.clone();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let undone = std::sync::atomic::AtomicUsize::new(0);
    let listener: executor::Listener = std::sync::Arc::new(move |r| {
        use std::sync::atomic::Ordering::Relaxed;
        // A rollback step is numbered on its own: the plan's changes stay N of `len`.
        let rollback = matches!(r.status, Status::RolledBack | Status::RollbackFailed(_))
            || r.action.starts_with("rollback-");
        let step = if rollback {
            format!("rollback {}", undone.fetch_add(1, Relaxed) + 1)
        } else {
            format!("{}/{len}", (done.fetch_add(1, Relaxed) + 1).min(len))
        };
        let status = match &r.status {
            Status::Done => "done",
            Status::Failed(_) => "FAILED",
            Status::NotAttempted => "not attempted",
            Status::RolledBack => "rolled back",
            Status::RollbackFailed(_) => "ROLLBACK FAILED",
        };
        let line = format!("[{step}] {} {} {:?}: {status}", r.action, r.kind, r.name);
        if tty {
            if !rollback {
                handle.inc(1);
            }
            handle.set_message(line);
        } else {
            eprintln!("{line}");
        }
    });
    (bar, listener)
}

async fn notify_all(
    settings: &Settings,
    plan: &Plan,
    report: &mut Report,
    recorder: &mut Recorder,
    remote: &crate::remote::RemoteState,
) -> anyhow::Result<()> {
    let writes = report.standing_writes();
    if writes.is_empty() || settings.notify.is_empty() {
        return Ok(());
    }
    let state = recorder.target_state();
    let event = notify::Event {
        event: "rules.updated",
        target: plan.target.clone(),
        changes: writes
            .iter()
            .map(|r| notify::EventChange {
                kind: r.kind.as_str().to_string(),
                name: r.name.clone(),
                id: r.id.clone(),
                action: r.action.clone(),
                date_modified: state
                    .get(r.kind, &r.name)
                    .and_then(|e| e.date_modified.clone())
                    .or_else(|| {
                        r.id.as_deref()
                            .and_then(|id| remote.by_id(r.kind, id))
                            .and_then(|o| o.date_modified.clone())
                    }),
            })
            .collect(),
    };
    for receiver in &settings.notify {
        let shown = notify::redacted_url(&receiver.url);
        match notify::send(receiver, &event).await {
            Ok(()) => recorder.record_notify(&shown, true, None)?,
            Err(msg) => {
                eprintln!("warning: notification to {shown} failed: {msg}");
                recorder.record_notify(&shown, false, Some(msg.clone()))?;
                report.notify_warnings.push(format!("{shown}: {msg}"));
            }
        }
    }
    Ok(())
}

fn print_report(report: &Report, stopped: bool) {
    let mut out = String::from("\n");
    for f in &report.forgotten {
        out.push_str(&format!("  forgot {f}: it no longer exists in the org\n"));
    }
    for r in &report.results {
        let id =
            r.id.as_deref()
                .map(|i| format!(" [id {i}]"))
                .unwrap_or_default();
        let line = match &r.status {
            Status::Done => format!("  done        {} {} {:?}{id}", r.action, r.kind, r.name),
            Status::Failed(e) => format!(
                "  FAILED      {} {} {:?}{id}: {e}",
                r.action, r.kind, r.name
            ),
            Status::NotAttempted => format!("  not attempted {} {} {:?}", r.action, r.kind, r.name),
            Status::RolledBack => format!("  rolled back {} {} {:?}{id}", r.action, r.kind, r.name),
            Status::RollbackFailed(e) => {
                format!(
                    "  ROLLBACK FAILED {} {} {:?}{id}: {e}",
                    r.action, r.kind, r.name
                )
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&format!(
        "\nApply {}: {} done, {} failed, {} rolled back, {} not attempted.\n",
        if stopped {
            "stopped"
        } else if report.failed() {
            "failed"
        } else {
            "complete"
        },
        report.count(|s| *s == Status::Done),
        report.count(|s| matches!(s, Status::Failed(_) | Status::RollbackFailed(_))),
        report.count(|s| *s == Status::RolledBack),
        report.count(|s| *s == Status::NotAttempted),
    ));
    let _ = std::io::stdout().write_all(out.as_bytes());
}

fn print_json(target: &str, report: &Report) {
    let doc = serde_json::json!({
        "formatVersion": 1,
        "target": target,
        "results": report.results,
        "forgotten": report.forgotten,
        "notifyWarnings": report.notify_warnings,
        "summary": {
            "done": report.count(|s| *s == Status::Done),
            "failed": report.count(|s| matches!(s, Status::Failed(_) | Status::RollbackFailed(_))),
            "rolledBack": report.count(|s| *s == Status::RolledBack),
            "notAttempted": report.count(|s| *s == Status::NotAttempted),
        }
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    let _ = std::io::stdout().write_all(s.as_bytes());
}
