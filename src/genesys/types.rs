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

/// A topic or program publish job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct PublishJob {
    pub id: String,
    /// `Running`, `Completed` or `Failed`.
    pub state: String,
}

/// The Genesys error body (SPEC 8.2).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct ErrorBody {
    pub message: String,
    pub code: String,
    pub status: u16,
    pub context_id: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub details: Vec<ErrorDetail>,
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
