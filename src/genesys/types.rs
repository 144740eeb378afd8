//! Wire shapes of the Genesys API shared by every kind (SPEC section 8): paging,
//! references, jobs, errors. Each kind's own shapes live in its module under
//! `src/kinds/`.
//!
//! Responses are parsed leniently (unknown fields ignored, absent values defaulted,
//! because Genesys omits empty values); requests are exactly what SPEC lists.

use serde::{Deserialize, Deserializer, Serialize};

/// Genesys sometimes sends `null` where a list or flag is empty: treat it as absent.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `{id, name}` reference used in topic and program bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct IdName {
    pub id: String,
    pub name: String,
}

/// A page of a `pageNumber`-paged list.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NumberedPage<T> {
    #[serde(default = "Vec::new")]
    pub entities: Vec<T>,
    #[serde(default)]
    pub page_count: Option<u64>,
}

/// A page of a cursor-paged list: the next page is at `nextUri`, absent on the last.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CursorPage<T> {
    #[serde(default = "Vec::new")]
    pub entities: Vec<T>,
    #[serde(default)]
    pub next_uri: Option<String>,
}

/// The org of the credentials (`GET /api/v2/organizations/me`, SDK `Organization`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct Organization {
    pub id: String,
    pub name: String,
}

/// A test-phrase job (`TestTopicPhraseJobs` on create, `TestTopicPhraseJob` on poll).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct PhraseJob {
    pub id: String,
    /// `Running`, `Completed` or `Failed`.
    pub state: String,
    pub processed_transcripts_count: Option<u64>,
    pub matched_transcripts_count: Option<u64>,
}

/// The topic of a test-phrase job (`TestTopicPhraseTopic`), defined inline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhraseJobTopic {
    pub phrase: PhraseJobPhrase,
    pub strictness: String,
    pub matching_type: String,
    pub dialect: String,
    pub participants: String,
}

/// `TestTopicPhrasePhrase`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhraseJobPhrase {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strictness: Option<String>,
}

/// A job the client polls until it ends: its id and `Running | Completed | Failed`.
pub trait Job: serde::de::DeserializeOwned {
    fn id(&self) -> &str;
    fn state(&self) -> &str;
}

impl Job for PhraseJob {
    fn id(&self) -> &str {
        &self.id
    }
    fn state(&self) -> &str {
        &self.state
    }
}

impl Job for PublishJob {
    fn id(&self) -> &str {
        &self.id
    }
    fn state(&self) -> &str {
        &self.state
    }
}

/// A program's topic-links job (SDK 269 `ProgramTopicLinksJob`): the org links or
/// unlinks the program's topics after a program write or delete, asynchronously.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicLinksJob {
    pub id: String,
    /// `Running`, `Completed` or `Failed`.
    pub state: String,
    pub program_id: Option<String>,
}

impl Job for TopicLinksJob {
    fn id(&self) -> &str {
        &self.id
    }
    fn state(&self) -> &str {
        &self.state
    }
}

/// A topic or program publish job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct PublishJob {
    pub id: String,
    /// `Running`, `Completed` or `Failed`.
    pub state: String,
}

/// The Genesys error body (SPEC 8.2).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct ErrorBody {
    pub message: String,
    pub code: String,
    pub status: u16,
    pub context_id: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub details: Vec<ErrorDetail>,
    /// Nested errors (SDK 269 `ErrorBody.errors`), each an error body of its own.
    #[serde(deserialize_with = "nullable")]
    pub errors: Vec<ErrorBody>,
    /// The limit that was hit (SDK 269 `Limit`).
    pub limit: Option<ErrorLimit>,
}

/// `ErrorBody.limit` (SDK 269 `Limit`: `key`, `namespace`, `value`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct ErrorLimit {
    pub key: Option<String>,
    pub namespace: Option<String>,
    pub value: Option<serde_json::Number>,
}

impl ErrorBody {
    /// What the body says beyond its top message: each detail (the field and entity
    /// it names), each nested error, and the limit; empty when it says nothing more.
    /// Bounded, as a gateway may answer with anything.
    pub fn explanation(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for d in self.details.iter().take(20) {
            let mut bits = Vec::new();
            if let Some(f) = d.field_name.as_deref().filter(|s| !s.is_empty()) {
                bits.push(format!("field {f}"));
            }
            if let Some(c) = d.error_code.as_deref().filter(|s| !s.is_empty()) {
                bits.push(format!("errorCode {c}"));
            }
            match (d.entity_name.as_deref(), d.entity_id.as_deref()) {
                (Some(n), Some(i)) if !n.is_empty() => bits.push(format!("entity {n:?} ({i})")),
                (_, Some(i)) if !i.is_empty() => bits.push(format!("entity {i}")),
                (Some(n), _) if !n.is_empty() => bits.push(format!("entity {n:?}")),
                _ => {}
            }
            if !bits.is_empty() {
                parts.push(format!("detail: {}", bits.join(", ")));
            }
        }
        for e in self.errors.iter().take(20) {
            let code = if e.code.is_empty() {
                String::new()
            } else {
                format!("{}: ", e.code)
            };
            let more = e.explanation();
            let more = if more.is_empty() {
                String::new()
            } else {
                format!(" ({more})")
            };
            parts.push(format!("error: {code}{}{more}", e.message));
        }
        if let Some(l) = &self.limit {
            let mut bits = Vec::new();
            if let Some(k) = &l.key {
                bits.push(format!("key {k}"));
            }
            if let Some(n) = &l.namespace {
                bits.push(format!("namespace {n}"));
            }
            if let Some(v) = &l.value {
                bits.push(format!("value {v}"));
            }
            if !bits.is_empty() {
                parts.push(format!("limit: {}", bits.join(", ")));
            }
        }
        let s = parts.join("; ");
        if s.chars().count() > 1000 {
            let cut: String = s.chars().take(1000).collect();
            format!("{cut}…")
        } else {
            s
        }
    }
}

/// One entry of an error body's `details`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct ErrorDetail {
    pub error_code: Option<String>,
    pub field_name: Option<String>,
    pub entity_id: Option<String>,
    pub entity_name: Option<String>,
}

/// One record of Genesys's audit trail (SDK 269 `AuditLogMessage`, the fields
/// speechops reads).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogMessage {
    #[serde(default)]
    pub id: String,
    /// The person, when a person made the change (absent for OAuth client calls).
    #[serde(default)]
    pub user: Option<AuditRef>,
    /// The OAuth client the change was made with.
    #[serde(default)]
    pub client: Option<AuditRef>,
    #[serde(default)]
    pub service_name: String,
    #[serde(default)]
    pub event_date: String,
    /// `Create`, `Update`, `Delete`, `Publish`, …
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub entity: Option<AuditRef>,
    /// `Topic`, `Program`, `Category`, `DictionaryFeedback`, `SentimentFeedback`,
    /// `SpeechTextAnalyticsSettings`.
    #[serde(default)]
    pub entity_type: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub property_changes: Vec<AuditPropertyChange>,
}

/// A `DomainEntityRef` / `AddressableEntityRef` of an audit record.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct AuditRef {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// SDK 269 `PropertyChange`.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AuditPropertyChange {
    #[serde(default)]
    pub property: String,
    #[serde(default)]
    pub old_values: Vec<String>,
    #[serde(default)]
    pub new_values: Vec<String>,
}

/// A page of `POST /api/v2/audits/query/realtime` (`AuditRealtimeQueryResultsResponse`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    #[serde(default)]
    pub entities: Vec<AuditLogMessage>,
    #[serde(default)]
    pub page_count: Option<u64>,
}
