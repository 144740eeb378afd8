//! Speech & Text Analytics settings (`/api/v2/speechandtextanalytics/settings`, SDK
//! 269 `SpeechTextAnalyticsSettingsRequest` / `Response`): one per org, read with
//! GET, replaced with PUT, patched with PATCH. `defaultProgramId` must name a
//! program; the default program cannot be deleted without `forceDelete`.

use serde_json::{Map, Value, json};

use super::super::check::{Checker, parse_object};
use super::super::collection::{DeleteReply, Input, Paging, Rec, Resource, none};
use super::super::error::{ApiError, ErrorDetail};
use super::super::store::Store;
use super::program;
use super::sentiment_feedback::plausible_dialect;

pub static RESOURCE: Resource = Resource {
    label: "Settings",
    dir: "settings",
    path: "/api/v2/speechandtextanalytics/settings",
    paging: Paging::Unpaged,
    max_page_size: 500,
    create_status: 200,
    singleton: true,
    initial,
    get_one: false,
    put: false,
    delete_all: false,
    publish: None,
    delete_reply: DeleteReply::NoContent,
    delete_params: &[],
    list_params: &[],
    sort_by: &[],
    parse,
    identity: |_| String::new(),
    conflict: |_| String::new(),
    check,
    after_write: none::after_write,
    before_delete: none::before_delete,
    after_delete: none::after_delete,
    render,
    refine_query: none::refine_query,
    matches: none::matches,
    sort_prefix: none::sort_prefix,
    upgrade: none::upgrade,
};

/// A fresh org: no default program, en-US expected, both analyses off.
fn initial() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("expectedDialects".into(), json!(["en-US"]));
    m.insert("textAnalyticsEnabled".into(), json!(false));
    m.insert("agentEmpathyEnabled".into(), json!(false));
    m
}

/// Validates a settings request: every field optional; only the given ones are kept.
fn parse(body: &[u8]) -> Result<Input, ApiError> {
    let obj = parse_object(body)?;
    let mut c = Checker::default();
    c.keys(
        &obj,
        &[
            "defaultProgramId",
            "expectedDialects",
            "textAnalyticsEnabled",
            "agentEmpathyEnabled",
        ],
        "",
    );
    let mut fields = Map::new();
    if let Some(id) = c.string(&obj, "defaultProgramId", "") {
        fields.insert("defaultProgramId".into(), json!(id));
    }
    if let Some(list) = c.strings(&obj, "expectedDialects", "") {
        for (i, d) in list.iter().enumerate() {
            if !plausible_dialect(d) {
                c.problem(
                    format!("expectedDialects[{i}]"),
                    "invalid.value",
                    format!("'expectedDialects[{i}]' value '{d}' is not {{language}}-{{country}}"),
                );
            }
        }
        fields.insert("expectedDialects".into(), json!(list));
    }
    for key in ["textAnalyticsEnabled", "agentEmpathyEnabled"] {
        if Checker::get(&obj, key).is_some() {
            let b = c.boolean(&obj, key, "", false);
            fields.insert(key.into(), json!(b));
        }
    }
    c.finish(Input {
        fields,
        extra: Map::new(),
    })
}

/// `defaultProgramId` names an existing program.
fn check(store: &Store, input: &Input, _id: Option<&str>) -> Result<(), ApiError> {
    match input.fields.get("defaultProgramId").and_then(Value::as_str) {
        Some(id) if store.record(&program::RESOURCE, id).is_none() => Err(ApiError::bad_request(
            format!("'defaultProgramId' names no existing program: {id}"),
        )
        .with_detail(ErrorDetail {
            error_code: "invalid.value".into(),
            field_name: Some("defaultProgramId".into()),
            entity_id: Some(id.to_string()),
            entity_name: None,
        })),
        _ => Ok(()),
    }
}

/// The id of the org's default program, if any.
pub fn default_program(store: &Store) -> Option<String> {
    store
        .singleton_field(&RESOURCE, "defaultProgramId")
        .and_then(|v| v.as_str().map(str::to_string))
        .filter(|id| !id.is_empty())
}

/// Forgets the default program (it was deleted with `forceDelete`).
pub fn clear_default_program(store: &mut Store) -> Result<(), ApiError> {
    store.set_singleton_field(&RESOURCE, "defaultProgramId", json!(""))
}

fn render(store: &Store, r: &Rec, _full: bool) -> Value {
    let mut m = Map::new();
    if let Some(id) = r.fields.get("defaultProgramId").and_then(Value::as_str)
        && !id.is_empty()
        && store.record(&program::RESOURCE, id).is_some()
    {
        m.insert(
            "defaultProgram".into(),
            json!({"id": id, "selfUri": format!("{}/{id}", program::RESOURCE.path)}),
        );
    }
    for key in [
        "expectedDialects",
        "textAnalyticsEnabled",
        "agentEmpathyEnabled",
    ] {
        if let Some(v) = r.fields.get(key) {
            m.insert(key.into(), v.clone());
        }
    }
    Value::Object(m)
}
