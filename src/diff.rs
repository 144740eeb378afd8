//! Pure diff: (desired specs, remote objects, lockfile) -> [`Plan`]. No I/O.
//!
//! Matching a spec to a remote object, in order: the lockfile's id for the spec's name;
//! the lockfile's id for its `renamedFrom`; a remote object named `renamedFrom`; a
//! remote object with the spec's name. Content is compared in normalised form, so a
//! value the user did not change never shows as a change.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::model::{Kind, Object};
use crate::state::{LockEntry, TargetState};

/// A spec as the diff needs it.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Shared with the plan's changes, so large trees are held once, not per copy.
    pub object: Arc<Object>,
    pub renamed_from: Option<String>,
}

/// A remote object as the diff needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    pub kind: Kind,
    pub id: String,
    pub name: String,
    pub date_modified: Option<String>,
    pub published: bool,
    /// The normalised body; `None` when the lockfile proves it unchanged since our
    /// last write (same `dateModified`), so it was not fetched.
    pub body: Option<Arc<Object>>,
    /// For programs: the `(id, name)` of each member topic, to follow topic renames.
    pub topic_refs: Vec<(String, String)>,
}

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
    Adopt,
    Publish,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Adopt => "adopt",
            Action::Publish => "publish",
        }
    }

    /// The one-character marker of the text output.
    pub fn symbol(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
            Action::Adopt => '=',
            Action::Publish => '^',
        }
    }
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub action: Action,
    pub kind: Kind,
    pub name: String,
    /// Remote id, when the object exists.
    pub id: Option<String>,
    /// Normalised remote body, when known (shared with the remote state).
    pub before: Option<Arc<Object>>,
    /// Normalised desired body, absent for deletes (shared with the specs).
    pub after: Option<Arc<Object>>,
    /// The remote object exists but was not managed (not in the lockfile).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopted: bool,
    /// The remote name before a rename.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// Which guard a plan trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GuardKind {
    /// Too large a share of a kind's managed objects would change (`--force`).
    Threshold,
    /// The spec tree (or a whole kind) is empty while objects are managed (`--allow-empty`).
    EmptyInput,
}

/// A safety guard the plan trips; apply refuses unless overridden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Guard {
    pub guard: GuardKind,
    pub message: String,
}

/// Per-action counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub publish: usize,
    pub adopt: usize,
}

/// The result of a diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub target: String,
    /// Sorted by (kind, name, action).
    pub changes: Vec<Change>,
    pub guards: Vec<Guard>,
    /// Things a reviewer should know that are not changes.
    pub notes: Vec<String>,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Delete => s.delete += 1,
                Action::Publish => s.publish += 1,
                Action::Adopt => s.adopt += 1,
            }
        }
        s
    }

    /// True when applying would write or record anything.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }
}

/// Everything the diff looks at.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub target: &'a str,
    pub desired: &'a [Desired],
    pub remote: &'a [Remote],
    pub lock: &'a TargetState,
    pub prune: bool,
    pub max_change_percent: f64,
}

/// How a spec matched the remote side.
#[derive(Debug, Clone, Copy)]
struct Match<'a> {
    remote: Option<&'a Remote>,
    managed: bool,
}

/// Computes the plan. Deterministic: same input, same plan.
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let mut by_id: BTreeMap<(Kind, &str), &Remote> = BTreeMap::new();
    let mut by_name: BTreeMap<(Kind, &str), &Remote> = BTreeMap::new();
    let mut notes = Vec::new();
    let mut sorted_remote: Vec<&Remote> = input.remote.iter().collect();
    sorted_remote.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    for r in sorted_remote {
        by_id.insert((r.kind, r.id.as_str()), r);
        if let Some(first) = by_name.get(&(r.kind, r.name.as_str())) {
            notes.push(format!(
                "{} {:?} exists twice in the org (ids {} and {}); speechops uses {}",
                r.kind, r.name, first.id, r.id, first.id
            ));
        } else {
            by_name.insert((r.kind, r.name.as_str()), r);
        }
    }

    let mut desired: Vec<&Desired> = input.desired.iter().collect();
    desired.sort_by(|a, b| {
        (a.object.kind(), a.object.name()).cmp(&(b.object.kind(), b.object.name()))
    });

    // First pass: match every spec to at most one remote object.
    let mut claimed: BTreeSet<(Kind, &str)> = BTreeSet::new();
    let mut matches: Vec<(&Desired, Match<'_>)> = Vec::new();
    for d in &desired {
        let kind = d.object.kind();
        let lock_id = |name: &str| input.lock.get(kind, name).map(|e| e.id.as_str());
        let mut m = Match {
            remote: None,
            managed: false,
        };
        if let Some(r) = lock_id(d.object.name()).and_then(|id| by_id.get(&(kind, id))) {
            m = Match {
                remote: Some(r),
                managed: true,
            };
        } else if let Some(old) = &d.renamed_from {
            if let Some(r) = lock_id(old).and_then(|id| by_id.get(&(kind, id))) {
                m = Match {
                    remote: Some(r),
                    managed: true,
                };
            } else if let Some(r) = by_name.get(&(kind, old.as_str())) {
                m.remote = Some(r);
            }
        }
        if m.remote.is_none() {
            m.remote = by_name.get(&(kind, d.object.name())).copied();
        }
        if let Some(r) = m.remote
            && !claimed.insert((kind, r.id.as_str()))
        {
            notes.push(format!(
                    "{kind} {:?} matched remote id {} that another spec already uses; it will be created",
                    d.object.name(),
                    r.id
                ));
            m = Match {
                remote: None,
                managed: false,
            };
        }
        matches.push((d, m));
    }

    // Topic ids -> the names they will carry, so program membership follows renames.
    let mut topic_name_by_id: BTreeMap<&str, &str> = BTreeMap::new();
    for (d, m) in &matches {
        if let (Object::Topic(t), Some(r)) = (&*d.object, m.remote) {
            topic_name_by_id.insert(r.id.as_str(), t.name.as_str());
        }
    }

    let lock_entries = input.lock.entries();
    let lock_by_id: BTreeMap<(Kind, &str), (&str, &LockEntry)> = lock_entries
        .iter()
        .map(|(k, n, e)| ((*k, e.id.as_str()), (*n, *e)))
        .collect();
    let mut changes = Vec::new();
    for (d, m) in &matches {
        let kind = d.object.kind();
        let name = d.object.name().to_string();
        let Some(r) = m.remote else {
            changes.push(Change {
                action: Action::Create,
                kind,
                name: name.clone(),
                id: None,
                before: None,
                after: Some(d.object.clone()),
                adopted: false,
                renamed_from: None,
            });
            if d.object.wants_published() {
                changes.push(publish_change(kind, &name, None, &d.object));
            }
            continue;
        };
        let before = r
            .body
            .as_ref()
            .map(|b| follow_topic_renames(b, r, &topic_name_by_id));
        let equal = match &before {
            Some(b) => b.same_content(&d.object),
            // Not fetched: the lockfile proves the remote still holds what we wrote.
            None => lock_by_id
                .get(&(kind, r.id.as_str()))
                .is_some_and(|(_, e)| e.spec_sha256 == d.object.sha256()),
        };
        let renamed_from = (r.name != name).then(|| r.name.clone());
        if equal && renamed_from.is_none() {
            // Record the object when it is not managed, or when the lockfile is behind
            // the org: an earlier run was killed after its write landed (a rename, or
            // an update that changed `dateModified`) but before it was recorded.
            let record = match lock_by_id.get(&(kind, r.id.as_str())) {
                None => true,
                Some((entry_name, e)) => {
                    *entry_name != name
                        || (e.spec_sha256 != d.object.sha256()
                            && e.date_modified != r.date_modified)
                }
            };
            if record {
                changes.push(Change {
                    action: Action::Adopt,
                    kind,
                    name: name.clone(),
                    id: Some(r.id.clone()),
                    before: before.clone(),
                    after: Some(d.object.clone()),
                    adopted: !m.managed,
                    renamed_from: None,
                });
            }
            if d.object.wants_published() && !r.published {
                changes.push(publish_change(kind, &name, Some(&r.id), &d.object));
            }
        } else {
            changes.push(Change {
                action: Action::Update,
                kind,
                name: name.clone(),
                id: Some(r.id.clone()),
                before,
                after: Some(d.object.clone()),
                adopted: !m.managed,
                renamed_from,
            });
            if d.object.wants_published() {
                changes.push(publish_change(kind, &name, Some(&r.id), &d.object));
            }
        }
    }

    // Managed objects whose spec is gone.
    let desired_names: BTreeSet<(Kind, &str)> = desired
        .iter()
        .map(|d| (d.object.kind(), d.object.name()))
        .collect();
    let mut orphans = 0usize;
    for (kind, name, entry) in lock_entries.iter().copied() {
        if desired_names.contains(&(kind, name)) || claimed.contains(&(kind, entry.id.as_str())) {
            continue;
        }
        let Some(r) = by_id.get(&(kind, entry.id.as_str())) else {
            continue;
        };
        if input.prune {
            changes.push(Change {
                action: Action::Delete,
                kind,
                name: name.to_string(),
                id: Some(r.id.clone()),
                before: r.body.clone(),
                after: None,
                adopted: false,
                renamed_from: None,
            });
        } else {
            orphans += 1;
        }
    }
    if orphans > 0 {
        notes.push(format!(
            "{orphans} managed object(s) have no spec any more; run with --prune to delete them"
        ));
    }

    changes.sort_by(|a, b| (a.kind, &a.name, a.action).cmp(&(b.kind, &b.name, b.action)));
    let guards = guards(input, &desired, &changes);
    Plan {
        target: input.target.to_string(),
        changes,
        guards,
        notes,
    }
}

fn publish_change(kind: Kind, name: &str, id: Option<&str>, after: &Arc<Object>) -> Change {
    Change {
        action: Action::Publish,
        kind,
        name: name.to_string(),
        id: id.map(str::to_string),
        before: None,
        after: Some(after.clone()),
        adopted: false,
        renamed_from: None,
    }
}

/// A remote program lists its topics by the names they have now; rename them to the
/// names the plan gives those topic ids, so a topic rename does not look like a
/// program change.
fn follow_topic_renames(
    body: &Arc<Object>,
    r: &Remote,
    names: &BTreeMap<&str, &str>,
) -> Arc<Object> {
    match &**body {
        Object::Program(p) if !r.topic_refs.is_empty() => {
            let mut p = p.clone();
            p.topics = r
                .topic_refs
                .iter()
                .map(|(id, name)| {
                    names
                        .get(id.as_str())
                        .map_or(name.as_str(), |n| n)
                        .to_string()
                })
                .collect();
            Arc::new(Object::Program(p.normalized()))
        }
        _ => Arc::clone(body),
    }
}

fn guards(input: &PlanInput<'_>, desired: &[&Desired], changes: &[Change]) -> Vec<Guard> {
    let mut out = Vec::new();
    if desired.is_empty() && !input.lock.is_empty() {
        out.push(Guard {
            guard: GuardKind::EmptyInput,
            message: format!(
                "the spec tree is empty but the lockfile manages {} object(s) for target {:?}; \
if this is intended, re-run with --allow-empty",
                input.lock.entries().len(),
                input.target
            ),
        });
    } else {
        for kind in Kind::ALL {
            let managed = input.lock.count(kind);
            if managed > 0 && !desired.iter().any(|d| d.object.kind() == kind) {
                out.push(Guard {
                    guard: GuardKind::EmptyInput,
                    message: format!(
                        "no {kind} specs are left but the lockfile manages {managed} {kind}(s); \
if this is intended, re-run with --allow-empty"
                    ),
                });
            }
        }
    }
    for kind in Kind::ALL {
        let managed = input.lock.count(kind);
        if managed < 10 {
            continue;
        }
        let touched = changes
            .iter()
            .filter(|c| c.kind == kind && !c.adopted)
            .filter(|c| matches!(c.action, Action::Update | Action::Delete))
            .count();
        let percent = touched as f64 * 100.0 / managed as f64;
        if percent > input.max_change_percent {
            out.push(Guard {
                guard: GuardKind::Threshold,
                message: format!(
                    "{touched} of {managed} managed {kind}s would be updated or deleted ({percent:.0}%), \
above the {}% guard; if this is intended, re-run with --force",
                    input.max_change_percent
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
