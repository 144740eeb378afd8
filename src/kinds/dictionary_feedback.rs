//! `DictionaryFeedback`: a term Genesys transcription should recognise (SDK 269
//! `DictionaryFeedback`, `/api/v2/speechandtextanalytics/dictionaryfeedback`). Identity
//! is dialect + term. The list is cursor-paged and lacks `examplePhrases` and
//! `soundsLike`, so bodies are read by id (skipped when the lockfile proves them
//! unchanged).

use std::collections::{HashMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::sentiment_feedback::is_dialect;
use super::{ApiResult, Fetched, Ids, Listed, Managed, Put, sort_dedup, string_enum};
use crate::genesys::client::{Named, Req, STA, encode_segment};
use crate::genesys::{Client, Written};
use crate::spec::load::Entry;
use crate::spec::validate::Ctx;
use crate::spec::yaml::Seg;
use crate::spec::{Diagnostic, Severity};

/// Genesys limits (SDK 269 `DictionaryFeedback`).
pub const MIN_BOOST: f64 = 1.0;
pub const MAX_BOOST: f64 = 10.0;
pub const DEFAULT_BOOST: f64 = 2.0;
pub const MIN_EXAMPLES: usize = 3;
pub const MAX_EXAMPLES: usize = 20;
pub const MIN_EXAMPLE_WORDS: usize = 3;
pub const MAX_EXAMPLE_WORDS: usize = 20;
pub const MAX_SOUNDS_LIKE: usize = 10;
pub const MAX_TERMS_PER_DIALECT: usize = 1000;

/// A term for the transcription dictionary.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "DictionaryFeedback")]
pub struct DictionaryFeedbackSpec {
    /// The term; with `dialect`, the identity.
    #[schemars(length(min = 1))]
    pub term: String,
    /// `{language}-{country}`, such as `en-GB`.
    pub dialect: String,
    /// How strongly the term is preferred: 1.0 to 10.0; 2.0 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1.0, max = 10.0), extend("default" = 2.0))]
    pub boost_value: Option<f64>,
    /// How the term is written in transcripts (Extended Services engine only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_as: Option<String>,
    /// 3 to 20 unique phrases of 3 to 20 words, each containing the term; required
    /// for the Genesys engine except in English and Spanish dialects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub example_phrases: Vec<String>,
    /// Up to 10 spellings of how the term sounds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub sounds_like: Vec<String>,
    /// The engine the term is for; all engines when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcription_engine: Option<TranscriptionEngine>,
}

string_enum!(
    /// A transcription engine of dictionary feedback.
    TranscriptionEngine { Genesys = "Genesys", GenesysExtended = "GenesysExtended" }
);

fn word_count(s: &str) -> usize {
    s.split_whitespace().count()
}

fn validate(ctx: &mut Ctx<'_>, spec: &DictionaryFeedbackSpec) {
    let term = spec.term.trim();
    if term.is_empty() {
        ctx.error(
            "dictionaryfeedback.term-empty",
            ctx.pos(&[Seg::Key("term")]),
            "`term` must not be empty".into(),
            None,
        );
    }
    if !is_dialect(&spec.dialect) {
        ctx.error(
            "dictionaryfeedback.dialect",
            ctx.pos(&[Seg::Key("dialect")]),
            format!(
                "dialect {:?} is not {{language}}-{{country}}, such as en-GB",
                spec.dialect
            ),
            None,
        );
    }
    if let Some(b) = spec.boost_value
        && !(b.is_finite() && (MIN_BOOST..=MAX_BOOST).contains(&b))
    {
        ctx.error(
            "dictionaryfeedback.boost",
            ctx.pos(&[Seg::Key("boostValue")]),
            format!("boostValue {b} is outside {MIN_BOOST} ..= {MAX_BOOST}"),
            None,
        );
    }
    examples(ctx, spec, term);
    let n = spec.sounds_like.len();
    if n > MAX_SOUNDS_LIKE {
        ctx.error(
            "dictionaryfeedback.too-many-sounds-like",
            ctx.key_pos(&[Seg::Key("soundsLike")]),
            format!("soundsLike has {n} entries; Genesys allows at most {MAX_SOUNDS_LIKE}"),
            None,
        );
    }
    for (i, s) in spec.sounds_like.iter().enumerate() {
        if s.trim().is_empty() {
            ctx.error(
                "dictionaryfeedback.sounds-like-empty",
                ctx.pos(&[Seg::Key("soundsLike"), Seg::Index(i)]),
                "soundsLike entries must not be empty".into(),
                None,
            );
        }
    }
}

/// `examplePhrases`: 3..=20 unique, each 3..=20 words containing the term; required
/// for the Genesys engine outside English and Spanish.
fn examples(ctx: &mut Ctx<'_>, spec: &DictionaryFeedbackSpec, term: &str) {
    let n = spec.example_phrases.len();
    let english_or_spanish = spec.dialect.starts_with("en-") || spec.dialect.starts_with("es-");
    let extended = spec.transcription_engine == Some(TranscriptionEngine::GenesysExtended);
    if n == 0 {
        if !english_or_spanish && !extended {
            ctx.error(
                "dictionaryfeedback.examples-required",
                ctx.pos(&[Seg::Key("term")]),
                format!(
                    "a {} term needs {MIN_EXAMPLES} to {MAX_EXAMPLES} examplePhrases for the Genesys engine",
                    spec.dialect
                ),
                Some("add `examplePhrases:` with sentences that use the term".into()),
            );
        }
        return;
    }
    if !(MIN_EXAMPLES..=MAX_EXAMPLES).contains(&n) {
        ctx.error(
            "dictionaryfeedback.examples-count",
            ctx.key_pos(&[Seg::Key("examplePhrases")]),
            format!(
                "examplePhrases has {n} entries; Genesys needs {MIN_EXAMPLES} to {MAX_EXAMPLES}"
            ),
            None,
        );
    }
    let term_lower = term.to_lowercase();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, p) in spec.example_phrases.iter().enumerate() {
        let pos = ctx.pos(&[Seg::Key("examplePhrases"), Seg::Index(i)]);
        let words = word_count(p);
        if !(MIN_EXAMPLE_WORDS..=MAX_EXAMPLE_WORDS).contains(&words) {
            ctx.error(
                "dictionaryfeedback.example-words",
                pos,
                format!(
                    "example phrase {p:?} has {words} word(s); Genesys needs {MIN_EXAMPLE_WORDS} to {MAX_EXAMPLE_WORDS}"
                ),
                None,
            );
        }
        if !term_lower.is_empty() && !p.to_lowercase().contains(&term_lower) {
            ctx.error(
                "dictionaryfeedback.example-without-term",
                pos,
                format!("example phrase {p:?} does not contain the term {term:?}"),
                Some("each example shows the term in use".into()),
            );
        }
        let key = crate::model::phrase_key(p);
        if let Some(first) = seen.get(&key) {
            let line = ctx.pos(&[Seg::Key("examplePhrases"), Seg::Index(*first)]).0;
            ctx.error(
                "dictionaryfeedback.duplicate-example",
                pos,
                format!("example phrase {p:?} repeats line {line}"),
                None,
            );
        } else {
            seen.insert(key, i);
        }
    }
}

/// A normalised dictionary-feedback term. `name` is the identity, `dialect: term`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DictionaryFeedback {
    pub name: String,
    pub term: String,
    pub dialect: String,
    pub boost_value: f64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display_as: String,
    pub example_phrases: Vec<String>,
    pub sounds_like: Vec<String>,
    /// Empty: all engines (not managed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub transcription_engine: String,
    /// The org has not accepted the term (SDK 269 `status` Failed, Invalid or Pending,
    /// with `invalidReason`): what it says. Never in a spec, so a rejected term differs
    /// from its spec and plans show it until it is fixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
}

/// What the org's `status` and `invalidReason` say about a term it has not accepted.
fn rejection(status: Option<&str>, reason: Option<&str>) -> Option<String> {
    let reason = reason.filter(|r| !r.is_empty());
    match (status?, reason) {
        ("Active" | "Saved", _) => None,
        ("Pending", _) => Some("Pending: Genesys has not validated the term yet".to_string()),
        (status, Some(reason)) => Some(format!("{status}: {reason}")),
        (status, None) => Some(format!("{status} (Genesys gave no reason)")),
    }
}

/// The identity of a dialect and term.
pub fn identity(dialect: &str, term: &str) -> String {
    format!("{dialect}: {term}")
}

/// Wire shapes (SDK 269 `DictionaryFeedback`, `ListedDictionaryFeedback`,
/// `DictionaryFeedbackExamplePhrase`).
pub mod wire {
    use serde::{Deserialize, Serialize};

    use crate::genesys::types::{IdName, nullable};

    /// One example phrase.
    #[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
    #[serde(default)]
    pub struct ExamplePhrase {
        pub phrase: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub source: Option<String>,
    }

    /// A term as `GET /dictionaryfeedback/{id}` (and writes) return it; the list's
    /// `ListedDictionaryFeedback` has the same fields but the last two.
    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    pub struct DictionaryFeedback {
        pub id: String,
        pub term: String,
        pub dialect: String,
        pub boost_value: Option<f64>,
        pub display_as: Option<String>,
        pub transcription_engine: Option<String>,
        pub status: Option<String>,
        /// Why Genesys did not accept the term.
        pub invalid_reason: Option<String>,
        pub modified_by: Option<IdName>,
        pub date_modified: Option<String>,
        #[serde(deserialize_with = "nullable")]
        pub example_phrases: Vec<ExamplePhrase>,
        #[serde(deserialize_with = "nullable")]
        pub sounds_like: Vec<String>,
    }

    /// The body of `POST /dictionaryfeedback` and `PUT /dictionaryfeedback/{id}`.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct DictionaryFeedbackRequest {
        pub term: String,
        pub dialect: String,
        pub boost_value: f64,
        pub source: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub display_as: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub transcription_engine: Option<String>,
        pub example_phrases: Vec<ExamplePhrase>,
        pub sounds_like: Vec<String>,
    }
}

fn from_wire(w: &wire::DictionaryFeedback) -> DictionaryFeedback {
    DictionaryFeedback {
        name: String::new(),
        term: w.term.clone(),
        dialect: w.dialect.clone(),
        boost_value: w.boost_value.unwrap_or(DEFAULT_BOOST),
        display_as: w.display_as.clone().unwrap_or_default(),
        example_phrases: w.example_phrases.iter().map(|p| p.phrase.clone()).collect(),
        sounds_like: w.sounds_like.clone(),
        transcription_engine: w.transcription_engine.clone().unwrap_or_default(),
        rejected: rejection(w.status.as_deref(), w.invalid_reason.as_deref()),
    }
    .normalized()
}

fn request(d: &DictionaryFeedback) -> wire::DictionaryFeedbackRequest {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    wire::DictionaryFeedbackRequest {
        term: d.term.clone(),
        dialect: d.dialect.clone(),
        boost_value: d.boost_value,
        source: "Manual".into(),
        display_as: opt(&d.display_as),
        transcription_engine: opt(&d.transcription_engine),
        example_phrases: d
            .example_phrases
            .iter()
            .map(|p| wire::ExamplePhrase {
                phrase: p.clone(),
                source: Some("Manual".into()),
            })
            .collect(),
        sounds_like: d.sounds_like.clone(),
    }
}

/// Page size of the cursor-paged list (Genesys's default, and its per-dialect limit's half).
const PAGE_SIZE: u32 = 500;

fn path() -> String {
    format!("{STA}/dictionaryfeedback")
}

fn path_of(id: &str) -> String {
    format!("{}/{}", path(), encode_segment(id))
}

impl Named for wire::DictionaryFeedback {
    async fn by_id(client: &Client, id: &str, name: &str) -> ApiResult<Option<Self>> {
        let d = client.get_dictionary_feedback(id).await?;
        Ok((identity(&d.dialect, &d.term) == name).then_some(d))
    }

    async fn find(client: &Client, name: &str) -> ApiResult<Option<Self>> {
        let listed = client.list_dictionary_feedback().await?;
        match listed
            .into_iter()
            .find(|d| identity(&d.dialect, &d.term) == name)
        {
            Some(d) => Ok(Some(client.get_dictionary_feedback(&d.id).await?)),
            None => Ok(None),
        }
    }
}

impl Client {
    /// Every term (`ListedDictionaryFeedback`: no examples, no soundsLike), all pages.
    pub async fn list_dictionary_feedback(&self) -> ApiResult<Vec<wire::DictionaryFeedback>> {
        self.list_cursor(Req::get(path()).query("pageSize", PAGE_SIZE))
            .await
    }
    /// One term in full.
    pub async fn get_dictionary_feedback(&self, id: &str) -> ApiResult<wire::DictionaryFeedback> {
        self.get_at(&path_of(id)).await
    }
    /// Creates a term (safe against duplicate creation on retry).
    pub async fn create_dictionary_feedback(
        &self,
        body: &wire::DictionaryFeedbackRequest,
    ) -> ApiResult<Written<wire::DictionaryFeedback>> {
        self.create(path(), &identity(&body.dialect, &body.term), body)
            .await
    }
    /// Replaces a term.
    pub async fn update_dictionary_feedback(
        &self,
        id: &str,
        body: &wire::DictionaryFeedbackRequest,
    ) -> ApiResult<Written<wire::DictionaryFeedback>> {
        self.put(path_of(id), body).await
    }
    /// Reads a term Genesys has not validated yet (`status: Pending`) again until it
    /// has, for at most the job timeout.
    pub async fn settle_dictionary_feedback(
        &self,
        mut term: wire::DictionaryFeedback,
    ) -> ApiResult<wire::DictionaryFeedback> {
        let started = std::time::Instant::now();
        let mut delay = std::time::Duration::from_millis(100);
        while term.status.as_deref() == Some("Pending")
            && started.elapsed() < self.options().publish_timeout
            && !term.id.is_empty()
        {
            tokio::time::sleep(delay).await;
            delay = (delay * 3 / 2).min(std::time::Duration::from_secs(2));
            term = self.get_dictionary_feedback(&term.id).await?;
        }
        Ok(term)
    }
    /// Deletes a term; a 404 counts as success.
    pub async fn delete_dictionary_feedback(&self, id: &str) -> ApiResult<Written<()>> {
        self.delete_at(path_of(id), None).await
    }
}

impl Managed for DictionaryFeedback {
    type Spec = DictionaryFeedbackSpec;
    const NAME: &'static str = "DictionaryFeedback";
    const SCHEMA_FILE: &'static str = "dictionaryfeedback.schema.json";
    const FILE_STEM: &'static str = "dictionary-feedback";

    fn validate(ctx: &mut Ctx<'_>, spec: &DictionaryFeedbackSpec) {
        validate(ctx, spec);
    }
    fn renamed_from(_spec: &DictionaryFeedbackSpec) -> Option<String> {
        None
    }
    fn from_spec(spec: DictionaryFeedbackSpec) -> DictionaryFeedback {
        DictionaryFeedback {
            name: String::new(),
            term: spec.term,
            dialect: spec.dialect,
            boost_value: spec.boost_value.unwrap_or(DEFAULT_BOOST),
            display_as: spec.display_as.unwrap_or_default(),
            example_phrases: spec.example_phrases,
            sounds_like: spec.sounds_like,
            transcription_engine: spec
                .transcription_engine
                .map(|e| e.as_str().to_string())
                .unwrap_or_default(),
            rejected: None,
        }
        .normalized()
    }
    fn to_spec(&self) -> DictionaryFeedbackSpec {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        DictionaryFeedbackSpec {
            term: self.term.clone(),
            dialect: self.dialect.clone(),
            boost_value: (self.boost_value != DEFAULT_BOOST).then_some(self.boost_value),
            display_as: opt(&self.display_as),
            example_phrases: self.example_phrases.clone(),
            sounds_like: self.sounds_like.clone(),
            transcription_engine: TranscriptionEngine::parse(&self.transcription_engine),
        }
    }

    /// At most 1000 terms per dialect.
    fn check_kind(entries: &[&Entry], diags: &mut Vec<Diagnostic>) {
        let mut per_dialect: HashMap<&str, Vec<&Entry>> = HashMap::new();
        for e in entries {
            if let super::Object::DictionaryFeedback(d) = &e.object {
                per_dialect.entry(d.dialect.as_str()).or_default().push(e);
            }
        }
        // Genesys keeps one term per dialect up to letter case: a second is refused.
        let mut by_key: HashMap<(String, String), &Entry> = HashMap::new();
        for e in entries {
            if let super::Object::DictionaryFeedback(d) = &e.object {
                let key = (d.dialect.clone(), d.term.to_lowercase());
                match by_key.get(&key) {
                    Some(first) => diags.push(Diagnostic::new(
                        Severity::Error,
                        "dictionaryfeedback.duplicate-term",
                        format!(
                            "term {:?} repeats {:?} ({}:{}) up to letter case; Genesys keeps one \
term per dialect whatever its case",
                            d.term,
                            first.object.name(),
                            first.file.display(),
                            first.name_pos.0
                        ),
                        &e.file,
                        e.name_pos,
                        Some("keep one of them; `displayAs` sets how transcripts write it".into()),
                    )),
                    None => {
                        by_key.insert(key, e);
                    }
                }
            }
        }
        let mut over: Vec<_> = per_dialect
            .into_iter()
            .filter(|(_, v)| v.len() > MAX_TERMS_PER_DIALECT)
            .collect();
        over.sort_by_key(|(d, _)| *d);
        for (dialect, v) in over {
            let first_over = v[MAX_TERMS_PER_DIALECT];
            diags.push(Diagnostic::new(
                Severity::Error,
                "dictionaryfeedback.too-many-terms",
                format!(
                    "{} {dialect} dictionary terms; Genesys allows at most {MAX_TERMS_PER_DIALECT} per dialect",
                    v.len()
                ),
                &first_over.file,
                first_over.doc_pos,
                None,
            ));
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }
    fn normalized(mut self) -> DictionaryFeedback {
        self.name = identity(&self.dialect, &self.term);
        sort_dedup(&mut self.sounds_like);
        let mut seen = HashSet::new();
        self.example_phrases
            .retain(|p| seen.insert(crate::model::phrase_key(p)));
        self.example_phrases.sort();
        if self.boost_value == 0.0 {
            self.boost_value = 0.0;
        }
        self
    }
    /// The engine is reported only where the extended engine is enabled: a spec that
    /// leaves it out does not manage it.
    fn seen_by(&self, desired: &DictionaryFeedback) -> DictionaryFeedback {
        let mut seen = self.clone();
        if desired.transcription_engine.is_empty() {
            seen.transcription_engine.clear();
        }
        seen
    }

    async fn list(client: &Client) -> ApiResult<Vec<Listed>> {
        Ok(client
            .list_dictionary_feedback()
            .await?
            .into_iter()
            .map(|w| Listed {
                unsettled: rejection(w.status.as_deref(), w.invalid_reason.as_deref()).is_some(),
                name: identity(&w.dialect, &w.term),
                modified_by: w.modified_by.map(|m| m.id),
                id: w.id,
                date_modified: w.date_modified,
                published: false,
                fingerprint: w.boost_value.map(|b| b.to_string()),
                body: None,
                refs: Vec::new(),
            })
            .collect())
    }

    async fn get(client: &Client, id: &str) -> ApiResult<Fetched> {
        let w = client.get_dictionary_feedback(id).await?;
        Ok(Fetched {
            body: from_wire(&w).into(),
            refs: Vec::new(),
            held_by: Vec::new(),
            id: w.id,
            published: false,
            date_modified: w.date_modified,
        })
    }

    async fn put(
        &self,
        client: &Client,
        id: Option<&str>,
        previous: Option<&DictionaryFeedback>,
        _ids: &Ids,
    ) -> ApiResult<Put> {
        let mut req = request(self);
        // The PUT replaces the whole term: an engine the spec does not manage keeps
        // the org's value.
        if req.transcription_engine.is_none() {
            req.transcription_engine = previous
                .map(|p| p.transcription_engine.clone())
                .filter(|e| !e.is_empty());
        }
        let w = match id {
            Some(id) => client.update_dictionary_feedback(id, &req).await?,
            None => client.create_dictionary_feedback(&req).await?,
        };
        // Genesys validates a term after accepting the write: a term it rejects (or
        // still has not validated) is a failed write with its reason, recorded with its
        // id, and shown by the next plan until it is fixed.
        let settled = client.settle_dictionary_feedback(w.value).await?;
        let mut put = Put::new(
            settled.id.clone(),
            settled.date_modified.clone(),
            false,
            w.meta,
        );
        put.incomplete = rejection(settled.status.as_deref(), settled.invalid_reason.as_deref())
            .map(|why| format!("Genesys did not accept the term: {why}"));
        Ok(put)
    }

    async fn delete(client: &Client, id: &str) -> ApiResult<Written<()>> {
        client.delete_dictionary_feedback(id).await
    }

    #[cfg(test)]
    fn example(name: String, tags: Vec<String>, flag: bool) -> DictionaryFeedback {
        DictionaryFeedback {
            name: String::new(),
            term: name.clone(),
            dialect: "en-GB".into(),
            boost_value: if flag { 3.5 } else { DEFAULT_BOOST },
            display_as: String::new(),
            example_phrases: vec![format!("I like {name} a lot")],
            sounds_like: tags,
            transcription_engine: String::new(),
            rejected: None,
        }
        .normalized()
    }

    fn decode_wire(body: &[u8]) -> usize {
        let n = usize::from(
            serde_json::from_slice::<crate::genesys::types::CursorPage<wire::DictionaryFeedback>>(
                body,
            )
            .is_ok(),
        );
        n + match serde_json::from_slice::<wire::DictionaryFeedback>(body) {
            Ok(w) => 1 + from_wire(&w).example_phrases.len(),
            Err(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_describes_the_same_term() {
        let d = DictionaryFeedback::example("Acme Fibre".into(), vec!["acme fiber".into()], true);
        assert_eq!(d.name, "en-GB: Acme Fibre");
        assert_eq!(DictionaryFeedback::from_spec(d.to_spec()), d);
    }

    #[test]
    fn an_unmanaged_engine_is_not_a_change() {
        let desired = DictionaryFeedback::example("X".into(), Vec::new(), false);
        let mut remote = desired.clone();
        remote.transcription_engine = "Genesys".into();
        assert_eq!(remote.seen_by(&desired), desired);
    }
}
