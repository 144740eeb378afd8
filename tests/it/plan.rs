//! `speechops plan` against a real sandbox: output formats, exit codes, request counts.

use crate::support::{self, Repo, Sandbox};

/// Copies the example rules/ of this repository into a temp repo.
fn example_repo() -> Repo {
    let repo = Repo::new();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    copy_dir(&src, &repo.path().join("rules"));
    repo
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn stat(stats: &serde_json::Value, route: &str) -> u64 {
    stats["routes"][route].as_u64().unwrap_or(0)
}

#[test]
fn sandbox_plan_of_the_example_rules_is_a_full_create_plan() {
    let repo = example_repo();
    let run = repo.run(&["plan", "--sandbox", "--detailed-exitcode"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("+ create Topic"), "{}", run.stdout);
    assert!(run.stdout.contains("+ create Program"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("+ create SpeechRule \"Compliance_Greeting_Verification\""),
        "{}",
        run.stdout
    );
    // Everything is created but the org's settings, which always exist: the one
    // update, and no takeover.
    assert!(
        run.stdout
            .contains(" to create, 1 to update, 0 to delete, "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("~ update SpeechAnalyticsSettings \"settings\""),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("TAKEOVER"), "{}", run.stdout);

    insta::assert_snapshot!("example_rules_create_plan", run.stdout);

    // The same inputs give the same bytes.
    let again = repo.run(&["plan", "--sandbox"]);
    assert_eq!(again.code, 0);
    assert_eq!(run.stdout, again.stdout);

    let json = repo.run(&["plan", "--sandbox", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("json plan");
    assert_eq!(doc["formatVersion"], 1);
    assert_eq!(doc["target"], "sandbox");
    assert!(doc["fingerprint"].as_str().unwrap().len() == 64);
    assert!(doc["summary"]["create"].as_u64().unwrap() >= 11);
    assert!(
        doc["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["after"].is_object())
    );

    let md = repo.run(&["plan", "--sandbox", "--format", "markdown"]);
    assert!(
        md.stdout.starts_with("### speechops plan for `sandbox`"),
        "{}",
        md.stdout
    );
    assert!(md.stdout.contains("<details>"));

    // After an apply, the sandbox org persists and the plan is empty.
    let apply = repo.run(&["apply", "--sandbox", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}\n{}", apply.stdout, apply.stderr);
    let after = repo.run(&["plan", "--sandbox", "--detailed-exitcode"]);
    assert_eq!(after.code, 0, "{}", after.stdout);
}

/// Writes `n` program specs `Program 000`.., each holding three of the first `topics` topics.
fn write_programs(repo: &Repo, n: usize, topics: usize) {
    for i in 0..n {
        let members: Vec<String> = (0..3)
            .map(|k| format!("Topic {:04}", (i * 3 + k) % topics))
            .collect();
        repo.write(
            &format!("rules/programs/p{i:03}.yaml"),
            &format!(
                "kind: Program\nname: Program {i:03}\ntopics: [{}]\n",
                members.join(", ")
            ),
        );
    }
}

/// SPEC 8.3/8.4: the listings carry no phrases and no member topics, so only the
/// lockfile (same dateModified, same spec hash) can spare the GETs. 230 programs
/// take three cursor pages of 100.
#[test]
fn warm_plan_of_1000_topics_and_230_programs_costs_at_most_10_requests() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(1000, 1, "v1");
    write_programs(&repo, 230, 1000);
    let apply = repo.run_against(&sandbox, &["apply", "--auto-approve", "--parallelism", "8"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);

    sandbox.post("/__sandbox/stats/reset");
    let plan = repo.run_against(&sandbox, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    let stats = sandbox.get_json("/__sandbox/stats");
    assert_eq!(
        stat(&stats, "GET /api/v2/speechandtextanalytics/topics"),
        2,
        "{stats}"
    );
    assert_eq!(
        stat(&stats, "GET /api/v2/speechandtextanalytics/programs"),
        3,
        "{stats}"
    );
    for route in [
        "GET /api/v2/speechandtextanalytics/topics/{id}",
        "GET /api/v2/speechandtextanalytics/programs/{id}",
    ] {
        assert_eq!(stat(&stats, route), 0, "{route}: {stats}");
    }
    assert_eq!(stat(&stats, "POST /oauth/token"), 1, "{stats}");
    assert!(stats["total"].as_u64().unwrap() <= 10, "{stats}");
}

/// The bug SPEC version 2 fixed: membership read from the listing made every
/// program look changed after an apply. A cold plan (no lockfile) reads each program
/// in full and finds nothing to do; a changed program is the only one read again.
#[test]
fn programs_are_clean_after_apply_and_only_changed_ones_are_read() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(30, 1, "v1");
    write_programs(&repo, 25, 30);
    let apply = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    std::fs::remove_file(repo.path().join("speechops.lock")).expect("remove lockfile");
    let cold = repo.run_against(&sandbox, &["plan"]);
    assert_eq!(cold.code, 0, "{}", cold.stderr);
    assert!(
        cold.stdout
            .contains("Plan: 0 to create, 0 to update, 0 to delete, 0 to publish."),
        "{}",
        cold.stdout
    );
    // Adopt everything again, then change one program.
    let adopt = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(adopt.code, 0, "{}", adopt.stderr);
    repo.write(
        "rules/programs/p007.yaml",
        "kind: Program\nname: Program 007\ntopics: [Topic 0001]\n",
    );
    sandbox.post("/__sandbox/stats/reset");
    let plan = repo.run_against(&sandbox, &["plan"]);
    assert!(
        plan.stdout
            .contains("Plan: 0 to create, 1 to update, 0 to delete, 1 to publish."),
        "{}",
        plan.stdout
    );
    let stats = sandbox.get_json("/__sandbox/stats");
    assert_eq!(
        stat(&stats, "GET /api/v2/speechandtextanalytics/programs/{id}"),
        1,
        "{stats}"
    );
}

#[test]
fn changed_topics_are_fetched_and_nothing_else() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(20, 2, "v1");
    assert_eq!(
        repo.run_against(&sandbox, &["apply", "--auto-approve"])
            .code,
        0
    );
    repo.write(
        "rules/topics/t0003.yaml",
        &support::topic_yaml("Topic 0003", 2, "v2"),
    );
    sandbox.post("/__sandbox/stats/reset");
    let plan = repo.run_against(&sandbox, &["plan"]);
    assert!(
        plan.stdout
            .contains("Plan: 0 to create, 1 to update, 0 to delete, 1 to publish."),
        "{}",
        plan.stdout
    );
    let stats = sandbox.get_json("/__sandbox/stats");
    assert_eq!(
        stat(&stats, "GET /api/v2/speechandtextanalytics/topics/{id}"),
        1,
        "{stats}"
    );
}

#[test]
fn invalid_specs_contact_nothing() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write(
        "rules/bad.yaml",
        "kind: Topic\nname: Bad\ndialect: xx-XX\nphrases:\n  - text: hi\n",
    );
    sandbox.post("/__sandbox/stats/reset");
    let plan = repo.run_against(&sandbox, &["plan"]);
    assert_eq!(plan.code, 1);
    assert!(plan.stderr.contains("bad.yaml:3"), "{}", plan.stderr);
    let apply = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1);
    assert_eq!(sandbox.get_json("/__sandbox/stats")["total"], 0);
}

#[test]
fn missing_credentials_name_the_variables() {
    let repo = Repo::new();
    repo.write_topics(1, 1, "v1");
    let run = repo.run(&["plan", "--region", "eu-west-1"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("GENESYSCLOUD_OAUTHCLIENT_ID"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--sandbox"), "{}", run.stderr);
}

#[test]
fn usage_errors_exit_1_not_2() {
    let repo = Repo::new();
    let run = repo.run(&["plan", "--no-such-flag"]);
    assert_eq!(run.code, 1);
    let run = repo.run(&["--help"]);
    assert_eq!(run.code, 0);
}

/// The spec example in README.md is valid: docs that users copy from must be true.
#[test]
fn readme_spec_example_validates_strictly() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let start = readme
        .find("```yaml\n# yaml-language-server")
        .expect("a yaml example")
        + 8;
    let end = start + readme[start..].find("```").unwrap();
    let repo = Repo::new();
    repo.write("rules/example.yaml", &readme[start..end]);
    let run = repo.run(&["validate", "--strict"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("3 specs"), "{}", run.stdout);
}

#[test]
fn validate_markdown_is_a_pr_ready_report() {
    let repo = Repo::new();
    repo.write(
        "rules/bad.yaml",
        "kind: Topic\nname: Bad\ndialect: xx-XX\nphrases:\n  - text: hi\n",
    );
    let run = repo.run(&["validate", "--format", "markdown"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .starts_with("### speechops validate\n\n❌ invalid: 1 error"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("```text\n") && run.stdout.contains("bad.yaml:3:10"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains('\x1b'));
}

#[test]
fn an_org_without_the_speech_rules_api_gets_an_explanation() {
    let org = support::Scripted::start(|req| match req.path.as_str() {
        "/oauth/token" => (
            200,
            r#"{"access_token":"t","token_type":"bearer","expires_in":3600}"#.to_string(),
        ),
        _ => (
            404,
            r#"{"message":"Resource not found","code":"not.found","status":404}"#.to_string(),
        ),
    });
    let repo = Repo::new();
    repo.write(
        "rules/r.yaml",
        "kind: SpeechRule\nname: Greeting\nphrases:\n  - phrase: hello there\n",
    );
    let run = repo.run_env(
        &["plan", "--api-url", &org.url],
        &[
            ("GENESYSCLOUD_OAUTHCLIENT_ID", "id"),
            ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "secret"),
        ],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("HTTP 404 not.found: Resource not found"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("does not serve /api/v2/speech/rules"),
        "{}",
        run.stderr
    );
    // Only the rules list was needed: no topic or program list for a rules-only tree.
    let paths: Vec<String> = org.seen().iter().map(|s| s.path.clone()).collect();
    assert!(
        paths.iter().all(|p| !p.contains("speechandtextanalytics")),
        "{paths:?}"
    );
}

/// Issue 12: the target name is written to the lockfile, plan files and audit log, so an
/// API URL that carries credentials is refused, and the error does not repeat them.
#[test]
fn api_url_with_credentials_is_refused_and_not_echoed() {
    let repo = example_repo();
    for url in [
        "https://admin:hunter2@api.example.com",
        "https://api.example.com/?access_token=tok-123",
    ] {
        let r = repo.run_env(
            &["plan", "--api-url", url],
            &[("GENESYSCLOUD_ACCESS_TOKEN", "x")],
        );
        assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(all.contains("https://api.example.com"), "{all}");
        assert!(
            !all.contains("hunter2") && !all.contains("tok-123"),
            "{all}"
        );
        assert!(!repo.path().join("speechops.lock").exists());
    }
}
