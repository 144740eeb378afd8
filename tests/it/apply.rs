//! `speechops apply` end to end against a real sandbox process.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::support::{self, Repo, Sandbox, block_on};

fn topic_names(sandbox: &Sandbox) -> Vec<String> {
    let client = sandbox.client();
    let mut names: Vec<String> = block_on(client.list_topics())
        .expect("list topics")
        .into_iter()
        .map(|t| t.name)
        .collect();
    names.sort();
    names
}

fn assert_ok(run: &support::Run) {
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

#[test]
fn apply_on_empty_org_then_plan_shows_no_changes_and_reapply_is_byte_identical() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(5, 3, "v1");
    repo.write(
        "rules/programs/p.yaml",
        "kind: Program\nname: Generated\ntopics: [Topic 0000, Topic 0001]\n",
    );
    repo.write(
        "rules/rules/r.yaml",
        "kind: SpeechRule\nname: Greeting\nphrases:\n  - phrase: this call may be recorded\nscoring:\n  - type: additive\n    value: 1.0\n",
    );

    let first = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_ok(&first);
    assert!(
        first
            .stdout
            .contains("Plan: 7 to create, 0 to update, 0 to delete, 6 to publish."),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("0 failed"), "{}", first.stdout);

    let plan = repo.run_against(&sandbox, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);

    let lock_before = repo.read("speechops.lock");
    let audit_before = repo.read("speechops-audit.jsonl");
    let again = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_ok(&again);
    assert_eq!(
        lock_before,
        repo.read("speechops.lock"),
        "lockfile must be byte-identical"
    );
    assert_eq!(
        audit_before,
        repo.read("speechops-audit.jsonl"),
        "a no-op apply audits nothing"
    );

    let verify = repo.run(&["audit", "verify"]);
    assert_ok(&verify);
    assert!(
        verify.stdout.contains("hash chain intact"),
        "{}",
        verify.stdout
    );
    assert_eq!(topic_names(&sandbox).len(), 5);
}

#[test]
fn update_and_prune_delete_in_dependency_order() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(3, 2, "v1");
    repo.write(
        "rules/programs/p.yaml",
        "kind: Program\nname: P\ntopics: [Topic 0002]\n",
    );
    assert_ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));

    // Change one topic, drop another and the program that held it.
    repo.write(
        "rules/topics/t0000.yaml",
        &support::topic_yaml("Topic 0000", 2, "v2"),
    );
    std::fs::remove_file(repo.path().join("rules/topics/t0002.yaml")).unwrap();
    std::fs::remove_file(repo.path().join("rules/programs/p.yaml")).unwrap();

    // Pruning the only managed program deletes every managed Program: the plan itself
    // is refused (exit 3, naming the override), as apply would be.
    let plan = repo.run_against(&sandbox, &["plan", "--prune"]);
    assert_eq!(plan.code, 3, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stderr.contains("--allow-empty"), "{}", plan.stderr);
    let plan = repo.run_against(&sandbox, &["plan", "--prune", "--allow-empty"]);
    assert_ok(&plan);
    assert!(
        plan.stdout.contains("~ update Topic \"Topic 0000\""),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("- delete Topic \"Topic 0002\""),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("- delete Program \"P\""),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("+ phrases: \"phrase 0 of Topic 0000 v2\""),
        "{}",
        plan.stdout
    );

    // Without --allow-empty the vanished Program kind trips the empty-input guard.
    let refused = repo.run_against(&sandbox, &["apply", "--auto-approve", "--prune"]);
    assert_eq!(refused.code, 3, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("--allow-empty"),
        "{}",
        refused.stderr
    );

    let applied = repo.run_against(
        &sandbox,
        &["apply", "--auto-approve", "--prune", "--allow-empty"],
    );
    assert_ok(&applied);
    assert_eq!(topic_names(&sandbox), vec!["Topic 0000", "Topic 0001"]);
    let plan = repo.run_against(&sandbox, &["plan", "--prune", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
}

#[test]
fn threshold_guard_refuses_then_force_applies() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(10, 1, "v1");
    assert_ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    for i in 0..4 {
        repo.write(
            &format!("rules/topics/t{i:04}.yaml"),
            &support::topic_yaml(&format!("Topic {i:04}"), 1, "v2"),
        );
    }
    let plan = repo.run_against(&sandbox, &["plan", "--detailed-exitcode"]);
    assert!(
        plan.stdout
            .contains("Guard (override: --force): 4 of 10 managed Topics"),
        "{}",
        plan.stdout
    );
    // The pull request's check fails before merge, not after: 3 wins over 2.
    assert_eq!(plan.code, 3, "{}", plan.stderr);
    let forced = repo.run_against(&sandbox, &["plan", "--detailed-exitcode", "--force"]);
    assert_eq!(forced.code, 2, "{}", forced.stderr);
    let refused = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_ok(&repo.run_against(&sandbox, &["apply", "--auto-approve", "--force"]));
}

#[test]
fn apply_without_auto_approve_in_ci_is_an_error() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(1, 1, "v1");
    let mut cmd = support::speechops(repo.path());
    cmd.args(["apply", "--api-url", &sandbox.url])
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", support::CLIENT_ID)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", support::CLIENT_SECRET)
        .stdin(std::process::Stdio::null());
    let run = support::run(&mut cmd);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    assert!(topic_names(&sandbox).is_empty());
}

#[test]
fn saved_plan_is_refused_when_stale() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(2, 1, "v1");
    assert_ok(&repo.run_against(&sandbox, &["plan", "--out", "plan.json"]));

    // The org changes behind the plan's back.
    let client = sandbox.client();
    block_on(
        client.create_topic(&speechops::kinds::topic::wire::TopicRequest {
            name: "Out of band".into(),
            description: String::new(),
            strictness: "72".into(),
            matching_type: "Lexical".into(),
            tags: vec![],
            dialect: "en-US".into(),
            participants: "All".into(),
            phrases: vec![speechops::kinds::topic::wire::WirePhrase {
                text: "hello".into(),
                strictness: None,
                sentiment: None,
                is_ai_generated: None,
            }],
        }),
    )
    .expect("create out of band");
    let stale = repo.run_against(&sandbox, &["apply", "plan.json", "--auto-approve"]);
    assert_eq!(stale.code, 3, "{}\n{}", stale.stdout, stale.stderr);
    assert!(stale.stderr.contains("stale plan"), "{}", stale.stderr);

    // A fresh plan applies; then a spec edit makes it stale again.
    assert_ok(&repo.run_against(&sandbox, &["plan", "--out", "plan.json"]));
    repo.write(
        "rules/topics/t0000.yaml",
        &support::topic_yaml("Topic 0000", 1, "v2"),
    );
    let stale = repo.run_against(&sandbox, &["apply", "plan.json", "--auto-approve"]);
    assert_eq!(stale.code, 3);
    assert!(
        stale.stderr.contains("rules/topics/t0000.yaml")
            || stale.stderr.contains("topics/t0000.yaml"),
        "{}",
        stale.stderr
    );

    assert_ok(&repo.run_against(&sandbox, &["plan", "--out", "plan.json"]));
    assert_ok(&repo.run_against(&sandbox, &["apply", "plan.json", "--auto-approve"]));
    assert_eq!(
        topic_names(&sandbox),
        vec!["Out of band", "Topic 0000", "Topic 0001"]
    );
}

#[test]
fn concurrent_apply_is_refused_naming_the_holder() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(1, 1, "v1");
    // Another process (this test) holds the apply lock.
    let lock_path = repo.path().join("speechops.lock.lock");
    let mut held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .unwrap();
    held.try_lock().unwrap();
    held.write_all(b"pid 4242 of ci-runner").unwrap();
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("pid 4242 of ci-runner"),
        "{}",
        run.stderr
    );
    assert!(topic_names(&sandbox).is_empty());
    drop(held);
    assert_ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
}

#[test]
fn atomic_rolls_back_this_runs_writes_on_failure() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(2, 1, "v1");
    assert_ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let before_lock = repo.read("speechops.lock");

    // Deleting Topic 0001 will fail with a 409 the plan cannot foresee (a foreseeable
    // one, a program holding it, is refused at plan time: see
    // `a_topic_delete_a_program_blocks_is_refused_before_any_write`).
    sandbox.post(
        "/__sandbox/fail?method=DELETE&route=/api/v2/speechandtextanalytics/topics/{id}&status=409",
    );

    // This run creates Topic 0002 and updates Topic 0000, then fails deleting Topic 0001.
    repo.write_topics(3, 1, "v1");
    repo.write(
        "rules/topics/t0000.yaml",
        &support::topic_yaml("Topic 0000", 1, "v2"),
    );
    std::fs::remove_file(repo.path().join("rules/topics/t0001.yaml")).unwrap();
    let run = repo.run_against(
        &sandbox,
        &["apply", "--auto-approve", "--prune", "--atomic"],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("FAILED      delete Topic \"Topic 0001\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("rolled back create Topic \"Topic 0002\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("rolled back update Topic \"Topic 0000\""),
        "{}",
        run.stdout
    );
    assert_eq!(topic_names(&sandbox), vec!["Topic 0000", "Topic 0001"]);
    // Issue 26: the report lists the changes in the order apply ran them (the plan's:
    // writes before deletes), and rollback steps are numbered on their own, never past
    // the plan's total.
    let at = |needle: &str| run.stdout.find(needle).unwrap_or(usize::MAX);
    assert!(
        at("Topic \"Topic 0000\"") < at("delete Topic \"Topic 0001\""),
        "{}",
        run.stdout
    );
    for line in run.stderr.lines().filter(|l| l.starts_with('[')) {
        let step = line
            .trim_start_matches('[')
            .split(']')
            .next()
            .unwrap_or_default();
        if let Some((n, total)) = step.split_once('/') {
            let (n, total): (usize, usize) = (n.parse().unwrap(), total.parse().unwrap());
            assert!(n <= total, "{line}");
        } else {
            assert!(step.starts_with("rollback "), "{line}");
        }
    }
    assert!(run.stderr.contains("[rollback 1] "), "{}", run.stderr);
    let audit = repo.read("speechops-audit.jsonl");
    assert!(audit.contains("\"action\":\"rollback-create\""), "{audit}");
    assert!(audit.contains("\"action\":\"rollback-update\""), "{audit}");
    // Topic 0000 was published before the run, so the rollback publishes it again.
    assert!(audit.contains("\"action\":\"rollback-publish\""), "{audit}");
    assert!(audit.contains("\"status\":\"failed\""), "{audit}");
    assert_ok(&repo.run(&["audit", "verify"]));

    // The restored topic still matches the old spec: restoring the old tree plans nothing
    // but publishing (a rollback write leaves the topic unpublished).
    repo.write_topics(2, 1, "v1");
    std::fs::remove_file(repo.path().join("rules/topics/t0002.yaml")).unwrap();
    let plan = repo.run_against(&sandbox, &["plan"]);
    assert!(
        plan.stdout
            .contains("0 to create, 0 to update, 0 to delete"),
        "{}",
        plan.stdout
    );
    let _ = before_lock;
}

#[test]
fn notification_is_signed_and_received() {
    let sandbox = Sandbox::with_creds(&[]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut headers = Vec::new();
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            headers.push(line);
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).unwrap();
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        (headers, body)
    });
    let repo = Repo::new();
    repo.write_topics(1, 1, "v1");
    repo.write(
        "speechops.yaml",
        &format!("notify:\n  - url: http://{addr}/hook\n    secretEnv: HOOK_SECRET\n"),
    );
    let run = repo.run_env(
        &["apply", "--auto-approve", "--api-url", sandbox.url.as_str()],
        &[
            ("GENESYSCLOUD_OAUTHCLIENT_ID", support::CLIENT_ID),
            ("GENESYSCLOUD_OAUTHCLIENT_SECRET", support::CLIENT_SECRET),
            ("HOOK_SECRET", "hook-secret-123"),
        ],
    );
    assert_ok(&run);
    let (headers, body) = receiver.join().unwrap();
    let sig = headers
        .iter()
        .find_map(|h| {
            h.strip_prefix("x-speechops-signature: ")
                .or_else(|| h.strip_prefix("X-Speechops-Signature: "))
        })
        .expect("signature header")
        .trim()
        .to_string();
    assert_eq!(sig, speechops::notify::signature(b"hook-secret-123", &body));
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["event"], "rules.updated");
    let actions: BTreeSet<String> = event["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["action"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            )
        })
        .collect();
    assert!(actions.contains("create Topic 0000"), "{actions:?}");
    assert!(event["changes"][0]["dateModified"].is_string(), "{event}");
    assert!(
        !repo
            .read("speechops-audit.jsonl")
            .contains("hook-secret-123")
    );
}

#[test]
fn failed_notification_is_a_warning_not_a_failed_apply() {
    let sandbox = Sandbox::with_creds(&[]);
    // A port with nothing listening.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let repo = Repo::new();
    repo.write_topics(1, 1, "v1");
    repo.write(
        "speechops.yaml",
        &format!("notify:\n  - url: http://{dead}/hook\n"),
    );
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_ok(&run);
    assert!(run.stderr.contains("notification to"), "{}", run.stderr);
    let audit = repo.read("speechops-audit.jsonl");
    assert!(
        audit.contains("\"action\":\"notify\"") && audit.contains("\"status\":\"failed\""),
        "{audit}"
    );
}

/// SIGKILL an apply of 200 topics at several points; each re-run converges with no
/// duplicates, the lockfile parses and the audit chain verifies.
#[test]
fn killed_apply_converges_without_duplicates() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap().to_string();
    let sandbox = Sandbox::with_creds(&["--data", &data_dir, "--latency-ms", "2"]);
    let repo = Repo::new();
    repo.write_topics(200, 2, "v1");
    let audit = repo.path().join("speechops-audit.jsonl");
    for kill_after_lines in [1usize, 37, 90, 151] {
        let mut child = support::speechops(repo.path())
            .args(["apply", "--auto-approve", "--api-url", &sandbox.url])
            .env("GENESYSCLOUD_OAUTHCLIENT_ID", support::CLIENT_ID)
            .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", support::CLIENT_SECRET)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let lines = std::fs::read_to_string(&audit)
                .map(|s| s.lines().count())
                .unwrap_or(0);
            if lines >= kill_after_lines || Instant::now() > deadline {
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill();
        let _ = child.wait();
        // Whatever instant it died at, the state files are valid.
        assert_ok(&repo.run(&["audit", "verify"]));
        // Killed before its first lockfile write, there is no lockfile yet: also valid.
        if let Ok(lock) = std::fs::read_to_string(repo.path().join("speechops.lock")) {
            serde_json::from_str::<serde_json::Value>(&lock).expect("lockfile parses");
        }
    }
    let last = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_ok(&last);
    let names = topic_names(&sandbox);
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(names.len(), 200, "duplicates or missing topics");
    assert_eq!(unique.len(), 200);
    let plan = repo.run_against(&sandbox, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    assert_ok(&repo.run(&["audit", "verify"]));
}

#[test]
fn secrets_never_appear_at_maximum_verbosity() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(2, 1, "v1");
    for args in [
        vec!["plan", "-vvv"],
        vec!["apply", "--auto-approve", "-vvv"],
        vec!["plan", "-vvv", "--format", "json", "--out", "plan.json"],
        vec!["import", "--kind", "Topic", "--out", "imported", "-vvv"],
    ] {
        let run = repo.run_against(&sandbox, &args);
        assert_ok(&run);
        for text in [&run.stdout, &run.stderr] {
            assert!(
                !text.contains(support::CLIENT_SECRET),
                "secret leaked by {args:?}"
            );
        }
    }
    for file in ["speechops.lock", "speechops-audit.jsonl", "plan.json"] {
        assert!(
            !repo.read(file).contains(support::CLIENT_SECRET),
            "secret in {file}"
        );
    }

    // A ready token passed by environment never shows either.
    let token: serde_json::Value = block_on(async {
        reqwest::Client::new()
            .post(format!("{}/oauth/token", sandbox.url))
            .basic_auth(support::CLIENT_ID, Some(support::CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let token = token["access_token"].as_str().unwrap().to_string();
    let run = repo.run_env(
        &["plan", "-vvv", "--api-url", &sandbox.url],
        &[("GENESYSCLOUD_ACCESS_TOKEN", &token)],
    );
    assert_ok(&run);
    assert!(!run.stdout.contains(&token) && !run.stderr.contains(&token));
}

#[test]
fn corrupt_lockfile_is_an_error_and_never_overwritten() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(1, 1, "v1");
    repo.write("speechops.lock", "{\"formatVersion\": 1, \"targets\": {");
    for cmd in [&["plan"][..], &["apply", "--auto-approve"][..]] {
        let run = repo.run_against(&sandbox, cmd);
        assert_eq!(run.code, 1, "{cmd:?}");
        assert!(run.stderr.contains("corrupt"), "{}", run.stderr);
    }
    assert_eq!(
        repo.read("speechops.lock"),
        "{\"formatVersion\": 1, \"targets\": {"
    );
    assert!(topic_names(&sandbox).is_empty());
}

#[test]
fn audit_verify_names_the_first_edited_line() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(3, 1, "v1");
    assert_ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let log = repo.read("speechops-audit.jsonl");
    let mut lines: Vec<String> = log.lines().map(str::to_string).collect();
    // Any edit of a line; line 3 is an intent (`pending`) since issue 15.
    lines[2] = lines[2].replacen("\"actor\":\"", "\"actor\":\"mallory-", 1);
    assert_ne!(lines[2], log.lines().nth(2).unwrap_or_default());
    repo.write("speechops-audit.jsonl", &(lines.join("\n") + "\n"));
    let run = repo.run(&["audit", "verify"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("line 3"), "{}", run.stderr);
    // Cutting the last line off is caught through the lockfile's anchor.
    let mut cut: Vec<&str> = log.lines().collect();
    cut.pop();
    repo.write("speechops-audit.jsonl", &(cut.join("\n") + "\n"));
    let run = repo.run(&["audit", "verify"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains("removed from the end"),
        "{}",
        run.stderr
    );
    repo.write("speechops-audit.jsonl", &(lines.join("\n") + "\n"));
    // A broken log is never extended.
    let apply = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    assert!(apply.stderr.contains("line 3"), "{}", apply.stderr);
}

#[test]
fn targets_from_config_keep_separate_lockfile_sections() {
    let prod = Sandbox::with_creds(&[]);
    let staging = Sandbox::start(&[
        "--client-id",
        "staging-id",
        "--client-secret",
        "staging-secret",
        "--rate-limit",
        "100000",
    ]);
    let repo = Repo::new();
    repo.write_topics(2, 1, "v1");
    repo.write(
        "speechops.yaml",
        &format!(
            "defaultTarget: prod\ntargets:\n  prod: {{ apiUrl: \"{}\" }}\n  staging: {{ apiUrl: \"{}\", clientIdEnv: STAGING_ID, clientSecretEnv: STAGING_SECRET }}\n  local: {{ sandbox: .speechops/local }}\n",
            prod.url, staging.url
        ),
    );
    let env = [
        ("GENESYSCLOUD_OAUTHCLIENT_ID", support::CLIENT_ID),
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET", support::CLIENT_SECRET),
        ("STAGING_ID", "staging-id"),
        ("STAGING_SECRET", "staging-secret"),
    ];
    assert_ok(&repo.run_env(&["apply", "--auto-approve"], &env));
    assert_ok(&repo.run_env(&["apply", "--auto-approve", "--target", "staging"], &env));
    assert_ok(&repo.run_env(&["apply", "--auto-approve", "--target", "local"], &env));
    let lock: serde_json::Value = serde_json::from_str(&repo.read("speechops.lock")).unwrap();
    let targets: Vec<&String> = lock["targets"].as_object().unwrap().keys().collect();
    assert_eq!(targets, vec!["local", "prod", "staging"]);
    assert_eq!(topic_names(&prod).len(), 2);
    let staging_client = speechops::genesys::Client::new(
        speechops::genesys::endpoint_for_api_url(&staging.url),
        speechops::genesys::Credentials::ClientCredentials {
            client_id: "staging-id".into(),
            client_secret: speechops::genesys::Secret::new("staging-secret"),
        },
        speechops::genesys::ClientOptions::default(),
    )
    .unwrap();
    assert_eq!(block_on(staging_client.list_topics()).unwrap().len(), 2);
    // A CI-wide region variable never redirects the configured default target.
    let mut with_region = env.to_vec();
    with_region.push(("GENESYSCLOUD_REGION", "us-east-1"));
    let plan = repo.run_env(&["plan", "--detailed-exitcode"], &with_region);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("Target \"prod\""), "{}", plan.stdout);
    let unknown = repo.run_env(&["plan", "--target", "nope"], &env);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("local, prod, staging"),
        "{}",
        unknown.stderr
    );
}

/// SDK 269: topics carry `matchingType` (Lexical | Semantic). A spec sets it, the plan
/// diffs it, and a re-plan after apply is clean.
#[test]
fn matching_type_is_applied_diffed_and_clean_after_apply() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write(
        "rules/t.yaml",
        "kind: Topic\nname: Meaning\ndialect: en-US\nmatchingType: Semantic\nphrases:\n  - text: i want to leave\n",
    );
    assert_ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let client = sandbox.client();
    let listed = block_on(client.list_topics()).expect("list");
    assert_eq!(listed[0].matching_type.as_deref(), Some("Semantic"));
    let clean = repo.run_against(&sandbox, &["plan", "--detailed-exitcode"]);
    assert_eq!(clean.code, 0, "{}", clean.stdout);

    repo.write(
        "rules/t.yaml",
        "kind: Topic\nname: Meaning\ndialect: en-US\nphrases:\n  - text: i want to leave\n",
    );
    let plan = repo.run_against(&sandbox, &["plan"]);
    assert!(
        plan.stdout.contains("~ update Topic \"Meaning\""),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("~ matchingType: \"Semantic\" → (default)"),
        "{}",
        plan.stdout
    );
}

/// Genesys marks phrases its AI suggested with `isAIGenerated`. Specs do not carry the
/// mark, but an update must not strip it from phrases the spec keeps.
#[test]
fn ai_generated_marks_survive_an_update() {
    use speechops::kinds::topic::wire::{TopicRequest, WirePhrase};
    let sandbox = Sandbox::with_creds(&[]);
    let client = sandbox.client();
    let phrase = |text: &str, ai: Option<bool>| WirePhrase {
        text: text.into(),
        strictness: None,
        sentiment: None,
        is_ai_generated: ai,
    };
    let created = block_on(client.create_topic(&TopicRequest {
        name: "Suggested".into(),
        description: String::new(),
        strictness: "72".into(),
        matching_type: "Lexical".into(),
        tags: vec![],
        dialect: "en-US".into(),
        participants: "All".into(),
        phrases: vec![
            phrase("cancel my plan", Some(true)),
            phrase("end my contract", None),
        ],
    }))
    .expect("create");
    let repo = Repo::new();
    repo.write(
        "rules/t.yaml",
        "kind: Topic\nname: Suggested\ndialect: en-US\nphrases:\n  - text: cancel my plan\n  - text: end my contract\n  - text: close my account\n",
    );
    assert_ok(&repo.run_against(&sandbox, &["apply", "--auto-approve", "--allow-takeover"]));
    let got = block_on(client.get_topic(&created.value.id)).expect("get");
    let marks: Vec<(String, Option<bool>)> = got
        .phrases
        .iter()
        .map(|p| (p.text.clone(), p.is_ai_generated))
        .collect();
    assert_eq!(
        marks,
        vec![
            ("cancel my plan".to_string(), Some(true)),
            ("close my account".to_string(), None),
            ("end my contract".to_string(), None),
        ]
    );
    let clean = repo.run_against(&sandbox, &["plan", "--detailed-exitcode"]);
    assert_eq!(clean.code, 0, "{}", clean.stdout);
}

/// Results come out in the order the plan runs them (as it showed them), whatever order parallel writes completed in (issue 26).
#[test]
fn apply_results_are_in_the_plans_order_at_any_parallelism() {
    let sandbox = Sandbox::with_creds(&["--latency-ms", "3"]);
    let repo = Repo::new();
    repo.write_topics(40, 1, "v1");
    let run = repo.run_against(
        &sandbox,
        &[
            "apply",
            "--auto-approve",
            "--parallelism",
            "8",
            "--format",
            "json",
        ],
    );
    assert_ok(&run);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let keys: Vec<(String, String)> = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap_or_default().to_string(),
                r["name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(keys.len(), 80, "40 creates and 40 publishes");
    // The order apply runs the plan in (and the plan shows): every create, then the
    // publishes, each by name, whatever order the parallel writes finished in.
    let sorted: Vec<(String, String)> = ["create", "publish"]
        .iter()
        .flat_map(|a| (0..40).map(move |i| (a.to_string(), format!("Topic {i:04}"))))
        .collect();
    assert_eq!(keys, sorted);
}
