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
