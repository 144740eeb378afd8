//! Programs (`/api/v2/speechandtextanalytics/programs`, SDK 269 `ProgramRequest`,
//! `Program`, `ListedProgram`): request validation, response shape, and member
//! topics (`topicIds` must name topics; at most 500 per dialect).

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use super::super::check::{Checker, parse_object};
use super::super::collection::{
    DeleteReply, Input, Paging, Publish, Rec, Resource, entity_ref, none, put_common, put_members,
    put_nonempty_str,
};
use super::super::error::{ApiError, ErrorDetail};
use super::super::store::Store;
use super::{settings, topic};

/// SPEC 3: at most 500 topics per dialect per program.
pub const MAX_PROGRAM_TOPICS_PER_DIALECT: usize = 500;

pub static RESOURCE: Resource = Resource {
    label: "Program",
    dir: "programs",
    path: "/api/v2/speechandtextanalytics/programs",
    // `GET /programs` pages 20 by default (SDK 269 documentation).
    paging: Paging::Cursor { default_size: 20 },
    max_page_size: 500,
    create_status: 200,
    singleton: false,
    initial: none::initial,
    get_one: true,
    put: true,
    delete_all: false,
    publish: Some(Publish {
        job_kind: "Programs",
        key: "programIds",
        snapshot,
    }),
    delete_reply: DeleteReply::Reference,
    // `forceDelete` matters only for the org's default program; it is checked so a
    // malformed value still gets its 400.
    delete_params: &["forceDelete"],
    list_params: &["name", "ids", "state", "sortBy", "sortOrder"],
    sort_by: &["name"],
    parse,
    identity: none::name_identity,
    conflict: |name| format!("A program named '{name}' already exists"),
    check,
    after_write,
    before_delete,
    after_delete,
    render,
    refine_query: none::refine_query,
    matches: none::matches,
    sort_prefix: none::sort_prefix,
    upgrade: none::upgrade,
};

/// Validates a program request (SPEC 8.4).
fn parse(body: &[u8]) -> Result<Input, ApiError> {
    let obj = parse_object(body)?;
    let mut c = Checker::default();
    c.keys(&obj, &["name", "description", "topicIds", "tags"], "");
    let name = c.required_name(&obj, "name", "");
    let description = c.string(&obj, "description", "").unwrap_or_default();
    let mut seen = BTreeSet::new();
    let topic_ids: Vec<String> = c
        .strings(&obj, "topicIds", "")
        .unwrap_or_default()
        .into_iter()
        .filter(|i| seen.insert(i.clone()))
        .collect();
    let tags = c.strings(&obj, "tags", "").unwrap_or_default();
    let mut fields = Map::new();
    fields.insert("name".into(), json!(name));
    fields.insert("description".into(), json!(description));
    fields.insert("topicIds".into(), json!(topic_ids));
    fields.insert("tags".into(), json!(tags));
    c.finish(Input {
        fields,
        extra: Map::new(),
    })
}

/// Member topics exist, at most 500 per dialect.
fn check(store: &Store, input: &Input, _id: Option<&str>) -> Result<(), ApiError> {
    let ids: Vec<&str> = match input.fields.get("topicIds") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut per_dialect: HashMap<&str, usize> = HashMap::new();
    for (i, tid) in ids.iter().enumerate() {
        let Some(t) = store.record(&topic::RESOURCE, tid) else {
            return Err(ApiError::bad_request(format!(
                "'topicIds[{i}]' names no existing topic: {tid}"
            ))
            .with_detail(ErrorDetail {
                error_code: "invalid.value".into(),
                field_name: Some(format!("topicIds[{i}]")),
                entity_id: Some(tid.to_string()),
                entity_name: None,
            }));
        };
        let n = per_dialect.entry(t.str("dialect")).or_default();
        *n += 1;
        if *n > MAX_PROGRAM_TOPICS_PER_DIALECT {
            return Err(ApiError::bad_field(
                "topicIds",
                format!(
                    "'topicIds' holds more than {MAX_PROGRAM_TOPICS_PER_DIALECT} topics of dialect {}",
                    t.str("dialect")
                ),
            ));
        }
    }
    Ok(())
}

/// The org's default program is deleted only with `forceDelete=true`.
fn before_delete(store: &Store, id: &str, force: bool) -> Result<(), ApiError> {
    if !force && settings::default_program(store).as_deref() == Some(id) {
        let mut e = ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "conflict",
            format!(
                "Program {id} is the default program; choose another default program first, \
or delete it with forceDelete=true"
            ),
        );
        e.details.push(ErrorDetail {
            error_code: "program.is.default".into(),
            field_name: None,
            entity_id: Some(id.to_string()),
            entity_name: None,
        });
        return Err(e);
    }
    Ok(())
}

/// A default program deleted with `forceDelete` leaves the org without one. Its
/// topics stay linked until the delete's topic-links job completes.
fn after_delete(
    store: &mut Store,
    gone: &Rec,
    actor: &str,
) -> Result<Map<String, Value>, ApiError> {
    if settings::default_program(store).as_deref() == Some(gone.id.as_str()) {
        settings::clear_default_program(store)?;
    }
    let linked = linked_topics(gone);
    let job = start_links_job(store, gone, linked, actor);
    let mut extra = Map::new();
    extra.insert("topicLinksJob".into(), links_ref(&job));
    Ok(extra)
}

/// Genesys links a program's topics asynchronously after each write (SDK 269
/// `Program.topicLinksJob`): the topics a write releases stay linked, and cannot be
/// deleted, until the job completes (on its second read, as publish jobs do).
fn after_write(store: &mut Store, id: &str, _input: &Input, actor: &str) -> Result<(), ApiError> {
    let Some(mut p) = store.record(&RESOURCE, id).cloned() else {
        return Ok(());
    };
    let now: Vec<String> = p
        .strings("topicIds")
        .into_iter()
        .map(str::to_string)
        .collect();
    let released: Vec<String> = linked_topics(&p)
        .into_iter()
        .filter(|t| !now.contains(t))
        .collect();
    p.fields.insert(LINKED.into(), json!(now));
    let job = start_links_job(store, &p, released, actor);
    p.fields.insert(LINKS_JOB.into(), json!(job.id));
    store.put(&RESOURCE, p)
}

/// The stored field of the program's latest topic-links job (rendered as
/// `topicLinksJob`).
const LINKS_JOB: &str = "topicLinksJobId";

/// The stored field of what the program's links hold (not rendered).
const LINKED: &str = "linkedTopicIds";

fn linked_topics(p: &Rec) -> Vec<String> {
    let linked = if p.fields.contains_key(LINKED) {
        p.strings(LINKED)
    } else {
        p.strings("topicIds")
    };
    linked.into_iter().map(str::to_string).collect()
}

/// A program's topic-links job (SDK 269 `ProgramTopicLinksJob`).
#[derive(Debug, Clone)]
pub struct LinksJob {
    pub id: String,
    pub program_id: String,
    /// Its name when the job started (a deleted program's is known only here).
    pub program_name: String,
    /// Topics the program no longer holds but whose links are not released yet.
    pub releasing: Vec<String>,
    pub state: &'static str,
    pub polls: u32,
    pub created_by: String,
    pub date_created_ms: i64,
    pub date_modified_ms: i64,
}

fn start_links_job(
    store: &mut Store,
    program: &Rec,
    releasing: Vec<String>,
    actor: &str,
) -> LinksJob {
    let (_, id) = store.next_id();
    let now = crate::sandbox::ids::now_ms();
    let job = LinksJob {
        id: id.clone(),
        program_id: program.id.clone(),
        program_name: program.str("name").to_string(),
        releasing,
        state: "Running",
        polls: 0,
        created_by: actor.to_string(),
        date_created_ms: now,
        date_modified_ms: now,
    };
    store.links.insert(id, job.clone());
    job
}

const LINKS_JOBS: &str = "/api/v2/speechandtextanalytics/programs/topiclinks/jobs";

fn links_ref(job: &LinksJob) -> Value {
    json!({"id": job.id, "selfUri": format!("{LINKS_JOBS}/{}", job.id)})
}

/// `GET /programs/topiclinks/jobs/{jobId}`: `Running` on the first read, `Completed`
/// (the links released) on the next.
pub fn poll_links_job(store: &mut Store, id: &str) -> Result<Value, ApiError> {
    let Some(job) = store.links.get_mut(id) else {
        return Err(ApiError::not_found("Topic links job", id));
    };
    if job.state == "Running" {
        job.polls += 1;
        if job.polls >= 2 {
            job.state = "Completed";
            job.releasing.clear();
            job.date_modified_ms = crate::sandbox::ids::now_ms();
        }
    }
    Ok(json!({
        "id": job.id,
        "state": job.state,
        "programId": job.program_id,
        "createdBy": super::super::collection::by(&job.created_by),
        "dateCreated": crate::sandbox::ids::format_ms(job.date_created_ms),
        "dateModified": crate::sandbox::ids::format_ms(job.date_modified_ms),
        "selfUri": format!("{LINKS_JOBS}/{}", job.id),
    }))
}

/// The latest topic-links job of a program, as a reference.
fn latest_links_job(p: &Rec) -> Option<Value> {
    match p.str(LINKS_JOB) {
        "" => None,
        id => Some(json!({"id": id, "selfUri": format!("{LINKS_JOBS}/{id}")})),
    }
}

/// The programs holding a topic: by membership, or by links a running topic-links
/// job has not released yet (`(program id, name, job id)` for those).
pub fn holding<'a>(store: &'a Store, topic_id: &str) -> Vec<&'a Rec> {
    store
        .records(&RESOURCE)
        .filter(|p| p.strings("topicIds").contains(&topic_id))
        .collect()
}

/// Running topic-links jobs that still hold the topic: `(job id, program id, name)`.
pub fn releasing(store: &Store, topic_id: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = store
        .links
        .values()
        .filter(|j| j.state == "Running" && j.releasing.iter().any(|t| t == topic_id))
        .map(|j| (j.id.clone(), j.program_id.clone(), j.program_name.clone()))
        .collect();
    out.sort();
    out
}

/// Adds the topic to the program, or removes it if the program holds it: a program
/// write (new `dateModified`, unpublished).
pub fn toggle_topic(
    store: &mut Store,
    program_id: &str,
    topic_id: &str,
    actor: &str,
) -> Result<(), ApiError> {
    let Some(mut p) = store.record(&RESOURCE, program_id).cloned() else {
        return Ok(());
    };
    let mut ids: Vec<String> = p
        .strings("topicIds")
        .into_iter()
        .map(str::to_string)
        .collect();
    if ids.iter().any(|t| t == topic_id) {
        ids.retain(|t| t != topic_id);
    } else {
        ids.push(topic_id.to_string());
    }
    p.fields.insert("topicIds".into(), json!(ids));
    p.fields.insert(LINKED.into(), json!(ids));
    p.date_modified_ms = store.tick();
    p.modified_by = actor.to_string();
    p.published = Some(false);
    store.put(&RESOURCE, p)
}

/// What a program publish makes live: for each member topic, the version of that
/// topic's own last publish (Genesys, "Work with a program": a program searches for
/// the topic contents defined when it was published). A member never published
/// is listed with no phrases.
fn snapshot(store: &Store, p: &Rec) -> Value {
    let topics: Vec<Value> = p
        .strings("topicIds")
        .into_iter()
        .filter_map(|tid| store.record(&topic::RESOURCE, tid))
        .map(|t| {
            t.published_snapshot.clone().unwrap_or_else(|| {
                json!({"id": t.id, "name": t.str("name"), "dialect": t.str("dialect"), "phrases": []})
            })
        })
        .collect();
    json!({ "topics": topics })
}

/// The sandbox-only view of a program's last publish (`GET /__sandbox/programs/{id}/published`):
/// what it searches for now, which Genesys does not expose.
pub fn published_view(store: &Store, id: &str) -> Result<Value, ApiError> {
    let Some(p) = store.record(&RESOURCE, id) else {
        return Err(ApiError::not_found(RESOURCE.label, id));
    };
    let mut m = Map::new();
    m.insert("id".into(), json!(p.id));
    m.insert("name".into(), json!(p.str("name")));
    m.insert("published".into(), json!(p.is_published()));
    m.insert(
        "topics".into(),
        p.published_snapshot
            .as_ref()
            .and_then(|s| s.get("topics").cloned())
            .unwrap_or_else(|| json!([])),
    );
    Ok(Value::Object(m))
}

/// A Program (`full`, with its member topics) or a ListedProgram (`topicsCount`
/// only, as on Genesys), with exactly the SDK model's fields.
fn render(store: &Store, p: &Rec, full: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(p.id));
    m.insert("name".into(), json!(p.str("name")));
    put_nonempty_str(&mut m, "description", p.str("description"));
    m.insert("published".into(), json!(p.is_published()));
    let topics: Vec<(&str, &str)> = p
        .strings("topicIds")
        .into_iter()
        .filter_map(|tid| store.record(&topic::RESOURCE, tid))
        .map(|t| (t.str("name"), t.id.as_str()))
        .collect();
    put_members(
        &mut m,
        ("topics", "topicsCount"),
        topics,
        &topic::RESOURCE,
        full,
    );
    m.insert("tags".into(), json!(p.strings("tags")));
    if full && let Some(job) = latest_links_job(p) {
        m.insert("topicLinksJob".into(), job);
    }
    put_common(&mut m, &RESOURCE, p, full);
    Value::Object(m)
}

/// `TopicsDefinitionsProgramMappings` of a program: its queues and flows by id.
pub fn mappings_json(store: &Store, id: &str) -> Result<Value, ApiError> {
    let p = store
        .record(&RESOURCE, id)
        .ok_or_else(|| ApiError::not_found(RESOURCE.label, id))?;
    let refs = |key: &str, path: &str| -> Value {
        Value::Array(
            p.strings(key)
                .into_iter()
                .map(|x| json!({"id": x, "selfUri": format!("{path}/{x}")}))
                .collect(),
        )
    };
    let mut m = Map::new();
    m.insert(
        "program".into(),
        entity_ref(&p.id, Some(p.str("name")), &RESOURCE),
    );
    m.insert("queues".into(), refs("queueIds", "/api/v2/routing/queues"));
    m.insert("flows".into(), refs("flowIds", "/api/v2/flows"));
    sub_common(&mut m, p, "mappings");
    Ok(Value::Object(m))
}

/// Every program's mapped `(queue ids, flow ids)`, by program id.
pub fn all_mappings(store: &Store) -> HashMap<String, (Vec<String>, Vec<String>)> {
    store
        .records(&RESOURCE)
        .map(|p| {
            let ids = |k: &str| p.strings(k).into_iter().map(str::to_string).collect();
            (p.id.clone(), (ids("queueIds"), ids("flowIds")))
        })
        .collect()
}

/// `GET /programs/mappings` (SDK 269 `TopicsDefinitionsProgramsMappingsEntityListing`):
/// every program's mappings, by program id, cursor-paged with `pageSize` and an opaque
/// `nextPage`.
pub fn mappings_listing(
    store: &Store,
    page_size: usize,
    next: Option<&str>,
) -> Result<Value, ApiError> {
    let start = match next {
        None => 0,
        Some(c) => c
            .strip_prefix("m")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                ApiError::bad_field("nextPage", "'nextPage' is not a cursor this API issued")
            })?,
    };
    let mut ids: Vec<&str> = store.records(&RESOURCE).map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    let total = ids.len();
    let page: Vec<Value> = ids
        .iter()
        .skip(start)
        .take(page_size)
        .filter_map(|id| mappings_json(store, id).ok())
        .collect();
    let path = format!("{}/mappings", RESOURCE.path);
    let mut m = Map::new();
    m.insert("entities".into(), Value::Array(page));
    m.insert("pageSize".into(), json!(page_size));
    m.insert("total".into(), json!(total));
    m.insert("pageCount".into(), json!(total.div_ceil(page_size.max(1))));
    m.insert(
        "selfUri".into(),
        json!(format!("{path}?pageSize={page_size}")),
    );
    let end = start.saturating_add(page_size);
    if end < total {
        m.insert(
            "nextUri".into(),
            json!(format!("{path}?pageSize={page_size}&nextPage=m{end}")),
        );
    }
    Ok(Value::Object(m))
}

/// `modifiedBy` / `dateModified` of a program's sub-resource (its last write, or the
/// program's).
fn sub_common(m: &mut Map<String, Value>, p: &Rec, key: &str) {
    let by = p
        .fields
        .get(&format!("{key}ModifiedBy"))
        .and_then(Value::as_str)
        .unwrap_or(&p.modified_by)
        .to_string();
    let ms = p
        .fields
        .get(&format!("{key}ModifiedMs"))
        .and_then(Value::as_i64)
        .unwrap_or(p.date_modified_ms);
    m.insert("modifiedBy".into(), super::super::collection::by(&by));
    m.insert(
        "dateModified".into(),
        json!(super::super::ids::format_ms(ms)),
    );
}

/// `PUT /programs/{id}/mappings` (`ProgramMappingsRequest`: both lists required,
/// every id a known queue / flow). The PUT replaces both lists.
pub fn put_mappings(
    store: &mut Store,
    id: &str,
    body: &[u8],
    (queues, flows): (&[String], &[String]),
    actor: &str,
) -> Result<Value, ApiError> {
    let obj = parse_object(body)?;
    let mut c = Checker::default();
    c.keys(&obj, &["queueIds", "flowIds"], "");
    let mut lists = Vec::new();
    for (key, known, what) in [("queueIds", queues, "queue"), ("flowIds", flows, "flow")] {
        let list = c.strings(&obj, key, "");
        if list.is_none() && Checker::get(&obj, key).is_none() {
            c.problem(
                key.into(),
                "missing.required.field",
                format!("'{key}' is required"),
            );
        }
        let list = list.unwrap_or_default();
        for (i, x) in list.iter().enumerate() {
            if !known.contains(x) {
                c.problem(
                    format!("{key}[{i}]"),
                    "invalid.value",
                    format!("'{key}[{i}]' names no existing {what}: {x}"),
                );
            }
        }
        let mut seen = BTreeSet::new();
        let list: Vec<String> = list
            .into_iter()
            .filter(|x| seen.insert(x.clone()))
            .collect();
        lists.push(list);
    }
    let lists = c.finish(lists)?;
    let Some(mut p) = store.record(&RESOURCE, id).cloned() else {
        return Err(ApiError::not_found(RESOURCE.label, id));
    };
    p.fields.insert("queueIds".into(), json!(lists[0]));
    p.fields.insert("flowIds".into(), json!(lists[1]));
    p.fields.insert("mappingsModifiedBy".into(), json!(actor));
    let now = store.tick();
    p.fields.insert("mappingsModifiedMs".into(), json!(now));
    store.put(&RESOURCE, p)?;
    mappings_json(store, id)
}

pub const ENGINES: [&str; 3] = ["Genesys", "GenesysExtended", "TranscriptionConnector"];

/// `ProgramTranscriptionEngines` of a program.
pub fn engines_json(store: &Store, id: &str) -> Result<Value, ApiError> {
    let p = store
        .record(&RESOURCE, id)
        .ok_or_else(|| ApiError::not_found(RESOURCE.label, id))?;
    let mut m = Map::new();
    m.insert("id".into(), json!(p.id));
    m.insert(
        "program".into(),
        entity_ref(&p.id, Some(p.str("name")), &RESOURCE),
    );
    m.insert(
        "transcriptionEngines".into(),
        p.fields
            .get("transcriptionEngines")
            .cloned()
            .unwrap_or(json!([])),
    );
    sub_common(&mut m, p, "engines");
    m.insert(
        "selfUri".into(),
        json!(format!("{}/{}/transcriptionengines", RESOURCE.path, p.id)),
    );
    Ok(Value::Object(m))
}

/// `PUT /programs/{id}/transcriptionengines` (`TranscriptionEnginesRequest`).
pub fn put_engines(
    store: &mut Store,
    id: &str,
    body: &[u8],
    actor: &str,
) -> Result<Value, ApiError> {
    let obj = parse_object(body)?;
    let mut c = Checker::default();
    c.keys(&obj, &["transcriptionEngines"], "");
    let mut engines = Vec::new();
    match c.array(&obj, "transcriptionEngines", "") {
        None => {
            if Checker::get(&obj, "transcriptionEngines").is_none() {
                c.problem(
                    "transcriptionEngines".into(),
                    "missing.required.field",
                    "'transcriptionEngines' is required".into(),
                );
            }
        }
        Some(items) => {
            for (i, item) in items.iter().enumerate() {
                let prefix = format!("transcriptionEngines[{i}]");
                let Some(e) = c.object(item, &prefix) else {
                    continue;
                };
                c.keys(e, &["engine", "dialects", "engineIntegration"], &prefix);
                let mut m = Map::new();
                if let Some(engine) = c
                    .one_of(e, "engine", &prefix, &ENGINES, Some(""))
                    .filter(|x| !x.is_empty())
                {
                    m.insert("engine".into(), json!(engine));
                }
                let dialects = c.strings(e, "dialects", &prefix).unwrap_or_default();
                for (j, d) in dialects.iter().enumerate() {
                    if !super::sentiment_feedback::plausible_dialect(d) {
                        c.problem(
                            format!("{prefix}.dialects[{j}]"),
                            "invalid.value",
                            format!("'{prefix}.dialects[{j}]' value '{d}' is not {{language}}-{{country}}"),
                        );
                    }
                }
                m.insert("dialects".into(), json!(dialects));
                if let Some(v) = Checker::get(e, "engineIntegration") {
                    let f = format!("{prefix}.engineIntegration");
                    if let Some(ei) = c.object(v, &f) {
                        c.keys(ei, &["id", "selfUri"], &f);
                        if let Some(id) = c.string(ei, "id", &f) {
                            m.insert("engineIntegration".into(), json!({"id": id}));
                        }
                    }
                }
                engines.push(Value::Object(m));
            }
        }
    }
    let engines = c.finish(engines)?;
    let Some(mut p) = store.record(&RESOURCE, id).cloned() else {
        return Err(ApiError::not_found(RESOURCE.label, id));
    };
    p.fields
        .insert("transcriptionEngines".into(), Value::Array(engines));
    p.fields.insert("enginesModifiedBy".into(), json!(actor));
    let now = store.tick();
    p.fields.insert("enginesModifiedMs".into(), json!(now));
    store.put(&RESOURCE, p)?;
    engines_json(store, id)
}
