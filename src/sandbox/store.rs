//! The sandbox org: one collection of records per kind (`collection.rs`, the kinds
//! under `kinds/`), publish jobs, ids and timestamps. Each operation persists what it
//! changes before changing memory, so the disk never lags behind anything a client
//! was told.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{Value, json};

use super::SandboxError;
use super::collection::{JobRec, Rec, Resource};
use super::error::ApiError;
use super::ids;
use super::kinds;
use super::persist::{self, Disk, Meta};

fn io_err(e: std::io::Error) -> ApiError {
    tracing::error!("sandbox persistence failed: {e}");
    ApiError::internal(format!("The sandbox could not persist the change: {e}"))
}

/// The whole org.
#[derive(Debug)]
pub struct Store {
    meta: Meta,
    /// Records by resource folder, then by id.
    collections: BTreeMap<&'static str, HashMap<String, Rec>>,
    pub(crate) jobs: HashMap<String, JobRec>,
    /// Programs' topic-links jobs (in memory: a restart settles every link).
    pub(crate) links: HashMap<String, crate::sandbox::kinds::program::LinksJob>,
    /// Dictionary terms (`dialect: term`, lower case) whose writes Genesys's validation
    /// fails, with the reason (test plumbing; in memory).
    pub(crate) term_rejects: HashMap<String, String>,
    /// `--list-lag` and `--delete-settle` (in memory).
    pub(crate) lag: Lag,
    /// Seeded evaluation forms: objects outside Speech & Text Analytics that hold
    /// topics.
    pub(crate) forms: Vec<super::seed::EvaluationForm>,
    /// Genesys's audit records of STA changes (`super::audits`).
    pub(crate) audits: Vec<serde_json::Value>,
    disk: Option<Disk>,
}

/// Eventual consistency, counted in requests rather than time so that tests are
/// deterministic: the Genesys Terraform provider retries reads after a create and polls
/// deletes until 404 (up to 180 s), because lists lag writes.
#[derive(Debug, Default)]
pub struct Lag {
    /// List reads (first pages) a write stays invisible to.
    pub reads: u32,
    /// Creates of a deleted identity refused (409) while the delete settles.
    pub settle: u32,
    /// Created objects not listed yet: id -> list reads left.
    pub hidden: HashMap<String, u32>,
    /// Deleted objects still listed: (folder, record, list reads left).
    pub ghosts: Vec<(&'static str, Rec, u32)>,
    /// Identities of deleted objects not free yet: (folder, identity) -> creates left.
    pub reserved: HashMap<(&'static str, String), u32>,
}

impl Lag {
    pub fn new(reads: u32, settle: u32) -> Lag {
        Lag {
            reads,
            settle,
            ..Lag::default()
        }
    }
}

impl Store {
    /// An org in memory only. Its ids are salted with the clock and the process id,
    /// so two sandboxes never hand out the same ids (as two Genesys orgs would not).
    pub fn in_memory(seed: u64) -> Store {
        let instance = (ids::now_ms() as u64) ^ u64::from(std::process::id()).rotate_left(40);
        Store {
            meta: Meta {
                format_version: 1,
                salt: ids::mix64(seed ^ ids::mix64(instance)),
                next_seq: 1,
                last_modified_ms: 0,
            },
            collections: kinds::ALL.iter().map(|r| (r.dir, HashMap::new())).collect(),
            jobs: HashMap::new(),
            links: HashMap::new(),
            term_rejects: HashMap::new(),
            lag: Lag::default(),
            forms: Vec::new(),
            audits: Vec::new(),
            disk: None,
        }
    }

    /// Loads (or initialises) the org persisted in `dir`.
    pub fn open(dir: &std::path::Path, seed: u64) -> Result<Store, SandboxError> {
        let folders: Vec<&str> = kinds::ALL
            .iter()
            .map(|r| r.dir)
            .chain([persist::JOBS, super::audits::DIR])
            .collect();
        let disk = Disk::open(dir, &folders)?;
        let mut store = Store::in_memory(seed);
        match disk.load_meta()? {
            Some(meta) => {
                if meta.format_version != 1 {
                    return Err(SandboxError::Data {
                        path: dir.join("meta.json"),
                        message: format!("unsupported formatVersion {}", meta.format_version),
                    });
                }
                store.meta = meta;
            }
            None => {
                // A fresh folder gets its own id salt, so two folders never share ids.
                // (in_memory already salted it with the clock and process id.)
                disk.save_meta(&store.meta)
                    .map_err(|e| SandboxError::Data {
                        path: dir.join("meta.json"),
                        message: format!("cannot write: {e}"),
                    })?;
            }
        }
        let mut high_seq = store.meta.next_seq;
        let mut high_ms = store.meta.last_modified_ms;
        let mut audits = disk.load_all::<serde_json::Value>(super::audits::DIR)?;
        audits.sort_by_key(|a| a["seq"].as_u64().unwrap_or(0));
        for a in &audits {
            high_seq = high_seq.max(a["seq"].as_u64().unwrap_or(0).saturating_add(1));
        }
        store.audits = audits;
        for r in kinds::ALL {
            for mut rec in disk.load_all::<Rec>(r.dir)? {
                high_seq = high_seq.max(rec.seq.saturating_add(1));
                high_ms = high_ms.max(rec.date_modified_ms);
                (r.upgrade)(&mut rec);
                store.records_mut(r).insert(rec.id.clone(), rec);
            }
        }
        for j in disk.load_all::<JobRec>(persist::JOBS)? {
            high_seq = high_seq.max(j.seq.saturating_add(1));
            store.jobs.insert(j.id.clone(), j);
        }
        store.meta.next_seq = high_seq;
        store.meta.last_modified_ms = high_ms;
        store.disk = Some(disk);
        Ok(store)
    }

    /// The org (SDK `Organization`): its id is fixed for the life of the org (derived
    /// from the id salt, which a persisted org keeps).
    pub fn org_json(&self) -> Value {
        let id = ids::uuid_like(self.meta.salt, 0);
        json!({
            "id": id,
            "name": "speechops sandbox",
            "defaultLanguage": "en-us",
            "defaultCountryCode": "US",
            "domain": "sandbox",
            "version": 1,
            "state": "active",
            "voicemailEnabled": false,
            "productPlatform": "GenesysCloud",
            "features": {},
            "selfUri": format!("/api/v2/organizations/{id}"),
        })
    }

    /// Number of records of each kind (for logs).
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        self.collections
            .iter()
            .map(|(k, v)| (*k, v.len()))
            .collect()
    }

    /// The records of a kind.
    pub fn records(&self, r: &Resource) -> impl Iterator<Item = &Rec> {
        self.collections
            .get(r.dir)
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// The record of a kind with this id.
    pub fn record(&self, r: &Resource, id: &str) -> Option<&Rec> {
        self.collections.get(r.dir)?.get(id)
    }

    pub(crate) fn records_mut(&mut self, r: &Resource) -> &mut HashMap<String, Rec> {
        self.collections.entry(r.dir).or_default()
    }

    pub(crate) fn next_id(&mut self) -> (u64, String) {
        let seq = self.meta.next_seq;
        self.meta.next_seq = seq.saturating_add(1);
        (seq, ids::uuid_like(self.meta.salt, seq))
    }

    /// The next `dateModified`: now, or 1 ms past the last one if the clock has not
    /// moved (or went backwards), so it increases strictly across all writes.
    pub(crate) fn tick(&mut self) -> i64 {
        let t = ids::now_ms().max(self.meta.last_modified_ms.saturating_add(1));
        self.meta.last_modified_ms = t;
        t
    }

    pub(crate) fn save<T: Serialize>(
        &self,
        dir: &str,
        id: &str,
        value: &T,
    ) -> Result<(), ApiError> {
        match &self.disk {
            Some(d) => d.save(dir, id, value).map_err(io_err),
            None => Ok(()),
        }
    }

    /// Deleting loses the object's seq and timestamp, so record the counters first.
    pub(crate) fn remove(&self, dir: &str, id: &str) -> Result<(), ApiError> {
        match &self.disk {
            Some(d) => {
                d.save_meta(&self.meta).map_err(io_err)?;
                d.remove(dir, id).map_err(io_err)
            }
            None => Ok(()),
        }
    }

    /// Persists and stores a record.
    pub(crate) fn put(&mut self, r: &Resource, rec: Rec) -> Result<(), ApiError> {
        self.save(r.dir, &rec.id, &rec)?;
        self.records_mut(r).insert(rec.id.clone(), rec);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_increase_strictly() {
        let mut s = Store::in_memory(1);
        let a = s.tick();
        let b = s.tick();
        let c = s.tick();
        assert!(a < b && b < c);
    }
}
