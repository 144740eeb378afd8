//! The spec types as written in YAML (SPEC section 3), one per kind.
//!
//! These types are the single source of truth for both the parser and the committed
//! JSON Schemas (`speechops schema`), so the two cannot drift apart. Field names are
//! camelCase (the Genesys wire names); unknown keys are rejected.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::model::{self, Kind};

fn default_true() -> bool {
    true
}

fn default_language() -> String {
    "en-US".to_string()
}

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

/// A Speech & Text Analytics program grouping topics.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "Program")]
pub struct ProgramSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Names of Topic specs in this repository.
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default = "default_true")]
    pub published: bool,
}

/// A speech rule (the origin tutorial's `/api/v2/speech/rules` object).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "SpeechRule")]
pub struct SpeechRuleSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Language tag such as en-US.
    #[serde(default = "default_language")]
    pub language: String,
    /// 1 to 100 phrases.
    #[schemars(length(min = 1, max = 100))]
    pub phrases: Vec<RulePhraseSpec>,
    /// Scoring directives, applied in order.
    #[serde(default)]
    pub scoring: Vec<ScoringSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// One phrase of a speech rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RulePhraseSpec {
    #[schemars(length(min = 1))]
    pub phrase: String,
    #[serde(default)]
    pub match_type: MatchType,
    #[serde(default)]
    pub case_sensitive: bool,
    #[serde(default = "default_true")]
    pub enabled: bool,
}

/// One scoring directive of a speech rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScoringSpec {
    #[serde(rename = "type")]
    pub kind: ScoringType,
    /// Weight in -1.0 ..= 1.0.
    #[schemars(range(min = -1.0, max = 1.0))]
    pub value: f64,
    #[serde(default)]
    pub condition: Condition,
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? } $(default $default:ident)?) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }
        impl $name {
            pub const ALL: &'static [&'static str] = &[$($text),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        $(impl Default for $name { fn default() -> Self { $name::$default } })?
    };
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
string_enum!(
    /// How a speech rule phrase matches.
    MatchType { Exact = "exact", Fuzzy = "fuzzy", Regex = "regex" } default Exact
);
string_enum!(
    /// How a scoring directive combines.
    ScoringType { Additive = "additive", Multiplicative = "multiplicative" }
);
string_enum!(
    /// When a scoring directive applies.
    Condition { Pass = "pass", Fail = "fail" } default Pass
);

/// Any spec document, discriminated by `kind` (used for the combined schema).
#[derive(JsonSchema)]
#[serde(tag = "kind")]
#[allow(dead_code)]
enum AnySpec {
    Topic(TopicSpec),
    Program(ProgramSpec),
    SpeechRule(SpeechRuleSpec),
}

impl TopicSpec {
    /// The normalised model object.
    pub fn into_model(self) -> model::Topic {
        model::Topic {
            name: self.name,
            description: self.description,
            dialect: self.dialect.as_str().to_string(),
            strictness: self
                .strictness
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            matching_type: self
                .matching_type
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
            participants: self
                .participants
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            ai_phrases: model::AiPhrases::default(),
            tags: self.tags,
            published: self.published,
            phrases: self
                .phrases
                .into_iter()
                .map(|p| model::TopicPhrase {
                    text: p.text,
                    strictness: p.strictness.map(|s| s.as_str().into()).unwrap_or_default(),
                    sentiment: p.sentiment.map(|s| s.as_str().into()).unwrap_or_default(),
                })
                .collect(),
        }
        .normalized()
    }
}

impl ProgramSpec {
    /// The normalised model object.
    pub fn into_model(self) -> model::Program {
        model::Program {
            name: self.name,
            description: self.description,
            topics: self.topics,
            tags: self.tags,
            published: self.published,
        }
        .normalized()
    }
}

impl SpeechRuleSpec {
    /// The normalised model object.
    pub fn into_model(self) -> model::SpeechRule {
        model::SpeechRule {
            name: self.name,
            description: self.description,
            enabled: self.enabled,
            language: self.language,
            phrases: self
                .phrases
                .into_iter()
                .map(|p| model::RulePhrase {
                    phrase: p.phrase,
                    match_type: p.match_type.as_str().to_string(),
                    case_sensitive: p.case_sensitive,
                    enabled: p.enabled,
                })
                .collect(),
            scoring: self
                .scoring
                .iter()
                .map(|s| model::Scoring {
                    kind: s.kind.as_str().to_string(),
                    value: s.value,
                    condition: s.condition.as_str().to_string(),
                })
                .collect(),
            tags: self.tags,
        }
        .normalized()
    }
}

const SCHEMA_BASE: &str = "https://speechops.dev/schemas/";

/// File name of the committed schema for one kind, or for all kinds.
pub fn schema_file_name(kind: Option<Kind>) -> &'static str {
    match kind {
        None => "speechops.schema.json",
        Some(Kind::Topic) => "topic.schema.json",
        Some(Kind::Program) => "program.schema.json",
        Some(Kind::SpeechRule) => "speechrule.schema.json",
    }
}

/// The JSON Schema of spec documents: all kinds (`oneOf` by `kind`), or one kind.
pub fn json_schema(kind: Option<Kind>) -> Json {
    let mut schema = match kind {
        None => schemars::schema_for!(AnySpec).to_value(),
        Some(k) => {
            let mut s = match k {
                Kind::Topic => schemars::schema_for!(TopicSpec),
                Kind::Program => schemars::schema_for!(ProgramSpec),
                Kind::SpeechRule => schemars::schema_for!(SpeechRuleSpec),
            }
            .to_value();
            add_kind_property(&mut s, k);
            s
        }
    };
    if let Json::Object(obj) = &mut schema {
        // Put $schema/$id/title/description first so the files read well.
        let mut out = Map::new();
        if let Some(v) = obj.remove("$schema") {
            out.insert("$schema".into(), v);
        }
        out.insert(
            "$id".into(),
            Json::String(format!("{SCHEMA_BASE}{}", schema_file_name(kind))),
        );
        let title = match kind {
            None => "speechops spec".to_string(),
            Some(k) => format!("speechops {k} spec"),
        };
        obj.remove("title");
        out.insert("title".into(), Json::String(title));
        out.insert(
            "description".into(),
            Json::String(
                "One YAML document of a speechops spec file (SPEC section 3). \
Generated by `speechops schema`; do not edit."
                    .into(),
            ),
        );
        obj.remove("description");
        for (k, v) in std::mem::take(obj) {
            out.insert(k, v);
        }
        *obj = out;
    }
    schema
}

/// Adds `kind: const K` (required, first) to a single-kind schema.
fn add_kind_property(schema: &mut Json, kind: Kind) {
    let Json::Object(obj) = schema else { return };
    if let Some(Json::Object(props)) = obj.get_mut("properties") {
        let mut out = Map::new();
        out.insert(
            "kind".into(),
            serde_json::json!({ "type": "string", "const": kind.as_str() }),
        );
        for (k, v) in std::mem::take(props) {
            out.insert(k, v);
        }
        *props = out;
    }
    if let Some(Json::Array(req)) = obj.get_mut("required") {
        req.insert(0, Json::String("kind".into()));
    }
}
