//! The `http` state backend: Terraform's HTTP backend protocol, as GitLab-managed
//! Terraform state and other Terraform state servers speak it.
//!
//! `GET address` reads the state (200; 204 or 404: none yet), `POST address?ID=<lock>`
//! (the update method) stores it, `LOCK lock_address` with the lock info as JSON takes
//! the lock (200; 423 or 409 with the holder's lock info when taken) and `UNLOCK
//! unlock_address` with the same body releases it. The methods are configurable as
//! Terraform's are (GitLab: `POST` and `DELETE` on `<address>/lock`). The document
//! stored is JSON holding both files, so they are always stored together.

use std::cell::Cell;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::StateError;
use super::backend::{BackendError, HttpBackend, LockInfo, Store, Stored};
use crate::genesys::redact;

/// Per-request bound: a state server that does not answer fails the command.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The stored document. `version`, `serial` and `lineage` are Terraform's state
/// header, so servers that read them (GitLab keeps a version per `serial`) can.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Document {
    #[serde(default)]
    version: u32,
    #[serde(default)]
    serial: u64,
    #[serde(default)]
    lineage: String,
    #[serde(default)]
    speechops: Files,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Files {
    #[serde(default)]
    lockfile: Option<String>,
    #[serde(default)]
    audit_log: Option<String>,
}

pub(crate) struct HttpStore {
    cfg: HttpBackend,
    client: reqwest::Client,
    /// The `Authorization` header (Basic), registered for redaction as made.
    auth: Option<crate::genesys::Secret>,
    /// The `serial` last read, so each write stores the next one.
    serial: Cell<u64>,
}

/// What the server answered.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl HttpStore {
    pub(crate) fn new(cfg: HttpBackend) -> Result<HttpStore, StateError> {
        let bad = |message: String| StateError::Backend {
            backend: format!("http {}", cfg.address),
            message,
        };
        let env = |name: &Option<String>| -> Result<Option<String>, StateError> {
            match name {
                None => Ok(None),
                Some(var) => std::env::var(var)
                    .map(Some)
                    .map_err(|_| bad(format!("environment variable {var} is not set"))),
            }
        };
        let auth = match (env(&cfg.username_env)?, env(&cfg.password_env)?) {
            (Some(user), Some(password)) => {
                use base64::Engine as _;
                crate::genesys::Secret::new(password.clone());
                let basic =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                crate::genesys::redact::register(&basic);
                Some(crate::genesys::Secret::new(format!("Basic {basic}")))
            }
            (None, None) => None,
            _ => {
                return Err(bad(
                    "give both usernameEnv and passwordEnv, or neither".to_string()
                ));
            }
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("speechops/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| bad(format!("cannot build an HTTP client: {e}")))?;
        Ok(HttpStore {
            cfg,
            client,
            auth,
            serial: Cell::new(0),
        })
    }

    /// One request, run to its end on a runtime of its own (callers may or may not be
    /// inside one).
    fn call(&self, method: &str, url: &str, body: Option<Vec<u8>>) -> Result<Answer, BackendError> {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| BackendError::Failed(format!("{method:?} is not an HTTP method")))?;
        let mut req = self.client.request(method.clone(), url);
        if let Some(header) = &self.auth {
            req = req.header(reqwest::header::AUTHORIZATION, header.expose());
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let what = format!("{method} {url}");
        let run = async move {
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let body = resp.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>(Answer { status, body })
        };
        let answer = std::thread::scope(|s| {
            s.spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())
                    .and_then(|rt| rt.block_on(run).map_err(|e| e.to_string()))
            })
            .join()
            .unwrap_or_else(|_| Err("the request thread failed".to_string()))
        });
        answer.map_err(|e| BackendError::Failed(format!("{what}: {}", redact::redact(&e))))
    }

    fn failed(what: &str, a: &Answer) -> BackendError {
        let body = String::from_utf8_lossy(&a.body);
        let body: String = body.chars().take(500).collect();
        BackendError::Failed(format!(
            "{what} answered {}: {}",
            a.status,
            redact::redact(body.trim())
        ))
    }

    fn lock_body(info: &LockInfo) -> Result<Vec<u8>, BackendError> {
        serde_json::to_vec(info).map_err(|e| BackendError::Failed(format!("lock info: {e}")))
    }
}

impl Store for HttpStore {
    fn read(&self) -> Result<Stored, BackendError> {
        let a = self.call("GET", &self.cfg.address, None)?;
        match a.status {
            200 if a.body.iter().all(u8::is_ascii_whitespace) => Ok(Stored::default()),
            200 => {
                let doc: Document = serde_json::from_slice(&a.body).map_err(|e| {
                    BackendError::Failed(format!(
                        "the state at {} is not speechops state: {e}",
                        self.cfg.address
                    ))
                })?;
                self.serial.set(doc.serial);
                Ok(Stored {
                    lockfile: doc.speechops.lockfile.map(String::into_bytes),
                    audit: doc.speechops.audit_log.map(String::into_bytes),
                    lock: None,
                })
            }
            204 | 404 => Ok(Stored::default()),
            _ => Err(Self::failed(&format!("GET {}", self.cfg.address), &a)),
        }
    }

    fn lock(&self, info: &LockInfo) -> Result<Stored, BackendError> {
        let a = self.call(
            &self.cfg.lock_method,
            &self.cfg.lock_address,
            Some(Self::lock_body(info)?),
        )?;
        match a.status {
            200 | 201 | 204 => self.read(),
            409 | 423 => Err(BackendError::Held(
                serde_json::from_slice(&a.body).unwrap_or_default(),
            )),
            _ => Err(Self::failed(
                &format!("{} {}", self.cfg.lock_method, self.cfg.lock_address),
                &a,
            )),
        }
    }

    fn write(
        &self,
        held: &LockInfo,
        state: &Stored,
        _message: &str,
        _release: bool,
    ) -> Result<(), BackendError> {
        let text = |b: &Option<Vec<u8>>| -> Result<Option<String>, BackendError> {
            b.clone()
                .map(String::from_utf8)
                .transpose()
                .map_err(|_| BackendError::Failed("a state file is not UTF-8".to_string()))
        };
        let serial = self.serial.get().saturating_add(1);
        let doc = Document {
            version: 4,
            serial,
            lineage: "speechops".to_string(),
            speechops: Files {
                lockfile: text(&state.lockfile)?,
                audit_log: text(&state.audit)?,
            },
        };
        let body = serde_json::to_vec(&doc)
            .map_err(|e| BackendError::Failed(format!("cannot encode the state: {e}")))?;
        let sep = if self.cfg.address.contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!("{}{sep}ID={}", self.cfg.address, held.id);
        let a = self.call(&self.cfg.update_method, &url, Some(body))?;
        match a.status {
            200 | 201 | 204 => {
                self.serial.set(serial);
                Ok(())
            }
            409 | 423 => Err(BackendError::Failed(format!(
                "this run's lock is no longer the state's lock; its state was not stored \
(see docs/state.md, \"a lock was broken\"): {}",
                String::from_utf8_lossy(&a.body).trim()
            ))),
            _ => Err(Self::failed(
                &format!("{} {}", self.cfg.update_method, self.cfg.address),
                &a,
            )),
        }
    }

    fn unlock(&self, held: &LockInfo) -> Result<(), BackendError> {
        let a = self.call(
            &self.cfg.unlock_method,
            &self.cfg.unlock_address,
            Some(Self::lock_body(held)?),
        )?;
        match a.status {
            200 | 204 => Ok(()),
            _ => Err(Self::failed(
                &format!("{} {}", self.cfg.unlock_method, self.cfg.unlock_address),
                &a,
            )),
        }
    }

    fn break_lock(&self, holder: &LockInfo) -> Result<(), BackendError> {
        // Terraform's force-unlock: UNLOCK with the holder's lock info.
        self.unlock(holder)
    }
}
