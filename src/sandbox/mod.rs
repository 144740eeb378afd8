//! The local Genesys API emulator (SPEC section 9): an axum server speaking the same
//! API as section 8: OAuth client credentials, every kind of `kinds/` (served by the
//! generic collection of `collection.rs`) with its publish jobs, queues, flows and
//! detection, with Genesys error bodies, rate limits, seeded fault injection and
//! atomic per-object persistence.
//!
//! Besides the Genesys routes it serves `GET /__sandbox/stats` (request counts per
//! route template and per status) and `POST /__sandbox/stats/reset`, for tests and
//! benchmarks that assert how many requests a command made.

mod audits;
mod auth;
mod check;
mod collection;
mod detection;
mod error;
mod faults;
mod ids;
mod kinds;
mod persist;
mod ratelimit;
mod routes;
mod seed;
mod server;
mod stats;
mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How to run the sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Address to bind, e.g. `127.0.0.1:0`.
    pub listen: String,
    /// Persist the org here (atomically) when set.
    pub data_dir: Option<PathBuf>,
    pub client_id: String,
    pub client_secret: String,
    /// Requests per window per token.
    pub rate_limit: u32,
    /// Length of the rate-limit window in seconds (Genesys: 60).
    pub rate_window_secs: u64,
    pub token_ttl_secs: u64,
    /// Probability of an injected fault per request.
    pub fault_rate: f64,
    pub latency_ms: u64,
    pub seed: u64,
    /// Queues, flows and sample transcripts (SPEC 9).
    pub seed_file: Option<PathBuf>,
    /// List reads a write stays invisible to (`--list-lag`).
    pub list_lag: u32,
    /// Probability that a write's answer is lost after it committed.
    pub lost_answer_rate: f64,
    /// Creates of a deleted identity refused while the delete settles.
    pub delete_settle: u32,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            listen: "127.0.0.1:0".to_string(),
            data_dir: None,
            client_id: "sandbox".to_string(),
            client_secret: "sandbox".to_string(),
            rate_limit: 300,
            rate_window_secs: 60,
            token_ttl_secs: 86400,
            fault_rate: 0.0,
            latency_ms: 0,
            seed: 0,
            seed_file: None,
            list_lag: 0,
            lost_answer_rate: 0.0,
            delete_settle: 0,
        }
    }
}

impl SandboxOptions {
    /// Rejects options the sandbox cannot honour, naming the flag.
    pub fn validate(&self) -> Result<(), SandboxError> {
        let bad = |flag: &str, message: String| {
            Err(SandboxError::Option {
                flag: flag.to_string(),
                message,
            })
        };
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return bad(
                "--fault-rate",
                format!("must be between 0 and 1, got {}", self.fault_rate),
            );
        }
        if !(0.0..=1.0).contains(&self.lost_answer_rate) {
            return bad(
                "--lost-answer-rate",
                format!("must be between 0 and 1, got {}", self.lost_answer_rate),
            );
        }
        if self.rate_limit == 0 {
            return bad(
                "--rate-limit",
                "must be at least 1 request per window".into(),
            );
        }
        if !(1..=3600).contains(&self.rate_window_secs) {
            return bad(
                "--rate-window",
                format!(
                    "must be between 1 and 3600 seconds, got {}",
                    self.rate_window_secs
                ),
            );
        }
        if self.token_ttl_secs == 0 {
            return bad("--token-ttl", "must be at least 1 second".into());
        }
        if self.latency_ms > 600_000 {
            return bad(
                "--latency-ms",
                format!(
                    "must be at most 600000 (10 minutes), got {}",
                    self.latency_ms
                ),
            );
        }
        if self.client_id.is_empty() || self.client_secret.is_empty() {
            return bad("--client-id/--client-secret", "must not be empty".into());
        }
        Ok(())
    }
}

/// Errors starting the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("sandbox data in {path}: {message}")]
    Data { path: PathBuf, message: String },
    #[error("invalid {flag}: {message}")]
    Option { flag: String, message: String },
}

/// A running sandbox. Dropping it stops the server.
#[derive(Debug)]
pub struct SandboxHandle {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl SandboxHandle {
    /// `http://ADDR`, the API base URL of this sandbox.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds and starts serving in the background on the current tokio runtime.
pub async fn start(options: SandboxOptions) -> Result<SandboxHandle, SandboxError> {
    options.validate()?;
    let seed = options.seed;
    let mut store = match options.data_dir.clone() {
        // Loading reads every object file: keep it off the async workers.
        Some(dir) => tokio::task::spawn_blocking(move || store::Store::open(&dir, seed))
            .await
            .map_err(|e| SandboxError::Data {
                path: options.data_dir.clone().unwrap_or_default(),
                message: format!("loading failed: {e}"),
            })??,
        None => store::Store::in_memory(seed),
    };
    store.lag = store::Lag::new(options.list_lag, options.delete_settle);
    let seeded = match &options.seed_file {
        Some(path) => seed::load(path, ids::now_ms())?,
        None => seed::Seed::default(),
    };
    store.forms = seeded.evaluation_forms.clone();
    let counts: Vec<String> = store
        .counts()
        .into_iter()
        .map(|(dir, n)| format!("{n} {dir}"))
        .collect();
    let listener = tokio::net::TcpListener::bind(&options.listen)
        .await
        .map_err(|source| SandboxError::Bind {
            addr: options.listen.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
        addr: options.listen.clone(),
        source,
    })?;
    let app = Arc::new(routes::App {
        store: Arc::new(Mutex::new(store)),
        tokens: Mutex::new(auth::Tokens::new(
            &options.client_id,
            &options.client_secret,
            options.token_ttl_secs,
        )),
        limiter: Mutex::new(ratelimit::RateLimiter::new(
            options.rate_limit,
            std::time::Duration::from_secs(options.rate_window_secs),
        )),
        faults: faults::Faults::new(options.fault_rate, seed),
        lost_answers: faults::Faults::new(options.lost_answer_rate, seed ^ 0x5eed),
        scripted: Mutex::new(Vec::new()),
        seed: seeded,
        phrase_jobs: Mutex::new(detection::PhraseJobs::default()),
        stats: Mutex::new(stats::Stats::default()),
        latency: Duration::from_millis(options.latency_ms),
        correlation_salt: ids::mix64(seed ^ ids::now_ms() as u64),
        correlation_seq: AtomicU64::new(0),
    });
    tracing::info!("sandbox on http://{addr}: {}", counts.join(", "));
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(server::serve(listener, routes::router(app), rx));
    Ok(SandboxHandle {
        addr,
        shutdown: Some(tx),
    })
}
