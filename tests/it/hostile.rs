//! Nothing leaks, forks or vanishes (issue 24): credentials, the audit chain and spec
//! files under hostile gateways and odd trees.

use crate::support::{self, Repo, Sandbox};

#[track_caller]
fn ok(run: &support::Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

const TOPIC: &str =
    "kind: Topic\nname: Compliance\ndialect: en-US\nphrases: [{text: this call is recorded}]\n";

#[test]
fn a_spec_that_vanished_through_a_link_fails_validation_and_nothing_is_pruned() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    repo.write("shared/compliance.yaml", TOPIC);
    std::os::unix::fs::symlink(
        repo.path().join("shared/compliance.yaml"),
        repo.path().join("rules/compliance.yaml"),
    )
    .or_else(|_| {
        std::fs::create_dir_all(repo.path().join("rules"))?;
        std::os::unix::fs::symlink(
            repo.path().join("shared/compliance.yaml"),
            repo.path().join("rules/compliance.yaml"),
        )
    })
    .expect("symlink");
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));

    // `shared/` moves away: the link dangles.
    std::fs::rename(repo.path().join("shared"), repo.path().join("elsewhere")).expect("mv");
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("file.broken-link"), "{all}");
    assert!(all.contains("compliance.yaml"), "{all}");
    let run = repo.run_against(
        &sandbox,
        &["apply", "--auto-approve", "--prune", "--allow-empty"],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let list = sandbox.get_json_authed("/api/v2/speechandtextanalytics/topics");
    assert_eq!(list["entities"].as_array().map(Vec::len), Some(1), "{list}");

    // A link loop, a FIFO and a linked folder are errors too, each naming its entry.
    std::fs::remove_file(repo.path().join("rules/compliance.yaml")).expect("rm");
    std::os::unix::fs::symlink(
        repo.path().join("rules/loop-a.yaml"),
        repo.path().join("rules/loop-b.yaml"),
    )
    .expect("symlink");
    std::os::unix::fs::symlink(
        repo.path().join("rules/loop-b.yaml"),
        repo.path().join("rules/loop-a.yaml"),
    )
    .expect("symlink");
    let fifo = repo.path().join("rules/pipe.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    std::os::unix::fs::symlink(
        repo.path().join("elsewhere"),
        repo.path().join("rules/shared"),
    )
    .expect("symlink");
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    for needle in [
        "loop-a.yaml",
        "loop-b.yaml",
        "file.not-regular",
        "pipe.yaml",
        "file.linked-folder",
    ] {
        assert!(all.contains(needle), "{needle}: {all}");
    }
}

/// A gateway's error page that quotes the request: its headers and body.
fn echo(seen: &support::Seen) -> String {
    let headers: Vec<String> = seen
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    format!(
        "bad request; you sent {} and {:?}",
        headers.join("; "),
        seen.body
    )
}

#[test]
fn a_gateway_that_echoes_the_request_leaks_no_credential_anywhere() {
    use crate::support::{CLIENT_ID, CLIENT_SECRET, Reply, Scripted};
    use base64::Engine as _;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    const TOKEN: &str = "tok-e6f1b2c3d4a5968778695a4b3c2d1e0f";

    // The token endpoint refuses, quoting the request.
    let refusing = Scripted::start(|seen| {
        Reply::Json(
            400,
            vec![],
            serde_json::json!({"error": "invalid_client", "error_description": echo(seen)})
                .to_string(),
        )
    });
    let repo = Repo::new();
    repo.write("rules/t.yaml", TOPIC);
    let run = repo.run_env(
        &["plan", "--api-url", &refusing.url, "-vvv"],
        &[
            ("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID),
            ("GENESYSCLOUD_OAUTHCLIENT_SECRET", CLIENT_SECRET),
        ],
    );
    assert_ne!(run.code, 0);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("bad request; you sent"),
        "the echo is quoted: {all}"
    );
    assert!(all.contains("Basic ***"), "the header is masked: {all}");
    for secret in [CLIENT_SECRET, basic.as_str()] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }

    // The API refuses every write, quoting the request (the bearer token).
    let echoing = Scripted::start(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", "/oauth/token") => Reply::Json(
            200,
            vec![],
            serde_json::json!({"access_token": TOKEN, "token_type": "bearer", "expires_in": 86400})
                .to_string(),
        ),
        ("GET", "/api/v2/organizations/me") => {
            Reply::Json(200, vec![], r#"{"id":"org-1","name":"Org"}"#.into())
        }
        ("GET", _) => Reply::Json(
            200,
            vec![],
            r#"{"entities":[],"pageCount":0,"pageNumber":1,"pageSize":500,"total":0}"#.into(),
        ),
        _ => Reply::Json(
            400,
            vec![],
            serde_json::json!({"message": echo(seen), "code": "bad.request", "status": 400})
                .to_string(),
        ),
    });
    let run = repo.run_env(
        &["apply", "--auto-approve", "--api-url", &echoing.url, "-vvv"],
        &[
            ("GENESYSCLOUD_OAUTHCLIENT_ID", CLIENT_ID),
            ("GENESYSCLOUD_OAUTHCLIENT_SECRET", CLIENT_SECRET),
        ],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let audit = repo.read("speechops-audit.jsonl");
    let lock = repo.read("speechops.lock");
    let all = format!("{}{}{audit}{lock}", run.stdout, run.stderr);
    assert!(
        all.contains("bad request; you sent"),
        "the echo is quoted: {all}"
    );
    assert!(
        all.to_lowercase().contains("bearer ***"),
        "the token is masked: {all}"
    );
    for secret in [TOKEN, CLIENT_SECRET, basic.as_str()] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
}

const LISTED_EMPTY: &str =
    r#"{"entities":[],"pageCount":0,"pageNumber":1,"pageSize":500,"total":0}"#;

fn token() -> support::Reply {
    support::Reply::Json(
        200,
        vec![],
        r#"{"access_token":"tok-hostile-0001","token_type":"bearer","expires_in":86400}"#.into(),
    )
}

fn run_against(repo: &Repo, url: &str, args: &[&str], env: &[(&str, &str)]) -> support::Run {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--api-url", url]);
    let mut vars = vec![
        ("GENESYSCLOUD_OAUTHCLIENT_ID", support::CLIENT_ID),
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET", support::CLIENT_SECRET),
    ];
    vars.extend_from_slice(env);
    repo.run_env(&all, &vars)
}

#[test]
fn redirects_to_another_host_are_never_followed_and_an_id_less_create_is_a_failed_write() {
    use crate::support::{Reply, Scripted};
    let elsewhere = Scripted::start(|_| Reply::Json(200, vec![], LISTED_EMPTY.into()));
    let target = format!("{}/api/v2/speechandtextanalytics/topics", elsewhere.url);
    let redirecting =
        Scripted::start(
            move |seen| match (seen.method.as_str(), seen.path.as_str()) {
                ("POST", "/oauth/token") => token(),
                ("GET", "/api/v2/organizations/me") => {
                    Reply::Json(200, vec![], r#"{"id":"org-1"}"#.into())
                }
                ("GET", _) => Reply::Json(200, vec![], LISTED_EMPTY.into()),
                ("POST", _) => Reply::Json(307, vec![("location", target.clone())], String::new()),
                _ => Reply::Json(404, vec![], "{}".into()),
            },
        );
    let repo = Repo::new();
    repo.write("rules/t.yaml", TOPIC);
    let run = run_against(&repo, &redirecting.url, &["apply", "--auto-approve"], &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("not followed") || run.stderr.contains("not followed"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(
        elsewhere.seen().is_empty(),
        "a request reached another host"
    );

    // A listing redirected to another host is not read from there.
    let target = format!("{}/api/v2/speechandtextanalytics/topics", elsewhere.url);
    let listing_elsewhere =
        Scripted::start(
            move |seen| match (seen.method.as_str(), seen.path.as_str()) {
                ("POST", "/oauth/token") => token(),
                ("GET", "/api/v2/organizations/me") => {
                    Reply::Json(200, vec![], r#"{"id":"org-1"}"#.into())
                }
                ("GET", _) => Reply::Json(302, vec![("location", target.clone())], String::new()),
                _ => Reply::Json(404, vec![], "{}".into()),
            },
        );
    let run = run_against(&repo, &listing_elsewhere.url, &["plan"], &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        elsewhere.seen().is_empty(),
        "a request reached another host"
    );

    // `200 {}` for a create: a failed write, and no entry with an empty id.
    let empty = Scripted::start(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", "/oauth/token") => token(),
        ("GET", "/api/v2/organizations/me") => Reply::Json(200, vec![], r#"{"id":"org-1"}"#.into()),
        ("GET", _) => Reply::Json(200, vec![], LISTED_EMPTY.into()),
        _ => Reply::Json(200, vec![], "{}".into()),
    });
    let run = run_against(&repo, &empty.url, &["apply", "--auto-approve"], &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("answered without the object's id"), "{all}");
    let lock = std::fs::read_to_string(repo.path().join("speechops.lock")).unwrap_or_default();
    assert!(!lock.contains("\"id\": \"\""), "{lock}");
}

#[test]
fn oversized_answers_endless_cursors_and_a_silent_token_endpoint_fail_within_their_bounds() {
    use crate::support::{Reply, Scripted};
    let repo = Repo::new();
    repo.write("rules/t.yaml", TOPIC);

    // A body past the size limit (1 MiB here) fails the request, not the process.
    let big = Scripted::start(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", "/oauth/token") => token(),
        ("GET", "/api/v2/organizations/me") => Reply::Json(200, vec![], r#"{"id":"org-1"}"#.into()),
        _ => Reply::Json(
            200,
            vec![],
            format!("{{\"entities\":[],\"pad\":\"{}\"}}", "x".repeat(2 << 20)),
        ),
    });
    let run = run_against(
        &repo,
        &big.url,
        &["plan"],
        &[("SPEECHOPS_MAX_RESPONSE_MB", "1")],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("larger than 1048576 bytes"),
        "{}",
        run.stderr
    );

    // A listing whose pages never end stops at the page limit.
    let endless = Scripted::start(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", "/oauth/token") => token(),
        ("GET", "/api/v2/organizations/me") => Reply::Json(200, vec![], r#"{"id":"org-1"}"#.into()),
        ("GET", p) => {
            let n: u64 = seen
                .query
                .split('&')
                .find_map(|kv| kv.strip_prefix("pageNumber="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            Reply::Json(
                200,
                vec![],
                format!(
                    "{{\"entities\":[{{\"id\":\"t{n}\",\"name\":\"T{n}\",\"dialect\":\"en-US\"}}],\"pageCount\":10000000,\"pageNumber\":{n},\"pageSize\":1,\"nextUri\":\"{p}?page={n}\"}}"
                ),
            )
        }
        _ => Reply::Json(404, vec![], "{}".into()),
    });
    let run = run_against(
        &repo,
        &endless.url,
        &["plan"],
        &[("SPEECHOPS_MAX_LIST_PAGES", "20")],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("more than 20 pages"), "{}", run.stderr);

    // A token endpoint that never answers: the command ends at its --timeout.
    let silent = Scripted::start(|seen| {
        if seen.path == "/oauth/token" {
            std::thread::sleep(std::time::Duration::from_secs(30));
        }
        Reply::Drop
    });
    let started = std::time::Instant::now();
    let run = run_against(&repo, &silent.url, &["plan", "--timeout", "2"], &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("the token endpoint did not answer within")
            && run.stderr.contains("--timeout of 2 s has passed"),
        "{}",
        run.stderr
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn two_applies_sharing_an_audit_log_never_run_at_once_whatever_their_lockfiles() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    repo.write("rules/t.yaml", TOPIC);
    // Another apply holds the audit log (its lockfile is another one).
    let audit = repo.path().join("speechops-audit.jsonl");
    std::fs::write(&audit, "").expect("audit");
    let held = speechops::state::ApplyLock::acquire_state(
        &repo.path().join("other.lock"),
        &audit,
        "apply by pid 1 (test)",
    )
    .expect("lock");
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("apply by pid 1 (test)"),
        "{}",
        run.stderr
    );
    // A symlink to the lockfile is the same lockfile.
    drop(held);
    std::fs::write(
        repo.path().join("real.lock"),
        r#"{"formatVersion": 1, "targets": {}}"#,
    )
    .expect("lockfile");
    std::os::unix::fs::symlink(repo.path().join("real.lock"), repo.path().join("link.lock"))
        .expect("symlink");
    let _held = speechops::state::ApplyLock::acquire_state(
        &repo.path().join("real.lock"),
        &repo.path().join("elsewhere-audit.jsonl"),
        "apply by pid 2 (test)",
    )
    .expect("lock");
    let run = repo.run_against(
        &sandbox,
        &[
            "apply",
            "--auto-approve",
            "--lockfile",
            "link.lock",
            "--audit-log",
            "third.jsonl",
        ],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("apply by pid 2 (test)"),
        "{}",
        run.stderr
    );
    drop(_held);
    // Applied through the link, the link stays a link and its target holds the state.
    ok(&repo.run_against(
        &sandbox,
        &[
            "apply",
            "--auto-approve",
            "--lockfile",
            "link.lock",
            "--audit-log",
            "third.jsonl",
        ],
    ));
    let meta = std::fs::symlink_metadata(repo.path().join("link.lock")).expect("link");
    assert!(meta.file_type().is_symlink());
    assert!(
        repo.read("real.lock").contains("Compliance"),
        "{}",
        repo.read("real.lock")
    );
}

#[test]
fn each_half_of_a_replace_has_its_own_intent_and_a_kill_between_them_is_resolved_as_the_org_is() {
    use serde_json::Value;
    let repo = Repo::new();
    // Each request takes 300 ms, so a kill right after the delete's result lands before
    // the create reaches the org.
    let sandbox = Sandbox::with_creds(&["--latency-ms", "300"]);
    let spec = "kind: SentimentFeedback\nphrase: not bad at all\ndialect: en-US\nfeedbackValue: Positive\n";
    repo.write("rules/s.yaml", spec);
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    repo.write("rules/s.yaml", &spec.replace("Positive", "Negative"));
    let before = support::audit_lines(&repo);
    support::apply_killed_at(&repo, &sandbox, &[], before + 3);
    let entries = |repo: &Repo| -> Vec<Value> {
        repo.read("speechops-audit.jsonl")
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let log = entries(&repo);
    let delete_ok = log
        .iter()
        .position(|e| e["action"] == "replace-delete" && e["status"] == "ok");
    assert!(
        delete_ok.is_some(),
        "the delete half has its own result: {log:?}"
    );
    // The next apply says what the org holds (no entry), then makes it.
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let log = entries(&repo);
    let resolved: Vec<&Value> = log
        .iter()
        .filter(|e| e["action"] == "replace-create" && e["status"] == "not-applied")
        .collect();
    assert_eq!(resolved.len(), 1, "{log:?}");
    let list = sandbox.get_json_authed("/api/v2/speechandtextanalytics/sentimentfeedback");
    assert_eq!(list["entities"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["entities"][0]["feedbackValue"], "Negative", "{list}");
}

/// How the gateway in front of the org misbehaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Gateway {
    /// Relays everything.
    Honest,
    /// Answers every API write 400, quoting the request (its bearer token).
    EchoWrites,
    /// Answers the token request 400, quoting it (the Basic credentials).
    EchoToken,
    /// Redirects every API write to another host.
    RedirectWrites,
    /// Answers topic listings with a body that claims 4 GiB and never ends.
    Endless,
    /// Never answers the token request.
    SilentToken,
    /// Answers program listings (cursor-paged) with cursors that never end.
    LoopCursor,
}

/// Issue 24's done-when: the real binary through a misbehaving gateway in front of an
/// org-like server. Whatever the gateway does, no secret reaches any output or file,
/// no request reaches another host, nothing aborts, and each failure is an error
/// within its bound.
#[test]
fn a_misbehaving_gateway_in_front_of_an_org_leaks_nothing_and_fails_within_bounds() {
    use crate::support::{CLIENT_ID, CLIENT_SECRET, Reply, Scripted, forward};
    use base64::Engine as _;
    use std::sync::{Arc, Mutex};
    let sandbox = Sandbox::with_creds(&[]);
    let elsewhere = Scripted::start(|_| Reply::Json(200, vec![], LISTED_EMPTY.into()));
    let mode = Arc::new(Mutex::new(Gateway::Honest));
    let tokens: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let gateway = {
        let (mode, tokens) = (Arc::clone(&mode), Arc::clone(&tokens));
        let upstream = sandbox.url.clone();
        let elsewhere = elsewhere.url.clone();
        let pages = std::sync::atomic::AtomicUsize::new(0);
        Scripted::start(move |seen| {
            let m = *mode.lock().expect("mode");
            let write = seen.path.starts_with("/api/v2/") && seen.method != "GET";
            let listing =
                seen.method == "GET" && seen.path == "/api/v2/speechandtextanalytics/topics";
            let programs =
                seen.method == "GET" && seen.path == "/api/v2/speechandtextanalytics/programs";
            match m {
                Gateway::EchoWrites if write => Reply::Json(
                    400,
                    vec![],
                    serde_json::json!({"message": echo(seen), "code": "bad.request", "status": 400}).to_string(),
                ),
                Gateway::EchoToken if seen.path == "/oauth/token" => Reply::Json(
                    400,
                    vec![],
                    serde_json::json!({"error": "invalid_client", "error_description": echo(seen)}).to_string(),
                ),
                Gateway::RedirectWrites if write => Reply::Json(
                    307,
                    vec![("location", format!("{elsewhere}{}", seen.path))],
                    String::new(),
                ),
                Gateway::Endless if listing => Reply::Endless("{\"entities\":[\"".into()),
                Gateway::SilentToken if seen.path == "/oauth/token" => {
                    std::thread::sleep(std::time::Duration::from_secs(30));
                    Reply::Drop
                }
                Gateway::LoopCursor if programs => {
                    let n = pages.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Reply::Json(
                        200,
                        vec![],
                        format!(r#"{{"entities":[],"nextUri":"/api/v2/speechandtextanalytics/programs?cursor=c{n}"}}"#),
                    )
                }
                _ => {
                    let answer = forward(&upstream, seen);
                    if seen.path == "/oauth/token"
                        && let Reply::Raw(bytes) = &answer
                    {
                        let text = String::from_utf8_lossy(bytes);
                        if let Some(rest) = text.split("\"access_token\":\"").nth(1)
                            && let Some(tok) = rest.split('"').next()
                        {
                            tokens.lock().expect("tokens").push(tok.to_string());
                        }
                    }
                    answer
                }
            }
        })
    };
    let repo = Repo::new();
    repo.write_topics(2, 1, "v1");
    repo.write(
        "rules/p.yaml",
        "kind: Program\nname: Gateway program\ntopics: [Topic 0000]\n",
    );
    // Honest: it works through the gateway.
    ok(&run_against(
        &repo,
        &gateway.url,
        &["apply", "--auto-approve"],
        &[],
    ));
    repo.write_topics(2, 2, "v1");

    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let check = |m: Gateway, args: &[&str], env: &[(&str, &str)]| {
        *mode.lock().expect("mode") = m;
        let started = std::time::Instant::now();
        let run = run_against(&repo, &gateway.url, args, env);
        let took = started.elapsed();
        assert_eq!(run.code, 1, "{m:?}: {run:?}");
        let files: String = ["speechops.lock", "speechops-audit.jsonl"]
            .iter()
            .map(|f| std::fs::read_to_string(repo.path().join(f)).unwrap_or_default())
            .collect();
        let all = format!("{}{}{files}", run.stdout, run.stderr);
        let mut secrets = tokens.lock().expect("tokens").clone();
        secrets.extend([CLIENT_SECRET.to_string(), basic.clone()]);
        for secret in &secrets {
            assert!(
                !all.contains(secret.as_str()),
                "{m:?}: {secret} leaked:\n{all}"
            );
        }
        assert!(
            elsewhere.seen().is_empty(),
            "{m:?}: a request reached another host"
        );
        (run, took)
    };
    let (run, _) = check(
        Gateway::EchoWrites,
        &["apply", "--auto-approve", "-vvv"],
        &[],
    );
    assert!(
        run.stderr.contains("bad request; you sent")
            || run.stdout.contains("bad request; you sent"),
        "{run:?}"
    );
    assert!(
        !tokens.lock().expect("tokens").is_empty(),
        "the token went through the gateway"
    );
    let (run, _) = check(Gateway::EchoToken, &["plan", "-vvv"], &[]);
    assert!(run.stderr.contains("Basic ***"), "{}", run.stderr);
    let (run, _) = check(Gateway::RedirectWrites, &["apply", "--auto-approve"], &[]);
    assert!(format!("{run:?}").contains("not followed"), "{run:?}");
    // The 4 GiB answer is refused at the body cap, not by running out of memory.
    let (run, _) = check(Gateway::Endless, &["plan"], &[]);
    assert!(run.stderr.contains("larger than"), "{}", run.stderr);
    let (run, took) = check(Gateway::SilentToken, &["plan", "--timeout", "3"], &[]);
    assert!(
        run.stderr.contains("--timeout of 3 s has passed"),
        "{}",
        run.stderr
    );
    assert!(took < std::time::Duration::from_secs(25), "{took:?}");
    let (run, _) = check(
        Gateway::LoopCursor,
        &["plan"],
        &[("SPEECHOPS_MAX_LIST_PAGES", "50")],
    );
    assert!(run.stderr.contains("more than 50 pages"), "{}", run.stderr);
    // And once it behaves again, the apply that never went through converges.
    *mode.lock().expect("mode") = Gateway::Honest;
    ok(&run_against(
        &repo,
        &gateway.url,
        &["apply", "--auto-approve"],
        &[],
    ));
    ok(&repo.run(&["audit", "verify"]));
}

/// Issue 24: a disk that fills mid-apply (here the file-size limit, which fails a write
/// part-way as a full disk does): the tool takes its partial audit line back, says what
/// was done and what was never attempted, and the next run converges with no repair.
#[test]
fn a_full_disk_mid_apply_leaves_a_valid_log_and_says_what_was_not_attempted() {
    use std::os::unix::process::CommandExt;
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(1, 1, "v1");
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    repo.write_topics(20, 1, "v1");
    let size = std::fs::metadata(repo.path().join("speechops-audit.jsonl"))
        .expect("audit log")
        .len();
    let limit = size + 2500;
    let mut cmd = support::speechops(repo.path());
    cmd.args([
        "apply",
        "--auto-approve",
        "--parallelism",
        "1",
        "--api-url",
        &sandbox.url,
    ])
    .env("GENESYSCLOUD_OAUTHCLIENT_ID", support::CLIENT_ID)
    .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", support::CLIENT_SECRET);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
            // A write past the limit fails with EFBIG instead of killing the process.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let run = support::run(&mut cmd);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("apply stopped: the state could not be recorded after")
            && run.stderr.contains("were not attempted"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("not attempted") || run.stderr.contains("not attempted"));
    let log = repo.read("speechops-audit.jsonl");
    assert!(
        log.len() as u64 > size,
        "the disk filled mid-run, after some entries"
    );
    assert!(log.ends_with('\n'), "a partial line was left");
    for line in log.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("every line whole");
    }
    ok(&repo.run(&["audit", "verify"]));
    // With room again, the next run resolves what was cut off and converges.
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let plan = repo.run_against(&sandbox, &["plan", "--detailed-exitcode"]);
    ok(&plan);
    ok(&repo.run(&["audit", "verify"]));
}
