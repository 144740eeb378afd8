//! Issue 18: from zero to a running rule repository: `init`, `fmt`.

use crate::support::{self, Repo, Sandbox};

#[test]
fn init_then_validate_test_fmt_and_plan_on_the_sandbox_all_succeed() {
    let repo = Repo::new();
    let init = repo.run(&["init", "new-rules"]);
    assert_eq!(init.code, 0, "{}\n{}", init.stdout, init.stderr);
    let dir = repo.path().join("new-rules");
    for args in [
        vec!["validate", "--strict"],
        vec!["test"],
        vec!["fmt", "--check"],
        vec!["plan", "--sandbox", "--detailed-exitcode"],
    ] {
        let run = support::run(support::speechops(&dir).args(&args));
        let expected = if args[0] == "plan" { 2 } else { 0 };
        assert_eq!(
            run.code, expected,
            "{args:?}:\n{}\n{}",
            run.stdout, run.stderr
        );
    }
    for f in [
        "schemas/speechops.schema.json",
        ".github/workflows/speechops-reconcile.yml",
        ".github/speechops/plan.sh",
        ".github/speechops/VERSION",
        ".gitignore",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let gitignore = std::fs::read_to_string(dir.join(".gitignore")).expect("gitignore");
    assert!(gitignore.contains(".speechops/") && gitignore.contains("speechops.lock.lock"));
    assert!(
        !gitignore.contains("speechops.lock\n"),
        "the lockfile is committed"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(".github/speechops/plan.sh"))
            .expect("script")
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "scripts are executable");
    }
}

#[test]
fn init_never_overwrites_anything() {
    let repo = Repo::new();
    repo.write("speechops.yaml", "rulesDir: mine\n");
    let init = repo.run(&["init"]);
    assert_eq!(init.code, 1);
    assert!(init.stderr.contains("speechops.yaml"), "{}", init.stderr);
    assert!(
        init.stderr.contains("nothing was written"),
        "{}",
        init.stderr
    );
    assert_eq!(repo.read("speechops.yaml"), "rulesDir: mine\n");
    assert!(!repo.path().join("rules").exists());
}

#[test]
fn fmt_rewrites_layout_keeps_comments_and_check_names_unformatted_files() {
    let repo = Repo::new();
    let messy = "# why this topic exists\nkind:   Topic\nname: Greeting   # shown in Genesys\ndialect: en-US\nphrases:\n    -   text: good morning\n";
    repo.write("rules/t.yaml", messy);
    let check = repo.run(&["fmt", "--check"]);
    assert_eq!(check.code, 1);
    assert!(
        check.stderr.contains("not formatted: rules/t.yaml"),
        "{}",
        check.stderr
    );
    assert_eq!(repo.read("rules/t.yaml"), messy, "--check changes nothing");
    let fmt = repo.run(&["fmt"]);
    assert_eq!(fmt.code, 0, "{}", fmt.stderr);
    assert_eq!(
        repo.read("rules/t.yaml"),
        "# why this topic exists\nkind: Topic\nname: Greeting # shown in Genesys\ndialect: en-US\nphrases:\n  - text: good morning\n"
    );
    assert_eq!(repo.run(&["fmt", "--check"]).code, 0);
    assert_eq!(repo.run(&["validate"]).code, 0);
    repo.write("rules/bad.yaml", "kind: [Topic\n");
    let bad = repo.run(&["fmt", "rules/bad.yaml"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("rules/bad.yaml: not valid YAML"),
        "{}",
        bad.stderr
    );
}

/// Issue 18: error messages a new user meets first, each in the user's words.
#[test]
fn first_mistakes_get_errors_in_the_users_words() {
    let repo = Repo::new();
    repo.write(
        "rules/a.yaml",
        "kind: Topic\nname: A\ndialect: en-CA\nphrases:\n  - I love it\n",
    );
    repo.write(
        "rules/p.yaml",
        "kind: Program\nname: P\ntopics: Same name\n",
    );
    repo.write(
        "rules/tab.yaml",
        "kind: Topic\nname: B\ndialect: en-US\nphrases:\n\t- text: x\n",
    );
    let run = repo.run(&["validate", "--no-color", "--format", "json"]);
    assert_eq!(run.code, 1);
    let diags: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let text = diags.to_string();
    assert!(
        !text.contains("TopicPhraseSpec"),
        "no internal type names: {text}"
    );
    assert!(text.contains("write `- text: …`"), "{text}");
    assert!(!text.contains("did you mean `en-ZA`"), "{text}");
    assert!(text.contains("the closest are `en-US`"), "{text}");
    assert!(text.contains("`fr-CA`"), "{text}");
    assert!(text.contains("write a list: `[First, Second]`"), "{text}");
    assert!(text.contains("replace the tab with spaces"), "{text}");

    repo.write("speechops.yaml", "rulesDri: rules\n");
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.matches("error").count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("speechops.yaml:1:1"), "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean `rulesDir`"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("<input>"), "{}", run.stderr);

    let help = repo.run(&["import", "--help"]);
    assert!(help.stdout.contains("or all"), "{}", help.stdout);
}

/// docs/example-pr-comment.md is the markdown plan of a realistic change to the
/// example rules, with detection numbers from the sample transcripts: what reviewers
/// get. Regenerate with
/// `SPEECHOPS_UPDATE_DOCS=1 cargo test --test it adoption::example_pr_comment_is_current`.
#[test]
fn example_pr_comment_is_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let seed = root.join("sandbox-seed.yaml");
    let sandbox =
        crate::support::Sandbox::with_creds(&["--seed-file", seed.to_str().expect("path")]);
    let repo = Repo::new();
    for dir in ["rules/topics/en-US", "rules/topics/en-GB", "rules/programs"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("rules") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("rule");
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string();
            repo.write(&format!("{dir}/{name}"), &text);
        }
    }
    repo.write("speechops.yaml", "prune: true\n");
    let apply = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    // The change under review: a phrase added to the disclosure, a cancellation phrase
    // reworded, and the competitor topic retired (with its program reference).
    let disclosure = repo.read("rules/topics/en-US/recording-disclosure.yaml");
    repo.write(
        "rules/topics/en-US/recording-disclosure.yaml",
        &disclosure.replace(
            "  - text: this conversation may be monitored\n",
            "  - text: this conversation may be monitored\n  - text: this call is being recorded for training\n",
        ),
    );
    let cancel = repo.read("rules/topics/en-US/cancellation-intent.yaml");
    repo.write(
        "rules/topics/en-US/cancellation-intent.yaml",
        &cancel.replace(
            "  - text: how do I cancel\n",
            "  - text: how do I cancel this\n",
        ),
    );
    std::fs::remove_file(
        repo.path()
            .join("rules/topics/en-US/competitor-mention.yaml"),
    )
    .expect("rm");
    let retention = repo.read("rules/programs/us-retention.yaml");
    repo.write(
        "rules/programs/us-retention.yaml",
        &retention.replace("Competitor mention, ", ""),
    );
    let plan = repo.run_against(&sandbox, &["plan", "--hits", "--format", "markdown"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let doc = format!(
        "<!-- Generated by `SPEECHOPS_UPDATE_DOCS=1 cargo test --test it adoption::example_pr_comment_is_current`: do not edit. -->\n\n{}",
        // The digest covers remote ids, which differ per sandbox: shown as a placeholder.
        plan.stdout
            .replace(&sandbox.url, "prod")
            .lines()
            .map(|l| if l.starts_with("<!-- speechops-digest: ") {
                "<!-- speechops-digest: (sha256 of the plan) -->".to_string()
            } else {
                // Each change's key covers its remote id too.
                let l = &day_by_day(l);
                match l.split_once(' ') {
                    Some((key, rest))
                        if key.len() == 24 && key.bytes().all(|b| b.is_ascii_hexdigit()) =>
                    {
                        format!("(change key) {rest}")
                    }
                    _ => l.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    );
    let path = root.join("docs/example-pr-comment.md");
    if std::env::var_os("SPEECHOPS_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &doc).expect("write doc");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == doc,
        "docs/example-pr-comment.md is stale; regenerate it with SPEECHOPS_UPDATE_DOCS=1 cargo test --test it adoption::example_pr_comment_is_current"
    );
}

/// Issue 18: every command of the howto's tested blocks runs, in order, from a fresh
/// folder, with the built binary as `speechops` (docs that hold).
#[test]
fn the_howto_commands_work_from_a_fresh_folder() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let howto = std::fs::read_to_string(root.join("docs/howto-rule-repo.md")).expect("howto");
    let mut commands = Vec::new();
    let mut lines = howto.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("<!-- tested") {
            assert_eq!(lines.next(), Some("```sh"), "a tested block is a sh block");
            for l in lines.by_ref() {
                if l == "```" {
                    break;
                }
                commands.push(l.to_string());
            }
        }
    }
    assert!(commands.len() >= 5, "{commands:?}");
    let bin_dir = tempfile::tempdir().expect("bin");
    #[cfg(unix)]
    std::os::unix::fs::symlink(crate::support::bin(), bin_dir.path().join("speechops"))
        .expect("link");
    let work = tempfile::tempdir().expect("work");
    let path = format!(
        "{}:{}",
        bin_dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = format!("set -e\n{}\n", commands.join("\n"));
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(work.path())
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env_remove("GENESYSCLOUD_REGION")
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{script}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let staged = std::process::Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(work.path().join("speech-rules"))
        .output()
        .expect("git");
    let staged = String::from_utf8_lossy(&staged.stdout);
    assert!(
        !staged.contains(".speechops/"),
        "local state is ignored: {staged}"
    );
    // The sandbox keeps its own state: the repository's lockfile and audit log stay
    // for the real org.
    assert!(!staged.contains("speechops.lock"), "{staged}");
    assert!(!staged.contains("speechops-audit.jsonl"), "{staged}");
    assert!(
        staged.contains("rules/topics/recording-disclosure.yaml"),
        "{staged}"
    );
}

/// Issue 18: each command's help shows only the global flags it uses (the others are
/// still accepted); and a completion script piped into `head` is not a crash.
#[test]
fn help_shows_only_the_flags_a_command_uses() {
    let repo = Repo::new();
    let completions = repo.run(&["completions", "--help"]);
    assert_eq!(completions.code, 0);
    for flag in ["--sandbox", "--lockfile", "--target", "--dir"] {
        assert!(
            !completions.stdout.contains(flag),
            "{flag}: {}",
            completions.stdout
        );
    }
    let validate = repo.run(&["validate", "--help"]);
    assert!(validate.stdout.contains("--dir") && !validate.stdout.contains("--api-url"));
    let plan = repo.run(&["plan", "--help"]);
    for flag in ["--sandbox", "--lockfile", "--target", "--dir", "--api-url"] {
        assert!(plan.stdout.contains(flag), "{flag}");
    }
    // Hidden is not refused: a CI script passing its flags everywhere keeps working.
    repo.write("rules/t.yaml", &support::topic_yaml("T", 1, "v"));
    assert_eq!(repo.run(&["validate", "--lockfile", "x.lock"]).code, 0);

    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' completions bash | head -1; exit ${{PIPESTATUS[0]}}",
            support::bin().display()
        ))
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every problem of speechops.yaml at once, not one per run.
#[test]
fn config_errors_are_all_reported_at_once() {
    let repo = Repo::new();
    repo.write("rules/t.yaml", &support::topic_yaml("T", 1, "v"));
    repo.write(
        "speechops.yaml",
        "takeover: allwo\nguards: { maxChangePct: 3 }\nprnue: true\n",
    );
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 1);
    for needle in [
        "speechops.yaml:1:11",
        "did you mean `allow`",
        "2:11",
        "did you mean `maxChangePercent`",
        "3:1",
        "did you mean `prune`",
    ] {
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }
}

#[test]
fn import_never_records_an_example_spec_that_differs_from_the_org_as_managed() {
    let sandbox = Sandbox::with_creds(&[]);
    // The org already holds a real "Recording disclosure".
    let org = Repo::new();
    org.write(
        "rules/t.yaml",
        "kind: Topic\nname: Recording disclosure\ndialect: en-US\nphrases:\n  - text: this call is recorded for quality\n  - text: calls are monitored\n",
    );
    let run = org.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    // A new admin runs init (its example topic has the same name), then import.
    let repo = Repo::new();
    let run = repo.run(&["init", "."]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let run = repo.run_against(
        &sandbox,
        &["import", "--kind", "all", "--out", "rules/imported"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("differs from the org's object, so it is not recorded as managed"),
        "{}",
        run.stderr
    );
    let lock = std::fs::read_to_string(repo.path().join("speechops.lock")).unwrap_or_default();
    assert!(!lock.contains("Recording disclosure"), "{lock}");
    // The next plan does not silently rewrite the org: the difference is a takeover.
    let plan = repo.run_against(&sandbox, &["plan"]);
    assert_eq!(plan.code, 3, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("TAKEOVER"), "{}", plan.stdout);
    // init said how to avoid that.
    let fresh = Repo::new();
    let run = fresh.run(&["init", "."]);
    assert!(
        run.stdout.contains("speechops init --no-examples"),
        "{}",
        run.stdout
    );

    // Safe by construction: init without examples, import, and the plan is clean.
    let repo = Repo::new();
    let run = repo.run(&["init", "--no-examples", "."]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("speechops import --kind all"),
        "{}",
        run.stdout
    );
    assert!(!repo.path().join("rules").exists(), "no example specs");
    assert!(
        !repo.path().join("speech-tests").exists(),
        "no example tests"
    );
    let run = repo.run_against(&sandbox, &["import", "--kind", "all", "--out", "rules"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let plan = repo.run_against(&sandbox, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    let lock = std::fs::read_to_string(repo.path().join("speechops.lock")).unwrap_or_default();
    assert!(
        lock.contains("Recording disclosure"),
        "the org's topic is managed: {lock}"
    );
    assert!(
        repo.read("rules/topic-recording-disclosure.yaml")
            .contains("this call is recorded for quality"),
        "the org's phrases, not an example's"
    );
}

/// Issue 26: a new repository's sandbox has detection numbers (init writes a seed).
#[test]
fn init_writes_a_sandbox_seed_so_plan_hits_has_numbers() {
    let repo = Repo::new();
    assert_eq!(repo.run(&["init", "."]).code, 0);
    let seed = repo.read("sandbox-seed.yaml");
    assert!(
        seed.contains("queues:") && seed.contains("transcripts:"),
        "{seed}"
    );
    assert_eq!(seed.matches("  - conversationId:").count(), 60);
    let plan = repo.run(&["plan", "--sandbox", "--hits", "--format", "json"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    let v: serde_json::Value = serde_json::from_str(&plan.stdout).expect("json");
    let topic = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["name"] == "Recording disclosure" && c["action"] == "create")
        .expect("the example topic");
    assert!(topic["hits"].is_object(), "{topic}");
}

/// Issue 26: the org's exact queue, flow and STA names can be looked up, and a
/// mistyped queue gets a did-you-mean from the org, last in the plan's output.
#[test]
fn org_lookups_list_exact_names_and_a_mistyped_queue_gets_a_did_you_mean() {
    let repo = Repo::new();
    assert_eq!(repo.run(&["init", "."]).code, 0);
    let queues = repo.run(&["org", "queues", "--sandbox"]);
    assert_eq!(queues.code, 0, "{queues:?}");
    assert!(
        queues.stdout.contains("Retention EN") && queues.stdout.contains("q-retention-en"),
        "{}",
        queues.stdout
    );
    assert!(
        queues.stdout.contains("routing:queue:view"),
        "{}",
        queues.stdout
    );
    let flows = repo.run(&[
        "org",
        "flows",
        "--sandbox",
        "--name",
        "*CARE*",
        "--format",
        "json",
    ]);
    assert_eq!(flows.code, 0, "{flows:?}");
    let v: serde_json::Value = serde_json::from_str(&flows.stdout).expect("json");
    assert_eq!(
        v,
        serde_json::json!([{"name": "UK care IVR", "id": "f-uk-care"}])
    );
    assert_eq!(repo.run(&["apply", "--sandbox", "--auto-approve"]).code, 0);
    let topics = repo.run(&["org", "topics", "--sandbox"]);
    assert!(
        topics.stdout.contains("Recording disclosure") && topics.stdout.contains("en-US"),
        "{}",
        topics.stdout
    );

    let program = repo.read("rules/programs/compliance.yaml");
    repo.write(
        "rules/programs/compliance.yaml",
        &format!("{program}queues: [Retention EM]\n"),
    );
    let plan = repo.run(&["plan", "--sandbox"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    assert!(
        plan.stderr.contains("(did you mean \"Retention EN\"?)"),
        "{}",
        plan.stderr
    );
    let last = plan.stdout.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Error: rules/programs/compliance.yaml:"),
        "{}",
        plan.stdout
    );
}

/// A plan line with its day-by-day sparkline as a placeholder: the bars depend on the
/// time of day the sample transcripts fall into UTC days.
pub fn day_by_day(line: &str) -> String {
    match line.find(", day by day `") {
        Some(at) => {
            let rest = &line[at + ", day by day `".len()..];
            match rest.find('`') {
                Some(end) => format!("{}, day by day `(trend)`{}", &line[..at], &rest[end + 1..]),
                None => line.to_string(),
            }
        }
        None => line.to_string(),
    }
}

/// Issue 26: accepting a change made in the Genesys UI is one command: import --force
/// writes the org's version over the spec, wherever it lives, and shows the diff.
#[test]
fn import_force_accepts_a_ui_change_into_the_spec_and_shows_the_diff() {
    use speechops::kinds::topic::wire::{TopicRequest, WirePhrase};
    let sandbox = Sandbox::with_creds(&[]);
    let repo = Repo::new();
    repo.write(
        "rules/compliance/disclosure.yaml",
        "kind: Topic\nname: Recording disclosure\ndialect: en-US\nphrases:\n  - text: this call may be recorded\n",
    );
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 0, "{run:?}");
    let client = sandbox.client();
    let id = support::block_on(client.list_topics()).expect("list")[0]
        .id
        .clone();
    support::block_on(
        client.update_topic(
            &id,
            &TopicRequest {
                name: "Recording disclosure".into(),
                description: String::new(),
                strictness: "72".into(),
                matching_type: "Lexical".into(),
                tags: vec![],
                dialect: "en-US".into(),
                participants: "All".into(),
                phrases: ["this call may be recorded", "calls are recorded"]
                    .iter()
                    .map(|t| WirePhrase {
                        text: (*t).into(),
                        strictness: None,
                        sentiment: None,
                        is_ai_generated: None,
                    })
                    .collect(),
            },
        ),
    )
    .expect("UI edit");
    let accept = repo.run_against(
        &sandbox,
        &[
            "import",
            "--kind",
            "Topic",
            "--name",
            "Recording disclosure",
            "--out",
            "rules",
            "--force",
        ],
    );
    assert_eq!(accept.code, 0, "{accept:?}");
    assert!(
        accept
            .stdout
            .contains("rules/compliance/disclosure.yaml (the org's)")
            && accept.stdout.contains("+  - text: calls are recorded"),
        "{}",
        accept.stdout
    );
    assert!(
        repo.read("rules/compliance/disclosure.yaml")
            .contains("calls are recorded")
    );
    assert!(
        !repo
            .path()
            .join("rules/topic-recording-disclosure.yaml")
            .exists(),
        "no second copy"
    );
    let plan = repo.run_against(&sandbox, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{plan:?}");
}
