//! Notifications (SPEC 4): after an apply that changed anything, POST one
//! `rules.updated` event to each configured URL, HMAC-SHA256 signed when a secret is
//! configured, retried with backoff. A failure is a warning, never a failed apply.

use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde::Serialize;

use crate::settings::NotifyConfig;

/// One changed object in the event.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventChange {
    pub kind: String,
    pub name: String,
    pub id: Option<String>,
    pub action: String,
    pub date_modified: Option<String>,
}

/// The `rules.updated` event.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub event: &'static str,
    pub target: String,
    pub changes: Vec<EventChange>,
}

/// A receiver URL as it may be shown: scheme and host only. Webhook paths and query
/// strings are often credentials themselves (chat-tool hooks), so they never reach
/// output or the audit log.
pub fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("?");
            match u.port() {
                Some(p) => format!("{}://{host}:{p}/…", u.scheme()),
                None => format!("{}://{host}/…", u.scheme()),
            }
        }
        Err(_) => "<invalid URL>".to_string(),
    }
}

/// `sha256=<hex HMAC>` of the body with the secret.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC accepts keys of any length; this branch cannot be taken.
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends the event to one receiver with retries. Returns an error message on failure.
pub async fn send(receiver: &NotifyConfig, event: &Event) -> Result<(), String> {
    let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
    let secret = match &receiver.secret_env {
        Some(var) => match std::env::var(var) {
            Ok(s) if !s.is_empty() => {
                crate::genesys::redact::register(&s);
                Some(s)
            }
            _ => return Err(format!("secret variable {var} is not set; event not sent")),
        },
        None => None,
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let mut last = String::new();
    for attempt in 0..4u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(250 * 2u64.pow(attempt))).await;
        }
        let mut req = http
            .post(&receiver.url)
            .header("Content-Type", "application/json")
            .header(
                "User-Agent",
                concat!("speechops/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(s) = &secret {
            req = req.header("X-Speechops-Signature", signature(s.as_bytes(), &body));
        }
        match req.body(body.clone()).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
            // Without the URL: it may carry a token in its query string.
            Err(e) => last = format!("request failed: {}", e.without_url()),
        }
    }
    Err(format!("gave up after 4 attempts: {last}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_shown_without_path_or_query() {
        assert_eq!(
            super::redacted_url("https://hooks.example.com/services/T0/B0/XyZsecret?token=1"),
            "https://hooks.example.com/…"
        );
        assert_eq!(
            super::redacted_url("http://127.0.0.1:9/hook"),
            "http://127.0.0.1:9/…"
        );
    }

    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        let sig = super::signature(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
