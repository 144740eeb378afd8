//! `SpeechRule`: the origin tutorial's speech rule (`/api/v2/speech/rules`, SPEC 3.3,
//! 8.5), the kind this project grew from. Not published; the list is numbered and
//! carries whole bodies. The endpoint is not part of Genesys's public API, so an org
//! that answers 404 for it is told so.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    ApiResult, Fetched, Ids, Listed, Managed, Put, default_true, is_true, sort_dedup, string_enum,
};
use crate::genesys::client::{Named, encode_segment};
use crate::genesys::types::NumberedPage;
use crate::genesys::{self, Client, Written};
use crate::model::phrase_key;
use crate::spec::validate::{Ctx, common, contained_keys};
use crate::spec::yaml::Seg;

// ---- the spec ---------------------------------------------------------------------

fn default_language() -> String {
    "en-US".to_string()
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
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    #[schemars(extend("default" = true))]
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

/// Origin tutorial limit: phrases per speech rule.
pub const MAX_RULE_PHRASES: usize = 100;

/// Whether `s` looks like a BCP 47 language tag such as `en-US` or `pt-BR`.
fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let lang_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    lang_ok
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Speech rule rules from the origin tutorial: at most 100 phrases, no duplicates
/// (case-insensitive), no overlapping exact phrases, weights finite in [-1, 1],
/// regexes that compile.
fn validate(ctx: &mut Ctx<'_>, spec: &SpeechRuleSpec) {
    common(ctx, &spec.name, spec.renamed_from.as_deref(), &spec.tags);
    if !is_language_tag(&spec.language) {
        ctx.error(
            "speechrule.language",
            ctx.pos(&[Seg::Key("language")]),
            format!("language {:?} is not a language tag", spec.language),
            Some("use a BCP 47 tag such as `en-US` (the default)".into()),
        );
    }
    let n = spec.phrases.len();
    if n == 0 {
        ctx.error(
            "speechrule.no-phrases",
            ctx.key_pos(&[Seg::Key("phrases")]),
            "a speech rule needs at least one phrase".into(),
            Some("add `- phrase: ...` under `phrases`".into()),
        );
    } else if n > MAX_RULE_PHRASES {
        ctx.error(
            "speechrule.too-many-phrases",
            ctx.key_pos(&[Seg::Key("phrases")]),
            format!("speech rule has {n} phrases; at most {MAX_RULE_PHRASES} are allowed"),
            Some("split the rule into several rules".into()),
        );
    }
    let phrase_pos = |ctx: &Ctx<'_>, i: usize| {
        ctx.pos(&[Seg::Key("phrases"), Seg::Index(i), Seg::Key("phrase")])
    };
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(n);
    let mut exact: Vec<(usize, String)> = Vec::new();
    for (i, p) in spec.phrases.iter().enumerate() {
        let key = phrase_key(&p.phrase);
        if key.is_empty() {
            ctx.error(
                "speechrule.phrase-empty",
                phrase_pos(ctx, i),
                "phrase must not be empty".into(),
                None,
            );
            continue;
        }
        if let Some(first) = seen.get(&key) {
            let first_line = phrase_pos(ctx, *first).0;
            ctx.error(
                "speechrule.duplicate-phrase",
                phrase_pos(ctx, i),
                format!(
                    "duplicate phrase {:?} (same as line {first_line}, compared case-insensitively)",
                    p.phrase
                ),
                Some("remove one of them".into()),
            );
            continue;
        }
        seen.insert(key.clone(), i);
        match p.match_type {
            MatchType::Exact => exact.push((i, key)),
            MatchType::Regex => {
                if let Err(e) = check_regex(&p.phrase) {
                    let detail = e
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("")
                        .trim()
                        .trim_start_matches("error: ")
                        .to_string();
                    ctx.error(
                        "speechrule.regex",
                        phrase_pos(ctx, i),
                        format!("regex {:?} does not compile: {detail}", p.phrase),
                        Some(
                            "check the syntax (Rust `regex` crate), or use matchType `exact`"
                                .into(),
                        ),
                    );
                }
            }
            MatchType::Fuzzy => {}
        }
    }
    // The tutorial rejects two exact phrases where one contains the other (plain
    // case-insensitive substring): the rule engine cannot tell which one scored.
    // Past the phrase limit the rule is already an error, so the check is not run.
    let keys: Vec<&str> = exact.iter().map(|(_, k)| k.as_str()).collect();
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    if n <= MAX_RULE_PHRASES {
        for (x, inner) in contained_keys(&keys).into_iter().enumerate() {
            pairs.extend(inner.into_iter().map(|y| (x.min(y), x.max(y))));
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    for (x, y) in pairs {
        let (Some((a, _)), Some((b, _))) = (exact.get(x), exact.get(y)) else {
            continue;
        };
        let first_line = phrase_pos(ctx, *a).0;
        ctx.error(
            "speechrule.overlap",
            phrase_pos(ctx, *b),
            format!(
                "ambiguous phrase overlap: exact phrases {:?} and {:?} (line {first_line}) \
contain one another",
                spec.phrases[*b].phrase, spec.phrases[*a].phrase
            ),
            Some("remove the shorter phrase, reword one of them, or make one `fuzzy`".into()),
        );
    }
    for (i, s) in spec.scoring.iter().enumerate() {
        let pos = ctx.pos(&[Seg::Key("scoring"), Seg::Index(i), Seg::Key("value")]);
        if !s.value.is_finite() {
            ctx.error(
                "speechrule.weight",
                pos,
                format!("scoring weight {} is not a finite number", s.value),
                Some("use a number between -1.0 and 1.0".into()),
            );
        } else if !(-1.0..=1.0).contains(&s.value) {
            ctx.error(
                "speechrule.weight",
                pos,
                format!("scoring weight {} is outside -1.0 ..= 1.0", s.value),
                Some("use a number between -1.0 and 1.0".into()),
            );
        }
    }
}

/// Checks that a regex compiles. Parsing (regex-syntax) finds every syntax error and
/// unsupported feature in a few microseconds; building the matcher costs ~50 us, so it
/// is done only for patterns with counted repetitions, the one way a syntactically
/// valid pattern can still exceed the compiled-size limit.
fn check_regex(pattern: &str) -> Result<(), String> {
    // The syntax tree catches every error a pattern without escapes or flags can have;
    // translating it (which resolves classes such as `\p{Greek}` and flags such as
    // `(?-u)`) is only needed, and only done, when the pattern has either.
    if !pattern.contains('\\') && !pattern.contains("(?") {
        return regex_syntax::ast::parse::ParserBuilder::new()
            .nest_limit(64)
            .build()
            .parse(pattern)
            .map(|_| ())
            .map_err(|e| e.to_string())
            .and_then(|()| {
                if pattern.contains('{') {
                    regex::RegexBuilder::new(pattern)
                        .size_limit(1 << 20)
                        .build()
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                } else {
                    Ok(())
                }
            });
    }
    regex_syntax::ParserBuilder::new()
        .nest_limit(64)
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    if pattern.contains('{') {
        regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

// ---- the model --------------------------------------------------------------------

/// A normalised speech rule.
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

// ---- the wire ---------------------------------------------------------------------

/// Wire shapes of `/api/v2/speech/rules` (the origin tutorial; not in the SDK).
pub mod wire {
    use serde::{Deserialize, Serialize};

    use crate::genesys::types::nullable;

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
}

/// A wire speech rule as a normalised model rule.
pub fn from_wire(r: &wire::SpeechRule) -> SpeechRule {
    SpeechRule {
        name: r.name.clone(),
        description: r.description.clone().unwrap_or_default(),
        enabled: r.enabled.unwrap_or(true),
        language: r.language.clone().unwrap_or_else(default_language),
        phrases: r
            .phrases
            .iter()
            .map(|p| RulePhrase {
                phrase: p.phrase.clone(),
                match_type: p.match_type.clone().unwrap_or_else(|| "exact".to_string()),
                case_sensitive: p.case_sensitive,
                enabled: p.enabled.unwrap_or(true),
            })
            .collect(),
        scoring: r
            .scoring
            .iter()
            .map(|s| Scoring {
                kind: s.kind.clone(),
                value: s.value,
                condition: s.condition.clone().unwrap_or_else(|| "pass".to_string()),
            })
            .collect(),
        tags: r.tags.clone(),
    }
    .normalized()
}

/// The write body of a model speech rule.
pub fn request(r: &SpeechRule) -> wire::SpeechRuleRequest {
    wire::SpeechRuleRequest {
        name: r.name.clone(),
        description: r.description.clone(),
        enabled: r.enabled,
        language: r.language.clone(),
        phrases: r
            .phrases
            .iter()
            .map(|p| wire::RulePhrase {
                phrase: p.phrase.clone(),
                match_type: Some(p.match_type.clone()),
                case_sensitive: p.case_sensitive,
                enabled: Some(p.enabled),
            })
            .collect(),
        scoring: r
            .scoring
            .iter()
            .map(|s| wire::RuleScoring {
                kind: s.kind.clone(),
                value: s.value,
                condition: Some(s.condition.clone()),
            })
            .collect(),
        tags: r.tags.clone(),
    }
}

// ---- the endpoints ----------------------------------------------------------------

/// The speech rules API of the origin tutorial.
pub const RULES: &str = "/api/v2/speech/rules";
const PAGE_SIZE: u32 = 100;

fn path_of(id: &str) -> String {
    format!("{RULES}/{}", encode_segment(id))
}

impl Named for wire::SpeechRule {
    async fn find(client: &Client, name: &str) -> ApiResult<Option<Self>> {
        let all = client.list_speech_rules().await?;
        Ok(all.into_iter().find(|r| r.name == name))
    }
}

impl Client {
    /// Every speech rule, all pages.
    pub async fn list_speech_rules(&self) -> ApiResult<Vec<wire::SpeechRule>> {
        self.list_numbered(RULES, PAGE_SIZE, None).await
    }
    /// Creates a speech rule (safe against duplicate creation on retry).
    pub async fn create_speech_rule(
        &self,
        body: &wire::SpeechRuleRequest,
    ) -> ApiResult<Written<wire::SpeechRule>> {
        self.create(RULES.to_string(), &body.name, body).await
    }
    /// Replaces a speech rule.
    pub async fn update_speech_rule(
        &self,
        id: &str,
        body: &wire::SpeechRuleRequest,
    ) -> ApiResult<Written<wire::SpeechRule>> {
        self.put(path_of(id), body).await
    }
    /// Deletes a speech rule; a 404 counts as success.
    pub async fn delete_speech_rule(&self, id: &str) -> ApiResult<Written<()>> {
        self.delete_at(path_of(id), None).await
    }
}

/// The speech-rules API is the origin tutorial's, not part of Genesys's public API:
/// say so when an org answers 404 for it.
fn explain_missing_api(e: genesys::Error) -> genesys::Error {
    match e {
        genesys::Error::Api {
            status: 404,
            method,
            path,
            code,
            message,
            context_id,
            correlation_id,
        } => genesys::Error::Api {
            status: 404,
            method,
            path,
            code,
            message: format!(
                "{message} (this org does not serve /api/v2/speech/rules, the origin tutorial's \
speech rules API that is not part of Genesys's public API; remove the SpeechRule specs or \
point --api-url at a gateway that serves it)"
            ),
            context_id,
            correlation_id,
        },
        other => other,
    }
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

impl Managed for SpeechRule {
    type Spec = SpeechRuleSpec;
    const NAME: &'static str = "SpeechRule";
    const SCHEMA_FILE: &'static str = "speechrule.schema.json";
    const FILE_STEM: &'static str = "speech-rule";
    const LIST_HAS_BODIES: bool = true;

    fn validate(ctx: &mut Ctx<'_>, spec: &SpeechRuleSpec) {
        validate(ctx, spec);
    }

    fn renamed_from(spec: &SpeechRuleSpec) -> Option<String> {
        spec.renamed_from.clone()
    }

    fn from_spec(spec: SpeechRuleSpec) -> SpeechRule {
        SpeechRule {
            name: spec.name,
            description: spec.description,
            enabled: spec.enabled,
            language: spec.language,
            phrases: spec
                .phrases
                .into_iter()
                .map(|p| RulePhrase {
                    phrase: p.phrase,
                    match_type: p.match_type.as_str().to_string(),
                    case_sensitive: p.case_sensitive,
                    enabled: p.enabled,
                })
                .collect(),
            scoring: spec
                .scoring
                .iter()
                .map(|s| Scoring {
                    kind: s.kind.as_str().to_string(),
                    value: s.value,
                    condition: s.condition.as_str().to_string(),
                })
                .collect(),
            tags: spec.tags,
        }
        .normalized()
    }

    fn to_spec(&self) -> SpeechRuleSpec {
        SpeechRuleSpec {
            name: self.name.clone(),
            renamed_from: None,
            description: self.description.clone(),
            enabled: self.enabled,
            language: self.language.clone(),
            phrases: self
                .phrases
                .iter()
                .map(|p| RulePhraseSpec {
                    phrase: p.phrase.clone(),
                    match_type: MatchType::parse(&p.match_type).unwrap_or_default(),
                    case_sensitive: p.case_sensitive,
                    enabled: p.enabled,
                })
                .collect(),
            scoring: self
                .scoring
                .iter()
                .map(|s| ScoringSpec {
                    kind: ScoringType::parse(&s.kind).unwrap_or(ScoringType::Additive),
                    value: s.value,
                    condition: Condition::parse(&s.condition).unwrap_or_default(),
                })
                .collect(),
            tags: self.tags.clone(),
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }
    fn normalized(self) -> SpeechRule {
        SpeechRule::normalized(self)
    }

    async fn list(client: &Client) -> ApiResult<Vec<Listed>> {
        let rules = client
            .list_speech_rules()
            .await
            .map_err(explain_missing_api)?;
        Ok(rules
            .into_iter()
            .map(|r| {
                let body: super::Object = from_wire(&r).into();
                Listed {
                    unsettled: false,
                    // The list carries whole bodies: hash them, so a change is caught
                    // even where an org reports no dateModified.
                    fingerprint: Some(body.sha256()),
                    body: Some(body),
                    id: r.id,
                    name: r.name,
                    date_modified: r.date_modified,
                    published: false,
                    modified_by: None,
                    refs: Vec::new(),
                }
            })
            .collect())
    }

    async fn get(client: &Client, id: &str) -> ApiResult<Fetched> {
        // The list carries bodies; a GET by id is the list, filtered.
        let r = client
            .list_speech_rules()
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| genesys::Error::Decode {
                method: "GET".into(),
                path: RULES.into(),
                message: format!("speech rule {id} is not listed"),
            })?;
        Ok(Fetched {
            body: from_wire(&r).into(),
            refs: Vec::new(),
            held_by: Vec::new(),
            id: r.id,
            published: false,
            date_modified: r.date_modified,
        })
    }

    async fn put(
        &self,
        client: &Client,
        id: Option<&str>,
        _previous: Option<&SpeechRule>,
        _ids: &Ids,
    ) -> ApiResult<Put> {
        let req = request(self);
        let w = match id {
            Some(id) => client.update_speech_rule(id, &req).await?,
            None => client.create_speech_rule(&req).await?,
        };
        Ok(Put::new(w.value.id, w.value.date_modified, false, w.meta))
    }

    async fn delete(client: &Client, id: &str) -> ApiResult<Written<()>> {
        client.delete_speech_rule(id).await
    }

    #[cfg(test)]
    fn scramble(&mut self) {
        self.tags.reverse();
    }

    #[cfg(test)]
    fn example(name: String, tags: Vec<String>, enabled: bool) -> SpeechRule {
        SpeechRule {
            name,
            description: "d".into(),
            enabled,
            language: "en-US".into(),
            phrases: vec![RulePhrase {
                phrase: "p".into(),
                match_type: "exact".into(),
                case_sensitive: false,
                enabled: true,
            }],
            scoring: vec![Scoring {
                kind: "additive".into(),
                value: 0.5,
                condition: "pass".into(),
            }],
            tags,
        }
        .normalized()
    }

    fn decode_wire(body: &[u8]) -> usize {
        usize::from(serde_json::from_slice::<NumberedPage<wire::SpeechRule>>(body).is_ok())
            + usize::from(serde_json::from_slice::<wire::SpeechRule>(body).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_patterns_are_rejected_with_or_without_escapes() {
        for bad in [
            "[z-a]",
            "a{5,2}",
            "(unclosed",
            "a)",
            "\\p{NoSuchClass}",
            "(?z)x",
            "x{99999999}",
        ] {
            assert!(check_regex(bad).is_err(), "{bad} must be rejected");
        }
        for good in [
            "account (number|id) 123",
            "card [0-9]{4}",
            "\\bcancel\\b",
            "(?i)refund",
            "a|b|c",
        ] {
            assert!(check_regex(good).is_ok(), "{good} must be accepted");
        }
    }

    #[test]
    fn the_spec_of_a_rule_describes_the_same_rule() {
        let r = SpeechRule {
            name: "R".into(),
            description: "d".into(),
            enabled: false,
            language: "en-GB".into(),
            phrases: vec![RulePhrase {
                phrase: "cancel".into(),
                match_type: "fuzzy".into(),
                case_sensitive: true,
                enabled: false,
            }],
            scoring: vec![Scoring {
                kind: "multiplicative".into(),
                value: -0.5,
                condition: "fail".into(),
            }],
            tags: vec!["t".into()],
        };
        assert_eq!(SpeechRule::from_spec(r.to_spec()), r.clone().normalized());
    }
}
