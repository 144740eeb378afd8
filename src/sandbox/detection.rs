//! The sandbox's detection numbers (SPEC 8.8, 9): `POST
//! /api/v2/analytics/transcripts/aggregates/query` (communications per topic) and topic
//! test-phrase jobs, computed from the seeded transcripts with the matching rule of
//! [`crate::detect`]. Request bodies are checked by hand from JSON, as in `wire.rs`.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::ids;
use super::seed::{Seed, Transcript};
use crate::detect;

/// SDK 269 `TranscriptAggregationQuery` fields.
const QUERY_FIELDS: [&str; 12] = [
    "interval",
    "granularity",
    "timeZone",
    "groupBy",
    "filter",
    "metrics",
    "flattenMultivaluedDimensions",
    "views",
    "alternateTimeDimension",
    "queryType",
    "sortMetric",
    "limit",
];

/// SDK 269 metrics of the transcript aggregates.
const METRICS: [&str; 11] = [
    "nSpeechTextAnalyzedConversations",
    "nTopicCommunications",
    "oCustomerSentiment",
    "oOverTalkSpeechInstances",
    "oSentimentScore",
    "tAgentSpeech",
    "tCustomerSpeech",
    "tOtherAudio",
    "tOverTalkSpeech",
    "tSilence",
    "tTotalSpeechAndSilence",
];

fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!("the body is not JSON: {e}"))),
    }
}

fn unknown(obj: &Map<String, Value>, allowed: &[&str], prefix: &str) -> Result<(), ApiError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::bad_field(
            &format!("{prefix}{k}"),
            format!("Unrecognized field '{prefix}{k}'"),
        )),
        None => Ok(()),
    }
}

/// A query's required `interval` (`START/END`, ISO-8601) in epoch milliseconds.
pub(super) fn query_interval(q: &serde_json::Map<String, Value>) -> Result<(i64, i64), ApiError> {
    let interval = q
        .get("interval")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_field("interval", "'interval' is required"))?;
    interval
        .split_once('/')
        .and_then(|(a, b)| Some((parse_instant(a)?, parse_instant(b)?)))
        .ok_or_else(|| ApiError::bad_field("interval", "'interval' must be START/END in ISO-8601"))
}

pub(super) fn parse_instant(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// A predicate over one transcript and one topic id.
struct Predicate {
    dimension: String,
    value: String,
}

impl Predicate {
    fn holds(&self, t: &Transcript, topic_id: &str) -> bool {
        match self.dimension.as_str() {
            "topicId" => topic_id == self.value,
            "mediaType" => t.media_type == self.value,
            "queueId" => t.queue_id.as_deref() == Some(self.value.as_str()),
            "flowId" => t.flow_id.as_deref() == Some(self.value.as_str()),
            "conversationId" => t.conversation_id == self.value,
            _ => true,
        }
    }
}

/// `{type: and|or, predicates: [{dimension, value}]}` (one level, as speechops sends).
fn filter(v: Option<&Value>) -> Result<Option<(bool, Vec<Predicate>)>, ApiError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Value::Object(f) = v else {
        return Err(ApiError::bad_field("filter", "'filter' must be an object"));
    };
    unknown(f, &["type", "clauses", "predicates"], "filter.")?;
    let and = match f.get("type").and_then(Value::as_str) {
        Some("and") => true,
        Some("or") => false,
        _ => {
            return Err(ApiError::bad_field(
                "filter.type",
                "'filter.type' must be and or or",
            ));
        }
    };
    let mut preds = Vec::new();
    for (i, p) in f
        .get("predicates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Value::Object(p) = p else {
            return Err(ApiError::bad_field(
                &format!("filter.predicates[{i}]"),
                "a predicate must be an object",
            ));
        };
        unknown(
            p,
            &["type", "dimension", "operator", "value", "range"],
            &format!("filter.predicates[{i}]."),
        )?;
        let dimension = p
            .get("dimension")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let value = p
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        preds.push(Predicate { dimension, value });
    }
    Ok(Some((and, preds)))
}

/// An ISO-8601 period as milliseconds: `P1D`, `P7D`, `PT1H`, `PT30M`, `P1W` (months and
/// years are not fixed lengths and are refused).
fn period_ms(p: &str) -> Option<i64> {
    let rest = p.strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut total: i64 = 0;
    let mut add = |part: &str, units: &[(char, i64)]| -> Option<()> {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
            } else {
                let (_, ms) = units.iter().find(|(u, _)| *u == c)?;
                let n: i64 = num.parse().ok()?;
                total = total.checked_add(n.checked_mul(*ms)?)?;
                num.clear();
            }
        }
        num.is_empty().then_some(())
    };
    add(date, &[('W', 7 * 86_400_000), ('D', 86_400_000)])?;
    add(time, &[('H', 3_600_000), ('M', 60_000), ('S', 1_000)])?;
    (total > 0).then_some(total)
}

/// Answers a transcripts aggregates query: `nTopicCommunications` per `topicId` over
/// the interval, in one bucket per `granularity` (an ISO-8601 period such as `P1D`;
/// absent: the whole interval), as Genesys's aggregates answer.
pub fn aggregates(
    body: &[u8],
    seed: &Seed,
    topics: &[(String, String, String, Vec<String>)],
) -> Result<Value, ApiError> {
    let q = object(body)?;
    unknown(&q, &QUERY_FIELDS, "")?;
    let (from, to) = query_interval(&q)?;
    let interval = q
        .get("interval")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let metrics: Vec<&str> = q
        .get("metrics")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_field("metrics", "'metrics' is required"))?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if let Some(bad) = metrics.iter().find(|m| !METRICS.contains(m)) {
        return Err(ApiError::bad_field(
            "metrics",
            format!("'metrics' value '{bad}' is not a transcript metric"),
        ));
    }
    let by_topic = q
        .get("groupBy")
        .and_then(Value::as_array)
        .is_some_and(|g| g.iter().any(|d| d.as_str() == Some("topicId")));
    let step = match q.get("granularity") {
        None | Some(Value::Null) => None,
        Some(Value::String(g)) => Some(period_ms(g).ok_or_else(|| {
            ApiError::bad_field(
                "granularity",
                format!(
                    "'granularity' value '{g}' is not an ISO-8601 period of days, hours or minutes"
                ),
            )
        })?),
        Some(_) => {
            return Err(ApiError::bad_field(
                "granularity",
                "'granularity' must be a string",
            ));
        }
    };
    // Bucket boundaries: [from, from+step), …, the last one cut at `to`; at most 10,000.
    let mut buckets: Vec<(i64, i64)> = Vec::new();
    match step {
        None => buckets.push((from, to)),
        Some(step) => {
            let mut start = from;
            while start < to && buckets.len() < 10_000 {
                let end = start.saturating_add(step).min(to);
                buckets.push((start, end));
                start = end;
            }
        }
    }
    let filter = filter(q.get("filter"))?;
    let keep = |t: &Transcript, topic_id: &str| match &filter {
        None => true,
        Some((true, ps)) => ps.iter().all(|p| p.holds(t, topic_id)),
        Some((false, ps)) => ps.is_empty() || ps.iter().any(|p| p.holds(t, topic_id)),
    };
    // Communications, not transcripts: two transcripts of one communication count once.
    // Per bucket: communications per topic.
    let mut counts: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let mut totals: Vec<u64> = vec![0; buckets.len()];
    if metrics.contains(&"nTopicCommunications") {
        for (b, (start, end)) in buckets.iter().enumerate() {
            let mut seen: std::collections::HashSet<(&str, &str)> =
                std::collections::HashSet::new();
            for t in seed
                .transcripts
                .iter()
                .filter(|t| t.start_ms >= *start && t.start_ms < *end)
            {
                for (id, dialect, participants, phrases) in topics {
                    if keep(t, id)
                        && phrases.iter().any(|p| {
                            detect::phrase_matches(
                                p,
                                participants,
                                dialect,
                                &t.dialect,
                                &t.utterances,
                            )
                        })
                        && seen.insert((id.as_str(), t.communication_id.as_str()))
                    {
                        let slot = counts
                            .entry(id.as_str())
                            .or_insert_with(|| vec![0; buckets.len()]);
                        if let Some(n) = slot.get_mut(b) {
                            *n += 1;
                        }
                        if let Some(n) = totals.get_mut(b) {
                            *n += 1;
                        }
                    }
                }
            }
        }
    }
    let bucket_interval = |(start, end): (i64, i64)| {
        if step.is_none() {
            interval.to_string()
        } else {
            format!("{}/{}", ids::format_ms(start), ids::format_ms(end))
        }
    };
    // Buckets with nothing in them are left out, as Genesys leaves them out.
    let data = |per_bucket: &[u64]| -> Vec<Value> {
        buckets
            .iter()
            .zip(per_bucket)
            .filter(|(_, n)| step.is_none() || **n > 0)
            .map(|(b, n)| {
                json!({
                    "interval": bucket_interval(*b),
                    "metrics": [{"metric": "nTopicCommunications", "stats": {"count": n}}],
                })
            })
            .collect()
    };
    let results: Vec<Value> = if by_topic {
        counts
            .iter()
            .map(|(id, n)| json!({"group": {"topicId": id}, "data": data(n)}))
            .collect()
    } else if metrics.contains(&"nTopicCommunications") {
        vec![json!({"group": {}, "data": data(&totals)})]
    } else {
        Vec::new()
    };
    Ok(json!({ "results": results }))
}

/// A test-phrase job: completes on its second read, as publish jobs do.
#[derive(Debug, Clone)]
pub struct PhraseJob {
    id: String,
    created_by: String,
    created_ms: i64,
    processed: u64,
    matched: u64,
    polls: u32,
}

/// Test-phrase jobs of this sandbox (in memory: they are transient on Genesys too).
#[derive(Debug, Default)]
pub struct PhraseJobs {
    jobs: HashMap<String, PhraseJob>,
    seq: u64,
}

const TOPIC_FIELDS: [&str; 5] = [
    "phrase",
    "strictness",
    "matchingType",
    "dialect",
    "participants",
];

impl PhraseJobs {
    /// `POST /topics/testphrase/jobs`: checks the `TestTopicPhraseJobRequest`, counts
    /// the transcripts the filters select (`processed`) and those the phrase matches.
    pub fn create(
        &mut self,
        body: &[u8],
        seed: &Seed,
        mappings: &HashMap<String, (Vec<String>, Vec<String>)>,
        actor: &str,
        salt: u64,
    ) -> Result<Value, ApiError> {
        let req = object(body)?;
        unknown(&req, &["topic", "transcriptsFilters"], "")?;
        let Some(Value::Object(topic)) = req.get("topic") else {
            return Err(ApiError::bad_field("topic", "'topic' is required"));
        };
        unknown(topic, &TOPIC_FIELDS, "topic.")?;
        let Some(Value::Object(phrase)) = topic.get("phrase") else {
            return Err(ApiError::bad_field(
                "topic.phrase",
                "'topic.phrase' is required",
            ));
        };
        unknown(phrase, &["text", "strictness"], "topic.phrase.")?;
        let text = phrase
            .get("text")
            .and_then(Value::as_str)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                ApiError::bad_field("topic.phrase.text", "'topic.phrase.text' is required")
            })?;
        let dialect = topic
            .get("dialect")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_field("topic.dialect", "'topic.dialect' is required"))?;
        if !super::kinds::topic::DIALECTS.contains(&dialect) {
            return Err(ApiError::bad_field(
                "topic.dialect",
                format!("'topic.dialect' value '{dialect}' is not a topic dialect"),
            ));
        }
        let participants = topic
            .get("participants")
            .and_then(Value::as_str)
            .unwrap_or("All");
        if !super::kinds::topic::PARTICIPANTS.contains(&participants) {
            return Err(ApiError::bad_field(
                "topic.participants",
                format!(
                    "'topic.participants' value '{participants}' is not one of External, Internal, All"
                ),
            ));
        }
        let now = ids::now_ms();
        let filters = match req.get("transcriptsFilters") {
            Some(Value::Object(f)) => f.clone(),
            Some(Value::Null) | None => Map::new(),
            Some(_) => {
                return Err(ApiError::bad_field(
                    "transcriptsFilters",
                    "'transcriptsFilters' must be an object",
                ));
            }
        };
        unknown(
            &filters,
            &[
                "mediaType",
                "startTimeMs",
                "endTimeMs",
                "programs",
                "queues",
                "flows",
            ],
            "transcriptsFilters.",
        )?;
        let from = filters
            .get("startTimeMs")
            .and_then(Value::as_i64)
            .unwrap_or(now.saturating_sub(7 * 86_400_000));
        let to = filters
            .get("endTimeMs")
            .and_then(Value::as_i64)
            .unwrap_or(now);
        let media = filters
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or("all");
        let list = |k: &str| -> Vec<String> {
            filters
                .get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let (queues, flows) = (list("queues"), list("flows"));
        // `programs` (SDK 269 `TranscriptsFilters.programs`, program ids): the
        // transcripts of the queues and flows the programs are mapped to.
        let programs = list("programs");
        let mut program_queues: Vec<&String> = Vec::new();
        let mut program_flows: Vec<&String> = Vec::new();
        for (i, p) in programs.iter().enumerate() {
            let Some((pq, pf)) = mappings.get(p) else {
                return Err(ApiError::bad_field(
                    &format!("transcriptsFilters.programs[{i}]"),
                    format!("'transcriptsFilters.programs[{i}]' names no program: {p}"),
                ));
            };
            program_queues.extend(pq);
            program_flows.extend(pf);
        }
        let selected = seed.transcripts.iter().filter(|t| {
            t.start_ms >= from
                && t.start_ms <= to
                && (media == "all" || t.media_type == media)
                && t.dialect == dialect
                && (queues.is_empty() || t.queue_id.as_ref().is_some_and(|q| queues.contains(q)))
                && (flows.is_empty() || t.flow_id.as_ref().is_some_and(|f| flows.contains(f)))
                && (programs.is_empty()
                    || t.queue_id
                        .as_ref()
                        .is_some_and(|q| program_queues.contains(&q))
                    || t.flow_id
                        .as_ref()
                        .is_some_and(|f| program_flows.contains(&f)))
        });
        let (mut processed, mut matched) = (0u64, 0u64);
        for t in selected {
            processed += 1;
            if detect::phrase_matches(text, participants, dialect, &t.dialect, &t.utterances) {
                matched += 1;
            }
        }
        self.seq += 1;
        let job = PhraseJob {
            id: ids::uuid_like(salt ^ 0x7E57, self.seq),
            created_by: actor.to_string(),
            created_ms: now,
            processed,
            matched,
            polls: 0,
        };
        let body = json!({
            "id": job.id,
            "state": "Running",
            "createdBy": by(&job.created_by),
            "dateCreated": ids::format_ms(now),
            "dateModified": ids::format_ms(now),
            "entityType": "TOPIC_PHRASE",
            "selfUri": self_uri(&job.id),
        });
        self.jobs.insert(job.id.clone(), job);
        Ok(body)
    }

    /// `GET /topics/testphrase/jobs/{id}`: `Running`, then `Completed` with the counts.
    pub fn poll(&mut self, id: &str) -> Result<Value, ApiError> {
        let job = self
            .jobs
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found("Test phrase job", id))?;
        job.polls = job.polls.saturating_add(1);
        let mut body = json!({
            "id": job.id,
            "state": if job.polls >= 2 { "Completed" } else { "Running" },
            "createdBy": by(&job.created_by),
            "dateCreated": ids::format_ms(job.created_ms),
            "dateModified": ids::format_ms(job.created_ms),
            "selfUri": self_uri(&job.id),
        });
        if job.polls >= 2
            && let Value::Object(m) = &mut body
        {
            m.insert("processedTranscriptsCount".into(), json!(job.processed));
            m.insert("matchedTranscriptsCount".into(), json!(job.matched));
        }
        Ok(body)
    }
}

fn self_uri(id: &str) -> String {
    format!("/api/v2/speechandtextanalytics/topics/testphrase/jobs/{id}")
}

fn by(actor: &str) -> Value {
    json!({"id": actor, "selfUri": format!("/api/v2/oauth/clients/{actor}")})
}
