//! The async client. Every request goes through one path (`execute`) that bounds
//! concurrency, paces under the rate limit, authenticates, times out, and retries
//! only what is safe to retry. Creates add a look-up-by-name step after an
//! ambiguous failure so that a retry never makes a duplicate.

// `Error` is the public, structured error of the client (HTTP status, Genesys code,
// message, ids); it is returned rarely, so its size is not worth boxing it.
#![allow(clippy::result_large_err)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::auth::{Auth, describe};
use super::pacing::{Pacer, RateInfo, Ticket, rate_info, retry_after};
use super::retry::{Jitter, backoff};
use super::types::*;
use super::{CallMeta, ClientOptions, Credentials, Endpoint, Error, Result, Written};

/// The Speech & Text Analytics API base path.
pub(crate) const STA: &str = "/api/v2/speechandtextanalytics";
/// 429s tolerated for one request before giving up (each one waited out).
const MAX_RATE_LIMITED: u32 = 60;
/// A paging loop longer than this is a server bug, not an org.
const MAX_PAGES: u32 = 10_000;
/// Wait after a 429 that carries no Retry-After.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A client for one org. Cheap to clone; clones share the token cache and limiter.
#[derive(Clone)]
pub struct Client {
    endpoint: Endpoint,
    options: ClientOptions,
    inner: Arc<Inner>,
}

struct Inner {
    /// Reads: redirects followed only within the API's origin.
    http: reqwest::Client,
    /// Writes and the token request: redirects never followed.
    http_writes: reqwest::Client,
    /// When the command must be done (`ClientOptions::command_timeout`).
    deadline: Option<Instant>,
    auth: Auth,
    pacer: Pacer,
    permits: Semaphore,
    jitter: Jitter,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Deliberately manual: the credentials and tokens stay out of every Debug.
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("options", &self.options)
            .field("auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

/// One HTTP request, kept so it can be re-sent.
pub(crate) struct Req {
    method: Method,
    /// Path under the API base URL, without query; what errors and logs show.
    path: String,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Req {
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Req {
        Req {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }
    pub(crate) fn get(path: impl Into<String>) -> Req {
        Req::new(Method::GET, path)
    }
    pub(crate) fn query(mut self, key: &str, value: impl ToString) -> Req {
        self.query.push((key.to_string(), value.to_string()));
        self
    }
    fn json(method: Method, path: impl Into<String>, body: &impl Serialize) -> Result<Req> {
        let mut req = Req::new(method, path);
        req.body = Some(serde_json::to_vec(body).map_err(|e| Error::Decode {
            method: req.method.to_string(),
            path: req.path.clone(),
            message: format!("cannot encode the request body: {e}"),
        })?);
        Ok(req)
    }
    fn decode_error(&self, message: String) -> Error {
        Error::Decode {
            method: self.method.to_string(),
            path: self.path.clone(),
            message: super::redact::redact(&message),
        }
    }
    fn transport_error(&self, message: String) -> Error {
        Error::Transport {
            method: self.method.to_string(),
            path: self.path.clone(),
            message,
        }
    }
}

/// A complete response.
struct Resp {
    status: u16,
    body: Vec<u8>,
    meta: CallMeta,
    rate: Option<RateInfo>,
    retry_after: Option<Duration>,
    token_generation: u64,
    /// The pacer's ticket of the attempt this answers.
    ticket: Ticket,
}

impl Resp {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why one attempt produced no response.
enum NoResponse {
    /// Nothing was sent (the connection could not be made): safe to retry.
    NotSent(String),
    /// The request may or may not have reached the server.
    Lost(String),
    /// Not worth retrying (no token, client closed).
    Fatal(Error),
}

/// Why `execute` stopped without a final response.
enum Stop {
    /// A non-idempotent request failed in a way that leaves its effect unknown.
    Ambiguous(Error),
    Failed(Error),
}

impl From<Stop> for Error {
    fn from(s: Stop) -> Error {
        match s {
            Stop::Ambiguous(e) | Stop::Failed(e) => e,
        }
    }
}

/// The whole token exchange's bound (every attempt of it).
const TOKEN_BUDGET: Duration = Duration::from_secs(60);

enum Capped {
    TooLarge(usize),
    Lost(reqwest::Error),
}

/// A response body of at most `limit` bytes, read chunk by chunk: a body that
/// declares or turns out to be larger fails without being held.
async fn read_capped(
    mut resp: reqwest::Response,
    limit: usize,
) -> std::result::Result<Vec<u8>, Capped> {
    if resp
        .content_length()
        .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > limit))
    {
        return Err(Capped::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(Capped::Lost)? {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(Capped::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The Genesys error body, parsed leniently into an [`Error::Api`].
fn api_error(req: &Req, resp: &Resp) -> Error {
    let parsed: Option<ErrorBody> = serde_json::from_slice(&resp.body).ok();
    let (code, message, context_id) = match parsed {
        Some(b) if !b.message.is_empty() || !b.code.is_empty() => {
            let more = b.explanation();
            let message = if more.is_empty() {
                b.message
            } else {
                format!("{} [{more}]", b.message)
            };
            (b.code, message, b.context_id)
        }
        _ => {
            let text = String::from_utf8_lossy(&resp.body);
            let text: String = text.trim().chars().take(200).collect();
            let message = if text.is_empty() {
                "no error body".to_string()
            } else {
                text
            };
            (String::new(), message, None)
        }
    };
    // Bodies are quoted only after the redaction layer: a gateway may echo the
    // request's headers in its error page.
    Error::Api {
        method: req.method.to_string(),
        path: req.path.clone(),
        status: resp.status,
        code: super::redact::redact(&code),
        message: super::redact::redact(&message),
        context_id,
        correlation_id: resp.meta.correlation_id.clone(),
    }
}

fn decode<T: DeserializeOwned>(req: &Req, resp: &Resp) -> Result<T> {
    serde_json::from_slice(&resp.body).map_err(|e| req.decode_error(e.to_string()))
}

/// One path segment, percent-encoded.
pub(crate) fn encode_segment(id: &str) -> String {
    urlencoding::encode(id).into_owned()
}

/// The request for a listing's `nextUri`. Only its path and query are used, always
/// against this client's API base, so a server cannot send the token elsewhere. A
/// `nextUri` that Genesys writes from the host root (`/api/v2/…`) also works behind
/// a gateway whose base URL carries a path prefix.
fn next_page_request(api_url: &str, current: &Req, next_uri: &str) -> Result<Req> {
    let bad =
        |why: &str| current.decode_error(format!("cannot follow nextUri {next_uri:?}: {why}"));
    let base = reqwest::Url::parse(api_url).map_err(|e| bad(&e.to_string()))?;
    let url = base.join(next_uri).map_err(|e| bad(&e.to_string()))?;
    let prefix = base.path().trim_end_matches('/');
    let path = url.path();
    let path = match path.strip_prefix(prefix) {
        Some(rest) if !prefix.is_empty() && rest.starts_with("/api/") => rest,
        _ => path,
    };
    if !path.starts_with("/api/") {
        return Err(bad("it is not an API path"));
    }
    let mut req = Req::get(path);
    req.query = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Ok(req)
}

/// Objects that `create` can find by name after an ambiguous failure.
pub(crate) trait Named: DeserializeOwned + Send + Sized {
    fn find<'a>(
        client: &'a Client,
        name: &'a str,
    ) -> impl Future<Output = Result<Option<Self>>> + Send + 'a;

    /// The object with this id and the name `name`, read by id (which does not lag
    /// as lists do); `None` where the kind has no read by id.
    fn by_id<'a>(
        _client: &'a Client,
        _id: &'a str,
        _name: &'a str,
    ) -> impl Future<Output = Result<Option<Self>>> + Send + 'a {
        async { Ok(None) }
    }
}

/// The id of the existing object a 409 names (`details[].entityId`).
fn conflict_entity(resp: &Resp) -> Option<String> {
    let body: ErrorBody = serde_json::from_slice(&resp.body).ok()?;
    body.details
        .into_iter()
        .filter_map(|d| d.entity_id)
        .find(|id| !id.is_empty())
}

impl Client {
    /// Builds a client; no request is made until the first call.
    pub fn new(
        endpoint: Endpoint,
        credentials: Credentials,
        options: ClientOptions,
    ) -> Result<Client> {
        // A redirect to another origin is never followed (it would send the org's
        // data, or a listing we then trust, elsewhere); writes follow none at all.
        let builder = |policy: reqwest::redirect::Policy| {
            reqwest::Client::builder()
                .user_agent(concat!("speechops/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(options.request_timeout.min(Duration::from_secs(10)))
                .redirect(policy)
                .build()
                .map_err(|e| Error::Transport {
                    method: String::new(),
                    path: String::new(),
                    message: format!("cannot build the HTTP client: {}", describe(&e)),
                })
        };
        let same_origin = reqwest::redirect::Policy::custom(|attempt| {
            let first = attempt.previous().first().cloned();
            let same = first.is_some_and(|f| {
                f.scheme() == attempt.url().scheme()
                    && f.host_str() == attempt.url().host_str()
                    && f.port_or_known_default() == attempt.url().port_or_known_default()
            });
            if same && attempt.previous().len() < 5 {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let http = builder(same_origin)?;
        let http_writes = builder(reqwest::redirect::Policy::none())?;
        let inner = Inner {
            http,
            http_writes,
            deadline: options.command_timeout.map(|t| Instant::now() + t),
            auth: Auth::new(credentials, endpoint.token_url.clone()),
            pacer: Pacer::default(),
            permits: Semaphore::new(options.parallelism.max(1)),
            jitter: Jitter::from_entropy(),
        };
        Ok(Client {
            endpoint,
            options,
            inner: Arc::new(inner),
        })
    }

    /// The API base URL this client talks to.
    pub fn api_url(&self) -> &str {
        &self.endpoint.api_url
    }

    /// The options this client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Time left before the command's deadline (`None`: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.inner
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    fn deadline_error(&self, req: &Req, what: &str) -> Error {
        Error::Deadline {
            method: req.method.to_string(),
            path: req.path.clone(),
            what: what.to_string(),
            timeout_secs: self.options.command_timeout.map_or(0, |t| t.as_secs()),
        }
    }

    // ---- the request path -------------------------------------------------------

    /// One attempt: a concurrency permit, a paced slot, a token, one exchange.
    async fn send_once(&self, req: &Req) -> std::result::Result<Resp, NoResponse> {
        let inner = &*self.inner;
        let _permit = inner.permits.acquire().await.map_err(|_| {
            NoResponse::Fatal(req.transport_error("the client was shut down".into()))
        })?;
        let ticket = match inner.pacer.wait_turn(self.options.max_retry_after).await {
            Ok(t) => t,
            Err(wait) => {
                return Err(NoResponse::Fatal(Error::RateLimited {
                    method: req.method.to_string(),
                    path: req.path.clone(),
                    retry_after_secs: wait.as_secs(),
                }));
            }
        };
        // A token endpoint that never answers fails the command within a minute (or
        // by the deadline, if that is sooner), however many attempts are left.
        let token_budget = self
            .remaining()
            .map_or(TOKEN_BUDGET, |r| r.min(TOKEN_BUDGET));
        let per_attempt = self.options.request_timeout.min(token_budget);
        let token = match tokio::time::timeout(
            token_budget,
            inner
                .auth
                .token(&inner.http_writes, per_attempt, &inner.jitter),
        )
        .await
        {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                inner.pacer.observe(ticket, None);
                return Err(NoResponse::Fatal(e));
            }
            Err(_) => {
                inner.pacer.observe(ticket, None);
                return Err(NoResponse::Fatal(Error::Auth(format!(
                    "the token endpoint did not answer within {} s",
                    token_budget.as_secs()
                ))));
            }
        };
        let url = format!("{}{}", self.endpoint.api_url, req.path);
        let http = if req.method == Method::GET {
            &inner.http
        } else {
            &inner.http_writes
        };
        let timeout = self
            .remaining()
            .map_or(self.options.request_timeout, |r| {
                r.min(self.options.request_timeout)
            })
            .max(Duration::from_millis(1));
        let mut builder = http
            .request(req.method.clone(), &url)
            .bearer_auth(token.value.expose())
            .header(ACCEPT, "application/json")
            .timeout(timeout);
        if !req.query.is_empty() {
            builder = builder.query(&req.query);
        }
        if let Some(body) = &req.body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let started = Instant::now();
        let resp = match builder.send().await {
            Ok(r) => r,
            Err(e) => {
                inner.pacer.observe(ticket, None);
                let message = describe(&e);
                tracing::debug!(method = %req.method, path = %req.path, error = %message, "request failed");
                return Err(if e.is_connect() {
                    NoResponse::NotSent(message)
                } else {
                    NoResponse::Lost(message)
                });
            }
        };
        let status = resp.status().as_u16();
        let headers = resp.headers();
        let rate = rate_info(headers);
        let retry_after = retry_after(headers);
        let correlation_id = headers
            .get("inin-correlation-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        inner.pacer.observe(ticket, rate);
        let body = match read_capped(resp, self.options.max_response_bytes).await {
            Ok(b) => b,
            Err(Capped::TooLarge(n)) => {
                return Err(NoResponse::Fatal(req.decode_error(format!(
                    "the response body is larger than {n} bytes (the limit; raise it with \
SPEECHOPS_MAX_RESPONSE_MB)"
                ))));
            }
            Err(Capped::Lost(e)) => {
                let message = describe(&e);
                tracing::debug!(method = %req.method, path = %req.path, status, error = %message, "response body lost");
                return Err(NoResponse::Lost(message));
            }
        };
        let latency_ms = started.elapsed().as_millis() as u64;
        tracing::debug!(
            method = %req.method,
            path = %req.path,
            status,
            latency_ms,
            correlation_id = correlation_id.as_deref().unwrap_or("-"),
            "request"
        );
        if let Some(r) = rate {
            tracing::trace!(
                count = r.count,
                allowed = r.allowed,
                reset_secs = r.reset.as_secs(),
                "rate limit"
            );
        }
        Ok(Resp {
            status,
            body,
            meta: CallMeta {
                http_status: status,
                latency_ms,
                correlation_id,
            },
            rate,
            retry_after,
            token_generation: token.generation,
            ticket,
        })
    }

    /// Sends `req` until it has a final response: 2xx, or a 4xx that retrying cannot
    /// change. Waits out 429s, refreshes the token once on a 401, and retries 5xx (not
    /// 501) and lost connections with backoff, unless `blind_retry` is false, in which
    /// case a failure that may have taken effect stops with [`Stop::Ambiguous`].
    async fn execute(&self, req: &Req, blind_retry: bool) -> std::result::Result<Resp, Stop> {
        let max_attempts = self.options.max_attempts.max(1);
        let mut failures = 0u32;
        let mut rate_limited = 0u32;
        let mut refreshed = false;
        loop {
            if self.remaining().is_some_and(|r| r.is_zero()) {
                return Err(Stop::Failed(self.deadline_error(req, "gave up")));
            }
            let failure = match self.send_once(req).await {
                Err(NoResponse::Fatal(e)) => return Err(Stop::Failed(e)),
                Err(NoResponse::NotSent(message)) => req.transport_error(message),
                Err(NoResponse::Lost(message)) => {
                    let e = req.transport_error(message);
                    if !blind_retry {
                        return Err(Stop::Ambiguous(e));
                    }
                    e
                }
                Ok(resp) if resp.ok() => return Ok(resp),
                Ok(resp) if resp.status == 401 => {
                    if refreshed || !self.inner.auth.can_refresh() {
                        return Err(Stop::Failed(self.unauthorized(req, &resp, refreshed)));
                    }
                    refreshed = true;
                    tracing::debug!(path = %req.path, "401: refreshing the token once");
                    self.inner.auth.invalidate(resp.token_generation).await;
                    continue;
                }
                Ok(resp) if resp.status == 429 => {
                    rate_limited += 1;
                    let wait = resp
                        .retry_after
                        .or(resp.rate.map(|r| r.reset))
                        .unwrap_or(DEFAULT_RETRY_AFTER);
                    if wait > self.options.max_retry_after
                        || self.remaining().is_some_and(|r| wait > r)
                    {
                        return Err(Stop::Failed(Error::RateLimited {
                            method: req.method.to_string(),
                            path: req.path.clone(),
                            retry_after_secs: wait.as_secs(),
                        }));
                    }
                    if rate_limited > MAX_RATE_LIMITED {
                        return Err(Stop::Failed(api_error(req, &resp)));
                    }
                    self.inner.pacer.rate_limited(resp.ticket, wait, resp.rate);
                    tracing::debug!(path = %req.path, wait_ms = wait.as_millis() as u64, "429: waiting for Retry-After");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Ok(resp) if (300..400).contains(&resp.status) => {
                    return Err(Stop::Failed(Error::Api {
                        method: req.method.to_string(),
                        path: req.path.clone(),
                        status: resp.status,
                        code: "redirect".into(),
                        message: "a redirect, not followed: speechops follows redirects only \
for reads, and only within the API's origin"
                            .into(),
                        context_id: None,
                        correlation_id: resp.meta.correlation_id.clone(),
                    }));
                }
                Ok(resp) if resp.status >= 500 && resp.status != 501 => {
                    let e = api_error(req, &resp);
                    if !blind_retry {
                        return Err(Stop::Ambiguous(e));
                    }
                    e
                }
                Ok(resp) => return Ok(resp),
            };
            refreshed = false;
            failures += 1;
            if failures >= max_attempts {
                tracing::debug!(path = %req.path, failures, "giving up");
                return Err(Stop::Failed(failure));
            }
            let delay = backoff(failures, &self.inner.jitter);
            tracing::debug!(path = %req.path, error = %failure, delay_ms = delay.as_millis() as u64, "retrying");
            tokio::time::sleep(delay).await;
        }
    }

    fn unauthorized(&self, req: &Req, resp: &Resp, refreshed: bool) -> Error {
        let message = match api_error(req, resp) {
            Error::Api { message, .. } => message,
            other => other.to_string(),
        };
        if self.inner.auth.can_refresh() {
            let when = if refreshed {
                " even with a fresh token"
            } else {
                ""
            };
            Error::Auth(format!(
                "{} {} was refused with HTTP 401{when}: {message}; check that the OAuth client has the \
speech and text analytics permissions",
                req.method, req.path
            ))
        } else {
            Error::Auth(format!(
                "the access token in GENESYSCLOUD_ACCESS_TOKEN was refused (HTTP 401: {message}); it may \
have expired: set a fresh one, or use GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET"
            ))
        }
    }

    /// An idempotent request that must end in 2xx.
    async fn call(&self, req: &Req) -> Result<Resp> {
        let resp = self.execute(req, true).await?;
        if resp.ok() {
            Ok(resp)
        } else {
            Err(api_error(req, &resp))
        }
    }

    /// A GET of one object.
    pub(crate) async fn get_at<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.get_json(Req::get(path)).await
    }

    async fn get_json<T: DeserializeOwned>(&self, req: Req) -> Result<T> {
        let resp = self.call(&req).await?;
        decode(&req, &resp)
    }

    /// A PUT that replaces an object.
    pub(crate) async fn put<T: DeserializeOwned>(
        &self,
        path: String,
        body: &impl Serialize,
    ) -> Result<Written<T>> {
        let started = Instant::now();
        let req = Req::json(Method::PUT, path, body)?;
        let resp = self.call(&req).await?;
        let value = decode(&req, &resp)?;
        Ok(Written {
            value,
            meta: total(resp.meta, started),
        })
    }

    /// A PATCH that changes part of an object (idempotent: the same body twice is
    /// the same result, so it may be retried).
    pub(crate) async fn patch<T: DeserializeOwned>(
        &self,
        path: String,
        body: &impl Serialize,
    ) -> Result<Written<T>> {
        let started = Instant::now();
        let req = Req::json(Method::PATCH, path, body)?;
        let resp = self.call(&req).await?;
        let value = decode(&req, &resp)?;
        Ok(Written {
            value,
            meta: total(resp.meta, started),
        })
    }

    /// A DELETE of `path` (with one query parameter, if given); an object already
    /// gone is a success.
    pub(crate) async fn delete_at(
        &self,
        path: String,
        query: Option<(&str, &str)>,
    ) -> Result<Written<()>> {
        let mut req = Req::new(Method::DELETE, path);
        if let Some((k, v)) = query {
            req = req.query(k, v);
        }
        self.delete(req).await
    }

    /// A DELETE; an object already gone is a success.
    async fn delete(&self, req: Req) -> Result<Written<()>> {
        let w = self.delete_answer::<serde::de::IgnoredAny>(req).await?;
        Ok(Written {
            value: (),
            meta: w.meta,
        })
    }

    /// A DELETE whose answer says more (a `DeleteProgramResponse`): the answer, when
    /// there is one; an object already gone is a success with none.
    pub(crate) async fn delete_answer<T: DeserializeOwned>(
        &self,
        req: Req,
    ) -> Result<Written<Option<T>>> {
        let started = Instant::now();
        let resp = self.execute(&req, true).await?;
        if resp.ok() {
            let value = if resp.body.iter().all(u8::is_ascii_whitespace) {
                None
            } else {
                Some(decode(&req, &resp)?)
            };
            Ok(Written {
                value,
                meta: total(resp.meta, started),
            })
        } else if resp.status == 404 {
            Ok(Written {
                value: None,
                meta: total(resp.meta, started),
            })
        } else {
            Err(api_error(&req, &resp))
        }
    }

    /// A POST that creates `name`. It is never re-sent blindly: after a failure that
    /// may have taken effect, the object is looked up by name first, and returned if
    /// the earlier attempt did create it.
    pub(crate) async fn create<T: Named>(
        &self,
        path: String,
        name: &str,
        body: &impl Serialize,
    ) -> Result<Written<T>> {
        let started = Instant::now();
        let req = Req::json(Method::POST, path, body)?;
        let max_attempts = self.options.max_attempts.max(1);
        let mut failures = 0u32;
        let mut ambiguous: Option<Error> = None;
        loop {
            if let Some(e) = &ambiguous {
                if let Some(found) = T::find(self, name).await? {
                    tracing::info!(path = %req.path, name, "an earlier attempt created the object; not creating it again");
                    return Ok(Written {
                        value: found,
                        meta: CallMeta {
                            http_status: 201,
                            latency_ms: started.elapsed().as_millis() as u64,
                            correlation_id: e.correlation_id().map(str::to_string),
                        },
                    });
                }
                if failures >= max_attempts {
                    return Err(ambiguous
                        .take()
                        .unwrap_or_else(|| req.transport_error("failed".into())));
                }
                tracing::debug!(path = %req.path, name, "not created by the earlier attempt; sending again");
            }
            match self.execute(&req, false).await {
                Ok(resp) if resp.ok() => {
                    let value = decode(&req, &resp)?;
                    return Ok(Written {
                        value,
                        meta: total(resp.meta, started),
                    });
                }
                Ok(resp) if resp.status == 409 && ambiguous.is_some() => {
                    // The earlier attempt landed after our look-up missed it (a list
                    // that lags the write, or a slow first attempt): read the object
                    // the conflict names by id, else look by name again, a few times.
                    if let Some(id) = conflict_entity(&resp)
                        && let Some(found) = T::by_id(self, &id, name).await.ok().flatten()
                    {
                        return Ok(Written {
                            value: found,
                            meta: total(resp.meta, started),
                        });
                    }
                    for attempt in 1..=max_attempts {
                        if let Some(found) = T::find(self, name).await? {
                            return Ok(Written {
                                value: found,
                                meta: total(resp.meta, started),
                            });
                        }
                        tokio::time::sleep(backoff(attempt, &self.inner.jitter)).await;
                    }
                    return Err(api_error(&req, &resp));
                }
                Ok(resp) => return Err(api_error(&req, &resp)),
                Err(Stop::Failed(e)) => return Err(e),
                Err(Stop::Ambiguous(e)) => {
                    failures += 1;
                    tracing::debug!(path = %req.path, name, error = %e, "create outcome unknown; looking it up by name");
                    ambiguous = Some(e);
                    // Give a slow first attempt a moment to land before looking.
                    tokio::time::sleep(backoff(failures, &self.inner.jitter)).await;
                }
            }
        }
    }

    /// Every page of a `pageNumber`-paged list.
    pub(crate) async fn list_numbered<T: DeserializeOwned>(
        &self,
        path: &str,
        page_size: u32,
        filter: Option<(&'static str, &str)>,
    ) -> Result<Vec<T>> {
        let mut all = Vec::new();
        let mut page = 1u32;
        loop {
            let mut req = Req::get(path)
                .query("pageSize", page_size)
                .query("pageNumber", page);
            if let Some((k, v)) = filter {
                req = req.query(k, v);
            }
            let resp = self.call(&req).await?;
            let p: NumberedPage<T> = decode(&req, &resp)?;
            let n = p.entities.len();
            all.extend(p.entities);
            let done = match p.page_count {
                Some(count) => u64::from(page) >= count,
                None => n < page_size as usize,
            };
            if done || n == 0 {
                return Ok(all);
            }
            page += 1;
            let max = self.options.max_list_pages.min(MAX_PAGES);
            if page > max {
                return Err(req.decode_error(format!(
                    "more than {max} pages; the server keeps paging (the limit; raise it with \
SPEECHOPS_MAX_LIST_PAGES)"
                )));
            }
        }
    }

    /// Every page of a cursor-paged list, following each page's `nextUri` until a page
    /// has none.
    pub(crate) async fn list_cursor<T: DeserializeOwned>(&self, first: Req) -> Result<Vec<T>> {
        let mut all = Vec::new();
        let mut req = first;
        let mut seen = std::collections::HashSet::new();
        let max = self.options.max_list_pages.min(MAX_PAGES);
        for _ in 0..max {
            let resp = self.call(&req).await?;
            let page: CursorPage<T> = decode(&req, &resp)?;
            all.extend(page.entities);
            let Some(next) = page.next_uri.filter(|u| !u.is_empty()) else {
                return Ok(all);
            };
            if !seen.insert(next.clone()) {
                return Err(req.decode_error(format!("nextUri {next:?} repeats an earlier page")));
            }
            req = next_page_request(&self.endpoint.api_url, &req, &next)?;
        }
        Err(req.decode_error(format!(
            "more than {max} pages; the server keeps paging (the limit; raise it with \
SPEECHOPS_MAX_LIST_PAGES)"
        )))
    }

    /// Polls a publish job until it completes, fails or the publish timeout passes.
    pub(crate) async fn publish(
        &self,
        path: String,
        body: serde_json::Value,
    ) -> Result<Written<PublishJob>> {
        let started = Instant::now();
        let req = Req::json(Method::POST, path.clone(), &body)?;
        // Publishing twice is harmless, so the POST may be retried blindly.
        let resp = self.call(&req).await?;
        let meta = resp.meta.clone();
        let job: PublishJob = decode(&req, &resp)?;
        match self.wait_job(&req, &path, job, started).await? {
            Ok(job) => Ok(Written {
                value: job,
                meta: total(meta, started),
            }),
            Err((job_id, state)) => Err(Error::PublishFailed { job_id, state }),
        }
    }

    /// Polls a job at `{jobs_path}/{id}` until it completes (`Ok(Ok(job))`), fails
    /// or outlives the job timeout (`Ok(Err((id, what)))`). The one poll loop of
    /// every kind of job: publish, test-phrase and topic-links jobs.
    pub(crate) async fn wait_job<J: Job>(
        &self,
        req: &Req,
        jobs_path: &str,
        mut job: J,
        started: Instant,
    ) -> Result<std::result::Result<J, (String, String)>> {
        let mut delay = Duration::from_millis(100);
        loop {
            match job.state() {
                "Completed" => return Ok(Ok(job)),
                "Failed" => return Ok(Err((job.id().to_string(), "Failed".to_string()))),
                _ => {}
            }
            if job.id().is_empty() {
                return Err(
                    req.decode_error(format!("job without an id in state {:?}", job.state()))
                );
            }
            if self.remaining().is_some_and(|r| r.is_zero()) {
                return Err(
                    self.deadline_error(req, &format!("job {} still {:?}", job.id(), job.state()))
                );
            }
            if started.elapsed() >= self.options.publish_timeout {
                return Ok(Err((
                    job.id().to_string(),
                    format!(
                        "still {:?} after {} s (job timeout)",
                        job.state(),
                        self.options.publish_timeout.as_secs()
                    ),
                )));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 3 / 2).min(Duration::from_secs(2));
            job = self
                .get_json(Req::get(format!(
                    "{jobs_path}/{}",
                    encode_segment(job.id())
                )))
                .await?;
        }
    }

    /// Waits for a program's topic-links job (`GET /programs/topiclinks/jobs/{id}`):
    /// the org holds the old links until it completes, and refuses to delete a topic
    /// still linked. A `Failed` job is a failed write.
    pub async fn wait_topic_links(&self, program: &str, job_id: &str) -> Result<TopicLinksJob> {
        let path = format!("{STA}/programs/topiclinks/jobs");
        let started = Instant::now();
        let req = || Req::get(format!("{path}/{}", encode_segment(job_id)));
        let job: TopicLinksJob = self.get_json(req()).await?;
        match self.wait_job(&req(), &path, job, started).await? {
            Ok(job) => Ok(job),
            Err((job_id, state)) => Err(Error::TopicLinksFailed {
                job_id,
                program: program.to_string(),
                state,
            }),
        }
    }

    /// Genesys's own audit records of Speech & Text Analytics over `interval`
    /// (`START/END`, within the last 14 days): `POST /api/v2/audits/query/realtime`,
    /// oldest first, every page (500 records each).
    pub async fn sta_audits(&self, interval: &str) -> Result<Vec<AuditLogMessage>> {
        let mut all = Vec::new();
        let max = self.options.max_list_pages.min(MAX_PAGES);
        for page in 1..=max {
            let body = serde_json::json!({
                "interval": interval,
                "serviceName": "SpeechAndTextAnalytics",
                "sort": [{"name": "Timestamp", "sortOrder": "ascending"}],
                "pageNumber": page,
                "pageSize": 500,
            });
            // A query: safe to re-send.
            let req = Req::json(Method::POST, "/api/v2/audits/query/realtime", &body)?;
            let resp = self.call(&req).await?;
            let p: AuditPage = decode(&req, &resp)?;
            let empty = p.entities.is_empty();
            all.extend(p.entities);
            if empty || p.page_count.is_none_or(|n| u64::from(page) >= n) {
                return Ok(all);
            }
        }
        Ok(all)
    }

    /// Communications per topic per day over `interval` (`START/END`, START at a UTC
    /// midnight): one transcripts aggregates query, grouped by topic, in `P1D` buckets;
    /// `topic_ids` empty means every topic. `{topic id: {YYYY-MM-DD: count}}`.
    pub async fn topic_communications_daily(
        &self,
        topic_ids: &[String],
        interval: &str,
    ) -> Result<std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>> {
        let mut body = serde_json::json!({
            "interval": interval,
            "granularity": "P1D",
            "groupBy": ["topicId"],
            "metrics": ["nTopicCommunications"],
        });
        if !topic_ids.is_empty() {
            let predicates: Vec<serde_json::Value> = topic_ids
                .iter()
                .map(|id| {
                    serde_json::json!({"type": "dimension", "dimension": "topicId", "operator": "matches", "value": id})
                })
                .collect();
            body["filter"] = serde_json::json!({"type": "or", "predicates": predicates});
        }
        // A query: safe to re-send.
        let req = Req::json(
            Method::POST,
            "/api/v2/analytics/transcripts/aggregates/query",
            &body,
        )?;
        let resp = self.call(&req).await?;
        let doc: serde_json::Value = decode(&req, &resp)?;
        let mut out: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>> =
            Default::default();
        for r in doc["results"].as_array().into_iter().flatten() {
            let Some(id) = r["group"]["topicId"].as_str() else {
                continue;
            };
            let days = out.entry(id.to_string()).or_default();
            for d in r["data"].as_array().into_iter().flatten() {
                let Some(day) = d["interval"].as_str().and_then(|i| i.get(..10)) else {
                    continue;
                };
                let count = d["metrics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|m| m["metric"] == "nTopicCommunications")
                    .filter_map(|m| m["stats"]["count"].as_u64())
                    .fold(0u64, u64::saturating_add);
                let slot = days.entry(day.to_string()).or_default();
                *slot = slot.saturating_add(count);
            }
        }
        Ok(out)
    }

    /// Runs one test-phrase job (a phrase tested against the org's recent transcripts,
    /// `start_ms..end_ms`) to completion: `(processed, matched)` transcripts.
    pub async fn test_phrase(
        &self,
        topic: &PhraseJobTopic,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<(u64, u64)> {
        let path = format!("{STA}/topics/testphrase/jobs");
        let body = serde_json::json!({
            "topic": topic,
            "transcriptsFilters": {"mediaType": "all", "startTimeMs": start_ms, "endTimeMs": end_ms},
        });
        let started = Instant::now();
        // Read only: a second job after a lost answer costs nothing.
        let req = Req::json(Method::POST, path.clone(), &body)?;
        let resp = self.call(&req).await?;
        let job: PhraseJob = decode(&req, &resp)?;
        match self.wait_job(&req, &path, job, started).await? {
            Ok(job) => Ok((
                job.processed_transcripts_count.unwrap_or(0),
                job.matched_transcripts_count.unwrap_or(0),
            )),
            Err((job_id, state)) => Err(Error::JobFailed { job_id, state }),
        }
    }

    /// The org these credentials belong to.
    pub async fn get_org(&self) -> Result<Organization> {
        self.get_json(Req::get("/api/v2/organizations/me")).await
    }
}

/// Runs every response decoder of the client over one response, as a real call would
/// (rate-limit headers, error body, each body type, paging links). For the fuzz driver
/// (`examples/fuzz.rs`): it must return, never panic, whatever the server sent.
#[doc(hidden)]
pub fn decode_any_response(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> usize {
    let req = Req::get("/api/v2/fuzz");
    let resp = Resp {
        status,
        body: body.to_vec(),
        meta: CallMeta::default(),
        rate: rate_info(headers),
        retry_after: retry_after(headers),
        token_generation: 0,
        ticket: Ticket::default(),
    };
    let mut decoded = 0;
    decoded += api_error(&req, &resp).to_string().len();
    decoded += usize::from(decode::<PublishJob>(&req, &resp).is_ok());
    if let Ok(page) = decode::<CursorPage<serde_json::Value>>(&req, &resp)
        && let Some(next) = page.next_uri
    {
        decoded += usize::from(next_page_request("https://api.example.com/x", &req, &next).is_ok());
    }
    decoded += crate::kinds::Kind::decode_wire(&resp.body);
    decoded
}

/// Call metadata with the latency of the whole call, retries included.
fn total(meta: CallMeta, started: Instant) -> CallMeta {
    CallMeta {
        latency_ms: started.elapsed().as_millis() as u64,
        ..meta
    }
}

/// The result of publishing nothing.
pub(crate) fn nothing_to_publish() -> Written<PublishJob> {
    Written {
        value: PublishJob {
            id: String::new(),
            state: "Completed".to_string(),
        },
        meta: CallMeta::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesys::Secret;

    fn client() -> Client {
        Client::new(
            crate::genesys::endpoint_for_api_url("http://127.0.0.1:9"),
            Credentials::ClientCredentials {
                client_id: "id".into(),
                client_secret: Secret::new("very-secret-value"),
            },
            ClientOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let d = format!("{:?}", client());
        assert!(!d.contains("very-secret-value"), "{d}");
        assert!(d.contains("127.0.0.1:9"), "{d}");
    }

    #[test]
    fn error_bodies_become_api_errors() {
        let req = Req::get("/api/v2/x");
        let resp = Resp {
            status: 400,
            body: br#"{"message":"Name is required","code":"bad.request","status":400,"contextId":"ctx-1"}"#.to_vec(),
            meta: CallMeta { http_status: 400, latency_ms: 1, correlation_id: Some("corr-9".into()) },
            rate: None,
            retry_after: None,
            token_generation: 1,
            ticket: Ticket::default(),
        };
        let e = api_error(&req, &resp);
        let msg = e.to_string();
        for needle in [
            "GET",
            "/api/v2/x",
            "400",
            "bad.request",
            "Name is required",
            "ctx-1",
            "corr-9",
        ] {
            assert!(msg.contains(needle), "{needle}: {msg}");
        }
        let resp = Resp {
            body: b"<html>bad gateway</html>".to_vec(),
            status: 502,
            ..resp
        };
        assert!(api_error(&req, &resp).to_string().contains("bad gateway"));
    }

    #[test]
    fn error_details_nested_errors_and_the_limit_are_shown() {
        let req = Req::get("/api/v2/x");
        let body = br#"{"message":"Invalid request","code":"bad.request","status":400,
            "details":[{"errorCode":"invalid.value","fieldName":"phrases[3].text","entityId":"t-1","entityName":"Greeting"}],
            "errors":[{"message":"too long","code":"too.long","status":400,"details":[{"fieldName":"name"}]}],
            "limit":{"key":"topics.per.org","namespace":"speechandtextanalytics","value":2000}}"#;
        let resp = Resp {
            status: 400,
            body: body.to_vec(),
            meta: CallMeta {
                http_status: 400,
                latency_ms: 1,
                correlation_id: None,
            },
            rate: None,
            retry_after: None,
            token_generation: 1,
            ticket: Ticket::default(),
        };
        let msg = api_error(&req, &resp).to_string();
        assert!(
            msg.ends_with(
                "Invalid request [detail: field phrases[3].text, errorCode invalid.value, entity \"Greeting\" (t-1); \
error: too.long: too long (detail: field name); limit: key topics.per.org, namespace speechandtextanalytics, value 2000]"
            ),
            "{msg}"
        );
    }

    #[test]
    fn next_uri_keeps_its_query_and_never_leaves_the_api_base() {
        let current = Req::get("/api/v2/x");
        let pairs = |r: &Req| r.query.clone();
        let r = next_page_request(
            "https://api.example.com",
            &current,
            "/api/v2/speechandtextanalytics/programs?pageSize=20&nextPage=p%2Babc%3D",
        )
        .unwrap();
        assert_eq!(r.path, "/api/v2/speechandtextanalytics/programs");
        assert_eq!(
            pairs(&r),
            vec![
                ("pageSize".to_string(), "20".to_string()),
                ("nextPage".to_string(), "p+abc=".to_string())
            ]
        );
        // An absolute nextUri on another host: only its path and query are used.
        let r = next_page_request(
            "https://api.example.com",
            &current,
            "https://evil.example.net/api/v2/topics?pageNumber=2",
        )
        .unwrap();
        assert_eq!(r.path, "/api/v2/topics");
        // Behind a gateway with a path prefix, a root-relative nextUri still works.
        let r = next_page_request("http://gw/genesys", &current, "/api/v2/topics?x=1").unwrap();
        assert_eq!(r.path, "/api/v2/topics");
        let r = next_page_request("http://gw/genesys", &current, "/genesys/api/v2/topics").unwrap();
        assert_eq!(r.path, "/api/v2/topics");
        assert!(next_page_request("http://gw", &current, "/admin/delete-all").is_err());
    }

    #[tokio::test]
    async fn unreachable_server_is_a_transport_error_after_bounded_attempts() {
        let c = Client::new(
            crate::genesys::endpoint_for_api_url("http://127.0.0.1:9"),
            Credentials::AccessToken(Secret::new("tok-abc")),
            ClientOptions {
                max_attempts: 2,
                request_timeout: Duration::from_secs(2),
                ..ClientOptions::default()
            },
        )
        .unwrap();
        let e = c.list_topics().await.unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Transport { .. }), "{msg}");
        assert!(!msg.contains("tok-abc"), "{msg}");
    }
}
