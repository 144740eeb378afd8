//! OAuth client credentials (SPEC 8.1): `POST /oauth/token` issues bearer tokens with a
//! TTL; API requests must carry a live one. Tokens live in memory only, so a restarted
//! sandbox answers 401 to old tokens, like a real token revocation.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine as _;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// One issued token.
#[derive(Debug, Clone)]
struct Issued {
    client_id: String,
    expires_at: Instant,
}

/// The token registry.
#[derive(Debug)]
pub struct Tokens {
    client_id: String,
    client_secret: String,
    ttl: Duration,
    issued: HashMap<String, Issued>,
    counter: u64,
}

/// The caller of an authenticated request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token: String,
    pub client_id: String,
}

/// Constant-time-ish comparison: the sandbox is local, but there is no reason to teach
/// timing leaks.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn oauth_error(status: StatusCode, code: &str, oauth: &str, message: &str) -> ApiError {
    let mut e = ApiError::new(status, code, message);
    // OAuth clients look for `error`/`error_description`; Genesys clients for `code`.
    e.extra.push(("error".into(), json!(oauth)));
    e.extra.push(("error_description".into(), json!(message)));
    e
}

impl Tokens {
    pub fn new(client_id: &str, client_secret: &str, ttl_secs: u64) -> Tokens {
        Tokens {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            ttl: Duration::from_secs(ttl_secs),
            issued: HashMap::new(),
            counter: 0,
        }
    }

    /// Handles a token request: Basic auth, or `client_id`/`client_secret` in the form.
    pub fn issue(
        &mut self,
        headers: &HeaderMap,
        form: &[(String, String)],
    ) -> Result<serde_json::Value, ApiError> {
        let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match field("grant_type").as_deref() {
            Some("client_credentials") => {}
            Some(other) => {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "bad.request",
                    "unsupported_grant_type",
                    &format!("grant_type '{other}' is not supported; use client_credentials"),
                ));
            }
            None => {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "bad.request",
                    "invalid_request",
                    "grant_type is required (client_credentials)",
                ));
            }
        }
        let (id, secret) = match basic_credentials(headers) {
            Some(pair) => pair,
            None => match (field("client_id"), field("client_secret")) {
                (Some(id), Some(secret)) => (id, secret),
                _ => {
                    return Err(oauth_error(
                        StatusCode::UNAUTHORIZED,
                        "authentication.required",
                        "invalid_client",
                        "Client credentials are required (HTTP Basic or client_id/client_secret)",
                    ));
                }
            },
        };
        if !(same(&id, &self.client_id) && same(&secret, &self.client_secret)) {
            return Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "bad.credentials",
                "invalid_client",
                "Invalid client credentials",
            ));
        }
        let now = Instant::now();
        self.issued.retain(|_, t| t.expires_at > now);
        self.counter += 1;
        let mut h = Sha256::new();
        h.update(self.client_secret.as_bytes());
        h.update(self.counter.to_le_bytes());
        h.update(super::ids::now_ms().to_le_bytes());
        h.update(std::process::id().to_le_bytes());
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.finalize());
        self.issued.insert(
            token.clone(),
            Issued {
                client_id: id,
                expires_at: now + self.ttl,
            },
        );
        Ok(json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.ttl.as_secs(),
        }))
    }

    /// Checks the bearer token of an API request.
    pub fn check(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let raw = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let token = raw
            .strip_prefix("Bearer ")
            .or_else(|| raw.strip_prefix("bearer "))
            .map(str::trim)
            .unwrap_or_default();
        if token.is_empty() {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "authentication.required",
                "No authentication bearer token specified in authorization header.",
            ));
        }
        match self.issued.get(token) {
            Some(t) if t.expires_at > Instant::now() => Ok(Caller {
                token: token.to_string(),
                client_id: t.client_id.clone(),
            }),
            Some(_) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad.credentials",
                "Invalid login credentials: the access token has expired.",
            )),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad.credentials",
                "Invalid login credentials.",
            )),
        }
    }
}

/// `Authorization: Basic base64(id:secret)`, if present and well formed.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let raw = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b64 = raw
        .strip_prefix("Basic ")
        .or_else(|| raw.strip_prefix("basic "))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// Decodes an `application/x-www-form-urlencoded` body or query string.
pub fn form_pairs(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let dec = |s: &str| {
            urlencoding::decode(&s.replace('+', " "))
                .map(|c| c.into_owned())
                .map_err(|_| format!("'{s}' is not valid percent-encoded UTF-8"))
        };
        out.push((dec(k)?, dec(v)?));
    }
    Ok(out)
}
