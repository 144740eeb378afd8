//! Sentiment feedback (`/api/v2/speechandtextanalytics/sentimentfeedback`, SDK 269
//! `SentimentFeedback`): request validation and response shape. One unpaged list
//! (filter `dialect`), create (201), delete by id (204) and delete-all (204, which
//! speechops never calls); no GET by id and no update, as on Genesys. The identity is
//! dialect + phrase.

use serde_json::{Map, Value, json};

use super::super::check::{Checker, parse_object};
use super::super::collection::{DeleteReply, Input, ListQuery, Paging, Pairs, Rec, Resource, none};
use super::super::error::ApiError;
use super::super::store::Store;

pub const FEEDBACK_VALUES: [&str; 3] = ["Neutral", "Positive", "Negative"];

pub static RESOURCE: Resource = Resource {
    label: "Sentiment feedback",
    dir: "sentimentfeedback",
    path: "/api/v2/speechandtextanalytics/sentimentfeedback",
    paging: Paging::Unpaged,
    max_page_size: 500,
    create_status: 201,
    singleton: false,
    initial: none::initial,
    get_one: false,
    put: false,
    delete_all: true,
    publish: None,
    delete_reply: DeleteReply::NoContent,
    delete_params: &[],
    list_params: &["dialect"],
    sort_by: &[],
    parse,
    identity,
    conflict: |key| format!("Sentiment feedback for '{key}' already exists"),
    check: none::check,
    after_write: none::after_write,
    before_delete: none::before_delete,
    after_delete: none::after_delete,
    render,
    refine_query,
    matches,
    sort_prefix: none::sort_prefix,
    upgrade: none::upgrade,
};

/// `{language}-{country}`.
pub fn plausible_dialect(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[2] == b'-'
        && b[..2].iter().all(u8::is_ascii_lowercase)
        && b[3..].iter().all(u8::is_ascii_uppercase)
}

/// A `dialect` the feedback APIs accept, or a problem.
pub fn dialect(c: &mut Checker, obj: &Map<String, Value>) -> String {
    let d = c.required_name(obj, "dialect", "");
    if !d.is_empty() && !plausible_dialect(&d) {
        c.problem(
            "dialect".into(),
            "invalid.value",
            format!("'dialect' value '{d}' is not {{language}}-{{country}}, such as en-US"),
        );
    }
    d
}

/// Validates a `SentimentFeedback` request: `phrase`, `dialect`, `feedbackValue` are
/// required; the server-set fields are accepted and ignored, as Genesys does.
fn parse(body: &[u8]) -> Result<Input, ApiError> {
    let obj = parse_object(body)?;
    let mut c = Checker::default();
    c.keys(
        &obj,
        &[
            "id",
            "phrase",
            "dialect",
            "feedbackValue",
            "dateCreated",
            "createdBy",
        ],
        "",
    );
    let phrase = c.required_name(&obj, "phrase", "");
    let dialect = dialect(&mut c, &obj);
    let value = c
        .one_of(&obj, "feedbackValue", "", &FEEDBACK_VALUES, None)
        .unwrap_or_default();
    let mut fields = Map::new();
    fields.insert("phrase".into(), json!(phrase));
    fields.insert("dialect".into(), json!(dialect));
    fields.insert("feedbackValue".into(), json!(value));
    c.finish(Input {
        fields,
        extra: Map::new(),
    })
}

fn identity(fields: &Map<String, Value>) -> String {
    let get = |k: &str| fields.get(k).and_then(Value::as_str).unwrap_or("");
    format!("{}: {}", get("dialect"), get("phrase"))
}

fn render(_store: &Store, r: &Rec, _full: bool) -> Value {
    json!({
        "id": r.id,
        "phrase": r.str("phrase"),
        "dialect": r.str("dialect"),
        "feedbackValue": r.str("feedbackValue"),
        "dateCreated": r.date_created(),
        "createdBy": r.created_by(),
    })
}

fn refine_query(pairs: &Pairs, q: &mut ListQuery) -> Result<(), ApiError> {
    if let Some((_, d)) = pairs.iter().find(|(k, _)| k == "dialect") {
        if !plausible_dialect(d) {
            return Err(ApiError::bad_field(
                "dialect",
                format!("'dialect' value '{d}' is not {{language}}-{{country}}"),
            ));
        }
        q.lists.push(("dialect".into(), vec![d.clone()]));
    }
    Ok(())
}

fn matches(q: &ListQuery, r: &Rec) -> bool {
    q.lists
        .iter()
        .filter(|(k, _)| k == "dialect")
        .all(|(_, d)| d.iter().any(|x| x == r.str("dialect")))
}
