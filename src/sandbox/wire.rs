//! Request bodies the sandbox accepts, written from SPEC 8.3-8.5 and checked by hand
//! from `serde_json::Value` (deliberately not the client's types, so a contract mistake
//! cannot hide on both sides). Hand checking also lets every 400 name the exact field
//! (`phrases[3].sentiment`) in its message and in `details[].fieldName`.

use serde_json::{Map, Value};

use super::error::{ApiError, ErrorDetail};

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
pub const MATCH_TYPES: [&str; 3] = ["exact", "fuzzy", "regex"];
pub const SCORING_TYPES: [&str; 2] = ["additive", "multiplicative"];
pub const CONDITIONS: [&str; 2] = ["pass", "fail"];

pub const MAX_TOPIC_PHRASES: usize = 1000;
pub const MAX_RULE_PHRASES: usize = 100;
/// SPEC 3: at most 500 topics per dialect per program.
pub const MAX_PROGRAM_TOPICS_PER_DIALECT: usize = 500;

/// A validated topic phrase.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopicPhrase {
    pub text: String,
    /// Absent unless the request set it (Genesys: "default value is null").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strictness: Option<String>,
    pub sentiment: String,
    /// Set by Genesys on phrases its AI suggested; kept as the request gave it.
    #[serde(
        default,
        rename = "isAIGenerated",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_ai_generated: Option<bool>,
}

/// A validated `POST /topics` / `PUT /topics/{id}` body.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicInput {
    pub name: String,
    pub description: String,
    pub strictness: String,
    pub matching_type: String,
    /// `Some` only when the request carried `programIds`: then it sets membership.
    pub program_ids: Option<Vec<String>>,
    pub tags: Vec<String>,
    pub dialect: String,
    pub participants: String,
    pub phrases: Vec<TopicPhrase>,
}

/// A validated `POST /programs` / `PUT /programs/{id}` body.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramInput {
    pub name: String,
    pub description: String,
    pub topic_ids: Vec<String>,
    pub tags: Vec<String>,
}

/// A validated speech rule phrase.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RulePhrase {
    pub phrase: String,
    pub match_type: String,
    pub case_sensitive: bool,
    pub enabled: bool,
}

/// A validated scoring directive.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scoring {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: f64,
    pub condition: String,
}

/// A validated `POST /api/v2/speech/rules` / `PUT .../{id}` body.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleInput {
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub language: String,
    pub phrases: Vec<RulePhrase>,
    pub scoring: Vec<Scoring>,
    pub tags: Vec<String>,
}

/// One thing wrong with a request body.
#[derive(Debug)]
struct Problem {
    field: String,
    code: &'static str,
    message: String,
}

/// Collects every problem of one body so a single 400 lists them all.
#[derive(Debug, Default)]
struct Checker {
    problems: Vec<Problem>,
}

fn path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

impl Checker {
    fn problem(&mut self, field: String, code: &'static str, message: String) {
        self.problems.push(Problem {
            field,
            code,
            message,
        });
    }

    fn keys(&mut self, obj: &Map<String, Value>, allowed: &[&str], prefix: &str) {
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                let f = path(prefix, key);
                self.problem(
                    f.clone(),
                    "unknown.field",
                    format!("Unrecognized field '{f}'; allowed: {}", allowed.join(", ")),
                );
            }
        }
    }

    /// A JSON null counts as absent, as Genesys's Jackson deserialiser treats it.
    fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
        obj.get(key).filter(|v| !v.is_null())
    }

    fn string(&mut self, obj: &Map<String, Value>, key: &str, prefix: &str) -> Option<String> {
        match Self::get(obj, key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                let f = path(prefix, key);
                self.problem(f.clone(), "invalid.type", format!("'{f}' must be a string"));
                None
            }
        }
    }

    fn required_name(&mut self, obj: &Map<String, Value>, key: &str, prefix: &str) -> String {
        let f = path(prefix, key);
        match self.string(obj, key, prefix) {
            Some(s) if !s.trim().is_empty() => s,
            Some(_) => {
                self.problem(
                    f.clone(),
                    "invalid.value",
                    format!("'{f}' must not be empty"),
                );
                String::new()
            }
            None => {
                if Self::get(obj, key).is_none() {
                    self.problem(
                        f.clone(),
                        "missing.required.field",
                        format!("'{f}' is required"),
                    );
                }
                String::new()
            }
        }
    }

    fn one_of(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        prefix: &str,
        allowed: &[&str],
        default: Option<&str>,
    ) -> Option<String> {
        let f = path(prefix, key);
        match self.string(obj, key, prefix) {
            Some(s) if allowed.contains(&s.as_str()) => Some(s),
            Some(s) => {
                self.problem(
                    f.clone(),
                    "invalid.value",
                    format!("'{f}' value '{s}' is not one of {}", allowed.join(", ")),
                );
                None
            }
            None => {
                if default.is_none() && Self::get(obj, key).is_none() {
                    self.problem(
                        f.clone(),
                        "missing.required.field",
                        format!("'{f}' is required"),
                    );
                }
                default.map(str::to_string)
            }
        }
    }

    fn boolean(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        prefix: &str,
        default: bool,
    ) -> bool {
        match Self::get(obj, key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                let f = path(prefix, key);
                self.problem(
                    f.clone(),
                    "invalid.type",
                    format!("'{f}' must be a boolean"),
                );
                default
            }
        }
    }

    fn array<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        prefix: &str,
    ) -> Option<&'a Vec<Value>> {
        match Self::get(obj, key) {
            None => None,
            Some(Value::Array(a)) => Some(a),
            Some(_) => {
                let f = path(prefix, key);
                self.problem(f.clone(), "invalid.type", format!("'{f}' must be an array"));
                None
            }
        }
    }

    fn strings(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        prefix: &str,
    ) -> Option<Vec<String>> {
        let items = self.array(obj, key, prefix)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => out.push(s.clone()),
                _ => {
                    let f = format!("{}[{i}]", path(prefix, key));
                    self.problem(f.clone(), "invalid.type", format!("'{f}' must be a string"));
                }
            }
        }
        Some(out)
    }

    fn object<'a>(&mut self, value: &'a Value, field: &str) -> Option<&'a Map<String, Value>> {
        match value {
            Value::Object(o) => Some(o),
            _ => {
                self.problem(
                    field.to_string(),
                    "invalid.type",
                    format!("'{field}' must be an object"),
                );
                None
            }
        }
    }

    fn finish<T>(self, value: T) -> Result<T, ApiError> {
        if self.problems.is_empty() {
            return Ok(value);
        }
        drop(value);
        let message = if self.problems.len() == 1 {
            self.problems[0].message.clone()
        } else {
            let all: Vec<&str> = self.problems.iter().map(|p| p.message.as_str()).collect();
            format!("{} problems in the request: {}", all.len(), all.join("; "))
        };
        let mut err = ApiError::bad_request(message);
        for p in self.problems {
            err.details.push(ErrorDetail::field(p.code, p.field));
        }
        Err(err)
    }
}

/// Parses a request body as a JSON object; garbage is a 400, never a panic.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("A request body is required"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(ApiError::bad_request(
            "The request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

/// Phrase identity within a topic: case-insensitive, whitespace collapsed (SPEC 3).
pub fn phrase_key(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Validates a topic request (SPEC 8.3 TopicRequest).
pub fn topic_input(body: &[u8]) -> Result<TopicInput, ApiError> {
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
    let mut phrases = Vec::new();
    match c.array(&obj, "phrases", "") {
        None => {
            if Checker::get(&obj, "phrases").is_none() {
                c.problem(
                    "phrases".into(),
                    "missing.required.field",
                    "'phrases' is required".into(),
                );
            }
        }
        Some(items) => {
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
            let mut seen = std::collections::HashSet::new();
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
                phrases.push(TopicPhrase {
                    text,
                    strictness: strictness.filter(|s| !s.is_empty()),
                    sentiment,
                    is_ai_generated,
                });
            }
        }
    }
    c.finish(TopicInput {
        name,
        description,
        strictness,
        matching_type,
        program_ids,
        tags,
        dialect,
        participants,
        phrases,
    })
}

/// Validates a program request (SPEC 8.4).
pub fn program_input(body: &[u8]) -> Result<ProgramInput, ApiError> {
    let obj = parse_object(body)?;
    let mut c = Checker::default();
    c.keys(&obj, &["name", "description", "topicIds", "tags"], "");
    let name = c.required_name(&obj, "name", "");
    let description = c.string(&obj, "description", "").unwrap_or_default();
    let topic_ids = c.strings(&obj, "topicIds", "").unwrap_or_default();
    let tags = c.strings(&obj, "tags", "").unwrap_or_default();
    c.finish(ProgramInput {
        name,
        description,
        topic_ids,
        tags,
    })
}

/// A language tag such as `en-US`: letters, then alphanumeric subtags.
fn plausible_language(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or_default();
    (2..=3).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Validates a speech rule request (SPEC 8.5 and the origin tutorial's constraints).
pub fn rule_input(body: &[u8]) -> Result<RuleInput, ApiError> {
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

    let phrases = rule_phrases(&mut c, &obj);
    let scoring = rule_scoring(&mut c, &obj);
    c.finish(RuleInput {
        name,
        description,
        enabled,
        language,
        phrases,
        scoring,
        tags,
    })
}

/// The `phrases` of a speech rule: 1 to 1,000, none repeated, no exact phrase
/// contained in another.
fn rule_phrases(c: &mut Checker, obj: &Map<String, Value>) -> Vec<RulePhrase> {
    let mut phrases: Vec<RulePhrase> = Vec::new();
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
                if let Some(p) = rule_phrase(c, item, i, &phrases) {
                    phrases.push(p);
                }
            }
        }
    }
    phrases
}

/// One entry of `phrases`, checked against the ones before it.
fn rule_phrase(
    c: &mut Checker,
    item: &Value,
    i: usize,
    phrases: &[RulePhrase],
) -> Option<RulePhrase> {
    let prefix = format!("phrases[{i}]");
    let p = c.object(item, &prefix)?;
    c.keys(
        p,
        &["phrase", "matchType", "caseSensitive", "enabled"],
        &prefix,
    );
    let phrase = c.required_name(p, "phrase", &prefix);
    let match_type = c
        .one_of(p, "matchType", &prefix, &MATCH_TYPES, Some("exact"))
        .unwrap_or_default();
    let case_sensitive = c.boolean(p, "caseSensitive", &prefix, false);
    let enabled = c.boolean(p, "enabled", &prefix, true);
    if match_type == "regex"
        && let Err(e) = regex::Regex::new(&phrase)
    {
        c.problem(
            format!("{prefix}.phrase"),
            "invalid.value",
            format!("'{prefix}.phrase' is not a valid regex: {e}"),
        );
    }
    let lower = phrase.to_lowercase();
    for (j, earlier) in phrases.iter().enumerate() {
        let other = earlier.phrase.to_lowercase();
        if lower.is_empty() || other.is_empty() {
            return None;
        }
        if other == lower {
            c.problem(
                format!("{prefix}.phrase"),
                "duplicate.value",
                format!("'{prefix}.phrase' duplicates phrases[{j}]: {phrase}"),
            );
        } else if match_type == "exact"
            && earlier.match_type == "exact"
            && (other.contains(&lower) || lower.contains(&other))
        {
            c.problem(
                format!("{prefix}.phrase"),
                "ambiguous.overlap",
                format!(
                    "'{prefix}.phrase' overlaps phrases[{j}]: '{phrase}' and '{}'",
                    earlier.phrase
                ),
            );
        }
    }
    Some(RulePhrase {
        phrase,
        match_type,
        case_sensitive,
        enabled,
    })
}

/// The optional `scoring` entries of a speech rule.
fn rule_scoring(c: &mut Checker, obj: &Map<String, Value>) -> Vec<Scoring> {
    let mut scoring = Vec::new();
    if let Some(items) = c.array(obj, "scoring", "") {
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
            scoring.push(Scoring {
                kind,
                value,
                condition,
            });
        }
    }
    scoring
}

/// Validates a publish job body: `{"topicIds": [...]}` or `{"programIds": [...]}`.
pub fn publish_input(body: &[u8], key: &str) -> Result<Vec<String>, ApiError> {
    let obj = parse_object(body)?;
    let mut c = Checker::default();
    c.keys(&obj, &[key], "");
    let ids = c.strings(&obj, key, "").unwrap_or_default();
    if ids.is_empty() && !c.problems.iter().any(|p| p.field.starts_with(key)) {
        c.problem(
            key.to_string(),
            "missing.required.field",
            format!("'{key}' must list at least one id"),
        );
    }
    c.finish(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bytes(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap_or_default()
    }

    #[test]
    fn topic_defaults_are_filled() {
        let t = topic_input(&bytes(json!({
            "name": "A", "dialect": "en-US", "phrases": [{"text": "hello there"}]
        })))
        .map_err(|e| e.message)
        .unwrap_or_else(|m| panic!("{m}"));
        assert_eq!(t.strictness, "72");
        assert_eq!(t.participants, "All");
        assert_eq!(t.phrases[0].sentiment, "Unspecified");
        assert_eq!(t.phrases[0].strictness, None);
        assert_eq!(t.program_ids, None);
    }

    #[test]
    fn nested_unknown_field_is_named() {
        let e = topic_input(&bytes(json!({
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
    fn rule_overlap_and_weight_are_rejected() {
        let e = rule_input(&bytes(json!({
            "name": "R",
            "phrases": [{"phrase": "may be recorded"}, {"phrase": "this call may be recorded"}],
            "scoring": [{"type": "additive", "value": 1.5}]
        })))
        .err()
        .unwrap_or_else(|| panic!("accepted"));
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

    #[test]
    fn garbage_is_a_400() {
        assert!(topic_input(b"{not json").is_err());
        assert!(topic_input(b"[1,2]").is_err());
        assert!(topic_input(b"").is_err());
    }
}
