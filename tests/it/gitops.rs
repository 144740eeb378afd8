//! The reconcile workflow's shell steps, run locally with a simulated GitHub
//! environment against a sandbox; and the import round trip.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, Repo, Sandbox, Scripted, block_on};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".github/speechops")
        .join(name)
}

/// Runs a workflow script in the repo with a simulated GitHub Actions environment.
fn step(repo: &Repo, sandbox: &Sandbox, name: &str, extra_env: &[(&str, &str)]) -> support::Run {
    let mut cmd = Command::new("bash");
    cmd.arg(script(name))
        .current_dir(repo.path())
        .env("SPEECHOPS_BIN", support::bin())
        .env("SPEECHOPS_ARGS", format!("--api-url {}", sandbox.url))
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", support::CLIENT_ID)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", support::CLIENT_SECRET)
        .env("GITHUB_STEP_SUMMARY", repo.path().join("summary.md"))
        .env("GITHUB_OUTPUT", repo.path().join("output.txt"))
        .env("GITHUB_ACTOR", "octo-reviewer")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("GITHUB_REPOSITORY", "acme/speech-rules")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("NO_COLOR", "1");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    support::run(&mut cmd)
}

/// A simulated GitHub API for the merge job: the commit came from pull request #7 with
/// these labels (JSON array), whose sticky comment holds the plan last written by
/// plan.sh (.speechops-ci/plan.md).
fn merged_pr(repo: &Repo, labels: &str) -> Scripted {
    let plan =
        std::fs::read_to_string(repo.path().join(".speechops-ci/plan.md")).unwrap_or_default();
    let comment = serde_json::json!([
        // Someone pasting a plan with another digest does not count: only the bot's.
        {"id": 41, "user": {"login": "mallory", "type": "User"}, "body": "<!-- speechops-plan -->\n<!-- speechops-digest: 0000000000000000000000000000000000000000000000000000000000000000 -->"},
        {"id": 42, "user": {"login": "github-actions[bot]", "type": "Bot"}, "body": format!("<!-- speechops-plan -->\n{plan}")}
    ])
    .to_string();
    let pulls = format!(
        r#"[{{"number": 6, "merged_at": null, "labels": []}}, {{"number": 7, "merged_at": "2026-11-25T10:00:00Z", "labels": {labels}}}]"#
    );
    Scripted::start(move |req| {
        match (req.method.as_str(), req.path.as_str()) {
        (
            "GET",
            "/repos/acme/speech-rules/commits/0123456789abcdef0123456789abcdef01234567/pulls",
        ) => (200, pulls.clone()),
        ("GET", p) if p.starts_with("/repos/acme/speech-rules/issues/7/comments") => {
            (200, comment.clone())
        }
        ("GET", "/repos/acme/speech-rules/pulls/7") => (
            200,
            r#"{"number": 7, "html_url": "https://github.com/acme/speech-rules/pull/7", "user": {"login": "alice"}, "merged_by": {"login": "bob"}}"#.to_string(),
        ),
        // carol approved; dave asked for changes, then approved; erin approved, then
        // asked for changes (not an approver).
        ("GET", "/repos/acme/speech-rules/pulls/7/reviews") => (
            200,
            r#"[{"user": {"login": "carol"}, "state": "APPROVED"},
                {"user": {"login": "dave"}, "state": "CHANGES_REQUESTED"},
                {"user": {"login": "dave"}, "state": "APPROVED"},
                {"user": {"login": "erin"}, "state": "APPROVED"},
                {"user": {"login": "erin"}, "state": "CHANGES_REQUESTED"},
                {"user": {"login": "frank"}, "state": "COMMENTED"}]"#
                .to_string(),
        ),
        _ => (404, "{}".to_string()),
    }
    })
}

fn take(repo: &Repo, file: &str) -> String {
    let text = std::fs::read_to_string(repo.path().join(file)).unwrap_or_default();
    let _ = std::fs::remove_file(repo.path().join(file));
    text
}

#[test]
fn reconcile_workflow_steps_plan_comment_apply_and_drift() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(3, 2, "v1");

    // Pull request: plan.
    let plan = step(&repo, &sandbox, "plan.sh", &[]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let output = take(&repo, "output.txt");
    assert!(
        output.contains("exitcode=2") && output.contains("changes=true"),
        "{output}"
    );
    let summary = take(&repo, "summary.md");
    assert!(summary.contains("### speechops plan for"), "{summary}");
    assert!(summary.contains("Plan: 3 to create"), "{summary}");
    assert!(repo.path().join(".speechops-ci/plan.json").exists());

    // Sticky comment: created the first time, updated in place afterwards.
    let github = Scripted::start(|req| match (req.method.as_str(), req.path.as_str()) {
        ("GET", p) if p.starts_with("/repos/acme/speech-rules/issues/7/comments") => {
            (200, r#"[{"id": 1, "body": "unrelated"}]"#.to_string())
        }
        ("POST", "/repos/acme/speech-rules/issues/7/comments") => {
            (201, r#"{"id": 99}"#.to_string())
        }
        _ => (404, "{}".to_string()),
    });
    let env = [
        ("GITHUB_API_URL", github.url.as_str()),
        ("GH_TOKEN", "ghs_faketoken"),
        ("PR_NUMBER", "7"),
    ];
    let comment = step(&repo, &sandbox, "comment.sh", &env);
    assert_eq!(comment.code, 0, "{}\n{}", comment.stdout, comment.stderr);
    let reqs = github.seen();
    let post = reqs.iter().find(|r| r.method == "POST").expect("a POST");
    let body: serde_json::Value = serde_json::from_str(&post.body).unwrap();
    assert!(
        body["body"]
            .as_str()
            .unwrap()
            .starts_with("<!-- speechops-plan -->")
    );
    assert!(body["body"].as_str().unwrap().contains("Plan: 3 to create"));
    assert!(
        post.headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "Bearer ghs_faketoken")
    );

    let github = Scripted::start(|req| {
        match (req.method.as_str(), req.path.as_str()) {
        ("GET", _) => (
            200,
            r#"[{"id": 1, "body": "x"}, {"id": 42, "user": {"login": "github-actions[bot]", "type": "Bot"}, "body": "<!-- speechops-plan -->\nold"}]"#
                .to_string(),
        ),
        ("PATCH", "/repos/acme/speech-rules/issues/comments/42") => (200, "{}".to_string()),
        _ => (404, "{}".to_string()),
    }
    });
    let env = [
        ("GITHUB_API_URL", github.url.as_str()),
        ("GH_TOKEN", "ghs_faketoken"),
        ("PR_NUMBER", "7"),
    ];
    let comment = step(&repo, &sandbox, "comment.sh", &env);
    assert_eq!(comment.code, 0, "{}\n{}", comment.stdout, comment.stderr);
    // (Besides asking who the token is: GET /user, which a workflow token is refused.)
    let methods: Vec<String> = github
        .seen()
        .iter()
        .filter(|r| r.path != "/user")
        .map(|r| r.method.clone())
        .collect();
    assert_eq!(
        methods,
        vec!["GET", "PATCH"],
        "exactly one comment, updated in place"
    );

    // Push to main: apply what the pull request's comment reviewed.
    let github = merged_pr(&repo, "[]");
    let env = [
        ("GITHUB_API_URL", github.url.as_str()),
        ("GH_TOKEN", "ghs_faketoken"),
    ];
    let apply = step(&repo, &sandbox, "apply.sh", &env);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    let summary = take(&repo, "summary.md");
    assert!(
        summary.contains("Apply complete: 6 done, 0 failed"),
        "{summary}"
    );
    let audit = repo.read("speechops-audit.jsonl");
    assert!(audit.contains("\"actor\":\"octo-reviewer\""), "{audit}");
    // Issue 28: who proposed, merged and approved it is in every entry of the run.
    for line in audit.lines() {
        let e: serde_json::Value = serde_json::from_str(line).expect("entry");
        assert_eq!(
            e["pullRequest"],
            serde_json::json!({"number": 7, "url": "https://github.com/acme/speech-rules/pull/7",
                "author": "alice", "mergedBy": "bob", "approvers": ["carol", "dave"]}),
            "{line}"
        );
    }
    let show = repo.run(&["audit", "show"]);
    assert!(
        show.stdout.contains("pull request #7 (https://github.com/acme/speech-rules/pull/7) by alice, merged by bob, approved by carol, dave"),
        "{}",
        show.stdout
    );
    assert!(audit.contains("\"gitCommit\":\"0123456789abcdef0123456789abcdef01234567\""));

    // Schedule: no drift, then drift after an out-of-band change.
    let drift = step(&repo, &sandbox, "drift.sh", &[]);
    assert_eq!(drift.code, 0, "{}\n{}", drift.stdout, drift.stderr);
    assert!(take(&repo, "output.txt").contains("drift=false"));
    let client = sandbox.client();
    let id = block_on(client.list_topics()).unwrap()[0].id.clone();
    block_on(client.delete_topic(&id)).unwrap();
    let drift = step(&repo, &sandbox, "drift.sh", &[]);
    assert_eq!(drift.code, 1, "{}", drift.stdout);
    assert!(take(&repo, "output.txt").contains("drift=true"));
    assert!(take(&repo, "summary.md").contains("drifted"));
}

#[test]
fn commit_state_pushes_the_lockfile_back() {
    let remote = tempfile::tempdir().unwrap();
    let git = |dir: &Path, args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    git(remote.path(), &["init", "--bare", "-q", "-b", "main"]);
    let repo = Repo::new();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    git(
        repo.path(),
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "init",
        ],
    );
    git(
        repo.path(),
        &["remote", "add", "origin", remote.path().to_str().unwrap()],
    );
    repo.write("speechops.lock", "{}\n");
    let run = support::run(
        Command::new("bash")
            .arg(script("commit-state.sh"))
            .current_dir(repo.path())
            .env("GITHUB_REF_NAME", "main"),
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let log = git(remote.path(), &["log", "--format=%s", "main"]);
    assert!(log.starts_with("speechops: record apply"), "{log}");
    // Nothing changed: no new commit.
    let run = support::run(
        Command::new("bash")
            .arg(script("commit-state.sh"))
            .current_dir(repo.path()),
    );
    assert!(run.stdout.contains("state unchanged"), "{}", run.stdout);
}

#[test]
fn import_round_trip_adopts_an_existing_org() {
    let sandbox = Sandbox::with_creds(&[]);
    let client = sandbox.client();
    // Seed 50 topics and 3 programs out of band.
    let ids: Vec<String> = block_on(async {
        let mut ids = Vec::new();
        for i in 0..50 {
            let t = client
                .create_topic(&speechops::kinds::topic::wire::TopicRequest {
                    name: format!("Seeded topic {i:02}"),
                    description: if i % 2 == 0 {
                        format!("seeded {i}")
                    } else {
                        String::new()
                    },
                    strictness: ["55", "72", "85"][i % 3].to_string(),
                    matching_type: ["Lexical", "Semantic"][i % 2].to_string(),
                    tags: vec![format!("t{}", i % 4), "seeded".into()],
                    dialect: ["en-US", "en-GB"][i % 2].to_string(),
                    participants: ["All", "Internal", "External"][i % 3].to_string(),
                    phrases: (0..3)
                        .map(|p| speechops::kinds::topic::wire::WirePhrase {
                            text: format!("seeded phrase {p} for {i}"),
                            strictness: Some(["55", "72", "85", "90"][(i + p) % 4].to_string()),
                            sentiment: Some(
                                ["Unspecified", "Positive", "Neutral", "Negative"][p % 4]
                                    .to_string(),
                            ),
                            is_ai_generated: (p == 1).then_some(true),
                        })
                        .collect(),
                })
                .await
                .expect("seed topic");
            ids.push(t.value.id);
        }
        for p in 0..3 {
            client
                .create_program(&speechops::kinds::program::wire::ProgramRequest {
                    name: format!("Seeded program {p}"),
                    description: String::new(),
                    topic_ids: ids[p * 10..p * 10 + 5].to_vec(),
                    tags: vec!["seeded".into()],
                })
                .await
                .expect("seed program");
        }
        ids
    });
    assert_eq!(ids.len(), 50);

    let repo = Repo::new();
    for (kind, out) in [("Topic", "rules/topics"), ("Program", "rules/programs")] {
        let run = repo.run_against(&sandbox, &["import", "--kind", kind, "--out", out]);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    }
    assert_eq!(
        std::fs::read_dir(repo.path().join("rules/topics"))
            .unwrap()
            .count(),
        50
    );
    assert_eq!(
        std::fs::read_dir(repo.path().join("rules/programs"))
            .unwrap()
            .count(),
        3
    );
    let validate = repo.run(&["validate", "--strict"]);
    assert_eq!(validate.code, 0, "{}\n{}", validate.stdout, validate.stderr);
    // Issue 26: import writes exactly fmt's layout.
    let fmt = repo.run(&["fmt", "--check"]);
    assert_eq!(fmt.code, 0, "{}\n{}", fmt.stdout, fmt.stderr);

    let plan = repo.run_against(&sandbox, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);

    // A second import is stable: same files, same lockfile.
    let one = repo.read("rules/topics/topic-seeded-topic-07.yaml");
    let lock = repo.read("speechops.lock");
    let run = repo.run_against(
        &sandbox,
        &["import", "--kind", "Topic", "--out", "rules/topics"],
    );
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("(0 file(s) written,"), "{}", run.stdout);
    assert!(
        run.stdout.contains("50 already up to date"),
        "{}",
        run.stdout
    );
    assert_eq!(one, repo.read("rules/topics/topic-seeded-topic-07.yaml"));
    // --force writes the same layout again.
    let forced = repo.run_against(
        &sandbox,
        &[
            "import",
            "--kind",
            "Topic",
            "--out",
            "rules/topics",
            "--force",
        ],
    );
    assert_eq!(forced.code, 0);
    assert_eq!(one, repo.read("rules/topics/topic-seeded-topic-07.yaml"));
    assert_eq!(repo.run(&["fmt", "--check"]).code, 0);
    assert_eq!(lock, repo.read("speechops.lock"));
}

/// Issue 12: the reconcile workflow never hands org credentials to code from a fork.
/// No `pull_request_target`; every job that sees a secret either does not run on pull
/// requests or runs only for branches of the repository itself; forks get `fork-check`,
/// which validates without credentials and explains why in the job summary.
#[test]
fn reconcile_workflow_never_gives_credentials_to_forks() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows/speechops-reconcile.yml");
    let text = std::fs::read_to_string(&path).expect("workflow");
    let doc: serde_json::Value = serde_saphyr::from_str(&text).expect("workflow YAML");
    let on = &doc["on"];
    assert!(on.get("pull_request_target").is_none(), "{on}");
    assert!(!text.contains("pull_request_target:"));
    let top_env = doc["env"].to_string();
    assert!(
        !top_env.contains("secrets."),
        "secrets at workflow level reach every job: {top_env}"
    );
    let same_repo = "github.event.pull_request.head.repo.full_name == github.repository";
    let jobs = doc["jobs"].as_object().expect("jobs");
    for (name, job) in jobs {
        let cond = job["if"].as_str().unwrap_or_default();
        let runs_on_prs = cond.is_empty() || cond.contains("'pull_request'");
        if job.to_string().contains("secrets.") && runs_on_prs {
            assert!(
                cond.contains(same_repo),
                "job {name} gives secrets to pull requests from forks: {cond}"
            );
        }
    }
    // Jobs that run a branch's own scripts (plan, drift) get the read-only client; the
    // write client is only in the apply job, behind a protected environment.
    for name in ["plan", "drift"] {
        let env = jobs[name]["env"].to_string();
        assert!(
            env.contains("secrets.GENESYSCLOUD_READONLY_OAUTHCLIENT_ID"),
            "{name}: {env}"
        );
        assert!(
            !env.contains("secrets.GENESYSCLOUD_OAUTHCLIENT_ID"),
            "{name}: {env}"
        );
    }
    assert_eq!(jobs["apply"]["environment"], "speechops-apply");
    let fork = &jobs["fork-check"];
    assert!(
        fork["if"]
            .as_str()
            .unwrap_or_default()
            .contains("github.event.pull_request.head.repo.full_name != github.repository")
    );
    assert!(!fork.to_string().contains("secrets."));

    // The fork check validates and says why there is no plan.
    let repo = Repo::new();
    repo.write("rules/t.yaml", &support::topic_yaml("Fork topic", 1, "v"));
    let run = Command::new("bash")
        .arg(script("fork-check.sh"))
        .current_dir(repo.path())
        .env("SPEECHOPS_BIN", support::bin())
        .env("GITHUB_STEP_SUMMARY", repo.path().join("summary.md"))
        .env_remove("GENESYSCLOUD_OAUTHCLIENT_ID")
        .env_remove("GENESYSCLOUD_OAUTHCLIENT_SECRET")
        .output()
        .expect("fork-check.sh");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary = take(&repo, "summary.md");
    assert!(summary.contains("from a fork"), "{summary}");
    assert!(
        summary.contains("never receive the org's credentials"),
        "{summary}"
    );
}

/// Issue 14, 23: merge applies only what was reviewed on the pull request. When the
/// repository or the org changed in between, the reviewed changes whose objects did not
/// move are applied, and nothing nobody reviewed.
#[test]
fn merge_applies_only_the_reviewed_changes_when_something_else_landed() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(2, 1, "v1");
    let plan = step(&repo, &sandbox, "plan.sh", &[]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let github = merged_pr(&repo, "[]");
    // Something else lands before the merge job runs.
    repo.write_topics(3, 1, "v1");
    let env = [
        ("GITHUB_API_URL", github.url.as_str()),
        ("GH_TOKEN", "ghs_faketoken"),
    ];
    let _ = take(&repo, "summary.md");
    let apply = step(&repo, &sandbox, "apply.sh", &env);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        apply
            .stderr
            .contains("not applied, never reviewed: create Topic \"Topic 0002\""),
        "{}",
        apply.stderr
    );
    let summary = take(&repo, "summary.md");
    assert!(summary.contains("#7"), "{summary}");
    let mut names: Vec<String> = block_on(sandbox.client().list_topics())
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    names.sort();
    assert_eq!(names, ["Topic 0000", "Topic 0001"]);

    // No reviewed plan at all (a direct push): nothing applied either.
    let github = Scripted::start(|_| (200, "[]".to_string()));
    let env = [
        ("GITHUB_API_URL", github.url.as_str()),
        ("GH_TOKEN", "ghs_faketoken"),
    ];
    let apply = step(&repo, &sandbox, "apply.sh", &env);
    assert_eq!(apply.code, 1);
    assert!(
        apply.stderr.contains("no pull request was merged"),
        "{}",
        apply.stderr
    );
}

/// Issue 14: a guard fails the pull request's check (not the merge), and the only way
/// past it in CI is a label reviewers see, honoured by plan and merge alike.
#[test]
fn guard_overrides_come_from_pull_request_labels_in_plan_and_merge() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(10, 1, "v1");
    assert_eq!(
        repo.run_against(&sandbox, &["apply", "--auto-approve"])
            .code,
        0
    );
    repo.write_topics(10, 1, "v2");

    let plan = step(&repo, &sandbox, "plan.sh", &[]);
    assert_eq!(
        plan.code, 1,
        "the check fails before merge: {}",
        plan.stdout
    );
    assert!(take(&repo, "output.txt").contains("exitcode=3"));
    let summary = take(&repo, "summary.md");
    assert!(
        summary.contains("apply would refuse this plan"),
        "{summary}"
    );
    assert!(summary.contains("speechops:force"), "{summary}");
    assert!(
        summary.contains("Guard (override: --force)"),
        "the plan is still shown: {summary}"
    );

    let event = repo.path().join("event.json");
    std::fs::write(
        &event,
        r#"{"pull_request": {"number": 7, "labels": [{"name": "speechops:force"}]}}"#,
    )
    .expect("event");
    let event = event.to_string_lossy().to_string();
    let plan = step(
        &repo,
        &sandbox,
        "plan.sh",
        &[("GITHUB_EVENT_PATH", event.as_str())],
    );
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(take(&repo, "summary.md").contains("Planned with the guard overrides `--force`"));

    // The merge job honours the same label (and applies), and without it refuses.
    let github = merged_pr(&repo, r#"[{"name": "speechops:force"}]"#);
    let env = [
        ("GITHUB_API_URL", github.url.as_str()),
        ("GH_TOKEN", "ghs_faketoken"),
    ];
    let apply = step(&repo, &sandbox, "apply.sh", &env);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert!(take(&repo, "summary.md").contains("Apply complete: 20 done"));
}

/// Issue 14: import never overwrites a file it did not write or that was edited since
/// (without --force), never writes a second copy of a spec that lives elsewhere in the
/// tree, and says so plainly when --name matches nothing.
#[test]
fn import_keeps_edited_files_finds_specs_anywhere_and_reports_no_match() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write(
        "rules/team-a/greeting.yaml",
        &support::topic_yaml("Greeting", 1, "v1"),
    );
    repo.write(
        "rules/team-a/farewell.yaml",
        &support::topic_yaml("Farewell", 1, "v1"),
    );
    assert_eq!(
        repo.run_against(&sandbox, &["apply", "--auto-approve"])
            .code,
        0
    );

    // Specs elsewhere in the tree: no second copy.
    let run = repo.run_against(
        &sandbox,
        &["import", "--kind", "Topic", "--out", "rules/imported"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("its spec is at rules/team-a/greeting.yaml"),
        "{}",
        run.stdout
    );
    assert!(
        !repo
            .path()
            .join("rules/imported/topic-greeting.yaml")
            .exists()
    );
    let validate = repo.run(&["validate"]);
    assert_eq!(validate.code, 0, "no duplicate names: {}", validate.stderr);

    // A file import wrote and someone then edited is kept; --force replaces it.
    std::fs::remove_file(repo.path().join("rules/team-a/farewell.yaml")).expect("rm");
    let run = repo.run_against(
        &sandbox,
        &[
            "import",
            "--kind",
            "Topic",
            "--name",
            "Farewell",
            "--out",
            "rules/imported",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let path = "rules/imported/topic-farewell.yaml";
    let imported = repo.read(path);
    let edited = imported.replace("tags:", "# reviewed by compliance\ntags:");
    repo.write(path, &edited);
    let run = repo.run_against(
        &sandbox,
        &[
            "import",
            "--kind",
            "Topic",
            "--name",
            "Farewell",
            "--out",
            "rules/imported",
        ],
    );
    assert_eq!(run.code, 0);
    assert!(run.stderr.contains("not overwritten"), "{}", run.stderr);
    assert_eq!(repo.read(path), edited);
    let run = repo.run_against(
        &sandbox,
        &[
            "import",
            "--kind",
            "Topic",
            "--name",
            "Farewell",
            "--out",
            "rules/imported",
            "--force",
        ],
    );
    assert_eq!(run.code, 0);
    assert_eq!(repo.read(path), imported);
    // A hand-written file at the target path is never taken for an import.
    repo.write(path, &support::topic_yaml("Farewell", 1, "v1"));
    let run = repo.run_against(
        &sandbox,
        &[
            "import",
            "--kind",
            "Topic",
            "--name",
            "Farewell",
            "--out",
            "rules/imported",
        ],
    );
    assert!(
        run.stdout.contains("its spec is at") || run.stderr.contains("not overwritten"),
        "{}{}",
        run.stdout,
        run.stderr
    );

    // A --name that matches nothing: an error, and nothing recorded.
    let lock = repo.read("speechops.lock");
    let run = repo.run_against(
        &sandbox,
        &[
            "import",
            "--kind",
            "Topic",
            "--name",
            "Nope*",
            "--out",
            "rules/imported",
        ],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("no Topic in the org matches --name \"Nope*\""),
        "{}",
        run.stderr
    );
    assert_eq!(repo.read("speechops.lock"), lock);
}

/// A stand-in for GitHub's REST API as an App installation token sees it: `/user` is
/// refused (403), comments are paged 100 at a time (`page`), the plan comments are by
/// `speechops-app[bot]` (type Bot) after 120 others, and each commit maps to its
/// merged pull request.
fn github_with_app_token(merged: Vec<(String, u64)>, plans: Vec<(u64, String)>) -> Scripted {
    Scripted::start(move |req| {
        if req.path == "/user" {
            return (
                403,
                r#"{"message":"Resource not accessible by integration"}"#.to_string(),
            );
        }
        if let Some(rest) = req.path.strip_prefix("/repos/acme/speech-rules/commits/") {
            let sha = rest.trim_end_matches("/pulls");
            let pulls: Vec<serde_json::Value> = merged
                .iter()
                .filter(|(s, _)| s == sha)
                .map(|(_, n)| serde_json::json!({"number": n, "merged_at": "2026-12-01T10:00:00Z", "labels": []}))
                .collect();
            return (200, serde_json::Value::from(pulls).to_string());
        }
        for (pr, plan) in &plans {
            if req.path == format!("/repos/acme/speech-rules/issues/{pr}/comments")
                && req.method == "GET"
            {
                let mut all: Vec<serde_json::Value> = (0..120)
                    .map(|i| serde_json::json!({"id": i, "user": {"login": "dev", "type": "User"}, "body": format!("comment {i}")}))
                    .collect();
                all.push(serde_json::json!({"id": 500 + pr, "user": {"login": "speechops-app[bot]", "type": "Bot"}, "body": format!("<!-- speechops-plan -->\n{plan}")}));
                let page: usize = req
                    .query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("page="))
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(1);
                let chunk: Vec<_> = all.into_iter().skip((page - 1) * 100).take(100).collect();
                return (200, serde_json::Value::from(chunk).to_string());
            }
        }
        if req.method == "POST" || req.method == "PATCH" {
            return (201, r#"{"id": 9999}"#.to_string());
        }
        (404, "{}".to_string())
    })
}

/// Issue 23's done-when, in a simulation of GitHub with `main` protected: 150 new
/// topics reviewed and applied on merge through the git state backend; a fresh clone
/// verifies the audit log and plans clean; two pull requests merged back to back (the
/// first one's run cancelled while pending) both reach the org from one run; the App
/// token and 120 comments work; the comment stays under GitHub's limit.
#[test]
fn github_simulation_with_protected_main_and_the_git_state_backend() {
    let sandbox = Sandbox::with_creds(&[]);
    let server = support::GitServer::start();
    let repo = server.clone_repo();
    repo.write("speechops.yaml", "state:\n  backend: git\n");
    repo.write(
        ".gitignore",
        ".speechops/\n.speechops-ci/\nsummary.md\noutput.txt\n",
    );
    repo.write_topics(150, 2, "v1");
    let plan = step(&repo, &sandbox, "plan.sh", &[]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let pr7 = repo.read(".speechops-ci/plan.md");
    // The comment is updated in place (the old one is on the second page of comments)
    // within GitHub's limit, the digest kept.
    let github = github_with_app_token(Vec::new(), vec![(7, "old plan".to_string())]);
    let env = [
        ("GITHUB_API_URL", github.url.as_str()),
        ("GH_TOKEN", "ghs_apptoken"),
        ("PR_NUMBER", "7"),
    ];
    let comment = step(&repo, &sandbox, "comment.sh", &env);
    assert_eq!(comment.code, 0, "{comment:?}");
    let posted = github
        .seen()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .expect("comment updated");
    assert_eq!(posted.path, "/repos/acme/speech-rules/issues/comments/507");
    let body: serde_json::Value = serde_json::from_str(&posted.body).expect("json");
    let body = body["body"].as_str().expect("body");
    assert!(body.chars().count() <= 65_000, "{}", body.len());
    assert!(body.contains("<!-- speechops-digest: "));

    // Merged (main then protected), applied by the merge job.
    support::git(repo.path(), &["add", "-A"]);
    support::git(repo.path(), &["commit", "--quiet", "-m", "150 topics (#7)"]);
    support::git(repo.path(), &["push", "--quiet", "origin", "HEAD:main"]);
    server.protect_main();
    let c1 = support::git(repo.path(), &["rev-parse", "HEAD"]);
    let github = github_with_app_token(vec![(c1.clone(), 7)], vec![(7, pr7)]);
    let merge_env = |url: &str, sha: &str| {
        vec![
            ("GITHUB_API_URL".to_string(), url.to_string()),
            ("GH_TOKEN".to_string(), "ghs_apptoken".to_string()),
            ("GITHUB_SHA".to_string(), sha.to_string()),
        ]
    };
    let env = merge_env(&github.url, &c1);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let apply = step(&repo, &sandbox, "apply.sh", &env);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        apply.stdout.contains("Apply complete: 300 done, 0 failed"),
        "{}",
        apply.stdout
    );
    let state = step(&repo, &sandbox, "commit-state.sh", &[]);
    assert_eq!(state.code, 0, "{}", state.stderr);
    assert!(
        state.stdout.contains("nothing to commit"),
        "{}",
        state.stdout
    );
    assert_eq!(
        server.tip("main").as_deref(),
        Some(c1.as_str()),
        "main untouched"
    );

    let fresh = server.clone_repo();
    let verify = fresh.run(&["audit", "verify"]);
    assert_eq!(verify.code, 0, "{verify:?}");
    let clean = fresh.run_against(&sandbox, &["plan", "--detailed-exitcode"]);
    assert_eq!(clean.code, 0, "{clean:?}");

    // Two pull requests from the same base, merged back to back; the first merge's
    // run was cancelled while pending, so the second's run covers both.
    repo.write(
        "rules/topics/t0000.yaml",
        &support::topic_yaml("Topic 0000", 3, "v1"),
    );
    assert_eq!(step(&repo, &sandbox, "plan.sh", &[]).code, 0);
    let pr8 = repo.read(".speechops-ci/plan.md");
    repo.write(
        "rules/topics/t0000.yaml",
        &support::topic_yaml("Topic 0000", 2, "v1"),
    );
    repo.write(
        "rules/topics/t0001.yaml",
        &support::topic_yaml("Topic 0001", 3, "v1"),
    );
    assert_eq!(step(&repo, &sandbox, "plan.sh", &[]).code, 0);
    let pr9 = repo.read(".speechops-ci/plan.md");
    repo.write(
        "rules/topics/t0000.yaml",
        &support::topic_yaml("Topic 0000", 3, "v1"),
    );
    // #8 and #9 as two first-parent commits, #8's first.
    support::git(repo.path(), &["add", "rules/topics/t0000.yaml"]);
    support::git(repo.path(), &["commit", "--quiet", "-m", "#8"]);
    let a = support::git(repo.path(), &["rev-parse", "HEAD"]);
    support::git(repo.path(), &["commit", "--quiet", "-am", "#9"]);
    let b = support::git(repo.path(), &["rev-parse", "HEAD"]);
    let github = github_with_app_token(vec![(a, 8), (b.clone(), 9)], vec![(8, pr8), (9, pr9)]);
    let env = merge_env(&github.url, &b);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let apply = step(&repo, &sandbox, "apply.sh", &env);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    let audit = server
        .show("speechops-state", "speechops-audit.jsonl")
        .expect("audit");
    for name in ["Topic 0000", "Topic 0001"] {
        assert!(
            audit.lines().any(|l| l.contains("\"action\":\"update\"")
                && l.contains(&format!("\"name\":\"{name}\""))
                && l.contains("\"status\":\"ok\"")),
            "{name} not updated:\n{}\n{}",
            apply.stdout,
            apply.stderr
        );
    }
    let clean = fresh.run_against(&sandbox, &["audit", "verify"]);
    assert_eq!(clean.code, 0, "{clean:?}");
}

/// A stand-in for GitLab's REST API (v4) and its managed Terraform state: merge
/// request notes (paged, `sort=asc`), the token's user, a commit's merge requests, and
/// the state at `/projects/42/terraform/state/speechops` with GitLab's lock methods.
struct GitLab {
    server: Scripted,
    notes: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

fn gitlab(merged: Vec<(String, u64)>) -> GitLab {
    use std::sync::{Arc, Mutex};
    let (state, _) = support::tf_state(true);
    let notes: Arc<Mutex<Vec<serde_json::Value>>> = Arc::new(Mutex::new(
        (0..130)
            .map(|i| serde_json::json!({"id": i, "author": {"username": "dev"}, "body": format!("note {i}")}))
            .collect(),
    ));
    let n = Arc::clone(&notes);
    let server = Scripted::start(move |req| {
        let token_ok = req
            .headers
            .iter()
            .any(|(k, v)| k == "private-token" && v == "glpat-test-token-123");
        let path = req.path.as_str();
        if path.starts_with("/api/v4/projects/42/terraform/state/speechops") {
            return state(req);
        }
        if !token_ok {
            return (401, r#"{"message":"401 Unauthorized"}"#.to_string());
        }
        if path == "/api/v4/user" {
            return (
                200,
                r#"{"id": 77, "username": "project_42_bot"}"#.to_string(),
            );
        }
        if let Some(rest) = path.strip_prefix("/api/v4/projects/42/repository/commits/") {
            let sha = rest.trim_end_matches("/merge_requests");
            let mrs: Vec<serde_json::Value> = merged
                .iter()
                .filter(|(s, _)| s == sha)
                .map(|(_, iid)| serde_json::json!({"iid": iid, "state": "merged", "labels": []}))
                .collect();
            return (200, serde_json::Value::from(mrs).to_string());
        }
        if path == "/api/v4/projects/42/merge_requests/5" {
            return (200, r#"{"iid": 5, "web_url": "https://gitlab.example.com/acme/rules/-/merge_requests/5", "author": {"username": "alice"}, "merged_by": {"username": "bob"}}"#.to_string());
        }
        if path == "/api/v4/projects/42/merge_requests/5/approvals" {
            return (200, r#"{"approved_by": [{"user": {"username": "dave"}}, {"user": {"username": "carol"}}]}"#.to_string());
        }
        let mut notes = n.lock().expect("notes");
        if path == "/api/v4/projects/42/merge_requests/5/notes" {
            if req.method == "POST" {
                let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
                let id = 1000 + notes.len();
                notes.push(serde_json::json!({"id": id, "author": {"username": "project_42_bot"}, "body": body["body"]}));
                return (201, serde_json::json!({"id": id}).to_string());
            }
            let page: usize = req
                .query
                .split('&')
                .find_map(|kv| kv.strip_prefix("page="))
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let chunk: Vec<_> = notes
                .iter()
                .skip((page - 1) * 100)
                .take(100)
                .cloned()
                .collect();
            return (200, serde_json::Value::from(chunk).to_string());
        }
        if let Some(id) = path.strip_prefix("/api/v4/projects/42/merge_requests/5/notes/")
            && req.method == "PUT"
        {
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
            for note in notes.iter_mut() {
                if note["id"].as_u64().map(|n| n.to_string()).as_deref() == Some(id) {
                    note["body"] = body["body"].clone();
                }
            }
            return (200, "{}".to_string());
        }
        (404, "{}".to_string())
    });
    GitLab { server, notes }
}

fn gitlab_step(
    repo: &Repo,
    sandbox: &Sandbox,
    gl: &GitLab,
    name: &str,
    extra: &[(&str, &str)],
) -> support::Run {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("ci/gitlab/speechops").join(name))
        .current_dir(repo.path())
        .env("SPEECHOPS_BIN", support::bin())
        .env("SPEECHOPS_ARGS", format!("--api-url {}", sandbox.url))
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", support::CLIENT_ID)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", support::CLIENT_SECRET)
        .env("CI_API_V4_URL", format!("{}/api/v4", gl.server.url))
        .env("CI_PROJECT_ID", "42")
        .env("SPEECHOPS_GITLAB_TOKEN", "glpat-test-token-123")
        .env("TF_USERNAME", "gitlab-ci-token")
        .env("TF_PASSWORD", "tf-password-12345")
        .env("GITLAB_USER_LOGIN", "maintainer")
        .env("NO_COLOR", "1");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    support::run(&mut cmd)
}

/// Issue 23: GitLab CI. A merge request gets one plan note (updated in place, found
/// among 130 others); the merge applies the reviewed changes and keeps the state in
/// GitLab-managed Terraform state (http backend, GitLab's lock methods); a fresh
/// checkout plans clean.
#[test]
fn gitlab_merge_request_note_and_merge_apply_with_gitlab_managed_state() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    let base = "${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/terraform/state/speechops";
    let config = format!(
        "state:\n  backend: http\n  address: {base}\n  lockAddress: {base}/lock\n  unlockAddress: {base}/lock\n  lockMethod: POST\n  unlockMethod: DELETE\n  usernameEnv: TF_USERNAME\n  passwordEnv: TF_PASSWORD\n"
    );
    repo.write("speechops.yaml", &config);
    repo.write_topics(2, 1, "v1");
    support::git(repo.path(), &["init", "--quiet", "--initial-branch=main"]);
    support::git(repo.path(), &["add", "-A"]);
    support::git(repo.path(), &["commit", "--quiet", "-m", "!5"]);
    let sha = support::git(repo.path(), &["rev-parse", "HEAD"]);
    let gl = gitlab(vec![(sha.clone(), 5)]);
    let mr = [
        ("CI_MERGE_REQUEST_IID", "5"),
        ("CI_MERGE_REQUEST_LABELS", ""),
    ];
    let plan = gitlab_step(&repo, &sandbox, &gl, "plan.sh", &mr);
    assert_eq!(plan.code, 0, "{plan:?}");
    let plan = gitlab_step(&repo, &sandbox, &gl, "plan.sh", &mr);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(plan.stdout.contains("updated note"), "{}", plan.stdout);
    let ours = gl
        .notes
        .lock()
        .expect("notes")
        .iter()
        .filter(|n| {
            n["body"]
                .as_str()
                .unwrap_or_default()
                .contains("<!-- speechops-plan -->")
        })
        .count();
    assert_eq!(ours, 1, "one sticky note");

    let apply = gitlab_step(
        &repo,
        &sandbox,
        &gl,
        "apply.sh",
        &[("CI_COMMIT_SHA", sha.as_str())],
    );
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(apply.stdout.contains("Apply complete"), "{}", apply.stdout);
    // The state is GitLab's: a checkout with no working copy plans clean.
    let fresh = Repo::new();
    fresh.write("speechops.yaml", &config);
    fresh.write_topics(2, 1, "v1");
    let clean = gitlab_step(&fresh, &sandbox, &gl, "plan.sh", &[]);
    assert_eq!(clean.code, 0, "{clean:?}");
    assert!(clean.stdout.contains("No changes"), "{}", clean.stdout);
    for text in [&apply.stdout, &apply.stderr, &clean.stdout] {
        assert!(!text.contains("glpat-test-token-123") && !text.contains("tf-password-12345"));
    }
}

/// Issue 23: a plan too long for a GitHub comment is cut in the middle; the comment
/// keeps the summary, each change's key and the digest, stays under 65,000 characters
/// even with a refusal text in front, and points to the artifact.
#[test]
fn an_oversized_plan_comment_keeps_its_keys_and_digest_within_the_limit() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    let mut plan = String::from("### speechops: apply would refuse this plan (exit 3)\n\n");
    for i in 0..700 {
        plan.push_str(&format!("<details><summary>+ create Topic \"Topic {i:04}\"</summary>\n\n```diff\n+ phrase {i}\n```\n</details>\n"));
    }
    plan.push_str("\nPlan: 700 to create.\n\n<!-- speechops-changes\n");
    for i in 0..700 {
        plan.push_str(&format!("{i:024x} create Topic \"Topic {i:04}\"\n"));
    }
    let digest = "d".repeat(64);
    plan.push_str(&format!("-->\n<!-- speechops-digest: {digest} -->\n"));
    repo.write(".speechops-ci/plan.md", &plan);
    let github = Scripted::start(|req| match req.method.as_str() {
        "GET" => (200, "[]".to_string()),
        _ => (201, r#"{"id": 1}"#.to_string()),
    });
    let env = [
        ("GITHUB_API_URL", github.url.as_str()),
        ("GH_TOKEN", "ghs_faketoken"),
        ("PR_NUMBER", "7"),
        ("SPEECHOPS_ARTIFACT", "speechops-plan-7"),
    ];
    let run = step(&repo, &sandbox, "comment.sh", &env);
    assert_eq!(run.code, 0, "{run:?}");
    let post = github
        .seen()
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("posted");
    let body: serde_json::Value = serde_json::from_str(&post.body).expect("json");
    let body = body["body"].as_str().expect("body");
    assert!(body.chars().count() <= 65_000, "{}", body.len());
    assert!(body.contains("too long for a comment") && body.contains("speechops-plan-7"));
    let reviewed = speechops::diff::ReviewedPlan::from_text(body).expect("digest kept");
    assert_eq!(reviewed.digest, digest);
    assert_eq!(reviewed.changes.len(), 700, "every key kept");
    assert!(body.contains("Plan: 700 to create."));
}

/// Issue 23: a merge whose reviewed change moved is refused on that change only, and
/// the refusal is posted on the pull request with the way forward.
#[test]
fn a_refused_merge_is_posted_on_the_pull_request() {
    use speechops::kinds::topic::wire::{TopicRequest, WirePhrase};
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(2, 1, "v1");
    assert_eq!(step(&repo, &sandbox, "plan.sh", &[]).code, 0);
    let github = merged_pr(&repo, "[]");
    let env = [
        ("GITHUB_API_URL", github.url.as_str()),
        ("GH_TOKEN", "ghs_faketoken"),
    ];
    assert_eq!(step(&repo, &sandbox, "apply.sh", &env).code, 0);
    // The next pull request edits both topics; one is edited in Genesys before merge.
    repo.write_topics(2, 2, "v1");
    assert_eq!(step(&repo, &sandbox, "plan.sh", &[]).code, 0);
    let client = sandbox.client();
    let topic = block_on(client.list_topics()).expect("list").remove(0);
    block_on(client.update_topic(
        &topic.id,
        &TopicRequest {
            name: topic.name.clone(),
            description: "edited in Genesys".into(),
            strictness: "72".into(),
            matching_type: "Lexical".into(),
            tags: vec!["generated".into()],
            dialect: "en-US".into(),
            participants: "All".into(),
            phrases: vec![WirePhrase {
                text: format!("phrase 0 of {} v1", topic.name),
                strictness: None,
                sentiment: None,
                is_ai_generated: None,
            }],
        },
    ))
    .expect("edit");
    let github = merged_pr(&repo, "[]");
    let env = [
        ("GITHUB_API_URL", github.url.as_str()),
        ("GH_TOKEN", "ghs_faketoken"),
    ];
    let apply = step(&repo, &sandbox, "apply.sh", &env);
    assert_eq!(apply.code, 3, "{apply:?}");
    let refusal = github
        .seen()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/repos/acme/speech-rules/issues/7/comments")
        .expect("a refusal comment");
    assert!(
        refusal.body.contains("part of this merge was not applied"),
        "{}",
        refusal.body
    );
    assert!(refusal.body.contains(&topic.name), "{}", refusal.body);
    assert!(refusal.body.contains("pr: 7"), "{}", refusal.body);
}
