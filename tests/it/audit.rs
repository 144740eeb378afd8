//! The audit trail (issue 15, SPEC 7): who, which commit, which org, what the org held
//! before each write, every write recorded even across kills, and `audit show`.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

use crate::support::{self, Repo, Sandbox, block_on};

fn entries(repo: &Repo) -> Vec<Value> {
    std::fs::read_to_string(repo.path().join("speechops-audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line"))
        .collect()
}

fn git(repo: &Repo, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .current_dir(repo.path())
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn head(repo: &Repo) -> String {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo.path())
        .output()
        .expect("git");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn apply(repo: &Repo, sandbox: &Sandbox, env: &[(&str, &str)], unset: &[&str]) -> support::Run {
    let mut cmd = support::speechops(repo.path());
    cmd.args(["apply", "--auto-approve", "--api-url", &sandbox.url])
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", support::CLIENT_ID)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", support::CLIENT_SECRET);
    for (k, v) in env {
        cmd.env(k, v);
    }
    for k in unset {
        cmd.env_remove(k);
    }
    support::run(&mut cmd)
}

/// The name `id -un` gives: what a uid lookup must find.
fn os_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn actor_comes_from_ci_else_the_os_user_even_without_user() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(1, 1, "v1");
    let run = apply(&repo, &sandbox, &[], &["USER", "LOGNAME"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let e = entries(&repo);
    let expected = os_user();
    assert!(!expected.is_empty());
    assert!(e.iter().all(|e| e["actor"] == expected.as_str()), "{e:?}");
    assert!(e.iter().all(|e| e["actor"] != "unknown"));

    repo.write_topics(1, 1, "v2");
    let run = apply(
        &repo,
        &sandbox,
        &[
            ("GITHUB_ACTOR", "octo-reviewer"),
            ("GITHUB_RUN_ID", "4242"),
            ("GITHUB_RUN_ATTEMPT", "2"),
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let last = entries(&repo).pop().expect("entries");
    assert_eq!(last["actor"], "octo-reviewer");
    assert_eq!(last["runId"], "4242-2");
}

#[test]
fn git_commit_and_dirty_describe_the_applied_tree_and_org_id_is_recorded() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    git(&repo, &["init", "-q"]);
    repo.write_topics(2, 1, "v1");
    git(&repo, &["add", "rules"]);
    git(&repo, &["commit", "-qm", "topics"]);
    let commit = head(&repo);
    // GITHUB_SHA names another commit: the work tree's own HEAD wins.
    let run = apply(
        &repo,
        &sandbox,
        &[("GITHUB_SHA", "ffffffffffffffffffffffffffffffffffffffff")],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let org = block_on(sandbox.client().get_org()).expect("org").id;
    for e in entries(&repo) {
        assert_eq!(e["gitCommit"], commit.as_str(), "{e}");
        assert_eq!(e["gitDirty"], false, "{e}");
        assert_eq!(e["orgId"], org.as_str(), "{e}");
    }
    // An uncommitted edit: same commit, marked dirty.
    repo.write_topics(2, 1, "v2");
    let before = entries(&repo).len();
    let run = apply(&repo, &sandbox, &[], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let new: Vec<Value> = entries(&repo).split_off(before);
    assert!(!new.is_empty());
    for e in &new {
        assert_eq!(e["gitCommit"], commit.as_str(), "{e}");
        assert_eq!(e["gitDirty"], true, "{e}");
    }
}

/// Reverting an out-of-band change: the entry records what the org held (the edited
/// body), not what the lockfile last recorded, so before and after differ, and the
/// field-level changes say what was reverted.
#[test]
fn reverting_an_out_of_band_change_records_what_the_org_held() {
    use speechops::kinds::topic::wire::{TopicRequest, WirePhrase};
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write("rules/t.yaml", "kind: Topic\nname: Greeting\ndescription: as reviewed\ndialect: en-US\nphrases:\n  - text: good morning\n");
    assert_eq!(apply(&repo, &sandbox, &[], &[]).code, 0);
    let client = sandbox.client();
    let listed = block_on(client.list_topics()).expect("list");
    let id = listed[0].id.clone();
    block_on(client.update_topic(
        &id,
        &TopicRequest {
            name: "Greeting".into(),
            description: "edited in the UI".into(),
            strictness: "72".into(),
            matching_type: "Lexical".into(),
            tags: vec![],
            dialect: "en-US".into(),
            participants: "All".into(),
            phrases: vec![WirePhrase {
                text: "good morning".into(),
                strictness: None,
                sentiment: None,
                is_ai_generated: None,
            }],
        },
    ))
    .expect("out-of-band edit");
    let lock_before: Value = serde_json::from_str(&repo.read("speechops.lock")).expect("lock");
    assert_eq!(apply(&repo, &sandbox, &[], &[]).code, 0);
    let update = entries(&repo)
        .into_iter()
        .rev()
        .find(|e| e["action"] == "update" && e["status"] == "ok")
        .expect("an update entry");
    let before = update["remoteSha256Before"].as_str().expect("before");
    let after = update["specSha256After"].as_str().expect("after");
    assert_ne!(before, after, "{update}");
    let recorded = lock_before.to_string();
    assert!(
        !recorded.contains(before),
        "before must be the org's body, not the lockfile's hash"
    );
    assert_eq!(
        update["changes"]["description"],
        serde_json::json!({"from": "edited in the UI", "to": "as reviewed"})
    );
}

/// SIGKILL of an apply of 100 creates at parallelism 4, at 10 seeded points: each
/// later run resolves the writes the killed one left pending, so at the end every
/// object in the org is in the log in an entry that confirms its write (`ok`, or
/// `confirmed` by a later run), no intent is left dangling, and the chain verifies.
#[test]
fn every_write_is_audited_across_kills_at_parallelism_4() {
    let sandbox = Sandbox::with_creds(&["--latency-ms", "3"]);
    let repo = Repo::new();
    repo.write_topics(100, 1, "v1");
    let mut seed = 20_261_125u64;
    for round in 0..10 {
        let kill_after =
            support::audit_lines(&repo) + 1 + (support::splitmix(&mut seed) % 30) as usize;
        support::apply_killed_at(&repo, &sandbox, &["--parallelism", "4"], kill_after);
        let verify = repo.run(&["audit", "verify"]);
        assert_eq!(verify.code, 0, "round {round}: {}", verify.stderr);
    }
    let last = apply(&repo, &sandbox, &[("GITHUB_ACTOR", "finisher")], &[]);
    assert_eq!(last.code, 0, "{}\n{}", last.stdout, last.stderr);

    let log = entries(&repo);
    let resolutions = log
        .iter()
        .filter(|e| e["status"] == "confirmed" || e["status"] == "not-applied")
        .count();
    assert!(resolutions > 0, "the kills left no write to resolve");
    let confirmed: BTreeSet<String> = log
        .iter()
        .filter(|e| e["status"] == "ok" || e["status"] == "confirmed")
        .filter(|e| e["action"] == "create")
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .collect();
    let remote = block_on(sandbox.client().list_topics()).expect("list");
    assert_eq!(remote.len(), 100);
    for t in &remote {
        assert!(
            confirmed.contains(&t.id),
            "{} ({}) was written but not audited",
            t.name,
            t.id
        );
    }
    let verify = repo.run(&["audit", "verify", "--format", "json"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    let v: Value = serde_json::from_str(&verify.stdout).expect("verify json");
    assert_eq!(v["ok"], true);
    assert_eq!(v["pendingIntents"], 0, "{v}");
}

/// A fixed log written through the library, shown by the binary.
fn fixture_log(repo: &Repo) {
    use speechops::audit::{AuditLog, Entry};
    use speechops::model::{Object, Topic, TopicPhrase};
    let path = repo.path().join("speechops-audit.jsonl");
    let mut log = AuditLog::open(&path, None).expect("open");
    let topic = |desc: &str, phrases: &[&str]| {
        Object::Topic(
            Topic {
                name: "Recording disclosure".into(),
                description: desc.into(),
                dialect: "en-US".into(),
                strictness: "72".into(),
                matching_type: "Lexical".into(),
                participants: "Internal".into(),
                tags: vec!["compliance".into()],
                published: true,
                phrases: phrases
                    .iter()
                    .map(|p| TopicPhrase {
                        text: (*p).into(),
                        strictness: Default::default(),
                        sentiment: Default::default(),
                    })
                    .collect(),
                ai_phrases: Default::default(),
                qualified: Default::default(),
            }
            .normalized(),
        )
    };
    let v1 = topic(
        "Agent states the call may be recorded",
        &["this call may be recorded"],
    );
    let v2 = topic(
        "Agent states the recording",
        &["this call may be recorded", "this call is recorded"],
    );
    let base = |seq_ts: &str, run: &str, actor: &str| Entry {
        ts: seq_ts.into(),
        actor: actor.into(),
        run_id: run.into(),
        git_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        git_dirty: Some(false),
        target: "prod".into(),
        org_id: Some("9f8e7d6c-0000-4000-8000-000000000001".into()),
        kind: Some("Topic".into()),
        name: Some("Recording disclosure".into()),
        ..Entry::default()
    };
    log.append(Entry {
        action: "create".into(),
        status: "pending".into(),
        spec_sha256_after: Some(v1.sha256()),
        ..base("2026-11-20T09:00:00Z", "run-1", "alice")
    })
    .expect("append");
    log.append(Entry {
        action: "create".into(),
        status: "ok".into(),
        intent: Some(1),
        id: Some("t-1".into()),
        spec_sha256_after: Some(v1.sha256()),
        http_status: Some(200),
        latency_ms: Some(41),
        correlation_id: Some("corr-1".into()),
        changes: speechops::audit::field_changes(None, Some(&v1)),
        ..base("2026-11-20T09:00:01Z", "run-1", "alice")
    })
    .expect("append");
    log.append(Entry {
        action: "update".into(),
        status: "ok".into(),
        id: Some("t-1".into()),
        remote_sha256_before: Some(v1.sha256()),
        spec_sha256_after: Some(v2.sha256()),
        http_status: Some(200),
        latency_ms: Some(38),
        changes: speechops::audit::field_changes(Some(&v1), Some(&v2)),
        git_dirty: Some(true),
        ..base("2026-11-24T15:30:00Z", "run-2", "bob")
    })
    .expect("append");
}

#[test]
fn audit_show_is_readable_history_with_filters_and_json() {
    let repo = Repo::new();
    fixture_log(&repo);
    let all = repo.run(&["audit", "show"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    insta::assert_snapshot!("audit_show_all", all.stdout);

    let run2 = repo.run(&["audit", "show", "--run", "run-2"]);
    assert!(run2.stdout.starts_with("#3 "), "{}", run2.stdout);
    assert_eq!(
        run2.stdout.lines().filter(|l| l.starts_with('#')).count(),
        1
    );
    let since = repo.run(&["audit", "show", "--since", "2026-11-21"]);
    assert!(since.stdout.starts_with("#3 "), "{}", since.stdout);
    let none = repo.run(&["audit", "show", "--kind", "Program"]);
    assert_eq!(none.stdout, "");
    let named = repo.run(&[
        "audit",
        "show",
        "--name",
        "Recording*",
        "--since",
        "2026-11-20T09:00:01Z",
    ]);
    let blocks = |out: &str| out.lines().filter(|l| l.starts_with('#')).count();
    assert_eq!(blocks(&named.stdout), 2, "{}", named.stdout);

    let json = repo.run(&["audit", "show", "--format", "json", "--run", "run-2"]);
    let v: Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    assert_eq!(v[0]["actor"], "bob");
    assert_eq!(
        v[0]["changes"]["description"]["to"],
        "Agent states the recording"
    );
    insta::assert_snapshot!("audit_show_json_run2", json.stdout);

    let bad = repo.run(&["audit", "show", "--since", "yesterday"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("--since"), "{}", bad.stderr);
}

/// An auditor can still read the history up to a tampered line; the tampering is named.
#[test]
fn audit_show_on_a_broken_log_shows_the_intact_history_and_fails() {
    let repo = Repo::new();
    fixture_log(&repo);
    let log = repo.read("speechops-audit.jsonl");
    let mut lines: Vec<String> = log.lines().map(str::to_string).collect();
    lines[2] = lines[2].replacen("\"actor\":\"bob\"", "\"actor\":\"eve\"", 1);
    repo.write("speechops-audit.jsonl", &(lines.join("\n") + "\n"));
    let show = repo.run(&["audit", "show"]);
    assert_eq!(show.code, 1);
    assert!(
        show.stdout.contains("#1 ") && show.stdout.contains("#2 "),
        "{}",
        show.stdout
    );
    assert!(!show.stdout.contains("#3 "), "{}", show.stdout);
    assert!(show.stderr.contains("line 3"), "{}", show.stderr);
}

/// Issue 28: `audit report` is one row per change (intent, result and publish folded),
/// objects followed across renames by id, in every format an auditor asks for.
#[test]
fn the_report_is_one_row_per_change_and_follows_renames() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(2, 1, "v1");
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{run:?}");
    repo.write(
        "rules/topics/t0001.yaml",
        "kind: Topic\nname: Renamed topic\nrenamedFrom: Topic 0001\ndialect: en-US\ntags: [generated]\nphrases:\n  - text: phrase 0 of Topic 0001 v1\n",
    );
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = repo.run(&["audit", "report"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout
            .contains("create + publish Topic \"Topic 0001\" (now \"Renamed topic\"): ok"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("update + publish Topic \"Renamed topic\": ok"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("3 change(s)."), "{}", text.stdout);
    let csv = repo.run(&["audit", "report", "--format", "csv"]);
    assert_eq!(csv.stdout.lines().count(), 4, "{}", csv.stdout);
    let html = repo.run(&["audit", "report", "--format", "html"]);
    assert!(
        html.stdout.starts_with("<!DOCTYPE html>")
            && html.stdout.contains("<td>Renamed topic</td>")
    );
    let json = repo.run(&["audit", "report", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["changes"].as_array().map(Vec::len), Some(3), "{v}");
    let md = repo.run(&["audit", "report", "--format", "markdown"]);
    assert!(md.stdout.contains("| time | target |"), "{}", md.stdout);
    let later = repo.run(&["audit", "report", "--since", "2099-01-01"]);
    assert!(later.stdout.contains("0 change(s)."), "{}", later.stdout);
    // Formats are per command: html belongs to the report only.
    assert_eq!(repo.run(&["validate", "--format", "html"]).code, 1);
}

/// Issue 28: `audit org` reads Genesys's own audit records of the managed objects and
/// reconciles them with the log: speechops's writes are matched, anything else is
/// reported as made outside speechops with who did it and what changed (exit 1).
#[test]
fn audit_org_matches_speechops_writes_and_reports_changes_made_outside() {
    use speechops::kinds::topic::wire::{TopicRequest, WirePhrase};
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(2, 1, "v1");
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{run:?}");
    let clean = repo.run_against(&sandbox, &["audit", "org", "--format", "json"]);
    assert_eq!(clean.code, 0, "{clean:?}");
    let v: Value = serde_json::from_str(&clean.stdout).expect("json");
    assert_eq!(v["matched"], 4, "2 creates and 2 publishes: {v}");
    assert_eq!(v["outside"], 0, "{v}");

    // Someone edits a managed topic through the API with another tool, and a person
    // edits one in the Genesys UI; an unmanaged topic is edited too.
    let client = sandbox.client();
    let topics = block_on(client.list_topics()).expect("list");
    let t0 = topics
        .iter()
        .find(|t| t.name == "Topic 0000")
        .expect("t0")
        .id
        .clone();
    let t1 = topics
        .iter()
        .find(|t| t.name == "Topic 0001")
        .expect("t1")
        .id
        .clone();
    block_on(client.update_topic(
        &t0,
        &TopicRequest {
            name: "Topic 0000".into(),
            description: "edited with another tool".into(),
            strictness: "72".into(),
            matching_type: "Lexical".into(),
            tags: vec!["generated".into()],
            dialect: "en-US".into(),
            participants: "All".into(),
            phrases: vec![WirePhrase {
                text: "phrase 0 of Topic 0000 v1".into(),
                strictness: None,
                sentiment: None,
                is_ai_generated: None,
            }],
        },
    ))
    .expect("edit");
    let inject = |body: Value| {
        support::block_on(async {
            reqwest::Client::new()
                .post(format!("{}/__sandbox/audits", sandbox.url))
                .json(&body)
                .send()
                .await
                .expect("inject")
                .status()
                .as_u16()
        })
    };
    assert_eq!(
        inject(serde_json::json!({
            "user": {"id": "u-42", "name": "Jane Admin"},
            "client": {"id": "genesys-ui"},
            "action": "Update",
            "entity": {"id": t1, "name": "Topic 0001"},
            "entityType": "Topic",
            "propertyChanges": [{"property": "phrases", "oldValues": ["phrase 0 of Topic 0001 v1"], "newValues": ["phrase 0 of Topic 0001 v1", "scam"]}]
        })),
        200
    );
    assert_eq!(
        inject(
            serde_json::json!({"user": {"id": "u-7", "name": "Not Ours"}, "action": "Update",
            "entity": {"id": "unmanaged-1"}, "entityType": "Topic"})
        ),
        200
    );
    let run = repo.run_against(&sandbox, &["audit", "org"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("OUTSIDE")
            && run.stdout.contains("by Jane Admin: not made by speechops"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "phrases: [\"phrase 0 of Topic 0001 v1\"] -> [\"phrase 0 of Topic 0001 v1\", \"scam\"]"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "Update Topic \"Topic 0000\" [id {t0}] by OAuth client {}",
            support::CLIENT_ID
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("4 matched, 2 made outside speechops."),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("Not Ours"),
        "unmanaged objects are left out: {}",
        run.stdout
    );
    let md = repo.run_against(&sandbox, &["audit", "org", "--format", "markdown"]);
    assert!(md.stdout.contains("⚠️ **outside**"), "{}", md.stdout);
    let far = repo.run_against(&sandbox, &["audit", "org", "--since", "30d"]);
    assert_eq!(far.code, 1);
    assert!(
        far.stderr.contains("reaches back 14 days"),
        "{}",
        far.stderr
    );
}

/// Issue 28: the chain head is signed with a key only the apply environment holds. A log
/// rewritten and re-chained (with its anchor) passes the plain verify but fails
/// `audit verify --key`; so does a tail written by a run without the key.
#[test]
fn a_signed_head_catches_a_rewritten_and_rechained_log() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    let keys = repo.run(&["audit", "keygen"]);
    assert_eq!(keys.code, 0, "{keys:?}");
    let private = keys
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("SPEECHOPS_AUDIT_SIGNING_KEY="))
        .expect("private key")
        .to_string();
    let public = keys
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("public key: "))
        .expect("public key")
        .to_string();
    repo.write_topics(2, 1, "v1");
    let signed_env = [
        ("GENESYSCLOUD_OAUTHCLIENT_ID", support::CLIENT_ID),
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET", support::CLIENT_SECRET),
        ("SPEECHOPS_AUDIT_SIGNING_KEY", private.as_str()),
    ];
    let run = repo.run_env(
        &["apply", "--auto-approve", "--api-url", &sandbox.url, "-vvv"],
        &signed_env,
    );
    assert_eq!(run.code, 0, "{run:?}");
    for text in [
        &run.stdout,
        &run.stderr,
        &repo.read("speechops.lock"),
        &repo.read("speechops-audit.jsonl"),
    ] {
        assert!(!text.contains(&private), "the private key leaked");
    }
    let ok = repo.run(&["audit", "verify", "--key", &public]);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(
        ok.stdout
            .contains("is signed by the holder of the signing key"),
        "{}",
        ok.stdout
    );
    let other_key = repo.run(&["audit", "keygen"]);
    let other_public = other_key
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("public key: "))
        .expect("public key")
        .to_string();
    assert_eq!(
        repo.run(&["audit", "verify", "--key", &other_public]).code,
        1
    );

    // Rewrite the whole log (drop its last change), re-chain every line and re-anchor
    // the lockfile: the chain alone cannot tell.
    let log = repo.read("speechops-audit.jsonl");
    let mut prev = "0".repeat(64);
    let mut lines = Vec::new();
    let kept: Vec<&str> = log.lines().collect();
    for line in &kept[..kept.len() - 2] {
        let mut v: serde_json::Map<String, Value> = serde_json::from_str(line).expect("line");
        v.remove("hash");
        v.insert("prevHash".into(), Value::String(prev.clone()));
        let body = serde_json::to_string(&v).expect("json");
        let hash = sha256_hex(body.as_bytes());
        lines.push(format!(
            "{},\"hash\":\"{hash}\"}}",
            body.strip_suffix('}').expect("obj")
        ));
        prev = hash;
    }
    repo.write("speechops-audit.jsonl", &(lines.join("\n") + "\n"));
    let mut lock: Value = serde_json::from_str(&repo.read("speechops.lock")).expect("lock");
    lock["audit"]["hash"] = Value::String(prev);
    lock["audit"]["seq"] = Value::from(lines.len());
    repo.write(
        "speechops.lock",
        &serde_json::to_string_pretty(&lock).expect("json"),
    );
    assert_eq!(
        repo.run(&["audit", "verify"]).code,
        0,
        "the plain chain check passes"
    );
    let caught = repo.run(&["audit", "verify", "--key", &public]);
    assert_eq!(caught.code, 1, "{caught:?}");
    assert!(
        caught.stderr.contains("does not verify with this key"),
        "{}",
        caught.stderr
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    speechops::model::sha256_hex(bytes)
}
