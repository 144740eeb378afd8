//! Shared test helpers: a temp repo, a running sandbox, the binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Environment variables that must never leak from the developer's shell into a test.
const SCRUBBED_ENV: [&str; 17] = [
    "GENESYSCLOUD_OAUTHCLIENT_ID",
    "GENESYSCLOUD_OAUTHCLIENT_SECRET",
    "GENESYSCLOUD_ACCESS_TOKEN",
    "GENESYSCLOUD_REGION",
    "GENESYSCLOUD_API_URL",
    "GENESYS_CLIENT_ID",
    "GENESYS_CLIENT_SECRET",
    "GENESYS_BASE_URL",
    // CI identity, so tests see the same actor, run and commit on CI as locally.
    "GITHUB_ACTOR",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_SHA",
    "GITLAB_USER_LOGIN",
    "BUILD_REQUESTEDFOREMAIL",
    "BITBUCKET_STEP_TRIGGERER_UUID",
    "BUILDKITE_BUILD_CREATOR",
    "CI_PIPELINE_ID",
];

/// Path of the built binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_speechops"))
}

/// A `speechops` command with a clean environment, run in `cwd`.
pub fn speechops(cwd: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.current_dir(cwd);
    for var in SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// The result of running the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command to completion and captures its output.
pub fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("spawn speechops");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temporary rule repository.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        Repo {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    /// Writes a file (creating folders) relative to the repo root.
    pub fn write(&self, rel: &str, contents: &str) -> &Repo {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, contents).expect("write");
        self
    }
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(rel)).expect("read")
    }
    /// `speechops ARGS` run in the repo.
    pub fn run(&self, args: &[&str]) -> Run {
        run(speechops(self.path()).args(args))
    }
    /// `speechops ARGS` with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = speechops(self.path());
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(&mut cmd)
    }
}

/// A `speechops sandbox serve` child process, killed on drop.
pub struct Sandbox {
    pub child: Child,
    pub url: String,
}

impl Sandbox {
    /// Starts a sandbox with extra flags and waits for its `listening on` line.
    pub fn start(extra: &[&str]) -> Sandbox {
        let mut child = Command::new(bin())
            .args(["sandbox", "serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn sandbox");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Sandbox { child, url }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Client id and secret the test sandboxes accept.
pub const CLIENT_ID: &str = "test-client";
pub const CLIENT_SECRET: &str = "s3cr3t-test-value-9f8e7d";

impl Sandbox {
    /// A sandbox accepting [`CLIENT_ID`]/[`CLIENT_SECRET`], with a high rate limit
    /// unless `extra` sets one.
    pub fn with_creds(extra: &[&str]) -> Sandbox {
        let mut args = vec!["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET];
        if !extra.contains(&"--rate-limit") {
            args.extend(["--rate-limit", "100000"]);
        }
        args.extend_from_slice(extra);
        Sandbox::start(&args)
    }

    /// GET a sandbox URL path and parse JSON (for /__sandbox/stats).
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let url = format!("{}{}", self.url, path);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            reqwest::get(&url)
                .await
                .expect("request")
                .json()
                .await
                .expect("json")
        })
    }

    /// GET an API path with a token for [`CLIENT_ID`] and parse JSON.
    pub fn get_json_authed(&self, path: &str) -> serde_json::Value {
        self.call_authed(reqwest::Method::GET, path, None).1
    }

    /// POST JSON to an API path with a token for [`CLIENT_ID`] (an out-of-band edit
    /// of the org): the status and the parsed answer (`null` when it is not JSON).
    pub fn post_json_authed(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.call_authed(reqwest::Method::POST, path, Some(body))
    }

    /// Any method on an API path with a token for [`CLIENT_ID`], without a body.
    pub fn call_json_authed(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> (u16, serde_json::Value) {
        self.call_authed(method, path, None)
    }

    fn call_authed(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let http = reqwest::Client::new();
            let token: serde_json::Value = http
                .post(format!("{}/oauth/token", self.url))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .expect("token")
                .json()
                .await
                .expect("token json");
            let bearer = token["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let mut req = http
                .request(method, format!("{}{}", self.url, path))
                .bearer_auth(bearer);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let text = resp.text().await.expect("body");
            (
                status,
                serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
            )
        })
    }

    /// A library client for this sandbox (to seed or inspect the org out of band).
    pub fn client(&self) -> speechops::genesys::Client {
        speechops::genesys::Client::new(
            speechops::genesys::endpoint_for_api_url(&self.url),
            speechops::genesys::Credentials::ClientCredentials {
                client_id: CLIENT_ID.to_string(),
                client_secret: speechops::genesys::Secret::new(CLIENT_SECRET),
            },
            speechops::genesys::ClientOptions::default(),
        )
        .expect("client")
    }
}

impl Repo {
    /// `speechops ARGS --api-url SANDBOX` with the sandbox's credentials.
    pub fn run_against(&self, sandbox: &Sandbox, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--api-url", sandbox.url.as_str()]);
        self.run_env(
            &all,
            &[
                ("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID),
                ("GENESYSCLOUD_OAUTHCLIENT_SECRET", CLIENT_SECRET),
            ],
        )
    }

    /// Writes `n` topic specs `Topic 000`.. under rules/topics, each with `phrases` phrases.
    pub fn write_topics(&self, n: usize, phrases: usize, variant: &str) -> &Repo {
        for i in 0..n {
            self.write(
                &format!("rules/topics/t{i:04}.yaml"),
                &topic_yaml(&format!("Topic {i:04}"), phrases, variant),
            );
        }
        self
    }
}

/// A valid topic spec.
pub fn topic_yaml(name: &str, phrases: usize, variant: &str) -> String {
    let mut s = format!("kind: Topic\nname: {name}\ndialect: en-US\ntags: [generated]\nphrases:\n");
    for p in 0..phrases {
        s.push_str(&format!("  - text: phrase {p} of {name} {variant}\n"));
    }
    s
}

/// Runs a future on a fresh runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

impl Sandbox {
    /// POST to a sandbox URL path with no body (for /__sandbox/stats/reset).
    pub fn post(&self, path: &str) {
        let url = format!("{}{}", self.url, path);
        block_on(async {
            reqwest::Client::new()
                .post(&url)
                .send()
                .await
                .expect("request")
                .error_for_status()
                .expect("status");
        });
    }
}

/// One request a [`Scripted`] server received: a minimal HTTP/1.1 server for
/// scripted answers (the client's failure paths) and third-party endpoints (GitHub's
/// API, webhook receivers).
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path without the query.
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl From<(u16, String)> for Reply {
    fn from((status, body): (u16, String)) -> Reply {
        Reply::Json(status, vec![], body)
    }
}

pub enum Reply {
    Json(u16, Vec<(&'static str, String)>, String),
    /// Close the connection without answering.
    Drop,
    /// These bytes as they are (a whole response relayed from elsewhere).
    Raw(Vec<u8>),
    /// A 200 claiming `Content-Length: 4 GiB` whose body never ends: `head`, then
    /// filler until the client hangs up.
    Endless(String),
}

/// A tiny HTTP/1.1 server whose every answer is scripted (`Connection: close`).
pub struct Scripted {
    pub url: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
}

impl Scripted {
    pub fn start<R: Into<Reply>>(handler: impl Fn(&Seen) -> R + Send + Sync + 'static) -> Scripted {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = std::sync::Arc::clone(&seen);
        let handler = std::sync::Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let handler = std::sync::Arc::clone(&handler);
                let log = std::sync::Arc::clone(&log);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream);
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or_default().to_string();
                    let target = parts.next().unwrap_or_default().to_string();
                    let (path, query) = match target.split_once('?') {
                        Some((p, q)) => (p.to_string(), q.to_string()),
                        None => (target, String::new()),
                    };
                    let mut headers = Vec::new();
                    let mut len = 0usize;
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                            if k == "content-length" {
                                len = v.parse().unwrap_or(0);
                            }
                            headers.push((k, v));
                        }
                    }
                    let mut body = vec![0u8; len];
                    let _ = reader.read_exact(&mut body);
                    let seen = Seen {
                        method,
                        path,
                        query,
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    };
                    let reply = handler(&seen).into();
                    log.lock().expect("log").push(seen);
                    let stream = reader.get_mut();
                    match reply {
                        Reply::Raw(bytes) => {
                            let _ = stream.write_all(&bytes);
                            return;
                        }
                        Reply::Endless(head) => {
                            let start = format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4294967296\r\nConnection: close\r\n\r\n{head}"
                            );
                            if stream.write_all(start.as_bytes()).is_err() {
                                return;
                            }
                            let filler = vec![b'x'; 1 << 16];
                            while stream.write_all(&filler).is_ok() {}
                            return;
                        }
                        _ => {}
                    }
                    if let Reply::Json(status, extra, body) = reply {
                        let mut out = format!(
                            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\ninin-correlation-id: corr-{status}\r\n",
                            body.len()
                        );
                        for (k, v) in extra {
                            out.push_str(&format!("{k}: {v}\r\n"));
                        }
                        out.push_str("\r\n");
                        out.push_str(&body);
                        let _ = stream.write_all(out.as_bytes());
                    }
                });
            }
        });
        Scripted { url, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("log").clone()
    }

    pub fn count(&self, method: &str, path: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.path == path)
            .count()
    }
}

/// One splitmix64 step: seeded, reproducible test points.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Lines in the repository's audit log (0 when there is none).
pub fn audit_lines(repo: &Repo) -> usize {
    std::fs::read_to_string(repo.path().join("speechops-audit.jsonl"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// Starts `speechops apply --auto-approve ARGS` against the sandbox and SIGKILLs it as
/// soon as the audit log holds `kill_after` lines (or when it ends first).
pub fn apply_killed_at(repo: &Repo, sandbox: &Sandbox, args: &[&str], kill_after: usize) {
    let mut child = speechops(repo.path())
        .args(["apply", "--auto-approve", "--api-url", &sandbox.url])
        .args(args)
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", CLIENT_SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn apply");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if audit_lines(repo) >= kill_after || child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `git` run in `dir` with a fixed identity; panics on failure (test setup).
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A git server over the real `git://` transport: each connection to its loopback
/// listener is served by `git daemon --inetd`, with pushes enabled. Its repositories
/// live under `root`; `origin.git` is made bare with `main` as its default branch.
pub struct GitServer {
    pub root: tempfile::TempDir,
    pub url: String,
}

impl GitServer {
    pub fn start() -> GitServer {
        let root = tempfile::tempdir().expect("tempdir");
        git(
            root.path(),
            &[
                "init",
                "--quiet",
                "--bare",
                "--initial-branch=main",
                "origin.git",
            ],
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("git://{}/origin.git", listener.local_addr().expect("addr"));
        let base = root.path().to_path_buf();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let Ok(out) = stream.try_clone() else {
                    continue;
                };
                let child = Command::new("git")
                    .args(["daemon", "--inetd", "--export-all", "--enable=receive-pack"])
                    .arg(format!("--base-path={}", base.display()))
                    .stdin(Stdio::from(std::os::fd::OwnedFd::from(stream)))
                    .stdout(Stdio::from(std::os::fd::OwnedFd::from(out)))
                    .stderr(Stdio::null())
                    .spawn();
                if let Ok(mut child) = child {
                    std::thread::spawn(move || child.wait());
                }
            }
        });
        GitServer { root, url }
    }

    /// The bare repository's folder.
    pub fn bare(&self) -> PathBuf {
        self.root.path().join("origin.git")
    }

    /// Branch protection as GitHub enforces it: every push to `main` is refused
    /// (GH006), as it is for the workflow's token.
    pub fn protect_main(&self) {
        let hook = self.bare().join("hooks/pre-receive");
        std::fs::write(
            &hook,
            "#!/bin/sh\nwhile read old new ref; do\n  if [ \"$ref\" = refs/heads/main ]; then\n    echo \"GH006: Protected branch update failed for refs/heads/main.\" >&2\n    exit 1\n  fi\ndone\n",
        )
        .expect("write hook");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    /// A fresh clone of `main` in a new temporary repo.
    pub fn clone_repo(&self) -> Repo {
        let repo = Repo::new();
        git(repo.path(), &["clone", "--quiet", &self.url, "."]);
        repo
    }

    /// The tip of a branch on the server, if it exists.
    pub fn tip(&self, branch: &str) -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.bare())
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/heads/{branch}"),
            ])
            .output()
            .expect("git");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// A file of a branch on the server.
    pub fn show(&self, branch: &str, file: &str) -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.bare())
            .args(["show", &format!("{branch}:{file}")])
            .output()
            .expect("git");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// A value a stand-in server holds, shared with the test.
pub type Held = std::sync::Arc<std::sync::Mutex<Option<String>>>;

/// The Basic credentials the Terraform state stand-in accepts: gitlab-ci-token and
/// tf-password-12345.
pub const TF_BASIC: &str = "Basic Z2l0bGFiLWNpLXRva2VuOnRmLXBhc3N3b3JkLTEyMzQ1";

/// A Terraform HTTP state server's handler: GET/POST the state, LOCK/UNLOCK (or
/// GitLab's POST/DELETE on `/lock`) with lock info bodies, 423 with the holder's info;
/// and the state it holds.
pub fn tf_state(
    gitlab: bool,
) -> (
    impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static,
    Held,
) {
    use std::sync::{Arc, Mutex};
    let state: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let lock: Arc<Mutex<Option<serde_json::Value>>> = Arc::new(Mutex::new(None));
    let (s, l) = (Arc::clone(&state), Arc::clone(&lock));
    let handler = move |req: &Seen| {
        let auth_ok = req
            .headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == TF_BASIC);
        if !auth_ok {
            return (401, "{\"message\":\"401 Unauthorized\"}".to_string());
        }
        let is_lock_path = req.path.ends_with("/lock");
        let (lock_m, unlock_m) = if gitlab {
            ("POST", "DELETE")
        } else {
            ("LOCK", "UNLOCK")
        };
        let mut held = l.lock().expect("lock");
        let m = req.method.as_str();
        let lock_route = !gitlab || is_lock_path;
        if m == lock_m && lock_route {
            if let Some(h) = held.as_ref() {
                return (423, h.to_string());
            }
            *held = serde_json::from_str(&req.body).ok();
            return (200, String::new());
        }
        if m == unlock_m && lock_route {
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
            return match held.as_ref() {
                Some(h) if h["ID"] == body["ID"] => {
                    *held = None;
                    (200, String::new())
                }
                Some(h) => (409, h.to_string()),
                None => (200, String::new()),
            };
        }
        match m {
            "GET" if !is_lock_path => match s.lock().expect("state").clone() {
                Some(body) => (200, body),
                None => (404, String::new()),
            },
            "POST" if !is_lock_path => {
                let id = req.query.strip_prefix("ID=").unwrap_or_default();
                match held.as_ref() {
                    Some(h) if h["ID"] == id => {
                        *s.lock().expect("state") = Some(req.body.clone());
                        (200, String::new())
                    }
                    Some(h) => (423, h.to_string()),
                    None => (409, "{\"message\":\"not locked\"}".to_string()),
                }
            }
            _ => (405, String::new()),
        }
    };
    (handler, state)
}

/// Relays a request to `upstream` (an `http://host:port` server) over a fresh
/// connection and returns its whole answer: what a gateway in front of an org does
/// when it behaves.
pub fn forward(upstream: &str, seen: &Seen) -> Reply {
    let addr = upstream.trim_start_matches("http://").trim_end_matches('/');
    let Ok(mut conn) = std::net::TcpStream::connect(addr) else {
        return Reply::Drop;
    };
    let target = if seen.query.is_empty() {
        seen.path.clone()
    } else {
        format!("{}?{}", seen.path, seen.query)
    };
    let mut req = format!(
        "{} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n",
        seen.method
    );
    for (k, v) in &seen.headers {
        if !matches!(
            k.as_str(),
            "host" | "connection" | "content-length" | "accept-encoding"
        ) {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    req.push_str(&format!(
        "Content-Length: {}\r\n\r\n{}",
        seen.body.len(),
        seen.body
    ));
    if conn.write_all(req.as_bytes()).is_err() {
        return Reply::Drop;
    }
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    Reply::Raw(answer)
}
