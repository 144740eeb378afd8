//! The sandbox org on disk: one JSON file per object (`topics/<id>.json`, ...) plus a
//! small `meta.json`, each replaced atomically (temp file in the same folder, fsync,
//! rename). A write costs O(one object), not O(org): benchmarks create thousands of
//! large topics. A process killed mid-write leaves at worst a stray temp file, which
//! loading ignores; a file that does not parse is an error, never silently dropped.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::SandboxError;

/// The folder of publish jobs (each kind's folder is its resource's `dir`).
pub const JOBS: &str = "jobs";
const META: &str = "meta.json";
/// Temp files start with this, so loading can tell them from objects.
const TEMP_PREFIX: &str = ".tmp-";

/// Counters that objects alone cannot reconstruct (ids and timestamps of deleted objects).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Meta {
    pub format_version: u32,
    /// Salt of the id generator, fixed when the folder is first used.
    pub salt: u64,
    /// No id at or above this sequence number has ever been handed out.
    pub next_seq: u64,
    /// The latest `dateModified` ever handed out, in ms.
    pub last_modified_ms: i64,
}

/// A data folder.
#[derive(Debug)]
pub struct Disk {
    root: PathBuf,
    temp_seq: AtomicU64,
}

fn data_err(path: &Path, message: impl Into<String>) -> SandboxError {
    SandboxError::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

impl Disk {
    /// Opens (creating) the data folder and these folders in it.
    pub fn open(root: &Path, folders: &[&str]) -> Result<Disk, SandboxError> {
        for sub in folders {
            let dir = root.join(sub);
            fs::create_dir_all(&dir)
                .map_err(|e| data_err(&dir, format!("cannot create folder: {e}")))?;
        }
        Ok(Disk {
            root: root.to_path_buf(),
            temp_seq: AtomicU64::new(0),
        })
    }

    /// Reads `meta.json`, or `None` for a fresh folder.
    pub fn load_meta(&self) -> Result<Option<Meta>, SandboxError> {
        let path = self.root.join(META);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| data_err(&path, format!("corrupt file: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(data_err(&path, format!("cannot read: {e}"))),
        }
    }

    pub fn save_meta(&self, meta: &Meta) -> std::io::Result<()> {
        self.write_atomic(&self.root, META, meta)
    }

    /// Every object of one kind, in file-name order.
    pub fn load_all<T: DeserializeOwned>(&self, kind: &str) -> Result<Vec<T>, SandboxError> {
        let dir = self.root.join(kind);
        let entries =
            fs::read_dir(&dir).map_err(|e| data_err(&dir, format!("cannot list: {e}")))?;
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| data_err(&dir, format!("cannot list: {e}")))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Leftovers of a write interrupted before its rename: never an object.
            if name.starts_with(TEMP_PREFIX) || !name.ends_with(".json") {
                continue;
            }
            paths.push(entry.path());
        }
        paths.sort();
        let mut out = Vec::with_capacity(paths.len());
        for path in paths {
            let bytes =
                fs::read(&path).map_err(|e| data_err(&path, format!("cannot read: {e}")))?;
            let value = serde_json::from_slice(&bytes)
                .map_err(|e| data_err(&path, format!("corrupt file: {e}")))?;
            out.push(value);
        }
        Ok(out)
    }

    /// Writes one object file atomically.
    pub fn save<T: Serialize>(&self, kind: &str, id: &str, value: &T) -> std::io::Result<()> {
        self.write_atomic(&self.root.join(kind), &format!("{id}.json"), value)
    }

    /// Removes one object file (absent is fine: the delete already happened).
    pub fn remove(&self, kind: &str, id: &str) -> std::io::Result<()> {
        match fs::remove_file(self.root.join(kind).join(format!("{id}.json"))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn write_atomic<T: Serialize>(&self, dir: &Path, name: &str, value: &T) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        let n = self.temp_seq.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!("{TEMP_PREFIX}{}-{n}-{name}", std::process::id()));
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, dir.join(name))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_are_ignored_and_corrupt_files_are_errors() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let disk = Disk::open(dir.path(), &["topics"]).unwrap_or_else(|e| panic!("{e}"));
        disk.save("topics", "a", &serde_json::json!({"x": 1}))
            .unwrap_or_else(|e| panic!("{e}"));
        fs::write(dir.path().join("topics").join(".tmp-1-0-b.json"), "{half")
            .unwrap_or_else(|e| panic!("{e}"));
        let all: Vec<serde_json::Value> = disk.load_all("topics").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all.len(), 1);
        fs::write(dir.path().join("topics").join("c.json"), "{half")
            .unwrap_or_else(|e| panic!("{e}"));
        let err = disk.load_all::<serde_json::Value>("topics").err();
        assert!(format!("{err:?}").contains("c.json"), "{err:?}");
    }
}
