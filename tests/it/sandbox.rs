//! Tests of sandbox: black-box HTTP against a real server on 127.0.0.1:0. Request
//! bodies are raw JSON written from SPEC section 8, never the client's types, so a
//! contract mistake cannot hide behind the same mistake on both sides.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use speechops::sandbox::{self, SandboxHandle, SandboxOptions};

use crate::support;

const STA: &str = "/api/v2/speechandtextanalytics";
const RULES: &str = "/api/v2/speech/rules";

/// A response, read whole.
#[derive(Debug)]
struct Resp {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_default().to_string()
    }
    /// Asserts a Genesys error body with this status and code.
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{:#}", self.body);
        assert_eq!(self.body["code"], code, "{:#}", self.body);
        assert_eq!(self.body["status"], status, "{:#}", self.body);
        for key in [
            "message",
            "messageWithParams",
            "messageParams",
            "contextId",
            "details",
            "errors",
        ] {
            assert!(
                self.body.get(key).is_some(),
                "error body lacks {key}: {:#}",
                self.body
            );
        }
        assert_eq!(
            self.body["contextId"].as_str(),
            self.header("inin-correlation-id"),
            "contextId is the correlation id"
        );
    }
    /// The `details[].fieldName`s of an error body.
    fn fields(&self) -> Vec<String> {
        self.body["details"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["fieldName"].as_str().map(str::to_string))
            .collect()
    }
}

/// An in-process sandbox plus an authenticated client.
struct Sbx {
    handle: SandboxHandle,
    http: reqwest::Client,
    token: String,
}

fn opts() -> SandboxOptions {
    SandboxOptions {
        client_id: "test-id".into(),
        client_secret: "test-secret".into(),
        ..SandboxOptions::default()
    }
}

async fn send_raw(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<Resp, reqwest::Error> {
    let mut req = http.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await?;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("non-JSON body ({e}): {}", String::from_utf8_lossy(&bytes)))
    };
    Ok(Resp {
        status,
        headers,
        body,
    })
}

async fn token_for(http: &reqwest::Client, base: &str) -> String {
    let resp = http
        .post(format!("{base}/oauth/token"))
        .basic_auth("test-id", Some("test-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request");
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("token json");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

impl Sbx {
    async fn start(options: SandboxOptions) -> Sbx {
        let handle = sandbox::start(options).await.expect("start sandbox");
        let http = reqwest::Client::new();
        let token = token_for(&http, &handle.url()).await;
        Sbx {
            handle,
            http,
            token,
        }
    }
    async fn new() -> Sbx {
        Sbx::start(opts()).await
    }
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.url())
    }
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        send_raw(
            &self.http,
            method,
            &self.url(path),
            Some(&self.token),
            body.as_ref(),
        )
        .await
        .expect("request")
    }
    async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }
    async fn stats(&self) -> Value {
        send_raw(
            &self.http,
            Method::GET,
            &self.url("/__sandbox/stats"),
            None,
            None,
        )
        .await
        .expect("stats")
        .body
    }
    async fn create_topic(&self, name: &str) -> Resp {
        let r = self.post(&format!("{STA}/topics"), topic(name)).await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
        r
    }
    async fn create_program(&self, name: &str, topic_ids: &[&str]) -> Resp {
        let r = self
            .post(
                &format!("{STA}/programs"),
                json!({"name": name, "description": "d", "topicIds": topic_ids, "tags": ["t"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
        r
    }
}

fn topic(name: &str) -> Value {
    json!({
        "name": name,
        "description": "Agent states the call may be recorded",
        "strictness": "72",
        "tags": ["compliance"],
        "dialect": "en-US",
        "participants": "Internal",
        "phrases": [
            {"text": "this call may be recorded", "strictness": "85", "sentiment": "Unspecified"},
            {"text": "for quality purposes"}
        ]
    })
}

fn rule(name: &str) -> Value {
    json!({
        "name": name,
        "description": "Detects greetings",
        "enabled": true,
        "language": "en-US",
        "phrases": [
            {"phrase": "This call may be recorded", "matchType": "exact", "caseSensitive": false, "enabled": true},
            {"phrase": "quality.*assurance", "matchType": "regex", "caseSensitive": false, "enabled": true}
        ],
        "scoring": [{"type": "additive", "value": 1.0, "condition": "pass"}],
        "tags": ["compliance"]
    })
}

fn is_ms_timestamp(s: &str) -> bool {
    // 2024-01-02T03:04:05.678Z
    s.len() == 24 && s.ends_with('Z') && s.as_bytes().get(19) == Some(&b'.')
}

// ----- auth -----

#[tokio::test]
async fn token_endpoint_accepts_basic_auth_and_form_credentials() {
    let s = Sbx::new().await;
    let http = reqwest::Client::new();
    let resp = http
        .post(s.url("/oauth/token"))
        .basic_auth("test-id", Some("test-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().contains_key("inin-correlation-id"));
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 86400);
    let token = body["access_token"].as_str().expect("token");
    let r = send_raw(
        &http,
        Method::GET,
        &s.url(&format!("{STA}/topics")),
        Some(token),
        None,
    )
    .await
    .expect("get");
    assert_eq!(r.status, StatusCode::OK);

    let resp = http
        .post(s.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "test-id"),
            ("client_secret", "test-secret"),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_credentials_and_bad_grants_get_genesys_errors() {
    let s = Sbx::new().await;
    let http = reqwest::Client::new();
    let token_call = |req: reqwest::RequestBuilder| async move {
        let resp = req.send().await.expect("send");
        Resp {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.json().await.expect("json"),
        }
    };
    let r = token_call(
        http.post(s.url("/oauth/token"))
            .basic_auth("test-id", Some("wrong"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    r.assert_error(401, "bad.credentials");
    assert_eq!(r.body["error"], "invalid_client");
    assert!(!r.body.to_string().contains("test-secret"), "secret echoed");

    let r = token_call(
        http.post(s.url("/oauth/token"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    r.assert_error(401, "authentication.required");

    let r = token_call(
        http.post(s.url("/oauth/token"))
            .basic_auth("test-id", Some("test-secret"))
            .form(&[("grant_type", "password")]),
    )
    .await;
    r.assert_error(400, "bad.request");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("grant_type")
    );
}

#[tokio::test]
async fn api_routes_require_a_known_bearer_token() {
    let s = Sbx::new().await;
    let url = s.url(&format!("{STA}/topics"));
    let r = send_raw(&s.http, Method::GET, &url, None, None)
        .await
        .expect("get");
    r.assert_error(401, "authentication.required");
    let r = send_raw(&s.http, Method::GET, &url, Some("made-up"), None)
        .await
        .expect("get");
    r.assert_error(401, "bad.credentials");
    let r = send_raw(&s.http, Method::GET, &s.url(RULES), Some("made-up"), None)
        .await
        .expect("get");
    r.assert_error(401, "bad.credentials");
}

#[tokio::test]
async fn tokens_expire_after_their_ttl() {
    let s = Sbx::start(SandboxOptions {
        token_ttl_secs: 1,
        ..opts()
    })
    .await;
    let http = reqwest::Client::new();
    let resp = http
        .post(s.url("/oauth/token"))
        .basic_auth("test-id", Some("test-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("send");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["expires_in"], 1);
    let token = body["access_token"].as_str().expect("token").to_string();
    let url = s.url(&format!("{STA}/topics"));
    // The TTL itself is under test: poll until the token stops working.
    let deadline = Instant::now() + Duration::from_secs(5);
    let expired = loop {
        let r = send_raw(&http, Method::GET, &url, Some(&token), None)
            .await
            .expect("get");
        if r.status == StatusCode::UNAUTHORIZED {
            break r;
        }
        assert_eq!(r.status, StatusCode::OK);
        assert!(Instant::now() < deadline, "token never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    expired.assert_error(401, "bad.credentials");
    assert!(
        expired.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("expired")
    );
    let fresh = token_for(&http, &s.handle.url()).await;
    let r = send_raw(&http, Method::GET, &url, Some(&fresh), None)
        .await
        .expect("get");
    assert_eq!(r.status, StatusCode::OK);
}

// ----- topics -----

#[tokio::test]
async fn topic_crud_returns_full_topics_and_listed_topics_without_phrases() {
    let s = Sbx::new().await;
    let created = s.create_topic("Recording disclosure").await;
    let id = created.id();
    assert_eq!(id.len(), 36, "uuid-like id: {id}");
    let got = s.get(&format!("{STA}/topics/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    let t = &got.body;
    assert_eq!(t["name"], "Recording disclosure");
    assert_eq!(t["description"], "Agent states the call may be recorded");
    assert_eq!(t["published"], false);
    assert_eq!(t["strictness"], "72");
    assert_eq!(t["dialect"], "en-US");
    assert_eq!(t["participants"], "Internal");
    assert_eq!(t["tags"], json!(["compliance"]));
    assert_eq!(
        t["phrases"],
        json!([
            {"text": "this call may be recorded", "strictness": "85", "sentiment": "Unspecified"},
            {"text": "for quality purposes", "sentiment": "Unspecified"}
        ])
    );
    assert!(
        is_ms_timestamp(t["dateModified"].as_str().unwrap_or_default()),
        "{t}"
    );
    assert_eq!(t["selfUri"], format!("{STA}/topics/{id}"));
    assert_eq!(
        t["programs"],
        json!([]),
        "lists are present even when empty, as in the SDK's Topic model"
    );
    assert_eq!(t["matchingType"], "Lexical", "the default matchingType");

    let list = s.get(&format!("{STA}/topics")).await;
    assert_eq!(list.status, StatusCode::OK);
    let e = &list.body["entities"][0];
    assert_eq!(e["id"], id.as_str());
    assert!(e.get("phrases").is_none(), "ListedTopic has no phrases");
    assert_eq!(e["phrasesCount"], 2);
    assert_eq!(e["programsCount"], 0);
    for key in [
        "name",
        "description",
        "published",
        "strictness",
        "tags",
        "dialect",
        "participants",
        "dateModified",
    ] {
        assert!(e.get(key).is_some(), "ListedTopic lacks {key}: {e}");
    }

    // PUT replaces the whole object.
    let mut body = topic("Recording disclosure v2");
    body["phrases"] = json!([{"text": "calls are recorded", "sentiment": "Negative"}]);
    body.as_object_mut().map(|o| o.remove("description"));
    let put = s.put(&format!("{STA}/topics/{id}"), body).await;
    assert_eq!(put.status, StatusCode::OK, "{:#}", put.body);
    assert_eq!(put.body["name"], "Recording disclosure v2");
    assert!(put.body.get("description").is_none());
    assert_eq!(
        put.body["phrases"],
        json!([{"text": "calls are recorded", "sentiment": "Negative"}])
    );
    assert!(put.body["dateModified"].as_str() > t["dateModified"].as_str());

    let del = s.delete(&format!("{STA}/topics/{id}")).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    s.get(&format!("{STA}/topics/{id}"))
        .await
        .assert_error(404, "not.found");
    s.delete(&format!("{STA}/topics/{id}"))
        .await
        .assert_error(404, "not.found");
    s.put(&format!("{STA}/topics/{id}"), topic("x"))
        .await
        .assert_error(404, "not.found");
}

#[tokio::test]
async fn topic_list_pages_and_bounds() {
    let s = Sbx::new().await;
    for i in 0..7 {
        s.create_topic(&format!("Topic {i}")).await;
    }
    let p1 = s
        .get(&format!("{STA}/topics?pageSize=3&pageNumber=1"))
        .await;
    assert_eq!(p1.status, StatusCode::OK);
    let b = &p1.body;
    assert_eq!(b["pageSize"], 3);
    assert!(
        b.get("pageNumber").is_none(),
        "TopicsEntityListing has no pageNumber"
    );
    assert_eq!(b["total"], 7);
    assert_eq!(b["pageCount"], 3);
    assert_eq!(b["entities"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        b["selfUri"],
        format!("{STA}/topics?pageSize=3&pageNumber=1")
    );
    let next = b["nextUri"]
        .as_str()
        .expect("nextUri on page 1")
        .to_string();
    assert_eq!(next, format!("{STA}/topics?pageSize=3&pageNumber=2"));
    let p2 = s.get(&next).await;
    assert!(p2.body["nextUri"].is_string());
    let p3 = s
        .get(&format!("{STA}/topics?pageSize=3&pageNumber=3"))
        .await;
    assert_eq!(p3.body["entities"].as_array().map(Vec::len), Some(1));
    assert!(
        p3.body.get("nextUri").is_none(),
        "no nextUri on the last page"
    );
    let beyond = s
        .get(&format!("{STA}/topics?pageSize=3&pageNumber=9"))
        .await;
    assert_eq!(beyond.body["entities"], json!([]));
    let default = s.get(&format!("{STA}/topics")).await;
    assert_eq!(default.body["pageSize"], 25);
    let max = s.get(&format!("{STA}/topics?pageSize=500")).await;
    assert_eq!(max.status, StatusCode::OK);

    for (query, field) in [
        ("pageSize=0", "pageSize"),
        ("pageSize=501", "pageSize"),
        ("pageSize=abc", "pageSize"),
        ("pageNumber=0", "pageNumber"),
        ("expand=phrases", "expand"),
        ("pageSize=2&pageSize=3", "pageSize"),
        ("state=draft", "state"),
        ("sortBy=dialect", "sortBy"),
        ("sortOrder=sideways", "sortOrder"),
        ("dialects=xx-XX", "dialects"),
        ("ids=a,b&name=x", "ids"),
    ] {
        let r = s.get(&format!("{STA}/topics?{query}")).await;
        r.assert_error(400, "bad.request");
        assert_eq!(r.fields(), vec![field.to_string()], "{query}: {:#}", r.body);
        assert!(
            r.body["message"]
                .as_str()
                .unwrap_or_default()
                .contains(field),
            "{query}"
        );
    }
    let many: Vec<String> = (0..16).map(|_| "en-US".to_string()).collect();
    s.get(&format!("{STA}/topics?dialects={}", many.join(",")))
        .await
        .assert_error(400, "bad.request");
    let ids: Vec<String> = (0..51).map(|i| format!("id{i}")).collect();
    s.get(&format!("{STA}/topics?ids={}", ids.join(",")))
        .await
        .assert_error(400, "bad.request");
}

#[tokio::test]
async fn topic_list_filters_and_sorts() {
    let s = Sbx::new().await;
    let a = s.create_topic("Alpha greeting").await.id();
    let b = s.create_topic("Beta GREETING").await.id();
    let mut gb = topic("Gamma");
    gb["dialect"] = json!("en-GB");
    assert_eq!(
        s.post(&format!("{STA}/topics"), gb).await.status,
        StatusCode::OK
    );

    let names = |r: &Resp| -> Vec<String> {
        r.body["entities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["name"].as_str().map(str::to_string))
            .collect()
    };
    let r = s.get(&format!("{STA}/topics?name=greeting")).await;
    assert_eq!(names(&r), ["Alpha greeting", "Beta GREETING"]);
    assert!(
        r.body["selfUri"]
            .as_str()
            .unwrap_or_default()
            .contains("name=greeting")
    );
    let r = s.get(&format!("{STA}/topics?dialects=en-GB,fr-FR")).await;
    assert_eq!(names(&r), ["Gamma"]);
    let r = s.get(&format!("{STA}/topics?ids={a},{b}")).await;
    assert_eq!(r.body["total"], 2);
    let r = s
        .get(&format!("{STA}/topics?sortBy=name&sortOrder=desc"))
        .await;
    assert_eq!(names(&r), ["Gamma", "Beta GREETING", "Alpha greeting"]);
    let r = s.get(&format!("{STA}/topics?state=published")).await;
    assert_eq!(r.body["total"], 0);
    let job = s
        .post(
            &format!("{STA}/topics/publishjobs"),
            json!({"topicIds": [a]}),
        )
        .await;
    let path = format!("{STA}/topics/publishjobs/{}", job.id());
    s.get(&path).await;
    s.get(&path).await;
    let r = s.get(&format!("{STA}/topics?state=published")).await;
    assert_eq!(names(&r), ["Alpha greeting"]);
    let r = s.get(&format!("{STA}/topics?state=latest")).await;
    assert_eq!(r.body["total"], 3);
}

#[tokio::test]
async fn topic_bodies_are_validated_strictly_naming_the_field() {
    let s = Sbx::new().await;
    let path = format!("{STA}/topics");
    let with = |key: &str, value: Value| {
        let mut b = topic("V");
        b[key] = value;
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (with("colour", json!("blue")), "colour"),
        (with("dialect", json!("xx-XX")), "dialect"),
        (with("strictness", json!("50")), "strictness"),
        (with("strictness", json!(72)), "strictness"),
        (with("participants", json!("Everyone")), "participants"),
        (with("name", json!("")), "name"),
        (with("phrases", json!([])), "phrases"),
        (
            with("phrases", json!([{"text": "a", "sentiment": "Happy"}])),
            "phrases[0].sentiment",
        ),
        (
            with("phrases", json!([{"text": "a", "strictness": "3"}])),
            "phrases[0].strictness",
        ),
        (
            with("phrases", json!([{"text": "a", "weight": 1}])),
            "phrases[0].weight",
        ),
        (with("phrases", json!([{"text": ""}])), "phrases[0].text"),
        (
            with(
                "phrases",
                json!([{"text": "Hi  there"}, {"text": "hi there"}]),
            ),
            "phrases[1].text",
        ),
        (with("tags", json!("compliance")), "tags"),
        (
            json!({"dialect": "en-US", "phrases": [{"text": "a"}]}),
            "name",
        ),
        (json!({"name": "V", "phrases": [{"text": "a"}]}), "dialect"),
        (json!({"name": "V", "dialect": "en-US"}), "phrases"),
    ];
    for (body, field) in cases {
        let r = s.post(&path, body.clone()).await;
        r.assert_error(400, "bad.request");
        assert!(
            r.fields().contains(&field.to_string()),
            "{field}: {:#}",
            r.body
        );
        assert!(
            r.body["message"]
                .as_str()
                .unwrap_or_default()
                .contains(field),
            "message names {field}: {:#}",
            r.body
        );
    }
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"text": format!("phrase {i}")}))
        .collect();
    let r = s.post(&path, with("phrases", Value::Array(too_many))).await;
    r.assert_error(400, "bad.request");
    assert_eq!(r.fields(), ["phrases"]);
    let max: Vec<Value> = (0..1000)
        .map(|i| json!({"text": format!("phrase {i}")}))
        .collect();
    let r = s.post(&path, with("phrases", Value::Array(max))).await;
    assert_eq!(r.status, StatusCode::OK, "1000 phrases are allowed");

    // Garbage and non-JSON bodies are 400/415, never a crash.
    let raw = |body: &'static str, ct: &'static str| {
        s.http
            .post(s.url(&path))
            .bearer_auth(&s.token)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let resp = raw("{not json", "application/json").await.expect("send");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["code"], "bad.request");
    let resp = raw("[1,2]", "application/json").await.expect("send");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = raw("name=x", "application/x-www-form-urlencoded")
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["code"], "unsupported.media.type");
    // The sandbox is still alive.
    assert_eq!(s.get(&path).await.status, StatusCode::OK);
}

#[tokio::test]
async fn duplicate_names_are_conflicts_on_create_and_rename() {
    let s = Sbx::new().await;
    let a = s.create_topic("Same").await;
    let r = s.post(&format!("{STA}/topics"), topic("Same")).await;
    r.assert_error(409, "conflict");
    assert_eq!(r.body["details"][0]["entityId"], a.id().as_str());
    let b = s.create_topic("Other").await.id();
    s.put(&format!("{STA}/topics/{b}"), topic("Same"))
        .await
        .assert_error(409, "conflict");
    // Renaming to its own name is not a conflict.
    let r = s.put(&format!("{STA}/topics/{b}"), topic("Other")).await;
    assert_eq!(r.status, StatusCode::OK);

    s.create_program("P", &[]).await;
    let r = s
        .post(
            &format!("{STA}/programs"),
            json!({"name": "P", "topicIds": []}),
        )
        .await;
    r.assert_error(409, "conflict");
    s.post(RULES, rule("R")).await;
    s.post(RULES, rule("R")).await.assert_error(409, "conflict");
}

#[tokio::test]
async fn a_topic_held_by_a_program_cannot_be_deleted() {
    let s = Sbx::new().await;
    let t = s.create_topic("Held").await.id();
    let p = s.create_program("Holder", &[&t]).await;
    assert_eq!(
        p.body["topics"],
        json!([{"id": t, "name": "Held", "selfUri": format!("{STA}/topics/{t}")}])
    );
    let got = s.get(&format!("{STA}/topics/{t}")).await;
    assert_eq!(
        got.body["programs"],
        json!([{"id": p.id(), "name": "Holder", "selfUri": format!("{STA}/programs/{}", p.id())}])
    );
    let listed = s.get(&format!("{STA}/topics")).await;
    assert_eq!(listed.body["entities"][0]["programsCount"], 1);

    let r = s.delete(&format!("{STA}/topics/{t}")).await;
    r.assert_error(409, "conflict");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Holder")
    );
    let r = s
        .put(
            &format!("{STA}/programs/{}", p.id()),
            json!({"name": "Holder", "topicIds": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["topics"], json!([]));
    // The org releases the link asynchronously: the delete waits for the write's
    // topic-links job (Running on its first read, Completed on the next).
    let links = format!(
        "{STA}/programs/topiclinks/jobs/{}",
        r.body["topicLinksJob"]["id"].as_str().unwrap_or_default()
    );
    assert_eq!(
        s.delete(&format!("{STA}/topics/{t}")).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(s.get(&links).await.body["state"], "Running");
    assert_eq!(s.get(&links).await.body["state"], "Completed");
    assert_eq!(
        s.delete(&format!("{STA}/topics/{t}")).await.status,
        StatusCode::NO_CONTENT
    );

    // programIds on a topic write sets membership (Genesys accepts it).
    let mut body = topic("Joiner");
    body["programIds"] = json!([p.id()]);
    let j = s.post(&format!("{STA}/topics"), body).await;
    assert_eq!(j.status, StatusCode::OK, "{:#}", j.body);
    let prog = s.get(&format!("{STA}/programs/{}", p.id())).await;
    assert_eq!(
        prog.body["topics"],
        json!([{"id": j.id(), "name": "Joiner", "selfUri": format!("{STA}/topics/{}", j.id())}])
    );
    let mut body = topic("Joiner");
    body["programIds"] = json!([]);
    s.put(&format!("{STA}/topics/{}", j.id()), body).await;
    let prog = s.get(&format!("{STA}/programs/{}", p.id())).await;
    assert_eq!(prog.body["topics"], json!([]));
    let mut body = topic("Ghost");
    body["programIds"] = json!(["no-such-program"]);
    let r = s.post(&format!("{STA}/topics"), body).await;
    r.assert_error(400, "bad.request");
    assert_eq!(r.fields(), ["programIds[0]"]);
    let r = s
        .post(
            &format!("{STA}/programs"),
            json!({"name": "Bad", "topicIds": ["nope"]}),
        )
        .await;
    r.assert_error(400, "bad.request");
    assert_eq!(r.fields(), ["topicIds[0]"]);
}

#[tokio::test]
async fn date_modified_increases_strictly_across_all_writes() {
    let s = Sbx::new().await;
    let mut stamps = Vec::new();
    let t = s.create_topic("T").await;
    stamps.push(
        t.body["dateModified"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    );
    for i in 0..15 {
        let r = match i % 3 {
            0 => {
                s.put(&format!("{STA}/topics/{}", t.id()), topic(&format!("T{i}")))
                    .await
            }
            1 => s.post(RULES, rule(&format!("R{i}"))).await,
            _ => s.create_program(&format!("P{i}"), &[]).await,
        };
        assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
        let stamp = r.body["dateModified"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(is_ms_timestamp(&stamp), "{stamp}");
        stamps.push(stamp);
    }
    for pair in stamps.windows(2) {
        assert!(pair[0] < pair[1], "not strictly increasing: {stamps:?}");
    }
}

#[tokio::test]
async fn publish_jobs_run_then_complete_and_set_published() {
    let s = Sbx::new().await;
    let t = s.create_topic("Pub").await;
    let modified = t.body["dateModified"].clone();
    let job = s
        .post(
            &format!("{STA}/topics/publishjobs"),
            json!({"topicIds": [t.id()]}),
        )
        .await;
    assert_eq!(job.status, StatusCode::OK, "{:#}", job.body);
    assert_eq!(job.body["state"], "Running");
    assert_eq!(job.body["topics"][0]["id"], json!(t.id()));
    assert!(job.body["dateModified"].is_string(), "{:#}", job.body);
    let path = format!("{STA}/topics/publishjobs/{}", job.id());
    assert_eq!(s.get(&path).await.body["state"], "Running");
    assert_eq!(
        s.get(&format!("{STA}/topics/{}", t.id())).await.body["published"],
        false
    );
    assert_eq!(s.get(&path).await.body["state"], "Completed");
    assert_eq!(s.get(&path).await.body["state"], "Completed");
    let got = s.get(&format!("{STA}/topics/{}", t.id())).await;
    assert_eq!(got.body["published"], true);
    assert!(is_ms_timestamp(
        got.body["datePublished"].as_str().unwrap_or_default()
    ));
    assert_eq!(
        got.body["dateModified"], modified,
        "publishing does not modify"
    );
    let put = s
        .put(&format!("{STA}/topics/{}", t.id()), topic("Pub"))
        .await;
    assert_eq!(put.body["published"], false, "a write resets published");

    let p = s.create_program("Prog", &[&t.id()]).await;
    assert_eq!(p.body["published"], false);
    let job = s
        .post(
            &format!("{STA}/programs/publishjobs"),
            json!({"programIds": [p.id()]}),
        )
        .await;
    assert_eq!(job.body["state"], "Running");
    assert_eq!(job.body["programs"][0]["id"], json!(p.id()));
    let path = format!("{STA}/programs/publishjobs/{}", job.id());
    assert_eq!(s.get(&path).await.body["state"], "Running");
    assert_eq!(s.get(&path).await.body["state"], "Completed");
    let listed = s.get(&format!("{STA}/programs")).await;
    assert_eq!(listed.body["entities"][0]["published"], true);

    // Errors: unknown job, unknown ids, empty or malformed bodies, wrong kind.
    s.get(&format!("{STA}/topics/publishjobs/nope"))
        .await
        .assert_error(404, "not.found");
    s.get(&format!("{STA}/topics/publishjobs/{}", job.id()))
        .await
        .assert_error(404, "not.found");
    let r = s
        .post(
            &format!("{STA}/topics/publishjobs"),
            json!({"topicIds": ["nope"]}),
        )
        .await;
    r.assert_error(400, "bad.request");
    assert_eq!(r.fields(), ["topicIds[0]"]);
    let r = s
        .post(
            &format!("{STA}/topics/publishjobs"),
            json!({"topicIds": []}),
        )
        .await;
    assert_eq!(r.fields(), ["topicIds"]);
    let r = s
        .post(
            &format!("{STA}/topics/publishjobs"),
            json!({"programIds": [p.id()]}),
        )
        .await;
    assert_eq!(r.fields(), ["programIds", "topicIds"]);
}

#[tokio::test]
async fn a_topic_written_during_its_publish_job_stays_unpublished() {
    let s = Sbx::new().await;
    let t = s.create_topic("Racy").await.id();
    let job = s
        .post(
            &format!("{STA}/topics/publishjobs"),
            json!({"topicIds": [t]}),
        )
        .await;
    s.put(&format!("{STA}/topics/{t}"), topic("Racy")).await;
    let path = format!("{STA}/topics/publishjobs/{}", job.id());
    s.get(&path).await;
    assert_eq!(s.get(&path).await.body["state"], "Completed");
    assert_eq!(
        s.get(&format!("{STA}/topics/{t}")).await.body["published"],
        false
    );
}

// ----- programs -----

#[tokio::test]
async fn programs_page_by_an_opaque_url_encoded_cursor() {
    let s = Sbx::new().await;
    let t = s.create_topic("Member").await.id();
    for i in 0..5 {
        s.create_program(&format!("Program {i}"), &[&t]).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut req = s
            .http
            .get(s.url(&format!("{STA}/programs")))
            .bearer_auth(&s.token)
            .query(&[("pageSize", "2")]);
        if let Some(c) = &cursor {
            // reqwest URL-encodes the cursor, as every client must.
            req = req.query(&[("nextPage", c.as_str())]);
        }
        let resp = req.send().await.expect("send");
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["pageSize"], 2);
        assert!(body["selfUri"].is_string());
        for e in body["entities"].as_array().into_iter().flatten() {
            assert!(e.get("topics").is_none(), "a ListedProgram has no topics");
            assert_eq!(e["topicsCount"], 1);
            assert_eq!(e["published"], false);
            assert_eq!(e["tags"], json!(["t"]));
            assert!(is_ms_timestamp(
                e["dateModified"].as_str().unwrap_or_default()
            ));
            seen.push(e["name"].as_str().unwrap_or_default().to_string());
        }
        pages += 1;
        assert!(
            body.get("nextPage").is_none(),
            "no nextPage field (SDK 269)"
        );
        assert_eq!(body["total"], 5);
        match body.get("nextUri").and_then(Value::as_str) {
            Some(u) => {
                let url = reqwest::Url::parse(&format!("http://x{u}")).expect("nextUri");
                let c = url.query_pairs().find(|(k, _)| k == "nextPage");
                cursor = Some(c.expect("nextPage in nextUri").1.into_owned());
            }
            None => break,
        }
        assert!(pages < 10, "cursor never ended");
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        (0..5).map(|i| format!("Program {i}")).collect::<Vec<_>>()
    );

    // The cursor needs encoding: sent raw, its '+' decodes as a space and is refused.
    let first = s.get(&format!("{STA}/programs?pageSize=2")).await;
    let next_uri = first.body["nextUri"].as_str().expect("nextUri").to_string();
    let url = reqwest::Url::parse(&format!("http://x{next_uri}")).expect("nextUri");
    let raw_cursor = url
        .query_pairs()
        .find(|(k, _)| k == "nextPage")
        .expect("cursor")
        .1
        .into_owned();
    assert!(raw_cursor.contains('+'), "{raw_cursor}");
    let r = s
        .get(&format!("{STA}/programs?pageSize=2&nextPage={raw_cursor}"))
        .await;
    r.assert_error(400, "bad.request");
    assert_eq!(r.fields(), ["nextPage"]);
    for (query, field) in [
        ("pageSize=0", "pageSize"),
        ("pageSize=501", "pageSize"),
        ("pageNumber=2", "pageNumber"),
    ] {
        let r = s.get(&format!("{STA}/programs?{query}")).await;
        r.assert_error(400, "bad.request");
        assert_eq!(r.fields(), [field]);
    }
}

#[tokio::test]
async fn program_crud_and_validation() {
    let s = Sbx::new().await;
    let p = s.create_program("Outbound", &[]).await;
    let id = p.id();
    let got = s.get(&format!("{STA}/programs/{id}")).await;
    assert_eq!(got.body["name"], "Outbound");
    assert_eq!(got.body["description"], "d");
    assert_eq!(got.body["selfUri"], format!("{STA}/programs/{id}"));
    let r = s
        .post(
            &format!("{STA}/programs"),
            json!({"name": "X", "topics": []}),
        )
        .await;
    r.assert_error(400, "bad.request");
    assert_eq!(r.fields(), ["topics"]);
    let r = s
        .post(
            &format!("{STA}/programs"),
            json!({"name": "X", "tags": [1]}),
        )
        .await;
    assert_eq!(r.fields(), ["tags[0]"]);
    // SDK 269: a program delete answers a DeleteProgramResponse.
    let deleted = s.delete(&format!("{STA}/programs/{id}")).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.body["id"], json!(id));
    s.get(&format!("{STA}/programs/{id}"))
        .await
        .assert_error(404, "not.found");
    s.delete(&format!("{STA}/programs/{id}"))
        .await
        .assert_error(404, "not.found");
    s.put(&format!("{STA}/programs/{id}"), json!({"name": "Y"}))
        .await
        .assert_error(404, "not.found");
}

// ----- speech rules -----

#[tokio::test]
async fn speech_rules_crud_list_and_validation() {
    let s = Sbx::new().await;
    let r = s.post(RULES, rule("Compliance_Greeting")).await;
    assert_eq!(r.status, StatusCode::OK, "{:#}", r.body);
    let id = r.id();
    assert_eq!(r.body["selfUri"], format!("{RULES}/{id}"));
    assert!(is_ms_timestamp(
        r.body["dateModified"].as_str().unwrap_or_default()
    ));
    assert_eq!(r.body["phrases"][1]["matchType"], "regex");
    assert_eq!(
        r.body["scoring"],
        json!([{"type": "additive", "value": 1.0, "condition": "pass"}])
    );
    // Defaults from the tutorial fill in.
    let r2 = s
        .post(
            RULES,
            json!({"name": "Minimal", "phrases": [{"phrase": "hello"}]}),
        )
        .await;
    assert_eq!(r2.status, StatusCode::OK, "{:#}", r2.body);
    assert_eq!(r2.body["enabled"], true);
    assert_eq!(r2.body["language"], "en-US");
    assert_eq!(
        r2.body["phrases"],
        json!([{"phrase": "hello", "matchType": "exact", "caseSensitive": false, "enabled": true}])
    );

    let list = s.get(&format!("{RULES}?pageSize=1&pageNumber=2")).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["total"], 2);
    assert_eq!(list.body["pageCount"], 2);
    assert_eq!(list.body["pageNumber"], 2);
    assert_eq!(list.body["pageSize"], 1);
    assert_eq!(list.body["entities"][0]["name"], "Minimal");
    s.get(&format!("{RULES}?pageSize=0"))
        .await
        .assert_error(400, "bad.request");
    s.get(&format!("{RULES}?name=x"))
        .await
        .assert_error(400, "bad.request");

    let mut changed = rule("Compliance_Greeting");
    changed["enabled"] = json!(false);
    let put = s.put(&format!("{RULES}/{id}"), changed).await;
    assert_eq!(put.body["enabled"], false);
    assert!(put.body["dateModified"].as_str() > r.body["dateModified"].as_str());
    s.put(&format!("{RULES}/{id}"), rule("Minimal"))
        .await
        .assert_error(409, "conflict");

    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = rule("Invalid");
        f(&mut b);
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|b| b["phrases"][0]["matchType"] = json!("wildcard")),
            "phrases[0].matchType",
        ),
        (
            with(&|b| b["scoring"][0]["type"] = json!("exponential")),
            "scoring[0].type",
        ),
        (
            with(&|b| b["scoring"][0]["condition"] = json!("maybe")),
            "scoring[0].condition",
        ),
        (
            with(&|b| b["scoring"][0]["value"] = json!(1.5)),
            "scoring[0].value",
        ),
        (
            with(&|b| b["scoring"][0]["value"] = json!(-1.01)),
            "scoring[0].value",
        ),
        (
            with(&|b| b["phrases"][1]["phrase"] = json!("(unclosed")),
            "phrases[1].phrase",
        ),
        (
            with(&|b| b["phrases"][1] = json!({"phrase": "THIS CALL MAY BE RECORDED"})),
            "phrases[1].phrase",
        ),
        (
            with(&|b| b["phrases"][1] = json!({"phrase": "may be recorded"})),
            "phrases[1].phrase",
        ),
        (with(&|b| b["weight"] = json!(1)), "weight"),
        (with(&|b| b["enabled"] = json!("yes")), "enabled"),
        (with(&|b| b["phrases"] = json!([])), "phrases"),
    ];
    for (body, field) in cases {
        let r = s.post(RULES, body).await;
        r.assert_error(400, "bad.request");
        assert!(
            r.fields().contains(&field.to_string()),
            "{field}: {:#}",
            r.body
        );
    }
    let many: Vec<Value> = (0..101)
        .map(|i| json!({"phrase": format!("p{i}x"), "matchType": "fuzzy"}))
        .collect();
    s.post(RULES, with(&|b| b["phrases"] = Value::Array(many.clone())))
        .await
        .assert_error(400, "bad.request");

    assert_eq!(
        s.delete(&format!("{RULES}/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    s.get(&format!("{RULES}/{id}"))
        .await
        .assert_error(404, "not.found");
    s.delete(&format!("{RULES}/{id}"))
        .await
        .assert_error(404, "not.found");
}

// ----- headers, limits, faults -----

#[tokio::test]
async fn every_response_has_a_correlation_id_and_errors_have_the_genesys_body() {
    let s = Sbx::new().await;
    let mut ids = std::collections::HashSet::new();
    let responses = vec![
        s.get(&format!("{STA}/topics")).await,
        s.get(&format!("{STA}/topics/nope")).await,
        s.get("/api/v2/nothing/here").await,
        s.call(Method::PATCH, &format!("{STA}/topics"), None).await,
        send_raw(&s.http, Method::GET, &s.url(RULES), None, None)
            .await
            .expect("get"),
        send_raw(&s.http, Method::GET, &s.url("/__sandbox/stats"), None, None)
            .await
            .expect("get"),
        send_raw(&s.http, Method::GET, &s.url("/elsewhere"), None, None)
            .await
            .expect("get"),
    ];
    for r in &responses {
        let id = r.header("inin-correlation-id").expect("correlation id");
        assert!(ids.insert(id.to_string()), "correlation ids are unique");
    }
    responses[1].assert_error(404, "not.found");
    responses[2].assert_error(404, "not.found");
    responses[3].assert_error(405, "method.not.allowed");
    responses[4].assert_error(401, "authentication.required");
    responses[6].assert_error(404, "not.found");
    // API responses of an authenticated caller carry the rate-limit headers.
    for r in &responses[..4] {
        assert!(
            r.header("inin-ratelimit-count").is_some(),
            "{:?}",
            r.headers
        );
    }
}

#[tokio::test]
async fn rate_limit_is_per_token_with_headers_and_429() {
    let s = Sbx::start(SandboxOptions {
        rate_limit: 5,
        ..opts()
    })
    .await;
    for i in 1..=5 {
        let r = s.get(&format!("{STA}/topics")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.header("inin-ratelimit-count"),
            Some(i.to_string().as_str())
        );
        assert_eq!(r.header("inin-ratelimit-allowed"), Some("5"));
        let reset: u64 = r
            .header("inin-ratelimit-reset")
            .unwrap_or("x")
            .parse()
            .expect("reset");
        assert!((1..=60).contains(&reset), "{reset}");
    }
    let r = s.get(&format!("{STA}/topics")).await;
    r.assert_error(429, "too.many.requests.retry.after");
    let retry: u64 = r
        .header("retry-after")
        .unwrap_or("x")
        .parse()
        .expect("Retry-After");
    assert!((1..=60).contains(&retry));
    assert!(r.header("inin-ratelimit-count").is_some());
    // The token endpoint and sandbox routes are not limited; a new token has its own window.
    let other = token_for(&s.http, &s.handle.url()).await;
    let r = send_raw(&s.http, Method::GET, &s.url(RULES), Some(&other), None)
        .await
        .expect("get");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("inin-ratelimit-count"), Some("1"));
    assert_eq!(s.stats().await["statuses"]["429"], 1);
}

#[tokio::test]
async fn latency_is_added_to_each_request() {
    let s = Sbx::start(SandboxOptions {
        latency_ms: 150,
        ..opts()
    })
    .await;
    let t0 = Instant::now();
    s.get(&format!("{STA}/topics")).await;
    assert!(t0.elapsed() >= Duration::from_millis(150));
}

/// What one request saw: a status, or a dropped connection.
async fn outcome(http: &reqwest::Client, url: &str, token: &str, body: Option<&Value>) -> String {
    let method = if body.is_some() {
        Method::POST
    } else {
        Method::GET
    };
    match send_raw(http, method, url, Some(token), body).await {
        Ok(r) => {
            if r.status.as_u16() >= 400 {
                assert!(
                    r.body["code"].is_string(),
                    "fault has a Genesys body: {:#}",
                    r.body
                );
            }
            if r.status == StatusCode::TOO_MANY_REQUESTS {
                assert_eq!(r.header("retry-after"), Some("1"));
            }
            r.status.as_u16().to_string()
        }
        Err(_) => "dropped".to_string(),
    }
}

async fn fault_run(seed: u64) -> Vec<String> {
    let s = Sbx::start(SandboxOptions {
        fault_rate: 0.5,
        seed,
        ..opts()
    })
    .await;
    let url = s.url(&format!("{STA}/topics"));
    let mut seen = Vec::new();
    for _ in 0..40 {
        // A fresh connection per request: a dropped one must not poison the next.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        seen.push(outcome(&http, &url, &s.token, None).await);
    }
    let stats = s.stats().await;
    let dropped = seen.iter().filter(|o| *o == "dropped").count();
    assert_eq!(
        stats["statuses"]["dropped"].as_u64().unwrap_or(0),
        dropped as u64
    );
    seen
}

#[tokio::test]
async fn faults_are_reproducible_by_seed_and_include_drops() {
    let a = fault_run(7).await;
    let b = fault_run(7).await;
    let c = fault_run(8).await;
    assert_eq!(a, b, "same seed, same faults");
    assert_ne!(a, c, "another seed, other faults");
    let all: Vec<&String> = a.iter().chain(&c).collect();
    for kind in ["200", "429", "500", "503", "dropped"] {
        assert!(all.iter().any(|o| *o == kind), "no {kind} in {all:?}");
    }
}

#[tokio::test]
async fn a_write_dropped_after_commit_exists_though_the_client_saw_no_response() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faulty = Sbx::start(SandboxOptions {
        fault_rate: 1.0,
        seed: 3,
        data_dir: Some(dir.path().to_path_buf()),
        ..opts()
    })
    .await;
    let url = faulty.url(&format!("{STA}/topics"));
    let mut dropped = Vec::new();
    let mut refused = Vec::new();
    for i in 0..30 {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        let name = format!("Ambiguous {i}");
        match outcome(&http, &url, &faulty.token, Some(&topic(&name)))
            .await
            .as_str()
        {
            "dropped" => dropped.push(name),
            "200" => panic!("fault rate 1 never answers normally"),
            _ => refused.push(name),
        }
    }
    drop(faulty);
    let clean = Sbx::start(SandboxOptions {
        data_dir: Some(dir.path().to_path_buf()),
        ..opts()
    })
    .await;
    let list = clean.get(&format!("{STA}/topics?pageSize=500")).await;
    let names: Vec<String> = list.body["entities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str().map(str::to_string))
        .collect();
    assert!(!names.is_empty(), "some drops happened after commit");
    for n in &names {
        assert!(
            dropped.contains(n),
            "{n} was created though its request was refused"
        );
    }
    assert!(
        names.len() < dropped.len(),
        "some drops happened before any change"
    );
    for n in &refused {
        assert!(!names.contains(n), "a refused write changed state: {n}");
    }
}

// ----- persistence -----

#[tokio::test]
async fn the_org_survives_a_restart_with_the_same_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let with_dir = || SandboxOptions {
        data_dir: Some(dir.path().to_path_buf()),
        ..opts()
    };
    let s = Sbx::start(with_dir()).await;
    let t = s.create_topic("Kept").await;
    let gone = s.create_topic("Gone").await.id();
    let p = s.create_program("Kept program", &[&t.id()]).await;
    let r = s.post(RULES, rule("Kept rule")).await;
    let job = s
        .post(
            &format!("{STA}/topics/publishjobs"),
            json!({"topicIds": [t.id()]}),
        )
        .await;
    let job_path = format!("{STA}/topics/publishjobs/{}", job.id());
    s.get(&job_path).await;
    s.get(&job_path).await;
    assert_eq!(
        s.delete(&format!("{STA}/topics/{gone}")).await.status,
        StatusCode::NO_CONTENT
    );
    let before_topic = s.get(&format!("{STA}/topics/{}", t.id())).await.body;
    let before_program = s.get(&format!("{STA}/programs/{}", p.id())).await.body;
    let before_rule = s.get(&format!("{RULES}/{}", r.id())).await.body;
    let last_stamp = before_rule["dateModified"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    drop(s);
    // A write interrupted before its rename leaves a temp file: ignored.
    std::fs::write(
        dir.path().join("topics").join(".tmp-99-0-x.json"),
        "{\"half",
    )
    .expect("write");

    let s = Sbx::start(with_dir()).await;
    assert_eq!(
        s.get(&format!("{STA}/topics/{}", t.id())).await.body,
        before_topic
    );
    assert_eq!(
        s.get(&format!("{STA}/programs/{}", p.id())).await.body,
        before_program
    );
    assert_eq!(
        s.get(&format!("{RULES}/{}", r.id())).await.body,
        before_rule
    );
    assert_eq!(before_topic["published"], true);
    assert_eq!(s.get(&job_path).await.body["state"], "Completed");
    s.get(&format!("{STA}/topics/{gone}"))
        .await
        .assert_error(404, "not.found");
    let new = s.create_topic("New").await;
    assert_ne!(new.id(), gone, "ids of deleted objects are never reused");
    assert!(new.body["dateModified"].as_str().unwrap_or_default() > last_stamp.as_str());
    assert_eq!(s.get(&format!("{STA}/topics")).await.body["total"], 2);
}

#[tokio::test]
async fn a_corrupt_data_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = SandboxOptions {
        data_dir: Some(dir.path().to_path_buf()),
        ..opts()
    };
    let s = Sbx::start(options.clone()).await;
    let id = s.create_topic("Soon corrupt").await.id();
    drop(s);
    let file = dir.path().join("topics").join(format!("{id}.json"));
    std::fs::write(&file, "{\"id\": tru").expect("write");
    let err = sandbox::start(options)
        .await
        .expect_err("corrupt data must not start");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("{id}.json")) && msg.contains("corrupt"),
        "{msg}"
    );
}

// ----- stats -----

#[tokio::test]
async fn stats_count_requests_per_route_template_and_status() {
    let s = Sbx::new().await;
    let reset = send_raw(
        &s.http,
        Method::POST,
        &s.url("/__sandbox/stats/reset"),
        None,
        None,
    )
    .await
    .expect("reset");
    assert_eq!(reset.status, StatusCode::NO_CONTENT);
    assert_eq!(
        s.stats().await,
        json!({"total": 0, "routes": {}, "statuses": {}})
    );
    let t = s.create_topic("Counted").await.id();
    s.get(&format!("{STA}/topics/{t}")).await;
    s.get(&format!("{STA}/topics/nope")).await;
    s.get(&format!("{STA}/topics")).await;
    s.post(RULES, rule("Counted")).await;
    let stats = s.stats().await;
    assert_eq!(
        stats,
        json!({
            "total": 5,
            "routes": {
                "GET /api/v2/speechandtextanalytics/topics": 1,
                "GET /api/v2/speechandtextanalytics/topics/{id}": 2,
                "POST /api/v2/speech/rules": 1,
                "POST /api/v2/speechandtextanalytics/topics": 1
            },
            "statuses": {"200": 4, "404": 1}
        })
    );
    // Keys come back sorted.
    let text = reqwest::get(s.url("/__sandbox/stats"))
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    let get_pos = text.find("GET /api/v2/speechandtextanalytics/topics\"");
    let post_pos = text.find("POST /api/v2/speech/rules");
    assert!(get_pos < post_pos, "{text}");
    token_for(&s.http, &s.handle.url()).await;
    assert_eq!(s.stats().await["routes"]["POST /oauth/token"], 1);
}

// ----- the serve command -----

#[test]
fn serve_prints_its_address_first_and_serves() {
    let sb = support::Sandbox::start(&["--rate-limit", "50", "--seed", "4"]);
    let addr = sb
        .url
        .strip_prefix("http://127.0.0.1:")
        .expect("loopback url");
    assert!(
        addr.parse::<u16>().map(|p| p > 0).unwrap_or(false),
        "{}",
        sb.url
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let http = reqwest::Client::new();
        let token = {
            let resp = http
                .post(format!("{}/oauth/token", sb.url))
                .basic_auth("sandbox", Some("sandbox"))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .expect("token");
            let body: Value = resp.json().await.expect("json");
            body["access_token"].as_str().expect("token").to_string()
        };
        let r = send_raw(
            &http,
            Method::GET,
            &format!("{}{STA}/topics", sb.url),
            Some(&token),
            None,
        )
        .await
        .expect("get");
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("inin-ratelimit-allowed"), Some("50"));
    });
}

#[test]
fn serve_rejects_bad_flags_clearly() {
    let repo = support::Repo::new();
    for (flag, value) in [
        ("--fault-rate", "1.5"),
        ("--fault-rate=-0.1", ""),
        ("--rate-limit", "0"),
        ("--token-ttl", "0"),
    ] {
        let mut args = vec!["sandbox", "serve", "--listen", "127.0.0.1:0", flag];
        if !value.is_empty() {
            args.push(value);
        }
        let run = repo.run(&args);
        assert_eq!(run.code, 1, "{flag} {value}: {run:?}");
        assert!(run.stdout.is_empty(), "nothing on stdout: {run:?}");
        let name = flag.split('=').next().unwrap_or(flag);
        assert!(run.stderr.contains(name), "{flag}: {}", run.stderr);
    }
    let run = repo.run(&["sandbox", "serve", "--listen", "not-an-address"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("not-an-address"), "{}", run.stderr);
}

#[tokio::test]
async fn a_publish_job_whose_topic_was_deleted_fails() {
    let s = Sbx::new().await;
    let t = s.create_topic("Vanishing").await.id();
    let job = s
        .post(
            &format!("{STA}/topics/publishjobs"),
            json!({"topicIds": [t]}),
        )
        .await;
    assert_eq!(
        s.delete(&format!("{STA}/topics/{t}")).await.status,
        StatusCode::NO_CONTENT
    );
    let path = format!("{STA}/topics/publishjobs/{}", job.id());
    assert_eq!(s.get(&path).await.body["state"], "Running");
    assert_eq!(s.get(&path).await.body["state"], "Failed");
}

#[tokio::test]
async fn a_program_holds_at_most_500_topics_per_dialect() {
    let s = Sbx::start(SandboxOptions {
        rate_limit: 10_000,
        ..opts()
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..501 {
        let body = json!({"name": format!("t{i}"), "dialect": "en-US", "phrases": [{"text": "x"}]});
        ids.push(s.post(&format!("{STA}/topics"), body).await.id());
    }
    let r = s
        .post(
            &format!("{STA}/programs"),
            json!({"name": "Big", "topicIds": ids}),
        )
        .await;
    r.assert_error(400, "bad.request");
    assert_eq!(r.fields(), ["topicIds"]);
    let r = s
        .post(
            &format!("{STA}/programs"),
            json!({"name": "Big", "topicIds": ids[..500]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}
