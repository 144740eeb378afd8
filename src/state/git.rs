//! The `git` state backend: the lockfile, the audit log and the lock on a dedicated
//! branch of a git remote.
//!
//! Each change is one commit on the branch, made with git's plumbing (no checkout, no
//! index, no change to the work tree) and pushed with `--force-with-lease` naming the
//! tip it was built on: a compare-and-swap, so two runners never both succeed. The
//! lock is the file `lock.json` on the branch; taking it is such a push, so the branch
//! is the lock across machines. git runs in the repository's own work tree, so it uses
//! the credentials the checkout configured.

use std::io::Write;
use std::process::{Command, Stdio};

use super::StateError;
use super::backend::{BackendError, GitBackend, LockInfo, Store, Stored};

const LOCKFILE: &str = "speechops.lock";
const AUDIT: &str = "speechops-audit.jsonl";
const LOCK: &str = "lock.json";
const README: &str = "README.md";
const README_TEXT: &str = "# speechops state\n\nThis branch holds the state of speechops \
(`speechops.lock`), its audit log (`speechops-audit.jsonl`) and, while a run writes, its \
lock (`lock.json`). speechops writes it; do not edit it by hand. See `speechops state \
show`.\n";
/// Compare-and-swap attempts before giving up on a busy branch.
const ATTEMPTS: usize = 8;

/// Branches a state branch must never be (the default branch is checked as well).
const DEFAULT_BRANCHES: [&str; 2] = ["main", "master"];

/// Exit code, stdout and stderr of one git run.
type Output = (Option<i32>, Vec<u8>, Vec<u8>);

pub(crate) struct GitStore {
    cfg: GitBackend,
    /// The local ref the branch is fetched to.
    local_ref: String,
}

/// The branch as last read: its tip and files.
struct Tip {
    commit: Option<String>,
    stored: Stored,
}

impl GitStore {
    pub(crate) fn new(cfg: GitBackend) -> Result<GitStore, StateError> {
        let bad = |message: String| StateError::Backend {
            backend: format!("git branch {} of {}", cfg.branch, cfg.remote),
            message,
        };
        if DEFAULT_BRANCHES.contains(&cfg.branch.as_str()) {
            return Err(bad(format!(
                "the state branch may not be {:?}: it is a default branch, which branch \
protection rightly keeps bots from pushing to. Name a branch of its own (speechops-state)",
                cfg.branch
            )));
        }
        if cfg.branch.is_empty() || cfg.branch.starts_with('-') || cfg.branch.contains("..") {
            return Err(bad(format!("{:?} is not a usable branch name", cfg.branch)));
        }
        let local_ref = format!(
            "refs/speechops/{}",
            &crate::model::sha256_hex(format!("{}\n{}", cfg.remote, cfg.branch).as_bytes())[..16]
        );
        Ok(GitStore { cfg, local_ref })
    }

    fn git(&self, args: &[&str], input: Option<&[u8]>) -> Result<Vec<u8>, BackendError> {
        let (code, out, err) = self.git_raw(args, input)?;
        if code != Some(0) {
            return Err(BackendError::Failed(format!(
                "git {} failed: {}",
                args.first().copied().unwrap_or_default(),
                crate::genesys::redact::redact(String::from_utf8_lossy(&err).trim())
            )));
        }
        Ok(out)
    }

    fn git_raw(&self, args: &[&str], input: Option<&[u8]>) -> Result<Output, BackendError> {
        let mut cmd = Command::new("git");
        cmd.arg("-C")
            .arg(&self.cfg.repo)
            .args(args)
            // Never ask for a password on a terminal: CI has none.
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| BackendError::Failed(format!("cannot run git: {e}")))?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin
                .write_all(bytes)
                .map_err(|e| BackendError::Failed(format!("cannot talk to git: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| BackendError::Failed(format!("git did not finish: {e}")))?;
        Ok((out.status.code(), out.stdout, out.stderr))
    }

    fn text(&self, args: &[&str]) -> Result<String, BackendError> {
        Ok(String::from_utf8_lossy(&self.git(args, None)?)
            .trim()
            .to_string())
    }

    /// Refuses a branch that is the remote's default branch.
    fn check_not_default(&self) -> Result<(), BackendError> {
        let out = self.text(&["ls-remote", "--symref", &self.cfg.remote, "HEAD"])?;
        let default = out
            .lines()
            .find_map(|l| l.strip_prefix("ref: refs/heads/"))
            .and_then(|l| l.split('\t').next());
        if default == Some(self.cfg.branch.as_str()) {
            return Err(BackendError::Failed(format!(
                "{:?} is the default branch of {}; the state needs a branch of its own",
                self.cfg.branch, self.cfg.remote
            )));
        }
        Ok(())
    }

    /// Fetches the branch and reads its files.
    fn tip(&self) -> Result<Tip, BackendError> {
        let refname = format!("refs/heads/{}", self.cfg.branch);
        let listed = self.text(&["ls-remote", &self.cfg.remote, &refname])?;
        let Some(commit) = listed
            .lines()
            .find(|l| l.ends_with(&format!("\t{refname}")))
            .and_then(|l| l.split('\t').next())
            .map(str::to_string)
        else {
            return Ok(Tip {
                commit: None,
                stored: Stored::default(),
            });
        };
        let have = self
            .git_raw(&["cat-file", "-e", &format!("{commit}^{{commit}}")], None)?
            .0
            == Some(0);
        if !have {
            self.git(
                &[
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    &self.cfg.remote,
                    &format!("+{refname}:{}", self.local_ref),
                ],
                None,
            )?;
        }
        let file = |name: &str| -> Result<Option<Vec<u8>>, BackendError> {
            let (code, out, _) =
                self.git_raw(&["cat-file", "blob", &format!("{commit}:{name}")], None)?;
            Ok((code == Some(0)).then_some(out))
        };
        let lock = match file(LOCK)? {
            Some(bytes) => Some(serde_json::from_slice::<LockInfo>(&bytes).map_err(|e| {
                BackendError::Failed(format!("{LOCK} on the state branch is not a lock: {e}"))
            })?),
            None => None,
        };
        Ok(Tip {
            stored: Stored {
                lockfile: file(LOCKFILE)?,
                audit: file(AUDIT)?,
                lock,
            },
            commit: Some(commit),
        })
    }

    fn blob(&self, bytes: &[u8]) -> Result<String, BackendError> {
        Ok(
            String::from_utf8_lossy(&self.git(&["hash-object", "-w", "--stdin"], Some(bytes))?)
                .trim()
                .to_string(),
        )
    }

    /// A commit on `parent` holding `stored` (and its lock), pushed only if the branch
    /// is still at `parent`. `Ok(false)` when another push won the race.
    fn commit_and_push(
        &self,
        parent: Option<&str>,
        stored: &Stored,
        message: &str,
    ) -> Result<bool, BackendError> {
        let mut entries = vec![(README, self.blob(README_TEXT.as_bytes())?)];
        if let Some(b) = &stored.lockfile {
            entries.push((LOCKFILE, self.blob(b)?));
        }
        if let Some(b) = &stored.audit {
            entries.push((AUDIT, self.blob(b)?));
        }
        if let Some(lock) = &stored.lock {
            let json = serde_json::to_vec_pretty(lock)
                .map_err(|e| BackendError::Failed(format!("cannot write the lock: {e}")))?;
            entries.push((LOCK, self.blob(&json)?));
        }
        entries.sort_by(|a, b| a.0.cmp(b.0));
        let listing: String = entries
            .iter()
            .map(|(name, sha)| format!("100644 blob {sha}\t{name}\n"))
            .collect();
        let tree = String::from_utf8_lossy(&self.git(&["mktree"], Some(listing.as_bytes()))?)
            .trim()
            .to_string();
        let mut args = vec!["commit-tree", tree.as_str(), "-m", message];
        if let Some(p) = parent {
            args.extend(["-p", p]);
        }
        let commit = self.commit_tree(&args)?;
        let lease = format!(
            "--force-with-lease=refs/heads/{}:{}",
            self.cfg.branch,
            parent.unwrap_or_default()
        );
        let (code, out, err) = self.git_raw(
            &[
                "push",
                "--porcelain",
                "--quiet",
                &lease,
                &self.cfg.remote,
                &format!("{commit}:refs/heads/{}", self.cfg.branch),
            ],
            None,
        )?;
        if code == Some(0) {
            let _ = self.git_raw(&["update-ref", &self.local_ref, &commit], None);
            return Ok(true);
        }
        let out = String::from_utf8_lossy(&out);
        let rejected_by_lease = out
            .lines()
            .any(|l| l.starts_with('!') && (l.contains("stale info") || l.contains("fetch first")));
        if rejected_by_lease {
            return Ok(false);
        }
        Err(BackendError::Failed(format!(
            "git push to {} {} was refused: {}",
            self.cfg.remote,
            self.cfg.branch,
            crate::genesys::redact::redact(
                format!("{} {}", out.trim(), String::from_utf8_lossy(&err).trim()).trim()
            )
        )))
    }

    fn commit_tree(&self, args: &[&str]) -> Result<String, BackendError> {
        let mut cmd = Command::new("git");
        cmd.arg("-C")
            .arg(&self.cfg.repo)
            .args(args)
            .env("GIT_AUTHOR_NAME", "speechops")
            .env("GIT_AUTHOR_EMAIL", "speechops@localhost")
            .env("GIT_COMMITTER_NAME", "speechops")
            .env("GIT_COMMITTER_EMAIL", "speechops@localhost")
            .stdin(Stdio::null());
        let out = cmd
            .output()
            .map_err(|e| BackendError::Failed(format!("cannot run git: {e}")))?;
        if !out.status.success() {
            return Err(BackendError::Failed(format!(
                "git commit-tree failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Runs `change` on the branch's tip until its push wins the race.
    fn update(
        &self,
        message: &str,
        mut change: impl FnMut(&Tip) -> Result<Stored, BackendError>,
    ) -> Result<Stored, BackendError> {
        for _ in 0..ATTEMPTS {
            let tip = self.tip()?;
            let next = change(&tip)?;
            if self.commit_and_push(tip.commit.as_deref(), &next, message)? {
                return Ok(next);
            }
        }
        Err(BackendError::Failed(format!(
            "the branch {} kept moving; gave up after {ATTEMPTS} attempts",
            self.cfg.branch
        )))
    }

    fn must_hold(tip: &Tip, held: &LockInfo) -> Result<(), BackendError> {
        match &tip.stored.lock {
            Some(l) if l.id == held.id => Ok(()),
            Some(other) => Err(BackendError::Failed(format!(
                "this run's lock was removed and {} took it; this run's state was not \
stored (see docs/state.md, \"a lock was broken\")",
                other.describe()
            ))),
            None => Err(BackendError::Failed(
                "this run's lock was removed (state unlock --force); this run's state was not \
stored (see docs/state.md, \"a lock was broken\")"
                    .to_string(),
            )),
        }
    }
}

impl Store for GitStore {
    fn read(&self) -> Result<Stored, BackendError> {
        Ok(self.tip()?.stored)
    }

    fn holder(&self) -> Result<Option<LockInfo>, BackendError> {
        Ok(self.tip()?.stored.lock)
    }

    fn lock(&self, info: &LockInfo) -> Result<Stored, BackendError> {
        self.check_not_default()?;
        let message = format!("speechops: lock for {} by {}", info.operation, info.who);
        let stored = self.update(&message, |tip| {
            if let Some(holder) = &tip.stored.lock {
                return Err(BackendError::Held(Box::new(holder.clone())));
            }
            Ok(Stored {
                lock: Some(info.clone()),
                ..tip.stored.clone()
            })
        })?;
        Ok(Stored {
            lock: None,
            ..stored
        })
    }

    fn write(
        &self,
        held: &LockInfo,
        state: &Stored,
        message: &str,
        release: bool,
    ) -> Result<(), BackendError> {
        self.update(message, |tip| {
            Self::must_hold(tip, held)?;
            Ok(Stored {
                lock: (!release).then(|| held.clone()),
                ..state.clone()
            })
        })
        .map(|_| ())
    }

    fn unlock(&self, held: &LockInfo) -> Result<(), BackendError> {
        // Released with the last write; a lock still there is this run's to remove.
        let tip = self.tip()?;
        if tip.stored.lock.as_ref().is_some_and(|l| l.id == held.id) {
            self.update("speechops: unlock", |tip| {
                Self::must_hold(tip, held)?;
                Ok(Stored {
                    lock: None,
                    ..tip.stored.clone()
                })
            })?;
        }
        Ok(())
    }

    fn break_lock(&self, holder: &LockInfo) -> Result<(), BackendError> {
        self.update(
            &format!("speechops: lock of {} removed", holder.describe()),
            |tip| match &tip.stored.lock {
                Some(l) if l.id == holder.id => Ok(Stored {
                    lock: None,
                    ..tip.stored.clone()
                }),
                Some(other) => Err(BackendError::Held(Box::new(other.clone()))),
                None => Ok(tip.stored.clone()),
            },
        )
        .map(|_| ())
    }
}
