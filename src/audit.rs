//! The hash-chained JSONL audit log (SPEC 7) and its verifier.
//!
//! Each line is one JSON object. Its `hash` is the sha256 of the exact bytes of the
//! line without the `hash` member (the line with `,"hash":"…"` removed), and its
//! `prevHash` is the previous line's `hash`, so editing, removing or reordering any
//! line breaks the chain at that line. Only this module writes the audit log.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::sha256_hex;
use crate::state::AuditHead;

/// `prevHash` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry, without its `hash`. Field order is the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub seq: u64,
    pub ts: String,
    pub actor: String,
    pub run_id: String,
    pub git_commit: Option<String>,
    pub target: String,
    pub action: String,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub id: Option<String>,
    pub spec_sha256_before: Option<String>,
    pub spec_sha256_after: Option<String>,
    pub status: String,
    pub http_status: Option<u16>,
    pub latency_ms: Option<u64>,
    pub correlation_id: Option<String>,
    /// A human-readable detail (an error message, a URL notified).
    pub message: Option<String>,
    pub prev_hash: String,
}

/// Who and what a run is, stamped on each entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    pub actor: String,
    pub run_id: String,
    pub git_commit: Option<String>,
    pub target: String,
}

impl RunInfo {
    /// From CI variables (GITHUB_ACTOR, GITHUB_RUN_ID, GITHUB_SHA), else the OS user,
    /// a fresh run id and `git rev-parse HEAD`.
    pub fn detect(target: &str) -> RunInfo {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let actor = var("GITHUB_ACTOR")
            .or_else(|| var("USER"))
            .or_else(|| var("LOGNAME"))
            .or_else(|| var("USERNAME"))
            .unwrap_or_else(|| "unknown".to_string());
        let run_id = var("GITHUB_RUN_ID")
            .map(|id| match var("GITHUB_RUN_ATTEMPT") {
                Some(a) => format!("{id}-{a}"),
                None => id,
            })
            .unwrap_or_else(|| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                format!("{nanos:x}-{}", std::process::id())
            });
        let git_commit = var("GITHUB_SHA").or_else(|| {
            std::process::Command::new("git")
                .args(["rev-parse", "HEAD"])
                .stderr(std::process::Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        });
        RunInfo {
            actor,
            run_id,
            git_commit,
            target: target.to_string(),
        }
    }
}

/// Errors of the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot read audit log {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot append to audit log {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("audit log {path} is broken at line {line}: {reason}")]
    Broken {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// An open audit log that appends chained entries.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    next_seq: u64,
    last_hash: String,
}

impl AuditLog {
    /// Opens the log, checking its chain (and that it still holds the entry the
    /// lockfile recorded) first, so that we never extend a broken log.
    pub fn open(path: &Path, head: Option<&AuditHead>) -> Result<AuditLog, AuditError> {
        let (count, last_hash) = verify_against(path, head)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            next_seq: count as u64 + 1,
            last_hash,
        })
    }

    /// Appends one entry (seq, prevHash and hash are filled in) and fsyncs it.
    pub fn append(&mut self, mut entry: Entry) -> Result<(), AuditError> {
        entry.seq = self.next_seq;
        entry.prev_hash = self.last_hash.clone();
        let (line, hash) = seal(&entry);
        let io = |source| AuditError::Write {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        f.write_all(line.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        self.next_seq += 1;
        self.last_hash = hash;
        Ok(())
    }

    /// The last entry written, to anchor in the lockfile.
    pub fn head(&self) -> Option<AuditHead> {
        (self.next_seq > 1).then(|| AuditHead {
            hash: self.last_hash.clone(),
            seq: self.next_seq - 1,
        })
    }
}

/// The line for an entry (with trailing newline) and its hash.
fn seal(entry: &Entry) -> (String, String) {
    let body = serde_json::to_string(entry).unwrap_or_default();
    let hash = sha256_hex(body.as_bytes());
    let open = body.strip_suffix('}').unwrap_or(&body);
    (format!("{open},\"hash\":\"{hash}\"}}\n"), hash)
}

/// Checks the whole chain, then that the log still holds `head` (the last entry the
/// lockfile recorded): lines removed from the end break that anchor.
pub fn verify_against(
    path: &Path,
    head: Option<&AuditHead>,
) -> Result<(usize, String), AuditError> {
    let (count, last, hashes) = chain(path)?;
    if let Some(h) = head {
        let at = usize::try_from(h.seq).unwrap_or(usize::MAX);
        let found = at.checked_sub(1).and_then(|i| hashes.get(i));
        if found != Some(&h.hash) {
            return Err(AuditError::Broken {
                path: path.to_path_buf(),
                line: (count + 1).min(at.max(1)),
                reason: if at > count {
                    format!(
                        "the log ends at line {count} but the lockfile recorded entry {} \
(lines were removed from the end)",
                        h.seq
                    )
                } else {
                    format!("entry {} is not the one the lockfile recorded", h.seq)
                },
            });
        }
    }
    Ok((count, last))
}

/// Checks the whole chain. Returns the number of lines and the last hash.
pub fn verify(path: &Path) -> Result<(usize, String), AuditError> {
    chain(path).map(|(count, last, _)| (count, last))
}

/// Walks the chain: line count, last hash and every line's hash.
fn chain(path: &Path) -> Result<(usize, String, Vec<String>), AuditError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((0, GENESIS.to_string(), Vec::new()));
        }
        Err(source) => {
            return Err(AuditError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let broken = |line: usize, reason: String| AuditError::Broken {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let text = String::from_utf8(text).map_err(|_| broken(1, "not UTF-8".to_string()))?;
    // A last line without its newline is a write that was interrupted, not an edit.
    let torn = (!text.is_empty() && !text.ends_with('\n')).then(|| text.lines().count());
    let broken = |line: usize, reason: String| {
        if torn == Some(line) {
            broken(
                line,
                "the last line is incomplete (a write was interrupted); the lines before it \
are intact: move the incomplete line aside to continue"
                    .to_string(),
            )
        } else {
            broken(line, reason)
        }
    };
    let mut prev = GENESIS.to_string();
    let mut count = 0usize;
    let mut hashes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.is_empty() {
            return Err(broken(n, "empty line".to_string()));
        }
        let Some((body, hash)) = split_hash(line) else {
            return Err(broken(n, "no trailing \"hash\" member".to_string()));
        };
        if sha256_hex(body.as_bytes()) != hash {
            return Err(broken(
                n,
                "the line was edited (its hash does not match)".to_string(),
            ));
        }
        let entry: Entry = serde_json::from_str(&body)
            .map_err(|e| broken(n, format!("not an audit entry: {e}")))?;
        if entry.prev_hash != prev {
            return Err(broken(
                n,
                "prevHash does not match the previous line (a line was removed, inserted or reordered)"
                    .to_string(),
            ));
        }
        if entry.seq != n as u64 {
            return Err(broken(
                n,
                format!("seq is {} where {} was expected", entry.seq, n),
            ));
        }
        prev = hash.to_string();
        hashes.push(prev.clone());
        count = n;
    }
    Ok((count, prev, hashes))
}

/// Splits `{…,"hash":"<hex>"}` into the hashed body `{…}` and the hash.
fn split_hash(line: &str) -> Option<(String, &str)> {
    let idx = line.rfind(",\"hash\":\"")?;
    let hash = line[idx + 9..].strip_suffix("\"}")?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((format!("{}}}", &line[..idx]), hash))
}

/// Now as RFC 3339 UTC with seconds precision.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> Entry {
        Entry {
            ts: "2026-01-01T00:00:00Z".into(),
            actor: "me".into(),
            run_id: "r".into(),
            target: "t".into(),
            action: "create".into(),
            name: Some(name.into()),
            status: "ok".into(),
            ..Entry::default()
        }
    }

    fn log_with(n: usize) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut log = AuditLog::open(&path, None).unwrap();
        for i in 0..n {
            log.append(entry(&format!("rule {i}"))).unwrap();
        }
        (dir, path)
    }

    fn rewrite(path: &Path, f: impl FnOnce(&mut Vec<String>)) {
        let mut lines: Vec<String> = std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        f(&mut lines);
        std::fs::write(path, lines.join("\n") + "\n").unwrap();
    }

    fn broken_line(path: &Path) -> usize {
        match verify(path) {
            Err(AuditError::Broken { line, .. }) => line,
            other => panic!("expected a broken chain, got {other:?}"),
        }
    }

    #[test]
    fn intact_chain_verifies_and_reopens() {
        let (_d, path) = log_with(3);
        assert_eq!(verify(&path).unwrap().0, 3);
        let mut log = AuditLog::open(&path, None).unwrap();
        log.append(entry("more")).unwrap();
        assert_eq!(verify(&path).unwrap().0, 4);
    }

    #[test]
    fn edited_line_is_named() {
        let (_d, path) = log_with(4);
        rewrite(&path, |l| l[2] = l[2].replace("rule 2", "rule X"));
        assert_eq!(broken_line(&path), 3);
    }

    #[test]
    fn removed_line_is_named() {
        let (_d, path) = log_with(4);
        rewrite(&path, |l| {
            l.remove(1);
        });
        assert_eq!(broken_line(&path), 2);
    }

    #[test]
    fn lines_removed_from_the_end_break_the_lockfile_anchor() {
        let (_d, path) = log_with(4);
        let head = AuditLog::open(&path, None).unwrap().head().unwrap();
        assert_eq!(head.seq, 4);
        assert!(verify_against(&path, Some(&head)).is_ok());
        rewrite(&path, |l| {
            l.pop();
        });
        assert!(
            verify(&path).is_ok(),
            "the chain alone cannot see a cut tail"
        );
        match verify_against(&path, Some(&head)) {
            Err(AuditError::Broken { line, reason, .. }) => {
                assert_eq!(line, 4);
                assert!(reason.contains("removed from the end"), "{reason}");
            }
            other => panic!("expected a broken anchor, got {other:?}"),
        }
    }

    #[test]
    fn a_torn_last_line_is_reported_as_an_interrupted_write() {
        let (_d, path) = log_with(3);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() - 20]).unwrap();
        match verify(&path) {
            Err(AuditError::Broken { line, reason, .. }) => {
                assert_eq!(line, 3);
                assert!(reason.contains("interrupted"), "{reason}");
            }
            other => panic!("expected a torn line, got {other:?}"),
        }
    }

    #[test]
    fn reordered_lines_are_named() {
        let (_d, path) = log_with(4);
        rewrite(&path, |l| l.swap(1, 2));
        assert_eq!(broken_line(&path), 2);
    }
}
