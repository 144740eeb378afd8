//! `speechops import --kind KIND [--name GLOB] --out DIR`: write existing remote
//! objects as spec files (one file per object, deterministic names and key order, no
//! server-only fields) and record them as managed, so that adopting an existing org is
//! one command followed by a plan with no changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::Outcome;
use crate::audit::{self, AuditLog, Entry, RunInfo};
use crate::cli::{GlobalArgs, ImportArgs};
use crate::genesys::{self, Client};
use crate::model::{self, Kind, Object};
use crate::settings::Settings;
use crate::state::backend::Session;
use crate::state::{ApplyLock, LockEntry, Lockfile, StateError};

/// One imported object.
#[derive(Debug, Clone)]
pub struct Imported {
    pub object: Object,
    pub id: String,
    pub date_modified: Option<String>,
    pub published: bool,
}

/// Runs `speechops import`.
pub fn run(global: &GlobalArgs, args: &ImportArgs) -> anyhow::Result<Outcome> {
    let kinds: Vec<Kind> = if args.kind.eq_ignore_ascii_case("all") {
        Kind::ALL.to_vec()
    } else {
        vec![Kind::parse(&args.kind).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown kind {:?}; expected {} or all",
                args.kind,
                Kind::names()
            )
        })?]
    };
    let glob = match &args.name {
        Some(g) => Some(
            globset::Glob::new(g)
                .map_err(|e| anyhow::anyhow!("invalid --name glob {g:?}: {e}"))?
                .compile_matcher(),
        ),
        None => None,
    };
    let settings = Settings::resolve(global)?;
    // A signing key that is set but unusable fails before anything is written.
    crate::audit::signing_key()?;
    let holder = format!("import by pid {}", std::process::id());
    let _lock = match ApplyLock::acquire_state(&settings.lockfile, &settings.audit_log, &holder) {
        Ok(l) => l,
        Err(e @ StateError::LockHeld { .. }) => {
            eprintln!("error: {e}");
            return Ok(Outcome::Refused);
        }
        Err(e) => return Err(e.into()),
    };
    let session = match Session::write(&settings.state, "import", &holder) {
        Ok(s) => s,
        Err(e @ StateError::BackendLockHeld { .. }) => {
            eprintln!("error: {e}");
            return Ok(Outcome::Refused);
        }
        Err(e) => return Err(e.into()),
    };
    super::state::record_takeover(&settings, &session)?;
    let outcome = import_locked(args, &settings, &kinds, glob.as_ref());
    if let Err(e) = session.release("speechops: import") {
        if let Err(first) = &outcome {
            eprintln!("error: {first:#}");
        }
        return Err(e.into());
    }
    outcome
}

/// The part of import that runs under the lock.
fn import_locked(
    args: &ImportArgs,
    settings: &Settings,
    kinds: &[Kind],
    glob: Option<&globset::GlobMatcher>,
) -> anyhow::Result<Outcome> {
    let mut lock = Lockfile::load(&settings.lockfile)?;
    let mut audit_log = AuditLog::open(&settings.audit_log, lock.audit.as_ref())?;
    let mut run = RunInfo::detect(&settings.target_name, &settings.rules_dir);

    let rt = super::runtime()?;
    let objects = rt.block_on(async {
        let conn = super::connect(settings, 4).await?;
        run.org_id = super::org_id(&conn.client).await;
        if !super::plan::locate_state(&mut lock, &settings.target_name, run.org_id.as_deref()) {
            return anyhow::Ok(None);
        }
        let mut all = Vec::new();
        for kind in kinds {
            all.extend(fetch(&conn.client, *kind).await?);
        }
        anyhow::Ok(Some(all))
    })?;
    let Some(mut objects) = objects else {
        return Ok(Outcome::Refused);
    };
    align_identities(&mut objects);
    let mut seen = std::collections::BTreeSet::new();
    let objects: Vec<Imported> = objects
        .into_iter()
        .filter(|o| glob.as_ref().is_none_or(|g| g.is_match(o.object.name())))
        .filter(|o| {
            // Identity is kind + name: a second remote object with the same name cannot
            // be a spec of its own. Keep the first (by id) and say so.
            let first = seen.insert((o.object.kind(), o.object.name().to_string()));
            if !first {
                eprintln!(
                    "warning: {} {:?} exists more than once in the org; id {} was not imported",
                    o.object.kind(),
                    o.object.name(),
                    o.id
                );
            }
            first
        })
        .collect();
    if !is_within(&args.out, &settings.rules_dir) {
        eprintln!(
            "note: {} is outside the spec root {}; the imported objects are recorded as managed, \
but `plan` reads {}",
            args.out.display(),
            settings.rules_dir.display(),
            settings.rules_dir.display()
        );
    }

    if objects.is_empty() {
        let what = args.kind.clone();
        match &args.name {
            Some(g) => anyhow::bail!(
                "no {what} in the org matches --name {g:?}; nothing was imported or recorded"
            ),
            None => {
                super::out(&format!("The org has no {what}; nothing was imported.\n"));
                return Ok(Outcome::Success);
            }
        }
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", args.out.display()))?;
    // Specs that already exist anywhere in the tree are never written a second time.
    let existing = existing_specs(&settings.rules_dir);
    let names = file_names(&objects);
    let (mut written, mut kept, mut unchanged) = (0usize, 0usize, 0usize);
    for (o, file) in objects.iter().zip(&names) {
        let mut path = args.out.join(file);
        let key = (o.object.kind(), o.object.name().to_string());
        let mut kept_here = false;
        // With --force, a spec that lives elsewhere (named by hand) is the one replaced
        // by the org's version (accepting a change made in the Genesys UI), when it is
        // the only spec of its file.
        let alone =
            |at: &std::path::Path| existing.values().filter(|(p, _)| same_file(p, at)).count() == 1;
        match existing.get(&key).map(|(at, _)| at) {
            Some(at) if !(same_file(at, &path) || args.force && alone(at)) => {
                kept_here = true;
                super::out(&format!(
                    "{} {:?}: its spec is at {}; left as it is{}\n",
                    o.object.kind(),
                    o.object.name(),
                    at.display(),
                    if args.force {
                        " (it shares its file with other specs)"
                    } else {
                        ""
                    }
                ));
                kept += 1;
                path = at.clone();
            }
            found => {
                if let Some(at) = found {
                    path = at.clone();
                }
                let yaml = with_import_mark(&schema_header(&args.out), &spec_yaml(&o.object, ""));
                match std::fs::read_to_string(&path) {
                    Ok(old) if old == yaml => unchanged += 1,
                    Ok(old) if !args.force && !unedited_import(&old) => {
                        eprintln!(
                            "warning: {} was edited since import (or not written by it); not \
overwritten (use --force to replace it)",
                            path.display()
                        );
                        kept_here = true;
                        kept += 1;
                    }
                    old => {
                        crate::state::write_atomic(&path, yaml.as_bytes())
                            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                        written += 1;
                        // What the org's version changed in the spec, for review.
                        if let Ok(old) = old {
                            let shown = path.display().to_string();
                            super::out(
                                &similar::TextDiff::from_lines(&old, &yaml)
                                    .unified_diff()
                                    .context_radius(2)
                                    .header(
                                        &format!("{shown} (before)"),
                                        &format!("{shown} (the org's)"),
                                    )
                                    .to_string(),
                            );
                        }
                    }
                }
            }
        }
        // A spec that was left as it is and says something else than the org (an
        // example `init` wrote, under a name a real org uses) is not recorded as
        // managed: the next plan then shows the difference as a TAKEOVER, behind its
        // guard, instead of silently overwriting the org's content.
        if kept_here
            && let Some((at, spec)) = existing.get(&key)
            && !o.object.seen_by(spec).same_content(spec)
        {
            eprintln!(
                "warning: {} {:?}: the spec at {} differs from the org's object, so it is not \
recorded as managed; `speechops plan` shows the difference as a TAKEOVER. Review the \
spec: edit it to say what the org should hold, or remove it and import again",
                o.object.kind(),
                o.object.name(),
                at.display()
            );
            continue;
        }
        let sha = o.object.sha256();
        let state = lock
            .targets
            .entry(settings.target_name.clone())
            .or_default();
        let unchanged = state
            .get(o.object.kind(), o.object.name())
            .is_some_and(|e| {
                e.id == o.id && e.spec_sha256 == sha && e.date_modified == o.date_modified
            });
        if !unchanged {
            state.insert(
                o.object.kind(),
                o.object.name(),
                LockEntry {
                    applied_at: audit::now_rfc3339(),
                    date_modified: o.date_modified.clone(),
                    id: o.id.clone(),
                    published: o.published,
                    spec_sha256: sha.clone(),
                },
            );
            audit_log.append(Entry {
                ts: audit::now_rfc3339(),
                actor: run.actor.clone(),
                run_id: run.run_id.clone(),
                git_commit: run.git_commit.clone(),
                git_dirty: run.git_dirty,
                git_author: run.git_author.clone(),
                target: run.target.clone(),
                org_id: run.org_id.clone(),
                action: "import".to_string(),
                kind: Some(o.object.kind().as_str().to_string()),
                name: Some(o.object.name().to_string()),
                id: Some(o.id.clone()),
                spec_sha256_after: Some(sha),
                status: "ok".to_string(),
                message: Some(path.display().to_string()),
                ..Entry::default()
            })?;
            lock.audit = audit_log.head();
            lock.save(&settings.lockfile)?;
        }
        super::out(&format!(
            "{} {:?} -> {}\n",
            o.object.kind(),
            o.object.name(),
            path.display()
        ));
    }
    super::out(&format!(
        "Imported {} object(s) into {} ({written} file(s) written, {unchanged} already up to date, \
{kept} left as they were); \
they are now managed in {}.\n",
        objects.len(),
        args.out.display(),
        settings.lockfile.display()
    ));
    Ok(Outcome::Success)
}

/// A line of each spec file import writes, with the sha256 of what follows it: a
/// file whose rest still has that hash was not edited since, and may be replaced.
const IMPORT_MARK: &str =
    "# Written by `speechops import`; once edited, import leaves it alone. sha256:";

fn with_import_mark(header: &str, yaml: &str) -> String {
    // After the schema modeline, which editors look for on the first line.
    format!(
        "{header}{IMPORT_MARK}{}\n{yaml}",
        model::sha256_hex(yaml.as_bytes())
    )
}

/// True when `text` is a file import wrote and nobody edited since.
fn unedited_import(text: &str) -> bool {
    let Some(at) = text.find(IMPORT_MARK) else {
        return false;
    };
    let Some((mark, rest)) = text[at..].split_once('\n') else {
        return false;
    };
    mark.strip_prefix(IMPORT_MARK)
        .is_some_and(|sha| sha == model::sha256_hex(rest.as_bytes()))
}

/// Where each (kind, name) already has a spec in the tree (an unreadable or invalid
/// tree just has fewer entries: import still must not duplicate what it can see).
fn existing_specs(root: &Path) -> BTreeMap<(Kind, String), (PathBuf, crate::kinds::Object)> {
    let mut out = BTreeMap::new();
    if let Ok(tree) = crate::spec::load_tree(root) {
        for s in tree.specs {
            out.entry((s.object.kind(), s.object.name().to_string()))
                .or_insert((s.location.file, s.object));
        }
    }
    out
}

fn same_file(a: &Path, b: &Path) -> bool {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    abs(a) == abs(b)
}

/// Whether `path` is `root` or below it (compared as absolute, normalised paths).
fn is_within(path: &Path, root: &Path) -> bool {
    let abs = |p: &Path| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .components()
            .collect::<PathBuf>()
    };
    abs(path).starts_with(abs(root))
}

/// Every remote object of a kind, with full bodies; references the kind's endpoint
/// gives by id are named from the referred kinds' lists.
pub async fn fetch(client: &Client, kind: Kind) -> Result<Vec<Imported>, genesys::Error> {
    let mut names: BTreeMap<(Kind, String), String> = BTreeMap::new();
    for &referred in kind.refers_to() {
        for l in referred.list(client).await? {
            names.insert((referred, l.id), l.name);
        }
    }
    let mut out: Vec<Imported> = kind
        .read_all(client)
        .await?
        .into_iter()
        .map(|f| {
            let (object, _) = crate::kinds::name_refs(f.body, f.refs, &names);
            Imported {
                object,
                id: f.id,
                date_modified: f.date_modified,
                published: f.published,
            }
        })
        .collect();
    let mut bodies: Vec<crate::kinds::Object> = out.iter().map(|i| i.object.clone()).collect();
    let every_class = ["queue", "flow"].into_iter().collect();
    let _ =
        crate::kinds::name_external_ids(client, &mut bodies, &BTreeMap::new(), &every_class).await;
    for (i, b) in out.iter_mut().zip(bodies) {
        i.object = b;
    }
    out.sort_by(|a, b| {
        (a.object.kind(), a.object.name(), &a.id).cmp(&(b.object.kind(), b.object.name(), &b.id))
    });
    Ok(out)
}

/// Scoped identities (SPEC 12.1): topics whose name a topic of another dialect shares
/// are `Name (dialect)` (so both are imported, and their files differ), and so are the
/// references to them, which specs then write as `{name, dialect}`; references to the
/// other topics drop the dialect the topic listing gave them.
fn align_identities(objects: &mut [Imported]) {
    let mut items: Vec<(Kind, String, String)> = Vec::new();
    for o in objects.iter() {
        if let Some(scope) = o.object.scope() {
            items.push((
                o.object.kind(),
                o.object.base_name().to_string(),
                scope.to_string(),
            ));
        }
        for (kind, name) in o.object.refs() {
            if let Some((base, scope)) =
                crate::kinds::split_qualified(name).filter(|_| kind.scoped())
            {
                items.push((kind, base.to_string(), scope.to_string()));
            }
        }
    }
    let shared =
        crate::kinds::shared_names(items.iter().map(|(k, b, s)| (*k, b.as_str(), s.as_str())));
    let plain = |kind: Kind, name: &str| {
        let (base, _) = crate::kinds::split_qualified(name).filter(|_| kind.scoped())?;
        (!shared.contains(&(kind, base.to_string()))).then(|| base.to_string())
    };
    for o in objects.iter_mut() {
        if o.object.scope().is_some()
            && shared.contains(&(o.object.kind(), o.object.base_name().to_string()))
        {
            o.object.set_qualified(true);
        }
        o.object = o.object.with_refs_renamed(&plain);
    }
    objects.sort_by(|a, b| {
        (a.object.kind(), a.object.name(), &a.id).cmp(&(b.object.kind(), b.object.name(), &b.id))
    });
}

/// The unaccented letter of a lower-case accented Latin one (the letters of the
/// Genesys dialects' languages); any other character as it is.
fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ą' => 'a',
        'ç' | 'ć' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ę' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ł' => 'l',
        'ñ' | 'ń' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
        'ś' | 'ß' => 's',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        'ź' | 'ż' => 'z',
        other => other,
    }
}

/// `topic-recording-disclosure.yaml`: kind prefix plus a slug of the name; a short id
/// hash is appended when two names slug alike, so names are stable across runs.
pub fn file_names(objects: &[Imported]) -> Vec<String> {
    let base: Vec<String> = objects
        .iter()
        .map(|o| {
            let (stem, name) = (o.object.kind().file_stem(), slug(o.object.name()));
            // The one settings object is named after its kind already.
            if o.object.kind().singleton() || stem.ends_with(&format!("-{name}")) {
                stem.to_string()
            } else {
                format!("{stem}-{name}")
            }
        })
        .collect();
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for b in &base {
        *count.entry(b.as_str()).or_default() += 1;
    }
    base.iter()
        .zip(objects)
        .map(|(b, o)| {
            if count.get(b.as_str()).copied().unwrap_or(0) > 1 {
                let h = model::sha256_hex(o.id.as_bytes());
                format!("{b}-{}.yaml", &h[..8])
            } else {
                format!("{b}.yaml")
            }
        })
        .collect()
}

/// ASCII only, so git and every tool shows file names as written: accented Latin
/// letters lose their accent (`cancelación` → `cancelacion`); other letters become `-`.
fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = fold_accent(c);
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "unnamed".to_string()
    } else {
        s
    }
}

/// The editor header pointing at the committed schema, relative to `out` when the
/// project's `schemas/` folder is found above it.
fn schema_header(out: &Path) -> String {
    let abs = std::fs::canonicalize(out).unwrap_or_else(|_| PathBuf::from(out));
    let mut dir = Some(abs.as_path());
    let mut up = String::new();
    while let Some(d) = dir {
        if d.join("schemas/speechops.schema.json").exists() {
            return format!("# yaml-language-server: $schema={up}schemas/speechops.schema.json\n");
        }
        up.push_str("../");
        dir = d.parent();
    }
    String::new()
}

/// The spec file text of a normalised object: defaults that equal the object's own
/// values are left out, so imported files read like hand-written ones.
pub fn spec_yaml(o: &Object, header: &str) -> String {
    let yaml = o.spec_yaml();
    // Exactly `speechops fmt`'s layout, so a fresh import passes `fmt --check`.
    let yaml = crate::format::format(&yaml).unwrap_or(yaml);
    format!("{header}{yaml}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Topic, TopicPhrase};

    fn imported(name: &str, id: &str) -> Imported {
        Imported {
            object: Object::Topic(
                Topic {
                    name: name.into(),
                    description: String::new(),
                    dialect: "en-US".into(),
                    strictness: "72".into(),
                    matching_type: "Lexical".into(),
                    participants: "All".into(),
                    ai_phrases: Default::default(),
                    qualified: Default::default(),
                    tags: vec![],
                    published: true,
                    phrases: vec![TopicPhrase {
                        text: "hello there".into(),
                        strictness: "85".into(),
                        sentiment: "Unspecified".into(),
                    }],
                }
                .normalized(),
            ),
            id: id.into(),
            date_modified: None,
            published: true,
        }
    }

    #[test]
    fn topic_yaml_is_readable_and_quotes_strictness() {
        let y = spec_yaml(&imported("Greeting", "1").object, "");
        assert!(y.starts_with("kind: Topic\nname: Greeting\n"), "{y}");
        assert!(y.contains("strictness: \"72\""), "{y}");
        assert!(y.contains("strictness: \"85\""), "{y}");
        assert!(!y.contains("sentiment"), "{y}");
        assert!(!y.contains("description"), "{y}");
    }

    #[test]
    fn file_names_are_slugs_disambiguated_by_id() {
        let names = file_names(&[
            imported("Greeting!", "1"),
            imported("greeting", "2"),
            imported("Card payment", "3"),
        ]);
        assert_eq!(names[2], "topic-card-payment.yaml");
        assert_eq!(slug("Cancelación de cuenta"), "cancelacion-de-cuenta");
        assert_eq!(slug("Kündigung (de-DE)"), "kundigung-de-de");
        assert!(
            names[0].starts_with("topic-greeting-") && names[0] != names[1],
            "{names:?}"
        );
    }
}
