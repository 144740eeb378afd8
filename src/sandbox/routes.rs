//! Routes and the request gate. The gate runs around every route and applies, in the
//! order Genesys would: stats, latency, auth, rate limit, injected faults; then it
//! renders errors as Genesys error bodies and stamps `ININ-Correlation-Id` (and the
//! rate-limit headers) on every response.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use super::auth::{self, Caller, Tokens};
use super::collection::{DeleteReply, ListQuery, Paging, Resource};
use super::error::ApiError;
use super::faults::{Fault, Faults};
use super::ids;
use super::kinds;
use super::ratelimit::{RateLimiter, Verdict};
use super::server::ConnKiller;
use super::stats::Stats;
use super::store::Store;

/// Shared state of one sandbox.
#[derive(Debug)]
pub struct App {
    pub store: Arc<Mutex<Store>>,
    pub tokens: Mutex<Tokens>,
    pub limiter: Mutex<RateLimiter>,
    pub faults: Faults,
    /// `--lost-answer-rate`: dice for writes whose answer is lost after they commit.
    pub lost_answers: Faults,
    /// Failures scripted through `POST /__sandbox/fail`: (method, route template,
    /// status, how many more requests to fail).
    pub scripted: Mutex<Vec<(String, String, u16, u32)>>,
    /// Queues, flows and sample transcripts (`--seed-file`), read only.
    pub seed: super::seed::Seed,
    pub phrase_jobs: Mutex<super::detection::PhraseJobs>,
    pub stats: Mutex<Stats>,
    pub latency: Duration,
    pub correlation_salt: u64,
    pub correlation_seq: AtomicU64,
}

type Shared = Arc<App>;
type ApiResult = Result<Response, ApiError>;

/// No request may panic, so a poisoned lock (impossible in practice) is used as is.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl App {
    fn correlation_id(&self) -> String {
        let n = self.correlation_seq.fetch_add(1, Ordering::Relaxed);
        ids::uuid_like(self.correlation_salt, n)
    }

    /// Runs a store operation on the blocking pool: writes fsync files.
    async fn with_store<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&store)))
            .await
            .map_err(|e| ApiError::internal(format!("sandbox task failed: {e}")))?
    }
}

/// The router of all routes, with the gate around them: each kind's collection
/// routes (and publish-job routes for published kinds), then the routes that are
/// not a kind's.
pub fn router(app: Shared) -> Router {
    let mut router = Router::new().route("/oauth/token", post(token));
    for r in kinds::ALL {
        router = kind_routes(router, r);
    }
    let topics = kinds::topic::RESOURCE.path;
    router
        .route(
            &format!("{topics}/testphrase/jobs"),
            post(create_phrase_job),
        )
        .route(
            &format!("{topics}/testphrase/jobs/{{id}}"),
            get(get_phrase_job),
        )
        .route(
            "/api/v2/analytics/transcripts/aggregates/query",
            post(transcript_aggregates),
        )
        .route(
            &format!("{}/{{id}}/mappings", kinds::program::RESOURCE.path),
            get(get_program_mappings).put(put_program_mappings),
        )
        .route(
            &format!(
                "{}/{{id}}/transcriptionengines",
                kinds::program::RESOURCE.path
            ),
            get(get_program_engines).put(put_program_engines),
        )
        .route("/api/v2/routing/queues", get(list_queues))
        .route("/api/v2/flows", get(list_flows))
        .route("/api/v2/organizations/me", get(get_org))
        .route("/__sandbox/stats", get(read_stats))
        .route(
            "/api/v2/speechandtextanalytics/programs/topiclinks/jobs/{id}",
            get(get_links_job),
        )
        .route(
            "/api/v2/speechandtextanalytics/programs/mappings",
            get(list_program_mappings),
        )
        .route(
            "/__sandbox/programs/{id}/published",
            get(get_program_published),
        )
        .route("/__sandbox/stats/reset", post(reset_stats))
        .route("/__sandbox/fail", post(script_failure))
        .route("/__sandbox/dictionary/reject", post(reject_term))
        .route("/api/v2/audits/query/realtime", post(query_audits))
        .route("/__sandbox/audits", post(add_audit))
        .fallback(unknown_route)
        // 1000 phrases fit easily; garbage beyond this is a 413, not memory pressure.
        .layer(DefaultBodyLimit::max(8 * 1024 * 1024))
        .layer(middleware::from_fn_with_state(app.clone(), gate))
        .with_state(app)
}

/// The routes of one kind: list and create, read, replace and delete by id, and
/// publish jobs when the kind is published; or a singleton's read, replace and patch.
fn kind_routes(router: Router<Shared>, r: &'static Resource) -> Router<Shared> {
    if r.singleton {
        let write = move |merge: bool| {
            move |State(app): State<Shared>,
                  caller: Option<axum::Extension<Caller>>,
                  headers: HeaderMap,
                  body: Bytes| write_singleton(app, r, merge, caller, headers, body)
        };
        return router.route(
            r.path,
            get(move |State(app): State<Shared>| get_singleton(app, r))
                .put(write(false))
                .patch(write(true)),
        );
    }
    let collection =
        get(move |State(app): State<Shared>, RawQuery(raw): RawQuery| list(app, r, raw)).post(
            move |State(app): State<Shared>,
                  caller: Option<axum::Extension<Caller>>,
                  headers: HeaderMap,
                  body: Bytes| create(app, r, caller, headers, body),
        );
    let mut one = axum::routing::delete(
        move |State(app): State<Shared>,
              id: Result<Path<String>, PathRejection>,
              RawQuery(raw): RawQuery| delete(app, r, id, raw),
    );
    if r.get_one {
        one = one.get(
            move |State(app): State<Shared>, id: Result<Path<String>, PathRejection>| {
                get_one(app, r, id)
            },
        );
    }
    if r.put {
        one = one.put(
            move |State(app): State<Shared>,
                  caller: Option<axum::Extension<Caller>>,
                  id: Result<Path<String>, PathRejection>,
                  headers: HeaderMap,
                  body: Bytes| update(app, r, caller, id, headers, body),
        );
    }
    let collection = if r.delete_all {
        collection.delete(move |State(app): State<Shared>| delete_every(app, r))
    } else {
        collection
    };
    let mut router = router
        .route(r.path, collection)
        .route(&format!("{}/{{id}}", r.path), one);
    if r.publish.is_some() {
        router = router
            .route(
                &format!("{}/publishjobs", r.path),
                post(
                    move |State(app): State<Shared>,
                          caller: Option<axum::Extension<Caller>>,
                          headers: HeaderMap,
                          body: Bytes| {
                        create_job(app, r, caller, headers, body)
                    },
                ),
            )
            .route(
                &format!("{}/publishjobs/{{id}}", r.path),
                get(
                    move |State(app): State<Shared>, id: Result<Path<String>, PathRejection>| {
                        get_job(app, r, id)
                    },
                ),
            );
    }
    router
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// The code of an error response no handler rendered (axum's own 405, 413, ...).
fn generic_error(status: StatusCode) -> ApiError {
    let code = match status.as_u16() {
        400 => "bad.request",
        401 => "authentication.required",
        404 => "not.found",
        405 => "method.not.allowed",
        413 => "request.entity.too.large",
        415 => "unsupported.media.type",
        s if s >= 500 => "internal.server.error",
        _ => "bad.request",
    };
    ApiError::new(
        status,
        code,
        status.canonical_reason().unwrap_or("Request failed"),
    )
}

/// Turns any response into its final form: Genesys error body, correlation id,
/// rate-limit headers.
fn finish(resp: Response, correlation: &str, limit: Option<Verdict>) -> Response {
    let status = resp.status();
    let mut resp = match resp.extensions().get::<ApiError>().cloned() {
        Some(err) => render_error(&err, correlation),
        None if status.is_client_error() || status.is_server_error() => {
            render_error(&generic_error(status), correlation)
        }
        None => resp,
    };
    let h = resp.headers_mut();
    h.insert(
        HeaderName::from_static("inin-correlation-id"),
        header_value(correlation),
    );
    if let Some(v) = limit {
        h.insert(
            HeaderName::from_static("inin-ratelimit-count"),
            header_value(&v.count.to_string()),
        );
        h.insert(
            HeaderName::from_static("inin-ratelimit-allowed"),
            header_value(&v.allowed.to_string()),
        );
        h.insert(
            HeaderName::from_static("inin-ratelimit-reset"),
            header_value(&v.reset_secs.to_string()),
        );
    }
    resp
}

fn render_error(err: &ApiError, correlation: &str) -> Response {
    let mut resp = (err.status, axum::Json(err.body(correlation))).into_response();
    if let Some(secs) = err.retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header_value(&secs.to_string()));
    }
    resp
}

/// Closes the request's connection without a response. Never returns when it can.
async fn drop_connection(killer: Option<ConnKiller>) -> Response {
    match killer {
        Some(k) => {
            k.kill();
            std::future::pending::<Response>().await
        }
        // Only reachable if the router is served by something else than `server`.
        None => ApiError::unavailable().into_response(),
    }
}

async fn gate(State(app): State<Shared>, mut req: Request, next: Next) -> Response {
    let correlation = app.correlation_id();
    let path = req.uri().path().to_string();
    if path.starts_with("/__sandbox/") {
        // Test plumbing: never counted, delayed, authenticated, limited or faulted.
        let resp = next.run(req).await;
        return finish(resp, &correlation, None);
    }
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "(unknown route)".to_string());
    lock(&app.stats).request(&format!("{} {template}", req.method()));
    if !app.latency.is_zero() {
        tokio::time::sleep(app.latency).await;
    }
    let mut limit = None;
    let resp = if path.starts_with("/api/") {
        let checked = lock(&app.tokens).check(req.headers());
        match checked {
            Err(e) => e.into_response(),
            Ok(caller) => {
                let verdict = lock(&app.limiter).hit(&caller.token);
                limit = Some(verdict);
                if verdict.over {
                    ApiError::too_many_requests(verdict.reset_secs).into_response()
                } else {
                    let killer = req.extensions().get::<ConnKiller>().cloned();
                    req.extensions_mut().insert(caller);
                    if let Some(status) = scripted_failure(&app, req.method().as_str(), &template) {
                        let code = StatusCode::from_u16(status)
                            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                        let resp =
                            ApiError::new(code, "scripted.failure", "Scripted failure (test)")
                                .into_response();
                        let resp = finish(resp, &correlation, limit);
                        lock(&app.stats).outcome(resp.status().as_str());
                        return resp;
                    }
                    let write = req.method() != Method::GET;
                    match app.faults.roll() {
                        None if write && app.lost_answers.roll().is_some() => {
                            let _committed = next.run(req).await;
                            lock(&app.stats).outcome("dropped");
                            return drop_connection(killer).await;
                        }
                        None => next.run(req).await,
                        Some(Fault::TooManyRequests) => {
                            ApiError::too_many_requests(1).into_response()
                        }
                        Some(Fault::Internal) => {
                            ApiError::internal("Injected fault: internal server error")
                                .into_response()
                        }
                        Some(Fault::Unavailable) => ApiError::unavailable().into_response(),
                        Some(Fault::Drop) => {
                            lock(&app.stats).outcome("dropped");
                            return drop_connection(killer).await;
                        }
                        Some(Fault::DropAfterCommit) => {
                            let _committed = next.run(req).await;
                            lock(&app.stats).outcome("dropped");
                            return drop_connection(killer).await;
                        }
                    }
                }
            }
        }
    } else {
        next.run(req).await
    };
    let resp = finish(resp, &correlation, limit);
    lock(&app.stats).outcome(resp.status().as_str());
    resp
}

// ----- helpers -----

fn json(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn actor(caller: Option<axum::Extension<Caller>>) -> String {
    caller
        .map(|c| c.0.client_id)
        .unwrap_or_else(|| "unknown".to_string())
}

fn path_id(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(id)| id)
        .map_err(|e| ApiError::bad_request(format!("Invalid path: {e}")))
}

/// Genesys answers 415 to a body that is not declared as JSON.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if ct
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported.media.type",
            format!("Content-Type must be application/json, got '{ct}'"),
        ))
    }
}

/// Query parameters, refusing unknown and repeated ones (SPEC 8.3: send no other).
fn query_pairs(raw: Option<String>, allowed: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let pairs = auth::form_pairs(raw.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(format!("Invalid query string: {e}")))?;
    for (i, (k, _)) in pairs.iter().enumerate() {
        if !allowed.contains(&k.as_str()) {
            return Err(ApiError::bad_field(
                k,
                format!(
                    "Unrecognized query parameter '{k}'; allowed: {}",
                    allowed.join(", ")
                ),
            ));
        }
        if pairs[..i].iter().any(|(other, _)| other == k) {
            return Err(ApiError::bad_field(
                k,
                format!("Query parameter '{k}' is given more than once"),
            ));
        }
    }
    Ok(pairs)
}

fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn number(
    pairs: &[(String, String)],
    key: &str,
    min: usize,
    max: usize,
    default: usize,
) -> Result<usize, ApiError> {
    match param(pairs, key) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_field(
                key,
                format!("'{key}' must be an integer from {min} to {max}, got '{v}'"),
            )),
        },
    }
}

const MAX_PAGE_SIZE: usize = 500;
const DEFAULT_PAGE_SIZE: usize = 25;

fn comma_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A kind's list query: its paging parameters, the common filters it accepts
/// (`name`, `ids`, `state`, `sortBy`, `sortOrder`) and its own.
fn list_query(r: &Resource, raw: Option<String>) -> Result<ListQuery, ApiError> {
    let (paging, default_size): (&[&str], usize) = match r.paging {
        Paging::Numbered { default_size, .. } | Paging::Plain { default_size } => {
            (&["pageSize", "pageNumber"], default_size)
        }
        Paging::Cursor { default_size } => (&["pageSize", "nextPage"], default_size),
        Paging::Unpaged => (&[], 1),
    };
    let allowed: Vec<&str> = paging.iter().chain(r.list_params).copied().collect();
    let pairs = query_pairs(raw, &allowed)?;
    let sort_by = param(&pairs, "sortBy").map(str::to_string);
    if let Some(s) = &sort_by
        && !r.sort_by.contains(&s.as_str())
    {
        return Err(ApiError::bad_field(
            "sortBy",
            format!(
                "'sortBy' value '{s}' is not one of {}",
                r.sort_by.join(", ")
            ),
        ));
    }
    let mut q = ListQuery {
        page_size: number(&pairs, "pageSize", 1, r.max_page_size, default_size)?,
        page_number: number(&pairs, "pageNumber", 1, usize::MAX / 2, 1)?,
        cursor: param(&pairs, "nextPage").map(str::to_string),
        name: param(&pairs, "name").map(str::to_string),
        ids: id_filter(&pairs)?,
        published_only: published_only(&pairs)?,
        sort_desc: sort_desc(&pairs)?,
        sort_by,
        lists: Vec::new(),
        echo: Vec::new(),
    };
    (r.refine_query)(&pairs, &mut q)?;
    q.echo = pairs
        .into_iter()
        .filter(|(k, _)| !paging.contains(&k.as_str()))
        .collect();
    Ok(q)
}

/// `state=latest|published` of the topic and program listings.
fn published_only(pairs: &[(String, String)]) -> Result<bool, ApiError> {
    match param(pairs, "state") {
        None | Some("latest") => Ok(false),
        Some("published") => Ok(true),
        Some(other) => Err(ApiError::bad_field(
            "state",
            format!("'state' value '{other}' is not one of latest, published"),
        )),
    }
}

/// `sortOrder=asc|desc` of the topic and program listings.
fn sort_desc(pairs: &[(String, String)]) -> Result<bool, ApiError> {
    match param(pairs, "sortOrder")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("asc") | Some("ascending") => Ok(false),
        Some("desc") | Some("descending") => Ok(true),
        Some(_) => Err(ApiError::bad_field(
            "sortOrder",
            "'sortOrder' must be asc or desc",
        )),
    }
}

/// `ids=a,b,…` (at most 50) of the topic and program listings.
fn id_filter(pairs: &[(String, String)]) -> Result<Option<Vec<String>>, ApiError> {
    let Some(ids) = param(pairs, "ids") else {
        return Ok(None);
    };
    let list = comma_list(ids);
    if list.len() > 50 {
        return Err(ApiError::bad_field(
            "ids",
            format!("'ids' lists {} ids; at most 50 are allowed", list.len()),
        ));
    }
    Ok(Some(list))
}

// ----- handlers -----

async fn token(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("The token request body is not UTF-8"))?;
    let form = auth::form_pairs(text)
        .map_err(|e| ApiError::bad_request(format!("Invalid form body: {e}")))?;
    let issued = lock(&app.tokens).issue(&headers, &form)?;
    Ok(json(StatusCode::OK, issued))
}

async fn list(app: Shared, r: &'static Resource, raw: Option<String>) -> ApiResult {
    let q = list_query(r, raw)?;
    let body = app.with_store(move |s| s.list_lagged(r, &q)).await?;
    Ok(json(StatusCode::OK, body))
}

async fn get_one(
    app: Shared,
    r: &'static Resource,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(id)?;
    let body = app.with_store(move |s| s.get(r, &id)).await?;
    Ok(json(StatusCode::OK, body))
}

async fn create(
    app: Shared,
    r: &'static Resource,
    caller: Option<axum::Extension<Caller>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    require_json(&headers)?;
    let input = (r.parse)(&body)?;
    let who = actor(caller);
    let body = app.with_store(move |s| s.create(r, input, &who)).await?;
    Ok(json(
        StatusCode::from_u16(r.create_status).unwrap_or(StatusCode::OK),
        body,
    ))
}

async fn update(
    app: Shared,
    r: &'static Resource,
    caller: Option<axum::Extension<Caller>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let id = path_id(id)?;
    require_json(&headers)?;
    let input = (r.parse)(&body)?;
    let who = actor(caller);
    let body = app
        .with_store(move |s| s.update(r, &id, input, &who))
        .await?;
    Ok(json(StatusCode::OK, body))
}

async fn delete(
    app: Shared,
    r: &'static Resource,
    id: Result<Path<String>, PathRejection>,
    raw: Option<String>,
) -> ApiResult {
    let id = path_id(id)?;
    let mut force = false;
    if !r.delete_params.is_empty() {
        let pairs = query_pairs(raw, r.delete_params)?;
        force = pairs.iter().any(|(_, v)| v == "true");
        for (k, v) in &pairs {
            if v != "true" && v != "false" {
                return Err(ApiError::bad_field(
                    k,
                    format!("'{k}' must be true or false"),
                ));
            }
        }
    }
    let self_uri = format!("{}/{id}", r.path);
    let (id, extra) = app
        .with_store(move |s| s.delete(r, &id, force, "").map(|extra| (id, extra)))
        .await?;
    Ok(match r.delete_reply {
        DeleteReply::NoContent => StatusCode::NO_CONTENT.into_response(),
        // SDK 269 answers a program delete with a DeleteProgramResponse, not 204.
        DeleteReply::Reference => {
            let mut body = serde_json::Map::new();
            body.insert("id".into(), serde_json::json!(id));
            body.extend(extra);
            body.insert("selfUri".into(), serde_json::json!(self_uri));
            json(StatusCode::OK, serde_json::Value::Object(body))
        }
    })
}

async fn get_singleton(app: Shared, r: &'static Resource) -> ApiResult {
    let body = app.with_store(move |s| Ok(s.get_singleton(r))).await?;
    Ok(json(StatusCode::OK, body))
}

async fn write_singleton(
    app: Shared,
    r: &'static Resource,
    merge: bool,
    caller: Option<axum::Extension<Caller>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    require_json(&headers)?;
    let input = (r.parse)(&body)?;
    let who = actor(caller);
    let body = app
        .with_store(move |s| s.write_singleton(r, input, merge, &who))
        .await?;
    Ok(json(StatusCode::OK, body))
}

async fn delete_every(app: Shared, r: &'static Resource) -> ApiResult {
    app.with_store(move |s| s.delete_every(r)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn create_job(
    app: Shared,
    r: &'static Resource,
    caller: Option<axum::Extension<Caller>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    require_json(&headers)?;
    let who = actor(caller);
    let body = app
        .with_store(move |s| s.create_job(r, &body, &who))
        .await?;
    Ok(json(StatusCode::OK, body))
}

async fn get_job(
    app: Shared,
    r: &'static Resource,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(id)?;
    let body = app.with_store(move |s| s.poll_job(r, &id)).await?;
    Ok(json(StatusCode::OK, body))
}

async fn create_phrase_job(
    State(app): State<Shared>,
    caller: Option<axum::Extension<Caller>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    require_json(&headers)?;
    let who = actor(caller);
    // A `programs` filter selects the transcripts of the programs' queues and flows.
    let mappings = app
        .with_store(|s| Ok(kinds::program::all_mappings(s)))
        .await?;
    let body =
        lock(&app.phrase_jobs).create(&body, &app.seed, &mappings, &who, app.correlation_salt)?;
    Ok(json(StatusCode::OK, body))
}

async fn get_phrase_job(
    State(app): State<Shared>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(id)?;
    let body = lock(&app.phrase_jobs).poll(&id)?;
    Ok(json(StatusCode::OK, body))
}

async fn transcript_aggregates(
    State(app): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    require_json(&headers)?;
    let topics = app.with_store(|s| Ok(kinds::topic::detectable(s))).await?;
    let body = super::detection::aggregates(&body, &app.seed, &topics)?;
    Ok(json(StatusCode::OK, body))
}

async fn get_program_mappings(
    State(app): State<Shared>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(id)?;
    let body = app
        .with_store(move |s| kinds::program::mappings_json(s, &id))
        .await?;
    Ok(json(StatusCode::OK, body))
}

/// `GET /programs/mappings?pageSize=&nextPage=`.
async fn list_program_mappings(State(app): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let pairs = query_pairs(raw, &["pageSize", "nextPage"])?;
    let size = number(&pairs, "pageSize", 1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)?;
    let next = param(&pairs, "nextPage").map(str::to_string);
    let body = app
        .with_store(move |s| kinds::program::mappings_listing(s, size, next.as_deref()))
        .await?;
    Ok(json(StatusCode::OK, body))
}

/// `GET /programs/topiclinks/jobs/{jobId}` (SDK 269 `ProgramTopicLinksJob`).
async fn get_links_job(
    State(app): State<Shared>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(id)?;
    let body = app
        .with_store(move |s| kinds::program::poll_links_job(s, &id))
        .await?;
    Ok(json(StatusCode::OK, body))
}

/// Sandbox only: what a program searches for, as of its last publish.
async fn get_program_published(
    State(app): State<Shared>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(id)?;
    let body = app
        .with_store(move |s| kinds::program::published_view(s, &id))
        .await?;
    Ok(json(StatusCode::OK, body))
}

async fn put_program_mappings(
    State(app): State<Shared>,
    caller: Option<axum::Extension<Caller>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let id = path_id(id)?;
    require_json(&headers)?;
    let who = actor(caller);
    let queues: Vec<String> = app.seed.queues.iter().map(|(id, _)| id.clone()).collect();
    let flows: Vec<String> = app.seed.flows.iter().map(|(id, _, _)| id.clone()).collect();
    let body = app
        .with_store(move |s| kinds::program::put_mappings(s, &id, &body, (&queues, &flows), &who))
        .await?;
    Ok(json(StatusCode::OK, body))
}

async fn get_program_engines(
    State(app): State<Shared>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = path_id(id)?;
    let body = app
        .with_store(move |s| kinds::program::engines_json(s, &id))
        .await?;
    Ok(json(StatusCode::OK, body))
}

async fn put_program_engines(
    State(app): State<Shared>,
    caller: Option<axum::Extension<Caller>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let id = path_id(id)?;
    require_json(&headers)?;
    let who = actor(caller);
    let body = app
        .with_store(move |s| kinds::program::put_engines(s, &id, &body, &who))
        .await?;
    Ok(json(StatusCode::OK, body))
}

async fn list_queues(State(app): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let items: Vec<(String, String, Option<String>)> = app
        .seed
        .queues
        .iter()
        .map(|(id, name)| (id.clone(), name.clone(), None))
        .collect();
    seed_listing(
        raw,
        &["name", "pageSize", "pageNumber"],
        &items,
        ("/api/v2/routing/queues", super::seed::NameFilter::Exact),
    )
}

/// `type` is a list (SDK 269 `ArchitectApi.get_flows`): repeated, or comma-joined as
/// the SDK's client sends it.
async fn list_flows(State(app): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let wanted: Vec<String> =
        query_pairs(raw.clone(), &["name", "type", "pageSize", "pageNumber"])?
            .into_iter()
            .filter(|(k, _)| k == "type")
            .flat_map(|(_, v)| {
                v.split(',')
                    .map(|t| t.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|t| !t.is_empty())
            .collect();
    let items: Vec<(String, String, Option<String>)> = app
        .seed
        .flows
        .iter()
        .filter(|(_, _, t)| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(t)))
        .map(|(id, name, t)| (id.clone(), name.clone(), Some(t.clone())))
        .collect();
    seed_listing(
        raw,
        &["name", "type", "pageSize", "pageNumber"],
        &items,
        ("/api/v2/flows", super::seed::NameFilter::Contains),
    )
}

/// A numbered page of seeded queues or flows, filtered by `name`.
fn seed_listing(
    raw: Option<String>,
    allowed: &[&str],
    items: &[(String, String, Option<String>)],
    (path, how): (&str, super::seed::NameFilter),
) -> ApiResult {
    let pairs = query_pairs(raw, allowed)?;
    Ok(json(
        StatusCode::OK,
        super::seed::listing(
            items,
            path,
            param(&pairs, "name").map(|n| (n, how)),
            number(&pairs, "pageSize", 1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)?,
            number(&pairs, "pageNumber", 1, usize::MAX / 2, 1)?,
        ),
    ))
}

async fn get_org(State(app): State<Shared>) -> ApiResult {
    let body = app.with_store(|s| Ok(s.org_json())).await?;
    Ok(json(StatusCode::OK, body))
}

/// The status to fail this request with, if a scripted failure matches it.
fn scripted_failure(app: &App, method: &str, template: &str) -> Option<u16> {
    let mut scripted = lock(&app.scripted);
    let hit = scripted
        .iter_mut()
        .find(|(m, t, _, left)| m == method && t == template && *left > 0)?;
    hit.3 -= 1;
    Some(hit.2)
}

/// `POST /__sandbox/fail?method=DELETE&route=/api/v2/…/{id}&status=409[&count=1]`: the
/// next `count` requests to that route fail with that status (test plumbing, for
/// failures a plan cannot foresee).
async fn script_failure(State(app): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let pairs = query_pairs(raw, &["method", "route", "status", "count"])?;
    let method = param(&pairs, "method")
        .ok_or_else(|| ApiError::bad_field("method", "'method' is required"))?
        .to_ascii_uppercase();
    let route = param(&pairs, "route")
        .ok_or_else(|| ApiError::bad_field("route", "'route' is required"))?
        .to_string();
    let status = number(&pairs, "status", 400, 599, 500)?;
    let count = number(&pairs, "count", 1, 1_000_000, 1)?;
    lock(&app.scripted).push((
        method,
        route,
        u16::try_from(status).unwrap_or(500),
        u32::try_from(count).unwrap_or(1),
    ));
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /__sandbox/dictionary/reject?dialect=D&term=T&reason=R`: later writes of the
/// term end `Failed` with `invalidReason` R.
async fn reject_term(State(app): State<Shared>, RawQuery(raw): RawQuery) -> ApiResult {
    let pairs = query_pairs(raw, &["dialect", "term", "reason"])?;
    let get = |k: &str| {
        param(&pairs, k)
            .map(str::to_string)
            .ok_or_else(|| ApiError::bad_field(k, format!("'{k}' is required")))
    };
    let (dialect, term, reason) = (get("dialect")?, get("term")?, get("reason")?);
    app.with_store(move |s| {
        kinds::dictionary_feedback::reject(s, &dialect, &term, &reason);
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn query_audits(State(app): State<Shared>, body: Bytes) -> ApiResult {
    let page = app.with_store(move |s| s.query_audits(&body)).await?;
    Ok(json(StatusCode::OK, page))
}

async fn add_audit(State(app): State<Shared>, body: Bytes) -> ApiResult {
    let record = app.with_store(move |s| s.add_audit(&body)).await?;
    Ok(json(StatusCode::OK, record))
}

async fn read_stats(State(app): State<Shared>) -> Response {
    json(StatusCode::OK, lock(&app.stats).to_json())
}

async fn reset_stats(State(app): State<Shared>) -> Response {
    lock(&app.stats).reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn unknown_route(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not.found",
        format!("No resource at {method} {}", uri.path()),
    )
}
