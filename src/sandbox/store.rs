//! The sandbox org: topics, programs, speech rules and publish jobs, with the
//! behaviour of SPEC 8.3-8.5 (uniqueness, membership, `dateModified`, publishing).
//! Each operation persists what it changes before changing memory, so the disk never
//! lags behind anything a client was told.

use std::collections::{BTreeSet, HashMap};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::SandboxError;
use super::error::{ApiError, ErrorDetail};
use super::ids;
use super::persist::{self, Disk, Meta};
use super::wire::{
    MAX_PROGRAM_TOPICS_PER_DIALECT, ProgramInput, RuleInput, RulePhrase, Scoring, TopicInput,
    TopicPhrase,
};

pub const STA: &str = "/api/v2/speechandtextanalytics";
pub const RULES_PATH: &str = "/api/v2/speech/rules";

/// A stored topic. Program membership lives on programs (`topicIds`), as on Genesys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopicRec {
    pub id: String,
    pub seq: u64,
    pub name: String,
    pub description: String,
    pub strictness: String,
    /// Absent in folders written before matchingType was modelled: those are Lexical.
    #[serde(default = "lexical")]
    pub matching_type: String,
    pub tags: Vec<String>,
    pub dialect: String,
    pub participants: String,
    pub phrases: Vec<TopicPhrase>,
    pub date_modified_ms: i64,
    pub modified_by: String,
    pub published: bool,
    pub date_published_ms: Option<i64>,
    pub published_by: Option<String>,
}

fn lexical() -> String {
    "Lexical".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProgramRec {
    pub id: String,
    pub seq: u64,
    pub name: String,
    pub description: String,
    pub topic_ids: Vec<String>,
    pub tags: Vec<String>,
    pub date_modified_ms: i64,
    pub modified_by: String,
    pub published: bool,
    pub date_published_ms: Option<i64>,
    pub published_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleRec {
    pub id: String,
    pub seq: u64,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub language: String,
    pub phrases: Vec<RulePhrase>,
    pub scoring: Vec<Scoring>,
    pub tags: Vec<String>,
    pub date_modified_ms: i64,
    pub modified_by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobKind {
    Topics,
    Programs,
}

/// A publish job. It completes on its second GET, deterministically, so tests and
/// clients see both states without timing games.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobRec {
    pub id: String,
    pub seq: u64,
    pub kind: JobKind,
    pub ids: Vec<String>,
    /// `dateModified` of each object when the job was created: an object written
    /// since then is not the version this job publishes.
    pub versions: Vec<i64>,
    pub state: String,
    pub polls: u32,
    pub created_by: String,
    pub date_created_ms: i64,
    /// When the job last changed state (absent in folders from before it was kept).
    #[serde(default)]
    pub date_modified_ms: Option<i64>,
}

/// Parsed `GET /topics` query.
#[derive(Debug, Clone, Default)]
pub struct TopicQuery {
    pub page_size: usize,
    pub page_number: usize,
    pub name: Option<String>,
    pub dialects: Option<Vec<String>>,
    pub ids: Option<Vec<String>>,
    pub published_only: bool,
    pub sort_desc: bool,
    pub sort_by_matching_type: bool,
    /// Filter and sort parameters as given, echoed into `selfUri`/`nextUri`.
    pub echo: Vec<(String, String)>,
}

/// Parsed `GET /programs` query.
#[derive(Debug, Clone, Default)]
pub struct ProgramQuery {
    pub page_size: usize,
    pub cursor: Option<String>,
    pub name: Option<String>,
    pub ids: Option<Vec<String>>,
    pub published_only: bool,
    pub sort_desc: bool,
    /// Filter and sort parameters as given, echoed into `selfUri`/`nextUri`.
    pub echo: Vec<(String, String)>,
}

/// Renders `path?k=v&...` with every value URL-encoded.
pub fn uri(path: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return path.to_string();
    }
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencoding::encode(k), urlencoding::encode(v)))
        .collect();
    format!("{path}?{}", q.join("&"))
}

fn io_err(e: std::io::Error) -> ApiError {
    tracing::error!("sandbox persistence failed: {e}");
    ApiError::internal(format!("The sandbox could not persist the change: {e}"))
}

/// A `BaseTopicEntitiy` / `BaseProgramEntity` (with a name) or an
/// `AddressableEntityRef` (without).
fn entity_ref(id: &str, name: Option<&str>, collection: &str) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("id".into(), json!(id));
    if let Some(n) = name {
        m.insert("name".into(), json!(n));
    }
    m.insert("selfUri".into(), json!(format!("{STA}/{collection}/{id}")));
    Value::Object(m)
}

fn by(actor: &str) -> Value {
    json!({"id": actor, "selfUri": format!("/api/v2/oauth/clients/{actor}")})
}

/// Genesys omits empty values in responses (SPEC 4); so does the sandbox.
fn put_nonempty_str(map: &mut serde_json::Map<String, Value>, key: &str, v: &str) {
    if !v.is_empty() {
        map.insert(key.to_string(), json!(v));
    }
}

fn put_nonempty_list(map: &mut serde_json::Map<String, Value>, key: &str, v: Vec<Value>) {
    if !v.is_empty() {
        map.insert(key.to_string(), Value::Array(v));
    }
}

/// Cursor of `GET /programs`: base64 of the last item's sort key. The `+` prefix and
/// standard alphabet make a client that forgets to URL-encode it fail loudly.
fn encode_cursor(name_key: &str, id: &str) -> String {
    let payload = json!([name_key, id]).to_string();
    format!(
        "p+{}",
        base64::engine::general_purpose::STANDARD.encode(payload)
    )
}

fn decode_cursor(cursor: &str) -> Option<(String, String)> {
    let b64 = cursor.strip_prefix("p+")?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    serde_json::from_slice::<(String, String)>(&bytes).ok()
}

/// The whole org.
#[derive(Debug)]
pub struct Store {
    meta: Meta,
    topics: HashMap<String, TopicRec>,
    programs: HashMap<String, ProgramRec>,
    rules: HashMap<String, RuleRec>,
    jobs: HashMap<String, JobRec>,
    /// topic id -> ids of the programs holding it.
    holders: HashMap<String, BTreeSet<String>>,
    disk: Option<Disk>,
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
            topics: HashMap::new(),
            programs: HashMap::new(),
            rules: HashMap::new(),
            jobs: HashMap::new(),
            holders: HashMap::new(),
            disk: None,
        }
    }

    /// Loads (or initialises) the org persisted in `dir`.
    pub fn open(dir: &std::path::Path, seed: u64) -> Result<Store, SandboxError> {
        let disk = Disk::open(dir)?;
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
        for t in disk.load_all::<TopicRec>(persist::TOPICS)? {
            high_seq = high_seq.max(t.seq.saturating_add(1));
            high_ms = high_ms.max(t.date_modified_ms);
            store.topics.insert(t.id.clone(), t);
        }
        for p in disk.load_all::<ProgramRec>(persist::PROGRAMS)? {
            high_seq = high_seq.max(p.seq.saturating_add(1));
            high_ms = high_ms.max(p.date_modified_ms);
            for tid in &p.topic_ids {
                store
                    .holders
                    .entry(tid.clone())
                    .or_default()
                    .insert(p.id.clone());
            }
            store.programs.insert(p.id.clone(), p);
        }
        for r in disk.load_all::<RuleRec>(persist::RULES)? {
            high_seq = high_seq.max(r.seq.saturating_add(1));
            high_ms = high_ms.max(r.date_modified_ms);
            store.rules.insert(r.id.clone(), r);
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

    /// Published topics as the detection routes match them: (id, dialect,
    /// participants, phrase texts).
    pub fn detectable_topics(&self) -> Vec<(String, String, String, Vec<String>)> {
        let mut out: Vec<_> = self
            .topics
            .values()
            .filter(|t| t.published)
            .map(|t| {
                (
                    t.id.clone(),
                    t.dialect.clone(),
                    t.participants.clone(),
                    t.phrases.iter().map(|p| p.text.clone()).collect(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// Number of objects of each kind (for logs).
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.topics.len(), self.programs.len(), self.rules.len())
    }

    fn next_id(&mut self) -> (u64, String) {
        let seq = self.meta.next_seq;
        self.meta.next_seq = seq.saturating_add(1);
        (seq, ids::uuid_like(self.meta.salt, seq))
    }

    /// The next `dateModified`: now, or 1 ms past the last one if the clock has not
    /// moved (or went backwards), so it increases strictly across all writes.
    fn tick(&mut self) -> i64 {
        let t = ids::now_ms().max(self.meta.last_modified_ms.saturating_add(1));
        self.meta.last_modified_ms = t;
        t
    }

    fn save<T: Serialize>(&self, kind: &str, id: &str, value: &T) -> Result<(), ApiError> {
        match &self.disk {
            Some(d) => d.save(kind, id, value).map_err(io_err),
            None => Ok(()),
        }
    }

    /// Deleting loses the object's seq and timestamp, so record the counters first.
    fn remove(&self, kind: &str, id: &str) -> Result<(), ApiError> {
        match &self.disk {
            Some(d) => {
                d.save_meta(&self.meta).map_err(io_err)?;
                d.remove(kind, id).map_err(io_err)
            }
            None => Ok(()),
        }
    }

    // ----- topics -----

    /// A Topic (`full`) or ListedTopic, with exactly the SDK model's fields; lists are
    /// present even when empty.
    fn topic_json(&self, t: &TopicRec, full: bool) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("id".into(), json!(t.id));
        m.insert("name".into(), json!(t.name));
        put_nonempty_str(&mut m, "description", &t.description);
        m.insert("published".into(), json!(t.published));
        m.insert("strictness".into(), json!(t.strictness));
        m.insert("matchingType".into(), json!(t.matching_type));
        let mut programs: Vec<(&str, &str)> = self
            .holders
            .get(&t.id)
            .into_iter()
            .flatten()
            .filter_map(|pid| self.programs.get(pid))
            .map(|p| (p.name.as_str(), p.id.as_str()))
            .collect();
        programs.sort();
        if full {
            let list: Vec<Value> = programs
                .iter()
                .map(|(name, id)| entity_ref(id, Some(name), "programs"))
                .collect();
            m.insert("programs".into(), Value::Array(list));
        } else {
            m.insert("programsCount".into(), json!(programs.len()));
        }
        m.insert("tags".into(), json!(t.tags));
        m.insert("dialect".into(), json!(t.dialect));
        m.insert("participants".into(), json!(t.participants));
        if full {
            let phrases = t
                .phrases
                .iter()
                .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
                .collect();
            m.insert("phrases".into(), Value::Array(phrases));
        } else {
            m.insert("phrasesCount".into(), json!(t.phrases.len()));
        }
        m.insert("modifiedBy".into(), by(&t.modified_by));
        m.insert(
            "dateModified".into(),
            json!(ids::format_ms(t.date_modified_ms)),
        );
        if full {
            if let Some(p) = &t.published_by {
                m.insert("publishedBy".into(), by(p));
            }
            if let Some(ms) = t.date_published_ms {
                m.insert("datePublished".into(), json!(ids::format_ms(ms)));
            }
        }
        m.insert("selfUri".into(), json!(format!("{STA}/topics/{}", t.id)));
        Value::Object(m)
    }

    pub fn list_topics(&self, q: &TopicQuery) -> Value {
        let needle = q.name.as_ref().map(|n| n.to_lowercase());
        let mut hits: Vec<&TopicRec> = self
            .topics
            .values()
            .filter(|t| {
                needle
                    .as_ref()
                    .is_none_or(|n| t.name.to_lowercase().contains(n))
            })
            .filter(|t| q.dialects.as_ref().is_none_or(|d| d.contains(&t.dialect)))
            .filter(|t| q.ids.as_ref().is_none_or(|ids| ids.contains(&t.id)))
            .filter(|t| !q.published_only || t.published)
            .collect();
        let key = |t: &TopicRec| {
            let by_type = if q.sort_by_matching_type {
                t.matching_type.clone()
            } else {
                String::new()
            };
            (by_type, t.name.to_lowercase(), t.name.clone(), t.id.clone())
        };
        hits.sort_by_cached_key(|t| key(t));
        if q.sort_desc {
            hits.reverse();
        }
        let total = hits.len();
        let page_count = total.div_ceil(q.page_size);
        let start = (q.page_number - 1).saturating_mul(q.page_size);
        let entities: Vec<Value> = hits
            .iter()
            .skip(start)
            .take(q.page_size)
            .map(|t| self.topic_json(t, false))
            .collect();
        let page_uri = |n: usize| {
            let mut pairs = vec![
                ("pageSize".to_string(), q.page_size.to_string()),
                ("pageNumber".to_string(), n.to_string()),
            ];
            pairs.extend(q.echo.iter().cloned());
            uri(&format!("{STA}/topics"), &pairs)
        };
        let mut body = json!({
            "entities": entities,
            "pageSize": q.page_size,
            "total": total,
            "pageCount": page_count,
            "selfUri": page_uri(q.page_number),
        });
        if q.page_number < page_count
            && let Value::Object(m) = &mut body
        {
            m.insert("nextUri".into(), json!(page_uri(q.page_number + 1)));
        }
        body
    }

    pub fn get_topic(&self, id: &str) -> Result<Value, ApiError> {
        let t = self
            .topics
            .get(id)
            .ok_or_else(|| ApiError::not_found("Topic", id))?;
        Ok(self.topic_json(t, true))
    }

    fn topic_name_taken(&self, name: &str, except: Option<&str>) -> Option<&TopicRec> {
        self.topics
            .values()
            .find(|t| t.name == name && Some(t.id.as_str()) != except)
    }

    fn check_program_ids(&self, ids: &[String]) -> Result<(), ApiError> {
        for (i, id) in ids.iter().enumerate() {
            if !self.programs.contains_key(id) {
                return Err(ApiError::bad_request(format!(
                    "'programIds[{i}]' names no existing program: {id}"
                ))
                .with_detail(ErrorDetail {
                    error_code: "invalid.value".into(),
                    field_name: Some(format!("programIds[{i}]")),
                    entity_id: Some(id.clone()),
                    entity_name: None,
                }));
            }
        }
        Ok(())
    }

    /// Applies a topic's `programIds`: it joins exactly the listed programs. Each
    /// program whose membership changes is a program write (new `dateModified`, unpublished).
    fn set_topic_programs(
        &mut self,
        topic_id: &str,
        wanted: &[String],
        actor: &str,
    ) -> Result<(), ApiError> {
        let mut changed: Vec<String> = Vec::new();
        for p in self.programs.values() {
            let holds = p.topic_ids.iter().any(|t| t == topic_id);
            if holds != wanted.contains(&p.id) {
                changed.push(p.id.clone());
            }
        }
        changed.sort();
        for pid in changed {
            let Some(mut p) = self.programs.get(&pid).cloned() else {
                continue;
            };
            if p.topic_ids.iter().any(|t| t == topic_id) {
                p.topic_ids.retain(|t| t != topic_id);
            } else {
                p.topic_ids.push(topic_id.to_string());
            }
            p.date_modified_ms = self.tick();
            p.modified_by = actor.to_string();
            p.published = false;
            self.put_program(p)?;
        }
        Ok(())
    }

    pub fn create_topic(&mut self, input: TopicInput, actor: &str) -> Result<Value, ApiError> {
        if let Some(other) = self.topic_name_taken(&input.name, None) {
            return Err(ApiError::conflict(
                format!("A topic named '{}' already exists", input.name),
                &other.id,
                &other.name,
            ));
        }
        if let Some(pids) = &input.program_ids {
            self.check_program_ids(pids)?;
        }
        let (seq, id) = self.next_id();
        let rec = TopicRec {
            id: id.clone(),
            seq,
            name: input.name,
            description: input.description,
            strictness: input.strictness,
            matching_type: input.matching_type,
            tags: input.tags,
            dialect: input.dialect,
            participants: input.participants,
            phrases: input.phrases,
            date_modified_ms: self.tick(),
            modified_by: actor.to_string(),
            published: false,
            date_published_ms: None,
            published_by: None,
        };
        self.save(persist::TOPICS, &id, &rec)?;
        self.topics.insert(id.clone(), rec);
        if let Some(pids) = &input.program_ids {
            self.set_topic_programs(&id, pids, actor)?;
        }
        self.get_topic(&id)
    }

    pub fn update_topic(
        &mut self,
        id: &str,
        input: TopicInput,
        actor: &str,
    ) -> Result<Value, ApiError> {
        let Some(old) = self.topics.get(id).cloned() else {
            return Err(ApiError::not_found("Topic", id));
        };
        if let Some(other) = self.topic_name_taken(&input.name, Some(id)) {
            return Err(ApiError::conflict(
                format!("A topic named '{}' already exists", input.name),
                &other.id,
                &other.name,
            ));
        }
        if let Some(pids) = &input.program_ids {
            self.check_program_ids(pids)?;
        }
        let rec = TopicRec {
            name: input.name,
            description: input.description,
            strictness: input.strictness,
            matching_type: input.matching_type,
            tags: input.tags,
            dialect: input.dialect,
            participants: input.participants,
            phrases: input.phrases,
            date_modified_ms: self.tick(),
            modified_by: actor.to_string(),
            published: false,
            ..old
        };
        self.save(persist::TOPICS, id, &rec)?;
        self.topics.insert(id.to_string(), rec);
        if let Some(pids) = &input.program_ids {
            self.set_topic_programs(id, pids, actor)?;
        }
        self.get_topic(id)
    }

    pub fn delete_topic(&mut self, id: &str) -> Result<(), ApiError> {
        if !self.topics.contains_key(id) {
            return Err(ApiError::not_found("Topic", id));
        }
        let holders: Vec<&ProgramRec> = self
            .holders
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|pid| self.programs.get(pid))
            .collect();
        if let Some(first) = holders.first() {
            let names: Vec<&str> = holders.iter().map(|p| p.name.as_str()).collect();
            let mut e = ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "conflict",
                format!(
                    "Topic {id} is still part of program(s) {}; remove it from them first",
                    names.join(", ")
                ),
            );
            e.details.push(ErrorDetail {
                error_code: "topic.in.use".into(),
                field_name: None,
                entity_id: Some(first.id.clone()),
                entity_name: Some(first.name.clone()),
            });
            return Err(e);
        }
        self.remove(persist::TOPICS, id)?;
        self.topics.remove(id);
        self.holders.remove(id);
        Ok(())
    }

    // ----- programs -----

    /// A Program (`full`, with its member topics) or a ListedProgram (`topicsCount`
    /// only, as on Genesys), with exactly the SDK model's fields.
    fn program_json(&self, p: &ProgramRec, full: bool) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("id".into(), json!(p.id));
        m.insert("name".into(), json!(p.name));
        put_nonempty_str(&mut m, "description", &p.description);
        m.insert("published".into(), json!(p.published));
        let mut topics: Vec<(&str, &str)> = p
            .topic_ids
            .iter()
            .filter_map(|tid| self.topics.get(tid))
            .map(|t| (t.name.as_str(), t.id.as_str()))
            .collect();
        topics.sort();
        if full {
            let list: Vec<Value> = topics
                .iter()
                .map(|(name, id)| entity_ref(id, Some(name), "topics"))
                .collect();
            m.insert("topics".into(), Value::Array(list));
        } else {
            m.insert("topicsCount".into(), json!(topics.len()));
        }
        m.insert("tags".into(), json!(p.tags));
        m.insert("modifiedBy".into(), by(&p.modified_by));
        m.insert(
            "dateModified".into(),
            json!(ids::format_ms(p.date_modified_ms)),
        );
        if full {
            if let Some(who) = &p.published_by {
                m.insert("publishedBy".into(), by(who));
            }
            if let Some(ms) = p.date_published_ms {
                m.insert("datePublished".into(), json!(ids::format_ms(ms)));
            }
        }
        m.insert("selfUri".into(), json!(format!("{STA}/programs/{}", p.id)));
        Value::Object(m)
    }

    fn program_key(p: &ProgramRec) -> (String, String) {
        (p.name.to_lowercase(), p.id.clone())
    }

    /// One page of `GET /programs` (a ProgramsEntityListing). Cursor paging: the next
    /// page is the `nextUri`, whose `nextPage` names the last program of this page.
    pub fn list_programs(&self, q: &ProgramQuery) -> Result<Value, ApiError> {
        let after = match &q.cursor {
            None => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| {
                ApiError::bad_field("nextPage", "'nextPage' is not a cursor this API issued")
            })?),
        };
        let needle = q.name.as_ref().map(|n| n.to_lowercase());
        let mut all: Vec<&ProgramRec> = self
            .programs
            .values()
            .filter(|p| {
                needle
                    .as_ref()
                    .is_none_or(|n| p.name.to_lowercase().contains(n))
            })
            .filter(|p| q.ids.as_ref().is_none_or(|ids| ids.contains(&p.id)))
            .filter(|p| !q.published_only || p.published)
            .collect();
        all.sort_by_cached_key(|p| Self::program_key(p));
        if q.sort_desc {
            all.reverse();
        }
        let total = all.len();
        let rest: Vec<&ProgramRec> = all
            .into_iter()
            .filter(|p| {
                after.as_ref().is_none_or(|a| {
                    let k = Self::program_key(p);
                    if q.sort_desc { k < *a } else { k > *a }
                })
            })
            .collect();
        let page: Vec<&ProgramRec> = rest.iter().take(q.page_size).copied().collect();
        let page_uri = |cursor: Option<&str>| {
            let mut pairs = vec![("pageSize".to_string(), q.page_size.to_string())];
            if let Some(c) = cursor {
                pairs.push(("nextPage".to_string(), c.to_string()));
            }
            pairs.extend(q.echo.iter().cloned());
            uri(&format!("{STA}/programs"), &pairs)
        };
        let mut body = json!({
            "entities": page.iter().map(|p| self.program_json(p, false)).collect::<Vec<_>>(),
            "pageSize": q.page_size,
            "total": total,
            "pageCount": total.div_ceil(q.page_size),
            "selfUri": page_uri(q.cursor.as_deref()),
        });
        if rest.len() > page.len()
            && let (Some(last), Value::Object(m)) = (page.last(), &mut body)
        {
            let (k, id) = Self::program_key(last);
            m.insert(
                "nextUri".into(),
                json!(page_uri(Some(&encode_cursor(&k, &id)))),
            );
        }
        Ok(body)
    }

    pub fn get_program(&self, id: &str) -> Result<Value, ApiError> {
        let p = self
            .programs
            .get(id)
            .ok_or_else(|| ApiError::not_found("Program", id))?;
        Ok(self.program_json(p, true))
    }

    fn check_program_input(
        &self,
        input: &ProgramInput,
        except: Option<&str>,
    ) -> Result<(), ApiError> {
        if let Some(other) = self
            .programs
            .values()
            .find(|p| p.name == input.name && Some(p.id.as_str()) != except)
        {
            return Err(ApiError::conflict(
                format!("A program named '{}' already exists", input.name),
                &other.id,
                &other.name,
            ));
        }
        let mut per_dialect: HashMap<&str, usize> = HashMap::new();
        for (i, tid) in input.topic_ids.iter().enumerate() {
            let Some(t) = self.topics.get(tid) else {
                return Err(ApiError::bad_request(format!(
                    "'topicIds[{i}]' names no existing topic: {tid}"
                ))
                .with_detail(ErrorDetail {
                    error_code: "invalid.value".into(),
                    field_name: Some(format!("topicIds[{i}]")),
                    entity_id: Some(tid.clone()),
                    entity_name: None,
                }));
            };
            let n = per_dialect.entry(t.dialect.as_str()).or_default();
            *n += 1;
            if *n > MAX_PROGRAM_TOPICS_PER_DIALECT {
                return Err(ApiError::bad_field(
                    "topicIds",
                    format!(
                        "'topicIds' holds more than {MAX_PROGRAM_TOPICS_PER_DIALECT} topics of dialect {}",
                        t.dialect
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Persists and stores a program, keeping the topic -> programs index in step.
    fn put_program(&mut self, p: ProgramRec) -> Result<(), ApiError> {
        self.save(persist::PROGRAMS, &p.id, &p)?;
        if let Some(old) = self.programs.get(&p.id) {
            for tid in &old.topic_ids {
                if let Some(set) = self.holders.get_mut(tid) {
                    set.remove(&p.id);
                }
            }
        }
        for tid in &p.topic_ids {
            self.holders
                .entry(tid.clone())
                .or_default()
                .insert(p.id.clone());
        }
        self.programs.insert(p.id.clone(), p);
        Ok(())
    }

    fn dedup(ids: Vec<String>) -> Vec<String> {
        let mut seen = BTreeSet::new();
        ids.into_iter().filter(|i| seen.insert(i.clone())).collect()
    }

    pub fn create_program(&mut self, input: ProgramInput, actor: &str) -> Result<Value, ApiError> {
        self.check_program_input(&input, None)?;
        let (seq, id) = self.next_id();
        let rec = ProgramRec {
            id: id.clone(),
            seq,
            name: input.name,
            description: input.description,
            topic_ids: Self::dedup(input.topic_ids),
            tags: input.tags,
            date_modified_ms: self.tick(),
            modified_by: actor.to_string(),
            published: false,
            date_published_ms: None,
            published_by: None,
        };
        self.put_program(rec)?;
        self.get_program(&id)
    }

    pub fn update_program(
        &mut self,
        id: &str,
        input: ProgramInput,
        actor: &str,
    ) -> Result<Value, ApiError> {
        let Some(old) = self.programs.get(id).cloned() else {
            return Err(ApiError::not_found("Program", id));
        };
        self.check_program_input(&input, Some(id))?;
        let rec = ProgramRec {
            name: input.name,
            description: input.description,
            topic_ids: Self::dedup(input.topic_ids),
            tags: input.tags,
            date_modified_ms: self.tick(),
            modified_by: actor.to_string(),
            published: false,
            ..old
        };
        self.put_program(rec)?;
        self.get_program(id)
    }

    pub fn delete_program(&mut self, id: &str) -> Result<(), ApiError> {
        let Some(old) = self.programs.get(id) else {
            return Err(ApiError::not_found("Program", id));
        };
        let held = old.topic_ids.clone();
        self.remove(persist::PROGRAMS, id)?;
        self.programs.remove(id);
        for tid in held {
            if let Some(set) = self.holders.get_mut(&tid) {
                set.remove(id);
            }
        }
        Ok(())
    }

    // ----- publish jobs -----

    fn job_json(&self, j: &JobRec) -> Value {
        let (list_key, path) = match j.kind {
            JobKind::Topics => ("topics", "topics"),
            JobKind::Programs => ("programs", "programs"),
        };
        let members: Vec<Value> = j
            .ids
            .iter()
            .map(|id| {
                let name = match j.kind {
                    JobKind::Topics => self.topics.get(id).map(|t| t.name.as_str()),
                    JobKind::Programs => self.programs.get(id).map(|p| p.name.as_str()),
                };
                entity_ref(id, name, path)
            })
            .collect();
        json!({
            "id": j.id,
            "state": j.state,
            list_key: members,
            "createdBy": by(&j.created_by),
            "dateCreated": ids::format_ms(j.date_created_ms),
            "dateModified": ids::format_ms(j.date_modified_ms.unwrap_or(j.date_created_ms)),
            "selfUri": format!("{STA}/{path}/publishjobs/{}", j.id),
        })
    }

    pub fn create_job(
        &mut self,
        kind: JobKind,
        ids_in: Vec<String>,
        actor: &str,
    ) -> Result<Value, ApiError> {
        let field = match kind {
            JobKind::Topics => "topicIds",
            JobKind::Programs => "programIds",
        };
        let ids_in = Self::dedup(ids_in);
        let mut versions = Vec::with_capacity(ids_in.len());
        for (i, id) in ids_in.iter().enumerate() {
            let v = match kind {
                JobKind::Topics => self.topics.get(id).map(|t| t.date_modified_ms),
                JobKind::Programs => self.programs.get(id).map(|p| p.date_modified_ms),
            };
            let Some(v) = v else {
                return Err(ApiError::bad_request(format!(
                    "'{field}[{i}]' names no existing object: {id}"
                ))
                .with_detail(ErrorDetail {
                    error_code: "invalid.value".into(),
                    field_name: Some(format!("{field}[{i}]")),
                    entity_id: Some(id.clone()),
                    entity_name: None,
                }));
            };
            versions.push(v);
        }
        let (seq, id) = self.next_id();
        let job = JobRec {
            id: id.clone(),
            seq,
            kind,
            ids: ids_in,
            versions,
            state: "Running".into(),
            polls: 0,
            created_by: actor.to_string(),
            date_created_ms: ids::now_ms(),
            date_modified_ms: None,
        };
        self.save(persist::JOBS, &id, &job)?;
        let body = self.job_json(&job);
        self.jobs.insert(id, job);
        Ok(body)
    }

    /// Reads a job: the first read sees `Running`, the next completes it. Completion
    /// publishes every object still at the version the job captured (publishing does
    /// not change `dateModified`); a job whose object was deleted meanwhile `Failed`.
    pub fn poll_job(&mut self, kind: JobKind, id: &str) -> Result<Value, ApiError> {
        let Some(mut job) = self.jobs.get(id).filter(|j| j.kind == kind).cloned() else {
            return Err(ApiError::not_found("Publish job", id));
        };
        if job.state == "Running" {
            job.polls += 1;
            if job.polls >= 2 {
                let now = ids::now_ms();
                let mut missing = false;
                for (oid, version) in job.ids.iter().zip(&job.versions) {
                    match kind {
                        JobKind::Topics => match self.topics.get(oid).cloned() {
                            Some(mut t) if t.date_modified_ms == *version => {
                                t.published = true;
                                t.date_published_ms = Some(now);
                                t.published_by = Some(job.created_by.clone());
                                self.save(persist::TOPICS, oid, &t)?;
                                self.topics.insert(oid.clone(), t);
                            }
                            Some(_) => {}
                            None => missing = true,
                        },
                        JobKind::Programs => match self.programs.get(oid).cloned() {
                            Some(mut p) if p.date_modified_ms == *version => {
                                p.published = true;
                                p.date_published_ms = Some(now);
                                p.published_by = Some(job.created_by.clone());
                                self.put_program(p)?;
                            }
                            Some(_) => {}
                            None => missing = true,
                        },
                    }
                }
                job.state = if missing { "Failed" } else { "Completed" }.into();
                job.date_modified_ms = Some(now);
            }
            self.save(persist::JOBS, id, &job)?;
            self.jobs.insert(id.to_string(), job.clone());
        }
        Ok(self.job_json(&job))
    }

    // ----- speech rules -----

    fn rule_json(r: &RuleRec) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("id".into(), json!(r.id));
        m.insert("name".into(), json!(r.name));
        put_nonempty_str(&mut m, "description", &r.description);
        m.insert("enabled".into(), json!(r.enabled));
        m.insert("language".into(), json!(r.language));
        m.insert(
            "phrases".into(),
            serde_json::to_value(&r.phrases).unwrap_or(Value::Null),
        );
        put_nonempty_list(
            &mut m,
            "scoring",
            r.scoring
                .iter()
                .map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
                .collect(),
        );
        put_nonempty_list(&mut m, "tags", r.tags.iter().map(|s| json!(s)).collect());
        m.insert(
            "dateModified".into(),
            json!(ids::format_ms(r.date_modified_ms)),
        );
        m.insert("modifiedBy".into(), by(&r.modified_by));
        m.insert("selfUri".into(), json!(format!("{RULES_PATH}/{}", r.id)));
        Value::Object(m)
    }

    pub fn list_rules(&self, page_size: usize, page_number: usize) -> Value {
        let mut all: Vec<&RuleRec> = self.rules.values().collect();
        all.sort_by(|a, b| (a.name.to_lowercase(), &a.id).cmp(&(b.name.to_lowercase(), &b.id)));
        let total = all.len();
        let entities: Vec<Value> = all
            .iter()
            .skip((page_number - 1).saturating_mul(page_size))
            .take(page_size)
            .map(|r| Self::rule_json(r))
            .collect();
        json!({
            "entities": entities,
            "pageSize": page_size,
            "pageNumber": page_number,
            "total": total,
            "pageCount": total.div_ceil(page_size),
        })
    }

    pub fn get_rule(&self, id: &str) -> Result<Value, ApiError> {
        self.rules
            .get(id)
            .map(Self::rule_json)
            .ok_or_else(|| ApiError::not_found("Speech rule", id))
    }

    fn rule_conflict(&self, name: &str, except: Option<&str>) -> Result<(), ApiError> {
        match self
            .rules
            .values()
            .find(|r| r.name == name && Some(r.id.as_str()) != except)
        {
            Some(other) => Err(ApiError::conflict(
                format!("Rule name conflict: {name} already exists"),
                &other.id,
                &other.name,
            )),
            None => Ok(()),
        }
    }

    pub fn create_rule(&mut self, input: RuleInput, actor: &str) -> Result<Value, ApiError> {
        self.rule_conflict(&input.name, None)?;
        let (seq, id) = self.next_id();
        let rec = RuleRec {
            id: id.clone(),
            seq,
            name: input.name,
            description: input.description,
            enabled: input.enabled,
            language: input.language,
            phrases: input.phrases,
            scoring: input.scoring,
            tags: input.tags,
            date_modified_ms: self.tick(),
            modified_by: actor.to_string(),
        };
        self.save(persist::RULES, &id, &rec)?;
        let body = Self::rule_json(&rec);
        self.rules.insert(id, rec);
        Ok(body)
    }

    pub fn update_rule(
        &mut self,
        id: &str,
        input: RuleInput,
        actor: &str,
    ) -> Result<Value, ApiError> {
        let Some(old) = self.rules.get(id).cloned() else {
            return Err(ApiError::not_found("Speech rule", id));
        };
        self.rule_conflict(&input.name, Some(id))?;
        let rec = RuleRec {
            name: input.name,
            description: input.description,
            enabled: input.enabled,
            language: input.language,
            phrases: input.phrases,
            scoring: input.scoring,
            tags: input.tags,
            date_modified_ms: self.tick(),
            modified_by: actor.to_string(),
            ..old
        };
        self.save(persist::RULES, id, &rec)?;
        let body = Self::rule_json(&rec);
        self.rules.insert(id.to_string(), rec);
        Ok(body)
    }

    pub fn delete_rule(&mut self, id: &str) -> Result<(), ApiError> {
        if !self.rules.contains_key(id) {
            return Err(ApiError::not_found("Speech rule", id));
        }
        self.remove(persist::RULES, id)?;
        self.rules.remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = encode_cursor("a name", "id-1");
        assert!(c.contains('+'));
        assert_eq!(decode_cursor(&c), Some(("a name".into(), "id-1".into())));
        assert_eq!(decode_cursor("p xyz"), None);
        assert_eq!(decode_cursor("zzz"), None);
    }

    #[test]
    fn ticks_increase_strictly() {
        let mut s = Store::in_memory(1);
        let a = s.tick();
        let b = s.tick();
        let c = s.tick();
        assert!(a < b && b < c);
    }
}
