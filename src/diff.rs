//! Pure diff: (desired specs, remote objects, lockfile) -> [`Plan`]. No I/O.
//!
//! Matching a spec to a remote object, in order: the lockfile's id for the spec's name;
//! the lockfile's id for its `renamedFrom`; a remote object named `renamedFrom`; a
//! remote object with the spec's name. Content is compared in normalised form, so a
//! value the user did not change never shows as a change.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::kinds::RemoteRef;
use crate::model::{Kind, Object};
use crate::state::{LockEntry, TargetState};

/// A spec as the diff needs it.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Shared with the plan's changes, so large trees are held once, not per copy.
    pub object: Arc<Object>,
    pub renamed_from: Option<String>,
    /// `file:line:column` of the spec, for plan-time errors.
    pub location: Option<String>,
    /// `(class, name, file:line:column)` of each outside name the spec writes.
    pub external_at: Vec<(String, String, String)>,
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
    /// The objects the fetched body refers to, with their ids, so references follow
    /// renames (a program's member topics).
    pub refs: Vec<RemoteRef>,
    /// The objects the org reports as referring to this one (the programs holding a
    /// topic), where its body was fetched.
    pub held_by: Vec<RemoteRef>,
    /// Who last changed the object (`modifiedBy.id`), when the org says.
    pub modified_by: Option<String>,
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
    /// Publish again an object whose content did not change, because an object it
    /// holds did (a program holding a changed topic searches the topic versions of
    /// its own last publish).
    Republish,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Adopt => "adopt",
            Action::Publish => "publish",
            Action::Republish => "republish",
        }
    }

    /// The one-character marker of the text output.
    pub fn symbol(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
            Action::Adopt => '=',
            Action::Publish | Action::Republish => '^',
        }
    }
}

/// Where a change of this kind and action runs in an apply: adoptions, then each kind
/// after the kinds it refers to (written, then published), then deletes in reverse.
/// Plans are shown and apply reports are listed in this order.
pub fn apply_phase(kind: Kind, action: Action) -> usize {
    let order = crate::kinds::write_order();
    let n = order.len();
    let at = order.iter().position(|k| *k == kind).unwrap_or(n);
    match action {
        Action::Adopt => 0,
        Action::Create | Action::Update => 1 + 2 * at,
        Action::Publish | Action::Republish => 2 + 2 * at,
        Action::Delete => 1 + 2 * n + n.saturating_sub(at),
    }
}

impl Action {
    /// The action an audit or report word names (`replace-create` is a create).
    pub fn parse(word: &str) -> Option<Action> {
        let w = word
            .trim_start_matches("rollback-")
            .trim_start_matches("replace-");
        [
            Action::Create,
            Action::Update,
            Action::Delete,
            Action::Adopt,
            Action::Publish,
            Action::Republish,
        ]
        .into_iter()
        .find(|a| a.as_str() == w)
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
    /// The object was changed outside speechops since the last apply (its spec was not):
    /// this change reverts that edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<Drift>,
    /// Detection numbers (`plan --hits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hits: Option<crate::hits::Hits>,
    /// Why a republish is planned: `holds changed Topic "Y"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Change {
    /// An update of an object that exists in the org but is not managed: it takes over
    /// what someone else made.
    pub fn is_takeover(&self) -> bool {
        self.adopted && self.action == Action::Update
    }
}

/// Who changed an object outside speechops, and when (from the org).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    pub modified_by: Option<String>,
    pub date_modified: Option<String>,
    /// The object was deleted in the org (this change re-creates it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// A managed object whose spec is gone; deleted only with prune.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Orphan {
    pub kind: Kind,
    pub name: String,
    pub id: String,
}

/// Which guard a plan trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GuardKind {
    /// Too large a share of a kind's managed objects would change (`--force`).
    Threshold,
    /// The plan deletes every managed object of a kind, or the tree is empty while
    /// objects are managed (`--allow-empty`).
    EmptyInput,
    /// An object not managed by speechops would be overwritten (`--allow-takeover`).
    Takeover,
    /// A write the org will refuse, foreseen at plan time; no override: fix the specs.
    Conflict,
}

impl GuardKind {
    /// The flag that overrides the guard (`None`: the specs must change).
    pub fn override_flag(self) -> Option<&'static str> {
        match self {
            GuardKind::Threshold => Some("--force"),
            GuardKind::EmptyInput => Some("--allow-empty"),
            GuardKind::Takeover => Some("--allow-takeover"),
            GuardKind::Conflict => None,
        }
    }
}

/// Which guards the operator overrode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overrides {
    pub force: bool,
    pub allow_empty: bool,
    pub allow_takeover: bool,
}

impl Overrides {
    pub fn is_none(&self) -> bool {
        *self == Overrides::default()
    }

    /// The flags that give these overrides.
    pub fn flags(self) -> Vec<&'static str> {
        [
            (self.force, "--force"),
            (self.allow_empty, "--allow-empty"),
            (self.allow_takeover, "--allow-takeover"),
        ]
        .into_iter()
        .filter_map(|(on, flag)| on.then_some(flag))
        .collect()
    }

    pub fn allows(self, g: GuardKind) -> bool {
        match g {
            GuardKind::Threshold => self.force,
            GuardKind::EmptyInput => self.allow_empty,
            GuardKind::Takeover => self.allow_takeover,
            GuardKind::Conflict => false,
        }
    }
}

/// A safety guard the plan trips; apply refuses unless overridden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Guard {
    pub guard: GuardKind,
    pub message: String,
    /// The changes that trip it (kind, name, action): a plan restricted to some of
    /// its changes ([`Plan::restrict`]) keeps the guards of the changes it keeps.
    #[serde(skip)]
    pub about: Vec<(Kind, String, Action)>,
}

/// The (kind, name, action) of each change.
fn refs<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Vec<(Kind, String, Action)> {
    changes
        .into_iter()
        .map(|c| (c.kind, c.name.clone(), c.action))
        .collect()
}

/// Per-action counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub publish: usize,
    pub adopt: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub republish: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
    /// Managed objects whose spec is gone, not deleted because prune is off.
    #[serde(default)]
    pub orphans: Vec<Orphan>,
    /// Errors found at plan time, each naming the spec's file:line (the plan cannot
    /// be applied).
    #[serde(default)]
    pub errors: Vec<String>,
    /// The detection tests' results, when the repository has tests (set by `plan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<crate::testing::Report>,
    /// The guard overrides the plan was made with (covered by the digest: a label
    /// added after review changes it).
    #[serde(default, skip_serializing_if = "Overrides::is_none")]
    pub overrides: Overrides,
}

/// A plan cut down to the reviewed changes whose objects are as they were at review
/// ([`Plan::restrict`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restricted {
    /// Reviewed changes whose object moved since review (the plan now does something
    /// else to it): not applied.
    pub moved: Vec<String>,
    /// Reviewed changes the org already holds (an earlier attempt applied them, or
    /// someone made the same edit): nothing left to do.
    pub done: Vec<String>,
    /// Changes the plan makes now that nobody reviewed (drift, another merge): not
    /// applied; left to the next plan and the drift check.
    pub unreviewed: Vec<String>,
}

/// What a pull request's plan comment records: the digest, each change, and the guard
/// overrides it was planned with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewedPlan {
    pub digest: String,
    pub changes: Vec<Reviewed>,
    pub overrides: Vec<String>,
    /// Who proposed, merged and approved it, as CI wrote it on the first line of the
    /// file (`<!-- speechops-pull-request: {…} -->`; the comment itself cannot put a
    /// line above its own `<!-- speechops-plan -->` marker).
    pub pull_request: Option<serde_json::Value>,
}

impl ReviewedPlan {
    /// The digest and the changes a markdown plan (a pull request's comment) records:
    /// the last of each, which speechops writes at the very end (a spec's text quoted
    /// in the plan cannot stand in for them). `None` without a digest.
    pub fn from_text(text: &str) -> Option<ReviewedPlan> {
        const DIGEST: &str = "<!-- speechops-digest: ";
        let at = text.rfind(DIGEST)?;
        let digest: String = text[at + DIGEST.len()..].chars().take(64).collect();
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let before = &text[..at];
        let block: Vec<&str> = match before.rfind("<!-- speechops-changes\n") {
            // Only the block right before the digest counts.
            Some(open) if before[open..].trim_end().ends_with("-->") => before[open..]
                .lines()
                .skip(1)
                .take_while(|l| l.trim() != "-->")
                .collect(),
            _ => Vec::new(),
        };
        let overrides = block
            .iter()
            .filter_map(|l| l.strip_prefix("override "))
            .map(|f| f.trim().to_string())
            .collect();
        const PR: &str = "<!-- speechops-pull-request: ";
        let pull_request = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix(PR))
            .and_then(|l| l.trim_end().strip_suffix("-->"))
            .and_then(|j| serde_json::from_str(j.trim()).ok());
        let mut changes: Vec<Reviewed> = block.iter().filter_map(|l| Reviewed::parse(l)).collect();
        for c in &mut changes {
            c.pull_request.clone_from(&pull_request);
        }
        Some(ReviewedPlan {
            digest,
            changes,
            overrides,
            pull_request,
        })
    }
}

/// One reviewed change as the markdown plan records it: its key and its object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewed {
    pub key: String,
    pub action: String,
    pub kind: Kind,
    pub name: String,
    /// The pull request of the plan it was reviewed in ([`ReviewedPlan::pull_request`]).
    pub pull_request: Option<serde_json::Value>,
}

impl Reviewed {
    /// `update Topic "Name"`.
    pub fn label(&self) -> String {
        format!("{} {} {:?}", self.action, self.kind, self.name)
    }

    /// The marker line the markdown plan writes for a change: `KEY action Kind
    /// "name"`, the name as a JSON string with `--` escaped (it sits in an HTML comment).
    pub fn line(c: &Change) -> String {
        let name = serde_json::to_string(&c.name)
            .unwrap_or_default()
            .replace("--", "-\\u002d");
        format!("{} {} {} {name}", c.key(), c.action.as_str(), c.kind)
    }

    /// Reads a marker line back; `None` when it is not one.
    pub fn parse(line: &str) -> Option<Reviewed> {
        let mut parts = line.trim().splitn(4, ' ');
        let key = parts.next()?;
        let action = parts.next()?;
        let kind = Kind::parse(parts.next()?)?;
        let name: String = serde_json::from_str(parts.next()?).ok()?;
        (key.len() == 24 && key.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Reviewed {
            key: key.to_string(),
            action: action.to_string(),
            kind,
            name,
            pull_request: None,
        })
    }
}

impl Change {
    /// The line of the digest for this change.
    fn digest_line(&self) -> String {
        let sha = |o: &Option<Arc<Object>>| o.as_deref().map(Object::sha256).unwrap_or_default();
        let mut line = format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            self.kind,
            self.name,
            self.action.as_str(),
            self.id.as_deref().unwrap_or_default(),
            self.renamed_from.as_deref().unwrap_or_default(),
            sha(&self.before),
            sha(&self.after)
        );
        if let Some(reason) = &self.reason {
            line.push_str(&format!("\treason\t{reason}\n"));
        }
        line
    }

    /// This change's precondition and effect in 24 hex digits: action, object, the
    /// body the org holds now and the body written. A reviewed change is applied at
    /// merge only while its key is unchanged.
    pub fn key(&self) -> String {
        crate::model::sha256_hex(self.digest_line().as_bytes())[..24].to_string()
    }

    /// `update Topic "Name"`.
    pub fn label(&self) -> String {
        format!("{} {} {:?}", self.action.as_str(), self.kind, self.name)
    }
}

impl Plan {
    /// The guards that block an apply with these overrides.
    pub fn blocking(&self, o: Overrides) -> Vec<&Guard> {
        self.guards.iter().filter(|g| !o.allows(g.guard)).collect()
    }

    /// sha256 over what the plan would do, to whom: each change's kind, name, action,
    /// remote id, former name, and the sha256 of the body the org holds (`before`) and
    /// of the body written (`after`), in order. What reviewers saw on a pull request is
    /// what merge applies only if this digest is unchanged: an edit made in Genesys to
    /// an object the plan touches changes `before`, and so the digest.
    pub fn digest(&self) -> String {
        let mut lines: String = self.changes.iter().map(Change::digest_line).collect();
        for flag in self.overrides.flags() {
            lines.push_str(&format!("override\t{flag}\n"));
        }
        crate::model::sha256_hex(lines.as_bytes())
    }

    /// Keeps only the changes reviewed (by key), and the guards those trip; says what
    /// was left out and why.
    pub fn restrict(&mut self, reviewed: &[Reviewed]) -> Restricted {
        let keys: std::collections::HashSet<&str> =
            reviewed.iter().map(|r| r.key.as_str()).collect();
        let (kept, dropped): (Vec<Change>, Vec<Change>) = std::mem::take(&mut self.changes)
            .into_iter()
            .partition(|c| keys.contains(c.key().as_str()));
        let now: std::collections::HashSet<String> = kept.iter().map(Change::key).collect();
        let planned_now = |r: &Reviewed| {
            dropped
                .iter()
                .chain(&kept)
                .any(|c| c.kind == r.kind && c.name == r.name)
        };
        let (moved, done): (Vec<&Reviewed>, Vec<&Reviewed>) = reviewed
            .iter()
            .filter(|r| !now.contains(&r.key))
            .partition(|r| planned_now(r));
        let moved = moved.into_iter().map(Reviewed::label).collect();
        let done = done.into_iter().map(Reviewed::label).collect();
        let unreviewed = dropped.iter().map(Change::label).collect();
        let kept_refs: std::collections::HashSet<(Kind, String, Action)> =
            refs(&kept).into_iter().collect();
        self.guards
            .retain(|g| g.about.is_empty() || g.about.iter().any(|r| kept_refs.contains(r)));
        self.changes = kept;
        Restricted {
            moved,
            done,
            unreviewed,
        }
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Delete => s.delete += 1,
                Action::Publish => s.publish += 1,
                Action::Adopt => s.adopt += 1,
                Action::Republish => s.republish += 1,
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
    /// The lockfile manages the spec's object, but the org no longer has it: it was
    /// deleted outside speechops.
    gone: bool,
}

/// The org's objects by id and by name. When a name occurs twice, the lowest id wins
/// and a note says so.
struct RemoteIndex<'a> {
    by_id: BTreeMap<(Kind, &'a str), &'a Remote>,
    by_name: BTreeMap<(Kind, &'a str), &'a Remote>,
}

fn index_remote<'a>(remote: &'a [Remote], notes: &mut Vec<String>) -> RemoteIndex<'a> {
    let mut by_id: BTreeMap<(Kind, &str), &Remote> = BTreeMap::new();
    let mut by_name: BTreeMap<(Kind, &str), &Remote> = BTreeMap::new();
    let mut sorted_remote: Vec<&Remote> = remote.iter().collect();
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
    RemoteIndex { by_id, by_name }
}

/// Matches one spec to at most one remote object: by the lockfile's id for its name,
/// then for its `renamedFrom`, then by name. `claimed` holds the ids already matched.
fn match_spec<'a>(
    d: &Desired,
    lock: &TargetState,
    index: &RemoteIndex<'a>,
    claimed: &mut BTreeSet<(Kind, &'a str)>,
    notes: &mut Vec<String>,
) -> Match<'a> {
    let by_id = &index.by_id;
    let by_name = &index.by_name;
    let kind = d.object.kind();
    let lock_id = |name: &str| lock.get(kind, name).map(|e| e.id.as_str());
    let mut m = Match {
        remote: None,
        managed: false,
        gone: false,
    };
    if let Some(r) = lock_id(d.object.name()).and_then(|id| by_id.get(&(kind, id))) {
        m = Match {
            remote: Some(r),
            managed: true,
            gone: false,
        };
    } else if let Some(old) = &d.renamed_from {
        if let Some(r) = lock_id(old).and_then(|id| by_id.get(&(kind, id))) {
            m = Match {
                remote: Some(r),
                managed: true,
                gone: false,
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
            gone: false,
        };
    }
    if m.remote.is_none() && lock_id(d.object.name()).is_some() {
        m.gone = true;
    }
    m
}

/// The changes for one matched spec: a create, an adoption, or an update, each with
/// its publish when the spec wants one.
fn changes_for(
    (d, m): (&Desired, Match<'_>),
    name_by_id: &BTreeMap<(Kind, &str), &str>,
    lock_by_id: &BTreeMap<(Kind, &str), (&str, &LockEntry)>,
    changes: &mut Vec<Change>,
) {
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
            // Managed, and gone from the org: someone deleted it there.
            drift: m.gone.then_some(Drift {
                modified_by: None,
                date_modified: None,
                deleted: true,
            }),
            hits: None,
            reason: None,
        });
        if d.object.wants_published() {
            changes.push(publish_change(kind, &name, None, &d.object));
        }
        return;
    };
    let before = r
        .body
        .as_ref()
        .map(|b| follow_renames(b, r, name_by_id))
        .map(|b| Arc::new(b.seen_by(&d.object)));
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
                    || (e.spec_sha256 != d.object.sha256() && e.date_modified != r.date_modified)
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
                drift: None,
                hits: None,
                reason: None,
            });
        }
        if d.object.wants_published() && !r.published {
            changes.push(publish_change(kind, &name, Some(&r.id), &d.object));
        }
    } else {
        // Changed in the org since our last write while its spec was not: someone
        // edited it by hand, and this update reverts that.
        let drift = lock_by_id
            .get(&(kind, r.id.as_str()))
            .filter(|(_, e)| {
                e.date_modified.is_some()
                    && e.date_modified != r.date_modified
                    && e.spec_sha256 == d.object.sha256()
            })
            .map(|_| Drift {
                modified_by: r.modified_by.clone(),
                date_modified: r.date_modified.clone(),
                deleted: false,
            });
        changes.push(Change {
            action: Action::Update,
            kind,
            name: name.clone(),
            id: Some(r.id.clone()),
            before,
            after: Some(d.object.clone()),
            // The singleton always exists: writing it takes nothing over.
            adopted: !m.managed && !kind.singleton(),
            renamed_from,
            drift,
            hits: None,
            reason: None,
        });
        if d.object.wants_published() {
            changes.push(publish_change(kind, &name, Some(&r.id), &d.object));
        }
    }
}

/// Computes the plan. Deterministic: same input, same plan.
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let mut notes = Vec::new();
    let index = index_remote(input.remote, &mut notes);
    let by_id = &index.by_id;

    let mut desired: Vec<&Desired> = input.desired.iter().collect();
    desired.sort_by(|a, b| {
        (a.object.kind(), a.object.name()).cmp(&(b.object.kind(), b.object.name()))
    });

    // First pass: match every spec to at most one remote object.
    let mut claimed: BTreeSet<(Kind, &str)> = BTreeSet::new();
    let matches: Vec<(&Desired, Match<'_>)> = desired
        .iter()
        .map(|d| {
            let m = match_spec(d, input.lock, &index, &mut claimed, &mut notes);
            (*d, m)
        })
        .collect();

    // Ids -> the names they will carry, so references follow renames.
    let mut name_by_id: BTreeMap<(Kind, &str), &str> = BTreeMap::new();
    for (d, m) in &matches {
        if let Some(r) = m.remote {
            name_by_id.insert((r.kind, r.id.as_str()), d.object.name());
        }
    }

    let lock_entries = input.lock.entries();
    let lock_by_id: BTreeMap<(Kind, &str), (&str, &LockEntry)> = lock_entries
        .iter()
        .map(|(k, n, e)| ((*k, e.id.as_str()), (*n, *e)))
        .collect();
    let mut changes = Vec::new();
    for (d, m) in &matches {
        changes_for((d, *m), &name_by_id, &lock_by_id, &mut changes);
    }

    // Managed objects whose spec is gone.
    let desired_names: BTreeSet<(Kind, &str)> = desired
        .iter()
        .map(|d| (d.object.kind(), d.object.name()))
        .collect();
    let mut orphans = Vec::new();
    for (kind, name, entry) in lock_entries.iter().copied() {
        if desired_names.contains(&(kind, name))
            || claimed.contains(&(kind, entry.id.as_str()))
            || kind.singleton()
        {
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
                drift: None,
                hits: None,
                reason: None,
            });
        } else {
            orphans.push(Orphan {
                kind,
                name: name.to_string(),
                id: r.id.clone(),
            });
        }
    }
    let republish = republishes(&matches, input.remote, input.lock, &changes, &mut notes);
    changes.extend(republish);
    notes.extend(rename_hints(&changes, &orphans, by_id));
    let errors = rename_errors(&matches, input.lock, &index.by_name);
    changes.sort_by(|a, b| (a.kind, &a.name, a.action).cmp(&(b.kind, &b.name, b.action)));
    let guards = guards(input, &desired, &changes);
    Plan {
        target: input.target.to_string(),
        changes,
        guards,
        notes,
        orphans,
        errors,
        tests: None,
        overrides: Overrides::default(),
    }
}

/// A program searches the topic versions of its own last publish (Genesys, "Work with a
/// program"), so a published change of an object is live only once every publishable
/// object holding it is published again. For each object this plan publishes, every
/// publishable holder that this plan neither publishes nor deletes is republished:
/// holders by their specs (as they will be after the apply) and as the org reports
/// them. A holder whose spec keeps it unpublished is left so; one that has no spec is
/// republished only when it has no unpublished edits of its own (publishing it must
/// not make someone's draft live), else a note says the change is not live in it.
fn republishes(
    matches: &[(&Desired, Match<'_>)],
    remote: &[Remote],
    lock: &TargetState,
    changes: &[Change],
    notes: &mut Vec<String>,
) -> Vec<Change> {
    // Holder (kind, id) -> the changed objects it holds, as `Kind "name"`.
    let mut held: BTreeMap<(Kind, &str), BTreeSet<String>> = BTreeMap::new();
    let planned = |kind: Kind, id: &str, actions: &[Action]| {
        changes
            .iter()
            .any(|c| c.kind == kind && c.id.as_deref() == Some(id) && actions.contains(&c.action))
    };
    for c in changes.iter().filter(|c| c.action == Action::Publish) {
        let holder_kinds: Vec<Kind> = crate::kinds::referrers(c.kind)
            .into_iter()
            .filter(|k| k.publishable())
            .collect();
        if holder_kinds.is_empty() {
            continue;
        }
        let what = format!("{} {:?}", c.kind, c.name);
        let mut found: BTreeSet<(Kind, String)> = BTreeSet::new();
        if let Some(id) = c.id.as_deref() {
            for r in remote.iter().filter(|r| holder_kinds.contains(&r.kind)) {
                if r.refs.iter().any(|x| x.kind == c.kind && x.id == id) {
                    found.insert((r.kind, r.id.clone()));
                }
            }
            if let Some(r) = remote.iter().find(|r| r.kind == c.kind && r.id == id) {
                for h in r.held_by.iter().filter(|h| holder_kinds.contains(&h.kind)) {
                    found.insert((h.kind, h.id.clone()));
                }
            }
        }
        for (d, m) in matches {
            let (Some(r), true) = (m.remote, holder_kinds.contains(&d.object.kind())) else {
                continue;
            };
            if d.object.refs().contains(&(c.kind, c.name.as_str())) {
                found.insert((r.kind, r.id.clone()));
            }
        }
        for (kind, id) in found {
            if let Some(r) = remote.iter().find(|r| r.kind == kind && r.id == id) {
                held.entry((kind, r.id.as_str()))
                    .or_default()
                    .insert(what.clone());
            }
        }
    }
    let mut out = Vec::new();
    for ((kind, id), what) in held {
        if planned(kind, id, &[Action::Publish, Action::Delete]) {
            continue;
        }
        let Some(r) = remote.iter().find(|r| r.kind == kind && r.id == id) else {
            continue;
        };
        let what = what.into_iter().collect::<Vec<_>>().join(", ");
        let spec = matches
            .iter()
            .find(|(_, m)| m.remote.is_some_and(|x| x.kind == kind && x.id == id))
            .map(|(d, _)| d);
        let managed_name = lock
            .entries()
            .into_iter()
            .find(|(k, _, e)| *k == kind && e.id == id)
            .map(|(_, n, _)| n.to_string());
        let (name, after, reason) = match spec {
            Some(d) if !d.object.wants_published() => continue,
            Some(d) => (
                d.object.name().to_string(),
                Some(Arc::clone(&d.object)),
                format!("holds changed {what}"),
            ),
            None if !r.published => {
                notes.push(format!(
                    "{kind} {:?} holds changed {what} but has unpublished edits of its own, so \
speechops does not republish it (that would make those edits live): the change is not live in \
it until it is published in Genesys",
                    r.name
                ));
                continue;
            }
            None => (
                managed_name.clone().unwrap_or_else(|| r.name.clone()),
                r.body.clone(),
                if managed_name.is_some() {
                    format!("holds changed {what}; its spec is gone")
                } else {
                    format!("holds changed {what}; not managed by speechops")
                },
            ),
        };
        out.push(Change {
            action: Action::Republish,
            kind,
            name,
            id: Some(id.to_string()),
            before: None,
            after,
            adopted: false,
            renamed_from: None,
            drift: None,
            hits: None,
            reason: Some(reason),
        });
    }
    out
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
        drift: None,
        hits: None,
        reason: None,
    }
}

/// A remote body names the objects it refers to by the names they have now; rename
/// them to the names the plan gives those ids, so renaming a topic does not look like
/// a change of the program that holds it.
fn follow_renames(
    body: &Arc<Object>,
    r: &Remote,
    names: &BTreeMap<(Kind, &str), &str>,
) -> Arc<Object> {
    if r.refs.is_empty() {
        return Arc::clone(body);
    }
    let rename = |kind: Kind, name: &str| {
        let target = r.refs.iter().find(|x| x.kind == kind && x.name == name)?;
        let new = names.get(&(kind, target.id.as_str()))?;
        (*new != name).then(|| new.to_string())
    };
    Arc::new(body.with_refs_renamed(&rename))
}

/// A create whose content equals an orphan's (but for the name) is most likely a
/// rename that lacks `renamedFrom`: say so, before the plan deletes one and creates
/// the other.
fn rename_hints(
    changes: &[Change],
    orphans: &[Orphan],
    by_id: &BTreeMap<(Kind, &str), &Remote>,
) -> Vec<String> {
    let mut out = Vec::new();
    let deleted = changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| (c.kind, c.name.as_str(), c.before.as_deref()));
    let orphaned = orphans.iter().map(|o| {
        let body = by_id
            .get(&(o.kind, o.id.as_str()))
            .and_then(|r| r.body.as_deref());
        (o.kind, o.name.as_str(), body)
    });
    let gone: Vec<(Kind, &str, Option<&Object>)> = deleted.chain(orphaned).collect();
    for c in changes.iter().filter(|c| c.action == Action::Create) {
        let Some(after) = c.after.as_deref() else {
            continue;
        };
        for (kind, old, body) in &gone {
            if *kind == c.kind && body.is_some_and(|b| b.renamed(&c.name).same_content(after)) {
                out.push(format!(
                    "{} {:?} has the same content as {:?}, which lost its spec: if this is a \
rename, add `renamedFrom: {old}` to its spec so the object is renamed in place",
                    c.kind, c.name, old
                ));
            }
        }
    }
    out
}

/// A `renamedFrom` that names nothing (no lockfile entry, no object in the org) while
/// the spec would be created: a typo that would create a second object and orphan the
/// first. An error naming the spec's location.
fn rename_errors(
    matches: &[(&Desired, Match<'_>)],
    lock: &TargetState,
    by_name: &BTreeMap<(Kind, &str), &Remote>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (d, m) in matches {
        let Some(old) = &d.renamed_from else { continue };
        let kind = d.object.kind();
        if m.remote.is_some()
            || lock.get(kind, old).is_some()
            || by_name.contains_key(&(kind, old.as_str()))
        {
            continue;
        }
        let known = lock
            .entries()
            .into_iter()
            .filter(|(k, _, _)| *k == kind)
            .map(|(_, n, _)| n)
            .chain(by_name.keys().filter(|(k, _)| *k == kind).map(|(_, n)| *n))
            .collect::<Vec<&str>>();
        let hint = crate::spec::yaml::closest(old, known)
            .map(|c| format!(" (did you mean {c:?}?)"))
            .unwrap_or_default();
        out.push(format!(
            "{}: `renamedFrom: {old}` names no {kind} in the lockfile or the org{hint}, so {:?} \
would be created as a new object; fix the name, or remove `renamedFrom`",
            d.location.as_deref().unwrap_or("(spec)"),
            d.object.name()
        ));
    }
    out
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
            about: refs(changes.iter().filter(|c| c.action == Action::Delete)),
        });
    } else {
        // Only a plan that deletes every managed object of a kind trips it: a kind
        // left without specs but not pruned deletes nothing.
        for &kind in Kind::ALL {
            let managed = input.lock.count(kind);
            let deleted = changes
                .iter()
                .filter(|c| c.kind == kind && c.action == Action::Delete)
                .count();
            if managed > 0 && deleted >= managed {
                out.push(Guard {
                    guard: GuardKind::EmptyInput,
                    message: format!(
                        "the plan deletes every managed {kind} ({deleted}); if this is intended, \
re-run with --allow-empty"
                    ),
                    about: refs(
                        changes
                            .iter()
                            .filter(|c| c.kind == kind && c.action == Action::Delete),
                    ),
                });
            }
        }
    }
    for &kind in Kind::ALL {
        let managed = input.lock.count(kind);
        if managed < 10 {
            continue;
        }
        let touching: Vec<&Change> = changes
            .iter()
            .filter(|c| c.kind == kind && !c.adopted)
            .filter(|c| matches!(c.action, Action::Update | Action::Delete))
            .collect();
        let touched = touching.len();
        let percent = touched as f64 * 100.0 / managed as f64;
        if percent > input.max_change_percent {
            out.push(Guard {
                guard: GuardKind::Threshold,
                message: format!(
                    "{touched} of {managed} managed {kind}s would be updated or deleted ({percent:.0}%), \
above the {}% guard; if this is intended, re-run with --force",
                    input.max_change_percent
                ),
                about: refs(touching),
            });
        }
    }
    let takeovers: Vec<String> = changes
        .iter()
        .filter(|c| c.is_takeover())
        .map(|c| format!("{} {:?}", c.kind, c.name))
        .collect();
    if !takeovers.is_empty() {
        out.push(Guard {
            guard: GuardKind::Takeover,
            message: format!(
                "{} object(s) exist in the org, are not managed by speechops and differ from their \
specs: {}; applying overwrites them. If that is intended, re-run with --allow-takeover (or \
set `takeover: allow` in speechops.yaml)",
                takeovers.len(),
                takeovers.join(", ")
            ),
            about: refs(changes.iter().filter(|c| c.is_takeover())),
        });
    }
    out.extend(conflicts(input, changes));
    out
}

/// Writes the org will refuse, found before any is sent: deleting an object that
/// another still refers to (a topic a program holds), where this plan neither deletes
/// the holder nor removes the reference from it.
fn conflicts(input: &PlanInput<'_>, changes: &[Change]) -> Vec<Guard> {
    let mut out = Vec::new();
    let holder_change = |kind: Kind, id: &str| {
        changes.iter().find(|c| {
            c.kind == kind
                && c.id.as_deref() == Some(id)
                && !matches!(c.action, Action::Publish | Action::Republish)
        })
    };
    for c in changes.iter().filter(|c| c.action == Action::Delete) {
        let Some(r) =
            c.id.as_deref()
                .and_then(|id| input.remote.iter().find(|r| r.kind == c.kind && r.id == id))
        else {
            continue;
        };
        for holder in &r.held_by {
            let released = match holder_change(holder.kind, &holder.id) {
                Some(h) if h.action == Action::Delete => true,
                // The holder's change releases the object only when its spec manages
                // that reference (a settings spec without `defaultProgram` does not)
                // and no longer makes it.
                Some(h) => h.after.as_deref().is_some_and(|after| {
                    let target = (c.kind, r.name.as_str());
                    let held = input
                        .remote
                        .iter()
                        .find(|x| x.kind == holder.kind && x.id == holder.id)
                        .and_then(|x| x.body.as_deref());
                    let managed = held.is_none_or(|b| b.seen_by(after).refs().contains(&target));
                    managed && !after.refs().contains(&(c.kind, c.name.as_str()))
                }),
                None => false,
            };
            if !released {
                out.push(Guard {
                    guard: GuardKind::Conflict,
                    message: format!(
                        "{} {:?} cannot be deleted: {} {:?} still refers to it and this plan \
does not change that; change the {} first (in its spec, or in Genesys if it is not managed \
here)",
                        c.kind, c.name, holder.kind, holder.name, holder.kind,
                    ),
                    about: refs([c]),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
