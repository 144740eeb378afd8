//! Categories (`/api/v2/speechandtextanalytics/categories`, SDK 269 `CategoryRequest`,
//! `StaCategory`, `Operand`, `Term`, `InfixOperator`, `OperandPosition`): request
//! validation of the criteria tree (every `topicId` must name a topic), response
//! shape, numbered pages of at most 25. A topic a category uses cannot be deleted.

use serde_json::{Map, Value, json};

use super::super::check::{Checker, parse_object};
use super::super::collection::{
    DeleteReply, Input, ListQuery, Paging, Rec, Resource, none, put_common, put_nonempty_str,
};
use super::super::error::{ApiError, ErrorDetail};
use super::super::store::Store;
use super::topic;

pub const INTERACTION_TYPES: [&str; 3] = ["Voice", "Digital", "All"];
pub const OPERAND_TYPES: [&str; 3] = ["Term", "Topic", "OperandGroup"];
pub const PARTICIPANT_TYPES: [&str; 3] = ["Internal", "External", "Both"];
pub const OPERATOR_TYPES: [&str; 3] = ["Or", "And", "Near"];
pub const DIRECTIONS: [&str; 2] = ["FromStart", "FromEnd"];
/// Nesting beyond this is refused (the SDK states no limit; a real tree is shallow).
const MAX_DEPTH: usize = 32;

pub static RESOURCE: Resource = Resource {
    label: "Category",
    dir: "categories",
    path: "/api/v2/speechandtextanalytics/categories",
    paging: Paging::Numbered {
        default_size: 25,
        page_number: true,
    },
    max_page_size: 25,
    create_status: 200,
    singleton: false,
    initial: none::initial,
    get_one: true,
    put: true,
    delete_all: false,
    publish: None,
    delete_reply: DeleteReply::NoContent,
    delete_params: &[],
    list_params: &["name", "ids", "sortBy", "sortOrder"],
    sort_by: &["name", "description"],
    parse,
    identity: none::name_identity,
    conflict: |name| format!("A category named '{name}' already exists"),
    check,
    after_write: none::after_write,
    before_delete: none::before_delete,
    after_delete: none::after_delete,
    render,
    refine_query,
    matches: none::matches,
    sort_prefix,
    upgrade: none::upgrade,
};

/// Validates a `CategoryRequest`.
fn parse(body: &[u8]) -> Result<Input, ApiError> {
    let obj = parse_object(body)?;
    let mut c = Checker::default();
    c.keys(
        &obj,
        &["name", "description", "interactionType", "criteria"],
        "",
    );
    let name = c.required_name(&obj, "name", "");
    let description = c.string(&obj, "description", "").unwrap_or_default();
    let interaction = c
        .one_of(&obj, "interactionType", "", &INTERACTION_TYPES, None)
        .unwrap_or_default();
    let criteria = match Checker::get(&obj, "criteria") {
        None => {
            c.problem(
                "criteria".into(),
                "missing.required.field",
                "'criteria' is required".into(),
            );
            Value::Null
        }
        Some(v) => operand(&mut c, v, "criteria", 0),
    };
    let mut fields = Map::new();
    fields.insert("name".into(), json!(name));
    fields.insert("description".into(), json!(description));
    fields.insert("interactionType".into(), json!(interaction));
    fields.insert("criteria".into(), criteria);
    c.finish(Input {
        fields,
        extra: Map::new(),
    })
}

/// One `Operand`, recursively; returns it as stored (as given, nulls dropped).
fn operand(c: &mut Checker, v: &Value, at: &str, depth: usize) -> Value {
    let Some(o) = c.object(v, at) else {
        return Value::Null;
    };
    if depth > MAX_DEPTH {
        c.problem(
            at.to_string(),
            "invalid.value",
            format!("'{at}' nests more than {MAX_DEPTH} levels"),
        );
        return Value::Null;
    }
    c.keys(
        o,
        &[
            "type",
            "occurrence",
            "inverted",
            "term",
            "topicId",
            "voiceSecondsPosition",
            "digitalWordsPosition",
            "infixOperator",
            "operands",
        ],
        at,
    );
    let kind = c
        .one_of(o, "type", at, &OPERAND_TYPES, None)
        .unwrap_or_default();
    let mut out = Map::new();
    out.insert("type".into(), json!(kind));
    if let Some(n) = Checker::get(o, "occurrence") {
        match n.as_u64() {
            Some(n) => {
                out.insert("occurrence".into(), json!(n));
            }
            None => c.problem(
                format!("{at}.occurrence"),
                "invalid.type",
                format!("'{at}.occurrence' must be a non-negative integer"),
            ),
        }
    }
    if Checker::get(o, "inverted").is_some() {
        let b = c.boolean(o, "inverted", at, false);
        out.insert("inverted".into(), json!(b));
    }
    match (kind.as_str(), Checker::get(o, "term")) {
        (_, Some(t)) => {
            let f = format!("{at}.term");
            if let Some(t) = c.object(t, &f) {
                c.keys(t, &["word", "participantType"], &f);
                let word = c.required_name(t, "word", &f);
                let who = c
                    .one_of(t, "participantType", &f, &PARTICIPANT_TYPES, None)
                    .unwrap_or_default();
                out.insert("term".into(), json!({"word": word, "participantType": who}));
            }
        }
        ("Term", None) => c.problem(
            format!("{at}.term"),
            "missing.required.field",
            format!("'{at}.term' is required for a Term operand"),
        ),
        _ => {}
    }
    match (kind.as_str(), c.string(o, "topicId", at)) {
        (_, Some(id)) => {
            out.insert("topicId".into(), json!(id));
        }
        ("Topic", None) => c.problem(
            format!("{at}.topicId"),
            "missing.required.field",
            format!("'{at}.topicId' is required for a Topic operand"),
        ),
        _ => {}
    }
    for key in ["voiceSecondsPosition", "digitalWordsPosition"] {
        if let Some(p) = Checker::get(o, key) {
            out.insert(key.into(), position(c, p, &format!("{at}.{key}")));
        }
    }
    if let Some(op) = Checker::get(o, "infixOperator") {
        let f = format!("{at}.infixOperator");
        if let Some(op) = c.object(op, &f) {
            c.keys(op, &["operatorType", "operatorPosition"], &f);
            let t = c
                .one_of(op, "operatorType", &f, &OPERATOR_TYPES, None)
                .unwrap_or_default();
            let mut m = Map::new();
            m.insert("operatorType".into(), json!(t));
            if let Some(p) = Checker::get(op, "operatorPosition") {
                let pf = format!("{f}.operatorPosition");
                if let Some(p) = c.object(p, &pf) {
                    c.keys(p, &["voiceSecondsPosition", "digitalWordsPosition"], &pf);
                    let mut pm = Map::new();
                    for key in ["voiceSecondsPosition", "digitalWordsPosition"] {
                        if let Some(n) = Checker::get(p, key) {
                            match n.as_u64() {
                                Some(n) => {
                                    pm.insert(key.into(), json!(n));
                                }
                                None => c.problem(
                                    format!("{pf}.{key}"),
                                    "invalid.type",
                                    format!("'{pf}.{key}' must be a non-negative integer"),
                                ),
                            }
                        }
                    }
                    m.insert("operatorPosition".into(), Value::Object(pm));
                }
            }
            out.insert("infixOperator".into(), Value::Object(m));
        }
    }
    match (kind.as_str(), c.array(o, "operands", at)) {
        (_, Some(items)) => {
            let children: Vec<Value> = items
                .iter()
                .enumerate()
                .map(|(i, item)| operand(c, item, &format!("{at}.operands[{i}]"), depth + 1))
                .collect();
            // Each operand's infixOperator applies it against the following one (SDK
            // 269 `InfixOperator`): operands with nothing joining them say nothing
            // Genesys can evaluate.
            let last = children.len().saturating_sub(1);
            for (i, child) in children.iter().enumerate() {
                if i < last && child.get("infixOperator").is_none() {
                    c.problem(
                        format!("{at}.operands[{i}].infixOperator"),
                        "missing.required.field",
                        format!(
                            "'{at}.operands[{i}].infixOperator' is required: it joins the operand to the next one"
                        ),
                    );
                }
            }
            if kind == "OperandGroup" && children.is_empty() {
                c.problem(
                    format!("{at}.operands"),
                    "invalid.value",
                    format!("'{at}.operands' must not be empty for an OperandGroup"),
                );
            }
            out.insert("operands".into(), Value::Array(children));
        }
        ("OperandGroup", None) => c.problem(
            format!("{at}.operands"),
            "missing.required.field",
            format!("'{at}.operands' is required for an OperandGroup"),
        ),
        _ => {}
    }
    Value::Object(out)
}

/// An `OperandPosition`.
fn position(c: &mut Checker, v: &Value, at: &str) -> Value {
    let Some(p) = c.object(v, at) else {
        return Value::Null;
    };
    let keys = [
        "startingPositionValue",
        "startingPositionDirection",
        "endingPositionValue",
        "endingPositionDirection",
    ];
    c.keys(p, &keys, at);
    let mut out = Map::new();
    for key in ["startingPositionValue", "endingPositionValue"] {
        if let Some(n) = Checker::get(p, key) {
            match n.as_u64() {
                Some(n) => {
                    out.insert(key.into(), json!(n));
                }
                None => c.problem(
                    format!("{at}.{key}"),
                    "invalid.type",
                    format!("'{at}.{key}' must be a non-negative integer"),
                ),
            }
        }
    }
    for key in ["startingPositionDirection", "endingPositionDirection"] {
        if let Some(d) = c
            .one_of(p, key, at, &DIRECTIONS, Some(""))
            .filter(|d| !d.is_empty())
        {
            out.insert(key.into(), json!(d));
        }
    }
    Value::Object(out)
}

/// Every `topicId` of a criteria tree, with its field path.
pub fn topic_ids(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    if let Some(id) = v.get("topicId").and_then(Value::as_str) {
        out.push((format!("{at}.topicId"), id.to_string()));
    }
    if let Some(Value::Array(items)) = v.get("operands") {
        for (i, item) in items.iter().enumerate() {
            topic_ids(item, &format!("{at}.operands[{i}]"), out);
        }
    }
}

/// Every `topicId` names an existing topic.
fn check(store: &Store, input: &Input, _id: Option<&str>) -> Result<(), ApiError> {
    let mut ids = Vec::new();
    if let Some(c) = input.fields.get("criteria") {
        topic_ids(c, "criteria", &mut ids);
    }
    for (field, id) in ids {
        if store.record(&topic::RESOURCE, &id).is_none() {
            return Err(
                ApiError::bad_request(format!("'{field}' names no existing topic: {id}"))
                    .with_detail(ErrorDetail {
                        error_code: "invalid.value".into(),
                        field_name: Some(field),
                        entity_id: Some(id),
                        entity_name: None,
                    }),
            );
        }
    }
    Ok(())
}

/// The categories whose criteria use a topic.
pub fn using_topic<'a>(store: &'a Store, topic_id: &str) -> Vec<&'a Rec> {
    store
        .records(&RESOURCE)
        .filter(|c| {
            let mut ids = Vec::new();
            if let Some(v) = c.fields.get("criteria") {
                topic_ids(v, "criteria", &mut ids);
            }
            ids.iter().any(|(_, t)| t == topic_id)
        })
        .collect()
}

fn render(_store: &Store, r: &Rec, _full: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("name".into(), json!(r.str("name")));
    put_nonempty_str(&mut m, "description", r.str("description"));
    m.insert("interactionType".into(), json!(r.str("interactionType")));
    m.insert(
        "criteria".into(),
        r.fields.get("criteria").cloned().unwrap_or(Value::Null),
    );
    m.insert("createdBy".into(), r.created_by());
    m.insert("dateCreated".into(), json!(r.date_created()));
    put_common(&mut m, &RESOURCE, r, true);
    Value::Object(m)
}

/// `ids` (at most 25) cannot be combined with other filters.
fn refine_query(pairs: &[(String, String)], q: &mut ListQuery) -> Result<(), ApiError> {
    if let Some(ids) = &q.ids {
        if ids.len() > 25 {
            return Err(ApiError::bad_field(
                "ids",
                format!("'ids' lists {} ids; at most 25 are allowed", ids.len()),
            ));
        }
        if pairs.iter().any(|(k, _)| k == "name") {
            return Err(ApiError::bad_field(
                "ids",
                "'ids' cannot be combined with other filters",
            ));
        }
    }
    Ok(())
}

fn sort_prefix(q: &ListQuery, r: &Rec) -> String {
    match q.sort_by.as_deref() {
        Some("description") => r.str("description").to_lowercase(),
        _ => String::new(),
    }
}
