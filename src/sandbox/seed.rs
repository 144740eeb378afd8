//! The sandbox's seed file (SPEC 9): routing queues and Architect flows (read only) and
//! sample transcripts, from which the detection routes (transcript aggregates and
//! topic test-phrase jobs) count matches with the rule of [`crate::detect`]. YAML or
//! JSON. A transcript's `startTime` is RFC 3339, or an age before the sandbox started
//! (`-36h`, `-2d`), so a committed seed never falls out of "the last 7 days".

use std::path::Path;

use serde::Deserialize;

use super::SandboxError;
use super::ids;
use crate::detect::{Speaker, Utterance};

/// A seed file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    #[serde(default)]
    pub queues: Vec<NamedSeed>,
    #[serde(default)]
    pub flows: Vec<FlowSeed>,
    #[serde(default)]
    pub transcripts: Vec<TranscriptSeed>,
    /// Quality evaluation forms whose answer options' assistance conditions name
    /// topics (SDK 269 `AnswerOption.assistanceConditions[].topicIds`), by name.
    #[serde(default, rename = "evaluationForms")]
    pub evaluation_forms: Vec<FormSeed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormSeed {
    pub name: String,
    pub id: Option<String>,
    /// Topic names; `{name, dialect}` where the name is in several dialects.
    #[serde(default)]
    pub topics: Vec<FormTopic>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FormTopic {
    Name(String),
    Qualified { name: String, dialect: String },
}

/// A seeded evaluation form: its id, name and the `(topic name, dialect)`s it uses
/// (no dialect: the name in any dialect).
#[derive(Debug, Clone)]
pub struct EvaluationForm {
    pub id: String,
    pub name: String,
    pub topics: Vec<(String, Option<String>)>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedSeed {
    pub name: String,
    pub id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSeed {
    pub name: String,
    #[serde(rename = "type")]
    pub flow_type: String,
    pub id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TranscriptSeed {
    pub conversation_id: String,
    pub communication_id: String,
    pub media_type: String,
    pub dialect: String,
    pub queue_id: Option<String>,
    pub flow_id: Option<String>,
    pub start_time: String,
    pub utterances: Vec<UtteranceSeed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UtteranceSeed {
    pub participant: Speaker,
    pub text: String,
}

/// A transcript ready to match.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub conversation_id: String,
    pub communication_id: String,
    pub media_type: String,
    pub dialect: String,
    pub queue_id: Option<String>,
    pub flow_id: Option<String>,
    pub start_ms: i64,
    pub utterances: Vec<Utterance>,
}

/// The seeded org data.
#[derive(Debug, Clone, Default)]
pub struct Seed {
    pub queues: Vec<(String, String)>,
    pub flows: Vec<(String, String, String)>,
    pub transcripts: Vec<Transcript>,
    pub evaluation_forms: Vec<EvaluationForm>,
}

/// Reads a seed file; `now_ms` anchors relative start times.
pub fn load(path: &Path, now_ms: i64) -> Result<Seed, SandboxError> {
    let bad = |message: String| SandboxError::Data {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let file: SeedFile = serde_saphyr::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let mut seq = 0u64;
    let mut id = |given: &Option<String>, salt: u64| {
        seq += 1;
        given.clone().unwrap_or_else(|| ids::uuid_like(salt, seq))
    };
    let queues = file
        .queues
        .iter()
        .map(|q| (id(&q.id, 0x51), q.name.clone()))
        .collect();
    let flows = file
        .flows
        .iter()
        .map(|f| (id(&f.id, 0xF1), f.name.clone(), f.flow_type.clone()))
        .collect();
    let evaluation_forms = file
        .evaluation_forms
        .iter()
        .map(|f| EvaluationForm {
            id: id(&f.id, 0xEF),
            name: f.name.clone(),
            topics: f
                .topics
                .iter()
                .map(|t| match t {
                    FormTopic::Name(n) => (n.clone(), None),
                    FormTopic::Qualified { name, dialect } => (name.clone(), Some(dialect.clone())),
                })
                .collect(),
        })
        .collect();
    let mut transcripts = Vec::with_capacity(file.transcripts.len());
    for (i, t) in file.transcripts.into_iter().enumerate() {
        let start_ms = start_ms(&t.start_time, now_ms).ok_or_else(|| {
            bad(format!(
                "transcripts[{i}].startTime {:?} is neither RFC 3339 nor an age like -2d",
                t.start_time
            ))
        })?;
        transcripts.push(Transcript {
            conversation_id: t.conversation_id,
            communication_id: t.communication_id,
            media_type: t.media_type,
            dialect: t.dialect,
            queue_id: t.queue_id,
            flow_id: t.flow_id,
            start_ms,
            utterances: t
                .utterances
                .into_iter()
                .map(|u| Utterance {
                    speaker: u.participant,
                    text: u.text,
                })
                .collect(),
        });
    }
    Ok(Seed {
        queues,
        flows,
        transcripts,
        evaluation_forms,
    })
}

/// RFC 3339, or `-N[smhd]` before `now_ms`.
fn start_ms(text: &str, now_ms: i64) -> Option<i64> {
    if let Some(age) = text.strip_prefix('-') {
        let split = age.find(|c: char| !c.is_ascii_digit())?;
        let (n, unit) = age.split_at(split);
        let n: i64 = n.parse().ok()?;
        let unit_ms: i64 = match unit {
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        return now_ms.checked_sub(n.checked_mul(unit_ms)?);
    }
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// One page of `GET /api/v2/routing/queues` or `GET /api/v2/flows`: objects whose name
/// contains `name` (case-insensitive), numbered pages, shaped like the SDK's
/// `QueueEntityListing` / `FlowEntityListing` (each entity `{id, name, selfUri}`, flows
/// with `type`).
/// How a listing's `name` filter matches.
#[derive(Debug, Clone, Copy)]
pub enum NameFilter {
    /// A case-insensitive substring (flows).
    Contains,
    /// The name itself, case-insensitively, unless it has leading or trailing
    /// asterisks (SDK 269 `RoutingApi.get_routing_queues`: "Include only queues with
    /// the given name (leading and trailing asterisks allowed)").
    Exact,
}

impl NameFilter {
    fn matches(self, filter: &str, name: &str) -> bool {
        let (filter, name) = (filter.to_lowercase(), name.to_lowercase());
        match self {
            NameFilter::Contains => name.contains(&filter),
            NameFilter::Exact => {
                let lead = filter.starts_with('*');
                let trail = filter.len() > 1 && filter.ends_with('*');
                let core = filter.trim_matches('*');
                match (lead, trail) {
                    (true, true) => name.contains(core),
                    (true, false) => name.ends_with(core),
                    (false, true) => name.starts_with(core),
                    (false, false) => name == core,
                }
            }
        }
    }
}

pub fn listing(
    items: &[(String, String, Option<String>)],
    path: &str,
    name: Option<(&str, NameFilter)>,
    page_size: usize,
    page_number: usize,
) -> serde_json::Value {
    let hits: Vec<&(String, String, Option<String>)> = items
        .iter()
        .filter(|(_, n, _)| name.is_none_or(|(filter, how)| how.matches(filter, n)))
        .collect();
    let total = hits.len();
    let entities: Vec<serde_json::Value> = hits
        .iter()
        .skip(page_number.saturating_sub(1).saturating_mul(page_size))
        .take(page_size)
        .map(|(id, n, flow_type)| {
            let mut e = serde_json::json!({"id": id, "name": n, "selfUri": format!("{path}/{id}")});
            if let (Some(t), serde_json::Value::Object(m)) = (flow_type, &mut e) {
                m.insert("type".into(), serde_json::json!(t));
            }
            e
        })
        .collect();
    serde_json::json!({
        "entities": entities,
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": total,
        "pageCount": total.div_ceil(page_size.max(1)),
        "selfUri": format!("{path}?pageSize={page_size}&pageNumber={page_number}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_are_absolute_or_ages() {
        assert_eq!(
            start_ms("-2d", 200_000_000),
            Some(200_000_000 - 172_800_000)
        );
        assert_eq!(start_ms("1970-01-01T00:00:01Z", 0), Some(1000));
        assert_eq!(start_ms("-2y", 0), None);
        assert_eq!(start_ms("yesterday", 0), None);
    }
}
