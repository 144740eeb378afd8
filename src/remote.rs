//! Fetching the remote state a plan is computed against, with the fewest requests:
//! one list per kind (all pages, the kinds in parallel), then, for kinds whose list
//! carries no bodies (topics: no phrases; programs: no member topics), a GET only for
//! the objects whose content the lockfile cannot prove unchanged (SPEC 8.3, 8.4: same
//! `dateModified` and same spec hash need no GET).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::diff::{Desired, Remote};
use crate::genesys::{self, Client};
use crate::kinds;
use crate::model::{Kind, sha256_hex};
use crate::state::TargetState;

/// The remote side of a plan.
#[derive(Debug, Clone)]
pub struct RemoteState {
    pub objects: Vec<Remote>,
    /// The ids of the outside objects (queues, flows) the specs name.
    pub external: kinds::Ids,
    /// Outside names that match no object, or several: plan errors, with the
    /// spec's location.
    pub errors: Vec<String>,
    /// sha256 over what the lists returned; changes whenever any object changes.
    pub fingerprint: String,
}

impl RemoteState {
    /// The remote object with this id.
    pub fn by_id(&self, kind: Kind, id: &str) -> Option<&Remote> {
        self.objects.iter().find(|r| r.kind == kind && r.id == id)
    }
}

/// Lists every kind the plan can touch and fetches the bodies the diff needs.
pub async fn fetch(
    client: &Client,
    desired: &[Desired],
    lock: &TargetState,
) -> Result<RemoteState, genesys::Error> {
    // A kind with no spec and no managed object cannot appear in the plan, so it is
    // not listed (which also keeps orgs without an optional endpoint working), unless
    // a wanted kind refers to it (writing a reference needs the ids) or it refers to
    // a wanted kind (what holds an object the plan deletes is a foreseen conflict;
    // best effort: an org that refuses that list only loses the early warning).
    let wanted =
        |kind: Kind| lock.count(kind) > 0 || desired.iter().any(|d| d.object.kind() == kind);
    let needed = |k: Kind| wanted(k) || kinds::referrers(k).into_iter().any(wanted);
    // Only a managed object whose spec is gone can be deleted: what holds objects of
    // a kind matters only when the kind has one.
    let spec_named = |k: Kind, name: &str| {
        desired.iter().any(|d| {
            d.object.kind() == k
                && (d.object.name() == name || d.renamed_from.as_deref() == Some(name))
        })
    };
    let deletable = |k: Kind| {
        lock.entries()
            .iter()
            .any(|(kind, name, _)| *kind == k && !spec_named(k, name))
    };
    let holders = |k: Kind| k.refers_to().iter().copied().any(deletable);
    let listed_kinds: Vec<(Kind, bool)> = Kind::ALL
        .iter()
        .copied()
        .filter(|&k| needed(k) || holders(k))
        .map(|k| (k, needed(k)))
        .collect();
    let mut lists = tokio::task::JoinSet::new();
    for (kind, required) in listed_kinds {
        let client = client.clone();
        lists.spawn(async move { (kind, required, kind.list(&client).await) });
    }
    let mut results = BTreeMap::new();
    while let Some(res) = lists.join_next().await {
        let (kind, required, list) = res.map_err(|e| kinds::task_failed("list", e))?;
        match list {
            Err(e) if !required => {
                tracing::warn!("cannot list {kind} to find what holds deleted objects: {e}");
            }
            list => {
                results.insert(kind, list);
            }
        }
    }
    // The first failure in registry order, whichever answered first.
    let mut listed: BTreeMap<Kind, Vec<kinds::Listed>> = BTreeMap::new();
    for (kind, list) in results {
        listed.insert(kind, list?);
    }

    // Lists lag writes: a managed object missing from its list is read by id before
    // it counts as gone (the Genesys Terraform provider retries reads after a create
    // for the same reason). Costs nothing when every managed object is listed.
    let mut fetched: BTreeMap<(Kind, String), kinds::Fetched> = BTreeMap::new();
    let mut confirm = tokio::task::JoinSet::new();
    let mut unreadable: BTreeSet<Kind> = BTreeSet::new();
    for (kind, list) in &listed {
        let ids: BTreeSet<&str> = list.iter().map(|l| l.id.as_str()).collect();
        for (k, _, e) in lock.entries() {
            if k == *kind && !ids.contains(e.id.as_str()) {
                let (client, kind, id) = (client.clone(), *kind, e.id.clone());
                confirm.spawn(async move { (kind, kind.get(&client, &id).await) });
            }
        }
    }
    while let Some(res) = confirm.join_next().await {
        let (kind, got) = res.map_err(|e| kinds::task_failed("GET", e))?;
        // Not found: gone, as the list says. Not readable by id: listed again below.
        let f = match got {
            Ok(f) => f,
            Err(e) => {
                if e.status() != Some(404) {
                    unreadable.insert(kind);
                }
                continue;
            }
        };
        let name = match f.body.scope() {
            Some(scope) => kinds::qualify(f.body.base_name(), scope),
            None => f.body.name().to_string(),
        };
        if let Some(list) = listed.get_mut(&kind) {
            list.push(kinds::Listed {
                id: f.id.clone(),
                name,
                date_modified: f.date_modified.clone(),
                published: f.published,
                modified_by: None,
                fingerprint: None,
                body: kind.list_has_bodies().then(|| f.body.clone()),
                refs: f.refs.clone(),
                unsettled: false,
            });
        }
        fetched.insert((kind, f.id.clone()), f);
    }
    // A kind that cannot be read by id (sentiment feedback) is listed again, a few
    // times with growing waits, while a managed object is still missing from it.
    for (kind, list) in listed.iter_mut().filter(|(k, _)| unreadable.contains(*k)) {
        let mut wait = std::time::Duration::from_millis(200);
        for _ in 0..3 {
            let ids: BTreeSet<String> = list.iter().map(|l| l.id.clone()).collect();
            let missing = lock
                .entries()
                .iter()
                .any(|(k, _, e)| k == kind && !ids.contains(&e.id));
            if !missing {
                break;
            }
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
            let again = kind.list(client).await?;
            for l in again {
                if !ids.contains(&l.id) {
                    list.push(l);
                }
            }
        }
    }

    let mut fp_lines: Vec<String> = Vec::new();
    for (kind, list) in &listed {
        for l in list {
            let line = fingerprint_line(*kind, &l.id, &l.name, &l.date_modified, l.published);
            fp_lines.push(match &l.fingerprint {
                Some(extra) => format!("{line}\t{extra}"),
                None => line,
            });
        }
    }
    fp_lines.sort();
    let fingerprint = sha256_hex(fp_lines.join("\n").as_bytes());

    let mut tasks = tokio::task::JoinSet::new();
    for (kind, list) in &listed {
        if kind.list_has_bodies() {
            continue;
        }
        let ids: Vec<Listed<'_>> = list
            .iter()
            .map(|l| (l.id.as_str(), l.name.as_str(), &l.date_modified))
            .collect();
        let mut wanted = bodies_to_get(*kind, &ids, desired, lock);
        // What the org has not accepted is read whatever the lockfile proves.
        for l in list.iter().filter(|l| l.unsettled) {
            if !wanted.contains(&l.id) {
                wanted.push(l.id.clone());
            }
        }
        for id in wanted {
            if fetched.contains_key(&(*kind, id.clone())) {
                continue;
            }
            let client = client.clone();
            let kind = *kind;
            tasks.spawn(async move { kind.get(&client, &id).await });
        }
    }
    while let Some(res) = tasks.join_next().await {
        let f = res.map_err(|e| kinds::task_failed("GET", e))??;
        fetched.insert((f.body.kind(), f.id.clone()), f);
    }

    let names: BTreeMap<(Kind, String), String> = listed
        .iter()
        .flat_map(|(k, list)| list.iter().map(|l| ((*k, l.id.clone()), l.name.clone())))
        .collect();
    let mut objects = Vec::with_capacity(listed.values().map(Vec::len).sum());
    for (kind, list) in listed {
        for l in list {
            let f = fetched.remove(&(kind, l.id.clone()));
            let (body, refs, held_by) = match (l.body, f) {
                (Some(body), _) => (Some(body), l.refs, Vec::new()),
                (None, Some(f)) => (Some(f.body), f.refs, f.held_by),
                (None, None) => (None, Vec::new(), Vec::new()),
            };
            let (body, refs) = match body {
                Some(b) => {
                    let (b, refs) = kinds::name_refs(b, refs, &names);
                    (Some(b), refs)
                }
                None => (None, refs),
            };
            objects.push(Remote {
                kind,
                body: body.map(Arc::new),
                refs,
                held_by,
                modified_by: l.modified_by,
                id: l.id,
                name: l.name,
                date_modified: l.date_modified,
                published: l.published,
            });
        }
    }
    kinds::add_holders(&mut objects);
    // Outside objects read back by id are shown by name: the names the specs use,
    // and for others (a queue a spec no longer names) the org's listing.
    let (mut external, errors) = resolve_external(client, desired).await?;
    let known: BTreeMap<(String, String), String> = external
        .externals()
        .map(|(class, name, id)| ((class.to_string(), id.to_string()), name.to_string()))
        .collect();
    let bodies: Vec<(usize, kinds::Object)> = objects
        .iter()
        .enumerate()
        .filter_map(|(i, o)| o.body.as_deref().map(|b| (i, b.clone())))
        .filter(|(_, b)| !b.external_refs().is_empty())
        .collect();
    if !bodies.is_empty() {
        let mut only: Vec<kinds::Object> = bodies.iter().map(|(_, b)| b.clone()).collect();
        let classes: BTreeSet<&'static str> = desired
            .iter()
            .flat_map(|d| d.object.external_classes())
            .collect();
        let named = kinds::name_external_ids(client, &mut only, &known, &classes).await;
        for ((i, _), b) in bodies.iter().zip(only) {
            if let Some(o) = objects.get_mut(*i) {
                o.body = Some(Arc::new(b));
            }
        }
        // What the org holds now can be written back (a rollback): its names map to
        // its ids, unless a spec's name already means another object.
        for ((class, id), name) in named {
            if external.external(&class, &name).is_none() {
                external.insert_external(&class, &name, &id);
            }
        }
    }
    Ok(RemoteState {
        objects,
        external,
        errors,
        fingerprint,
    })
}

/// Looks up every outside name the specs use (one lookup per distinct name, through
/// the kind that uses it), and reports each that matches no object or several.
async fn resolve_external(
    client: &Client,
    desired: &[Desired],
) -> Result<(kinds::Ids, Vec<String>), genesys::Error> {
    let mut wanted: BTreeMap<Kind, BTreeSet<(&'static str, String)>> = BTreeMap::new();
    for d in desired {
        for (class, name) in d.object.external_refs() {
            wanted
                .entry(d.object.kind())
                .or_default()
                .insert((class, name.to_string()));
        }
    }
    let mut found: BTreeMap<(&'static str, String), Vec<String>> = BTreeMap::new();
    for (kind, names) in wanted {
        found.extend(
            kind.resolve_external(client, names.into_iter().collect())
                .await?,
        );
    }
    let mut ids = kinds::Ids::default();
    for ((class, name), list) in &found {
        if let [id] = list.as_slice() {
            ids.insert_external(class, name, id);
        }
    }
    // For a name that matches nothing, the closest name of its class in the org (one
    // listing per class with a miss; a listing that fails just gives no suggestion).
    let mut known: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for ((class, _), list) in &found {
        if list.is_empty() && !known.contains_key(class) {
            let names = client
                .list_named(class)
                .await
                .map(|v| v.into_iter().map(|x| x.name).collect())
                .unwrap_or_default();
            known.insert(class, names);
        }
    }
    let mut errors = Vec::new();
    for d in desired {
        for (class, name) in d.object.external_refs() {
            let n = found.get(&(class, name.to_string())).map_or(0, Vec::len);
            if n == 1 {
                continue;
            }
            let at = d
                .external_at
                .iter()
                .find(|(c, n, _)| c == class && n == name)
                .map(|(_, _, at)| at.as_str())
                .or(d.location.as_deref())
                .unwrap_or("(unknown location)");
            let (kind, spec) = (d.object.kind(), d.object.name());
            errors.push(if n == 0 {
                let hint = known
                    .get(class)
                    .and_then(|names| crate::spec::yaml::closest(name, names.iter().map(String::as_str)))
                    .map(|c| format!(" (did you mean {c:?}?)"))
                    .unwrap_or_default();
                format!(
                    "{at}: {kind} {spec:?} names {class} {name:?}, which matches no {class} in the \
org{hint}; `speechops org {class}s` lists them"
                )
            } else {
                format!(
                    "{at}: {kind} {spec:?} names {class} {name:?}, which matches {n} {class}s in the org; \
rename them in Genesys so the name is unique"
                )
            });
        }
    }
    errors.sort();
    errors.dedup();
    Ok((ids, errors))
}

fn fingerprint_line(
    kind: Kind,
    id: &str,
    name: &str,
    date_modified: &Option<String>,
    published: bool,
) -> String {
    format!(
        "{kind}\t{id}\t{name}\t{}\t{published}",
        date_modified.as_deref().unwrap_or("")
    )
}

/// `(id, name, dateModified)` of a listed object.
type Listed<'a> = (&'a str, &'a str, &'a Option<String>);

/// Ids of the listed objects of `kind` whose bodies the diff needs: all but those the
/// lockfile proves unchanged (same `dateModified`, same spec hash) and those that
/// neither a spec nor the lockfile names.
fn bodies_to_get(
    kind: Kind,
    listed: &[Listed<'_>],
    desired: &[Desired],
    lock: &TargetState,
) -> Vec<String> {
    let desired_of_kind: BTreeMap<&str, &Desired> = desired
        .iter()
        .filter(|d| d.object.kind() == kind)
        .map(|d| (d.object.name(), d))
        .collect();
    let renamed: BTreeMap<&str, &Desired> = desired
        .iter()
        .filter(|d| d.object.kind() == kind)
        .filter_map(|d| d.renamed_from.as_deref().map(|old| (old, d)))
        .collect();
    let lock_by_id: BTreeMap<&str, (&str, &crate::state::LockEntry)> = lock
        .entries()
        .into_iter()
        .filter(|(k, _, _)| *k == kind)
        .map(|(_, name, e)| (e.id.as_str(), (name, e)))
        .collect();
    // A scoped kind's listed name carries its scope, which a spec's identity may not.
    let find = |name: &str| {
        desired_of_kind
            .get(name)
            .or_else(|| renamed.get(name))
            .or_else(|| {
                kind.scoped()
                    .then(|| desired_of_kind.get(kinds::base_of(name)))
                    .flatten()
            })
            .copied()
    };

    let mut out = BTreeSet::new();
    for &(id, name, date_modified) in listed {
        let managed = lock_by_id.get(id);
        let spec = managed
            .and_then(|(name, _)| find(name))
            .or_else(|| find(name));
        match (spec, managed) {
            (Some(d), Some((_, entry))) => {
                let proven = !d.object.always_read()
                    && entry.date_modified.is_some()
                    && entry.date_modified == *date_modified
                    && entry.spec_sha256 == d.object.sha256();
                if !proven {
                    out.insert(id.to_string());
                }
            }
            (Some(_), None) => {
                out.insert(id.to_string());
            }
            // An orphan: its body shows what a prune deletes, and lets the plan hint
            // at a rename that lacks `renamedFrom`.
            (None, Some(_)) => {
                out.insert(id.to_string());
            }
            (None, _) => {}
        }
    }
    out.into_iter().collect()
}

/// Scoped identities across the tree and the org (SPEC 12.1): a topic is `Name
/// (dialect)` where a topic of another dialect, in the specs or in the org, has the
/// same name, and `Name` elsewhere. The org's topics are listed as `Name (dialect)`;
/// this drops the dialect where no other dialect shares the name, qualifies the specs
/// whose name only the org shares, follows both in every reference, and moves the
/// lockfile entries recorded under the other form (lockfiles from before topic
/// identity carried the dialect) to their identity, by id.
pub fn align_identities(desired: &mut [Desired], remote: &mut RemoteState, lock: &mut TargetState) {
    let from_org: Vec<(Kind, String, String)> = remote
        .objects
        .iter()
        .filter(|r| r.kind.scoped())
        .filter_map(|r| {
            let (base, scope) = kinds::split_qualified(&r.name)?;
            Some((r.kind, base.to_string(), scope.to_string()))
        })
        .collect();
    let from_specs: Vec<(Kind, String, String)> = desired
        .iter()
        .filter_map(|d| {
            let scope = d.object.scope()?;
            Some((
                d.object.kind(),
                d.object.base_name().to_string(),
                scope.to_string(),
            ))
        })
        .collect();
    let shared = kinds::shared_names(
        from_org
            .iter()
            .chain(&from_specs)
            .map(|(k, b, s)| (*k, b.as_str(), s.as_str())),
    );

    // The org's side.
    let mut renamed: BTreeMap<(Kind, String), String> = BTreeMap::new();
    for r in remote.objects.iter_mut().filter(|r| r.kind.scoped()) {
        let Some((base, _)) = kinds::split_qualified(&r.name) else {
            continue;
        };
        let qualified = shared.contains(&(r.kind, base.to_string()));
        if !qualified {
            let base = base.to_string();
            renamed.insert((r.kind, std::mem::replace(&mut r.name, base.clone())), base);
        }
        if let Some(b) = &r.body {
            let mut b = (**b).clone();
            b.set_qualified(qualified);
            r.body = Some(Arc::new(b));
        }
    }
    if !renamed.is_empty() {
        let rename = |kind: Kind, name: &str| renamed.get(&(kind, name.to_string())).cloned();
        for r in &mut remote.objects {
            for x in r.refs.iter_mut().chain(r.held_by.iter_mut()) {
                if let Some(new) = rename(x.kind, &x.name) {
                    x.name = new;
                }
            }
            if let Some(b) = &r.body
                && b.refs().iter().any(|(k, n)| rename(*k, n).is_some())
            {
                r.body = Some(Arc::new(b.with_refs_renamed(&rename)));
            }
        }
    }

    // The specs' side: a name only the org shares is qualified too.
    let mut qualified: BTreeMap<(Kind, String), String> = BTreeMap::new();
    for d in desired.iter_mut() {
        let kind = d.object.kind();
        if !kind.scoped()
            || kinds::split_qualified(d.object.name()).is_some()
            || !shared.contains(&(kind, d.object.base_name().to_string()))
        {
            continue;
        }
        let mut o = (*d.object).clone();
        o.set_qualified(true);
        qualified.insert((kind, d.object.name().to_string()), o.name().to_string());
        d.object = Arc::new(o);
    }
    // (index, hash before) of the specs whose references are renamed: only their
    // hashes change (a qualified identity is not part of a topic's hash).
    let mut rehashed: Vec<(usize, String)> = Vec::new();
    if !qualified.is_empty() {
        let rename = |kind: Kind, name: &str| qualified.get(&(kind, name.to_string())).cloned();
        for (i, d) in desired.iter_mut().enumerate() {
            if d.object.refs().iter().any(|(k, n)| rename(*k, n).is_some()) {
                rehashed.push((i, d.object.sha256()));
                d.object = Arc::new(d.object.with_refs_renamed(&rename));
            }
        }
    }

    // The lockfile: an entry under the other form of its object's identity moves.
    let moves: Vec<(Kind, String, String)> = lock
        .entries()
        .into_iter()
        .filter(|(k, _, _)| k.scoped())
        .filter_map(|(kind, key, e)| {
            let r = remote.by_id(kind, &e.id)?;
            (r.name != key && kinds::base_of(&r.name) == kinds::base_of(key))
                .then(|| (kind, key.to_string(), r.name.clone()))
        })
        .collect();
    for (kind, old, new) in moves {
        if lock.get(kind, &new).is_none()
            && let Some(e) = lock.remove(kind, &old)
        {
            lock.insert(kind, &new, e);
        }
    }

    // A spec whose references were only renamed to their identities is as recorded:
    // the lockfile's proof that the org holds it (its hash) moves with it.
    for (i, before) in rehashed {
        let Some(d) = desired.get(i) else { continue };
        let kind = d.object.kind();
        let after = d.object.sha256();
        if after != before
            && let Some(mut e) = lock.get(kind, d.object.name()).cloned()
            && e.spec_sha256 == before
        {
            e.spec_sha256 = after;
            lock.insert(kind, d.object.name(), e);
        }
    }

    // A `renamedFrom` names the old name as the spec wrote it: the form the lockfile
    // or the org knows it by.
    for d in desired.iter_mut() {
        let (Some(old), Some(scope)) = (d.renamed_from.clone(), d.object.scope()) else {
            continue;
        };
        let kind = d.object.kind();
        let known = |n: &str| {
            lock.get(kind, n).is_some()
                || remote.objects.iter().any(|r| r.kind == kind && r.name == n)
        };
        if known(&old) {
            continue;
        }
        let base = kinds::base_of(&old);
        let other = if base == old {
            kinds::qualify(base, scope)
        } else {
            base.to_string()
        };
        if known(&other) {
            d.renamed_from = Some(other);
        }
    }
}
