//! The one redaction layer: every secret the process holds (the client secret, the
//! Basic credentials made of it, every access token, notification secrets) is
//! registered when it is created, and every text that can carry a server's answer out
//! of the process (error messages built from response bodies, stdout, stderr, audit
//! entries) passes through [`redact`] first. A gateway that quotes the request in its
//! error page therefore cannot leak what the request carried.

use std::sync::{Mutex, OnceLock, PoisonError};

/// What replaces a secret.
pub const MASK: &str = "***";

fn secrets() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers a secret so that [`redact`] masks it. Values shorter than 4 bytes are
/// not secrets anyone could use, and masking them would mangle ordinary text.
pub fn register(secret: &str) {
    if secret.len() < 4 {
        return;
    }
    let mut all = secrets().lock().unwrap_or_else(PoisonError::into_inner);
    if !all.iter().any(|s| s == secret) {
        all.push(secret.to_string());
        // Longest first, so a secret containing another is masked whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every registered secret masked.
pub fn redact(text: &str) -> String {
    let all = secrets().lock().unwrap_or_else(PoisonError::into_inner);
    let mut out = text.to_string();
    for s in all.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_masked_longest_first() {
        register("abcd-secret-1234");
        register("abcd");
        assert_eq!(redact("x abcd-secret-1234 y abcd z"), "x *** y *** z");
        register("ab");
        assert_eq!(redact("ab"), "ab");
    }
}
