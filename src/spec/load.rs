//! Finding spec files, reading them, and parsing their documents.
//!
//! Each file is handled on its own (in parallel): bytes -> UTF-8 -> YAML nodes ->
//! typed spec -> per-spec validation -> normalised object. Only what the cross-tree
//! checks need survives a file; the node trees are dropped as soon as a file is done,
//! so memory stays proportional to the normalised objects.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::validate::Ctx;
use super::yaml::{self, Node, Seg, Value};
use super::{Diagnostic, LoadError, Severity, SpecFile};
use crate::model::{self, Kind, Object};

/// Files larger than this are refused unread: no real spec file comes close
/// (1000 topics of 1000 phrases is about 40 MiB spread over many files).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// What the cross-tree checks need to know about one loaded spec.
#[derive(Debug, Clone)]
pub struct Entry {
    pub object: Object,
    pub renamed_from: Option<String>,
    pub file: PathBuf,
    pub doc_pos: (u64, u64),
    pub name_pos: (u64, u64),
    pub renamed_from_pos: (u64, u64),
    /// References to other specs by name, in source order, with their locations.
    pub refs: Vec<crate::kinds::SpecRef>,
    /// Names of outside objects (queues, flows): `(class, name, position)`.
    pub external: Vec<(&'static str, String, (u64, u64))>,
}

/// Everything one file produced.
#[derive(Debug, Default)]
pub struct FileResult {
    pub file: Option<SpecFile>,
    pub entries: Vec<Entry>,
    /// (kind, name) of documents that named themselves but failed to deserialize:
    /// references to them are not reported again as unknown.
    pub broken: Vec<(Kind, String)>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A spec file found under the root: its path relative to the root (with `/`) and
/// the path shown to users.
#[derive(Debug, Clone)]
pub struct Found {
    pub rel: String,
    pub display: PathBuf,
}

/// Walks `root` for `*.yaml` / `*.yml`, skipping hidden files and folders. Symlinked
/// folders are not followed (a link cycle would never end).
pub fn find_files(root: &Path, diags: &mut Vec<Diagnostic>) -> Result<Vec<Found>, LoadError> {
    let meta = std::fs::metadata(root).map_err(|source| LoadError::Dir {
        path: root.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(LoadError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(source) if prefix.is_empty() => {
                return Err(LoadError::Dir {
                    path: root.to_path_buf(),
                    source,
                });
            }
            Err(e) => {
                diags.push(Diagnostic::new(
                    Severity::Error,
                    "file.unreadable",
                    format!("cannot read folder: {e}"),
                    &dir,
                    (1, 1),
                    None,
                ));
                continue;
            }
        };
        let mut names = Vec::new();
        // Every entry that is not a readable folder or regular file is an error naming
        // it: a spec that vanished through a dangling link must fail validation, never
        // be dropped (and then pruned).
        let mut problem = |path: &Path, code: &str, message: String, hint: &str| {
            diags.push(Diagnostic::new(
                Severity::Error,
                code,
                message,
                path,
                (1, 1),
                Some(hint.to_string()),
            ));
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    problem(
                        &dir,
                        "file.unreadable",
                        format!("cannot list an entry of this folder: {e}"),
                        "fix the folder's permissions",
                    );
                    continue;
                }
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let ft = match entry.file_type() {
                Ok(ft) => ft,
                Err(e) => {
                    problem(
                        &path,
                        "file.unreadable",
                        format!("cannot tell what this entry is: {e}"),
                        "fix its permissions, or remove it",
                    );
                    continue;
                }
            };
            let (is_dir, is_file) = if ft.is_symlink() {
                match std::fs::metadata(&path) {
                    // A symlink to a file is read; a symlink to a folder is not followed
                    // (a link cycle would never end), and says so.
                    Ok(m) if m.is_file() => (false, true),
                    Ok(m) if m.is_dir() => {
                        problem(
                            &path,
                            "file.linked-folder",
                            "a symlink to a folder: speechops does not follow it, so the specs \
in it would be missing"
                                .into(),
                            "link the spec files themselves, or move the folder into the tree",
                        );
                        continue;
                    }
                    Ok(_) => {
                        problem(
                            &path,
                            "file.not-regular",
                            "a symlink to something that is not a file or folder".into(),
                            "point it at a spec file, or remove it",
                        );
                        continue;
                    }
                    Err(e) => {
                        problem(
                            &path,
                            "file.broken-link",
                            format!(
                                "a symlink that leads nowhere ({e}): the spec it named is missing"
                            ),
                            "restore its target, or remove the link (and any spec it held is then deleted only with --prune)",
                        );
                        continue;
                    }
                }
            } else if ft.is_dir() || ft.is_file() {
                (ft.is_dir(), ft.is_file())
            } else {
                problem(
                    &path,
                    "file.not-regular",
                    "not a regular file or folder (a FIFO, socket or device)".into(),
                    "spec trees hold YAML files and folders only; remove it",
                );
                continue;
            };
            names.push((name, is_dir, is_file));
        }
        names.sort();
        for (name, is_dir, is_file) in names {
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            if is_dir {
                stack.push((dir.join(&name), rel));
            } else if is_file && (name.ends_with(".yaml") || name.ends_with(".yml")) {
                out.push(Found {
                    display: display_path(root, &rel),
                    rel,
                });
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// What to do with a file that is not UTF-8: an editor that saved it as UTF-16 (with
/// or without its byte-order mark) is told so, as anything else is asked about.
fn not_utf8_hint(bytes: &[u8]) -> &'static str {
    let utf16 = bytes.starts_with(&[0xFF, 0xFE])
        || bytes.starts_with(&[0xFE, 0xFF])
        || (bytes.len() >= 4
            && bytes.iter().take(64).skip(1).step_by(2).all(|b| *b == 0)
            && bytes.first().is_some_and(|b| *b != 0));
    if utf16 {
        "the file is UTF-16 (a Windows editor's \"Unicode\"): save it as UTF-8, the encoding YAML \
spec files must have"
    } else {
        "spec files must be UTF-8 encoded YAML; is this a binary file?"
    }
}

/// The path shown to users: relative to the working folder as they named the root.
fn display_path(root: &Path, rel: &str) -> PathBuf {
    if root == Path::new(".") || root.as_os_str().is_empty() {
        PathBuf::from(rel)
    } else {
        root.join(rel)
    }
}

/// Loads every file, on up to four threads, keeping the order of `files`.
pub fn load_files(root: &Path, files: &[Found]) -> Vec<FileResult> {
    load_files_with(files, |f| load_file(root, f))
}

/// Runs `load` over `files` on up to four threads. Whatever happens to a thread, every
/// file comes back: a file whose loading panicked, or that a failed thread held, is an
/// error naming it, so no spec can silently vanish from the tree (and then be pruned).
fn load_files_with(files: &[Found], load: impl Fn(&Found) -> FileResult + Sync) -> Vec<FileResult> {
    let guarded = |f: &Found| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load(f)))
            .unwrap_or_else(|panic| lost_file(f, &panic_message(panic.as_ref())))
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
        .min(files.len().max(1));
    if threads <= 1 {
        return files.iter().map(guarded).collect();
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<FileResult>> = files.iter().map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(f) = files.get(i) else { break };
                        done.push((i, guarded(f)));
                    }
                    done
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().unwrap_or_default() {
                if let Some(slot) = results.get_mut(i) {
                    *slot = Some(r);
                }
            }
        }
    });
    results
        .into_iter()
        .zip(files)
        .map(|(r, f)| r.unwrap_or_else(|| lost_file(f, "its loader thread stopped")))
        .collect()
}

/// The error result of a file that could not be loaded for a reason of ours, not its own.
fn lost_file(f: &Found, why: &str) -> FileResult {
    FileResult {
        diagnostics: vec![Diagnostic::new(
            Severity::Error,
            "file.internal-error",
            format!("speechops failed while loading this file ({why}); nothing in it was checked"),
            &f.display,
            (1, 1),
            Some("this is a bug in speechops: please report it with the file".into()),
        )],
        ..FileResult::default()
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string())
}

/// Reads, parses and validates one file. Never panics, whatever the bytes.
pub fn load_file(root: &Path, found: &Found) -> FileResult {
    let path = root.join(&found.rel);
    let display = &found.display;
    let mut out = FileResult::default();
    let error = |code: &'static str, msg: String, pos: (u64, u64), hint: Option<String>| {
        Diagnostic::new(Severity::Error, code, msg, display, pos, hint)
    };
    let bytes = match read_limited(&path) {
        Ok(Some(b)) => b,
        Ok(None) => {
            out.file = Some(SpecFile {
                path: found.rel.clone(),
                sha256: String::new(),
            });
            out.diagnostics.push(error(
                "file.too-large",
                format!(
                    "file is larger than {} MiB, the limit for spec files",
                    MAX_FILE_BYTES / 1024 / 1024
                ),
                (1, 1),
                Some("split the specs over several files".into()),
            ));
            return out;
        }
        Err(e) => {
            out.diagnostics.push(error(
                "file.unreadable",
                format!("cannot read file: {e}"),
                (1, 1),
                None,
            ));
            return out;
        }
    };
    load_bytes(found, &bytes, out)
}

/// Parses and validates the bytes of one spec file (what [`load_file`] read). Never
/// panics, whatever the bytes; the fuzz driver (`examples/fuzz.rs`) holds it to that.
pub fn load_bytes(found: &Found, bytes: &[u8], mut out: FileResult) -> FileResult {
    let display = &found.display;
    let error = |code: &'static str, msg: String, pos: (u64, u64), hint: Option<String>| {
        Diagnostic::new(Severity::Error, code, msg, display, pos, hint)
    };
    out.file = Some(SpecFile {
        path: found.rel.clone(),
        sha256: model::sha256_hex(bytes),
    });
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let pos = line_col(&bytes[..e.valid_up_to()]);
            out.diagnostics.push(error(
                "file.not-utf8",
                format!(
                    "file is not UTF-8 text (invalid byte 0x{:02x})",
                    bytes.get(e.valid_up_to()).copied().unwrap_or(0)
                ),
                pos,
                Some(not_utf8_hint(bytes).into()),
            ));
            return out;
        }
    };
    let mut docs = 0usize;
    for result in yaml::parse_documents(text) {
        docs += 1;
        match result {
            Ok(node) => {
                let mut ctx = Ctx {
                    file: display,
                    node: &node,
                    diags: &mut out.diagnostics,
                };
                match load_doc(&mut ctx) {
                    Some(entry) => out.entries.push(entry),
                    None => out.broken.extend(named(&node)),
                }
            }
            Err(e) => out.diagnostics.push(yaml_error(e, display)),
        }
    }
    if docs == 0 {
        out.diagnostics.push(Diagnostic::new(
            Severity::Warning,
            "file.empty",
            "file contains no spec documents".into(),
            display,
            (1, 1),
            Some("add a spec (`kind: ...`) or delete the file".into()),
        ));
    }
    out
}

/// Reads a file, or `None` when it is larger than [`MAX_FILE_BYTES`] (without
/// reading the rest of it).
fn read_limited(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_FILE_BYTES).then_some(bytes))
}

/// 1-based line and column just after `prefix`.
fn line_col(prefix: &[u8]) -> (u64, u64) {
    let line = prefix.iter().filter(|b| **b == b'\n').count() as u64 + 1;
    let start = prefix
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&prefix[start..]).chars().count() as u64 + 1;
    (line, col)
}

/// A YAML-level error (syntax, duplicate key, tag, too deep) as a diagnostic.
fn yaml_error(e: yaml::ParseError, file: &Path) -> Diagnostic {
    let hint = e.hint.or_else(|| {
        if e.message.contains("unknown anchor") {
            // The usual cause: an anchor defined in an earlier document of the file.
            return Some(
                "an alias (*name) refers only to an anchor (&name) earlier in the same YAML \
document, and each `---` starts a new one: repeat the value in this document, or move \
the anchor into it"
                    .to_string(),
            );
        }
        (e.code == "yaml.syntax")
            .then(|| "check indentation, quotes and brackets around this point".to_string())
    });
    Diagnostic::new(
        Severity::Error,
        e.code,
        e.message,
        file,
        (e.line.max(1), e.column.max(1)),
        hint,
    )
}

/// The kind and name a document declares, if both are strings.
fn named(node: &Node) -> Option<(Kind, String)> {
    let kind = match &node.entry("kind")?.1.value {
        Value::Str(k) => Kind::ALL.iter().copied().find(|x| x.as_str() == k)?,
        _ => return None,
    };
    match &node.entry("name")?.1.value {
        Value::Str(n) => Some((kind, n.clone())),
        _ => None,
    }
}

/// The hint for a document without a known kind.
fn kind_hint() -> String {
    let mut kinds: Vec<String> = Kind::ALL.iter().map(|k| format!("`kind: {k}`")).collect();
    let last = kinds.pop().unwrap_or_default();
    if kinds.is_empty() {
        format!("every document starts with {last}")
    } else {
        format!("every document starts with {} or {last}", kinds.join(", "))
    }
}

/// Turns one document into an entry, reporting its problems.
fn load_doc(ctx: &mut Ctx<'_>) -> Option<Entry> {
    let node = ctx.node;
    let doc_pos = (node.line, node.column);
    if !matches!(node.value, Value::Map(_)) {
        ctx.error(
            "spec.not-a-mapping",
            doc_pos,
            "a spec document must be a mapping of keys to values".into(),
            Some(kind_hint()),
        );
        return None;
    }
    let Some((_, kind_node)) = node.entry("kind") else {
        ctx.error(
            "spec.missing-kind",
            doc_pos,
            "missing required field `kind`".into(),
            Some(kind_hint()),
        );
        return None;
    };
    let kind_pos = (kind_node.line, kind_node.column);
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    let kind = match &kind_node.value {
        Value::Str(s) => match Kind::ALL.iter().copied().find(|k| k.as_str() == s) {
            Some(k) => k,
            None => {
                let hint = yaml::closest(s, kinds.iter().copied()).map_or_else(kind_hint, |c| {
                    format!("did you mean `{c}`? (kinds are case-sensitive)")
                });
                ctx.error(
                    "spec.unknown-kind",
                    kind_pos,
                    format!("unknown kind `{s}`, expected one of {}", yaml::list(&kinds)),
                    Some(hint),
                );
                return None;
            }
        },
        _ => {
            ctx.error(
                "spec.unknown-kind",
                kind_pos,
                format!("`kind` must be one of {}", yaml::list(&kinds)),
                Some(kind_hint()),
            );
            return None;
        }
    };
    let (object, renamed_from) = kind.load(ctx, doc_pos)?;
    let refs = kind.spec_refs(node);
    let external = kind.spec_external_refs(node);
    Some(Entry {
        object,
        renamed_from,
        file: ctx.file.to_path_buf(),
        doc_pos,
        name_pos: node.pos(&[Seg::Key("name")]),
        renamed_from_pos: node.pos(&[Seg::Key("renamedFrom")]),
        refs,
        external,
    })
}

/// Most structural errors reported per document.
const MAX_STRUCTURAL_ERRORS: usize = 20;

/// Deserializes the document as `T`, reporting every structural error it can: serde
/// stops at the first one, so after each error the offending entry is removed from a
/// copy of the document and deserialization is retried (a typo in one key does not
/// hide a wrong type three lines below). Returns the spec and, when entries were
/// removed, the patched document its semantic checks must use (indexes may shift).
pub fn deserialize<T: serde::de::DeserializeOwned>(
    ctx: &mut Ctx<'_>,
    doc_pos: (u64, u64),
) -> Option<(T, Option<Node>)> {
    let mut patched: Option<Node> = None;
    // What we set aside: each key, with the mapping it was taken from.
    let mut removed: Vec<(String, (u64, u64))> = Vec::new();
    let mut reported: Vec<(&'static str, (u64, u64), String)> = Vec::new();
    // Set when a mapping lost a required key: the document goes on to be checked for
    // structure, but what remains is not the spec, so its semantic checks are skipped.
    let mut incomplete = false;
    for _ in 0..MAX_STRUCTURAL_ERRORS * 2 {
        let node = patched.as_ref().unwrap_or(ctx.node);
        let e = match yaml::from_node::<T>(node) {
            Ok(_) if incomplete => return None,
            Ok(spec) => return Some((spec, patched)),
            Err(e) => e,
        };
        let missing_at = if e.line == 0 {
            doc_pos
        } else {
            (e.line, e.column)
        };
        if e.code == "spec.missing-field"
            && removed
                .iter()
                .any(|(k, from)| *from == missing_at && e.message.contains(&format!("`{k}`")))
        {
            // We removed it ourselves and its own error is already reported. A nested
            // mapping that lost a required key goes too, so that the rest of the
            // document (the next operand of a category) is still checked.
            let at = (e.line, e.column);
            if e.line == 0 || at == doc_pos {
                return None;
            }
            let mut copy = patched.take().unwrap_or_else(|| ctx.node.clone());
            let from = yaml::parent_pos(&copy, at).unwrap_or(doc_pos);
            match yaml::remove_at(&mut copy, at) {
                Some(key) => {
                    removed.extend(key.map(|k| (k, from)));
                    patched = Some(copy);
                    incomplete = true;
                    continue;
                }
                None => return None,
            }
        }
        let pos = if e.line == 0 {
            doc_pos
        } else {
            (e.line, e.column)
        };
        let retry = e.code != "spec.missing-field" && pos != doc_pos;
        // Removing the first key of a mapping that is itself the wrong type repeats the
        // same error once before the mapping goes; report it once.
        let seen = (e.code, pos, e.message.clone());
        if !reported.contains(&seen) {
            reported.push(seen);
            ctx.error(e.code, pos, e.message, e.hint);
        }
        if !retry {
            return None;
        }
        let mut copy = patched.take().unwrap_or_else(|| ctx.node.clone());
        let from = yaml::parent_pos(&copy, pos).unwrap_or(doc_pos);
        match yaml::remove_at(&mut copy, pos) {
            Some(key) => {
                removed.extend(key.map(|k| (k, from)));
                patched = Some(copy);
            }
            None => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_utf16_file_is_named_as_such_and_other_bytes_asked_about() {
        let text = "kind: Topic\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut bom = vec![0xFF, 0xFE];
        bom.extend(&le);
        assert!(not_utf8_hint(&le).contains("UTF-16"));
        assert!(not_utf8_hint(&bom).contains("UTF-16"));
        assert!(not_utf8_hint(&[0x89, b'P', b'N', b'G', 1, 2, 3, 4]).contains("binary"));
    }

    use super::*;

    #[test]
    fn a_file_whose_loading_panics_is_an_error_naming_it_and_others_still_load() {
        let files: Vec<Found> = (0..9)
            .map(|i| Found {
                rel: format!("f{i}.yaml"),
                display: PathBuf::from(format!("rules/f{i}.yaml")),
            })
            .collect();
        let results = load_files_with(&files, |f| {
            if f.rel == "f3.yaml" {
                panic!("boom");
            }
            FileResult::default()
        });
        assert_eq!(results.len(), 9);
        let errors: Vec<&Diagnostic> = results.iter().flat_map(|r| &r.diagnostics).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].code, "file.internal-error");
        assert!(errors[0].message.contains("boom"), "{}", errors[0].message);
        let loc = errors[0].location.as_ref().expect("location");
        assert_eq!(loc.file, PathBuf::from("rules/f3.yaml"));
        assert_eq!(results[3].diagnostics.len(), 1);
    }
}
