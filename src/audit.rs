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

use crate::model::{Object, sha256_hex};
use crate::state::AuditHead;

pub mod org;
pub mod report;

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
    /// The spec tree differed from `gitCommit` (uncommitted or untracked files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_dirty: Option<bool>,
    pub target: String,
    /// The org's id (`GET /api/v2/organizations/me`), when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    pub action: String,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub id: Option<String>,
    /// For a result or a resolution: the `seq` of the intent it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<u64>,
    /// sha256 of the normalised body the org held just before the write (null for a
    /// create).
    #[serde(default)]
    pub remote_sha256_before: Option<String>,
    pub spec_sha256_after: Option<String>,
    /// `pending` (an intent), `ok`, `failed`, `confirmed` / `not-applied` (an intent
    /// resolved by a later run).
    pub status: String,
    pub http_status: Option<u16>,
    pub latency_ms: Option<u64>,
    pub correlation_id: Option<String>,
    /// What changed, field by field (see [`field_changes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<serde_json::Value>,
    /// A human-readable detail (an error message, a URL notified).
    pub message: Option<String>,
    /// The pull (merge) request whose review approved this change, when known from CI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequest>,
    /// The author of `gitCommit` (`Name <email>`), beside the runner's `actor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_author: Option<String>,
    pub prev_hash: String,
}

/// Who proposed, merged and approved a change (SPEC 12.4): read by CI from GitHub (the
/// pull request and its reviews) or GitLab (the merge request and its approvals).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullRequest {
    pub number: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_by: Option<String>,
    #[serde(default)]
    pub approvers: Vec<String>,
}

impl PullRequest {
    /// `#7 (URL) by alice, merged by bob, approved by carol, dave`.
    pub fn describe(&self) -> String {
        let mut out = format!("#{}", self.number);
        if let Some(u) = &self.url {
            out.push_str(&format!(" ({u})"));
        }
        if let Some(a) = &self.author {
            out.push_str(&format!(" by {a}"));
        }
        if let Some(m) = &self.merged_by {
            out.push_str(&format!(", merged by {m}"));
        }
        if self.approvers.is_empty() {
            out.push_str(", no approving review recorded");
        } else {
            out.push_str(&format!(", approved by {}", self.approvers.join(", ")));
        }
        out
    }
}

/// Who and what a run is, stamped on each entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    pub actor: String,
    pub run_id: String,
    pub git_commit: Option<String>,
    pub git_dirty: Option<bool>,
    /// The author of `git_commit` (`Name <email>`).
    pub git_author: Option<String>,
    pub target: String,
    pub org_id: Option<String>,
}

/// CI variables naming who started a run, in order of preference.
const CI_ACTOR_VARS: [&str; 5] = [
    "GITHUB_ACTOR",
    "GITLAB_USER_LOGIN",
    "BUILD_REQUESTEDFOREMAIL",
    "BITBUCKET_STEP_TRIGGERER_UUID",
    "BUILDKITE_BUILD_CREATOR",
];

impl RunInfo {
    /// The actor from CI variables, else the OS user (by uid lookup); a run id from CI
    /// (`GITHUB_RUN_ID`) or fresh; the commit of the spec tree and whether the tree
    /// differs from it.
    pub fn detect(target: &str, spec_dir: &Path) -> RunInfo {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let actor = CI_ACTOR_VARS
            .iter()
            .find_map(|k| var(k))
            .unwrap_or_else(os_user);
        let run_id = var("GITHUB_RUN_ID")
            .map(|id| match var("GITHUB_RUN_ATTEMPT") {
                Some(a) => format!("{id}-{a}"),
                None => id,
            })
            .or_else(|| var("CI_PIPELINE_ID"))
            .unwrap_or_else(|| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                format!("{nanos:x}-{}", std::process::id())
            });
        let (git_commit, git_dirty) = match git_state(spec_dir) {
            Some((commit, dirty)) => (commit, Some(dirty)),
            // Not a work tree (or no git): the CI's word is all there is.
            None => (var("GITHUB_SHA"), None),
        };
        let git_author = git_commit.as_ref().and_then(|c| commit_author(spec_dir, c));
        RunInfo {
            actor,
            run_id,
            git_commit,
            git_dirty,
            git_author,
            target: target.to_string(),
            org_id: None,
        }
    }
}

/// `Name <email>` of a commit's author, when `dir` is in a work tree that has it.
fn commit_author(dir: &Path, commit: &str) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["log", "-1", "--format=%an <%ae>", commit, "--"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !text.is_empty() && text != "<>").then_some(text)
}

/// `(HEAD, dirty)` of the work tree holding `dir`: HEAD is `None` before the first
/// commit; dirty is true when anything under `dir` differs from HEAD (modified,
/// staged, deleted or untracked). `None` when `dir` is not in a git work tree.
fn git_state(dir: &Path) -> Option<(Option<String>, bool)> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
    };
    let inside = git(&["rev-parse", "--is-inside-work-tree"])?;
    if !inside.status.success() {
        return None;
    }
    let head = git(&["rev-parse", "--verify", "--quiet", "HEAD"])
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let status = git(&["status", "--porcelain", "--untracked-files=all", "--", "."])?;
    let dirty = !status.status.success() || !status.stdout.is_empty() || head.is_none();
    Some((head, dirty))
}

/// The OS user running this process, looked up by uid (so it works where USER is not
/// set, as in containers and cron); then USER/LOGNAME/USERNAME; then `uid:N`.
fn os_user() -> String {
    #[cfg(unix)]
    {
        // SAFETY: getuid cannot fail; getpwuid_r writes only into the buffers given,
        // whose sizes are passed, and `pwd.pw_name` points into `buf` when it returns
        // 0 with a non-null result.
        let uid = unsafe { libc::getuid() };
        let mut buf = vec![0u8; 16 * 1024];
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == 0 && !result.is_null() && !pwd.pw_name.is_null() {
            let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
            if let Ok(name) = name.to_str()
                && !name.is_empty()
            {
                return name.to_string();
            }
        }
        let env = ["USER", "LOGNAME"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
        env.unwrap_or_else(|| format!("uid:{uid}"))
    }
    #[cfg(not(unix))]
    {
        std::env::var("USERNAME")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "unknown".to_string())
    }
}

/// What changed between two normalised bodies, compactly: only the fields that
/// differ; a scalar as `{"from": a, "to": b}`, a list (tags, topics, phrases: all
/// order-insensitive) as `{"added": [...], "removed": [...]}`. `before` None is a
/// create (every field "to"), `after` None a delete.
pub fn field_changes(before: Option<&Object>, after: Option<&Object>) -> Option<serde_json::Value> {
    use serde_json::{Map, Value, json};
    let as_map = |o: Option<&Object>| -> Map<String, Value> {
        match o.and_then(|o| serde_json::to_value(o.clone().normalized()).ok()) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        }
    };
    let (b, a) = (as_map(before), as_map(after));
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Map::new();
    for k in keys {
        if k == "kind" {
            continue;
        }
        let (x, y) = (b.get(k), a.get(k));
        if x == y {
            continue;
        }
        let change = match (x, y) {
            (Some(Value::Array(xs)), Some(Value::Array(ys))) => {
                let removed: Vec<&Value> = xs.iter().filter(|v| !ys.contains(v)).collect();
                let added: Vec<&Value> = ys.iter().filter(|v| !xs.contains(v)).collect();
                json!({"added": added, "removed": removed})
            }
            (None, Some(Value::Array(ys))) => json!({"added": ys, "removed": []}),
            (Some(Value::Array(xs)), None) => json!({"added": [], "removed": xs}),
            _ => json!({"from": x, "to": y}),
        };
        out.insert(k.clone(), change);
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// The entries whose status is `pending` and that no later entry answers: writes a
/// run began and never recorded the end of (it was killed).
pub fn dangling_intents(entries: &[Entry]) -> Vec<Entry> {
    let answered: std::collections::HashSet<u64> =
        entries.iter().filter_map(|e| e.intent).collect();
    entries
        .iter()
        .filter(|e| e.status == "pending" && !answered.contains(&e.seq))
        .cloned()
        .collect()
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
    #[error("{0}")]
    Key(String),
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
        // A writer holds the apply lock: a torn last line is a killed run's, whose
        // write (if it was sent) its intent still records; it goes, or the next entry
        // would be glued to it.
        if let Ok(text) = std::fs::read_to_string(path)
            && let Some(cut) = torn_tail(&text)
        {
            tracing::warn!(
                "removed the incomplete last line of {} (a killed run's interrupted write)",
                path.display()
            );
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|source| AuditError::Write {
                    path: path.to_path_buf(),
                    source,
                })?;
            f.set_len(cut as u64)
                .and_then(|()| f.sync_all())
                .map_err(|source| AuditError::Write {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
        let (count, last_hash) = verify_against(path, head)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            next_seq: count as u64 + 1,
            last_hash,
        })
    }

    /// Every entry of the log (its chain was checked when it was opened).
    pub fn entries(&self) -> Result<Vec<Entry>, AuditError> {
        read_entries(&self.path)
    }

    /// Appends one entry (seq, prevHash and hash are filled in), fsyncs it, and
    /// returns its `seq`.
    pub fn append(&mut self, mut entry: Entry) -> Result<u64, AuditError> {
        // No secret reaches the log, whatever a server put in an error message.
        entry.message = entry.message.map(|m| crate::genesys::redact::redact(&m));
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
        // A write that fails part-way (a full disk) takes its partial line back, so
        // the log stays a valid chain and the next run needs no hand repair.
        let before = f.metadata().map(|m| m.len()).map_err(io)?;
        if let Err(e) = f.write_all(line.as_bytes()).and_then(|()| f.sync_all()) {
            let _ = f.set_len(before);
            let _ = f.sync_all();
            return Err(io(e));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.last_hash = hash;
        Ok(seq)
    }

    /// The last entry written, to anchor in the lockfile.
    pub fn head(&self) -> Option<AuditHead> {
        (self.next_seq > 1).then(|| {
            sign_head(AuditHead {
                hash: self.last_hash.clone(),
                seq: self.next_seq - 1,
                signature: None,
            })
        })
    }
}

/// The environment variable holding the key that signs the chain head.
pub const SIGNING_KEY_VAR: &str = "SPEECHOPS_AUDIT_SIGNING_KEY";

/// What a head's signature covers.
fn head_message(seq: u64, hash: &str) -> String {
    format!("speechops-audit-head/v1 {seq} {hash}")
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// The signing key from the environment (base64 of its 32-byte seed), read once and
/// registered as a secret; `Err` when it is set but not a key.
pub fn signing_key() -> Result<Option<&'static ed25519_dalek::SigningKey>, AuditError> {
    use base64::Engine as _;
    static KEY: std::sync::OnceLock<Result<Option<ed25519_dalek::SigningKey>, String>> =
        std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| {
        let Ok(text) = std::env::var(SIGNING_KEY_VAR) else {
            return Ok(None);
        };
        let text = crate::genesys::Secret::new(text.trim().to_string());
        let bytes = b64()
            .decode(text.expose())
            .map_err(|_| "it is not base64".to_string())?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "it is not a 32-byte Ed25519 key".to_string())?;
        Ok(Some(ed25519_dalek::SigningKey::from_bytes(&seed)))
    });
    key.as_ref().map(Option::as_ref).map_err(|why| {
        AuditError::Key(format!(
            "{SIGNING_KEY_VAR} is set, but {why} (make one with `speechops audit keygen`)"
        ))
    })
}

/// The head, signed when a signing key is configured.
fn sign_head(mut head: AuditHead) -> AuditHead {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    if let Ok(Some(key)) = signing_key() {
        let sig = key.sign(head_message(head.seq, &head.hash).as_bytes());
        head.signature = Some(b64().encode(sig.to_bytes()));
    }
    head
}

/// Checks a head's signature against a public key (base64, or a file holding it).
pub fn verify_head(head: &AuditHead, public: &str) -> Result<(), String> {
    use base64::Engine as _;
    use ed25519_dalek::Verifier as _;
    let text = match std::fs::read_to_string(public) {
        Ok(t) => t,
        Err(_) => public.to_string(),
    };
    let bytes = b64()
        .decode(text.trim())
        .map_err(|_| "the public key is not base64 (or a file holding it)".to_string())?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "the public key is not a 32-byte Ed25519 key".to_string())?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|e| format!("the public key is not an Ed25519 key: {e}"))?;
    let Some(sig) = &head.signature else {
        return Err(format!(
            "the chain head (entry {}) is not signed: it was recorded by a run without {SIGNING_KEY_VAR}",
            head.seq
        ));
    };
    let sig = b64()
        .decode(sig)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| ed25519_dalek::Signature::from_bytes(&b))
        .ok_or_else(|| "the head's signature is malformed".to_string())?;
    key.verify(head_message(head.seq, &head.hash).as_bytes(), &sig)
        .map_err(|_| {
            format!(
                "the signature of the chain head (entry {}) does not verify with this key: the \
log and its anchor were not written by the holder of the signing key",
                head.seq
            )
        })
}

/// A new signing key pair: (private, for `SPEECHOPS_AUDIT_SIGNING_KEY`; public, for
/// `audit verify --key`), both base64.
pub fn keygen() -> std::io::Result<(String, String)> {
    use base64::Engine as _;
    use std::io::Read as _;
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    Ok((
        b64().encode(key.to_bytes()),
        b64().encode(key.verifying_key().to_bytes()),
    ))
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

/// Where a torn last line (no newline, and not a whole entry) starts, if there is one.
fn torn_tail(text: &str) -> Option<usize> {
    if text.is_empty() || text.ends_with('\n') {
        return None;
    }
    let start = text.rfind('\n').map_or(0, |i| i + 1);
    let last = &text[start..];
    let whole = split_hash(last)
        .is_some_and(|(body, hash)| crate::model::sha256_hex(body.as_bytes()) == hash);
    (!whole).then_some(start)
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
    let mut text = String::from_utf8(text).map_err(|_| broken(1, "not UTF-8".to_string()))?;
    // A last line without its newline that is not a whole entry is a write a kill cut
    // off (an append can stop between pages): not an entry, and not an edit. It is left
    // out here, and the next writer removes it (`AuditLog::open`).
    if let Some(cut) = torn_tail(&text) {
        text.truncate(cut);
    }
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
    let mut raw_lines = text.split('\n');
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let raw = raw_lines.next();
        if line.is_empty() {
            return Err(broken(n, "empty line".to_string()));
        }
        // `lines` drops a CR before the LF: the bytes hashed were not these.
        if raw.is_some_and(|raw| raw.ends_with('\r')) {
            return Err(broken(
                n,
                "the line ends with CR LF (the log was converted to Windows line endings; \
convert it back, e.g. `git config core.autocrlf false` and check the file out again)"
                    .to_string(),
            ));
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

/// Every entry of a log, in order, after checking its chain.
pub fn read_entries(path: &Path) -> Result<Vec<Entry>, AuditError> {
    chain(path)?;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(AuditError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let body = split_hash(line).map(|(b, _)| b).unwrap_or_default();
            serde_json::from_str(&body).map_err(|e| AuditError::Broken {
                path: path.to_path_buf(),
                line: i + 1,
                reason: format!("not an audit entry: {e}"),
            })
        })
        .collect()
}

/// The entries before the first broken line, and what broke (`None`: the whole log
/// verifies). An auditor can still read the history up to a tampered line.
pub fn read_intact_entries(path: &Path) -> Result<(Vec<Entry>, Option<AuditError>), AuditError> {
    let broken_at = match chain(path) {
        Ok(_) => return read_entries(path).map(|e| (e, None)),
        Err(e @ AuditError::Broken { .. }) => e,
        Err(e) => return Err(e),
    };
    let AuditError::Broken { line, .. } = &broken_at else {
        return Err(broken_at);
    };
    let text = std::fs::read_to_string(path).map_err(|source| AuditError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let entries = text
        .lines()
        .take(line.saturating_sub(1))
        .filter_map(|l| split_hash(l).and_then(|(b, _)| serde_json::from_str(&b).ok()))
        .collect();
    Ok((entries, Some(broken_at)))
}

/// Which entries `audit show` lists.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<String>,
    pub name: Option<globset::GlobMatcher>,
    /// Entries with `ts` at or after this instant (RFC 3339 UTC, compared as text).
    pub since: Option<String>,
    pub run: Option<String>,
}

impl Filter {
    pub fn keeps(&self, e: &Entry) -> bool {
        self.kind.as_ref().is_none_or(|k| {
            e.kind
                .as_deref()
                .is_some_and(|ek| ek.eq_ignore_ascii_case(k))
        }) && self
            .name
            .as_ref()
            .is_none_or(|g| e.name.as_deref().is_some_and(|n| g.is_match(n)))
            && self
                .since
                .as_ref()
                .is_none_or(|s| e.ts.as_str() >= s.as_str())
            && self.run.as_ref().is_none_or(|r| &e.run_id == r)
    }
}

/// Parses `--since`: RFC 3339, a date (midnight UTC), or an age before `now` (`90m`,
/// `24h`, `7d`, `2w`). Returns the instant as RFC 3339 UTC with seconds precision, the
/// form entries are written in, so it compares as text.
pub fn parse_since(text: &str, now: time::OffsetDateTime) -> Result<String, String> {
    use time::format_description::well_known::Rfc3339;
    let t = text.trim();
    let fmt = |dt: time::OffsetDateTime| {
        dt.to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .unwrap_or(dt)
            .format(&Rfc3339)
            .map_err(|e| e.to_string())
    };
    if let Ok(dt) = time::OffsetDateTime::parse(t, &Rfc3339) {
        return fmt(dt);
    }
    let date_fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(t, &date_fmt) {
        return fmt(d.midnight().assume_utc());
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num.parse().map_err(|_| {
        format!("--since {text:?}: expected RFC 3339, YYYY-MM-DD, or an age like 24h or 7d")
    })?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "--since {text:?}: the unit must be s, m, h, d or w"
            ));
        }
    };
    let ago = n
        .checked_mul(secs)
        .map(time::Duration::seconds)
        .and_then(|d| now.checked_sub(d))
        .ok_or_else(|| format!("--since {text:?} is too far back"))?;
    fmt(ago)
}

/// The audit log as readable history (text), one block per entry: what happened to
/// which object, by whom, from which commit, and what changed field by field.
pub fn render_history(entries: &[&Entry]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for e in entries {
        let object = match (&e.kind, &e.name) {
            (Some(k), Some(n)) => format!(" {k} {n:?}"),
            _ => String::new(),
        };
        let id =
            e.id.as_deref()
                .map(|i| format!(" [id {i}]"))
                .unwrap_or_default();
        let answers = e
            .intent
            .map(|i| format!(" (answers #{i})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "#{} {} {}{object}{id}: {}{answers}",
            e.seq, e.ts, e.action, e.status
        );
        let commit = match (&e.git_commit, e.git_dirty) {
            (Some(c), Some(true)) => format!("commit {} + uncommitted changes", short(c)),
            (Some(c), _) => format!("commit {}", short(c)),
            (None, _) => "no commit".to_string(),
        };
        let org = e
            .org_id
            .as_deref()
            .map(|o| format!(", org {o}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    by {} (run {}), {commit}, target {}{org}",
            e.actor, e.run_id, e.target
        );
        let mut call = Vec::new();
        if let Some(s) = e.http_status {
            call.push(format!("HTTP {s}"));
        }
        if let Some(ms) = e.latency_ms {
            call.push(format!("{ms} ms"));
        }
        if let Some(c) = &e.correlation_id {
            call.push(format!("correlation id {c}"));
        }
        if !call.is_empty() {
            let _ = writeln!(out, "    {}", call.join(", "));
        }
        match (&e.remote_sha256_before, &e.spec_sha256_after) {
            (None, None) => {}
            (b, a) => {
                let h = |x: &Option<String>| x.as_deref().map_or("-".to_string(), short);
                let _ = writeln!(out, "    body sha256 {} -> {}", h(b), h(a));
            }
        }
        if let Some(serde_json::Value::Object(changes)) = &e.changes {
            for (field, c) in changes {
                if let (Some(added), Some(removed)) = (c.get("added"), c.get("removed")) {
                    for v in removed.as_array().into_iter().flatten() {
                        let _ = writeln!(out, "    - {field}: {}", compact(v));
                    }
                    for v in added.as_array().into_iter().flatten() {
                        let _ = writeln!(out, "    + {field}: {}", compact(v));
                    }
                } else {
                    let (from, to) = (c.get("from"), c.get("to"));
                    let _ = writeln!(
                        out,
                        "    ~ {field}: {} -> {}",
                        from.map_or("(none)".to_string(), compact),
                        to.map_or("(none)".to_string(), compact)
                    );
                }
            }
        }
        if let Some(pr) = &e.pull_request {
            let _ = writeln!(out, "    pull request {}", pr.describe());
        }
        if let Some(a) = &e.git_author {
            let _ = writeln!(out, "    commit author {a}");
        }
        if let Some(m) = &e.message {
            let _ = writeln!(out, "    {m}");
        }
    }
    out
}

fn short(s: &str) -> String {
    s.get(..12).unwrap_or(s).to_string()
}

/// A JSON value on one line, strings without quotes when they stand alone.
fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => format!("{s:?}"),
        serde_json::Value::Null => "(none)".to_string(),
        other => other.to_string(),
    }
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

    #[test]
    fn a_log_converted_to_crlf_is_refused_naming_the_first_line() {
        let (_dir, path) = log_with(3);
        assert!(verify(&path).is_ok());
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace('\n', "\r\n")).unwrap();
        let err = verify(&path).unwrap_err().to_string();
        assert!(err.contains("CR LF"), "{err}");
        assert!(err.contains("line 1"), "{err}");
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
    fn a_torn_last_line_is_left_out_and_the_next_writer_removes_it() {
        let (_d, path) = log_with(3);
        let text = std::fs::read_to_string(&path).unwrap();
        // A kill between the pages of an append leaves part of a line.
        let third = text.lines().nth(2).unwrap().len();
        std::fs::write(&path, &text[..text.len() - 20]).unwrap();
        let (count, _) = verify(&path).unwrap();
        assert_eq!(count, 2, "the torn line is not an entry");
        // Anchored at the entry the tear destroyed: lines are missing, and it says so.
        let (_, last) = verify(&path).unwrap();
        let anchor = AuditHead {
            hash: "f".repeat(64),
            seq: 3,
            signature: None,
        };
        assert!(verify_against(&path, Some(&anchor)).is_err());
        let mut log = AuditLog::open(&path, None).unwrap();
        log.append(entry("after the kill")).unwrap();
        let after = std::fs::read_to_string(&path).unwrap();
        assert_eq!(after.lines().count(), 3);
        assert!(after.ends_with('\n') && !after.contains(&"x".repeat(third)));
        assert_eq!(verify(&path).unwrap().0, 3);
        assert_ne!(verify(&path).unwrap().1, last);
        // A whole last entry that only lost its newline is not torn: it is kept.
        let t = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, t.trim_end_matches('\n')).unwrap();
        assert_eq!(torn_tail(&std::fs::read_to_string(&path).unwrap()), None);
    }

    #[test]
    fn reordered_lines_are_named() {
        let (_d, path) = log_with(4);
        rewrite(&path, |l| l.swap(1, 2));
        assert_eq!(broken_line(&path), 2);
    }
}
