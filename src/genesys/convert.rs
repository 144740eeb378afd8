//! Conversions between wire shapes and the normalised model.

use std::collections::BTreeMap;

use super::types as wire;
use crate::model;

/// A full wire topic as a normalised model topic.
pub fn topic_to_model(t: &wire::Topic) -> model::Topic {
    let strictness = t.strictness.clone().unwrap_or_default();
    let ai_phrases = t
        .phrases
        .iter()
        .filter(|p| p.is_ai_generated == Some(true))
        .map(|p| model::phrase_key(&p.text))
        .collect();
    model::Topic {
        name: t.name.clone(),
        description: t.description.clone().unwrap_or_default(),
        dialect: t.dialect.clone().unwrap_or_default(),
        strictness,
        matching_type: t.matching_type.clone().unwrap_or_default(),
        participants: t.participants.clone().unwrap_or_default(),
        ai_phrases: model::AiPhrases(ai_phrases),
        tags: t.tags.clone(),
        published: t.published,
        phrases: t
            .phrases
            .iter()
            .map(|p| model::TopicPhrase {
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
pub fn topic_request(t: &model::Topic, previous: Option<&model::Topic>) -> wire::TopicRequest {
    let ai = |text: &str| {
        previous
            .is_some_and(|p| p.ai_phrases.0.contains(&model::phrase_key(text)))
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

/// A wire program as a normalised model program (topics by name).
pub fn program_to_model(p: &wire::Program) -> model::Program {
    model::Program {
        name: p.name.clone(),
        description: p.description.clone().unwrap_or_default(),
        topics: p.topics.iter().map(|t| t.name.clone()).collect(),
        tags: p.tags.clone(),
        published: p.published,
    }
    .normalized()
}

/// The write body of a model program; topic names are resolved through `topic_ids`.
/// Returns the names that could not be resolved as the error.
pub fn program_request(
    p: &model::Program,
    topic_ids: &BTreeMap<String, String>,
) -> Result<wire::ProgramRequest, Vec<String>> {
    let mut ids = Vec::new();
    let mut missing = Vec::new();
    for name in &p.topics {
        match topic_ids.get(name) {
            Some(id) => ids.push(id.clone()),
            None => missing.push(name.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(missing);
    }
    Ok(wire::ProgramRequest {
        name: p.name.clone(),
        description: p.description.clone(),
        topic_ids: ids,
        tags: p.tags.clone(),
    })
}

/// A wire speech rule as a normalised model rule.
pub fn speech_rule_to_model(r: &wire::SpeechRule) -> model::SpeechRule {
    model::SpeechRule {
        name: r.name.clone(),
        description: r.description.clone().unwrap_or_default(),
        enabled: r.enabled.unwrap_or(true),
        language: r.language.clone().unwrap_or_else(|| "en-US".to_string()),
        phrases: r
            .phrases
            .iter()
            .map(|p| model::RulePhrase {
                phrase: p.phrase.clone(),
                match_type: p.match_type.clone().unwrap_or_else(|| "exact".to_string()),
                case_sensitive: p.case_sensitive,
                enabled: p.enabled.unwrap_or(true),
            })
            .collect(),
        scoring: r
            .scoring
            .iter()
            .map(|s| model::Scoring {
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
pub fn speech_rule_request(r: &model::SpeechRule) -> wire::SpeechRuleRequest {
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
