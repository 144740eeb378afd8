//! Executes a plan against the org: writes in dependency order with bounded
//! parallelism, records every successful write in the lockfile and the audit log
//! before the next write starts, stops at the first failure, and with `atomic`
//! rolls back this run's writes.

use std::path::PathBuf;
use std::sync::Arc;

use crate::audit::{self, AuditLog, Entry, RunInfo};
use crate::diff::{Action, Change, Plan};
use crate::genesys::{self, CallMeta, Client};
use crate::kinds::{self, Ids, Put};
use crate::model::{Kind, Object};
use crate::remote::RemoteState;
use crate::state::{LockEntry, Lockfile, TargetState};

/// The audit actions of a replace's two halves.
const REPLACE_DELETE: &str = "replace-delete";
const REPLACE_CREATE: &str = "replace-create";

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "status", content = "error")]
pub enum Status {
    Done,
    Failed(String),
    NotAttempted,
    RolledBack,
    RollbackFailed(String),
}

/// The outcome of one planned change (or of one rollback).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpResult {
    pub action: String,
    pub kind: Kind,
    pub name: String,
    pub id: Option<String>,
    #[serde(flatten)]
    pub status: Status,
}

/// Called with each result as it happens (progress bar, CI log lines).
pub type Listener = Arc<dyn Fn(&OpResult) + Send + Sync>;

/// Everything an apply did.
#[derive(Clone, Default, serde::Serialize)]
pub struct Report {
    pub results: Vec<OpResult>,
    /// Lockfile entries dropped because their remote object no longer exists.
    pub forgotten: Vec<String>,
    /// Notifications that failed (warnings).
    pub notify_warnings: Vec<String>,
    #[serde(skip)]
    listener: Option<Listener>,
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Report")
            .field("results", &self.results)
            .field("forgotten", &self.forgotten)
            .field("notify_warnings", &self.notify_warnings)
            .finish_non_exhaustive()
    }
}

impl Report {
    /// An empty report that tells `listener` about each result.
    pub fn with_listener(listener: Option<Listener>) -> Report {
        Report {
            listener,
            ..Report::default()
        }
    }

    fn push(&mut self, r: OpResult) {
        if let Some(l) = &self.listener {
            l(&r);
        }
        self.results.push(r);
    }

    /// Marks this run's done write of (kind, name, action) rolled back, and says so.
    fn rolled_back(&mut self, kind: Kind, name: &str, action: &str) {
        for r in self.results.iter_mut() {
            if r.kind == kind && r.name == name && r.action == action && r.status == Status::Done {
                r.status = Status::RolledBack;
                if let Some(l) = &self.listener {
                    l(r);
                }
            }
        }
    }

    /// The results in the order the plan runs them (as the plan showed them), then
    /// the rollbacks in the order a rollback runs (the reverse): the same bytes for the
    /// same run, whatever order parallel writes finished in.
    pub fn sort(&mut self) {
        let key = |r: &OpResult| {
            let rollback = r.action.starts_with("rollback-");
            let phase = Action::parse(&r.action)
                .map_or(usize::MAX, |a| crate::diff::apply_phase(r.kind, a));
            let phase = if rollback { usize::MAX - phase } else { phase };
            (rollback, phase, r.name.clone(), r.action.clone())
        };
        self.results.sort_by_cached_key(key);
        self.forgotten.sort();
    }

    pub fn count(&self, f: impl Fn(&Status) -> bool) -> usize {
        self.results.iter().filter(|r| f(&r.status)).count()
    }
    pub fn failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| matches!(r.status, Status::Failed(_) | Status::RollbackFailed(_)))
    }
    /// Successful writes that still stand (for notifications).
    pub fn standing_writes(&self) -> Vec<&OpResult> {
        self.results
            .iter()
            .filter(|r| r.status == Status::Done && r.action != "adopt")
            .collect()
    }
}

/// Options of one execution.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub atomic: bool,
    pub parallelism: usize,
}

/// Records successful writes: audit entry appended first, then the lockfile replaced
/// atomically.
pub struct Recorder {
    lock: Lockfile,
    lock_path: PathBuf,
    target: String,
    audit: AuditLog,
    run: RunInfo,
    /// The pull request that reviewed each object's change, and the run's only one.
    reviews: std::collections::HashMap<(Kind, String), audit::PullRequest>,
    only_review: Option<audit::PullRequest>,
}

/// One audit entry to append, in the run's name.
#[derive(Debug, Default)]
struct Record<'a> {
    action: &'a str,
    kind: Option<Kind>,
    name: Option<&'a str>,
    id: Option<&'a str>,
    intent: Option<u64>,
    before: Option<String>,
    after: Option<String>,
    status: &'a str,
    meta: Option<&'a CallMeta>,
    changes: Option<serde_json::Value>,
    message: Option<String>,
}

/// Errors that stop an apply without being a failed write.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

impl Recorder {
    pub fn new(lock: Lockfile, lock_path: PathBuf, audit: AuditLog, run: RunInfo) -> Recorder {
        Recorder {
            target: run.target.clone(),
            lock,
            lock_path,
            audit,
            run,
            reviews: Default::default(),
            only_review: None,
        }
    }

    /// The pull requests whose reviews approved this run's changes (`apply
    /// --reviewed`): each entry about an object names the one that reviewed it; when
    /// the run applies one pull request, every entry names it.
    pub fn set_reviews(&mut self, reviews: Vec<((Kind, String), audit::PullRequest)>) {
        let mut distinct: Vec<&audit::PullRequest> = Vec::new();
        for (_, pr) in &reviews {
            if !distinct.iter().any(|d| d.number == pr.number) {
                distinct.push(pr);
            }
        }
        self.only_review = match distinct.as_slice() {
            [one] => Some((*one).clone()),
            _ => None,
        };
        self.reviews = reviews.into_iter().collect();
    }

    fn state(&mut self) -> &mut TargetState {
        self.lock.targets.entry(self.target.clone()).or_default()
    }

    /// Current managed state of the target.
    pub fn target_state(&self) -> TargetState {
        self.lock.target(&self.target)
    }

    /// Appends one audit entry stamped with this run; returns its `seq`.
    fn audit(&mut self, r: Record<'_>) -> Result<u64, ExecError> {
        let entry = Entry {
            ts: audit::now_rfc3339(),
            actor: self.run.actor.clone(),
            run_id: self.run.run_id.clone(),
            git_commit: self.run.git_commit.clone(),
            git_dirty: self.run.git_dirty,
            target: self.target.clone(),
            org_id: self.run.org_id.clone(),
            action: r.action.to_string(),
            kind: r.kind.map(|k| k.as_str().to_string()),
            name: r.name.map(str::to_string),
            id: r.id.map(str::to_string),
            intent: r.intent,
            remote_sha256_before: r.before,
            spec_sha256_after: r.after,
            status: r.status.to_string(),
            http_status: r.meta.map(|m| m.http_status),
            latency_ms: r.meta.map(|m| m.latency_ms),
            correlation_id: r.meta.and_then(|m| m.correlation_id.clone()),
            changes: r.changes,
            message: r.message,
            pull_request: r
                .kind
                .zip(r.name)
                .and_then(|(k, n)| self.reviews.get(&(k, n.to_string())))
                .or(self.only_review.as_ref())
                .cloned(),
            git_author: self.run.git_author.clone(),
            ..Entry::default()
        };
        let seq = self.audit.append(entry)?;
        // Saved with the next lockfile write (and at the end of the run).
        self.lock.audit = self.audit.head();
        Ok(seq)
    }

    /// Records the intent to make a remote write, before it is sent (SPEC 7): if the
    /// run dies before the result is recorded, the next run resolves it against the
    /// org, so every write is in the log at any kill point.
    fn intent(&mut self, action: &str, c: &Change, id: Option<&str>) -> Result<u64, ExecError> {
        let before = self.remote_sha_before(c);
        self.audit(Record {
            action,
            kind: Some(c.kind),
            name: Some(&c.name),
            id: id.or(c.id.as_deref()),
            before,
            after: c.after.as_deref().map(Object::sha256),
            status: "pending",
            ..Record::default()
        })
    }

    /// sha256 of what the org holds for this change's object: the body fetched for the
    /// plan, or, when the lockfile proved it unchanged (not fetched), the hash the
    /// lockfile recorded. None for a create.
    fn remote_sha_before(&self, c: &Change) -> Option<String> {
        let id = c.id.as_deref()?;
        c.before.as_deref().map(Object::sha256).or_else(|| {
            entry_by_id(&self.target_state(), c.kind, Some(id)).map(|(_, e)| e.spec_sha256)
        })
    }

    /// Resolves the intents earlier runs left pending (killed mid-write) against the
    /// org as fetched for this run: each becomes `confirmed` (the write landed) or
    /// `not-applied`. Returns one line per resolution, for the output.
    ///
    /// A body is compared as the spec of its name sees it, as the plan compared it
    /// (fields a spec leaves out are not part of the intended hash).
    pub fn resolve_intents(
        &mut self,
        remote: &RemoteState,
        desired: &[crate::diff::Desired],
    ) -> Result<Vec<String>, ExecError> {
        let entries = self.audit.entries()?;
        let mut lines = Vec::new();
        for intent in audit::dangling_intents(&entries) {
            let Some(kind) = intent.kind.as_deref().and_then(Kind::parse) else {
                continue;
            };
            let name = intent.name.clone().unwrap_or_default();
            let by_id = intent.id.as_deref().and_then(|id| remote.by_id(kind, id));
            // What the write would have done: a rollback of a create deletes, of a
            // delete re-creates.
            let effect = match intent.action.as_str() {
                "rollback-create" | REPLACE_DELETE => "delete",
                "rollback-delete" | REPLACE_CREATE => "create",
                other => other.trim_start_matches("rollback-"),
            };
            let (landed, id, why) = match effect {
                "create" => {
                    let found = remote
                        .objects
                        .iter()
                        .find(|r| r.kind == kind && r.name == name);
                    (
                        found.is_some(),
                        found.map(|r| r.id.clone()),
                        "an object of that name exists",
                    )
                }
                "delete" => (
                    by_id.is_none(),
                    intent.id.clone(),
                    "the object no longer exists",
                ),
                "publish" | "republish" => (
                    by_id.is_some_and(|r| r.published),
                    intent.id.clone(),
                    "the object is published",
                ),
                _ => {
                    // The intent's hash includes `published` as the spec wants it; an
                    // update leaves the object unpublished, so either value matches.
                    let after = intent.spec_sha256_after.as_deref();
                    let spec = desired
                        .iter()
                        .find(|d| d.object.kind() == kind && d.object.name() == name);
                    let matches = |b: &Object| {
                        let seen = spec.map_or_else(|| b.clone(), |d| b.seen_by(&d.object));
                        let mut flipped = seen.clone();
                        flipped.set_published(!seen.wants_published());
                        after == Some(seen.sha256().as_str())
                            || after == Some(flipped.sha256().as_str())
                    };
                    (
                        by_id.and_then(|r| r.body.as_deref()).is_some_and(matches),
                        intent.id.clone(),
                        "the org holds the intended body",
                    )
                }
            };
            let status = if landed { "confirmed" } else { "not-applied" };
            let message = if landed {
                format!("resolved by a later run: {why}")
            } else {
                format!("resolved by a later run: not so ({why} is false)")
            };
            self.audit(Record {
                action: &intent.action,
                kind: Some(kind),
                name: Some(&name),
                id: id.as_deref(),
                intent: Some(intent.seq),
                before: intent.remote_sha256_before.clone(),
                after: intent.spec_sha256_after.clone(),
                status,
                message: Some(message),
                ..Record::default()
            })?;
            lines.push(format!(
                "resolved interrupted {} {kind} {name:?} (audit entry {}): {status}",
                intent.action, intent.seq
            ));
        }
        if !lines.is_empty() {
            self.flush()?;
        }
        Ok(lines)
    }

    /// Writes the lockfile if anything (such as the audit anchor) changed since the
    /// last write; a no-op when nothing did.
    pub fn flush(&self) -> Result<(), ExecError> {
        Ok(self.lock.save(&self.lock_path)?)
    }

    /// Records an object as managed with this entry (or forgets it with `None`).
    fn set_entry(
        &mut self,
        kind: Kind,
        name: &str,
        entry: Option<LockEntry>,
    ) -> Result<(), ExecError> {
        match entry {
            Some(e) => self.state().insert(kind, name, e),
            None => {
                self.state().remove(kind, name);
            }
        }
        if self
            .lock
            .targets
            .get(&self.target)
            .is_some_and(TargetState::is_empty)
        {
            self.lock.targets.remove(&self.target);
        }
        Ok(self.lock.save(&self.lock_path)?)
    }

    /// Audits a failed operation.
    fn record_failure(
        &mut self,
        action: &str,
        c: &Change,
        e: &genesys::Error,
        intent: Option<u64>,
    ) -> Result<(), ExecError> {
        let meta = e.status().map(|s| CallMeta {
            http_status: s,
            latency_ms: 0,
            correlation_id: e.correlation_id().map(str::to_string),
        });
        self.audit(Record {
            action,
            kind: Some(c.kind),
            name: Some(&c.name),
            id: c.id.as_deref(),
            intent,
            status: "failed",
            meta: meta.as_ref(),
            message: Some(e.to_string()),
            ..Record::default()
        })
        .map(|_| ())
    }

    /// Audits a notification outcome.
    pub fn record_notify(
        &mut self,
        url: &str,
        ok: bool,
        message: Option<String>,
    ) -> Result<(), ExecError> {
        self.audit(Record {
            action: "notify",
            status: if ok { "ok" } else { "failed" },
            message: Some(match message {
                Some(m) => format!("{url}: {m}"),
                None => url.to_string(),
            }),
            ..Record::default()
        })
        .map(|_| ())
    }
}

/// What a successful write did, for rollback.
#[derive(Debug, Clone)]
enum Undo {
    Created {
        id: String,
    },
    /// `prev`: the lockfile entry before the write, under the name it had then.
    Updated {
        id: String,
        prev: Option<(String, LockEntry)>,
    },
    Deleted {
        prev: Option<(String, LockEntry)>,
    },
}

/// The managed entry holding this remote id, under whatever name it is recorded.
fn entry_by_id(state: &TargetState, kind: Kind, id: Option<&str>) -> Option<(String, LockEntry)> {
    let id = id?;
    state
        .entries()
        .into_iter()
        .find(|(k, _, e)| *k == kind && e.id == id)
        .map(|(_, name, e)| (name.to_string(), e.clone()))
}

/// Runs the plan. Returns the report; `Err` only when state could not be recorded.
pub async fn execute(
    client: &Client,
    plan: &Plan,
    remote: &RemoteState,
    recorder: &mut Recorder,
    opts: &ExecOptions,
    report: &mut Report,
) -> Result<(), ExecError> {
    let mut undo: Vec<(Change, Undo)> = Vec::new();

    // Lockfile entries whose remote object is gone (deleted outside speechops).
    for (kind, name, entry) in recorder.target_state().entries() {
        if remote.by_id(kind, &entry.id).is_none() {
            let (name, id) = (name.to_string(), entry.id.clone());
            recorder.audit(Record {
                action: "forget",
                kind: Some(kind),
                name: Some(&name),
                id: Some(&id),
                before: Some(entry.spec_sha256.clone()),
                status: "ok",
                message: Some("remote object no longer exists".to_string()),
                ..Record::default()
            })?;
            recorder.set_entry(kind, &name, None)?;
            report.forgotten.push(format!("{kind} {name:?} [id {id}]"));
        }
    }

    for c in plan.changes.iter().filter(|c| c.action == Action::Adopt) {
        let (Some(id), Some(after)) = (&c.id, &c.after) else {
            continue;
        };
        let r = remote.by_id(c.kind, id);
        let prev = entry_by_id(&recorder.target_state(), c.kind, Some(id));
        recorder.audit(Record {
            action: "adopt",
            kind: Some(c.kind),
            name: Some(&c.name),
            id: Some(id),
            before: c.before.as_deref().map(Object::sha256),
            after: Some(after.sha256()),
            status: "ok",
            changes: audit::field_changes(c.before.as_deref(), Some(after)),
            ..Record::default()
        })?;
        // Re-recording a managed object (after a run was killed mid-rename, say)
        // moves its entry to the spec's name.
        if let Some((old, _)) = prev.as_ref().filter(|(n, _)| *n != c.name) {
            recorder.set_entry(c.kind, old, None)?;
        }
        recorder.set_entry(
            c.kind,
            &c.name,
            Some(LockEntry {
                applied_at: audit::now_rfc3339(),
                date_modified: r.and_then(|r| r.date_modified.clone()),
                id: id.clone(),
                published: r.is_some_and(|r| r.published),
                spec_sha256: after.sha256(),
            }),
        )?;
        report.push(result(c, Some(id.clone()), Status::Done));
    }

    let of = |kind: Kind, actions: &[Action]| -> Vec<Change> {
        plan.changes
            .iter()
            .filter(|c| c.kind == kind && actions.contains(&c.action))
            .cloned()
            .collect()
    };
    // Every kind after the kinds it refers to, each written then published; then
    // the deletes, in reverse, so nothing is deleted while a kind still refers to it.
    let order = kinds::write_order();
    let mut phases: Vec<Phase> = Vec::new();
    for &kind in &order {
        phases.push(Phase::Writes(of(kind, &[Action::Create, Action::Update])));
        if kind.publishable() {
            phases.push(Phase::Publish(
                kind,
                of(kind, &[Action::Publish, Action::Republish]),
            ));
        }
    }
    for &kind in order.iter().rev() {
        phases.push(Phase::Writes(of(kind, &[Action::Delete])));
    }

    let mut failed = false;
    for phase in phases {
        if failed {
            for c in phase.changes() {
                report.push(result(c, c.id.clone(), Status::NotAttempted));
            }
            continue;
        }
        failed = match phase {
            Phase::Writes(changes) => {
                run_writes(client, changes, recorder, opts, report, &mut undo, remote).await?
            }
            Phase::Publish(kind, changes) => {
                run_publish(client, kind, changes, recorder, report).await?
            }
        };
    }

    if failed && opts.atomic {
        rollback(client, undo, remote, recorder, report).await?;
    }
    Ok(())
}

enum Phase {
    Writes(Vec<Change>),
    Publish(Kind, Vec<Change>),
}

impl Phase {
    fn changes(&self) -> &[Change] {
        match self {
            Phase::Writes(c) | Phase::Publish(_, c) => c,
        }
    }
}

fn result(c: &Change, id: Option<String>, status: Status) -> OpResult {
    OpResult {
        action: c.action.as_str().to_string(),
        kind: c.kind,
        name: c.name.clone(),
        id,
        status,
    }
}

/// The id of every managed object, and of the outside objects the specs name, for
/// bodies that refer to others by name.
fn managed_ids(state: &TargetState, remote: &RemoteState) -> Ids {
    let mut ids = Ids::default();
    ids.extend_external(&remote.external);
    for (kind, name, e) in state.entries() {
        ids.insert(kind, name, &e.id);
    }
    ids
}

/// Runs independent writes with bounded parallelism. Returns true when one failed.
async fn run_writes(
    client: &Client,
    changes: Vec<Change>,
    recorder: &mut Recorder,
    opts: &ExecOptions,
    report: &mut Report,
    undo: &mut Vec<(Change, Undo)>,
    remote: &RemoteState,
) -> Result<bool, ExecError> {
    let ids = Arc::new(managed_ids(&recorder.target_state(), remote));
    let mut pending = changes.into_iter();
    let mut tasks = tokio::task::JoinSet::new();
    let mut failed = false;
    loop {
        while !failed && tasks.len() < opts.parallelism.max(1) {
            let Some(c) = pending.next() else { break };
            // A replace (a kind with no update) is two remote writes, each with its
            // own intent and result: the delete here, then the kind's put, which for
            // such a kind creates anew (`Managed::REPLACES`).
            let replace = c.action == Action::Update && c.kind.replaces();
            if replace && let Some(id) = c.id.clone() {
                let intent = recorder.intent(REPLACE_DELETE, &c, Some(&id))?;
                match c.kind.delete(client, &id).await {
                    Ok(w) => {
                        recorder.audit(Record {
                            action: REPLACE_DELETE,
                            kind: Some(c.kind),
                            name: Some(&c.name),
                            id: Some(&id),
                            intent: Some(intent),
                            before: recorder.remote_sha_before(&c),
                            status: "ok",
                            meta: Some(&w.meta),
                            message: Some("the first half of a replace".into()),
                            ..Record::default()
                        })?;
                    }
                    Err(e) => {
                        recorder.record_failure(REPLACE_DELETE, &c, &e, Some(intent))?;
                        tracing::error!(
                            "{} {} {:?} failed: {e}",
                            c.action.as_str(),
                            c.kind,
                            c.name
                        );
                        report.push(result(&c, c.id.clone(), Status::Failed(e.to_string())));
                        failed = true;
                        continue;
                    }
                }
            }
            let action = write_action(&c);
            let intent = recorder.intent(action, &c, None)?;
            let (client, ids) = (client.clone(), Arc::clone(&ids));
            let held = org_body(remote, &c);
            tasks.spawn(async move {
                let res = write(&client, &c, held.as_deref(), &ids).await;
                // A write answered without the object's id did not give us the object
                // (a gateway's `200 {}`): a failed write, never an entry with no id.
                let res = match res {
                    Ok(ok) if ok.id.trim().is_empty() => Err(genesys::Error::Decode {
                        method: c.action.as_str().to_string(),
                        path: format!("{} {:?}", c.kind, c.name),
                        message: "the write was answered without the object's id".into(),
                    }),
                    other => other,
                };
                (c, intent, res)
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let (c, intent, res) = match joined {
            Ok(pair) => pair,
            Err(e) => {
                // A panicked task is a bug; treat it as a failed write and stop.
                tracing::error!("write task failed: {e}");
                failed = true;
                continue;
            }
        };
        let prev = entry_by_id(&recorder.target_state(), c.kind, c.id.as_deref()).or_else(|| {
            let state = recorder.target_state();
            state
                .get(c.kind, &c.name)
                .cloned()
                .map(|e| (c.name.clone(), e))
        });
        match res {
            Ok(ok) => {
                let after_sha = c.after.as_deref().map(Object::sha256);
                // A partly landed write is recorded (its id, so nothing is lost or
                // taken over later) with no spec hash: the next plan reads the object
                // and shows what is still missing.
                let entry = after_sha.clone().map(|sha| LockEntry {
                    applied_at: audit::now_rfc3339(),
                    date_modified: ok.date_modified.clone(),
                    id: ok.id.clone(),
                    published: ok.published,
                    spec_sha256: if ok.incomplete.is_some() {
                        String::new()
                    } else {
                        sha
                    },
                });
                // Audit first: a crash before the lockfile write is then recovered by
                // adoption, and the audit trail never misses a real write.
                let action = write_action(&c);
                recorder.audit(Record {
                    action,
                    kind: Some(c.kind),
                    name: Some(&c.name),
                    id: Some(&ok.id),
                    intent: Some(intent),
                    before: recorder.remote_sha_before(&c),
                    after: after_sha,
                    status: if ok.incomplete.is_some() {
                        "failed"
                    } else {
                        "ok"
                    },
                    meta: Some(&ok.meta),
                    message: ok.incomplete.clone(),
                    changes: audit::field_changes(c.before.as_deref(), c.after.as_deref()),
                })?;
                if let Some((old, _)) = prev.as_ref().filter(|(n, _)| *n != c.name) {
                    recorder.set_entry(c.kind, old, None)?;
                }
                // A delete forgets the entry of the name it deleted.
                recorder.set_entry(c.kind, &c.name, entry)?;
                tracing::info!(
                    "{} {} {:?} [id {}]",
                    c.action.as_str(),
                    c.kind,
                    c.name,
                    ok.id
                );
                let u = match c.action {
                    Action::Create => Undo::Created { id: ok.id.clone() },
                    Action::Update => Undo::Updated {
                        id: ok.id.clone(),
                        prev,
                    },
                    _ => Undo::Deleted { prev },
                };
                match ok.incomplete {
                    Some(why) => {
                        tracing::error!(
                            "{} {} {:?} failed: {why}",
                            c.action.as_str(),
                            c.kind,
                            c.name
                        );
                        report.push(result(&c, Some(ok.id), Status::Failed(why)));
                        failed = true;
                    }
                    None => report.push(result(&c, Some(ok.id), Status::Done)),
                }
                undo.push((c, u));
            }
            Err(e) => {
                let action = write_action(&c);
                recorder.record_failure(action, &c, &e, Some(intent))?;
                tracing::error!("{} {} {:?} failed: {e}", c.action.as_str(), c.kind, c.name);
                report.push(result(&c, c.id.clone(), Status::Failed(e.to_string())));
                failed = true;
            }
        }
    }
    for c in pending {
        report.push(result(&c, c.id.clone(), Status::NotAttempted));
    }
    Ok(failed)
}

/// The body the org held before this run, whole (a change's `before` shows only what
/// its spec manages): writes keep what the spec does not manage from it.
fn org_body(remote: &RemoteState, c: &Change) -> Option<Arc<Object>> {
    c.id.as_deref()
        .and_then(|id| remote.by_id(c.kind, id))
        .and_then(|r| r.body.clone())
        .or_else(|| c.before.clone())
}

/// One write request for a change. `held` is the body the org holds.
async fn write(
    client: &Client,
    c: &Change,
    held: Option<&Object>,
    ids: &Ids,
) -> Result<Put, genesys::Error> {
    let id = c.id.clone().unwrap_or_default();
    match (c.action, &c.after) {
        (Action::Delete, _) => c
            .kind
            .delete(client, &id)
            .await
            .map(|w| Put::new(id.clone(), None, false, w.meta)),
        (Action::Create | Action::Update, Some(after)) => {
            let target = (c.action == Action::Update).then_some(id.as_str());
            after.put(client, target, held, ids).await
        }
        _ => Err(genesys::Error::Decode {
            method: "-".into(),
            path: "-".into(),
            message: format!("change {} {} has no body", c.kind, c.name),
        }),
    }
}

/// One publish job for every object of the kind that needs it.
async fn run_publish(
    client: &Client,
    kind: Kind,
    changes: Vec<Change>,
    recorder: &mut Recorder,
    report: &mut Report,
) -> Result<bool, ExecError> {
    if changes.is_empty() {
        return Ok(false);
    }
    let state = recorder.target_state();
    let ids: Vec<String> = changes
        .iter()
        .filter_map(|c| {
            state
                .get(kind, &c.name)
                .map(|e| e.id.clone())
                .or_else(|| c.id.clone())
        })
        .collect();
    let mut intents = Vec::with_capacity(changes.len());
    for c in &changes {
        let id = state.get(kind, &c.name).map(|e| e.id.clone());
        intents.push(recorder.intent(c.action.as_str(), c, id.as_deref())?);
    }
    let res = kind.publish(client, &ids).await;
    match res {
        Ok(w) => {
            for (c, intent) in changes.iter().zip(intents) {
                let entry = recorder.target_state().get(kind, &c.name).cloned();
                let id = entry
                    .as_ref()
                    .map(|e| e.id.clone())
                    .or_else(|| c.id.clone());
                let message = match &c.reason {
                    Some(why) => format!("publish job {} ({why})", w.value.id),
                    None => format!("publish job {}", w.value.id),
                };
                recorder.audit(Record {
                    action: c.action.as_str(),
                    kind: Some(kind),
                    name: Some(&c.name),
                    id: id.as_deref(),
                    intent: Some(intent),
                    status: "ok",
                    meta: Some(&w.meta),
                    message: Some(message),
                    ..Record::default()
                })?;
                if let Some(mut e) = entry {
                    e.published = true;
                    recorder.set_entry(kind, &c.name, Some(e))?;
                }
                report.push(result(c, id, Status::Done));
            }
            Ok(false)
        }
        Err(e) => {
            for (c, intent) in changes.iter().zip(intents) {
                recorder.record_failure(c.action.as_str(), c, &e, Some(intent))?;
                report.push(result(c, c.id.clone(), Status::Failed(e.to_string())));
            }
            Ok(true)
        }
    }
}

/// What a rollback write left: the entry to record (under its name), the id, the call.
type Restored = (Option<(String, LockEntry)>, String, CallMeta);

/// Undoes this run's writes, newest first, each audited; then republishes what was
/// published before, so the restored content is also what is live.
async fn rollback(
    client: &Client,
    undo: Vec<(Change, Undo)>,
    remote: &RemoteState,
    recorder: &mut Recorder,
    report: &mut Report,
) -> Result<(), ExecError> {
    let mut republish: Vec<(Kind, String, String)> = Vec::new();
    for (c, u) in undo.into_iter().rev() {
        let action = format!("rollback-{}", c.action.as_str());
        let ids = rollback_ids(recorder, remote, &c);
        let undo_id = match &u {
            Undo::Created { id } | Undo::Updated { id, .. } => Some(id.clone()),
            Undo::Deleted { .. } => None,
        };
        let intent = recorder.audit(Record {
            action: &action,
            kind: Some(c.kind),
            name: Some(&c.name),
            id: undo_id.as_deref(),
            after: match &u {
                Undo::Created { .. } => None,
                Undo::Updated { prev, .. } | Undo::Deleted { prev } => {
                    prev.as_ref().map(|(_, e)| e.spec_sha256.clone())
                }
            },
            status: "pending",
            ..Record::default()
        })?;
        let held = org_body(remote, &c);
        match undo_one(client, &c, &u, held.as_deref(), &ids).await {
            Ok(restored) => {
                let again = record_undone(recorder, report, (&c, &u), &action, intent, restored)?;
                republish.extend(again);
            }
            Err(e) => {
                recorder.record_failure(&action, &c, &e, Some(intent))?;
                report.push(OpResult {
                    action,
                    kind: c.kind,
                    name: c.name.clone(),
                    id: c.id.clone(),
                    status: Status::RollbackFailed(e.to_string()),
                });
            }
        }
    }
    // What this run republished because a topic it holds changed searches the changed
    // versions; once those are restored and published again, so must it be.
    if !republish.is_empty() {
        let republished: Vec<(Kind, String, String)> = report
            .results
            .iter()
            .filter(|r| r.action == Action::Republish.as_str() && r.status == Status::Done)
            .filter_map(|r| Some((r.kind, r.name.clone(), r.id.clone()?)))
            .collect();
        republish.extend(republished);
    }
    republish_restored(client, republish, recorder, report).await
}

/// Undoes one change remotely: deletes what was created, puts back what was
/// updated or deleted. Returns the lockfile entry to restore, the id and the call.
async fn undo_one(
    client: &Client,
    c: &Change,
    u: &Undo,
    held: Option<&Object>,
    ids: &Ids,
) -> Result<Restored, genesys::Error> {
    match u {
        Undo::Created { id } => c
            .kind
            .undo_create(client, id)
            .await
            .map(|w| (None, id.clone(), w.meta)),
        Undo::Updated { id, prev } => match &c.before {
            Some(before) => {
                // A kind Genesys cannot update: its put creates anew what the delete
                // here removed (as a replace's two halves in `run_writes`).
                if c.kind.replaces() {
                    c.kind.delete(client, id).await?;
                }
                before
                    .put(client, Some(id), held, ids)
                    .await
                    .map(|ok| restored(prev, ok))
            }
            None => Err(missing_before(c)),
        },
        Undo::Deleted { prev } => match &c.before {
            Some(before) => before
                .put(client, None, held, ids)
                .await
                .map(|ok| restored(prev, ok)),
            None => Err(missing_before(c)),
        },
    }
}

/// The lockfile entry of an object put back by a rollback: its previous entry, with
/// the id, `dateModified` and publication of the write that restored it (a kind
/// Genesys cannot update comes back under a new id).
fn restored(prev: &Option<(String, LockEntry)>, ok: Put) -> Restored {
    let entry = prev.clone().map(|(name, mut e)| {
        e.id = ok.id.clone();
        e.date_modified = ok.date_modified.clone();
        e.published = ok.published;
        (name, e)
    });
    (entry, ok.id, ok.meta)
}

/// The audit action of a write: a replace's create half is `replace-create`.
fn write_action(c: &Change) -> &'static str {
    if c.action == Action::Update && c.kind.replaces() {
        REPLACE_CREATE
    } else {
        c.action.as_str()
    }
}

/// Records an undone change in the audit log, lockfile and report. Returns what
/// must be published again, if the restored object was published before.
fn record_undone(
    recorder: &mut Recorder,
    report: &mut Report,
    (c, u): (&Change, &Undo),
    action: &str,
    intent: u64,
    (entry, id, meta): Restored,
) -> Result<Option<(Kind, String, String)>, ExecError> {
    let was_published = match u {
        Undo::Updated { prev, .. } | Undo::Deleted { prev } => {
            prev.as_ref().is_some_and(|(_, e)| e.published)
        }
        Undo::Created { .. } => false,
    };
    let name = entry.as_ref().map_or(c.name.clone(), |(n, _)| n.clone());
    let sha = entry.as_ref().map(|(_, e)| e.spec_sha256.clone());
    recorder.audit(Record {
        action,
        kind: Some(c.kind),
        name: Some(&name),
        id: Some(&id),
        intent: Some(intent),
        before: c.after.as_deref().map(Object::sha256),
        after: sha,
        status: "ok",
        meta: Some(&meta),
        changes: audit::field_changes(c.after.as_deref(), c.before.as_deref()),
        ..Record::default()
    })?;
    if name != c.name {
        recorder.set_entry(c.kind, &c.name, None)?;
    }
    recorder.set_entry(c.kind, &name, entry.map(|(_, e)| e))?;
    report.rolled_back(c.kind, &c.name, c.action.as_str());
    Ok((was_published && c.kind.publishable()).then_some((c.kind, name, id)))
}

/// Publishes again, in one call per kind, what was published before the rollback
/// put it back.
async fn republish_restored(
    client: &Client,
    republish: Vec<(Kind, String, String)>,
    recorder: &mut Recorder,
    report: &mut Report,
) -> Result<(), ExecError> {
    for kind in kinds::write_order() {
        let items: Vec<&(Kind, String, String)> =
            republish.iter().filter(|(k, _, _)| *k == kind).collect();
        if items.is_empty() {
            continue;
        }
        let ids: Vec<String> = items.iter().map(|(_, _, id)| id.clone()).collect();
        let mut intents = Vec::with_capacity(items.len());
        for (_, name, id) in &items {
            intents.push(recorder.audit(Record {
                action: "rollback-publish",
                kind: Some(kind),
                name: Some(name),
                id: Some(id),
                status: "pending",
                ..Record::default()
            })?);
        }
        let res = kind.publish(client, &ids).await;
        for ((_, name, id), intent) in items.into_iter().zip(intents) {
            match &res {
                Ok(w) => {
                    recorder.audit(Record {
                        action: "rollback-publish",
                        kind: Some(kind),
                        name: Some(name),
                        id: Some(id),
                        intent: Some(intent),
                        status: "ok",
                        meta: Some(&w.meta),
                        ..Record::default()
                    })?;
                    if let Some(mut e) = recorder.target_state().get(kind, name).cloned() {
                        e.published = true;
                        recorder.set_entry(kind, name, Some(e))?;
                    }
                }
                Err(e) => {
                    recorder.audit(Record {
                        action: "rollback-publish",
                        kind: Some(kind),
                        name: Some(name),
                        id: Some(id),
                        intent: Some(intent),
                        status: "failed",
                        message: Some(e.to_string()),
                        ..Record::default()
                    })?;
                    report.push(OpResult {
                        action: "rollback-publish".to_string(),
                        kind,
                        name: name.clone(),
                        id: Some(id.clone()),
                        status: Status::RollbackFailed(e.to_string()),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Ids for restoring a body: managed objects, plus the objects the body itself
/// referred to as the org listed them (a program may hold unmanaged topics).
fn rollback_ids(recorder: &Recorder, remote: &RemoteState, c: &Change) -> Ids {
    let mut ids = managed_ids(&recorder.target_state(), remote);
    if let Some(r) = c.id.as_deref().and_then(|id| remote.by_id(c.kind, id)) {
        for x in &r.refs {
            if ids.get(x.kind, &x.name).is_none() {
                ids.insert(x.kind, &x.name, &x.id);
            }
        }
    }
    ids
}

fn missing_before(c: &Change) -> genesys::Error {
    genesys::Error::Decode {
        method: "-".into(),
        path: "-".into(),
        message: format!(
            "no previous body of {} {:?} is known, so it cannot be restored",
            c.kind, c.name
        ),
    }
}
