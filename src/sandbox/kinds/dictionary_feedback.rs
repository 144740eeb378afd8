//! Dictionary feedback (`/api/v2/speechandtextanalytics/dictionaryfeedback`, SDK 269
//! `DictionaryFeedback`, `ListedDictionaryFeedback`): request validation with the
//! SDK's limits, and response shapes (the list lacks `examplePhrases` and
//! `soundsLike`). Cursor-paged (default 500); create answers 201; identity is
//! dialect + term; at most 1000 terms per dialect.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::super::check::{Checker, parse_object, phrase_key};
use super::super::collection::{
    DeleteReply, Input, ListQuery, Paging, Pairs, Rec, Resource, none, put_common, put_nonempty_str,
};
use super::super::error::ApiError;
use super::super::store::Store;
use super::sentiment_feedback::{dialect, plausible_dialect};

pub const ENGINES: [&str; 2] = ["Genesys", "GenesysExtended"];
pub const MAX_TERMS_PER_DIALECT: usize = 1000;

pub static RESOURCE: Resource = Resource {
    label: "Dictionary feedback",
    dir: "dictionaryfeedback",
    path: "/api/v2/speechandtextanalytics/dictionaryfeedback",
    paging: Paging::Cursor { default_size: 500 },
    max_page_size: 500,
    create_status: 201,
    singleton: false,
    initial: none::initial,
    get_one: true,
    put: true,
    delete_all: false,
    publish: None,
    delete_reply: DeleteReply::NoContent,
    delete_params: &[],
    list_params: &["dialect", "transcriptionEngine"],
    sort_by: &[],
    parse,
    identity,
    conflict: |key| format!("Dictionary feedback for '{key}' already exists"),
    check,
    after_write,
    before_delete: none::before_delete,
    after_delete: none::after_delete,
    render,
    refine_query,
    matches,
    sort_prefix: none::sort_prefix,
    upgrade: none::upgrade,
};

/// Validates a `DictionaryFeedback` body: `term` and `dialect` required; boost
/// 1.0..=10.0 (default 2.0); 3..=20 unique example phrases of 3..=20 words; at most
/// 10 soundsLike. Server-set fields are accepted and ignored.
fn parse(body: &[u8]) -> Result<Input, ApiError> {
    let obj = parse_object(body)?;
    let mut c = Checker::default();
    c.keys(
        &obj,
        &[
            "id",
            "term",
            "dialect",
            "boostValue",
            "source",
            "dateCreated",
            "createdBy",
            "dateModified",
            "modifiedBy",
            "transcriptionEngine",
            "status",
            "invalidReason",
            "displayAs",
            "examplePhrases",
            "soundsLike",
            "selfUri",
        ],
        "",
    );
    let term = c.required_name(&obj, "term", "");
    let dialect = dialect(&mut c, &obj);
    let boost = match Checker::get(&obj, "boostValue") {
        None => 2.0,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() && (1.0..=10.0).contains(&v) => v,
            _ => {
                c.problem(
                    "boostValue".into(),
                    "invalid.value",
                    format!("'boostValue' must be between 1.0 and 10.0, got {n}"),
                );
                2.0
            }
        },
        Some(_) => {
            c.problem(
                "boostValue".into(),
                "invalid.type",
                "'boostValue' must be a number".into(),
            );
            2.0
        }
    };
    let _ = c.one_of(&obj, "source", "", &["Manual"], Some("Manual"));
    let engine = c.one_of(&obj, "transcriptionEngine", "", &ENGINES, Some(""));
    let display_as = c.string(&obj, "displayAs", "").unwrap_or_default();
    let examples = examples(&mut c, &obj, &term);
    let sounds_like = c.strings(&obj, "soundsLike", "").unwrap_or_default();
    if sounds_like.len() > 10 {
        c.problem(
            "soundsLike".into(),
            "invalid.value",
            format!("'soundsLike' has {} entries; at most 10", sounds_like.len()),
        );
    }
    let mut fields = Map::new();
    fields.insert("term".into(), json!(term));
    fields.insert("dialect".into(), json!(dialect));
    fields.insert("boostValue".into(), json!(boost));
    fields.insert("displayAs".into(), json!(display_as));
    fields.insert(
        "transcriptionEngine".into(),
        json!(engine.unwrap_or_default()),
    );
    fields.insert("examplePhrases".into(), json!(examples));
    fields.insert("soundsLike".into(), json!(sounds_like));
    c.finish(Input {
        fields,
        extra: Map::new(),
    })
}

/// `examplePhrases`: `[{phrase, source?}]`, 3..=20 unique, each 3..=20 words, each
/// containing the term (an example is an utterance of the term; SDK 269
/// `DictionaryFeedbackExamplePhrase`).
fn examples(c: &mut Checker, obj: &Map<String, Value>, term: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Some(items) = c.array(obj, "examplePhrases", "") else {
        return out;
    };
    if !items.is_empty() && !(3..=20).contains(&items.len()) {
        c.problem(
            "examplePhrases".into(),
            "invalid.value",
            format!(
                "'examplePhrases' must have 3 to 20 entries, got {}",
                items.len()
            ),
        );
    }
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("examplePhrases[{i}]");
        let Some(p) = c.object(item, &prefix) else {
            continue;
        };
        c.keys(p, &["phrase", "source"], &prefix);
        let phrase = c.required_name(p, "phrase", &prefix);
        let _ = c.one_of(p, "source", &prefix, &["Manual"], Some("Manual"));
        let words = phrase.split_whitespace().count();
        if !phrase.is_empty() && !(3..=20).contains(&words) {
            c.problem(
                format!("{prefix}.phrase"),
                "invalid.value",
                format!("'{prefix}.phrase' must have 3 to 20 words, got {words}"),
            );
        }
        let (key, term_key) = (phrase_key(&phrase), phrase_key(term));
        if !phrase.is_empty() && !term_key.is_empty() && !key.contains(&term_key) {
            c.problem(
                format!("{prefix}.phrase"),
                "invalid.value",
                format!("'{prefix}.phrase' does not contain the term '{term}'"),
            );
        }
        if !phrase.is_empty() && !seen.insert(phrase_key(&phrase)) {
            c.problem(
                format!("{prefix}.phrase"),
                "duplicate.value",
                format!("'{prefix}.phrase' duplicates an earlier example"),
            );
        }
        out.push(phrase);
    }
    out
}

/// Dialect + term, the term up to letter case: Genesys refuses "acme fibre" beside
/// "Acme Fibre" (409).
fn identity(fields: &Map<String, Value>) -> String {
    let get = |k: &str| fields.get(k).and_then(Value::as_str).unwrap_or("");
    format!("{}: {}", get("dialect"), get("term").to_lowercase())
}

/// At most 1000 terms per dialect.
fn check(store: &Store, input: &Input, id: Option<&str>) -> Result<(), ApiError> {
    let dialect = input.fields.get("dialect").and_then(Value::as_str);
    let n = store
        .records(&RESOURCE)
        .filter(|r| Some(r.id.as_str()) != id && Some(r.str("dialect")) == dialect)
        .count();
    if n >= MAX_TERMS_PER_DIALECT {
        return Err(ApiError::bad_field(
            "dialect",
            format!(
                "the dialect already has {MAX_TERMS_PER_DIALECT} dictionary terms, the most allowed"
            ),
        ));
    }
    Ok(())
}

/// Genesys validates a term after accepting it (SDK 269 `DictionaryFeedback.status`:
/// Active | Pending | Failed | Saved | Invalid, with `invalidReason`). The sandbox
/// rejects a term the test plumbing named (`POST /__sandbox/dictionary/reject`), and
/// only then: the write is answered, and the term is kept, as `Failed` with the reason.
fn after_write(store: &mut Store, id: &str, _input: &Input, _actor: &str) -> Result<(), ApiError> {
    let Some(mut rec) = store.record(&RESOURCE, id).cloned() else {
        return Ok(());
    };
    let key = identity(&rec.fields).to_lowercase();
    match store.term_rejects.get(&key).cloned() {
        Some(reason) => {
            rec.fields.insert(STATUS.into(), json!("Failed"));
            rec.fields.insert(REASON.into(), json!(reason));
        }
        None => {
            rec.fields.remove(STATUS);
            rec.fields.remove(REASON);
        }
    }
    store.put(&RESOURCE, rec)
}

/// Stored fields of a rejected term (absent: Active).
const STATUS: &str = "status";
const REASON: &str = "invalidReason";

/// Makes later writes of the `dialect: term` fail Genesys's validation with `reason`
/// (test plumbing).
pub fn reject(store: &mut Store, dialect: &str, term: &str, reason: &str) {
    store.term_rejects.insert(
        format!("{dialect}: {term}").to_lowercase(),
        reason.to_string(),
    );
}

/// A DictionaryFeedback (`full`) or ListedDictionaryFeedback.
fn render(_store: &Store, r: &Rec, full: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("term".into(), json!(r.str("term")));
    m.insert("dialect".into(), json!(r.str("dialect")));
    m.insert(
        "boostValue".into(),
        r.fields.get("boostValue").cloned().unwrap_or(json!(2.0)),
    );
    m.insert("source".into(), json!("Manual"));
    m.insert("dateCreated".into(), json!(r.date_created()));
    m.insert("createdBy".into(), r.created_by());
    put_nonempty_str(&mut m, "transcriptionEngine", r.str("transcriptionEngine"));
    match r.str(STATUS) {
        "" => {
            m.insert("status".into(), json!("Active"));
        }
        status => {
            m.insert("status".into(), json!(status));
            put_nonempty_str(&mut m, "invalidReason", r.str(REASON));
        }
    }
    put_nonempty_str(&mut m, "displayAs", r.str("displayAs"));
    if full {
        let examples: Vec<Value> = r
            .strings("examplePhrases")
            .into_iter()
            .map(|p| json!({"phrase": p, "source": "Manual"}))
            .collect();
        m.insert("examplePhrases".into(), Value::Array(examples));
        m.insert("soundsLike".into(), json!(r.strings("soundsLike")));
    }
    put_common(&mut m, &RESOURCE, r, full);
    Value::Object(m)
}

fn refine_query(pairs: &Pairs, q: &mut ListQuery) -> Result<(), ApiError> {
    for (k, v) in pairs {
        match k.as_str() {
            "dialect" if !plausible_dialect(v) => {
                return Err(ApiError::bad_field(
                    "dialect",
                    format!("'dialect' value '{v}' is not {{language}}-{{country}}"),
                ));
            }
            "transcriptionEngine" if !ENGINES.contains(&v.as_str()) => {
                return Err(ApiError::bad_field(
                    "transcriptionEngine",
                    format!(
                        "'transcriptionEngine' value '{v}' is not one of {}",
                        ENGINES.join(", ")
                    ),
                ));
            }
            "dialect" | "transcriptionEngine" => q.lists.push((k.clone(), vec![v.clone()])),
            _ => {}
        }
    }
    Ok(())
}

fn matches(q: &ListQuery, r: &Rec) -> bool {
    q.lists.iter().all(|(k, v)| v.iter().any(|x| x == r.str(k)))
}
