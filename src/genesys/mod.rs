//! Genesys Cloud HTTP client: auth, regions, pacing/retries, pagination and the
//! per-kind endpoints of SPEC section 8. Knows nothing about YAML or plans.

mod auth;
pub mod client;
pub mod credentials;
mod pacing;
pub mod redact;
pub mod region;
mod retry;
pub mod types;

pub use client::Client;
pub use credentials::credentials_from_env;
pub use region::{checked_api_url, endpoint_for_api_url, endpoint_for_region};

use std::fmt;
use std::time::Duration;

/// A secret string (client secret, token). Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Every secret is registered for redaction as it is made ([`redact`]).
    pub fn new(s: impl Into<String>) -> Secret {
        let s = s.into();
        redact::register(&s);
        Secret(s)
    }
    /// The secret value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where to reach an org: API base URL and OAuth token URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub api_url: String,
    pub token_url: String,
}

/// How to authenticate.
#[derive(Debug, Clone)]
pub enum Credentials {
    ClientCredentials {
        client_id: String,
        client_secret: Secret,
    },
    AccessToken(Secret),
}

/// Tuning knobs of the client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Bound on concurrent independent requests.
    pub parallelism: usize,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Give up when a 429's Retry-After exceeds this.
    pub max_retry_after: Duration,
    /// Attempts per request for retryable failures (5xx, connection errors).
    pub max_attempts: u32,
    /// How long to poll a job (publish, test-phrase, topic-links) before giving up:
    /// 10 minutes, as the Genesys Terraform provider waits for publish jobs.
    pub publish_timeout: Duration,
    /// The largest response body read (`SPEECHOPS_MAX_RESPONSE_MB`, default 64 MiB):
    /// a larger one fails the request, long before memory runs out.
    pub max_response_bytes: usize,
    /// The most pages one listing follows (`SPEECHOPS_MAX_LIST_PAGES`, default 2,000:
    /// a million objects at 500 a page).
    pub max_list_pages: u32,
    /// How long the whole command may take from the client's creation (`--timeout`):
    /// every wait (a token, a page, a Retry-After, a job) ends by then with an error
    /// saying so.
    pub command_timeout: Option<Duration>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            parallelism: 4,
            request_timeout: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(180),
            max_attempts: 6,
            publish_timeout: Duration::from_secs(600),
            max_response_bytes: 64 * 1024 * 1024,
            max_list_pages: 2_000,
            command_timeout: None,
        }
    }
}

/// What one write call cost and returned, for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallMeta {
    pub http_status: u16,
    pub latency_ms: u64,
    pub correlation_id: Option<String>,
}

/// A value returned by a write, with its call metadata.
#[derive(Debug, Clone)]
pub struct Written<T> {
    pub value: T,
    pub meta: CallMeta,
}

/// Errors of the Genesys client. Never contains a secret or a token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "Genesys API error on {method} {path}: HTTP {status} {code}: {message}{}",
        fmt_ids(.context_id, .correlation_id)
    )]
    Api {
        method: String,
        path: String,
        status: u16,
        code: String,
        message: String,
        context_id: Option<String>,
        correlation_id: Option<String>,
    },
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error(
        "no Genesys credentials: set GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET, \
or GENESYSCLOUD_ACCESS_TOKEN (or use --sandbox to try speechops offline)"
    )]
    MissingCredentials,
    /// Credentials half set, or missing for a target that names its own variables.
    #[error("{0}")]
    Credentials(String),
    #[error("unknown region {0:?}; known regions: {1}")]
    UnknownRegion(String, String),
    #[error("no Genesys target: pass --region, --api-url, --target or --sandbox")]
    NoTarget,
    #[error("{method} {path}: {message}")]
    Transport {
        method: String,
        path: String,
        message: String,
    },
    #[error(
        "{method} {path}: rate limited for {retry_after_secs} s (the server's Retry-After or the end of its rate-limit window), past the 180 s limit"
    )]
    RateLimited {
        method: String,
        path: String,
        retry_after_secs: u64,
    },
    #[error("{method} {path}: unexpected response body: {message}")]
    Decode {
        method: String,
        path: String,
        message: String,
    },
    #[error("publish job {job_id} {state}")]
    PublishFailed { job_id: String, state: String },
    #[error("test-phrase job {job_id} {state}")]
    JobFailed { job_id: String, state: String },
    #[error(
        "topic-links job {job_id} of program {program} {state}: the org did not settle the program's topic links"
    )]
    TopicLinksFailed {
        job_id: String,
        program: String,
        state: String,
    },
    #[error("not implemented yet: {0}")]
    NotImplemented(&'static str),
    #[error("{method} {path}: {what} (the command's --timeout of {timeout_secs} s has passed)")]
    Deadline {
        method: String,
        path: String,
        what: String,
        timeout_secs: u64,
    },
}

fn fmt_ids(context_id: &Option<String>, correlation_id: &Option<String>) -> String {
    let mut s = String::new();
    if let Some(c) = context_id {
        s.push_str(&format!(" (contextId {c})"));
    }
    if let Some(c) = correlation_id {
        s.push_str(&format!(" (correlation id {c})"));
    }
    s
}

impl Error {
    /// HTTP status of an API error, if it was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
    /// Correlation id of an API error, if any.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            Error::Api { correlation_id, .. } => correlation_id.as_deref(),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
