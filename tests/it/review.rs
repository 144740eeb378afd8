//! Issue 14: what a pull request's plan shows is exactly what merge applies: prune,
//! guards, takeovers, renames, conflicts and drift are all decided in review.

use serde_json::Value;

use crate::support::{self, Repo, Sandbox, block_on};

fn ok(run: &support::Run) {
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

fn topics(sandbox: &Sandbox) -> Vec<String> {
    let mut names: Vec<String> = block_on(sandbox.client().list_topics())
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    names.sort();
    names
}

fn plan_json(repo: &Repo, sandbox: &Sandbox, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["plan", "--format", "json"];
    args.extend_from_slice(extra);
    let run = repo.run_against(sandbox, &args);
    let v = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    (run.code, v)
}

#[test]
fn orphans_are_listed_by_name_and_config_prune_deletes_them() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(3, 1, "v1");
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    std::fs::remove_file(repo.path().join("rules/topics/t0001.yaml")).expect("rm");

    let text = repo.run_against(&sandbox, &["plan"]);
    ok(&text);
    assert!(text.stdout.contains("Orphans"), "{}", text.stdout);
    assert!(
        text.stdout.contains("Topic \"Topic 0001\""),
        "{}",
        text.stdout
    );
    let md = repo.run_against(&sandbox, &["plan", "--format", "markdown"]);
    assert!(
        md.stdout.contains("**Orphans**") && md.stdout.contains("`Topic 0001`"),
        "{}",
        md.stdout
    );
    let (_, json) = plan_json(&repo, &sandbox, &[]);
    assert_eq!(json["orphans"][0]["name"], "Topic 0001", "{json}");

    // The config decides, so the shipped workflow (which passes no --prune) deletes
    // what the reviewed plan showed.
    repo.write("speechops.yaml", "prune: true\n");
    let pruning = repo.run_against(&sandbox, &["plan"]);
    assert!(
        pruning.stdout.contains("- delete Topic \"Topic 0001\""),
        "{}",
        pruning.stdout
    );
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    assert_eq!(topics(&sandbox), vec!["Topic 0000", "Topic 0002"]);
}

#[test]
fn the_empty_guard_trips_only_when_a_plan_deletes_every_managed_object_of_a_kind() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(2, 1, "v1");
    repo.write(
        "rules/p.yaml",
        "kind: Program\nname: Only program\ntopics: [Topic 0000]\n",
    );
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    // The last Program spec goes, without prune: nothing is deleted, so unrelated
    // edits keep applying.
    std::fs::remove_file(repo.path().join("rules/p.yaml")).expect("rm");
    repo.write_topics(2, 1, "v2");
    let plan = repo.run_against(&sandbox, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve", "--force"]));
    // With prune the plan deletes every managed Program: refused, in the plan too.
    let pruned = repo.run_against(&sandbox, &["plan", "--prune"]);
    assert_eq!(pruned.code, 3, "{}", pruned.stderr);
    assert!(pruned.stderr.contains("--allow-empty"), "{}", pruned.stderr);
}

#[test]
fn a_takeover_is_a_guard_shown_loudly_with_its_own_override() {
    use speechops::kinds::topic::wire::{TopicRequest, WirePhrase};
    let sandbox = Sandbox::with_creds(&[]);
    block_on(sandbox.client().create_topic(&TopicRequest {
        name: "Made in the UI".into(),
        description: "someone else's".into(),
        strictness: "72".into(),
        matching_type: "Lexical".into(),
        tags: vec![],
        dialect: "en-US".into(),
        participants: "All".into(),
        phrases: vec![WirePhrase {
            text: "hello".into(),
            strictness: None,
            sentiment: None,
            is_ai_generated: None,
        }],
    }))
    .expect("create");
    let repo = Repo::new();
    repo.write(
        "rules/t.yaml",
        &support::topic_yaml("Made in the UI", 1, "ours"),
    );

    let text = repo.run_against(&sandbox, &["plan"]);
    assert_eq!(text.code, 3, "{}", text.stderr);
    assert!(text.stdout.contains("TAKEOVER"), "{}", text.stdout);
    assert!(text.stderr.contains("--allow-takeover"), "{}", text.stderr);
    let md = repo.run_against(&sandbox, &["plan", "--format", "markdown"]);
    assert!(md.stdout.contains("**Takeover:**"), "{}", md.stdout);
    let (code, json) = plan_json(&repo, &sandbox, &[]);
    assert_eq!(code, 3);
    assert_eq!(json["changes"][0]["takeover"], true, "{json}");
    assert!(
        json["guards"]
            .as_array()
            .expect("guards")
            .iter()
            .any(|g| g["guard"] == "takeover" && g["override"] == "--allow-takeover")
    );

    let refused = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(refused.code, 3);
    let body = block_on(sandbox.client().list_topics()).expect("list");
    assert_eq!(
        body[0].description.as_deref(),
        Some("someone else's"),
        "nothing written"
    );
    // Consent through the config works as the flag does.
    repo.write("speechops.yaml", "takeover: allow\n");
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
}

#[test]
fn a_renamed_from_that_names_nothing_is_an_error_and_a_likely_rename_gets_a_hint() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write("rules/t.yaml", "kind: Topic\nname: Customer complaint\ndialect: en-US\nphrases:\n  - text: i want to complain\n");
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));

    // A typo in renamedFrom: an error naming the spec's file and line; nothing applied.
    repo.write("rules/t.yaml", "kind: Topic\nname: Complaints\nrenamedFrom: Customer complaints\ndialect: en-US\nphrases:\n  - text: i want to complain\n");
    let plan = repo.run_against(&sandbox, &["plan"]);
    assert_eq!(plan.code, 1, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stderr.contains("rules/t.yaml:1:1"), "{}", plan.stderr);
    assert!(
        plan.stderr.contains("renamedFrom: Customer complaints"),
        "{}",
        plan.stderr
    );
    let apply = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1);
    assert_eq!(topics(&sandbox), vec!["Customer complaint"]);

    // A rename without renamedFrom: the plan says so.
    repo.write(
        "rules/t.yaml",
        "kind: Topic\nname: Complaints\ndialect: en-US\nphrases:\n  - text: i want to complain\n",
    );
    let plan = repo.run_against(&sandbox, &["plan"]);
    assert!(
        plan.stdout
            .contains("add `renamedFrom: Customer complaint`"),
        "{}",
        plan.stdout
    );
}

#[test]
fn a_topic_delete_a_program_blocks_is_refused_before_any_write() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(2, 1, "v1");
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let client = sandbox.client();
    let held = block_on(client.list_topics())
        .expect("list")
        .into_iter()
        .find(|t| t.name == "Topic 0001")
        .expect("topic")
        .id;
    block_on(
        client.create_program(&speechops::kinds::program::wire::ProgramRequest {
            name: "Made in the UI".into(),
            description: String::new(),
            topic_ids: vec![held],
            tags: vec![],
        }),
    )
    .expect("program");
    repo.write_topics(2, 1, "v2");
    std::fs::remove_file(repo.path().join("rules/topics/t0001.yaml")).expect("rm");
    let plan = repo.run_against(&sandbox, &["plan", "--prune", "--force"]);
    assert_eq!(plan.code, 3, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("Conflict (no override"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stderr.contains("\"Made in the UI\""),
        "{}",
        plan.stderr
    );
    let before = std::fs::read_to_string(repo.path().join("speechops-audit.jsonl")).expect("log");
    let apply = repo.run_against(&sandbox, &["apply", "--auto-approve", "--prune", "--force"]);
    assert_eq!(apply.code, 3);
    let after = std::fs::read_to_string(repo.path().join("speechops-audit.jsonl")).expect("log");
    assert_eq!(
        before, after,
        "nothing written, not even the unrelated update"
    );
}

#[test]
fn drift_is_marked_with_who_and_when_in_every_format() {
    use speechops::kinds::topic::wire::{TopicRequest, WirePhrase};
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write("rules/t.yaml", &support::topic_yaml("Watched", 1, "v1"));
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let client = sandbox.client();
    let id = block_on(client.list_topics()).expect("list")[0].id.clone();
    block_on(client.update_topic(
        &id,
        &TopicRequest {
            name: "Watched".into(),
            description: "edited by hand".into(),
            strictness: "72".into(),
            matching_type: "Lexical".into(),
            tags: vec!["generated".into()],
            dialect: "en-US".into(),
            participants: "All".into(),
            phrases: vec![WirePhrase {
                text: "phrase 0 of Watched v1".into(),
                strictness: None,
                sentiment: None,
                is_ai_generated: None,
            }],
        },
    ))
    .expect("edit");
    let text = repo.run_against(&sandbox, &["plan"]);
    assert!(
        text.stdout.contains("DRIFT: changed outside speechops by"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(support::CLIENT_ID),
        "who: {}",
        text.stdout
    );
    let md = repo.run_against(&sandbox, &["plan", "--format", "markdown"]);
    assert!(md.stdout.contains("**Drift:**"), "{}", md.stdout);
    let (_, json) = plan_json(&repo, &sandbox, &[]);
    let drift = &json["changes"][0]["drift"];
    assert_eq!(drift["modifiedBy"], support::CLIENT_ID, "{json}");
    assert!(drift["dateModified"].is_string(), "{json}");
}

#[test]
fn state_follows_the_org_across_target_names_and_another_org_is_refused() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(2, 1, "v1");
    // Applied with a bare --api-url (the target's name is the URL)...
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let lock: Value = serde_json::from_str(&repo.read("speechops.lock")).expect("lock");
    let org = block_on(sandbox.client().get_org()).expect("org").id;
    assert_eq!(
        lock["targets"][&sandbox.url]["orgId"],
        org.as_str(),
        "{lock}"
    );

    // ...then through a named target of the same org: the state is found, not re-adopted.
    repo.write(
        "speechops.yaml",
        &format!(
            "defaultTarget: prod\ntargets:\n  prod: {{ apiUrl: \"{}\" }}\n",
            sandbox.url
        ),
    );
    let creds = [
        ("GENESYSCLOUD_OAUTHCLIENT_ID", support::CLIENT_ID),
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET", support::CLIENT_SECRET),
    ];
    let plan = repo.run_env(&["plan", "--detailed-exitcode"], &creds);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stderr.contains("now kept under \"prod\""),
        "{}",
        plan.stderr
    );
    ok(&repo.run_env(&["apply", "--auto-approve"], &creds));
    let lock: Value = serde_json::from_str(&repo.read("speechops.lock")).expect("lock");
    assert!(
        lock["targets"]["prod"]["objects"]["Topic"].is_object(),
        "{lock}"
    );
    assert!(
        lock["targets"].get(sandbox.url.as_str()).is_none(),
        "{lock}"
    );

    // The same name pointed at another org is refused, and nothing is written.
    let other = Sandbox::with_creds(&[]);
    repo.write(
        "speechops.yaml",
        &format!(
            "defaultTarget: prod\ntargets:\n  prod: {{ apiUrl: \"{}\" }}\n",
            other.url
        ),
    );
    let before = repo.read("speechops.lock");
    let refused = repo.run_env(&["apply", "--auto-approve"], &creds);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("belongs to org"),
        "{}",
        refused.stderr
    );
    assert_eq!(repo.read("speechops.lock"), before);
    assert!(
        block_on(other.client().list_topics())
            .expect("list")
            .is_empty()
    );
}

/// Edits a topic in the org as someone in the Genesys UI would.
fn edit_in_org(sandbox: &Sandbox, name: &str, description: &str) {
    use speechops::kinds::topic::wire::{TopicRequest, WirePhrase};
    let client = sandbox.client();
    let topic = block_on(client.list_topics())
        .expect("list")
        .into_iter()
        .find(|t| t.name == name)
        .expect("topic");
    block_on(client.update_topic(
        &topic.id,
        &TopicRequest {
            name: name.into(),
            description: description.into(),
            strictness: "72".into(),
            matching_type: "Lexical".into(),
            tags: vec!["generated".into()],
            dialect: "en-US".into(),
            participants: "All".into(),
            phrases: vec![WirePhrase {
                text: format!("phrase 0 of {name} v1"),
                strictness: None,
                sentiment: None,
                is_ai_generated: None,
            }],
        },
    ))
    .expect("edit");
}

/// Issue 23: merge applies each reviewed change whose object is as it was at review,
/// refuses (exit 3) only those that moved, naming them, and applies no drift nobody
/// reviewed; a re-run converges.
#[test]
fn a_merge_applies_the_reviewed_changes_whose_objects_did_not_move() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(3, 1, "v1");
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    // The pull request changes Topic 0000 and Topic 0001; its plan is reviewed.
    repo.write(
        "rules/topics/t0000.yaml",
        &support::topic_yaml("Topic 0000", 2, "v1"),
    );
    repo.write(
        "rules/topics/t0001.yaml",
        &support::topic_yaml("Topic 0001", 2, "v1"),
    );
    let reviewed = repo.run_against(&sandbox, &["plan", "--format", "markdown"]);
    ok(&reviewed);
    repo.write("reviewed.md", &reviewed.stdout);

    // Before merge, someone edits an unrelated topic in Genesys: the merge still
    // applies what was reviewed, and does not revert the edit.
    edit_in_org(&sandbox, "Topic 0002", "edited in the UI");
    let merge = repo.run_against(
        &sandbox,
        &["apply", "--auto-approve", "--reviewed", "reviewed.md"],
    );
    ok(&merge);
    assert!(
        merge
            .stderr
            .contains("not applied, never reviewed: update Topic \"Topic 0002\""),
        "{}",
        merge.stderr
    );
    let desc = |name: &str| {
        block_on(sandbox.client().list_topics())
            .expect("list")
            .into_iter()
            .find(|t| t.name == name)
            .and_then(|t| t.description)
            .unwrap_or_default()
    };
    assert_eq!(
        desc("Topic 0002"),
        "edited in the UI",
        "drift was not reverted"
    );
    // A re-run (a failed job re-run) converges: everything reviewed is already done.
    let rerun = repo.run_against(
        &sandbox,
        &["apply", "--auto-approve", "--reviewed", "reviewed.md"],
    );
    ok(&rerun);
    assert!(
        rerun.stderr.contains("already as reviewed"),
        "{}",
        rerun.stderr
    );

    // The next pull request changes Topic 0000 again; before merge someone edits that
    // very topic in Genesys: it is refused (exit 3) and named; nothing else blocks.
    repo.write(
        "rules/topics/t0000.yaml",
        &support::topic_yaml("Topic 0000", 3, "v1"),
    );
    repo.write(
        "rules/topics/t0001.yaml",
        &support::topic_yaml("Topic 0001", 3, "v1"),
    );
    let reviewed = repo.run_against(&sandbox, &["plan", "--format", "markdown"]);
    repo.write("reviewed.md", &reviewed.stdout);
    edit_in_org(&sandbox, "Topic 0000", "edited again");
    let merge = repo.run_against(
        &sandbox,
        &["apply", "--auto-approve", "--reviewed", "reviewed.md"],
    );
    assert_eq!(merge.code, 3, "{merge:?}");
    assert!(
        merge
            .stderr
            .contains("its object moved since review: update Topic \"Topic 0000\""),
        "{}",
        merge.stderr
    );
    assert_eq!(
        desc("Topic 0000"),
        "edited again",
        "the moved change was not applied"
    );
    // Topic 0001's reviewed change went in.
    let plan = repo.run_against(&sandbox, &["plan", "--format", "json"]);
    let v: Value = serde_json::from_str(&plan.stdout).expect("json");
    let names: Vec<&str> = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(!names.contains(&"Topic 0001"), "{names:?}");
    assert!(names.contains(&"Topic 0000"), "{names:?}");
}

/// Issue 23: the digest covers the guard overrides; a merge whose overrides differ
/// from the reviewed plan's applies nothing.
#[test]
fn guard_overrides_are_part_of_what_was_reviewed() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(1, 1, "v1");
    let plain = repo.run_against(&sandbox, &["plan", "--format", "markdown"]);
    let forced = repo.run_against(&sandbox, &["plan", "--format", "markdown", "--force"]);
    let digest = |s: &str| {
        speechops::diff::ReviewedPlan::from_text(s)
            .expect("digest")
            .digest
    };
    assert_ne!(digest(&plain.stdout), digest(&forced.stdout));
    assert!(
        forced.stdout.contains("guard overrides `--force`"),
        "{}",
        forced.stdout
    );
    repo.write("reviewed.md", &plain.stdout);
    let merge = repo.run_against(
        &sandbox,
        &[
            "apply",
            "--auto-approve",
            "--force",
            "--reviewed",
            "reviewed.md",
        ],
    );
    assert_eq!(merge.code, 3, "{merge:?}");
    assert!(merge.stderr.contains("guard overrides"), "{}", merge.stderr);
    assert!(topics(&sandbox).is_empty(), "nothing was applied");
}

/// Issue 28: a managed object deleted in the org is drift too: the create that puts it
/// back says it was deleted outside speechops, in every format.
#[test]
fn a_managed_object_deleted_in_the_org_is_reported_as_drift() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write_topics(2, 1, "v1");
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let client = sandbox.client();
    let gone = block_on(client.list_topics())
        .expect("list")
        .into_iter()
        .find(|t| t.name == "Topic 0001")
        .expect("topic");
    block_on(client.delete_topic(&gone.id)).expect("delete");
    let text = repo.run_against(&sandbox, &["plan"]);
    assert!(
        text.stdout.contains("+ create Topic \"Topic 0001\"")
            && text.stdout.contains("DRIFT: deleted outside speechops"),
        "{}",
        text.stdout
    );
    let (_, json) = plan_json(&repo, &sandbox, &[]);
    let create = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["action"] == "create")
        .expect("create")
        .clone();
    assert_eq!(create["drift"]["deleted"], true, "{json}");
    let md = repo.run_against(&sandbox, &["plan", "--format", "markdown"]);
    assert!(
        md.stdout.contains("deleted outside speechops"),
        "{}",
        md.stdout
    );
}
