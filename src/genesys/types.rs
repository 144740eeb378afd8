//! Wire shapes of the Genesys API as the client speaks it (SPEC section 8).
//!
//! Responses are parsed leniently (unknown fields ignored, absent values defaulted,
//! because Genesys omits empty values); requests are exactly what SPEC lists.

use serde::{Deserialize, Deserializer, Serialize};

/// Genesys sometimes sends `null` where a list or flag is empty: treat it as absent.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
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

/// A topic as listed by `GET /topics` (no phrases).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct ListedTopic {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub published: bool,
    pub strictness: Option<String>,
    /// `Lexical` or `Semantic`.
    pub matching_type: Option<String>,
    pub programs_count: Option<u64>,
    #[serde(deserialize_with = "nullable")]
    pub tags: Vec<String>,
    pub dialect: Option<String>,
    pub participants: Option<String>,
    pub phrases_count: Option<u64>,
    pub modified_by: Option<IdName>,
    pub date_modified: Option<String>,
}

/// A topic phrase on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct WirePhrase {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strictness: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<String>,
    /// Set by Genesys on phrases its AI suggested; sent back unchanged on updates.
    #[serde(rename = "isAIGenerated", skip_serializing_if = "Option::is_none")]
    pub is_ai_generated: Option<bool>,
}

/// A full topic from `GET /topics/{id}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct Topic {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub published: bool,
    pub strictness: Option<String>,
    pub matching_type: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub programs: Vec<IdName>,
    #[serde(deserialize_with = "nullable")]
    pub tags: Vec<String>,
    pub dialect: Option<String>,
    pub participants: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub phrases: Vec<WirePhrase>,
    pub date_modified: Option<String>,
    pub date_published: Option<String>,
}

/// Body of `POST /topics` and `PUT /topics/{id}`. `programIds` is never sent:
/// program membership is owned by Program specs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicRequest {
    pub name: String,
    pub description: String,
    pub strictness: String,
    pub matching_type: String,
    pub tags: Vec<String>,
    pub dialect: String,
    pub participants: String,
    pub phrases: Vec<WirePhrase>,
}

/// A program as listed by `GET /programs` (ListedProgram): a count of its topics,
/// not the topics themselves.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct ListedProgram {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub published: bool,
    pub topics_count: Option<u64>,
    #[serde(deserialize_with = "nullable")]
    pub tags: Vec<String>,
    pub modified_by: Option<IdName>,
    pub date_modified: Option<String>,
}

/// A full program from `GET /programs/{id}` (and the POST/PUT responses), with its
/// member topics.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct Program {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub published: bool,
    #[serde(deserialize_with = "nullable")]
    pub tags: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub topics: Vec<IdName>,
    pub date_modified: Option<String>,
}

/// Body of `POST /programs` and `PUT /programs/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgramRequest {
    pub name: String,
    pub description: String,
    pub topic_ids: Vec<String>,
    pub tags: Vec<String>,
}

/// A speech rule phrase on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct RulePhrase {
    pub phrase: String,
    pub match_type: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub case_sensitive: bool,
    pub enabled: Option<bool>,
}

/// A speech rule scoring directive on the wire.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct RuleScoring {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: f64,
    pub condition: Option<String>,
}

/// A speech rule as returned by `/api/v2/speech/rules`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct SpeechRule {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub language: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub phrases: Vec<RulePhrase>,
    #[serde(deserialize_with = "nullable")]
    pub scoring: Vec<RuleScoring>,
    #[serde(deserialize_with = "nullable")]
    pub tags: Vec<String>,
    pub date_modified: Option<String>,
}

/// Body of `POST /api/v2/speech/rules` and `PUT /api/v2/speech/rules/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpeechRuleRequest {
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub language: String,
    pub phrases: Vec<RulePhrase>,
    pub scoring: Vec<RuleScoring>,
    pub tags: Vec<String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_lists_and_flags_read_as_empty() {
        let t: Topic = serde_json::from_str(
            r#"{"id":"1","name":"n","tags":null,"phrases":null,"programs":null,"published":null}"#,
        )
        .unwrap();
        assert!(t.tags.is_empty() && t.phrases.is_empty() && !t.published);
        let p: Program = serde_json::from_str(r#"{"id":"1","name":"n","topics":null}"#).unwrap();
        assert!(p.topics.is_empty());
    }
}
