//! Speech rules (`/api/v2/speech/rules`, the origin tutorial's API; not in the SDK):
//! request validation (the tutorial's constraints) and response shape. Numbered
//! pages answered with `pageNumber`; not published.

use serde_json::{Map, Value, json};

use super::super::check::{Checker, parse_object};
use super::super::collection::{
    DeleteReply, Input, Paging, Rec, Resource, by, none, put_nonempty_list, put_nonempty_str,
};
use super::super::error::ApiError;
use super::super::ids;
use super::super::store::Store;

pub const MATCH_TYPES: [&str; 3] = ["exact", "fuzzy", "regex"];
pub const SCORING_TYPES: [&str; 2] = ["additive", "multiplicative"];
pub const CONDITIONS: [&str; 2] = ["pass", "fail"];
pub const MAX_RULE_PHRASES: usize = 100;

pub static RESOURCE: Resource = Resource {
    label: "Speech rule",
    dir: "rules",
    path: "/api/v2/speech/rules",
    paging: Paging::Plain { default_size: 25 },
    max_page_size: 500,
    create_status: 200,
    singleton: false,
    initial: none::initial,
    get_one: true,
    put: true,
    delete_all: false,
    publish: None,
    delete_reply: DeleteReply::NoContent,
    delete_params: &[],
    list_params: &[],
    sort_by: &[],
    parse,
    identity: none::name_identity,
    conflict: |name| format!("Rule name conflict: {name} already exists"),
    check: none::check,
    after_write: none::after_write,
    before_delete: none::before_delete,
    after_delete: none::after_delete,
    render,
    refine_query: none::refine_query,
    matches: none::matches,
    sort_prefix: none::sort_prefix,
    upgrade: none::upgrade,
};

/// A language tag such as `en-US`: letters, then alphanumeric subtags.
fn plausible_language(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or_default();
    (2..=3).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Validates a speech rule request (SPEC 8.5 and the origin tutorial's constraints).
fn parse(body: &[u8]) -> Result<Input, ApiError> {
    let obj = parse_object(body)?;
    let mut c = Checker::default();
    c.keys(
        &obj,
        &[
            "name",
            "description",
            "enabled",
            "language",
            "phrases",
            "scoring",
            "tags",
        ],
        "",
    );
    let name = c.required_name(&obj, "name", "");
    let description = c.string(&obj, "description", "").unwrap_or_default();
    let enabled = c.boolean(&obj, "enabled", "", true);
    let language = c
        .string(&obj, "language", "")
        .unwrap_or_else(|| "en-US".to_string());
    if !plausible_language(&language) {
        c.problem(
            "language".into(),
            "invalid.value",
            format!("'language' value '{language}' is not a language tag such as en-US"),
        );
    }
    let tags = c.strings(&obj, "tags", "").unwrap_or_default();
    let phrases = phrases(&mut c, &obj);
    let scoring = scoring(&mut c, &obj);
    let mut fields = Map::new();
    fields.insert("name".into(), json!(name));
    fields.insert("description".into(), json!(description));
    fields.insert("enabled".into(), json!(enabled));
    fields.insert("language".into(), json!(language));
    fields.insert("phrases".into(), Value::Array(phrases));
    fields.insert("scoring".into(), Value::Array(scoring));
    fields.insert("tags".into(), json!(tags));
    c.finish(Input {
        fields,
        extra: Map::new(),
    })
}

/// A checked phrase: text, match type and the stored JSON.
struct Phrase {
    text: String,
    match_type: String,
}

/// The `phrases` of a speech rule: 1 to 100, none repeated, no exact phrase
/// contained in another.
fn phrases(c: &mut Checker, obj: &Map<String, Value>) -> Vec<Value> {
    let mut checked: Vec<Phrase> = Vec::new();
    let mut out = Vec::new();
    match c.array(obj, "phrases", "") {
        None => {
            if Checker::get(obj, "phrases").is_none() {
                c.problem(
                    "phrases".into(),
                    "missing.required.field",
                    "'phrases' is required".into(),
                );
            }
        }
        Some(items) => {
            if items.is_empty() || items.len() > MAX_RULE_PHRASES {
                c.problem(
                    "phrases".into(),
                    "invalid.value",
                    format!(
                        "'phrases' must have 1 to {MAX_RULE_PHRASES} entries, got {}",
                        items.len()
                    ),
                );
            }
            for (i, item) in items.iter().enumerate() {
                if let Some((p, json)) = phrase(c, item, i, &checked) {
                    checked.push(p);
                    out.push(json);
                }
            }
        }
    }
    out
}

/// One entry of `phrases`, checked against the ones before it.
fn phrase(c: &mut Checker, item: &Value, i: usize, earlier: &[Phrase]) -> Option<(Phrase, Value)> {
    let prefix = format!("phrases[{i}]");
    let p = c.object(item, &prefix)?;
    c.keys(
        p,
        &["phrase", "matchType", "caseSensitive", "enabled"],
        &prefix,
    );
    let text = c.required_name(p, "phrase", &prefix);
    let match_type = c
        .one_of(p, "matchType", &prefix, &MATCH_TYPES, Some("exact"))
        .unwrap_or_default();
    let case_sensitive = c.boolean(p, "caseSensitive", &prefix, false);
    let enabled = c.boolean(p, "enabled", &prefix, true);
    if match_type == "regex"
        && let Err(e) = regex::Regex::new(&text)
    {
        c.problem(
            format!("{prefix}.phrase"),
            "invalid.value",
            format!("'{prefix}.phrase' is not a valid regex: {e}"),
        );
    }
    let lower = text.to_lowercase();
    for (j, e) in earlier.iter().enumerate() {
        let other = e.text.to_lowercase();
        if lower.is_empty() || other.is_empty() {
            return None;
        }
        if other == lower {
            c.problem(
                format!("{prefix}.phrase"),
                "duplicate.value",
                format!("'{prefix}.phrase' duplicates phrases[{j}]: {text}"),
            );
        } else if match_type == "exact"
            && e.match_type == "exact"
            && (other.contains(&lower) || lower.contains(&other))
        {
            c.problem(
                format!("{prefix}.phrase"),
                "ambiguous.overlap",
                format!(
                    "'{prefix}.phrase' overlaps phrases[{j}]: '{text}' and '{}'",
                    e.text
                ),
            );
        }
    }
    let json = json!({
        "phrase": text,
        "matchType": match_type,
        "caseSensitive": case_sensitive,
        "enabled": enabled,
    });
    Some((Phrase { text, match_type }, json))
}

/// The optional `scoring` entries of a speech rule.
fn scoring(c: &mut Checker, obj: &Map<String, Value>) -> Vec<Value> {
    let mut out = Vec::new();
    let Some(items) = c.array(obj, "scoring", "") else {
        return out;
    };
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("scoring[{i}]");
        let Some(s) = c.object(item, &prefix) else {
            continue;
        };
        c.keys(s, &["type", "value", "condition"], &prefix);
        let kind = c
            .one_of(s, "type", &prefix, &SCORING_TYPES, None)
            .unwrap_or_default();
        let condition = c
            .one_of(s, "condition", &prefix, &CONDITIONS, Some("pass"))
            .unwrap_or_default();
        let field = format!("{prefix}.value");
        let value = match Checker::get(s, "value") {
            None => {
                c.problem(
                    field.clone(),
                    "missing.required.field",
                    format!("'{field}' is required"),
                );
                0.0
            }
            Some(Value::Number(n)) => match n.as_f64() {
                Some(v) if v.is_finite() && (-1.0..=1.0).contains(&v) => v,
                _ => {
                    c.problem(
                        field.clone(),
                        "invalid.value",
                        format!("'{field}' must be between -1.0 and 1.0, got {n}"),
                    );
                    0.0
                }
            },
            Some(_) => {
                c.problem(
                    field.clone(),
                    "invalid.type",
                    format!("'{field}' must be a number"),
                );
                0.0
            }
        };
        out.push(json!({"type": kind, "value": value, "condition": condition}));
    }
    out
}

fn render(_store: &Store, r: &Rec, _full: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("name".into(), json!(r.str("name")));
    put_nonempty_str(&mut m, "description", r.str("description"));
    m.insert(
        "enabled".into(),
        r.fields.get("enabled").cloned().unwrap_or(json!(true)),
    );
    m.insert("language".into(), json!(r.str("language")));
    m.insert(
        "phrases".into(),
        r.fields.get("phrases").cloned().unwrap_or(json!([])),
    );
    put_nonempty_list(&mut m, "scoring", r.fields.get("scoring"));
    put_nonempty_list(&mut m, "tags", r.fields.get("tags"));
    m.insert(
        "dateModified".into(),
        json!(ids::format_ms(r.date_modified_ms)),
    );
    m.insert("modifiedBy".into(), by(&r.modified_by));
    m.insert(
        "selfUri".into(),
        json!(format!("{}/{}", RESOURCE.path, r.id)),
    );
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_overlap_and_weight_are_rejected() {
        let body = serde_json::to_vec(&json!({
            "name": "R",
            "phrases": [{"phrase": "may be recorded"}, {"phrase": "this call may be recorded"}],
            "scoring": [{"type": "additive", "value": 1.5}]
        }))
        .unwrap_or_default();
        let e = parse(&body).err().unwrap_or_else(|| panic!("accepted"));
        let fields: Vec<_> = e
            .details
            .iter()
            .filter_map(|d| d.field_name.clone())
            .collect();
        assert!(
            fields.contains(&"phrases[1].phrase".to_string()),
            "{fields:?}"
        );
        assert!(
            fields.contains(&"scoring[0].value".to_string()),
            "{fields:?}"
        );
    }
}
