//! `SentimentFeedback`: a phrase whose sentiment Genesys is told (SDK 269
//! `SentimentFeedback`, `/api/v2/speechandtextanalytics/sentimentfeedback`). Identity
//! is dialect + phrase. Genesys has no update and no GET by id: the list (unpaged,
//! whole bodies) is the only read, and a change is a delete and a create. The
//! delete-all route (`DELETE /sentimentfeedback` without an id) is never called.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApiResult, Fetched, Ids, Listed, Managed, Put, string_enum};
use crate::genesys::client::{Named, STA, encode_segment};
use crate::genesys::{self, Client, Written};
use crate::spec::validate::Ctx;
use crate::spec::yaml::Seg;

/// A phrase with the sentiment Genesys should give it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "SentimentFeedback")]
pub struct SentimentFeedbackSpec {
    /// The phrase; with `dialect`, the identity.
    #[schemars(length(min = 1))]
    pub phrase: String,
    /// `{language}-{country}`, such as `en-US`.
    pub dialect: String,
    pub feedback_value: FeedbackValue,
}

string_enum!(
    /// The sentiment of a sentiment-feedback phrase.
    FeedbackValue { Positive = "Positive", Neutral = "Neutral", Negative = "Negative" }
);

/// Whether `s` is `{language}-{country}` (ISO 639-1 and ISO 3166-1 alpha-2), the
/// dialect format of the feedback APIs.
pub fn is_dialect(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[2] == b'-'
        && b[..2].iter().all(u8::is_ascii_lowercase)
        && b[3..].iter().all(u8::is_ascii_uppercase)
}

fn validate(ctx: &mut Ctx<'_>, spec: &SentimentFeedbackSpec) {
    if spec.phrase.trim().is_empty() {
        ctx.error(
            "sentimentfeedback.phrase-empty",
            ctx.pos(&[Seg::Key("phrase")]),
            "`phrase` must not be empty".into(),
            None,
        );
    }
    if !is_dialect(&spec.dialect) {
        ctx.error(
            "sentimentfeedback.dialect",
            ctx.pos(&[Seg::Key("dialect")]),
            format!(
                "dialect {:?} is not {{language}}-{{country}}, such as en-US",
                spec.dialect
            ),
            None,
        );
    }
}

/// A normalised sentiment-feedback entry. `name` is the identity, `dialect: phrase`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentimentFeedback {
    pub name: String,
    pub dialect: String,
    pub phrase: String,
    pub feedback_value: String,
}

/// The identity of a dialect and phrase.
pub fn identity(dialect: &str, phrase: &str) -> String {
    format!("{dialect}: {phrase}")
}

/// Wire shapes (SDK 269 `SentimentFeedback`, `SentimentFeedbackEntityListing`).
pub mod wire {
    use serde::{Deserialize, Serialize};

    /// A sentiment-feedback entry as Genesys returns it.
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub struct SentimentFeedback {
        pub id: String,
        pub phrase: String,
        pub dialect: String,
        pub feedback_value: String,
        pub date_created: Option<String>,
    }

    /// The body of `POST /sentimentfeedback`.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SentimentFeedbackRequest {
        pub phrase: String,
        pub dialect: String,
        pub feedback_value: String,
    }

    /// `SentimentFeedbackEntityListing`: no paging.
    #[derive(Debug, Clone, Deserialize, Default)]
    #[serde(default)]
    pub struct Listing {
        pub entities: Vec<SentimentFeedback>,
    }
}

fn from_wire(w: &wire::SentimentFeedback) -> SentimentFeedback {
    SentimentFeedback {
        name: identity(&w.dialect, &w.phrase),
        dialect: w.dialect.clone(),
        phrase: w.phrase.clone(),
        feedback_value: w.feedback_value.clone(),
    }
}

fn path() -> String {
    format!("{STA}/sentimentfeedback")
}

impl Named for wire::SentimentFeedback {
    async fn find(client: &Client, name: &str) -> ApiResult<Option<Self>> {
        Ok(client
            .list_sentiment_feedback()
            .await?
            .into_iter()
            .find(|f| identity(&f.dialect, &f.phrase) == name))
    }
}

impl Client {
    /// Every sentiment-feedback entry (one unpaged list).
    pub async fn list_sentiment_feedback(&self) -> ApiResult<Vec<wire::SentimentFeedback>> {
        let listing: wire::Listing = self.get_at(&path()).await?;
        Ok(listing.entities)
    }
    /// Creates an entry (safe against duplicate creation on retry).
    pub async fn create_sentiment_feedback(
        &self,
        body: &wire::SentimentFeedbackRequest,
    ) -> ApiResult<Written<wire::SentimentFeedback>> {
        let name = identity(&body.dialect, &body.phrase);
        self.create(path(), &name, body).await
    }
    /// Creates an entry whose identity a delete has just released (the create of a
    /// replace): while the delete settles the org may answer 409, so a 409 is tried
    /// again, with growing waits, for about ten seconds.
    /// A lagging list may still show the deleted entry (`deleted`): the look-up of a
    /// create whose answer was lost must not take it for the new one.
    pub async fn recreate_sentiment_feedback(
        &self,
        body: &wire::SentimentFeedbackRequest,
        deleted: &str,
    ) -> ApiResult<Written<wire::SentimentFeedback>> {
        let mut wait = std::time::Duration::from_millis(100);
        let mut tries = 0u32;
        loop {
            let retry = match self.create_sentiment_feedback(body).await {
                Err(crate::genesys::Error::Api { status: 409, .. }) => true,
                Ok(w) if w.value.id == deleted => true,
                other => return other,
            };
            if retry && tries >= 8 {
                return Err(crate::genesys::Error::Decode {
                    method: "POST".into(),
                    path: path(),
                    message: format!(
                        "the entry {:?} could not be created again after its delete settled",
                        body.phrase
                    ),
                });
            }
            tries += 1;
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_secs(2));
        }
    }
    /// Deletes one entry; a 404 counts as success.
    pub async fn delete_sentiment_feedback(&self, id: &str) -> ApiResult<Written<()>> {
        // Never the delete-all route: an empty id would name it.
        if id.is_empty() {
            return Err(genesys::Error::Decode {
                method: "DELETE".into(),
                path: path(),
                message: "refusing to delete sentiment feedback without an id".into(),
            });
        }
        self.delete_at(format!("{}/{}", path(), encode_segment(id)), None)
            .await
    }
}

impl Managed for SentimentFeedback {
    type Spec = SentimentFeedbackSpec;
    const NAME: &'static str = "SentimentFeedback";
    const SCHEMA_FILE: &'static str = "sentimentfeedback.schema.json";
    const FILE_STEM: &'static str = "sentiment-feedback";
    const LIST_HAS_BODIES: bool = true;
    const REPLACES: bool = true;

    fn validate(ctx: &mut Ctx<'_>, spec: &SentimentFeedbackSpec) {
        validate(ctx, spec);
    }
    fn renamed_from(_spec: &SentimentFeedbackSpec) -> Option<String> {
        None
    }
    fn from_spec(spec: SentimentFeedbackSpec) -> SentimentFeedback {
        SentimentFeedback {
            name: identity(&spec.dialect, &spec.phrase),
            dialect: spec.dialect,
            phrase: spec.phrase,
            feedback_value: spec.feedback_value.as_str().to_string(),
        }
    }
    fn to_spec(&self) -> SentimentFeedbackSpec {
        SentimentFeedbackSpec {
            phrase: self.phrase.clone(),
            dialect: self.dialect.clone(),
            feedback_value: FeedbackValue::parse(&self.feedback_value)
                .unwrap_or(FeedbackValue::Neutral),
        }
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }
    fn normalized(mut self) -> SentimentFeedback {
        self.name = identity(&self.dialect, &self.phrase);
        self
    }

    async fn list(client: &Client) -> ApiResult<Vec<Listed>> {
        Ok(client
            .list_sentiment_feedback()
            .await?
            .into_iter()
            .map(|w| {
                let body: super::Object = from_wire(&w).into();
                Listed {
                    unsettled: false,
                    fingerprint: Some(body.sha256()),
                    name: body.name().to_string(),
                    body: Some(body),
                    id: w.id,
                    date_modified: w.date_created,
                    published: false,
                    modified_by: None,
                    refs: Vec::new(),
                }
            })
            .collect())
    }

    async fn get(client: &Client, id: &str) -> ApiResult<Fetched> {
        let w = client
            .list_sentiment_feedback()
            .await?
            .into_iter()
            .find(|w| w.id == id)
            .ok_or_else(|| genesys::Error::Decode {
                method: "GET".into(),
                path: path(),
                message: format!("sentiment feedback {id} is not listed"),
            })?;
        Ok(Fetched {
            body: from_wire(&w).into(),
            refs: Vec::new(),
            held_by: Vec::new(),
            id: w.id,
            published: false,
            date_modified: w.date_created,
        })
    }

    /// There is no update: replacing deletes the entry and creates it again.
    async fn put(
        &self,
        client: &Client,
        id: Option<&str>,
        previous: Option<&SentimentFeedback>,
        _ids: &Ids,
    ) -> ApiResult<Put> {
        let request = |f: &SentimentFeedback| wire::SentimentFeedbackRequest {
            phrase: f.phrase.clone(),
            dialect: f.dialect.clone(),
            feedback_value: f.feedback_value.clone(),
        };
        let Some(id) = id else {
            let w = client.create_sentiment_feedback(&request(self)).await?;
            return Ok(Put::new(w.value.id, w.value.date_created, false, w.meta));
        };
        // The second half of a replace: the executor has deleted `id` (its own audited
        // write); this creates the entry anew.
        match client.recreate_sentiment_feedback(&request(self), id).await {
            Ok(w) => Ok(Put::new(w.value.id, w.value.date_created, false, w.meta)),
            // The old entry is gone and the new one was refused: put the old one back
            // (under a new id), so a failed replace loses nothing.
            Err(e) => {
                let Some(old) = previous else { return Err(e) };
                let w = client
                    .recreate_sentiment_feedback(&request(old), id)
                    .await?;
                Ok(Put {
                    id: w.value.id,
                    date_modified: w.value.date_created,
                    published: false,
                    meta: w.meta,
                    incomplete: Some(format!("{e} (the previous entry was put back)")),
                })
            }
        }
    }

    async fn delete(client: &Client, id: &str) -> ApiResult<Written<()>> {
        client.delete_sentiment_feedback(id).await
    }

    #[cfg(test)]
    fn example(name: String, _tags: Vec<String>, flag: bool) -> SentimentFeedback {
        SentimentFeedback {
            name: String::new(),
            dialect: "en-US".into(),
            phrase: name,
            feedback_value: if flag { "Positive" } else { "Negative" }.into(),
        }
        .normalized()
    }

    fn decode_wire(body: &[u8]) -> usize {
        usize::from(serde_json::from_slice::<wire::Listing>(body).is_ok())
            + usize::from(serde_json::from_slice::<wire::SentimentFeedback>(body).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects_are_language_dash_country() {
        assert!(is_dialect("en-US"));
        for bad in ["en", "EN-us", "en_US", "en-USA", "ééé-US"] {
            assert!(!is_dialect(bad), "{bad}");
        }
    }

    #[test]
    fn the_spec_describes_the_same_entry() {
        let f = SentimentFeedback::example("not bad".into(), Vec::new(), true);
        assert_eq!(f.name, "en-US: not bad");
        assert_eq!(SentimentFeedback::from_spec(f.to_spec()), f);
    }
}
