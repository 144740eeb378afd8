//! Issue 17: detection tests (`speechops test`, and inside every plan).

use crate::support::{Repo, Sandbox};

fn repo_with_topics() -> Repo {
    let repo = Repo::new();
    repo.write(
        "rules/disclosure.yaml",
        "kind: Topic\nname: Disclosure\ndialect: en-US\nparticipants: Internal\nphrases:\n  - text: this call may be recorded\n",
    );
    repo.write(
        "rules/cancel.yaml",
        "kind: Topic\nname: Cancel\ndialect: en-US\nparticipants: External\nphrases:\n  - text: cancel my subscription\n",
    );
    repo
}

const PASSING: &str = "kind: DetectionTest
name: Agent discloses, customer cancels
dialect: en-US
transcript:
  - agent: Hi! This call may be recorded.
  - customer: I'd like to CANCEL my subscription, please.
expect:
  detected: [Disclosure, Cancel]
";

#[test]
fn passing_tests_exit_0_in_every_format() {
    let repo = repo_with_topics();
    repo.write("speech-tests/a.yaml", PASSING);
    let run = repo.run(&["test"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "Detection tests: 1 passed, 0 failed.\n");
    let json = repo.run(&["test", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["tests"]["passed"], 1);
    let md = repo.run(&["test", "--format", "markdown"]);
    assert!(
        md.stdout.contains("Detection tests: 1 passed, 0 failed"),
        "{}",
        md.stdout
    );
}

#[test]
fn failures_name_the_file_line_topic_and_utterance_and_respect_participants_and_dialect() {
    let repo = repo_with_topics();
    repo.write(
        "speech-tests/b.yaml",
        "kind: DetectionTest
name: Customer quotes the disclosure
dialect: en-US
transcript:
  - customer: you said this call may be recorded
  - agent: please cancel my subscription, said the customer
expect:
  detected: [Disclosure]
  notDetected: [Cancel]
---
kind: DetectionTest
name: Wrong dialect
dialect: en-GB
transcript:
  - agent: this call may be recorded
expect:
  detected: [Disclosure]
---
kind: DetectionTest
name: Cancel heard
dialect: en-US
transcript:
  - customer: Cancel my subscription!
expect:
  notDetected: [Cancel]
",
    );
    let run = repo.run(&["test"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let out = &run.stdout;
    // Participants: a customer saying the agent's phrase is not a disclosure, and an
    // agent saying the customer's phrase is not a cancellation (so that one passes).
    assert!(
        out.contains("FAIL speech-tests/b.yaml:8: \"Customer quotes the disclosure\": expected Topic \"Disclosure\" to be detected: no phrase matched (only agent utterances are searched)"),
        "{out}"
    );
    assert!(!out.contains("expected Topic \"Cancel\" not to be detected: phrase \"cancel my subscription\" matched utterance 2"), "{out}");
    assert!(out.contains("b.yaml:17: \"Wrong dialect\""), "{out}");
    assert!(
        out.contains("the topic's dialect is en-US, the transcript's en-GB"),
        "{out}"
    );
    assert!(
        out.contains("b.yaml:25: \"Cancel heard\": expected Topic \"Cancel\" not to be detected: phrase \"cancel my subscription\" matched utterance 1 (customer: \"Cancel my subscription!\")"),
        "{out}"
    );
    assert!(
        out.ends_with("Detection tests: 0 passed, 3 failed.\n"),
        "{out}"
    );
}

#[test]
fn a_test_naming_an_unknown_topic_is_an_error_at_file_line() {
    let repo = repo_with_topics();
    repo.write(
        "speech-tests/c.yaml",
        "kind: DetectionTest\nname: Typo\ndialect: en-US\ntranscript:\n  - agent: hello\nexpect:\n  detected: [Disclosur]\n",
    );
    let run = repo.run(&["test"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("speech-tests/c.yaml:7:14"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean \"Disclosure\""),
        "{}",
        run.stderr
    );
}

#[test]
fn plan_runs_the_tests_shows_them_and_fails_when_one_fails() {
    let sandbox = Sandbox::with_creds(&[]);
    let repo = repo_with_topics();
    repo.write("speech-tests/a.yaml", PASSING);
    let plan = repo.run_against(&sandbox, &["plan", "--format", "markdown"]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout
            .contains("✅ Detection tests: 1 passed, 0 failed"),
        "{}",
        plan.stdout
    );
    // A phrase change that breaks detection fails the pull request's plan.
    repo.write(
        "rules/disclosure.yaml",
        "kind: Topic\nname: Disclosure\ndialect: en-US\nparticipants: Internal\nphrases:\n  - text: this call is recorded\n",
    );
    let plan = repo.run_against(&sandbox, &["plan", "--format", "json"]);
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).expect("json");
    assert_eq!(v["tests"]["failed"], 1, "{v}");
    assert_eq!(
        v["tests"]["results"][0]["failures"][0]["topic"],
        "Disclosure"
    );
}

#[test]
fn the_example_rules_pass_their_detection_tests() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = crate::support::run(crate::support::speechops(root).args(["test"]));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("0 failed"), "{}", run.stdout);
}

fn seeded_sandbox() -> Sandbox {
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sandbox-seed.yaml");
    Sandbox::with_creds(&["--seed-file", seed.to_str().expect("path")])
}

/// Issue 17: `plan --hits` shows how often the changed topics were detected and how
/// many recent transcripts each new phrase would match, from the sandbox's seeded
/// transcripts (the same matching rule as `speechops test`).
#[test]
fn plan_with_hits_shows_detections_beside_each_change() {
    let sandbox = seeded_sandbox();
    let repo = Repo::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["recording-disclosure.yaml", "cancellation-intent.yaml"] {
        let text = std::fs::read_to_string(root.join("rules/topics/en-US").join(f)).expect("rule");
        repo.write(&format!("rules/{f}"), &text);
    }
    assert_eq!(
        repo.run_against(&sandbox, &["apply", "--auto-approve"])
            .code,
        0
    );
    let rule = repo.read("rules/cancellation-intent.yaml");
    repo.write(
        "rules/cancellation-intent.yaml",
        &rule.replace(
            "  - text: how do I cancel\n",
            "  - text: how do I cancel this\n  - text: cancel my plan\n",
        ),
    );
    let md = repo.run_against(&sandbox, &["plan", "--hits", "--format", "markdown"]);
    assert_eq!(md.code, 0, "{}", md.stderr);
    // The digest and the change keys cover remote ids, which differ per sandbox.
    // The day-by-day bars depend on the time of day (see adoption::day_by_day).
    let shown: Vec<String> = md
        .stdout
        .lines()
        .filter(|l| !l.starts_with("<!-- speechops-digest: "))
        .map(|l| match l.split_once(' ') {
            Some((key, rest)) if key.len() == 24 && key.bytes().all(|b| b.is_ascii_hexdigit()) => {
                rest.to_string()
            }
            _ => crate::adoption::day_by_day(l),
        })
        .collect();
    insta::assert_snapshot!(
        "plan_hits_markdown",
        shown.join("\n").replace(&sandbox.url, "SANDBOX")
    );
    let json = repo.run_against(&sandbox, &["plan", "--hits=7", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    let hits = &v["changes"][0]["hits"];
    assert_eq!(hits["days"], 7, "{v}");
    assert!(hits["communications"].as_u64().expect("count") > 0, "{v}");
    assert_eq!(hits["phrases"].as_array().map(Vec::len), Some(2), "{v}");
}

/// A failure of the read-only detection queries is a warning in the plan, never a
/// failed plan.
#[test]
fn a_failing_detection_query_is_a_warning_not_a_failed_plan() {
    let sandbox = seeded_sandbox();
    let repo = Repo::new();
    repo.write_topics(2, 1, "v1");
    assert_eq!(
        repo.run_against(&sandbox, &["apply", "--auto-approve"])
            .code,
        0
    );
    repo.write_topics(2, 1, "v2");
    sandbox.post("/__sandbox/fail?method=POST&route=/api/v2/analytics/transcripts/aggregates/query&status=403");
    let plan = repo.run_against(&sandbox, &["plan", "--hits", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout
            .contains("warning: detection counts are unavailable"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("would match"),
        "phrase jobs still ran: {}",
        plan.stdout
    );
}

/// A failing detection test refuses an apply before anything is sent, as it fails the
/// plan; and `--sandbox` keeps its state beside the sandbox org.
#[test]
fn apply_refuses_when_a_detection_test_fails() {
    let repo = repo_with_topics();
    repo.write(
        "speech-tests/a.yaml",
        &PASSING.replace(
            "detected: [Disclosure, Cancel]",
            "notDetected: [Disclosure]",
        ),
    );
    let apply = repo.run(&["apply", "--sandbox", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}\n{}", apply.stdout, apply.stderr);
    assert!(
        apply
            .stderr
            .contains("detection tests failed; nothing was changed"),
        "{}",
        apply.stderr
    );
    repo.write("speech-tests/a.yaml", PASSING);
    let apply = repo.run(&["apply", "--sandbox", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(
        repo.path()
            .join(".speechops/sandbox/speechops.lock")
            .is_file()
    );
    assert!(
        repo.path()
            .join(".speechops/sandbox/speechops-audit.jsonl")
            .is_file()
    );
    assert!(
        !repo.path().join("speechops.lock").exists(),
        "the real lockfile is untouched"
    );
}

/// Issue 26: `speechops hits` reports every managed topic's detections per day over a
/// period, with a trend, flags the topics that never fired, and writes CSV for the
/// quality team, from one aggregates query.
#[test]
fn hits_reports_every_topic_per_day_and_flags_the_ones_that_never_fire() {
    let sandbox = seeded_sandbox();
    let repo = Repo::new();
    repo.write(
        "rules/disclosure.yaml",
        "kind: Topic\nname: Recording disclosure\ndialect: en-US\nphrases:\n  - text: this call is being recorded\n",
    );
    repo.write(
        "rules/quiet.yaml",
        "kind: Topic\nname: Quiet topic\ndialect: en-US\nphrases:\n  - text: zebra crossing pamphlet\n",
    );
    let apply = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}{}", apply.stdout, apply.stderr);
    let before = sandbox.get_json("/__sandbox/stats");
    let json = repo.run_against(&sandbox, &["hits", "--since", "7d", "--format", "json"]);
    assert_eq!(json.code, 0, "{}{}", json.stdout, json.stderr);
    let after = sandbox.get_json("/__sandbox/stats");
    let queries = |s: &serde_json::Value| {
        s["routes"]["POST /api/v2/analytics/transcripts/aggregates/query"]
            .as_u64()
            .unwrap_or(0)
    };
    assert_eq!(
        queries(&after) - queries(&before),
        1,
        "one aggregates query"
    );
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["days"], 7);
    let topics = v["topics"].as_array().expect("topics");
    assert_eq!(topics.len(), 2);
    let by = |n: &str| {
        topics
            .iter()
            .find(|t| t["name"] == n)
            .expect("topic")
            .clone()
    };
    let loud = by("Recording disclosure");
    assert!(loud["total"].as_u64().unwrap_or(0) > 0, "{loud}");
    assert_eq!(loud["daily"].as_array().map(Vec::len), Some(7));
    assert_eq!(by("Quiet topic")["neverFired"], true);

    let text = repo.run_against(&sandbox, &["hits", "--since", "7d"]);
    assert!(text.stdout.contains("NEVER FIRED"), "{}", text.stdout);
    assert!(
        text.stdout.contains("1 never fired in 7 days"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.chars().any(|c| "▁▂▃▄▅▆▇█".contains(c)),
        "a sparkline: {}",
        text.stdout
    );
    let csv = repo.run_against(
        &sandbox,
        &[
            "hits",
            "--since",
            "7d",
            "--format",
            "csv",
            "--topic",
            "Quiet topic",
        ],
    );
    assert_eq!(csv.code, 0, "{}{}", csv.stdout, csv.stderr);
    let rows: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(rows[0], "topic,dialect,topic_id,date,detections");
    assert_eq!(rows.len(), 8, "{}", csv.stdout);
    assert!(
        rows[1..]
            .iter()
            .all(|r| r.starts_with("Quiet topic,en-US,") && r.ends_with(",0"))
    );
    let wrong = repo.run_against(&sandbox, &["hits", "--topic", "Quiet topics"]);
    assert_eq!(wrong.code, 1);
    assert!(
        wrong.stderr.contains("did you mean \"Quiet topic\""),
        "{}",
        wrong.stderr
    );
}

/// Issue 26: a failing detection test shows the closest phrase, and how punctuation
/// changed its words (`can't` is matched as `can t`).
#[test]
fn a_failing_test_shows_the_closest_phrase_and_how_it_is_matched() {
    let repo = Repo::new();
    repo.write(
        "rules/c.yaml",
        "kind: Topic\nname: Cannot pay\ndialect: en-US\nphrases:\n  - text: I can't pay\n  - text: payment plan please\n",
    );
    repo.write(
        "speech-tests/c.yaml",
        "kind: DetectionTest\nname: cannot pay\ndialect: en-US\ntranscript:\n  - customer: i cannot pay today\nexpect:\n  detected: [Cannot pay]\n",
    );
    let run = repo.run(&["test"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("closest: \"I can't pay\" (matched as \"i can t pay\"), 2 of its 4 word(s) in order in the customer's \"i cannot pay today\""),
        "{}",
        run.stdout
    );
}
