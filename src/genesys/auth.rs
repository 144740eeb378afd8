//! OAuth client-credentials tokens (SPEC 8.1): fetched on first use, cached, refreshed
//! shortly before expiry by one request while the others wait (single flight).

// `Error` is the public, structured error of the client (HTTP status, Genesys code,
// message, ids); it is returned rarely, so its size is not worth boxing it.
#![allow(clippy::result_large_err)]

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::retry::{Jitter, backoff};
use super::{Credentials, Error, Result, Secret};

/// Refresh this long before expiry (SPEC 8.1), or at half the lifetime of short tokens.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Attempts at the token endpoint for transport errors and 5xx.
const TOKEN_ATTEMPTS: u32 = 4;

/// A token and the generation it belongs to: a 401 invalidates only the generation
/// that was rejected, so concurrent 401s cause one refresh, not one each.
#[derive(Clone)]
pub struct Token {
    pub value: Secret,
    pub generation: u64,
}

#[derive(Default)]
struct Cached {
    token: Option<Secret>,
    refresh_at: Option<Instant>,
    generation: u64,
}

/// The token source of one client.
pub struct Auth {
    credentials: Credentials,
    token_url: String,
    cached: Mutex<Cached>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.credentials {
            Credentials::ClientCredentials { .. } => "client credentials",
            Credentials::AccessToken(_) => "access token",
        };
        f.debug_struct("Auth")
            .field("credentials", &kind)
            .field("token_url", &self.token_url)
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TokenError {
    error: Option<String>,
    error_description: Option<String>,
    message: Option<String>,
}

/// When to refresh a token that lives `ttl` from `now`.
pub fn refresh_at(now: Instant, ttl: Duration) -> Instant {
    now + ttl.saturating_sub(REFRESH_MARGIN.min(ttl / 2))
}

impl Auth {
    pub fn new(credentials: Credentials, token_url: String) -> Auth {
        Auth {
            credentials,
            token_url,
            cached: Mutex::new(Cached::default()),
        }
    }

    /// Whether a rejected token can be replaced by a new one.
    pub fn can_refresh(&self) -> bool {
        matches!(self.credentials, Credentials::ClientCredentials { .. })
    }

    /// A live token, fetching one when there is none or it is about to expire.
    pub async fn token(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
        jitter: &Jitter,
    ) -> Result<Token> {
        let (client_id, client_secret) = match &self.credentials {
            Credentials::AccessToken(t) => {
                return Ok(Token {
                    value: t.clone(),
                    generation: 0,
                });
            }
            Credentials::ClientCredentials {
                client_id,
                client_secret,
            } => (client_id, client_secret),
        };
        let mut cached = self.cached.lock().await;
        if let (Some(token), Some(at)) = (&cached.token, cached.refresh_at)
            && Instant::now() < at
        {
            return Ok(Token {
                value: token.clone(),
                generation: cached.generation,
            });
        }
        let (token, ttl) = self
            .fetch(http, timeout, jitter, client_id, client_secret)
            .await?;
        cached.token = Some(token.clone());
        cached.refresh_at = Some(refresh_at(Instant::now(), ttl));
        cached.generation += 1;
        tracing::debug!(
            ttl_secs = ttl.as_secs_f64(),
            generation = cached.generation,
            "obtained an access token"
        );
        Ok(Token {
            value: token,
            generation: cached.generation,
        })
    }

    /// Forgets the token of `generation` after the API rejected it.
    pub async fn invalidate(&self, generation: u64) {
        let mut cached = self.cached.lock().await;
        if cached.generation == generation {
            cached.token = None;
            cached.refresh_at = None;
        }
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
        jitter: &Jitter,
        client_id: &str,
        client_secret: &Secret,
    ) -> Result<(Secret, Duration)> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let basic = base64::engine::general_purpose::STANDARD
                .encode(format!("{client_id}:{}", client_secret.expose()));
            // A gateway that echoes the request shows the header, not the secret.
            super::redact::register(&basic);
            let started = Instant::now();
            let sent = http
                .post(&self.token_url)
                .header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"))
                .form(&[("grant_type", "client_credentials")])
                .timeout(timeout)
                .send()
                .await;
            let failure = match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body = resp.bytes().await;
                    tracing::debug!(
                        method = "POST",
                        url = %self.token_url,
                        status,
                        latency_ms = started.elapsed().as_millis() as u64,
                        "token request"
                    );
                    match (status, body) {
                        (200..=299, Ok(body)) => return parse_token(&body),
                        (500..=599, _) if status != 501 => format!("HTTP {status}"),
                        (_, Ok(body)) => return Err(token_rejected(status, &body)),
                        (_, Err(e)) => describe(&e),
                    }
                }
                Err(e) => describe(&e),
            };
            if attempt >= TOKEN_ATTEMPTS {
                return Err(Error::Auth(format!(
                    "token request to {} failed after {attempt} attempts: {failure}",
                    self.token_url
                )));
            }
            tracing::debug!(attempt, error = %failure, "token request failed; retrying");
            tokio::time::sleep(backoff(attempt, jitter)).await;
        }
    }
}

/// Reads a token response. Never quotes the body: it holds the token.
fn parse_token(body: &[u8]) -> Result<(Secret, Duration)> {
    let parsed: TokenResponse = serde_json::from_slice(body).map_err(|_| {
        Error::Auth("the token endpoint returned a body without an access_token".to_string())
    })?;
    if parsed.access_token.trim().is_empty() {
        return Err(Error::Auth(
            "the token endpoint returned an empty access_token".to_string(),
        ));
    }
    let ttl = parsed
        .expires_in
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| Duration::from_secs_f64(s.min(1e9)))
        .unwrap_or(Duration::from_secs(86_400));
    Ok((Secret::new(parsed.access_token), ttl))
}

/// The error for a token request the server refused (bad credentials and the like).
fn token_rejected(status: u16, body: &[u8]) -> Error {
    let e: TokenError = serde_json::from_slice(body).unwrap_or_default();
    let detail = e
        .error_description
        .or(e.message)
        .or(e.error)
        .unwrap_or_else(|| "no details".to_string());
    let hint = if matches!(status, 400 | 401 | 403) {
        "; check the OAuth client id and secret (GENESYSCLOUD_OAUTHCLIENT_ID / GENESYSCLOUD_OAUTHCLIENT_SECRET) and the region"
    } else {
        ""
    };
    let detail = super::redact::redact(&detail);
    Error::Auth(format!(
        "the token endpoint refused the client credentials: HTTP {status}: {detail}{hint}"
    ))
}

/// A transport error in words, without the URL's query or any header.
pub fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut s = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "connection failed".to_string()
    };
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_margin_is_sixty_seconds_or_half_a_short_life() {
        let t0 = Instant::now();
        assert_eq!(
            refresh_at(t0, Duration::from_secs(86_400)),
            t0 + Duration::from_secs(86_340)
        );
        assert_eq!(
            refresh_at(t0, Duration::from_secs(120)),
            t0 + Duration::from_secs(60)
        );
        assert_eq!(
            refresh_at(t0, Duration::from_secs(2)),
            t0 + Duration::from_secs(1)
        );
    }

    #[test]
    fn token_bodies() {
        let (t, ttl) =
            parse_token(br#"{"access_token":"abc","token_type":"bearer","expires_in":2}"#).unwrap();
        assert_eq!(t.expose(), "abc");
        assert_eq!(ttl, Duration::from_secs(2));
        let e = parse_token(br#"{"access_token":123456789}"#)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("123456789"), "{e}");
        let e = token_rejected(
            401,
            br#"{"error":"invalid_client","error_description":"client not found"}"#,
        );
        let msg = e.to_string();
        assert!(
            msg.contains("401")
                && msg.contains("client not found")
                && msg.contains("GENESYSCLOUD_OAUTHCLIENT_ID"),
            "{msg}"
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let a = Auth::new(
            Credentials::ClientCredentials {
                client_id: "id".into(),
                client_secret: Secret::new("hunter2"),
            },
            "http://x/oauth/token".into(),
        );
        let d = format!("{a:?}");
        assert!(!d.contains("hunter2"), "{d}");
    }
}
