//! Genesys's own audit trail of Speech & Text Analytics changes (SDK 269 `AuditApi`):
//! every write through the emulated API is recorded as an `AuditLogMessage` (service
//! `SpeechAndTextAnalytics`, entity type, action, the OAuth client), and
//! `POST /api/v2/audits/query/realtime` answers `AuditRealtimeQueryResultsResponse`
//! pages of them. Genesys keeps the realtime query to the last 14 days.
//! `POST /__sandbox/audits` adds a record as a change made in the Genesys UI would
//! leave it (test plumbing).

use serde_json::{Map, Value, json};

use super::collection::Resource;
use super::error::ApiError;
use super::ids;
use super::store::Store;

/// Where records are kept on disk.
pub const DIR: &str = "audits";
/// The realtime query's reach.
const MAX_DAYS_MS: i64 = 14 * 86_400_000;

/// The `entityType` Genesys records for a kind's objects (none for the tutorial's rules).
fn entity_type(r: &Resource) -> Option<&'static str> {
    Some(match r.dir {
        "topics" => "Topic",
        "programs" => "Program",
        "categories" => "Category",
        "dictionaryfeedback" => "DictionaryFeedback",
        "sentimentfeedback" => "SentimentFeedback",
        "settings" => "SpeechTextAnalyticsSettings",
        _ => return None,
    })
}

impl Store {
    /// Records one change (action `Create`, `Update`, `Delete` or `Publish`) made by
    /// the OAuth client `actor`.
    pub(crate) fn record_audit(
        &mut self,
        r: &Resource,
        action: &str,
        id: &str,
        name: Option<&str>,
        actor: &str,
    ) {
        let Some(entity_type) = entity_type(r) else {
            return;
        };
        let (seq, audit_id) = self.next_id();
        let mut entity = json!({"id": id});
        if let Some(n) = name {
            entity["name"] = json!(n);
        }
        let record = json!({
            "id": audit_id,
            "client": {"id": actor},
            "serviceName": "SpeechAndTextAnalytics",
            "level": "USER",
            "eventDate": ids::format_ms(self.tick()),
            "action": action,
            "entity": entity,
            "entityType": entity_type,
            "status": "SUCCESS",
            "propertyChanges": [],
            "seq": seq,
        });
        let _ = self.save(DIR, &audit_id, &record);
        self.audits.push(record);
    }

    /// Adds a record as given (a change made in the Genesys UI): missing fields get
    /// Genesys's shape.
    pub(crate) fn add_audit(&mut self, body: &[u8]) -> Result<Value, ApiError> {
        let given: Map<String, Value> = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("Unable to parse the body: {e}")))?;
        let (seq, audit_id) = self.next_id();
        let mut record = json!({
            "id": audit_id,
            "serviceName": "SpeechAndTextAnalytics",
            "level": "USER",
            "eventDate": ids::format_ms(self.tick()),
            "status": "SUCCESS",
            "propertyChanges": [],
        });
        if let Some(m) = record.as_object_mut() {
            m.extend(given);
            m.insert("seq".into(), json!(seq));
        }
        let _ = self.save(DIR, &audit_id, &record);
        self.audits.push(record.clone());
        Ok(record)
    }

    /// `POST /api/v2/audits/query/realtime`.
    pub(crate) fn query_audits(&self, body: &[u8]) -> Result<Value, ApiError> {
        let q: Map<String, Value> = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("Unable to parse the body: {e}")))?;
        let (from, to) = super::detection::query_interval(&q)?;
        if ids::now_ms().saturating_sub(from) > MAX_DAYS_MS + 60_000 {
            return Err(ApiError::bad_field(
                "interval",
                "the realtime audit query reaches back 14 days; use /api/v2/audits/query",
            ));
        }
        let service = q
            .get("serviceName")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_field("serviceName", "'serviceName' is required"))?;
        let filters: Vec<(String, String)> = q
            .get("filters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| {
                Some((
                    f["property"].as_str()?.to_string(),
                    f["value"].as_str()?.to_string(),
                ))
            })
            .collect();
        let keep = |a: &Value| {
            let at = a["eventDate"]
                .as_str()
                .and_then(super::detection::parse_instant)
                .unwrap_or(0);
            a["serviceName"] == service
                && at >= from
                && at < to
                && filters.iter().all(|(p, v)| match p.as_str() {
                    "EntityType" => a["entityType"] == v.as_str(),
                    "EntityId" => a["entity"]["id"] == v.as_str(),
                    "Action" => a["action"] == v.as_str(),
                    "ClientId" => a["client"]["id"] == v.as_str(),
                    "UserId" => a["user"]["id"] == v.as_str(),
                    _ => true,
                })
        };
        let mut found: Vec<&Value> = self.audits.iter().filter(|a| keep(a)).collect();
        found.sort_by_key(|a| a["seq"].as_u64().unwrap_or(0));
        let descending = q
            .get("sort")
            .and_then(Value::as_array)
            .and_then(|s| s.first())
            .is_some_and(|s| s["sortOrder"] == "descending");
        if descending {
            found.reverse();
        }
        let size = q
            .get("pageSize")
            .and_then(Value::as_u64)
            .unwrap_or(25)
            .clamp(1, 500) as usize;
        let number = q
            .get("pageNumber")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(1) as usize;
        let total = found.len();
        let entities: Vec<Value> = found
            .into_iter()
            .skip((number - 1).saturating_mul(size))
            .take(size)
            .map(|a| {
                let mut a = a.clone();
                if let Some(m) = a.as_object_mut() {
                    m.remove("seq");
                }
                a
            })
            .collect();
        Ok(json!({
            "entities": entities,
            "pageSize": size,
            "pageNumber": number,
            "total": total,
            "pageCount": total.div_ceil(size),
        }))
    }
}
