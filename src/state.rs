//! The state lockfile (SPEC 7): which remote objects speechops manages, read and
//! replaced atomically; and the apply lock that keeps two applies apart.
//!
//! Only this module writes the lockfile.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::Kind;

pub mod backend;
mod git;
mod http;

/// Current lockfile format.
pub const FORMAT_VERSION: u32 = 1;

/// The whole lockfile: one section per target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Lockfile {
    /// The last audit entry this state was recorded with, so that lines removed from
    /// the end of the audit log are detected too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditHead>,
    pub format_version: u32,
    pub targets: BTreeMap<String, TargetState>,
}

/// Sequence number and hash of an audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuditHead {
    pub hash: String,
    pub seq: u64,
    /// Ed25519 signature of the head by the apply environment's key
    /// (`SPEECHOPS_AUDIT_SIGNING_KEY`; `audit verify --key` checks it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// The managed objects of one target, by kind then name (keys sort, so output is stable).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TargetState {
    pub objects: BTreeMap<String, BTreeMap<String, LockEntry>>,
    /// The id of the org this state belongs to (`GET /api/v2/organizations/me`). Keys
    /// the state as much as the target's name does: renaming a target keeps it, and a
    /// target pointed at another org is refused. Absent in lockfiles written before it
    /// was recorded; the next apply records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
}

/// One managed object. Fields are declared in sorted order so the JSON keys sort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LockEntry {
    /// When speechops last wrote or recorded this object (RFC 3339 UTC).
    pub applied_at: String,
    /// The remote `dateModified` last seen after our write.
    pub date_modified: Option<String>,
    pub id: String,
    pub published: bool,
    /// sha256 of the normalised spec the remote object was made to match.
    pub spec_sha256: String,
}

impl TargetState {
    pub fn get(&self, kind: Kind, name: &str) -> Option<&LockEntry> {
        self.objects.get(kind.as_str()).and_then(|m| m.get(name))
    }

    pub fn insert(&mut self, kind: Kind, name: &str, entry: LockEntry) {
        self.objects
            .entry(kind.as_str().to_string())
            .or_default()
            .insert(name.to_string(), entry);
    }

    pub fn remove(&mut self, kind: Kind, name: &str) -> Option<LockEntry> {
        let m = self.objects.get_mut(kind.as_str())?;
        let e = m.remove(name);
        if m.is_empty() {
            self.objects.remove(kind.as_str());
        }
        e
    }

    /// Every entry as (kind, name, entry), sorted by kind then name.
    pub fn entries(&self) -> Vec<(Kind, &str, &LockEntry)> {
        let mut out: Vec<_> = self
            .objects
            .iter()
            .filter_map(|(k, m)| Kind::parse(k).map(|k| (k, m)))
            .flat_map(|(k, m)| m.iter().map(move |(n, e)| (k, n.as_str(), e)))
            .collect();
        out.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        out
    }

    /// Number of managed objects of a kind.
    pub fn count(&self, kind: Kind) -> usize {
        self.objects.get(kind.as_str()).map_or(0, BTreeMap::len)
    }

    pub fn is_empty(&self) -> bool {
        self.objects.values().all(BTreeMap::is_empty)
    }
}

/// How the state of a target was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Under the target's own name (or nowhere: a first apply).
    AsIs,
    /// Under another target name of the same org, now moved to this name.
    Moved { from: String },
}

/// Errors reading or writing state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read lockfile {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "lockfile {path} is corrupt ({message}); it was left untouched. Restore it from git \
(`git checkout -- {path}`) or move it away to start over (objects will be adopted by name)"
    )]
    Corrupt { path: PathBuf, message: String },
    #[error(
        "lockfile {path} has formatVersion {found}; this speechops understands {FORMAT_VERSION}"
    )]
    Version { path: PathBuf, found: u32 },
    #[error("cannot write lockfile {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open apply lock {path}: {source}")]
    LockIo {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another apply holds the lock {path} ({holder}); wait for it to finish")]
    LockHeld { path: PathBuf, holder: String },
    #[error("state backend {backend}: {message}")]
    Backend { backend: String, message: String },
    #[error(
        "the state lock ({backend}) is held by {holder}; wait for that run to finish, or if \
it was killed, `speechops state unlock --force --reason TEXT` (recorded in the audit log)"
    )]
    BackendLockHeld { backend: String, holder: String },
    #[error(
        "target {target:?} now points at org {actual}, but its state in the lockfile belongs to \
org {recorded}; refusing to mix the two. If the target really moved to another org, give it a \
new name (its objects will be adopted by name)"
    )]
    OtherOrg {
        target: String,
        recorded: String,
        actual: String,
    },
}

impl Lockfile {
    /// Reads the lockfile; a missing file is an empty lockfile.
    pub fn load(path: &Path) -> Result<Lockfile, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Lockfile {
                    audit: None,
                    format_version: FORMAT_VERSION,
                    targets: BTreeMap::new(),
                });
            }
            Err(source) => {
                return Err(StateError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let lock: Lockfile = serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if lock.format_version != FORMAT_VERSION {
            return Err(StateError::Version {
                path: path.to_path_buf(),
                found: lock.format_version,
            });
        }
        Ok(lock)
    }

    /// Finds the state of `target` for the org `org_id` (when it could be read): under
    /// the target's name, recording the org id there if the section predates it; else
    /// under another name whose section belongs to the same org (a renamed target, or a
    /// move from `--region` to a named target), which is moved to this name. A section
    /// of this name that belongs to another org is refused.
    pub fn locate(&mut self, target: &str, org_id: Option<&str>) -> Result<Found, StateError> {
        let Some(org) = org_id else {
            return Ok(Found::AsIs);
        };
        if let Some(section) = self.targets.get_mut(target) {
            match &section.org_id {
                Some(recorded) if recorded != org => {
                    return Err(StateError::OtherOrg {
                        target: target.to_string(),
                        recorded: recorded.clone(),
                        actual: org.to_string(),
                    });
                }
                Some(_) => return Ok(Found::AsIs),
                None if !section.is_empty() => {
                    section.org_id = Some(org.to_string());
                    return Ok(Found::AsIs);
                }
                None => {}
            }
        }
        let other = self
            .targets
            .iter()
            .find(|(name, s)| name.as_str() != target && s.org_id.as_deref() == Some(org))
            .map(|(name, _)| name.clone());
        match other.and_then(|name| self.targets.remove(&name).map(|s| (name, s))) {
            Some((from, section)) => {
                self.targets.insert(target.to_string(), section);
                Ok(Found::Moved { from })
            }
            None => {
                let section = self.targets.entry(target.to_string()).or_default();
                section.org_id = Some(org.to_string());
                Ok(Found::AsIs)
            }
        }
    }

    /// The section of a target (empty when absent).
    pub fn target(&self, name: &str) -> TargetState {
        self.targets.get(name).cloned().unwrap_or_default()
    }

    /// Deterministic pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Replaces the file atomically: temp file in the same folder, fsync, rename.
    /// Skips the write when the bytes would not change.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let json = self.to_json();
        if std::fs::read_to_string(path).is_ok_and(|old| old == json) {
            return Ok(());
        }
        // A symlinked lockfile stays a link: its target is replaced, not the link.
        let real = real_path(path);
        write_atomic(&real, json.as_bytes()).map_err(|source| StateError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Writes `bytes` to `path` via a temp file in the same folder, fsync and rename.
const TEMP_PREFIX: &str = ".speechops-";

/// Removes the temporary files killed runs left beside `path` (`.speechops-<pid>-*.tmp`
/// whose process is gone; where processes cannot be looked up, those a day old).
/// Returns how many it removed. Best effort: a file it cannot remove is left.
pub fn clean_stale_temps(path: &Path) -> usize {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name
            .strip_prefix(TEMP_PREFIX)
            .filter(|_| name.ends_with(".tmp"))
        else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let gone = match pid {
            Some(pid) if Path::new("/proc/self").exists() => {
                pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
            }
            _ => e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(86_400)),
        };
        if gone && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    // The writer's pid is in the name, so a later run can tell a killed run's
    // leftovers from a live write ([`clean_stale_temps`]).
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("{TEMP_PREFIX}{}-", std::process::id()))
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The apply lock: an OS file lock on `<lockfile>.lock`, released when the process
/// ends for any reason (so a killed apply never leaves a stale lock behind).
#[derive(Debug)]
pub struct ApplyLock {
    _files: Vec<File>,
}

/// The path a file really is at (symlinks resolved, also for a file not made yet), so
/// two names for one file take one lock.
fn real_path(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    // A link whose target is not made yet: the target.
    if let Ok(target) = std::fs::read_link(path) {
        let target = match path.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
        if target != path {
            return real_path_of_missing(&target);
        }
    }
    real_path_of_missing(path)
}

/// The real path of a file that does not exist: its folder's real path and its name.
fn real_path_of_missing(path: &Path) -> PathBuf {
    let parent = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = parent
        .and_then(|d| std::fs::canonicalize(d).ok())
        .or_else(|| std::env::current_dir().ok().filter(|_| parent.is_none()));
    match (dir, path.file_name()) {
        (Some(d), Some(name)) => d.join(name),
        _ => path.to_path_buf(),
    }
}

impl ApplyLock {
    /// Takes the lock of the lockfile and the lock of the audit log, by their real
    /// paths, or reports who holds one: no two writers ever share a lockfile or an
    /// audit chain, whatever names they use for them.
    pub fn acquire_state(
        lockfile: &Path,
        audit_log: &Path,
        holder: &str,
    ) -> Result<ApplyLock, StateError> {
        let mut paths = vec![real_path(lockfile), real_path(audit_log)];
        // One order for every process, so two never wait on each other.
        paths.sort();
        paths.dedup();
        let mut files = Vec::with_capacity(paths.len());
        for p in paths {
            files.extend(ApplyLock::acquire(&p, holder)?._files);
        }
        Ok(ApplyLock { _files: files })
    }

    /// Takes the lock or reports who holds it.
    pub fn acquire(lockfile: &Path, holder: &str) -> Result<ApplyLock, StateError> {
        let mut path = lockfile.as_os_str().to_owned();
        path.push(".lock");
        let path = PathBuf::from(path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let io = |source| StateError::LockIo {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut who = String::new();
                let _ = file.read_to_string(&mut who);
                let who = who.trim();
                return Err(StateError::LockHeld {
                    path: path.clone(),
                    holder: if who.is_empty() {
                        "unknown holder".to_string()
                    } else {
                        who.to_string()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(holder.as_bytes()).map_err(io)?;
        let _ = file.sync_all();
        Ok(ApplyLock { _files: vec![file] })
    }
}

#[cfg(test)]
mod temp_tests {
    use super::*;

    #[test]
    fn a_killed_run_s_temp_files_are_removed_and_a_live_one_s_kept() {
        let dir = tempfile::tempdir().unwrap();
        let lockfile = dir.path().join("speechops.lock");
        // pid 4194305 is above Linux's pid_max: no such process.
        let dead = dir.path().join(".speechops-4194305-abc.tmp");
        let live = dir
            .path()
            .join(format!(".speechops-{}-def.tmp", std::process::id()));
        let other = dir.path().join("notes.tmp");
        for p in [&dead, &live, &other] {
            std::fs::write(p, "x").unwrap();
        }
        assert_eq!(clean_stale_temps(&lockfile), 1);
        assert!(!dead.exists() && live.exists() && other.exists());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> LockEntry {
        LockEntry {
            applied_at: "2026-01-01T00:00:00Z".into(),
            date_modified: Some("d".into()),
            id: id.into(),
            published: true,
            spec_sha256: "h".into(),
        }
    }

    #[test]
    fn round_trip_is_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("speechops.lock");
        let mut lock = Lockfile::load(&path).unwrap();
        let mut t = TargetState::default();
        t.insert(Kind::Topic, "b", entry("2"));
        t.insert(Kind::Topic, "a", entry("1"));
        lock.targets.insert("prod".into(), t);
        lock.save(&path).unwrap();
        let first = std::fs::read(&path).unwrap();
        Lockfile::load(&path).unwrap().save(&path).unwrap();
        assert_eq!(first, std::fs::read(&path).unwrap());
        let text = String::from_utf8(first).unwrap();
        assert!(text.find("\"a\"").unwrap() < text.find("\"b\"").unwrap());
    }

    #[test]
    fn state_is_found_by_org_and_legacy_sections_gain_the_org_id() {
        let mut lock = Lockfile::default();
        let mut legacy = TargetState::default();
        legacy.insert(Kind::Topic, "a", entry("1"));
        lock.targets.insert("eu-west-1".into(), legacy);
        // A lockfile from before org ids: the section used gets the org recorded.
        assert_eq!(
            lock.locate("eu-west-1", Some("org-1")).unwrap(),
            Found::AsIs
        );
        assert_eq!(lock.targets["eu-west-1"].org_id.as_deref(), Some("org-1"));
        // A named target of the same org finds (and takes over) that state.
        let found = lock.locate("prod", Some("org-1")).unwrap();
        assert_eq!(
            found,
            Found::Moved {
                from: "eu-west-1".into()
            }
        );
        assert!(lock.target("prod").get(Kind::Topic, "a").is_some());
        assert!(!lock.targets.contains_key("eu-west-1"));
        // The same name pointed at another org is refused.
        let err = lock.locate("prod", Some("org-2")).unwrap_err();
        assert!(matches!(err, StateError::OtherOrg { .. }), "{err}");
        // Without an org id (it could not be read) the name alone decides.
        assert_eq!(lock.locate("prod", None).unwrap(), Found::AsIs);
    }

    #[test]
    fn corrupt_lockfile_is_an_error_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("speechops.lock");
        std::fs::write(&path, "{not json").unwrap();
        let err = Lockfile::load(&path).unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");
    }

    #[test]
    fn second_lock_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("speechops.lock");
        let _held = ApplyLock::acquire(&path, "pid 1 on ci").unwrap();
        let err = ApplyLock::acquire(&path, "pid 2").unwrap_err();
        assert!(err.to_string().contains("pid 1 on ci"), "{err}");
    }
}
