//! The local Genesys API emulator (SPEC section 9): an axum server speaking the same
//! API as section 8. (Stub: filled in by the sandbox issue.)

use std::net::SocketAddr;
use std::path::PathBuf;

/// How to run the sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Address to bind, e.g. `127.0.0.1:0`.
    pub listen: String,
    /// Persist the org here (atomically) when set.
    pub data_dir: Option<PathBuf>,
    pub client_id: String,
    pub client_secret: String,
    /// Requests per minute per token.
    pub rate_limit: u32,
    pub token_ttl_secs: u64,
    /// Probability of an injected fault per request.
    pub fault_rate: f64,
    pub latency_ms: u64,
    pub seed: u64,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            listen: "127.0.0.1:0".to_string(),
            data_dir: None,
            client_id: "sandbox".to_string(),
            client_secret: "sandbox".to_string(),
            rate_limit: 300,
            token_ttl_secs: 86400,
            fault_rate: 0.0,
            latency_ms: 0,
            seed: 0,
        }
    }
}

/// Errors starting the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("sandbox data in {path}: {message}")]
    Data { path: PathBuf, message: String },
    #[error("not implemented yet: the sandbox")]
    NotImplemented,
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
    let _ = options;
    let _ = SandboxHandle { addr: ([127, 0, 0, 1], 0).into(), shutdown: None };
    Err(SandboxError::NotImplemented)
}
