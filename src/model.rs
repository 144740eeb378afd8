//! Normalised desired/actual objects and their canonical hash.
//!
//! Both sides of a diff (specs from the repository and objects fetched from Genesys)
//! are turned into these types before they are compared. Normalisation fills in
//! defaults, sorts order-insensitive lists and drops server-only fields, so that two
//! objects that mean the same thing are `==` and hash to the same sha256.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The type of a remote object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    Topic,
    Program,
    SpeechRule,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Topic, Kind::Program, Kind::SpeechRule];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Topic => "Topic",
            Kind::Program => "Program",
            Kind::SpeechRule => "SpeechRule",
        }
    }

    /// Parses a kind name as written in specs and on the command line (case-insensitive).
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value from a small fixed set (strictness, sentiment). Normalising interns the
/// known values, so the 400,000 phrases of a large tree hold no copy of "72" or
/// "Unspecified" each: a plan of 2,000 topics x 200 phrases stays under 150 MiB.
pub type Label = std::borrow::Cow<'static, str>;

/// The static copy of a known strictness or sentiment, or the value as it is.
fn intern(label: &mut Label) {
    if let Some(known) = STRICTNESS
        .iter()
        .chain(SENTIMENTS.iter())
        .find(|k| **k == label.as_ref())
    {
        *label = Label::Borrowed(known);
    }
}

/// Topic strictness values accepted by Genesys.
pub const STRICTNESS: [&str; 6] = ["1", "55", "65", "72", "85", "90"];
/// Default topic strictness.
pub const DEFAULT_STRICTNESS: &str = "72";
/// Genesys topic dialects.
pub const DIALECTS: [&str; 16] = [
    "en-US", "es-US", "en-AU", "en-GB", "en-ZA", "es-ES", "en-IN", "fr-FR", "fr-CA", "it-IT",
    "de-DE", "pt-BR", "pl-PL", "pt-PT", "nl-NL", "ko-KR",
];
/// Topic participants values.
pub const PARTICIPANTS: [&str; 3] = ["External", "Internal", "All"];
/// Default topic participants.
pub const DEFAULT_PARTICIPANTS: &str = "All";
/// Topic phrase sentiments.
pub const SENTIMENTS: [&str; 4] = ["Unspecified", "Positive", "Neutral", "Negative"];
/// Default phrase sentiment.
pub const DEFAULT_SENTIMENT: &str = "Unspecified";
/// Topic matching types (SDK 269 `TopicRequest.matchingType`).
pub const MATCHING_TYPES: [&str; 2] = ["Lexical", "Semantic"];
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
pub struct AiPhrases(pub std::collections::BTreeSet<String>);

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

/// One phrase of a topic. `strictness` is always filled (a phrase without its own
/// strictness takes the topic's).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicPhrase {
    pub text: String,
    pub strictness: Label,
    pub sentiment: Label,
}

/// A normalised Speech & Text Analytics program. `topics` holds topic names, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Program {
    pub name: String,
    pub description: String,
    pub topics: Vec<String>,
    pub tags: Vec<String>,
    pub published: bool,
}

impl Program {
    /// Canonical form: tags and topic names sorted.
    pub fn normalized(mut self) -> Program {
        sort_dedup(&mut self.tags);
        sort_dedup(&mut self.topics);
        self
    }
}

/// A normalised speech rule (the origin tutorial's `/api/v2/speech/rules` object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpeechRule {
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub language: String,
    pub phrases: Vec<RulePhrase>,
    /// Scoring directives keep their order: they are applied in sequence.
    pub scoring: Vec<Scoring>,
    pub tags: Vec<String>,
}

impl SpeechRule {
    /// Canonical form: tags and phrases sorted; scoring keeps its order.
    pub fn normalized(mut self) -> SpeechRule {
        sort_dedup(&mut self.tags);
        self.phrases.sort();
        for s in &mut self.scoring {
            // -0.0 and 0.0 are the same weight; keep one spelling.
            if s.value == 0.0 {
                s.value = 0.0;
            }
        }
        self
    }
}

/// One phrase of a speech rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RulePhrase {
    pub phrase: String,
    pub match_type: String,
    pub case_sensitive: bool,
    pub enabled: bool,
}

/// One scoring directive of a speech rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scoring {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: f64,
    pub condition: String,
}

/// Any managed object, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Object {
    Topic(Topic),
    Program(Program),
    SpeechRule(SpeechRule),
}

impl Object {
    pub fn kind(&self) -> Kind {
        match self {
            Object::Topic(_) => Kind::Topic,
            Object::Program(_) => Kind::Program,
            Object::SpeechRule(_) => Kind::SpeechRule,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Object::Topic(t) => &t.name,
            Object::Program(p) => &p.name,
            Object::SpeechRule(r) => &r.name,
        }
    }

    /// Whether the object should be published after a write (topics and programs).
    pub fn wants_published(&self) -> bool {
        match self {
            Object::Topic(t) => t.published,
            Object::Program(p) => p.published,
            Object::SpeechRule(_) => false,
        }
    }

    /// Returns the object in canonical form: defaults filled, lists sorted.
    /// Idempotent: `x.normalized().normalized() == x.normalized()`.
    pub fn normalized(self) -> Object {
        match self {
            Object::Topic(t) => Object::Topic(t.normalized()),
            Object::Program(p) => Object::Program(p.normalized()),
            Object::SpeechRule(r) => Object::SpeechRule(r.normalized()),
        }
    }

    /// The same object with `published` cleared: the content that an update writes.
    /// Publication state is compared separately (it becomes a `publish` action).
    pub fn content(&self) -> Object {
        let mut o = self.clone();
        match &mut o {
            Object::Topic(t) => t.published = false,
            Object::Program(p) => p.published = false,
            Object::SpeechRule(_) => {}
        }
        o
    }

    /// The same object under another name.
    pub fn renamed(&self, name: &str) -> Object {
        let mut o = self.clone();
        match &mut o {
            Object::Topic(t) => t.name = name.to_string(),
            Object::Program(p) => p.name = name.to_string(),
            Object::SpeechRule(r) => r.name = name.to_string(),
        }
        o
    }

    /// Whether the two have the same content (`published` aside), without copying
    /// either unless their publication differs.
    pub fn same_content(&self, other: &Object) -> bool {
        if self.wants_published() == other.wants_published() {
            self == other
        } else {
            self.content() == other.content()
        }
    }

    /// Canonical JSON: struct fields in declaration order, lists normalised.
    pub fn canonical_json(&self) -> String {
        // Serialising plain structs of strings, bools, finite floats and lists cannot fail.
        serde_json::to_string(&self.clone().normalized()).unwrap_or_default()
    }

    /// sha256 (hex) of the canonical JSON.
    pub fn sha256(&self) -> String {
        sha256_hex(self.canonical_json().as_bytes())
    }

    /// The normalised object as YAML.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(&self.clone().normalized()).unwrap_or_default()
    }

    /// The YAML shown in plan diffs: the normalised content without `published`,
    /// which is not content (it becomes a `publish` action).
    pub fn content_yaml(&self) -> String {
        let mut value = serde_json::to_value(self.clone().normalized()).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.remove("published");
        }
        serde_saphyr::to_string(&value).unwrap_or_default()
    }
}

fn sort_dedup(v: &mut Vec<String>) {
    v.sort();
    v.dedup();
}

/// Hex sha256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Key used to compare phrase texts: case-insensitive, whitespace collapsed.
pub fn phrase_key(text: &str) -> String {
    // One pass, one allocation: this runs for every phrase of every spec.
    let mut key = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !key.is_empty() {
            key.push(' ');
        }
        if word.is_ascii() {
            key.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            key.push_str(&word.to_lowercase());
        }
    }
    key
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
        let Object::Topic(t) = Object::Topic(topic()).normalized() else {
            unreachable!()
        };
        assert_eq!(t.strictness, "72");
        assert_eq!(t.participants, "All");
        assert_eq!(t.tags, vec!["a", "b"]);
        assert_eq!(t.phrases[0].strictness, "72");
        assert_eq!(t.phrases[0].sentiment, "Unspecified");
    }

    #[test]
    fn phrase_key_collapses_whitespace_and_case() {
        assert_eq!(phrase_key("  Hello \t World "), "hello world");
    }
}
