//! Topics (`/api/v2/speechandtextanalytics/topics`, SDK 269 `TopicRequest`, `Topic`,
//! `ListedTopic`): request validation, response shape, and membership in programs
//! (a topic's `programIds` joins programs; a topic a program holds cannot be deleted).

use std::collections::HashSet;

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::super::check::{Checker, parse_object, phrase_key};
use super::super::collection::{
    DeleteReply, Input, ListQuery, Paging, Publish, Rec, Resource, none, put_common, put_members,
    put_nonempty_str,
};
use super::super::error::{ApiError, ErrorDetail};
use super::super::store::Store;
use super::{category, program};

/// Topic dialects (SPEC 3).
pub const DIALECTS: [&str; 16] = [
    "en-US", "es-US", "en-AU", "en-GB", "en-ZA", "es-ES", "en-IN", "fr-FR", "fr-CA", "it-IT",
    "de-DE", "pt-BR", "pl-PL", "pt-PT", "nl-NL", "ko-KR",
];
pub const STRICTNESS: [&str; 6] = ["1", "55", "65", "72", "85", "90"];
pub const PARTICIPANTS: [&str; 3] = ["External", "Internal", "All"];
pub const SENTIMENTS: [&str; 4] = ["Unspecified", "Positive", "Neutral", "Negative"];
/// `matchingType` of TopicRequest / Topic / ListedTopic (SDK 269).
pub const MATCHING_TYPES: [&str; 2] = ["Lexical", "Semantic"];
pub const MAX_TOPIC_PHRASES: usize = 1000;

pub static RESOURCE: Resource = Resource {
    label: "Topic",
    dir: "topics",
    path: "/api/v2/speechandtextanalytics/topics",
    paging: Paging::Numbered {
        default_size: 25,
        page_number: false,
    },
    max_page_size: 500,
    create_status: 200,
    singleton: false,
    initial: none::initial,
    get_one: true,
    put: true,
    delete_all: false,
    publish: Some(Publish {
        job_kind: "Topics",
        key: "topicIds",
        snapshot,
    }),
    delete_reply: DeleteReply::NoContent,
    delete_params: &[],
    list_params: &["name", "dialects", "ids", "state", "sortBy", "sortOrder"],
    sort_by: &["name", "matchingType"],
    parse,
    identity,
    conflict: |identity| format!("A topic named {identity} already exists"),
    check,
    after_write,
    before_delete,
    after_delete: none::after_delete,
    render,
    refine_query,
    matches,
    sort_prefix,
    upgrade,
};

/// Validates a topic request (SPEC 8.3 TopicRequest).
fn parse(body: &[u8]) -> Result<Input, ApiError> {
    let obj = parse_object(body)?;
    let mut c = Checker::default();
    c.keys(
        &obj,
        &[
            "name",
            "description",
            "strictness",
            "programIds",
            "matchingType",
            "tags",
            "dialect",
            "participants",
            "phrases",
        ],
        "",
    );
    let name = c.required_name(&obj, "name", "");
    let description = c.string(&obj, "description", "").unwrap_or_default();
    let strictness = c
        .one_of(&obj, "strictness", "", &STRICTNESS, Some("72"))
        .unwrap_or_default();
    let program_ids = c.strings(&obj, "programIds", "");
    let matching_type = c
        .one_of(&obj, "matchingType", "", &MATCHING_TYPES, Some("Lexical"))
        .unwrap_or_default();
    let tags = c.strings(&obj, "tags", "").unwrap_or_default();
    let dialect = c
        .one_of(&obj, "dialect", "", &DIALECTS, None)
        .unwrap_or_default();
    let participants = c
        .one_of(&obj, "participants", "", &PARTICIPANTS, Some("All"))
        .unwrap_or_default();
    let phrases = phrases(&mut c, &obj);
    let mut fields = Map::new();
    fields.insert("name".into(), json!(name));
    fields.insert("description".into(), json!(description));
    fields.insert("strictness".into(), json!(strictness));
    fields.insert("matchingType".into(), json!(matching_type));
    fields.insert("tags".into(), json!(tags));
    fields.insert("dialect".into(), json!(dialect));
    fields.insert("participants".into(), json!(participants));
    fields.insert("phrases".into(), Value::Array(phrases));
    let mut extra = Map::new();
    if let Some(ids) = program_ids {
        extra.insert("programIds".into(), json!(ids));
    }
    c.finish(Input { fields, extra })
}

/// The `phrases`: 1 to 1000, none repeated; each `{text, strictness?, sentiment,
/// isAIGenerated?}` as a response shows it (a strictness absent unless the request
/// set it: Genesys's "default value is null").
fn phrases(c: &mut Checker, obj: &Map<String, Value>) -> Vec<Value> {
    let mut out = Vec::new();
    let Some(items) = c.array(obj, "phrases", "") else {
        if Checker::get(obj, "phrases").is_none() {
            c.problem(
                "phrases".into(),
                "missing.required.field",
                "'phrases' is required".into(),
            );
        }
        return out;
    };
    if items.is_empty() || items.len() > MAX_TOPIC_PHRASES {
        c.problem(
            "phrases".into(),
            "invalid.value",
            format!(
                "'phrases' must have 1 to {MAX_TOPIC_PHRASES} entries, got {}",
                items.len()
            ),
        );
    }
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("phrases[{i}]");
        let Some(p) = c.object(item, &prefix) else {
            continue;
        };
        c.keys(
            p,
            &["text", "strictness", "sentiment", "isAIGenerated"],
            &prefix,
        );
        let text = c.required_name(p, "text", &prefix);
        let strictness = c.one_of(p, "strictness", &prefix, &STRICTNESS, Some(""));
        let sentiment = c
            .one_of(p, "sentiment", &prefix, &SENTIMENTS, Some("Unspecified"))
            .unwrap_or_default();
        let is_ai_generated = Checker::get(p, "isAIGenerated")
            .is_some()
            .then(|| c.boolean(p, "isAIGenerated", &prefix, false));
        if !text.is_empty() && !seen.insert(phrase_key(&text)) {
            c.problem(
                format!("{prefix}.text"),
                "duplicate.value",
                format!("'{prefix}.text' duplicates an earlier phrase: {text}"),
            );
        }
        let mut phrase = Map::new();
        phrase.insert("text".into(), json!(text));
        if let Some(s) = strictness.filter(|s| !s.is_empty()) {
            phrase.insert("strictness".into(), json!(s));
        }
        phrase.insert("sentiment".into(), json!(sentiment));
        if let Some(ai) = is_ai_generated {
            phrase.insert("isAIGenerated".into(), json!(ai));
        }
        out.push(Value::Object(phrase));
    }
    out
}

/// `programIds`, when given, must name existing programs.
fn check(store: &Store, input: &Input, _id: Option<&str>) -> Result<(), ApiError> {
    let Some(Value::Array(ids)) = input.extra.get("programIds") else {
        return Ok(());
    };
    for (i, id) in ids.iter().filter_map(Value::as_str).enumerate() {
        if store.record(&program::RESOURCE, id).is_none() {
            return Err(ApiError::bad_request(format!(
                "'programIds[{i}]' names no existing program: {id}"
            ))
            .with_detail(ErrorDetail {
                error_code: "invalid.value".into(),
                field_name: Some(format!("programIds[{i}]")),
                entity_id: Some(id.to_string()),
                entity_name: None,
            }));
        }
    }
    Ok(())
}

/// Applies `programIds`: the topic joins exactly the listed programs. Each program
/// whose membership changes is a program write (new `dateModified`, unpublished).
fn after_write(store: &mut Store, id: &str, input: &Input, actor: &str) -> Result<(), ApiError> {
    let Some(Value::Array(wanted)) = input.extra.get("programIds") else {
        return Ok(());
    };
    let wanted: Vec<&str> = wanted.iter().filter_map(Value::as_str).collect();
    let mut changed: Vec<String> = store
        .records(&program::RESOURCE)
        .filter(|p| p.strings("topicIds").contains(&id) != wanted.contains(&p.id.as_str()))
        .map(|p| p.id.clone())
        .collect();
    changed.sort();
    for pid in changed {
        program::toggle_topic(store, &pid, id, actor)?;
    }
    Ok(())
}

/// A topic a program holds cannot be deleted.
fn before_delete(store: &Store, id: &str, _force: bool) -> Result<(), ApiError> {
    // Quality evaluation forms hold topics too (the Genesys Terraform provider's
    // evaluation form carries `assistance_conditions.topic_ids`): Genesys refuses to
    // delete a topic a form uses.
    if let Some(t) = store.record(&RESOURCE, id) {
        let (name, dialect) = (t.str("name"), t.str("dialect"));
        if let Some(f) = store.forms.iter().find(|f| {
            f.topics
                .iter()
                .any(|(n, d)| n == name && d.as_deref().is_none_or(|d| d == dialect))
        }) {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!(
                    "Topic {id} is used by evaluation form '{}' (an answer option's assistance \
condition); change the form in Quality Management first",
                    f.name
                ),
            );
            e.details.push(ErrorDetail {
                error_code: "topic.in.use.by.evaluation.form".into(),
                field_name: None,
                entity_id: Some(f.id.clone()),
                entity_name: Some(f.name.clone()),
            });
            return Err(e);
        }
    }
    if let Some(c) = category::using_topic(store, id).first() {
        let mut e = ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "Topic {id} is used by category {}; change the category first",
                c.str("name")
            ),
        );
        e.details.push(ErrorDetail {
            error_code: "topic.in.use".into(),
            field_name: None,
            entity_id: Some(c.id.clone()),
            entity_name: Some(c.str("name").to_string()),
        });
        return Err(e);
    }
    if let Some((job, program_id, name)) = program::releasing(store, id).first() {
        let mut e = ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "Topic {id} is still linked to program {name} ({program_id}): its topic links job \
{job} is Running; try again when it completes"
            ),
        );
        e.details.push(ErrorDetail {
            error_code: "topic.links.pending".into(),
            field_name: None,
            entity_id: Some(program_id.clone()),
            entity_name: Some(name.clone()),
        });
        return Err(e);
    }
    let holders = program::holding(store, id);
    let Some(first) = holders.first() else {
        return Ok(());
    };
    let names: Vec<&str> = holders.iter().map(|p| p.str("name")).collect();
    let mut e = ApiError::new(
        StatusCode::CONFLICT,
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
        entity_name: Some(first.str("name").to_string()),
    });
    Err(e)
}

/// A Topic (`full`) or ListedTopic, with exactly the SDK model's fields; lists are
/// present even when empty.
fn render(store: &Store, t: &Rec, full: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(t.id));
    m.insert("name".into(), json!(t.str("name")));
    put_nonempty_str(&mut m, "description", t.str("description"));
    m.insert("published".into(), json!(t.is_published()));
    m.insert("strictness".into(), json!(t.str("strictness")));
    m.insert("matchingType".into(), json!(t.str("matchingType")));
    let programs: Vec<(&str, &str)> = program::holding(store, &t.id)
        .into_iter()
        .map(|p| (p.str("name"), p.id.as_str()))
        .collect();
    put_members(
        &mut m,
        ("programs", "programsCount"),
        programs,
        &program::RESOURCE,
        full,
    );
    m.insert("tags".into(), json!(t.strings("tags")));
    m.insert("dialect".into(), json!(t.str("dialect")));
    m.insert("participants".into(), json!(t.str("participants")));
    let phrases = t.fields.get("phrases").cloned().unwrap_or(json!([]));
    if full {
        m.insert("phrases".into(), phrases);
    } else {
        let n = phrases.as_array().map_or(0, Vec::len);
        m.insert("phrasesCount".into(), json!(n));
    }
    put_common(&mut m, &RESOURCE, t, full);
    Value::Object(m)
}

/// `dialects` (at most 15 known dialects), and `ids` alone.
fn refine_query(pairs: &[(String, String)], q: &mut ListQuery) -> Result<(), ApiError> {
    let param = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    if let Some(d) = param("dialects") {
        let list: Vec<String> = d
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if list.len() > 15 {
            return Err(ApiError::bad_field(
                "dialects",
                format!(
                    "'dialects' lists {} dialects; at most 15 are allowed",
                    list.len()
                ),
            ));
        }
        if let Some(bad) = list.iter().find(|d| !DIALECTS.contains(&d.as_str())) {
            return Err(ApiError::bad_field(
                "dialects",
                format!(
                    "'dialects' value '{bad}' is not one of {}",
                    DIALECTS.join(", ")
                ),
            ));
        }
        q.lists.push(("dialects".into(), list));
    }
    if q.ids.is_some()
        && ["name", "dialects", "state"]
            .iter()
            .any(|k| param(k).is_some())
    {
        return Err(ApiError::bad_field(
            "ids",
            "'ids' cannot be combined with the name, dialects or state filters",
        ));
    }
    Ok(())
}

fn matches(q: &ListQuery, t: &Rec) -> bool {
    q.lists
        .iter()
        .filter(|(k, _)| k == "dialects")
        .all(|(_, d)| d.iter().any(|x| x == t.str("dialect")))
}

fn sort_prefix(q: &ListQuery, t: &Rec) -> String {
    match q.sort_by.as_deref() {
        Some("matchingType") => t.str("matchingType").to_string(),
        _ => String::new(),
    }
}

/// Topic names are unique per dialect, not per org (the Genesys Terraform provider
/// selects a topic by name and dialect, and its exporter keys topics by both): the
/// identity is `'Name' in dialect`.
fn identity(fields: &Map<String, Value>) -> String {
    let field = |k: &str| fields.get(k).and_then(Value::as_str).unwrap_or_default();
    format!("'{}' in {}", field("name"), field("dialect"))
}

/// What a topic publish makes live: its name, dialect and phrase texts.
fn snapshot(_: &Store, t: &Rec) -> Value {
    json!({
        "id": t.id,
        "name": t.str("name"),
        "dialect": t.str("dialect"),
        "phrases": phrase_texts(t),
    })
}

fn phrase_texts(t: &Rec) -> Vec<String> {
    match t.fields.get("phrases") {
        Some(Value::Array(ps)) => ps
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Records written before `matchingType` was modelled are Lexical.
fn upgrade(t: &mut Rec) {
    t.fields
        .entry("matchingType")
        .or_insert_with(|| json!("Lexical"));
}

/// Published topics as the detection routes match them: (id, dialect, participants,
/// phrase texts).
pub fn detectable(store: &Store) -> Vec<(String, String, String, Vec<String>)> {
    let mut out: Vec<_> = store
        .records(&RESOURCE)
        .filter(|t| t.is_published())
        .map(|t| {
            let texts = phrase_texts(t);
            (
                t.id.clone(),
                t.str("dialect").to_string(),
                t.str("participants").to_string(),
                texts,
            )
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap_or_default()
    }

    #[test]
    fn topic_defaults_are_filled() {
        let t = parse(&bytes(json!({
            "name": "A", "dialect": "en-US", "phrases": [{"text": "hello there"}]
        })))
        .map_err(|e| e.message)
        .unwrap_or_else(|m| panic!("{m}"));
        assert_eq!(t.fields["strictness"], json!("72"));
        assert_eq!(t.fields["participants"], json!("All"));
        assert_eq!(t.fields["phrases"][0]["sentiment"], json!("Unspecified"));
        assert!(t.fields["phrases"][0].get("strictness").is_none());
        assert!(t.extra.get("programIds").is_none());
    }

    #[test]
    fn nested_unknown_field_is_named() {
        let e = parse(&bytes(json!({
            "name": "A", "dialect": "en-US", "phrases": [{"text": "x", "colour": 1}]
        })))
        .err()
        .unwrap_or_else(|| panic!("accepted"));
        assert!(e.message.contains("phrases[0].colour"), "{}", e.message);
        assert_eq!(
            e.details[0].field_name.as_deref(),
            Some("phrases[0].colour")
        );
    }

    #[test]
    fn garbage_is_a_400() {
        assert!(parse(b"{not json").is_err());
        assert!(parse(b"[1,2]").is_err());
        assert!(parse(b"").is_err());
    }
}
