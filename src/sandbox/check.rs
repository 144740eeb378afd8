//! The toolkit the sandbox's kinds check request bodies with, by hand from
//! `serde_json::Value` (deliberately not the client's types, so a contract mistake
//! cannot hide on both sides). Hand checking also lets every 400 name the exact field
//! (`phrases[3].sentiment`) in its message and in `details[].fieldName`; a checker
//! collects every problem of a body so one 400 lists them all.

use serde_json::{Map, Value};

use super::error::{ApiError, ErrorDetail};

/// One thing wrong with a request body.
#[derive(Debug)]
pub struct Problem {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

/// Collects every problem of one body so a single 400 lists them all.
#[derive(Debug, Default)]
pub struct Checker {
    pub problems: Vec<Problem>,
}

fn path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

impl Checker {
    pub fn problem(&mut self, field: String, code: &'static str, message: String) {
        self.problems.push(Problem {
            field,
            code,
            message,
        });
    }

    pub fn keys(&mut self, obj: &Map<String, Value>, allowed: &[&str], prefix: &str) {
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
    pub fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
        obj.get(key).filter(|v| !v.is_null())
    }

    pub fn string(&mut self, obj: &Map<String, Value>, key: &str, prefix: &str) -> Option<String> {
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

    pub fn required_name(&mut self, obj: &Map<String, Value>, key: &str, prefix: &str) -> String {
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

    pub fn one_of(
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

    pub fn boolean(
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

    pub fn array<'a>(
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

    pub fn strings(
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

    pub fn object<'a>(&mut self, value: &'a Value, field: &str) -> Option<&'a Map<String, Value>> {
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

    pub fn finish<T>(self, value: T) -> Result<T, ApiError> {
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
