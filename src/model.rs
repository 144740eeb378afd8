//! Normalised desired/actual objects and their canonical hash.
//!
//! Both sides of a diff (specs from the repository and objects fetched from Genesys)
//! are turned into the kinds' normalised model types ([`crate::kinds`]) before they
//! are compared. Normalisation fills in defaults, sorts order-insensitive lists and
//! drops server-only fields, so that two objects that mean the same thing are `==`
//! and hash to the same sha256.

use sha2::{Digest, Sha256};

pub use crate::kinds::program::Program;
pub use crate::kinds::topic::{
    AiPhrases, DEFAULT_MATCHING_TYPE, DEFAULT_PARTICIPANTS, DEFAULT_SENTIMENT, DEFAULT_STRICTNESS,
    DIALECTS, Label, MATCHING_TYPES, PARTICIPANTS, SENTIMENTS, STRICTNESS, Topic, TopicPhrase,
};
pub use crate::kinds::{Kind, Object};

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

    #[test]
    fn phrase_key_collapses_whitespace_and_case() {
        assert_eq!(phrase_key("  Hello \t World "), "hello world");
    }
}
