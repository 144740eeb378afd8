//! State backends (SPEC 12.2): where the lockfile and the audit log live between runs,
//! and the lock that keeps two writers apart across machines.
//!
//! Every command works on two local files. With the `file` backend they are the
//! configured `lockfile` and `auditLog`; with `git` or `http` they are a working copy
//! under `.speechops/state/`, filled from the backend when a command starts
//! ([`Session::read`], [`Session::write`]) and sent back, both files in one write, when
//! a writing command ends ([`Session::release`]). The backend's lock is taken before
//! the state is read, so no two writers ever extend one audit chain.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::StateError;

/// Which backend holds the state, resolved from `speechops.yaml`'s `state:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The `lockfile` and `auditLog` files themselves (the default).
    File,
    /// A branch of a git remote, never the default branch.
    Git(GitBackend),
    /// Terraform's HTTP state backend protocol (GitLab-managed Terraform state).
    Http(HttpBackend),
}

/// `state: {backend: git}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitBackend {
    /// The work tree git runs in (the config's folder), whose credentials it uses.
    pub repo: PathBuf,
    /// A remote name (`origin`) or URL.
    pub remote: String,
    pub branch: String,
}

/// `state: {backend: http}`: the settings of Terraform's `http` backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpBackend {
    pub address: String,
    pub lock_address: String,
    pub unlock_address: String,
    pub update_method: String,
    pub lock_method: String,
    pub unlock_method: String,
    pub username_env: Option<String>,
    pub password_env: Option<String>,
}

impl Backend {
    /// One line naming where the state lives.
    pub fn describe(&self) -> String {
        match self {
            Backend::File => "file".to_string(),
            Backend::Git(g) => format!("git branch {} of {}", g.branch, g.remote),
            Backend::Http(h) => format!("http {}", h.address),
        }
    }

    fn store(&self) -> Result<Option<Box<dyn Store>>, StateError> {
        Ok(match self {
            Backend::File => None,
            Backend::Git(g) => Some(Box::new(super::git::GitStore::new(g.clone())?)),
            Backend::Http(h) => Some(Box::new(super::http::HttpStore::new(h.clone())?)),
        })
    }
}

/// Who holds the lock, in the JSON of Terraform's lock info (so an HTTP backend that
/// speaks Terraform's protocol shows it as it shows Terraform's own locks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Operation", default)]
    pub operation: String,
    #[serde(rename = "Info", default)]
    pub info: String,
    #[serde(rename = "Who", default)]
    pub who: String,
    #[serde(rename = "Version", default)]
    pub version: String,
    /// RFC 3339 UTC.
    #[serde(rename = "Created", default)]
    pub created: String,
    #[serde(rename = "Path", default)]
    pub path: String,
}

impl LockInfo {
    /// A fresh lock for `operation` by `who`.
    pub fn new(operation: &str, who: &str) -> LockInfo {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        LockInfo {
            id: format!("{nanos:032x}-{:08x}", std::process::id()),
            operation: operation.to_string(),
            info: String::new(),
            who: who.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            created: crate::audit::now_rfc3339(),
            path: String::new(),
        }
    }

    /// `who` (`operation`, since `created`).
    pub fn describe(&self) -> String {
        let who = if self.who.is_empty() {
            "an unnamed holder"
        } else {
            &self.who
        };
        format!(
            "{who} ({}, since {}, lock id {})",
            if self.operation.is_empty() {
                "unknown operation"
            } else {
                &self.operation
            },
            if self.created.is_empty() {
                "an unknown time"
            } else {
                &self.created
            },
            self.id
        )
    }

    /// Whether the lock is older than `lease` (a holder that never released it: a
    /// killed runner). A lock without a readable time never expires by itself.
    pub fn expired(&self, lease: Duration) -> bool {
        let fmt = time::format_description::well_known::Rfc3339;
        let Ok(created) = time::OffsetDateTime::parse(&self.created, &fmt) else {
            return false;
        };
        let lease = time::Duration::try_from(lease).unwrap_or(time::Duration::MAX);
        created.saturating_add(lease) < time::OffsetDateTime::now_utc()
    }
}

/// The two state files as a backend holds them, and its lock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    pub lockfile: Option<Vec<u8>>,
    pub audit: Option<Vec<u8>>,
    pub lock: Option<LockInfo>,
}

/// Errors of a backend, before they become [`StateError`]s.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("the state lock is held by {}", .0.describe())]
    Held(Box<LockInfo>),
    #[error("{0}")]
    Failed(String),
}

/// What a backend does. Implementations: [`super::git::GitStore`],
/// [`super::http::HttpStore`].
pub(crate) trait Store {
    /// The state as the backend holds it now, with its lock.
    fn read(&self) -> Result<Stored, BackendError>;
    /// Takes the lock ([`BackendError::Held`] when another holds it), then reads.
    fn lock(&self, info: &LockInfo) -> Result<Stored, BackendError>;
    /// Stores both files in one write while `held` is this run's lock; releases the
    /// lock in the same write when `release` (where the backend can).
    fn write(
        &self,
        held: &LockInfo,
        state: &Stored,
        message: &str,
        release: bool,
    ) -> Result<(), BackendError>;
    /// Releases this run's lock.
    fn unlock(&self, held: &LockInfo) -> Result<(), BackendError>;
    /// Removes another holder's lock.
    fn break_lock(&self, holder: &LockInfo) -> Result<(), BackendError>;
    /// Who holds the lock now. By default a probe: take the lock and give it back.
    fn holder(&self) -> Result<Option<LockInfo>, BackendError> {
        let probe = LockInfo::new("probe", "speechops state");
        match self.lock(&probe) {
            Ok(_) => self.unlock(&probe).map(|()| None),
            Err(BackendError::Held(holder)) => Ok(Some(*holder)),
            Err(e) => Err(e),
        }
    }
}

/// A command's use of the state: the working copy, and the lock when it writes.
pub struct Session {
    backend: Backend,
    store: Option<Box<dyn Store>>,
    lockfile: PathBuf,
    audit: PathBuf,
    held: Option<LockInfo>,
    /// The expired lock this session took over, for the audit log.
    taken_over: Option<LockInfo>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("backend", &self.backend)
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

/// The configured state: backend, working-copy paths and lease.
#[derive(Debug, Clone)]
pub struct StateSettings {
    pub backend: Backend,
    pub lockfile: PathBuf,
    pub audit: PathBuf,
    /// How long a lock holds before another run may take it over.
    pub lease: Duration,
}

impl Session {
    /// For a command that only reads: the backend's state in the working copy.
    pub fn read(state: &StateSettings) -> Result<Session, StateError> {
        let store = state.backend.store()?;
        let session = Session {
            backend: state.backend.clone(),
            store,
            lockfile: state.lockfile.clone(),
            audit: state.audit.clone(),
            held: None,
            taken_over: None,
        };
        if let Some(store) = &session.store {
            let stored = store.read().map_err(|e| session.error(e))?;
            session.fill(&stored, false)?;
        }
        Ok(session)
    }

    /// For a command that writes: takes the backend's lock (an expired lease is taken
    /// over, with a warning), then fills the working copy. `Err(LockHeld)` when
    /// another run holds it.
    pub fn write(state: &StateSettings, operation: &str, who: &str) -> Result<Session, StateError> {
        let store = state.backend.store()?;
        let mut session = Session {
            backend: state.backend.clone(),
            store,
            lockfile: state.lockfile.clone(),
            audit: state.audit.clone(),
            held: None,
            taken_over: None,
        };
        let Some(store) = &session.store else {
            return Ok(session);
        };
        let info = LockInfo::new(operation, who);
        let mut taken_over = None;
        let stored = match store.lock(&info) {
            Ok(s) => s,
            Err(BackendError::Held(holder)) if holder.expired(state.lease) => {
                eprintln!(
                    "warning: the state lock of {} is older than its lease ({} min); taking it over",
                    holder.describe(),
                    state.lease.as_secs() / 60
                );
                store.break_lock(&holder).map_err(|e| session.error(e))?;
                let stored = store.lock(&info).map_err(|e| session.error(e))?;
                taken_over = Some(*holder);
                stored
            }
            Err(e) => return Err(session.error(e)),
        };
        session.held = Some(info);
        session.taken_over = taken_over;
        if session.fill(&stored, true)? {
            // This machine's copy held entries a failed push never delivered.
            session.save("speechops: state a failed run left on this machine")?;
        }
        Ok(session)
    }

    /// The expired lock this session took over when it began, if any.
    pub fn taken_over(&self) -> Option<&LockInfo> {
        self.taken_over.as_ref()
    }

    /// The lock this session holds (none for the file backend).
    pub fn held(&self) -> Option<&LockInfo> {
        self.held.as_ref()
    }

    /// Sends the working copy to the backend, keeping the lock.
    pub fn save(&self, message: &str) -> Result<(), StateError> {
        self.send(message, false)
    }

    /// Sends the working copy to the backend and releases the lock.
    pub fn release(mut self, message: &str) -> Result<(), StateError> {
        self.send(message, true)?;
        self.held = None;
        Ok(())
    }

    fn send(&self, message: &str, release: bool) -> Result<(), StateError> {
        let (Some(store), Some(held)) = (&self.store, &self.held) else {
            return Ok(());
        };
        let stored = Stored {
            lockfile: read_optional(&self.lockfile)?,
            audit: read_optional(&self.audit)?,
            lock: None,
        };
        store
            .write(held, &stored, message, release)
            .map_err(|e| self.error(e))?;
        if release {
            // A backend that cannot release in the write releases now.
            store.unlock(held).map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// Removes the lock whoever holds it (`state unlock --force`); returns it.
    pub fn break_lock(state: &StateSettings) -> Result<Option<LockInfo>, StateError> {
        let Some(store) = state.backend.store()? else {
            return Ok(None);
        };
        let err = |e: BackendError| StateError::Backend {
            backend: state.backend.describe(),
            message: e.to_string(),
        };
        match store.holder().map_err(err)? {
            Some(holder) => {
                store.break_lock(&holder).map_err(err)?;
                Ok(Some(holder))
            }
            None => Ok(None),
        }
    }

    /// The backend's current lock, without taking it.
    pub fn current_lock(state: &StateSettings) -> Result<Option<LockInfo>, StateError> {
        let Some(store) = state.backend.store()? else {
            return Ok(None);
        };
        store.holder().map_err(|e| StateError::Backend {
            backend: state.backend.describe(),
            message: e.to_string(),
        })
    }

    /// Writes the backend's files into the working copy. A working copy whose audit
    /// log extends the backend's (a run on this machine whose push failed) is kept, not
    /// overwritten: returns true then, so a writer sends it on.
    fn fill(&self, stored: &Stored, writing: bool) -> Result<bool, StateError> {
        let local = read_optional(&self.audit)?;
        if let (Some(local), remote) = (&local, stored.audit.as_deref().unwrap_or_default())
            && local.len() > remote.len()
            && local.starts_with(remote)
        {
            eprintln!(
                "warning: {} holds audit entries the state backend ({}) does not have: a run \
on this machine could not send them. {}",
                self.audit.display(),
                self.backend.describe(),
                if writing {
                    "Sending them now."
                } else {
                    "Using them; the next apply or import sends them."
                }
            );
            return Ok(true);
        }
        write_optional(&self.lockfile, stored.lockfile.as_deref())?;
        write_optional(&self.audit, stored.audit.as_deref())?;
        Ok(false)
    }

    fn error(&self, e: BackendError) -> StateError {
        match e {
            BackendError::Held(holder) => StateError::BackendLockHeld {
                backend: self.backend.describe(),
                holder: holder.describe(),
            },
            BackendError::Failed(message) => StateError::Backend {
                backend: self.backend.describe(),
                message,
            },
        }
    }
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn write_optional(path: &Path, bytes: Option<&[u8]>) -> Result<(), StateError> {
    let result = match bytes {
        Some(b) => super::write_atomic(path, b),
        None => match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    };
    result.map_err(|source| StateError::Write {
        path: path.to_path_buf(),
        source,
    })
}
