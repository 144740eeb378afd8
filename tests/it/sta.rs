//! The whole Speech & Text Analytics configuration (issue 16): a repository holding
//! every kind applies to an empty org, re-plans clean, imports back byte-stable, and
//! `--prune` removes what its specs no longer hold; each kind's own behaviour
//! (replace, singleton, references, mappings) and its safety rules.

use serde_json::Value;

use crate::support::{self, Repo, Sandbox};

#[track_caller]
fn ok(run: &support::Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

fn seeded_sandbox(repo: &Repo) -> Sandbox {
    repo.write(
        "seed.yaml",
        "queues:\n  - { name: Retention EN, id: q-en }\n  - { name: Retention ES, id: q-es }\n  - { name: Twin, id: q-t1 }\n  - { name: Twin, id: q-t2 }\nflows:\n  - { name: Inbound main, type: INBOUNDCALL, id: f-main }\n",
    );
    let seed = repo.path().join("seed.yaml");
    Sandbox::with_creds(&["--seed-file", seed.to_str().expect("path")])
}

const EVERY_KIND: &str = r#"kind: Topic
name: Cancellation intent
dialect: en-US
phrases: [{text: i want to cancel}]
---
kind: Topic
name: Greeting
dialect: en-US
phrases: [{text: hello there}]
---
kind: Program
name: Retention
topics: [Cancellation intent, Greeting]
queues: [Retention EN]
flows: [Inbound main]
transcriptionEngines:
  - engine: Genesys
    dialects: [en-US]
---
kind: Program
name: Spare
topics: [Greeting]
---
kind: Category
name: Cancellation risk
interactionType: Voice
criteria:
  type: OperandGroup
  operands:
    - type: Topic
      topic: Cancellation intent
      infixOperator: { operatorType: Near, operatorPosition: { voiceSecondsPosition: 30 } }
    - type: Term
      term: { word: competitor, participantType: External }
      occurrence: 1
---
kind: DictionaryFeedback
term: Acme Fibre
dialect: en-GB
boostValue: 3.5
examplePhrases:
  - I want to upgrade to Acme Fibre
  - is Acme Fibre available at my address
  - how fast is Acme Fibre
soundsLike: [acme fiber]
---
kind: SentimentFeedback
phrase: not bad at all
dialect: en-US
feedbackValue: Positive
---
kind: SpeechAnalyticsSettings
defaultProgram: Retention
textAnalyticsEnabled: true
---
kind: SpeechRule
name: Greeting_Check
phrases: [{phrase: thank you for calling}]
"#;

fn plan_json(repo: &Repo, sandbox: &Sandbox, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["plan", "--format", "json", "--detailed-exitcode"];
    args.extend_from_slice(extra);
    let run = repo.run_against(sandbox, &args);
    let v: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", run.stdout, run.stderr));
    (run.code, v)
}

#[test]
fn every_kind_applies_to_an_empty_org_replans_clean_imports_back_and_prunes() {
    let repo = Repo::new();
    let sandbox = seeded_sandbox(&repo);
    repo.write("rules/all.yaml", EVERY_KIND);
    ok(&repo.run(&["validate"]));

    let (code, plan) = plan_json(&repo, &sandbox, &[]);
    assert_eq!(code, 2, "{plan}");
    let creates = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == "create")
        .count();
    assert_eq!(creates, 8, "{plan}");
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));

    // Clean, and the org holds what the specs say.
    let (code, plan) = plan_json(&repo, &sandbox, &[]);
    assert_eq!(code, 0, "{plan}");
    let retention_id = plan_id(&repo, &sandbox, "Program", "Retention");
    let mappings = sandbox.get_json_authed(&format!(
        "/api/v2/speechandtextanalytics/programs/{retention_id}/mappings"
    ));
    assert_eq!(mappings["queues"][0]["id"], "q-en", "{mappings}");
    assert_eq!(mappings["flows"][0]["id"], "f-main", "{mappings}");
    let settings = sandbox.get_json_authed("/api/v2/speechandtextanalytics/settings");
    assert_eq!(settings["defaultProgram"]["id"], retention_id.as_str());
    assert_eq!(settings["textAnalyticsEnabled"], true);

    // Import into a fresh repository: every kind comes back, and plans clean there.
    let other = Repo::new();
    let run = other.run_against(&sandbox, &["import", "--kind", "all", "--out", "rules"]);
    ok(&run);
    let (code, plan) = plan_json(&other, &sandbox, &[]);
    assert_eq!(code, 0, "{plan}");
    let files: Vec<String> = std::fs::read_dir(other.path().join("rules"))
        .expect("rules")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    for stem in [
        "category-",
        "dictionary-feedback-",
        "sentiment-feedback-",
        "speech-analytics-settings.yaml",
        "program-",
        "topic-",
        "speech-rule-",
    ] {
        assert!(
            files.iter().any(|f| f.starts_with(stem)),
            "{stem}: {files:?}"
        );
    }
    // Byte-stable: importing again leaves every file as it is.
    let before: Vec<(String, String)> = files
        .iter()
        .map(|f| (f.clone(), other.read(&format!("rules/{f}"))))
        .collect();
    ok(&other.run_against(&sandbox, &["import", "--kind", "all", "--out", "rules"]));
    for (f, text) in before {
        assert_eq!(other.read(&format!("rules/{f}")), text, "{f}");
    }

    // Prune: drop the category, the feedback and a program; the settings stay.
    let kept: String = EVERY_KIND
        .split("---\n")
        .filter(|d| {
            !d.contains("kind: Category")
                && !d.contains("kind: DictionaryFeedback")
                && !d.contains("kind: SentimentFeedback")
                && !d.contains("name: Spare")
        })
        .collect::<Vec<_>>()
        .join("---\n");
    repo.write("rules/all.yaml", &kept);
    // The last category and feedback entries go: the empty guard wants its override.
    let (code, plan) = plan_json(&repo, &sandbox, &["--prune"]);
    assert_eq!(code, 3, "{plan}");
    let (code, plan) = plan_json(&repo, &sandbox, &["--prune", "--allow-empty"]);
    assert_eq!(code, 2, "{plan}");
    let mut deletes: Vec<String> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == "delete")
        .map(|c| {
            format!(
                "{} {}",
                c["kind"].as_str().unwrap_or(""),
                c["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    deletes.sort();
    assert_eq!(
        deletes,
        [
            "Category Cancellation risk",
            "DictionaryFeedback en-GB: Acme Fibre",
            "Program Spare",
            "SentimentFeedback en-US: not bad at all",
        ],
        "{plan}"
    );
    ok(&repo.run_against(
        &sandbox,
        &["apply", "--prune", "--allow-empty", "--auto-approve"],
    ));
    let (code, plan) = plan_json(&repo, &sandbox, &["--prune"]);
    assert_eq!(code, 0, "{plan}");
    let categories = sandbox.get_json_authed("/api/v2/speechandtextanalytics/categories");
    assert_eq!(categories["total"], 0, "{categories}");
}

/// The id the lockfile records for an object.
fn plan_id(repo: &Repo, _sandbox: &Sandbox, kind: &str, name: &str) -> String {
    let lock: Value = serde_json::from_str(&repo.read("speechops.lock")).expect("lockfile");
    let targets = lock["targets"].as_object().expect("targets");
    for t in targets.values() {
        if let Some(id) = t["objects"][kind][name]["id"].as_str() {
            return id.to_string();
        }
    }
    panic!("{kind} {name} not in {lock}");
}

#[test]
fn a_sentiment_change_is_a_replace_and_the_delete_all_route_is_never_called() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    let spec =
        "kind: SentimentFeedback\nphrase: not bad\ndialect: en-US\nfeedbackValue: Positive\n";
    repo.write("rules/s.yaml", spec);
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let first = plan_id(&repo, &sandbox, "SentimentFeedback", "en-US: not bad");
    repo.write("rules/s.yaml", &spec.replace("Positive", "Negative"));
    let run = repo.run_against(&sandbox, &["plan"]);
    assert!(
        run.stdout
            .contains("~ update SentimentFeedback \"en-US: not bad\" (REPLACE:"),
        "{}",
        run.stdout
    );
    let (_, plan) = plan_json(&repo, &sandbox, &[]);
    assert_eq!(plan["changes"][0]["replace"], true, "{plan}");
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let second = plan_id(&repo, &sandbox, "SentimentFeedback", "en-US: not bad");
    assert_ne!(first, second, "a replace makes a new entry");
    let list = sandbox.get_json_authed("/api/v2/speechandtextanalytics/sentimentfeedback");
    let entries = list["entities"].as_array().expect("entities");
    assert_eq!(entries.len(), 1, "{list}");
    assert_eq!(entries[0]["feedbackValue"], "Negative");
    let stats = sandbox.get_json("/__sandbox/stats");
    let routes = stats["routes"].as_object().expect("routes");
    assert!(
        !routes
            .keys()
            .any(|k| k == "DELETE /api/v2/speechandtextanalytics/sentimentfeedback"),
        "{stats}"
    );
    assert_eq!(
        routes["DELETE /api/v2/speechandtextanalytics/sentimentfeedback/{id}"], 1,
        "{stats}"
    );
}

#[test]
fn dictionary_limits_are_errors_at_file_and_line() {
    let repo = Repo::new();
    repo.write(
        "rules/d.yaml",
        "kind: DictionaryFeedback\nterm: Zorg\ndialect: en-GB\nboostValue: 11\nexamplePhrases:\n  - Zorg is\n  - I like Zorg a lot\n  - no term here at all\n",
    );
    let run = repo.run(&["validate", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    for (code, line) in [
        ("dictionaryfeedback.boost", 4),
        ("dictionaryfeedback.example-words", 6),
        ("dictionaryfeedback.example-without-term", 8),
    ] {
        assert!(
            run.stdout.contains(&format!("\"code\":\"{code}\""))
                || run.stdout.contains(&format!("\"code\": \"{code}\"")),
            "{code}: {}",
            run.stdout
        );
        assert!(
            run.stdout.contains(&format!("\"line\":{line}"))
                || run.stdout.contains(&format!("\"line\": {line}")),
            "{code} at {line}: {}",
            run.stdout
        );
    }
}

#[test]
fn a_queue_name_matching_nothing_or_two_queues_fails_the_plan_naming_the_spec() {
    let repo = Repo::new();
    let sandbox = seeded_sandbox(&repo);
    repo.write(
        "rules/p.yaml",
        "kind: Topic\nname: T\ndialect: en-US\nphrases: [{text: hi there}]\n---\nkind: Program\nname: P\ntopics: [T]\nqueues: [Nowhere, Twin]\n",
    );
    // A plan-time error: exit 1, as for every error found at plan time.
    let run = repo.run_against(&sandbox, &["plan"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "rules/p.yaml:9:10: Program \"P\" names queue \"Nowhere\", which matches no queue"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("names queue \"Twin\", which matches 2 queues"),
        "{}",
        run.stderr
    );
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_ne!(run.code, 0);
    let programs = sandbox.get_json_authed("/api/v2/speechandtextanalytics/programs");
    assert_eq!(programs["total"], 0, "nothing is written: {programs}");
}

#[test]
fn deleting_a_topic_a_category_uses_or_the_default_program_is_a_foreseen_conflict() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    repo.write(
        "rules/a.yaml",
        "kind: Topic\nname: T\ndialect: en-US\nphrases: [{text: hi there}]\n---\nkind: Program\nname: P\ntopics: [T]\n---\nkind: Category\nname: C\ninteractionType: All\ncriteria: {type: Topic, topic: T}\n---\nkind: SpeechAnalyticsSettings\ndefaultProgram: P\n",
    );
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    // Stop managing the category and the settings (forget them in the lockfile), then
    // delete the topic and the program: the org still uses both.
    let lock = repo.read("speechops.lock");
    let mut v: Value = serde_json::from_str(&lock).expect("lock");
    for t in v["targets"].as_object_mut().expect("targets").values_mut() {
        if let Some(t) = t["objects"].as_object_mut() {
            t.remove("Category");
            t.remove("SpeechAnalyticsSettings");
        }
    }
    repo.write(
        "speechops.lock",
        &serde_json::to_string_pretty(&v).expect("json"),
    );
    repo.write(
        "rules/a.yaml",
        "kind: Topic\nname: Other\ndialect: en-US\nphrases: [{text: hi there}]\n",
    );
    let audit_before = support::audit_lines(&repo);
    let run = repo.run_against(
        &sandbox,
        &["apply", "--prune", "--auto-approve", "--allow-empty"],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("Topic \"T\" cannot be deleted: Category \"C\" still refers to it"),
        "{all}"
    );
    assert!(
        all.contains("Program \"P\" cannot be deleted: SpeechAnalyticsSettings \"settings\" still refers to it"),
        "{all}"
    );
    assert_eq!(
        support::audit_lines(&repo),
        audit_before,
        "nothing was written"
    );
}

#[test]
fn moving_the_default_program_then_deleting_the_old_one_is_ordered() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    let spec = "kind: Topic\nname: T\ndialect: en-US\nphrases: [{text: hi there}]\n---\nkind: Program\nname: P1\ntopics: [T]\n---\nkind: Program\nname: P2\ntopics: [T]\n---\nkind: SpeechAnalyticsSettings\ndefaultProgram: P1\n";
    repo.write("rules/a.yaml", spec);
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    repo.write(
        "rules/a.yaml",
        &spec
            .replace("kind: Program\nname: P1\ntopics: [T]\n---\n", "")
            .replace("defaultProgram: P1", "defaultProgram: P2"),
    );
    let run = repo.run_against(&sandbox, &["plan", "--prune"]);
    let settings_at = run
        .stdout
        .find("~ update SpeechAnalyticsSettings")
        .expect("settings line");
    let delete_at = run
        .stdout
        .find("- delete Program \"P1\"")
        .expect("delete line");
    assert!(settings_at < delete_at, "{}", run.stdout);
    ok(&repo.run_against(&sandbox, &["apply", "--prune", "--auto-approve"]));
    let (code, plan) = plan_json(&repo, &sandbox, &["--prune"]);
    assert_eq!(code, 0, "{plan}");
}

#[test]
fn atomic_rolls_back_a_program_s_mappings_and_engines() {
    let repo = Repo::new();
    let sandbox = seeded_sandbox(&repo);
    let spec = "kind: Topic\nname: T\ndialect: en-US\nphrases: [{text: hi there}]\n---\nkind: Program\nname: P\ntopics: [T]\nqueues: [Retention EN]\nflows: []\ntranscriptionEngines: [{engine: Genesys, dialects: [en-US]}]\n";
    repo.write("rules/a.yaml", spec);
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let id = plan_id(&repo, &sandbox, "Program", "P");
    let path = format!("/api/v2/speechandtextanalytics/programs/{id}");

    // Change the mappings and engines, and add a sentiment entry whose create (written
    // after programs) fails: --atomic puts the program back as it was.
    repo.write(
        "rules/a.yaml",
        &format!(
            "{}---\nkind: SentimentFeedback\nphrase: fine\ndialect: en-US\nfeedbackValue: Neutral\n",
            spec.replace("[Retention EN]", "[Retention ES]")
                .replace("flows: []", "flows: [Inbound main]")
                .replace("engine: Genesys,", "engine: GenesysExtended,")
        ),
    );
    sandbox.post(
        "/__sandbox/fail?method=POST&route=/api/v2/speechandtextanalytics/sentimentfeedback&status=409",
    );
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve", "--atomic"]);
    assert_ne!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let mappings = sandbox.get_json_authed(&format!("{path}/mappings"));
    assert_eq!(mappings["queues"][0]["id"], "q-en", "{mappings}");
    assert_eq!(mappings["queues"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        mappings["flows"].as_array().map(Vec::len),
        Some(0),
        "{mappings}"
    );
    let engines = sandbox.get_json_authed(&format!("{path}/transcriptionengines"));
    assert_eq!(
        engines["transcriptionEngines"][0]["engine"], "Genesys",
        "{engines}"
    );

    // Without the failure, the same plan applies and the org then matches.
    repo.write(
        "rules/a.yaml",
        &spec.replace("[Retention EN]", "[Retention ES]"),
    );
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let mappings = sandbox.get_json_authed(&format!("{path}/mappings"));
    assert_eq!(mappings["queues"][0]["id"], "q-es", "{mappings}");
    let (code, plan) = plan_json(&repo, &sandbox, &[]);
    assert_eq!(code, 0, "{plan}");
}

#[test]
fn a_rolled_back_replace_keeps_the_entry_managed_under_its_new_id() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    let spec = "kind: SentimentFeedback\nphrase: meh\ndialect: en-US\nfeedbackValue: Negative\n---\nkind: SpeechAnalyticsSettings\ntextAnalyticsEnabled: false\n";
    repo.write("rules/a.yaml", spec);
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    // The replace lands, then the settings write (after it in write order) fails.
    repo.write(
        "rules/a.yaml",
        &spec
            .replace("Negative", "Positive")
            .replace("textAnalyticsEnabled: false", "textAnalyticsEnabled: true"),
    );
    sandbox.post(
        "/__sandbox/fail?method=PATCH&route=/api/v2/speechandtextanalytics/settings&status=409",
    );
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve", "--atomic"]);
    assert_ne!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("rolled back"), "{}", run.stdout);
    // The entry is back as it was, under a new id the lockfile records: the next
    // plan is the same replace again, not a takeover.
    let list = sandbox.get_json_authed("/api/v2/speechandtextanalytics/sentimentfeedback");
    assert_eq!(list["entities"][0]["feedbackValue"], "Negative", "{list}");
    let id = plan_id(&repo, &sandbox, "SentimentFeedback", "en-US: meh");
    assert_eq!(list["entities"][0]["id"], id.as_str(), "{list}");
    let run = repo.run_against(&sandbox, &["plan"]);
    assert!(!run.stdout.contains("TAKEOVER"), "{}", run.stdout);
    assert!(run.stdout.contains("(REPLACE:"), "{}", run.stdout);
}

#[test]
fn every_bad_operand_of_a_category_is_reported() {
    let repo = Repo::new();
    repo.write(
        "rules/c.yaml",
        "kind: Category\nname: C\ninteractionType: All\ncriteria:\n  type: OperandGroup\n  operands:\n    - {type: Term, term: {word: x, participantType: Agent}, infixOperator: {operatorType: Or}}\n    - {type: Term, term: {word: y, participantType: Customer}}\n",
    );
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 1);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("unknown value `Agent`"), "{all}");
    assert!(all.contains("unknown value `Customer`"), "{all}");
    assert!(all.contains("rules/c.yaml:8:"), "{all}");
    // What remains after the bad terms are set aside is not the spec: no semantic
    // errors about operands that lost their term.
    assert!(!all.contains("needs `term"), "{all}");
}

#[test]
fn operands_not_joined_by_an_operator_are_an_error_at_their_line() {
    let repo = Repo::new();
    repo.write(
        "rules/c.yaml",
        "kind: Category\nname: C\ninteractionType: All\ncriteria:\n  type: OperandGroup\n  operands:\n    - {type: Term, term: {word: x, participantType: Both}}\n    - {type: Term, term: {word: y, participantType: Both}, infixOperator: {operatorType: Near}}\n",
    );
    // An org refuses operands that nothing joins: an error before anything is sent. A
    // trailing operator joins nothing and is only a warning.
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("category.operator-missing"), "{all}");
    assert!(all.contains("rules/c.yaml:7:"), "{all}");
    assert!(all.contains("category.operator-trailing"), "{all}");
    assert!(all.contains("rules/c.yaml:8:"), "{all}");
    let sandbox = Sandbox::with_creds(&[]);
    let plan = repo.run_against(&sandbox, &["plan"]);
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    let stats = sandbox.get_json("/__sandbox/stats");
    assert_eq!(
        stats["total"], 0,
        "an invalid tree never leaves the machine: {stats}"
    );
}

#[test]
fn a_replace_whose_create_fails_puts_the_old_entry_back_and_records_it() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    let spec = "kind: SentimentFeedback\nphrase: meh\ndialect: en-US\nfeedbackValue: Negative\n";
    repo.write("rules/s.yaml", spec);
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    repo.write("rules/s.yaml", &spec.replace("Negative", "Positive"));
    // The replace's delete lands; its create is refused.
    sandbox.post(
        "/__sandbox/fail?method=POST&route=/api/v2/speechandtextanalytics/sentimentfeedback&status=422",
    );
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let list = sandbox.get_json_authed("/api/v2/speechandtextanalytics/sentimentfeedback");
    assert_eq!(list["entities"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["entities"][0]["feedbackValue"], "Negative", "{list}");
    let id = plan_id(&repo, &sandbox, "SentimentFeedback", "en-US: meh");
    assert_eq!(list["entities"][0]["id"], id.as_str(), "{list}");
    let run = repo.run_against(&sandbox, &["plan"]);
    assert!(!run.stdout.contains("TAKEOVER"), "{}", run.stdout);
    assert!(run.stdout.contains("(REPLACE:"), "{}", run.stdout);
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let (code, plan) = plan_json(&repo, &sandbox, &[]);
    assert_eq!(code, 0, "{plan}");
}

#[test]
fn a_program_whose_mappings_fail_is_recorded_and_shown_again() {
    let repo = Repo::new();
    let sandbox = seeded_sandbox(&repo);
    repo.write(
        "rules/p.yaml",
        "kind: Topic\nname: T\ndialect: en-US\nphrases: [{text: hi there}]\n---\nkind: Program\nname: P\ntopics: [T]\nqueues: [Retention EN]\n",
    );
    sandbox.post(
        "/__sandbox/fail?method=PUT&route=/api/v2/speechandtextanalytics/programs/{id}/mappings&status=400",
    );
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    // The program landed: it is managed (no takeover next time) and the next plan
    // shows the mapping still to write.
    let id = plan_id(&repo, &sandbox, "Program", "P");
    let run = repo.run_against(&sandbox, &["plan"]);
    assert!(!run.stdout.contains("TAKEOVER"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("~ update Program \"P\" [id {id}]")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("+ queues: \"Retention EN\""),
        "{}",
        run.stdout
    );
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let (code, plan) = plan_json(&repo, &sandbox, &[]);
    assert_eq!(code, 0, "{plan}");
}

#[test]
fn a_settings_spec_that_does_not_manage_the_default_program_does_not_release_it() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    let spec = "kind: Topic\nname: T\ndialect: en-US\nphrases: [{text: hi there}]\n---\nkind: Program\nname: P1\ntopics: [T]\n---\nkind: Program\nname: P2\ntopics: [T]\n---\nkind: SpeechAnalyticsSettings\ndefaultProgram: P1\ntextAnalyticsEnabled: false\n";
    repo.write("rules/a.yaml", spec);
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    // The settings stop managing the default and change something else; P1 goes.
    repo.write(
        "rules/a.yaml",
        &spec
            .replace("kind: Program\nname: P1\ntopics: [T]\n---\n", "")
            .replace("defaultProgram: P1\n", "")
            .replace("textAnalyticsEnabled: false", "textAnalyticsEnabled: true"),
    );
    let run = repo.run_against(&sandbox, &["plan", "--prune"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("Program \"P1\" cannot be deleted: SpeechAnalyticsSettings \"settings\" still refers to it"),
        "{all}"
    );
}

#[test]
fn an_engine_integration_a_spec_leaves_out_is_kept() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    let spec = "kind: Topic\nname: T\ndialect: en-US\nphrases: [{text: hi there}]\n---\nkind: Program\nname: P\ntopics: [T]\ntranscriptionEngines:\n  - {engine: TranscriptionConnector, dialects: [en-US], engineIntegration: int-1}\n";
    repo.write("rules/a.yaml", spec);
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let id = plan_id(&repo, &sandbox, "Program", "P");
    let path = format!("/api/v2/speechandtextanalytics/programs/{id}/transcriptionengines");
    // Not managed any more: not a change, and kept when the program is written.
    repo.write(
        "rules/a.yaml",
        &spec
            .replace(", engineIntegration: int-1", "")
            .replace("topics: [T]", "description: changed\ntopics: [T]"),
    );
    let (code, plan) = plan_json(&repo, &sandbox, &[]);
    assert_eq!(code, 2, "{plan}");
    let diff = plan["changes"][0].to_string();
    assert!(!diff.contains("int-1"), "not shown: {diff}");
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let engines = sandbox.get_json_authed(&path);
    assert_eq!(
        engines["transcriptionEngines"][0]["engineIntegration"]["id"], "int-1",
        "{engines}"
    );
    let (code, plan) = plan_json(&repo, &sandbox, &[]);
    assert_eq!(code, 0, "{plan}");
}

#[test]
fn atomic_undoes_a_program_the_run_made_the_default() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    let term = "kind: DictionaryFeedback\nterm: Zorg\ndialect: en-US\n";
    repo.write("rules/a.yaml", term);
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    // One run: create a program, make it the default, and delete the term, whose
    // delete fails: --atomic undoes all of it.
    repo.write(
        "rules/a.yaml",
        "kind: Topic\nname: T\ndialect: en-US\nphrases: [{text: hi there}]\n---\nkind: Program\nname: P\ntopics: [T]\n---\nkind: SpeechAnalyticsSettings\ndefaultProgram: P\n",
    );
    sandbox.post(
        "/__sandbox/fail?method=DELETE&route=/api/v2/speechandtextanalytics/dictionaryfeedback/{id}&status=409",
    );
    let run = repo.run_against(
        &sandbox,
        &[
            "apply",
            "--auto-approve",
            "--atomic",
            "--prune",
            "--allow-empty",
        ],
    );
    assert_ne!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        !run.stdout.contains("ROLLBACK FAILED"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    let programs = sandbox.get_json_authed("/api/v2/speechandtextanalytics/programs");
    assert_eq!(programs["total"], 0, "{programs}");
    let topics = sandbox.get_json_authed("/api/v2/speechandtextanalytics/topics");
    assert_eq!(topics["total"], 0, "{topics}");
    let settings = sandbox.get_json_authed("/api/v2/speechandtextanalytics/settings");
    assert!(settings.get("defaultProgram").is_none(), "{settings}");
}

#[test]
fn a_pending_settings_write_that_landed_is_confirmed_through_its_spec() {
    use speechops::audit::{AuditLog, Entry};
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    repo.write(
        "rules/s.yaml",
        "kind: SpeechAnalyticsSettings\ntextAnalyticsEnabled: true\n",
    );
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    // A run killed after sending the same write: its intent names the body the spec
    // wants (one managed field), while the org's settings have every field.
    let desired =
        speechops::kinds::Object::from(speechops::kinds::speech_analytics_settings::Settings {
            name: "settings".into(),
            default_program: None,
            expected_dialects: None,
            text_analytics_enabled: Some(true),
            agent_empathy_enabled: None,
        });
    let lock: Value = serde_json::from_str(&repo.read("speechops.lock")).expect("lock");
    let head: speechops::state::AuditHead =
        serde_json::from_value(lock["audit"].clone()).expect("head");
    let mut log =
        AuditLog::open(&repo.path().join("speechops-audit.jsonl"), Some(&head)).expect("open");
    log.append(Entry {
        action: "update".into(),
        status: "pending".into(),
        kind: Some("SpeechAnalyticsSettings".into()),
        name: Some("settings".into()),
        id: Some("settings".into()),
        target: "default".into(),
        spec_sha256_after: Some(desired.sha256()),
        ..Entry::default()
    })
    .expect("append");
    drop(log);
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("confirmed") || run.stderr.contains("the org holds the intended body"),
        "{}",
        run.stderr
    );
    let log = repo.read("speechops-audit.jsonl");
    let last_resolution = log
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["kind"] == "SpeechAnalyticsSettings" && e["intent"].is_u64())
        .expect("a resolution");
    assert_eq!(last_resolution["status"], "confirmed", "{last_resolution}");
}

#[test]
fn a_key_missing_from_a_later_operand_is_reported_even_if_set_aside_earlier() {
    let repo = Repo::new();
    repo.write(
        "rules/c.yaml",
        "kind: Category\nname: C\ninteractionType: All\ncriteria:\n  type: OperandGroup\n  operands:\n    - {type: Term, term: {word: [x], participantType: Both}, infixOperator: {operatorType: Or}}\n    - {type: Term, term: {participantType: Both}}\n",
    );
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 1);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("rules/c.yaml:7:33"), "{all}");
    assert!(all.contains("missing required field `word`"), "{all}");
    assert!(all.contains("rules/c.yaml:8:26"), "{all}");
}
