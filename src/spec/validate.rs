//! Validation shared by every kind and across the tree: the context a kind's
//! per-spec rules report through, the checks common to every kind (name,
//! renamedFrom, tags), phrase containment, and the whole-tree rules (unique names,
//! renames, references by name, each kind's tree checks). Each kind's own rules live
//! in its module under `src/kinds/`.
//!
//! Every rule reports and carries on; nothing here stops at the first problem.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::load::Entry;
use super::yaml::{self, Node, Seg};
use super::{Diagnostic, Severity};
use crate::kinds::{self, Kind};

/// The document being validated and where its problems go.
pub struct Ctx<'a> {
    pub file: &'a Path,
    pub node: &'a Node,
    pub diags: &'a mut Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    /// The same context over another version of the document (when given).
    pub fn with_node<'b>(&'b mut self, node: Option<&'b Node>) -> Ctx<'b> {
        Ctx {
            file: self.file,
            node: node.unwrap_or(self.node),
            diags: self.diags,
        }
    }

    pub fn error(&mut self, code: &str, pos: (u64, u64), message: String, hint: Option<String>) {
        self.push(Severity::Error, code, pos, message, hint);
    }

    pub fn warning(&mut self, code: &str, pos: (u64, u64), message: String, hint: Option<String>) {
        self.push(Severity::Warning, code, pos, message, hint);
    }

    fn push(
        &mut self,
        severity: Severity,
        code: &str,
        pos: (u64, u64),
        message: String,
        hint: Option<String>,
    ) {
        self.diags.push(Diagnostic::new(
            severity, code, message, self.file, pos, hint,
        ));
    }

    pub fn pos(&self, path: &[Seg<'_>]) -> (u64, u64) {
        self.node.pos(path)
    }

    pub fn key_pos(&self, path: &[Seg<'_>]) -> (u64, u64) {
        self.node.key_pos(path)
    }
}

/// Checks shared by every kind: name, renamedFrom, tags.
pub fn common(ctx: &mut Ctx<'_>, name: &str, renamed_from: Option<&str>, tags: &[String]) {
    let name_pos = ctx.pos(&[Seg::Key("name")]);
    if name.trim().is_empty() {
        ctx.error(
            "spec.name-empty",
            name_pos,
            "`name` must not be empty".into(),
            Some("the name is the spec's identity within its kind".into()),
        );
    } else if name.trim() != name {
        ctx.warning(
            "spec.name-whitespace",
            name_pos,
            format!("name {name:?} has leading or trailing whitespace"),
            Some("Genesys may trim names, which would show a change on every plan".into()),
        );
    }
    if let Some(old) = renamed_from {
        let pos = ctx.pos(&[Seg::Key("renamedFrom")]);
        if old.trim().is_empty() {
            ctx.error(
                "spec.renamed-from-empty",
                pos,
                "`renamedFrom` must not be empty".into(),
                Some("remove `renamedFrom` or give the previous name".into()),
            );
        } else if old == name {
            ctx.warning(
                "spec.renamed-from-self",
                pos,
                format!("`renamedFrom` is the same as `name` ({name:?})"),
                Some("remove `renamedFrom` once the rename has been applied".into()),
            );
        }
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, tag) in tags.iter().enumerate() {
        let pos = ctx.pos(&[Seg::Key("tags"), Seg::Index(i)]);
        if tag.trim().is_empty() {
            ctx.error("spec.tag-empty", pos, "tags must not be empty".into(), None);
        } else if let Some(first) = seen.get(tag.as_str()) {
            let first_line = ctx.pos(&[Seg::Key("tags"), Seg::Index(*first)]).0;
            ctx.warning(
                "spec.duplicate-tag",
                pos,
                format!("duplicate tag `{tag}` (also on line {first_line})"),
                Some("remove one of them".into()),
            );
        } else {
            seen.insert(tag, i);
        }
    }
}

/// A phrase key padded with spaces, so `contains` matches whole words only.
pub fn padded(key: &str) -> String {
    format!(" {key} ")
}

/// Overlapping matches examined per phrase; bounds the work a hostile phrase
/// (`a a a a …` among `a`, `a a`, …) can cause.
const MAX_MATCHES_PER_PHRASE: usize = 10_000;

/// For each of `keys` (distinct strings), the positions of the other keys it contains,
/// found with one Aho-Corasick automaton over all keys: linear in the text plus the
/// matches (capped per key), instead of comparing every pair.
pub fn contained_keys(keys: &[&str]) -> Vec<Vec<usize>> {
    // Pairwise comparison is cheapest for the few phrases most specs have; the
    // automaton (a plain NFA: cheap to build, unlike a DFA) bounds the large ones.
    if keys.len() <= 32 {
        return keys
            .iter()
            .enumerate()
            .map(|(i, hay)| {
                (0..keys.len())
                    .filter(|&j| j != i && hay.contains(keys[j]))
                    .collect()
            })
            .collect();
    }
    let Ok(ac) = aho_corasick::AhoCorasick::builder()
        .kind(Some(aho_corasick::AhoCorasickKind::NoncontiguousNFA))
        .build(keys)
    else {
        // Only a pattern set beyond the automaton's size limits gets here; the limits
        // on phrases per spec and on file size keep real specs far below it.
        return vec![Vec::new(); keys.len()];
    };
    keys.iter()
        .enumerate()
        .map(|(i, hay)| {
            let mut found: Vec<usize> = ac
                .find_overlapping_iter(*hay)
                .take(MAX_MATCHES_PER_PHRASE)
                .map(|m| m.pattern().as_usize())
                .filter(|&j| j != i)
                .collect();
            found.sort_unstable();
            found.dedup();
            found
        })
        .collect()
}

fn at(entry: &Entry, pos: (u64, u64)) -> String {
    format!("{}:{}:{}", entry.file.display(), pos.0, pos.1)
}

/// Cross-tree rules. `entries` must be sorted by (kind, name, file, position).
/// Returns the indexes of entries to drop (later duplicates of a name).
pub fn tree(
    entries: &[Entry],
    broken: &[(Kind, String)],
    diags: &mut Vec<Diagnostic>,
) -> HashSet<usize> {
    let broken: HashSet<(Kind, &str)> = broken.iter().map(|(k, n)| (*k, n.as_str())).collect();
    let dropped = duplicate_names(entries, diags);
    // Names per kind, for renames and references.
    let mut by_name: HashMap<(Kind, &str), &Entry> = HashMap::with_capacity(entries.len());
    for (idx, e) in entries.iter().enumerate() {
        if !dropped.contains(&idx) {
            by_name.insert((e.object.kind(), e.object.name()), e);
        }
    }

    renamed_from(entries, &by_name, diags);
    references(entries, &by_name, &broken, diags);
    let lookup = |kind: Kind, name: &str| by_name.get(&(kind, name)).map(|e| &e.object);
    for e in entries {
        e.object.check_tree(e, &lookup, diags);
    }
    for &kind in Kind::ALL {
        let of_kind: Vec<&Entry> = entries
            .iter()
            .enumerate()
            .filter(|(i, e)| e.object.kind() == kind && !dropped.contains(i))
            .map(|(_, e)| e)
            .collect();
        kind.check_kind(&of_kind, diags);
    }
    dropped
}

/// Scoped identities (SPEC 12.1): a topic whose name a topic of another dialect shares
/// is `Name (dialect)`, and so are the references to it; a reference written as
/// `{name, dialect}` to a name no other dialect shares is the plain name. A plain
/// reference to a shared name is an error naming the choices. Runs before the tree is
/// sorted, so the duplicate check sees identities.
pub fn qualify(entries: &mut [Entry], diags: &mut Vec<Diagnostic>) {
    let shared = kinds::shared_names(entries.iter().filter_map(|e| {
        let scope = e.object.scope()?;
        Some((e.object.kind(), e.object.base_name(), scope))
    }));
    let defined: HashSet<(Kind, String, String)> = entries
        .iter()
        .filter_map(|e| {
            let scope = e.object.scope()?.to_string();
            Some((e.object.kind(), e.object.base_name().to_string(), scope))
        })
        .collect();
    for e in entries.iter_mut() {
        if shared.contains(&(e.object.kind(), e.object.base_name().to_string())) {
            e.object.set_qualified(true);
        }
    }
    // The scopes of each shared name, for the error's choices.
    let mut scopes: HashMap<(Kind, String), Vec<String>> = HashMap::new();
    for e in entries.iter() {
        if let Some(scope) = e.object.scope()
            && shared.contains(&(e.object.kind(), e.object.base_name().to_string()))
        {
            scopes
                .entry((e.object.kind(), e.object.base_name().to_string()))
                .or_default()
                .push(scope.to_string());
        }
    }
    for e in entries.iter_mut() {
        let mut renames: Vec<(Kind, String, String)> = Vec::new();
        for r in e.refs.iter_mut().filter(|r| r.kind.scoped()) {
            let new = match kinds::split_qualified(&r.name) {
                // Written with its dialect while no other dialect shares the name: the
                // plain name, if that topic exists (else it stays unknown, and is
                // reported as such with a did-you-mean).
                Some((base, scope))
                    if !shared.contains(&(r.kind, base.to_string()))
                        && defined.contains(&(r.kind, base.to_string(), scope.to_string())) =>
                {
                    base.to_string()
                }
                Some(_) => continue,
                None => {
                    let Some(choices) = scopes.get(&(r.kind, r.name.clone())) else {
                        continue;
                    };
                    let (from, to) = (kinds::lower(e.object.kind()), kinds::lower(r.kind));
                    let mut choices = choices.clone();
                    choices.sort();
                    let written: Vec<String> = choices
                        .iter()
                        .map(|d| format!("{{name: {}, dialect: {d}}}", r.name))
                        .collect();
                    diags.push(Diagnostic::new(
                        Severity::Error,
                        &format!("{from}.ambiguous-{to}"),
                        format!(
                            "{from} {:?} references {to} {:?}, which is defined in {} dialects ({})",
                            e.object.name(),
                            r.name,
                            choices.len(),
                            choices.join(", ")
                        ),
                        &e.file,
                        r.pos,
                        Some(format!("name the dialect: {}", written.join(" or "))),
                    ));
                    // Reported once: the reference stands for the first choice now.
                    match choices.first() {
                        Some(d) => kinds::qualify(&r.name, d),
                        None => continue,
                    }
                }
            };
            renames.push((r.kind, r.name.clone(), new.clone()));
            r.name = new;
        }
        if !renames.is_empty() {
            e.object = e.object.with_refs_renamed(&|kind, name| {
                renames
                    .iter()
                    .find(|(k, old, _)| *k == kind && old == name)
                    .map(|(_, _, new)| new.clone())
            });
        }
    }
}

/// Unique names per kind: entries are sorted, so duplicates are adjacent. Returns the
/// indexes of the later duplicates.
fn duplicate_names(entries: &[Entry], diags: &mut Vec<Diagnostic>) -> HashSet<usize> {
    let mut dropped = HashSet::new();
    let mut i = 0;
    while i < entries.len() {
        let first = &entries[i];
        let mut j = i + 1;
        while j < entries.len()
            && entries[j].object.kind() == first.object.kind()
            && entries[j].object.name() == first.object.name()
        {
            let dup = &entries[j];
            let kind = first.object.kind();
            let (message, hint) = if kind.singleton() {
                (
                    format!(
                        "a second {kind}: there is one per org, already defined at {}",
                        at(first, first.doc_pos)
                    ),
                    "merge the two documents into one".to_string(),
                )
            } else {
                (
                    format!(
                        "duplicate {kind} name {:?}: also defined at {}",
                        first.object.name(),
                        at(first, first.name_pos)
                    ),
                    format!(
                        "names are unique per kind; rename or remove one of the two (first at {})",
                        at(first, first.name_pos)
                    ),
                )
            };
            diags.push(Diagnostic::new(
                Severity::Error,
                "spec.duplicate-name",
                message,
                &dup.file,
                if kind.singleton() {
                    dup.doc_pos
                } else {
                    dup.name_pos
                },
                Some(hint),
            ));
            dropped.insert(j);
            j += 1;
        }
        i = j;
    }
    dropped
}

/// `renamedFrom` must name a spec that no longer exists, and only one spec may claim it.
fn renamed_from(
    entries: &[Entry],
    by_name: &HashMap<(Kind, &str), &Entry>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut claimed: HashMap<(Kind, &str), &Entry> = HashMap::new();
    for e in entries {
        let Some(old) = e.renamed_from.as_deref() else {
            continue;
        };
        if old.trim().is_empty() || old == e.object.name() {
            continue; // reported by the per-spec checks
        }
        let kind = e.object.kind();
        if let Some(other) = by_name.get(&(kind, old)) {
            diags.push(Diagnostic::new(
                Severity::Error,
                "spec.renamed-from-exists",
                format!(
                    "renamedFrom {old:?} is still the name of a {kind} spec at {}",
                    at(other, other.name_pos)
                ),
                &e.file,
                e.renamed_from_pos,
                Some("a rename moves the old object; delete or rename the other spec, or drop `renamedFrom`".into()),
            ));
        }
        if let Some(other) = claimed.get(&(kind, old)) {
            diags.push(Diagnostic::new(
                Severity::Error,
                "spec.renamed-from-twice",
                format!(
                    "renamedFrom {old:?} is also claimed by {:?} at {}",
                    other.object.name(),
                    at(other, other.renamed_from_pos)
                ),
                &e.file,
                e.renamed_from_pos,
                Some("only one spec can take over an old name".into()),
            ));
        } else {
            claimed.insert((kind, old), e);
        }
    }
}

/// Every reference by name resolves to a spec of the tree (a spec that failed to
/// load is not reported again).
fn references(
    entries: &[Entry],
    by_name: &HashMap<(Kind, &str), &Entry>,
    broken: &HashSet<(Kind, &str)>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut names: HashMap<Kind, Vec<&str>> = HashMap::new();
    for e in entries {
        for r in &e.refs {
            if r.name.trim().is_empty() {
                continue; // reported by the per-spec checks
            }
            let key = (r.kind, r.name.as_str());
            if by_name.contains_key(&key) || broken.contains(&key) {
                continue;
            }
            let candidates = names.entry(r.kind).or_insert_with(|| {
                entries
                    .iter()
                    .filter(|t| t.object.kind() == r.kind)
                    .map(|t| t.object.name())
                    .collect()
            });
            let (from, to) = (kinds::lower(e.object.kind()), kinds::lower(r.kind));
            // A name a spec was renamed from: point at the rename.
            let renamed = entries.iter().find(|t| {
                t.object.kind() == r.kind && t.renamed_from.as_deref() == Some(r.name.as_str())
            });
            let hint = match (renamed, yaml::closest(&r.name, candidates.iter().copied())) {
                (Some(t), _) => format!(
                    "{} {:?} was renamed to {:?} ({}:{}): use the new name here",
                    r.kind,
                    r.name,
                    t.object.name(),
                    t.file.display(),
                    t.renamed_from_pos.0
                ),
                (None, Some(c)) => format!("did you mean {c:?}?"),
                (None, None) => format!(
                    "every {to} a {from} lists must be a {} spec in this tree",
                    r.kind
                ),
            };
            diags.push(Diagnostic::new(
                Severity::Error,
                &format!("{from}.unknown-{to}"),
                format!(
                    "{from} {:?} references {to} {:?}, which is not defined",
                    e.object.name(),
                    r.name
                ),
                &e.file,
                r.pos,
                Some(hint),
            ));
        }
    }
}
