//! What apply reports is what the org does (issue 22): Genesys's publish, identity
//! and timing semantics, checked against the sandbox's model of them.

use serde_json::{Value, json};

use crate::support::{self, Repo, Sandbox};

#[track_caller]
fn ok(run: &support::Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

const PROGRAMS_PATH: &str = "/api/v2/speechandtextanalytics/programs";

fn topic_spec(phrases: &[&str]) -> String {
    let items: Vec<String> = phrases.iter().map(|p| format!("  - text: {p}\n")).collect();
    format!(
        "kind: Topic\nname: Cancellation\ndialect: en-US\nphrases:\n{}",
        items.concat()
    )
}

/// The id of the program named `name`.
fn program_id(sandbox: &Sandbox, name: &str) -> String {
    let list = sandbox.get_json_authed(&format!("{PROGRAMS_PATH}?pageSize=100"));
    list["entities"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == name)
        .and_then(|p| p["id"].as_str())
        .unwrap_or_else(|| panic!("no program {name:?} in {list}"))
        .to_string()
}

/// The phrases the program searches for now: its last publish's topic versions.
fn live_phrases(sandbox: &Sandbox, program: &str) -> Vec<String> {
    let id = program_id(sandbox, program);
    let view = sandbox.get_json(&format!("/__sandbox/programs/{id}/published"));
    view["topics"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["phrases"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_topic_edit_is_live_in_every_program_that_holds_it_after_one_apply() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    repo.write("rules/topic.yaml", &topic_spec(&["cancel my plan"]));
    repo.write(
        "rules/programs.yaml",
        "kind: Program\nname: Retention\ntopics: [Cancellation]\n---\nkind: Program\nname: Quality\ntopics: [Cancellation]\n",
    );
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    assert_eq!(live_phrases(&sandbox, "Retention"), ["cancel my plan"]);

    // A program made in Genesys by hand, published, holding the topic.
    let topic_id = {
        let list = sandbox.get_json_authed("/api/v2/speechandtextanalytics/topics");
        list["entities"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let (status, legacy) = sandbox.post_json_authed(
        PROGRAMS_PATH,
        json!({"name": "Legacy", "topicIds": [topic_id]}),
    );
    assert_eq!(status, 200, "{legacy}");
    let legacy_id = legacy["id"].as_str().unwrap_or_default().to_string();
    let (status, job) = sandbox.post_json_authed(
        &format!("{PROGRAMS_PATH}/publishjobs"),
        json!({"programIds": [legacy_id]}),
    );
    assert_eq!(status, 200, "{job}");
    let job_path = format!(
        "{PROGRAMS_PATH}/publishjobs/{}",
        job["id"].as_str().unwrap_or_default()
    );
    while sandbox.get_json_authed(&job_path)["state"] == "Running" {}

    repo.write(
        "rules/topic.yaml",
        &topic_spec(&["cancel my plan", "close my account"]),
    );
    let plan = repo.run_against(&sandbox, &["plan"]);
    ok(&plan);
    for line in [
        "^ republish Program \"Retention\" (holds changed Topic \"Cancellation\")",
        "^ republish Program \"Quality\" (holds changed Topic \"Cancellation\")",
        "^ republish Program \"Legacy\" (holds changed Topic \"Cancellation\"; not managed by speechops)",
    ] {
        assert!(plan.stdout.contains(line), "{line}\n{}", plan.stdout);
    }
    assert!(
        plan.stdout.contains("1 to publish, 3 to republish."),
        "{}",
        plan.stdout
    );
    let json_plan = repo.run_against(&sandbox, &["plan", "--format", "json"]);
    let doc: Value = serde_json::from_str(&json_plan.stdout).unwrap_or(Value::Null);
    let republish: Vec<&Value> = doc["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["action"] == "republish")
        .collect();
    assert_eq!(republish.len(), 3, "{}", json_plan.stdout);
    assert!(republish.iter().all(|c| {
        c["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("holds changed Topic \"Cancellation\""))
    }));
    let md = repo.run_against(&sandbox, &["plan", "--format", "markdown"]);
    assert!(md.stdout.contains("| 🔁 republish | 3 |"), "{}", md.stdout);

    // Before the apply, the programs still search the old version.
    assert_eq!(live_phrases(&sandbox, "Quality"), ["cancel my plan"]);
    sandbox.post("/__sandbox/stats/reset");
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    for program in ["Retention", "Quality", "Legacy"] {
        assert_eq!(
            live_phrases(&sandbox, program),
            ["cancel my plan", "close my account"],
            "{program}"
        );
    }
    // One topic write, one topic job and one program job for all three.
    let stats = sandbox.get_json("/__sandbox/stats");
    let count = |route: &str| stats["routes"][route].as_u64().unwrap_or(0);
    assert_eq!(
        count("POST /api/v2/speechandtextanalytics/programs/publishjobs"),
        1,
        "{stats}"
    );
    assert_eq!(
        count("POST /api/v2/speechandtextanalytics/topics/publishjobs"),
        1,
        "{stats}"
    );
    let audit = repo.read("speechops-audit.jsonl");
    let republished = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["action"] == "republish" && e["status"] == "ok")
        .count();
    assert_eq!(republished, 3, "{audit}");
    let again = repo.run_against(&sandbox, &["plan"]);
    ok(&again);
    assert!(again.stdout.starts_with("No changes."), "{}", again.stdout);
}

#[test]
fn atomic_rollback_publishes_the_republished_programs_again_after_the_topic() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    repo.write("rules/topic.yaml", &topic_spec(&["cancel my plan"]));
    repo.write(
        "rules/programs.yaml",
        "kind: Program\nname: Retention\ntopics: [Cancellation]\n",
    );
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    repo.write(
        "rules/topic.yaml",
        &topic_spec(&["cancel my plan", "close my account"]),
    );
    // A later write of the run fails, after the republish.
    repo.write(
        "rules/feedback.yaml",
        "kind: SentimentFeedback\nphrase: not bad at all\ndialect: en-US\nfeedbackValue: Positive\n",
    );
    sandbox.post(
        "/__sandbox/fail?method=POST&route=/api/v2/speechandtextanalytics/sentimentfeedback&status=409",
    );
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve", "--atomic"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(live_phrases(&sandbox, "Retention"), ["cancel my plan"]);
    let audit = repo.read("speechops-audit.jsonl");
    let actions: Vec<String> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["status"] == "ok" && e["kind"] == "Program")
        .map(|e| e["action"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        actions,
        ["create", "publish", "republish", "rollback-publish"],
        "{audit}"
    );
}

const TWO_DIALECTS: &str = "kind: Topic\nname: Cancellation\ndialect: en-US\nphrases: [{text: cancel my plan}]\n---\nkind: Topic\nname: Cancellation\ndialect: es-US\nphrases: [{text: cancelar mi plan}]\n";

#[test]
fn a_plain_reference_to_a_name_two_dialects_share_is_an_error_naming_the_choices() {
    let repo = Repo::new();
    repo.write("rules/topics.yaml", TWO_DIALECTS);
    repo.write(
        "rules/program.yaml",
        "kind: Program\nname: Retention\ntopics:\n  - Cancellation\n",
    );
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("program.ambiguous-topic"), "{all}");
    assert!(all.contains("rules/program.yaml:4:"), "{all}");
    // miette wraps long lines: compare with the line breaks and margins taken out.
    let flat: String = all
        .lines()
        .map(|l| l.trim_start_matches([' ', '|']).trim_end())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains("defined in 2 dialects (en-US, es-US)"),
        "{flat}"
    );
    assert!(
        flat.contains(
            "{name: Cancellation, dialect: en-US} or {name: Cancellation, dialect: es-US}"
        ),
        "{flat}"
    );
    assert!(
        !all.contains("duplicate"),
        "two dialects are two topics: {all}"
    );

    // Naming the dialect is valid; so is the long form of a name no dialect shares,
    // and a dialect that has no such topic is an unknown topic.
    repo.write(
        "rules/program.yaml",
        "kind: Program\nname: Retention\ntopics:\n  - {name: Cancellation, dialect: es-US}\n  - {name: Greeting, dialect: en-US}\n---\nkind: Topic\nname: Greeting\ndialect: en-US\nphrases: [{text: hello}]\n---\nkind: Category\nname: Churn\ninteractionType: Voice\ncriteria:\n  type: OperandGroup\n  operands:\n    - {type: Topic, topic: {name: Cancellation, dialect: en-US}}\n",
    );
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    repo.write(
        "rules/program.yaml",
        "kind: Program\nname: Retention\ntopics:\n  - {name: Cancellation, dialect: fr-FR}\n",
    );
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("program.unknown-topic"), "{all}");
}

/// Topics of the org by dialect: `(dialect, name) -> id`.
fn topics_by_dialect(sandbox: &Sandbox) -> Vec<(String, String, String)> {
    let list = sandbox.get_json_authed("/api/v2/speechandtextanalytics/topics?pageSize=100");
    let mut out: Vec<(String, String, String)> = list["entities"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["dialect"].as_str().unwrap_or_default().to_string(),
                t["name"].as_str().unwrap_or_default().to_string(),
                t["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn an_org_with_one_name_in_two_dialects_imports_plans_clean_and_applies_to_either() {
    // The org, made by one repository.
    let sandbox = Sandbox::with_creds(&[]);
    let first = Repo::new();
    first.write("rules/topics.yaml", TWO_DIALECTS);
    first.write(
        "rules/program.yaml",
        "kind: Program\nname: Retention\ntopics: [{name: Cancellation, dialect: en-US}, {name: Cancellation, dialect: es-US}]\n",
    );
    ok(&first.run_against(&sandbox, &["apply", "--auto-approve"]));
    let plan = first.run_against(&sandbox, &["plan"]);
    ok(&plan);
    assert!(plan.stdout.starts_with("No changes."), "{}", plan.stdout);
    assert_eq!(topics_by_dialect(&sandbox).len(), 2);

    // A fresh repository imports it: two topic files, the program naming both.
    let repo = Repo::new();
    ok(&repo.run_against(&sandbox, &["import", "--kind", "all", "--out", "rules"]));
    let files: Vec<String> = std::fs::read_dir(repo.path().join("rules"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let topic_files = files.iter().filter(|f| f.starts_with("topic-")).count();
    assert_eq!(topic_files, 2, "{files:?}");
    let program = files
        .iter()
        .find(|f| f.starts_with("program-"))
        .map(|f| repo.read(&format!("rules/{f}")))
        .unwrap_or_default();
    assert!(program.contains("dialect: es-US"), "{program}");
    assert!(program.contains("dialect: en-US"), "{program}");
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let plan = repo.run_against(&sandbox, &["plan"]);
    ok(&plan);
    assert!(plan.stdout.starts_with("No changes."), "{}", plan.stdout);

    // An edit of the Spanish topic changes that topic only.
    let es = files
        .iter()
        .find(|f| f.starts_with("topic-") && f.contains("es-us"))
        .cloned()
        .unwrap_or_default();
    let text = repo.read(&format!("rules/{es}"));
    repo.write(
        &format!("rules/{es}"),
        &text.replace("cancelar mi plan", "quiero cancelar"),
    );
    let plan = repo.run_against(&sandbox, &["plan"]);
    ok(&plan);
    assert!(
        plan.stdout
            .contains("~ update Topic \"Cancellation (es-US)\""),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("(en-US)\" ["), "{}", plan.stdout);
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let plan = repo.run_against(&sandbox, &["plan"]);
    assert!(plan.stdout.starts_with("No changes."), "{}", plan.stdout);
    assert_eq!(topics_by_dialect(&sandbox).len(), 2);
}

#[test]
fn a_second_dialect_of_a_managed_name_moves_its_lockfile_entry_and_creates_only_the_new_one() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write(
        "rules/topics.yaml",
        "kind: Topic\nname: Cancellation\ndialect: en-US\nphrases: [{text: cancel my plan}]\n",
    );
    repo.write(
        "rules/program.yaml",
        "kind: Program\nname: Retention\ntopics: [Cancellation]\n",
    );
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let lock = repo.read("speechops.lock");
    assert!(lock.contains("\"Cancellation\""), "{lock}");

    // Someone adds the Spanish topic in Genesys: nothing changes for the repository.
    let (status, body) = sandbox.post_json_authed(
        "/api/v2/speechandtextanalytics/topics",
        json!({"name": "Cancellation", "dialect": "es-US", "phrases": [{"text": "cancelar"}]}),
    );
    assert_eq!(status, 200, "{body}");
    let plan = repo.run_against(&sandbox, &["plan"]);
    ok(&plan);
    assert!(plan.stdout.starts_with("No changes."), "{}", plan.stdout);

    // The repository takes a Spanish topic of its own name: the lockfile entry moves
    // to "Cancellation (en-US)" by id, and only the Spanish one is written (the
    // out-of-band one is a takeover, as any unmanaged object).
    repo.write("rules/topics.yaml", TWO_DIALECTS);
    repo.write(
        "rules/program.yaml",
        "kind: Program\nname: Retention\ntopics: [{name: Cancellation, dialect: en-US}]\n",
    );
    let plan = repo.run_against(&sandbox, &["plan"]);
    assert_eq!(plan.code, 3, "the takeover guard: {}", plan.stdout);
    assert!(
        plan.stdout
            .contains("~ update Topic \"Cancellation (es-US)\" (TAKEOVER"),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("Topic \"Cancellation (en-US)\""),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("Program \"Retention\""),
        "{}",
        plan.stdout
    );
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve", "--allow-takeover"]));
    let lock = repo.read("speechops.lock");
    assert!(lock.contains("\"Cancellation (en-US)\""), "{lock}");
    assert!(lock.contains("\"Cancellation (es-US)\""), "{lock}");
    assert!(!lock.contains("\"Cancellation\""), "{lock}");
    let plan = repo.run_against(&sandbox, &["plan"]);
    assert!(plan.stdout.starts_with("No changes."), "{}", plan.stdout);
    assert_eq!(topics_by_dialect(&sandbox).len(), 2);
}

#[test]
fn pruning_a_program_and_the_topics_only_it_held_succeeds_in_one_apply_while_links_settle() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    repo.write(
        "rules/topics.yaml",
        "kind: Topic\nname: A\ndialect: en-US\nphrases: [{text: alpha}]\n---\nkind: Topic\nname: B\ndialect: en-US\nphrases: [{text: bravo}]\n",
    );
    repo.write(
        "rules/programs.yaml",
        "kind: Program\nname: P\ntopics: [A, B]\n---\nkind: Program\nname: Q\ntopics: [A]\n",
    );
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    // P goes with B; Q lets A go, and A goes too.
    repo.write(
        "rules/programs.yaml",
        "kind: Program\nname: Q\ntopics: []\n",
    );
    std::fs::remove_file(repo.path().join("rules/topics.yaml")).expect("rm");
    sandbox.post("/__sandbox/stats/reset");
    let run = repo.run_against(
        &sandbox,
        &["apply", "--auto-approve", "--prune", "--allow-empty"],
    );
    ok(&run);
    assert!(topics_by_dialect(&sandbox).is_empty());
    let stats = sandbox.get_json("/__sandbox/stats");
    let polls = stats["routes"]["GET /api/v2/speechandtextanalytics/programs/topiclinks/jobs/{id}"]
        .as_u64()
        .unwrap_or(0);
    // Q's update and P's delete each started a links job, read until it completed.
    assert!(polls >= 4, "{stats}");
    assert_eq!(stats["statuses"]["409"], Value::Null, "{stats}");
}

#[test]
fn a_topic_delete_while_links_are_held_is_refused_naming_the_program() {
    let sandbox = Sandbox::with_creds(&[]);
    let (_, t) = sandbox.post_json_authed(
        "/api/v2/speechandtextanalytics/topics",
        json!({"name": "T", "dialect": "en-US", "phrases": [{"text": "x"}]}),
    );
    let tid = t["id"].as_str().unwrap_or_default().to_string();
    let (_, p) =
        sandbox.post_json_authed(PROGRAMS_PATH, json!({"name": "Holder", "topicIds": [tid]}));
    let pid = p["id"].as_str().unwrap_or_default().to_string();
    let (status, gone) =
        sandbox.call_json_authed(reqwest::Method::DELETE, &format!("{PROGRAMS_PATH}/{pid}"));
    assert_eq!(status, 200, "{gone}");
    let job = gone["topicLinksJob"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!job.is_empty(), "{gone}");
    let topic_path = format!("/api/v2/speechandtextanalytics/topics/{tid}");
    let (status, refused) = sandbox.call_json_authed(reqwest::Method::DELETE, &topic_path);
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("Holder") && m.contains(&job)),
        "{refused}"
    );
    let links = format!("{PROGRAMS_PATH}/topiclinks/jobs/{job}");
    assert_eq!(sandbox.get_json_authed(&links)["state"], "Running");
    assert_eq!(sandbox.get_json_authed(&links)["state"], "Completed");
    let (status, _) = sandbox.call_json_authed(reqwest::Method::DELETE, &topic_path);
    assert_eq!(status, 204);
}

#[test]
fn a_dictionary_term_genesys_rejects_fails_the_apply_with_its_reason_and_stays_in_the_plan() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    repo.write(
        "rules/term.yaml",
        "kind: DictionaryFeedback\nterm: Acme Fibre\ndialect: en-GB\nexamplePhrases:\n  - I want Acme Fibre now\n  - is Acme Fibre available here\n  - how fast is Acme Fibre\n",
    );
    sandbox.post(
        "/__sandbox/dictionary/reject?dialect=en-GB&term=Acme%20Fibre&reason=term%20is%20already%20in%20the%20base%20vocabulary",
    );
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains(
            "Genesys did not accept the term: Failed: term is already in the base vocabulary"
        ),
        "{all}"
    );
    let audit = repo.read("speechops-audit.jsonl");
    assert!(
        audit
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|e| e["action"] == "create" && e["status"] == "failed"),
        "{audit}"
    );
    // Every later plan shows it, with the reason, until it is fixed.
    for _ in 0..2 {
        let plan = repo.run_against(&sandbox, &["plan"]);
        ok(&plan);
        assert!(
            plan.stdout
                .contains("~ update DictionaryFeedback \"en-GB: Acme Fibre\""),
            "{}",
            plan.stdout
        );
        assert!(
            plan.stdout.contains(
                "~ rejected: \"Failed: term is already in the base vocabulary\" → (default)"
            ),
            "{}",
            plan.stdout
        );
    }
}

#[test]
fn creates_under_list_lag_and_lost_answers_never_duplicate_and_replans_are_clean() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[
        "--list-lag",
        "3",
        "--lost-answer-rate",
        "0.3",
        "--delete-settle",
        "2",
        "--seed",
        "7",
    ]);
    repo.write_topics(40, 2, "a");
    repo.write(
        "rules/feedback.yaml",
        "kind: SentimentFeedback\nphrase: not bad at all\ndialect: en-US\nfeedbackValue: Positive\n",
    );
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let stats = sandbox.get_json("/__sandbox/stats");
    assert!(
        stats["statuses"]["dropped"].as_u64().unwrap_or(0) > 5,
        "answers were lost: {stats}"
    );
    // The lists lag: read until every write shows.
    let mut topics = Vec::new();
    for _ in 0..5 {
        topics = topics_by_dialect(&sandbox);
    }
    assert_eq!(topics.len(), 40, "{topics:?}");
    let names: std::collections::BTreeSet<&String> = topics.iter().map(|(_, n, _)| n).collect();
    assert_eq!(names.len(), 40);
    // The next plan lists the org while it lags: managed objects it does not list yet
    // are read by id, so nothing is forgotten or created again.
    repo.write_topics(40, 2, "a");
    let plan = repo.run_against(&sandbox, &["plan"]);
    ok(&plan);
    assert!(plan.stdout.starts_with("No changes."), "{}", plan.stdout);

    // A replace survives the 409s of a delete that is still settling.
    repo.write(
        "rules/feedback.yaml",
        "kind: SentimentFeedback\nphrase: not bad at all\ndialect: en-US\nfeedbackValue: Negative\n",
    );
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let mut entries = Value::Null;
    for _ in 0..5 {
        entries = sandbox.get_json_authed("/api/v2/speechandtextanalytics/sentimentfeedback");
    }
    let list = entries["entities"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 1, "{entries}");
    assert_eq!(list[0]["feedbackValue"], "Negative", "{entries}");
}

#[test]
fn a_dictionary_term_repeated_up_to_letter_case_is_an_error_at_validate() {
    let repo = Repo::new();
    let examples = "examplePhrases:\n  - I want Acme Fibre now\n  - is Acme Fibre available here\n  - how fast is Acme Fibre\n";
    repo.write(
        "rules/terms.yaml",
        &format!("kind: DictionaryFeedback\nterm: Acme Fibre\ndialect: en-GB\n{examples}---\nkind: DictionaryFeedback\nterm: acme fibre\ndialect: en-GB\n{examples}"),
    );
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("dictionaryfeedback.duplicate-term"), "{all}");
    assert!(all.contains("rules/terms.yaml:9:"), "{all}");
}

#[test]
fn a_topic_delete_an_evaluation_form_refuses_names_the_form_and_keeps_the_run_consistent() {
    let repo = Repo::new();
    repo.write(
        "seed.yaml",
        "evaluationForms:\n  - { name: Collections QA, id: form-1, topics: [Disclosure] }\n",
    );
    let seed = repo.path().join("seed.yaml");
    let sandbox = Sandbox::with_creds(&["--seed-file", seed.to_str().unwrap_or_default()]);
    repo.write(
        "rules/topics.yaml",
        "kind: Topic\nname: Disclosure\ndialect: en-US\nphrases: [{text: this call is recorded}]\n---\nkind: Topic\nname: Spare\ndialect: en-US\nphrases: [{text: spare}]\n",
    );
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    repo.write(
        "rules/topics.yaml",
        "kind: Topic\nname: Spare\ndialect: en-US\nphrases: [{text: spare}]\n",
    );
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve", "--prune"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("evaluation form 'Collections QA'"), "{all}");
    assert!(all.contains("entity \"Collections QA\" (form-1)"), "{all}");
    // Still managed, still in the org: the next plan is the same delete.
    let lock = repo.read("speechops.lock");
    assert!(lock.contains("\"Disclosure\""), "{lock}");
    let plan = repo.run_against(&sandbox, &["plan", "--prune"]);
    ok(&plan);
    assert!(
        plan.stdout.contains("- delete Topic \"Disclosure\""),
        "{}",
        plan.stdout
    );
}
