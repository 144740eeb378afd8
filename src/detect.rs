//! The lexical matching rule (SPEC 10), one implementation for `speechops test`, the
//! sandbox's detection numbers and nothing else: a topic phrase matches when its
//! normalised token sequence occurs contiguously inside one utterance whose speaker fits
//! the topic's `participants` and whose dialect equals the topic's dialect. Pure.
//!
//! Normalising: lower-case; every Unicode punctuation character (general category P)
//! becomes a space; split on whitespace. `Semantic` topics and strictness are not
//! modelled: this approximates Genesys detection, as a regression test.

use std::sync::OnceLock;

use crate::model::Topic;

/// Who spoke an utterance (SPEC 10: agent = Internal, customer = External).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Speaker {
    Internal,
    External,
}

impl Speaker {
    /// Whether a topic with these `participants` listens to this speaker.
    pub fn heard_by(self, participants: &str) -> bool {
        match participants {
            "Internal" => self == Speaker::Internal,
            "External" => self == Speaker::External,
            _ => true,
        }
    }
}

/// One utterance of a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utterance {
    pub speaker: Speaker,
    pub text: String,
}

fn punctuation() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    // `\p{P}` is a fixed, valid pattern: building it cannot fail.
    RE.get_or_init(|| regex::Regex::new(r"\p{P}").unwrap_or_else(|_| unreachable!()))
}

/// The normalised tokens of a text.
pub fn tokens(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    punctuation()
        .replace_all(&lower, " ")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Whether `needle` occurs contiguously in `hay` (an empty needle never matches).
pub fn contains(hay: &[String], needle: &[String]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Where a topic is detected in a transcript of `dialect`: the first utterance (index)
/// and the phrase that matched, or `None`.
pub fn detect<'a>(
    topic: &'a Topic,
    dialect: &str,
    utterances: &[Utterance],
) -> Option<(usize, &'a str)> {
    if topic.dialect != dialect {
        return None;
    }
    let phrases: Vec<(Vec<String>, &str)> = topic
        .phrases
        .iter()
        .map(|p| (tokens(&p.text), p.text.as_str()))
        .collect();
    utterances.iter().enumerate().find_map(|(i, u)| {
        if !u.speaker.heard_by(&topic.participants) {
            return None;
        }
        let said = tokens(&u.text);
        phrases
            .iter()
            .find(|(t, _)| contains(&said, t))
            .map(|(_, text)| (i, *text))
    })
}

/// Whether one phrase (with a topic's participants and dialect) matches a transcript.
pub fn phrase_matches(
    phrase: &str,
    participants: &str,
    topic_dialect: &str,
    dialect: &str,
    utterances: &[Utterance],
) -> bool {
    if topic_dialect != dialect {
        return false;
    }
    let needle = tokens(phrase);
    utterances
        .iter()
        .any(|u| u.speaker.heard_by(participants) && contains(&tokens(&u.text), &needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TopicPhrase;

    fn topic(participants: &str, phrases: &[&str]) -> Topic {
        Topic {
            name: "T".into(),
            description: String::new(),
            dialect: "en-US".into(),
            strictness: "72".into(),
            matching_type: "Lexical".into(),
            participants: participants.into(),
            tags: vec![],
            published: true,
            phrases: phrases
                .iter()
                .map(|p| TopicPhrase {
                    text: (*p).into(),
                    strictness: Default::default(),
                    sentiment: Default::default(),
                })
                .collect(),
            ai_phrases: Default::default(),
            qualified: Default::default(),
        }
    }

    fn said(speaker: Speaker, text: &str) -> Utterance {
        Utterance {
            speaker,
            text: text.into(),
        }
    }

    #[test]
    fn punctuation_and_case_do_not_matter_but_word_boundaries_do() {
        assert_eq!(
            tokens("Hello, World! «Ça va?»"),
            ["hello", "world", "ça", "va"]
        );
        let t = topic("All", &["this call may be recorded"]);
        let hit = [said(Speaker::Internal, "Hi — THIS call, may be recorded.")];
        assert_eq!(
            detect(&t, "en-US", &hit),
            Some((0, "this call may be recorded"))
        );
        let partial = [said(Speaker::Internal, "this call may be recordedly")];
        assert_eq!(detect(&t, "en-US", &partial), None);
        let split = [
            said(Speaker::Internal, "this call may"),
            said(Speaker::Internal, "be recorded"),
        ];
        assert_eq!(detect(&t, "en-US", &split), None, "one utterance only");
    }

    #[test]
    fn participants_and_dialect_decide_who_is_heard() {
        let agent_only = topic("Internal", &["cancel"]);
        let customer = [said(Speaker::External, "I want to cancel")];
        assert_eq!(detect(&agent_only, "en-US", &customer), None);
        assert!(detect(&topic("External", &["cancel"]), "en-US", &customer).is_some());
        assert!(detect(&topic("All", &["cancel"]), "en-US", &customer).is_some());
        assert_eq!(detect(&topic("All", &["cancel"]), "en-GB", &customer), None);
        assert!(phrase_matches(
            "want to", "External", "en-US", "en-US", &customer
        ));
        assert!(!phrase_matches(
            "want to", "Internal", "en-US", "en-US", &customer
        ));
    }
}
