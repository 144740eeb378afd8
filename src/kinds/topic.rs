//! `Topic`: a Speech & Text Analytics topic (SPEC 3.1, 8.3). Published after a write;
//! the list carries no phrases, so bodies are read by id; a topic knows the programs
//! that hold it.

use std::collections::{BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    ApiResult, Fetched, Ids, Listed, Managed, Put, RemoteRef, default_true, sort_dedup, string_enum,
};
use crate::genesys::client::{Named, STA, encode_segment};
use crate::genesys::{Client, Written, types::PublishJob};
use crate::model::phrase_key;
use crate::spec::validate::{Ctx, common, contained_keys, padded};
use crate::spec::yaml::Seg;

use super::Kind;

// ---- the spec ---------------------------------------------------------------------

/// A Speech & Text Analytics topic.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "Topic")]
pub struct TopicSpec {
    /// Identity within the kind; unique across the tree.
    pub name: String,
    /// The previous name, so a rename is an in-place update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// One of the Genesys topic dialects.
    pub dialect: Dialect,
    /// How closely a phrase must match; "72" when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "72"))]
    pub strictness: Option<Strictness>,
    /// How phrases are matched: `Lexical` (the words) or `Semantic` (the meaning);
    /// `Lexical` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Lexical"))]
    pub matching_type: Option<MatchingType>,
    /// Which side of the conversation is matched; `All` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "All"))]
    pub participants: Option<Participants>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Publish after create or update.
    #[serde(default = "default_true")]
    pub published: bool,
    /// 1 to 1000 phrases, unique within the topic.
    #[schemars(length(min = 1, max = 1000))]
    pub phrases: Vec<TopicPhraseSpec>,
}

/// One phrase of a topic.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TopicPhraseSpec {
    #[schemars(length(min = 1))]
    pub text: String,
    /// The topic's strictness when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strictness: Option<Strictness>,
    /// `Unspecified` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Unspecified"))]
    pub sentiment: Option<Sentiment>,
}

/// A reference to a topic in another spec: its name, or its name and dialect (needed
/// when topics of several dialects share the name; SPEC 12.1).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum TopicRef {
    Name(String),
    #[serde(rename_all = "camelCase")]
    Qualified {
        name: String,
        dialect: Dialect,
    },
}

impl TopicRef {
    /// The identity it names: `Name`, or `Name (dialect)`.
    pub fn identity(self) -> String {
        match self {
            TopicRef::Name(n) => n,
            TopicRef::Qualified { name, dialect } => super::qualify(&name, dialect.as_str()),
        }
    }

    /// The reference a spec writes for an identity.
    pub fn of(identity: &str) -> TopicRef {
        match super::split_qualified(identity).and_then(|(n, d)| Some((n, Dialect::parse(d)?))) {
            Some((name, dialect)) => TopicRef::Qualified {
                name: name.to_string(),
                dialect,
            },
            None => TopicRef::Name(identity.to_string()),
        }
    }
}

/// Serde for a topic identity written as a [`TopicRef`].
pub mod topic_ref {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::TopicRef;

    pub fn serialize<S: Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
        TopicRef::of(v).serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        TopicRef::deserialize(d).map(TopicRef::identity)
    }

    /// For `Option<String>`.
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
            v.as_deref().map(TopicRef::of).serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
            Option::<TopicRef>::deserialize(d).map(|o| o.map(TopicRef::identity))
        }
    }

    /// For `Vec<String>`.
    pub mod list {
        use super::*;

        pub fn serialize<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
            let refs: Vec<TopicRef> = v.iter().map(|i| TopicRef::of(i)).collect();
            refs.serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
            Vec::<TopicRef>::deserialize(d).map(|v| v.into_iter().map(TopicRef::identity).collect())
        }
    }
}

/// The topic references of the list at `key` of a spec document: names, and
/// `{name, dialect}` maps as `Name (dialect)`.
pub fn refs_in_list(node: &crate::spec::yaml::Node, key: &'static str) -> Vec<super::SpecRef> {
    use crate::spec::yaml::Value;
    let field_pos = node.key_pos(&[Seg::Key(key)]);
    match node.get(&[Seg::Key(key)]).map(|n| &n.value) {
        Some(Value::Seq(items)) => items
            .iter()
            .filter_map(|n| {
                Some(super::SpecRef {
                    kind: Kind::Topic,
                    name: ref_name(n)?,
                    pos: (n.line, n.column),
                    field_pos,
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The identity a reference node names: a string, or a `{name, dialect}` map.
pub fn ref_name(n: &crate::spec::yaml::Node) -> Option<String> {
    use crate::spec::yaml::Value;
    match &n.value {
        Value::Str(s) => Some(s.clone()),
        Value::Map(_) => {
            let field = |k: &str| match n.entry(k).map(|(_, v)| &v.value) {
                Some(Value::Str(s)) => Some(s.clone()),
                _ => None,
            };
            Some(super::qualify(&field("name")?, &field("dialect")?))
        }
        _ => None,
    }
}

string_enum!(
    /// Genesys topic dialects.
    Dialect {
        EnUs = "en-US", EsUs = "es-US", EnAu = "en-AU", EnGb = "en-GB", EnZa = "en-ZA",
        EsEs = "es-ES", EnIn = "en-IN", FrFr = "fr-FR", FrCa = "fr-CA", ItIt = "it-IT",
        DeDe = "de-DE", PtBr = "pt-BR", PlPl = "pl-PL", PtPt = "pt-PT", NlNl = "nl-NL",
        KoKr = "ko-KR",
    }
);
string_enum!(
    /// Topic strictness; a string in YAML (quote it: `"72"`).
    Strictness { S1 = "1", S55 = "55", S65 = "65", S72 = "72", S85 = "85", S90 = "90" }
);
string_enum!(
    /// How a topic's phrases are matched.
    MatchingType { Lexical = "Lexical", Semantic = "Semantic" }
);
string_enum!(
    /// Which participants a topic listens to.
    Participants { External = "External", Internal = "Internal", All = "All" }
);
string_enum!(
    /// Sentiment of a topic phrase.
    Sentiment { Unspecified = "Unspecified", Positive = "Positive", Neutral = "Neutral", Negative = "Negative" }
);

/// Genesys limit: phrases per topic.
pub const MAX_TOPIC_PHRASES: usize = 1000;

/// Topic rules: 1..=1000 phrases, non-empty and unique; contained phrases warned.
fn validate(ctx: &mut Ctx<'_>, spec: &TopicSpec) {
    common(ctx, &spec.name, spec.renamed_from.as_deref(), &spec.tags);
    let n = spec.phrases.len();
    if n == 0 {
        ctx.error(
            "topic.no-phrases",
            ctx.key_pos(&[Seg::Key("phrases")]),
            "a topic needs at least one phrase".into(),
            Some("add `- text: ...` under `phrases`".into()),
        );
    } else if n > MAX_TOPIC_PHRASES {
        ctx.error(
            "topic.too-many-phrases",
            ctx.key_pos(&[Seg::Key("phrases")]),
            format!("topic has {n} phrases; Genesys allows at most {MAX_TOPIC_PHRASES}"),
            Some("split the topic into several topics".into()),
        );
    }
    let text_pos =
        |ctx: &Ctx<'_>, i: usize| ctx.pos(&[Seg::Key("phrases"), Seg::Index(i), Seg::Key("text")]);
    // (key, index of first occurrence); keys of non-empty, first-seen phrases only.
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(n);
    let mut unique: Vec<(usize, String)> = Vec::with_capacity(n);
    for (i, p) in spec.phrases.iter().enumerate() {
        let key = phrase_key(&p.text);
        if key.is_empty() {
            ctx.error(
                "topic.phrase-empty",
                text_pos(ctx, i),
                "phrase text must not be empty".into(),
                None,
            );
            continue;
        }
        if let Some(first) = seen.get(&key) {
            let first_line = text_pos(ctx, *first).0;
            ctx.error(
                "topic.duplicate-phrase",
                text_pos(ctx, i),
                format!(
                    "duplicate phrase {:?} (same as line {first_line}; phrases are compared \
case-insensitively with whitespace collapsed)",
                    p.text
                ),
                Some("remove one of them".into()),
            );
            continue;
        }
        seen.insert(key.clone(), i);
        unique.push((i, padded(&key)));
    }
    // A phrase that contains another (as whole words) can never add a match: whenever
    // it is heard, the shorter phrase is heard too. Past the phrase limit the topic is
    // already an error, so the check is not run.
    if n > MAX_TOPIC_PHRASES {
        return;
    }
    let keys: Vec<&str> = unique.iter().map(|(_, k)| k.as_str()).collect();
    for ((a, _), inner) in unique.iter().zip(contained_keys(&keys)) {
        let Some(&(b, _)) = inner.first().and_then(|&j| unique.get(j)) else {
            continue;
        };
        let short_line = text_pos(ctx, b).0;
        ctx.warning(
            "topic.redundant-phrase",
            text_pos(ctx, *a),
            format!(
                "phrase {:?} contains phrase {:?} (line {short_line}), so it never adds a match",
                spec.phrases[*a].text, spec.phrases[b].text
            ),
            Some("remove the longer phrase, or make the shorter one more specific".into()),
        );
    }
}

// ---- the model --------------------------------------------------------------------

/// A value from a small fixed set (strictness, sentiment). Normalising interns the
/// known values, so the 400,000 phrases of a large tree hold no copy of "72" or
/// "Unspecified" each: a plan of 2,000 topics x 200 phrases stays under 150 MiB.
pub type Label = std::borrow::Cow<'static, str>;

/// The static copy of a known strictness or sentiment, or the value as it is.
fn intern(label: &mut Label) {
    if let Some(known) = Strictness::ALL
        .iter()
        .chain(Sentiment::ALL.iter())
        .find(|k| **k == label.as_ref())
    {
        *label = Label::Borrowed(known);
    }
}

/// Topic strictness values accepted by Genesys.
pub const STRICTNESS: &[&str] = Strictness::ALL;
/// Default topic strictness.
pub const DEFAULT_STRICTNESS: &str = "72";
/// Genesys topic dialects.
pub const DIALECTS: &[&str] = Dialect::ALL;
/// Topic participants values.
pub const PARTICIPANTS: &[&str] = Participants::ALL;
/// Default topic participants.
pub const DEFAULT_PARTICIPANTS: &str = "All";
/// Topic phrase sentiments.
pub const SENTIMENTS: &[&str] = Sentiment::ALL;
/// Default phrase sentiment.
pub const DEFAULT_SENTIMENT: &str = "Unspecified";
/// Topic matching types (SDK 269 `TopicRequest.matchingType`).
pub const MATCHING_TYPES: &[&str] = MatchingType::ALL;
/// Default topic matching type.
pub const DEFAULT_MATCHING_TYPE: &str = "Lexical";

fn default_matching_type() -> String {
    DEFAULT_MATCHING_TYPE.to_string()
}

/// The default is left out of canonical JSON, so hashes recorded before
/// `matchingType` was modelled still prove a Lexical topic unchanged.
fn is_default_matching_type(v: &String) -> bool {
    v == DEFAULT_MATCHING_TYPE
}

/// Texts (phrase keys) of the phrases Genesys marks `isAIGenerated`: provenance that
/// an update sends back unchanged. It is not content, so it never compares unequal
/// and is not part of the canonical JSON or the hash.
#[derive(Debug, Clone, Default)]
pub struct AiPhrases(pub BTreeSet<String>);

impl PartialEq for AiPhrases {
    fn eq(&self, _: &AiPhrases) -> bool {
        true
    }
}

impl Eq for AiPhrases {}

/// A normalised Speech & Text Analytics topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Topic {
    pub name: String,
    pub description: String,
    pub dialect: String,
    pub strictness: String,
    #[serde(
        default = "default_matching_type",
        skip_serializing_if = "is_default_matching_type"
    )]
    pub matching_type: String,
    pub participants: String,
    pub tags: Vec<String>,
    pub published: bool,
    pub phrases: Vec<TopicPhrase>,
    #[serde(skip)]
    pub ai_phrases: AiPhrases,
    /// Set when the topic's name is shared with a topic of another dialect (in the
    /// tree or the org): its identity is then `name (dialect)` (SPEC 12.1).
    #[serde(skip)]
    pub qualified: Qualified,
}

/// Whether a topic's identity carries its dialect. Not content: two topics compare
/// equal whatever it says, and it is never serialised (so hashes do not change).
#[derive(Debug, Clone, Default)]
pub struct Qualified(pub Option<String>);

impl PartialEq for Qualified {
    fn eq(&self, _: &Qualified) -> bool {
        true
    }
}

impl Eq for Qualified {}

/// One phrase of a topic. `strictness` is always filled (a phrase without its own
/// strictness takes the topic's).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicPhrase {
    pub text: String,
    pub strictness: Label,
    pub sentiment: Label,
}

impl Topic {
    /// Canonical form: defaults filled, tags and phrases sorted.
    pub fn normalized(mut self) -> Topic {
        if self.strictness.is_empty() {
            self.strictness = DEFAULT_STRICTNESS.to_string();
        }
        if self.matching_type.is_empty() {
            self.matching_type = default_matching_type();
        }
        for p in &mut self.phrases {
            if p.strictness.is_empty() {
                p.strictness = Label::Owned(self.strictness.clone());
            }
            if p.sentiment.is_empty() {
                p.sentiment = Label::Borrowed(DEFAULT_SENTIMENT);
            }
            intern(&mut p.strictness);
            intern(&mut p.sentiment);
        }
        if self.participants.is_empty() {
            self.participants = DEFAULT_PARTICIPANTS.to_string();
        }
        sort_dedup(&mut self.tags);
        self.phrases.sort();
        self
    }
}

// ---- the wire ---------------------------------------------------------------------

/// Wire shapes of `/api/v2/speechandtextanalytics/topics` (SDK 269 `ListedTopic`,
/// `Topic`, `TopicRequest`, `Phrase`).
pub mod wire {
    use serde::{Deserialize, Serialize};

    use crate::genesys::types::{IdName, nullable};

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
}

/// A full wire topic as a normalised model topic.
pub fn from_wire(t: &wire::Topic) -> Topic {
    let ai_phrases = t
        .phrases
        .iter()
        .filter(|p| p.is_ai_generated == Some(true))
        .map(|p| phrase_key(&p.text))
        .collect();
    Topic {
        name: t.name.clone(),
        description: t.description.clone().unwrap_or_default(),
        dialect: t.dialect.clone().unwrap_or_default(),
        strictness: t.strictness.clone().unwrap_or_default(),
        matching_type: t.matching_type.clone().unwrap_or_default(),
        participants: t.participants.clone().unwrap_or_default(),
        ai_phrases: AiPhrases(ai_phrases),
        qualified: Qualified::default(),
        tags: t.tags.clone(),
        published: t.published,
        phrases: t
            .phrases
            .iter()
            .map(|p| TopicPhrase {
                text: p.text.clone(),
                strictness: p.strictness.clone().unwrap_or_default().into(),
                sentiment: p.sentiment.clone().unwrap_or_default().into(),
            })
            .collect(),
    }
    .normalized()
}

/// The write body of a model topic. Phrases that `previous` (the body the org holds)
/// marks AI-generated keep that mark.
pub fn request(t: &Topic, previous: Option<&Topic>) -> wire::TopicRequest {
    let ai = |text: &str| {
        previous
            .is_some_and(|p| p.ai_phrases.0.contains(&phrase_key(text)))
            .then_some(true)
    };
    wire::TopicRequest {
        name: t.name.clone(),
        description: t.description.clone(),
        strictness: t.strictness.clone(),
        matching_type: t.matching_type.clone(),
        tags: t.tags.clone(),
        dialect: t.dialect.clone(),
        participants: t.participants.clone(),
        phrases: t
            .phrases
            .iter()
            .map(|p| wire::WirePhrase {
                text: p.text.clone(),
                strictness: Some(p.strictness.to_string()),
                sentiment: Some(p.sentiment.to_string()),
                is_ai_generated: ai(&p.text),
            })
            .collect(),
    }
}

// ---- the endpoints ----------------------------------------------------------------

/// Page size of the numbered topic list.
const PAGE_SIZE: u32 = 500;

fn path() -> String {
    format!("{STA}/topics")
}

fn path_of(id: &str) -> String {
    format!("{STA}/topics/{}", encode_segment(id))
}

/// Found by `Name (dialect)`: names are unique per dialect only.
impl Named for wire::Topic {
    async fn by_id(client: &Client, id: &str, identity: &str) -> ApiResult<Option<Self>> {
        let t = client.get_topic(id).await?;
        let dialect = t.dialect.as_deref().unwrap_or_default();
        Ok((super::qualify(&t.name, dialect) == identity || t.name == identity).then_some(t))
    }

    async fn find(client: &Client, identity: &str) -> ApiResult<Option<Self>> {
        let (name, dialect) = super::split_qualified(identity).unwrap_or((identity, ""));
        let listed: Vec<wire::ListedTopic> = client
            .list_numbered(&path(), PAGE_SIZE, Some(("name", name)))
            .await?;
        let same_dialect =
            |t: &wire::ListedTopic| dialect.is_empty() || t.dialect.as_deref() == Some(dialect);
        match listed
            .into_iter()
            .find(|t| t.name == name && same_dialect(t))
        {
            Some(t) => Ok(Some(client.get_topic(&t.id).await?)),
            None => Ok(None),
        }
    }
}

impl Client {
    /// Every topic, all pages (pageSize 500), without phrases.
    pub async fn list_topics(&self) -> ApiResult<Vec<wire::ListedTopic>> {
        self.list_numbered(&path(), PAGE_SIZE, None).await
    }
    /// One full topic.
    pub async fn get_topic(&self, id: &str) -> ApiResult<wire::Topic> {
        self.get_at(&path_of(id)).await
    }
    /// Creates a topic (safe against duplicate creation on retry).
    pub async fn create_topic(&self, body: &wire::TopicRequest) -> ApiResult<Written<wire::Topic>> {
        self.create(path(), &super::qualify(&body.name, &body.dialect), body)
            .await
    }
    /// Replaces a topic.
    pub async fn update_topic(
        &self,
        id: &str,
        body: &wire::TopicRequest,
    ) -> ApiResult<Written<wire::Topic>> {
        self.put(path_of(id), body).await
    }
    /// Deletes a topic; a 404 counts as success.
    pub async fn delete_topic(&self, id: &str) -> ApiResult<Written<()>> {
        self.delete_at(path_of(id), None).await
    }
    /// Starts one publish job for these topics and polls it to completion.
    pub async fn publish_topics(&self, ids: &[String]) -> ApiResult<Written<PublishJob>> {
        if ids.is_empty() {
            return Ok(crate::genesys::client::nothing_to_publish());
        }
        self.publish(
            format!("{STA}/topics/publishjobs"),
            serde_json::json!({ "topicIds": ids }),
        )
        .await
    }
}

impl Managed for Topic {
    type Spec = TopicSpec;
    const NAME: &'static str = "Topic";
    const SCHEMA_FILE: &'static str = "topic.schema.json";
    const FILE_STEM: &'static str = "topic";
    const PUBLISHABLE: bool = true;
    const SCOPED: bool = true;

    fn validate(ctx: &mut Ctx<'_>, spec: &TopicSpec) {
        validate(ctx, spec);
    }

    fn renamed_from(spec: &TopicSpec) -> Option<String> {
        spec.renamed_from.clone()
    }

    fn from_spec(spec: TopicSpec) -> Topic {
        Topic {
            name: spec.name,
            description: spec.description,
            dialect: spec.dialect.as_str().to_string(),
            strictness: spec
                .strictness
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            matching_type: spec
                .matching_type
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
            participants: spec
                .participants
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            ai_phrases: AiPhrases::default(),
            qualified: Qualified::default(),
            tags: spec.tags,
            published: spec.published,
            phrases: spec
                .phrases
                .into_iter()
                .map(|p| TopicPhrase {
                    text: p.text,
                    strictness: p.strictness.map(|s| s.as_str().into()).unwrap_or_default(),
                    sentiment: p.sentiment.map(|s| s.as_str().into()).unwrap_or_default(),
                })
                .collect(),
        }
        .normalized()
    }

    /// Strictness and participants are always written; a phrase's strictness and
    /// sentiment only where they differ from the topic's and the default.
    fn to_spec(&self) -> TopicSpec {
        TopicSpec {
            name: self.name.clone(),
            renamed_from: None,
            description: self.description.clone(),
            // A normalised topic from the org holds a known dialect; an unknown one
            // (a newer Genesys) becomes the default, which validation would refuse
            // anyway, rather than failing the import.
            dialect: Dialect::parse(&self.dialect).unwrap_or(Dialect::EnUs),
            strictness: Strictness::parse(&self.strictness),
            matching_type: (self.matching_type != DEFAULT_MATCHING_TYPE)
                .then(|| MatchingType::parse(&self.matching_type))
                .flatten(),
            participants: Participants::parse(&self.participants),
            tags: self.tags.clone(),
            published: self.published,
            phrases: self
                .phrases
                .iter()
                .map(|p| TopicPhraseSpec {
                    text: p.text.clone(),
                    strictness: (p.strictness != self.strictness.as_str())
                        .then(|| Strictness::parse(&p.strictness))
                        .flatten(),
                    sentiment: (p.sentiment != DEFAULT_SENTIMENT)
                        .then(|| Sentiment::parse(&p.sentiment))
                        .flatten(),
                })
                .collect(),
        }
    }

    fn name(&self) -> &str {
        self.qualified.0.as_deref().unwrap_or(&self.name)
    }
    /// `name` is an identity: `Name (dialect)` of this topic's dialect qualifies it.
    fn set_name(&mut self, name: &str) {
        match super::split_qualified(name) {
            Some((base, scope)) if scope == self.dialect => {
                self.name = base.to_string();
                self.qualified = Qualified(Some(name.to_string()));
            }
            _ => {
                self.name = name.to_string();
                self.qualified = Qualified::default();
            }
        }
    }
    fn scope(&self) -> Option<&str> {
        Some(&self.dialect)
    }
    fn base_name(&self) -> &str {
        &self.name
    }
    fn set_qualified(&mut self, qualified: bool) {
        self.qualified = Qualified(qualified.then(|| super::qualify(&self.name, &self.dialect)));
    }
    fn published(&self) -> bool {
        self.published
    }
    fn set_published(&mut self, published: bool) {
        self.published = published;
    }
    fn normalized(self) -> Topic {
        Topic::normalized(self)
    }

    /// Listed names are always `Name (dialect)`; `remote` drops the dialect where no
    /// other topic shares the name.
    async fn list(client: &Client) -> ApiResult<Vec<Listed>> {
        Ok(client
            .list_topics()
            .await?
            .into_iter()
            .map(|t| Listed {
                unsettled: false,
                id: t.id,
                name: super::qualify(&t.name, t.dialect.as_deref().unwrap_or_default()),
                date_modified: t.date_modified,
                published: t.published,
                modified_by: t.modified_by.map(|m| m.id),
                fingerprint: None,
                body: None,
                refs: Vec::new(),
            })
            .collect())
    }

    async fn get(client: &Client, id: &str) -> ApiResult<Fetched> {
        let t = client.get_topic(id).await?;
        Ok(Fetched {
            body: from_wire(&t).into(),
            held_by: t
                .programs
                .iter()
                .map(|p| RemoteRef {
                    kind: Kind::Program,
                    id: p.id.clone(),
                    name: p.name.clone(),
                })
                .collect(),
            refs: Vec::new(),
            id: t.id,
            published: t.published,
            date_modified: t.date_modified,
        })
    }

    async fn put(
        &self,
        client: &Client,
        id: Option<&str>,
        previous: Option<&Topic>,
        _ids: &Ids,
    ) -> ApiResult<Put> {
        let req = request(self, previous);
        let w = match id {
            Some(id) => client.update_topic(id, &req).await?,
            None => client.create_topic(&req).await?,
        };
        Ok(Put::new(
            w.value.id,
            w.value.date_modified,
            w.value.published,
            w.meta,
        ))
    }

    async fn delete(client: &Client, id: &str) -> ApiResult<Written<()>> {
        client.delete_topic(id).await
    }

    async fn publish(client: &Client, ids: &[String]) -> ApiResult<Written<PublishJob>> {
        client.publish_topics(ids).await
    }

    #[cfg(test)]
    fn scramble(&mut self) {
        self.tags.reverse();
        self.phrases.reverse();
    }

    #[cfg(test)]
    fn example(name: String, tags: Vec<String>, published: bool) -> Topic {
        Topic {
            name,
            description: String::new(),
            dialect: "en-US".into(),
            strictness: String::new(),
            participants: String::new(),
            matching_type: String::new(),
            ai_phrases: AiPhrases::default(),
            qualified: Qualified::default(),
            tags,
            published,
            phrases: vec![TopicPhrase {
                text: "hello".into(),
                strictness: Label::default(),
                sentiment: Label::default(),
            }],
        }
        .normalized()
    }

    fn decode_wire(body: &[u8]) -> usize {
        let mut n = usize::from(
            serde_json::from_slice::<crate::genesys::types::NumberedPage<wire::ListedTopic>>(body)
                .is_ok(),
        );
        if let Ok(t) = serde_json::from_slice::<wire::Topic>(body) {
            n += 1 + from_wire(&t).phrases.len();
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic() -> Topic {
        Topic {
            name: "T".into(),
            description: String::new(),
            dialect: "en-US".into(),
            strictness: Default::default(),
            participants: String::new(),
            matching_type: String::new(),
            ai_phrases: Default::default(),
            qualified: Default::default(),
            tags: vec!["b".into(), "a".into(), "b".into()],
            published: true,
            phrases: vec![TopicPhrase {
                text: "hello".into(),
                strictness: Default::default(),
                sentiment: Default::default(),
            }],
        }
    }

    #[test]
    fn normalisation_fills_defaults_and_sorts() {
        let t = topic().normalized();
        assert_eq!(t.strictness, "72");
        assert_eq!(t.participants, "All");
        assert_eq!(t.tags, vec!["a", "b"]);
        assert_eq!(t.phrases[0].strictness, "72");
        assert_eq!(t.phrases[0].sentiment, "Unspecified");
    }

    #[test]
    fn null_lists_and_flags_read_as_empty() {
        let t: wire::Topic = serde_json::from_str(
            r#"{"id":"1","name":"n","tags":null,"phrases":null,"programs":null,"published":null}"#,
        )
        .unwrap();
        assert!(t.tags.is_empty() && t.phrases.is_empty() && !t.published);
    }

    #[test]
    fn the_spec_of_a_topic_describes_the_same_topic() {
        let t = topic().normalized();
        assert_eq!(Topic::from_spec(t.to_spec()), t);
    }
}
