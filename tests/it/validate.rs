//! Tests of `speechops validate`, `speechops schema` and the spec loader.
//!
//! Fixture trees live in `tests/fixtures/validate/<case>/`; each validation rule has
//! one, and its test asserts the diagnostic's code, file, line and message.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::Value;

use crate::support::{Repo, run, speechops};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(case: &str) -> PathBuf {
    manifest_dir().join("tests/fixtures/validate").join(case)
}

/// Runs `validate --dir . --format json [extra]` inside `dir`.
fn validate_json(dir: &Path, extra: &[&str]) -> (i32, Vec<Value>) {
    let r = run(speechops(dir)
        .args(["validate", "--dir", ".", "--format", "json"])
        .args(extra));
    let diags: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\n{}", r.stdout, r.stderr));
    let Value::Array(diags) = diags else {
        panic!("not an array: {diags}")
    };
    (r.code, diags)
}

/// Asserts that the case is invalid and reports each `(code, file, line, fragment)`.
#[track_caller]
fn expect(case: &str, expected: &[(&str, &str, u64, &str)]) -> Vec<Value> {
    let (code, diags) = validate_json(&fixture(case), &[]);
    assert_eq!(code, 1, "{case}: expected exit 1, diagnostics: {diags:#?}");
    for (want_code, file, line, fragment) in expected {
        let found = diags.iter().any(|d| {
            d["code"] == *want_code
                && d["file"] == *file
                && d["line"] == *line
                && d["message"].as_str().is_some_and(|m| m.contains(fragment))
        });
        assert!(
            found,
            "{case}: no {want_code} at {file}:{line} containing {fragment:?} in {diags:#?}"
        );
    }
    diags
}

fn hint_of<'a>(diags: &'a [Value], code: &str) -> &'a str {
    diags
        .iter()
        .find(|d| d["code"] == code)
        .and_then(|d| d["hint"].as_str())
        .unwrap_or("")
}

#[test]
fn yaml_syntax_error() {
    expect(
        "yaml-syntax",
        &[("yaml.syntax", "a.yaml", 3, "unclosed bracket")],
    );
}

#[test]
fn duplicate_key() {
    expect(
        "duplicate-key",
        &[("yaml.duplicate-key", "a.yaml", 3, "duplicate key `name`")],
    );
}

#[test]
fn unknown_field_with_suggestion() {
    let d = expect(
        "unknown-field",
        &[(
            "spec.unknown-field",
            "a.yaml",
            5,
            "unknown field `matchtype`",
        )],
    );
    assert!(hint_of(&d, "spec.unknown-field").contains("matchType"));
}

#[test]
fn wrong_type() {
    expect(
        "wrong-type",
        &[("spec.invalid-type", "a.yaml", 3, "expected a boolean")],
    );
}

#[test]
fn missing_required_field() {
    expect(
        "missing-field",
        &[("spec.missing-field", "a.yaml", 1, "`dialect`")],
    );
}

#[test]
fn missing_kind() {
    let d = expect(
        "missing-kind",
        &[(
            "spec.missing-kind",
            "a.yaml",
            1,
            "missing required field `kind`",
        )],
    );
    assert!(hint_of(&d, "spec.missing-kind").contains("kind: SpeechRule"));
}

#[test]
fn unknown_kind_names_the_allowed_kinds() {
    let d = expect(
        "unknown-kind",
        &[(
            "spec.unknown-kind",
            "a.yaml",
            1,
            "unknown kind `topic`, expected one of `Topic`, `Program`, `SpeechRule`",
        )],
    );
    assert!(hint_of(&d, "spec.unknown-kind").contains("`Topic`"));
}

#[test]
fn document_must_be_a_mapping() {
    expect(
        "not-a-mapping",
        &[("spec.not-a-mapping", "a.yaml", 1, "must be a mapping")],
    );
}

#[test]
fn empty_file_is_a_warning() {
    let (code, diags) = validate_json(&fixture("empty-file"), &[]);
    assert_eq!(code, 0);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0]["code"], "file.empty");
    assert_eq!(diags[0]["severity"], "warning");
    let (code, _) = validate_json(&fixture("empty-file"), &["--strict"]);
    assert_eq!(code, 1);
}

#[test]
fn empty_name() {
    expect(
        "name-empty",
        &[("spec.name-empty", "a.yaml", 2, "`name` must not be empty")],
    );
}

#[test]
fn name_with_surrounding_whitespace_is_a_warning() {
    let (code, diags) = validate_json(&fixture("name-whitespace"), &[]);
    assert_eq!(code, 0, "{diags:#?}");
    assert_eq!(diags[0]["code"], "spec.name-whitespace");
    assert_eq!(diags[0]["line"], 2);
}

#[test]
fn empty_and_duplicate_tags() {
    let d = expect(
        "tags",
        &[("spec.tag-empty", "a.yaml", 5, "tags must not be empty")],
    );
    assert!(d.iter().any(|x| {
        x["code"] == "spec.duplicate-tag"
            && x["severity"] == "warning"
            && x["line"] == 6
            && x["message"]
                .as_str()
                .is_some_and(|m| m.contains("also on line 4"))
    }));
}

#[test]
fn topic_dialect_must_be_known() {
    let d = expect(
        "topic-dialect",
        &[("spec.invalid-value", "a.yaml", 3, "unknown value `en-UK`")],
    );
    assert!(hint_of(&d, "spec.invalid-value").contains("en-"));
}

#[test]
fn topic_strictness_written_as_a_number_gets_a_quoting_hint() {
    let d = expect(
        "topic-strictness-unquoted",
        &[("spec.invalid-type", "a.yaml", 4, "number `72`")],
    );
    assert!(hint_of(&d, "spec.invalid-type").contains("\"72\""));
}

#[test]
fn topic_strictness_must_be_a_listed_value() {
    expect(
        "topic-strictness-value",
        &[(
            "spec.invalid-value",
            "a.yaml",
            4,
            "unknown value `70`, expected one of `1`, `55`, `65`, `72`, `85`, `90`",
        )],
    );
}

#[test]
fn topic_participants_enum() {
    expect(
        "topic-participants",
        &[("spec.invalid-value", "a.yaml", 4, "unknown value `Agent`")],
    );
}

#[test]
fn topic_phrase_sentiment_enum() {
    expect(
        "topic-sentiment",
        &[("spec.invalid-value", "a.yaml", 6, "unknown value `Angry`")],
    );
}

#[test]
fn topic_needs_a_phrase() {
    expect(
        "topic-no-phrases",
        &[("topic.no-phrases", "a.yaml", 4, "at least one phrase")],
    );
}

#[test]
fn topic_phrase_must_not_be_empty() {
    expect(
        "topic-phrase-empty",
        &[("topic.phrase-empty", "a.yaml", 6, "must not be empty")],
    );
}

#[test]
fn topic_duplicate_phrase_ignores_case_and_spacing() {
    expect(
        "topic-duplicate-phrase",
        &[(
            "topic.duplicate-phrase",
            "a.yaml",
            7,
            "duplicate phrase \"Cancel  MY account\" (same as line 5",
        )],
    );
}

#[test]
fn topic_contained_phrase_is_a_warning_and_strict_makes_it_an_error() {
    let (code, diags) = validate_json(&fixture("topic-redundant-phrase"), &[]);
    assert_eq!(code, 0, "{diags:#?}");
    assert_eq!(diags[0]["code"], "topic.redundant-phrase");
    assert_eq!(diags[0]["severity"], "warning");
    assert_eq!(diags[0]["line"], 5);
    let (code, _) = validate_json(&fixture("topic-redundant-phrase"), &["--strict"]);
    assert_eq!(code, 1);
}

#[test]
fn topic_too_many_phrases() {
    let repo = Repo::new();
    let mut yaml = String::from("kind: Topic\nname: Big\ndialect: en-US\nphrases:\n");
    for i in 0..1001 {
        yaml.push_str(&format!("  - text: phrase number {i:05} here\n"));
    }
    repo.write("big.yaml", &yaml);
    let (code, diags) = validate_json(repo.path(), &[]);
    assert_eq!(code, 1);
    assert!(
        diags.iter().any(|d| d["code"] == "topic.too-many-phrases"
            && d["line"] == 4
            && d["message"]
                .as_str()
                .is_some_and(|m| m.contains("1001 phrases; Genesys allows at most 1000"))),
        "{diags:#?}"
    );
    // Exactly 1000 is fine.
    let trimmed: String = yaml
        .lines()
        .take(4 + 1000)
        .map(|l| format!("{l}\n"))
        .collect();
    repo.write("big.yaml", &trimmed);
    let (code, diags) = validate_json(repo.path(), &[]);
    assert_eq!(code, 0, "{diags:#?}");
}

#[test]
fn program_topic_references_must_resolve_with_a_suggestion() {
    let d = expect(
        "program-unknown-topic",
        &[
            (
                "program.unknown-topic",
                "program.yaml",
                5,
                "references topic \"Recording disclosur\", which is not defined",
            ),
            (
                "program.unknown-topic",
                "program.yaml",
                6,
                "\"Something else entirely\"",
            ),
        ],
    );
    assert!(hint_of(&d, "program.unknown-topic").contains("\"Recording disclosure\""));
}

#[test]
fn program_topic_list_empty_and_duplicate_entries() {
    let d = expect(
        "program-topic-list",
        &[("program.topic-empty", "a.yaml", 9, "must not be empty")],
    );
    assert!(
        d.iter()
            .any(|x| x["code"] == "program.duplicate-topic" && x["severity"] == "warning")
    );
}

#[test]
fn program_at_most_500_topics_per_dialect() {
    let repo = Repo::new();
    let mut topics = String::new();
    let mut program = String::from("kind: Program\nname: Huge\ntopics:\n");
    for i in 0..501 {
        topics.push_str(&format!(
            "---\nkind: Topic\nname: T{i}\ndialect: en-GB\nphrases:\n  - text: phrase {i}\n"
        ));
        program.push_str(&format!("  - T{i}\n"));
    }
    // Another dialect does not count towards the en-GB limit.
    topics.push_str("---\nkind: Topic\nname: US\ndialect: en-US\nphrases:\n  - text: x\n");
    program.push_str("  - US\n");
    repo.write("topics.yaml", &topics);
    repo.write("program.yaml", &program);
    let (code, diags) = validate_json(repo.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0]["code"], "program.too-many-topics");
    assert_eq!(diags[0]["file"], "program.yaml");
    assert_eq!(diags[0]["line"], 3);
    assert!(
        diags[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("501 en-GB topics"))
    );
}

#[test]
fn speech_rule_too_many_phrases() {
    let repo = Repo::new();
    let mut yaml = String::from("kind: SpeechRule\nname: Big\nphrases:\n");
    for i in 0..101 {
        yaml.push_str(&format!("  - phrase: phrase {i:03} here\n"));
    }
    repo.write("big.yaml", &yaml);
    let (code, diags) = validate_json(repo.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0]["code"], "speechrule.too-many-phrases");
    assert_eq!(diags[0]["line"], 3);
    assert!(
        diags[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("101 phrases; at most 100"))
    );
}

#[test]
fn speech_rule_duplicate_phrases_case_insensitive() {
    expect(
        "speechrule-duplicate-phrase",
        &[(
            "speechrule.duplicate-phrase",
            "a.yaml",
            6,
            "duplicate phrase \"are you the ACCOUNT holder\" (same as line 4",
        )],
    );
}

#[test]
fn speech_rule_exact_phrase_overlap_is_an_error() {
    let d = expect(
        "speechrule-overlap",
        &[(
            "speechrule.overlap",
            "a.yaml",
            8,
            "ambiguous phrase overlap: exact phrases \"may be recorded\" and \
\"This call may be recorded for quality assurance\" (line 4)",
        )],
    );
    // The default matchType is exact; only the one overlapping pair is reported.
    assert_eq!(d.len(), 1, "{d:#?}");
}

#[test]
fn speech_rule_weights_in_range_and_finite() {
    let d = expect(
        "speechrule-weight",
        &[
            (
                "speechrule.weight",
                "a.yaml",
                7,
                "1.5 is outside -1.0 ..= 1.0",
            ),
            ("speechrule.weight", "a.yaml", 11, "not a finite number"),
        ],
    );
    assert_eq!(d.len(), 2, "-1.0 is allowed: {d:#?}");
}

#[test]
fn speech_rule_regex_must_compile() {
    let d = expect(
        "speechrule-regex",
        &[(
            "speechrule.regex",
            "a.yaml",
            4,
            "regex \"account (number|id\" does not compile",
        )],
    );
    assert_eq!(d.len(), 1, "{d:#?}");
}

#[test]
fn speech_rule_language_tag() {
    expect(
        "speechrule-language",
        &[(
            "speechrule.language",
            "a.yaml",
            3,
            "\"english\" is not a language tag",
        )],
    );
}

#[test]
fn speech_rule_match_type_enum_is_case_sensitive() {
    let d = expect(
        "speechrule-match-type",
        &[("spec.invalid-value", "a.yaml", 5, "unknown value `Fuzzy`")],
    );
    assert!(hint_of(&d, "spec.invalid-value").contains("`fuzzy`"));
}

#[test]
fn speech_rule_needs_a_phrase() {
    expect(
        "speechrule-no-phrases",
        &[("speechrule.no-phrases", "a.yaml", 3, "at least one phrase")],
    );
}

#[test]
fn speech_rule_phrase_must_not_be_empty() {
    expect(
        "speechrule-phrase-empty",
        &[("speechrule.phrase-empty", "a.yaml", 4, "must not be empty")],
    );
}

#[test]
fn duplicate_names_across_files_name_both_places() {
    let d = expect(
        "duplicate-name",
        &[(
            "spec.duplicate-name",
            "two/two.yaml",
            3,
            "duplicate Program name \"Outbound compliance\": also defined at one.yaml:2:7",
        )],
    );
    assert_eq!(d.len(), 1, "{d:#?}");
}

#[test]
fn renamed_from_rules() {
    expect(
        "renamed-from",
        &[
            (
                "spec.renamed-from-exists",
                "a.yaml",
                3,
                "renamedFrom \"Old name\" is still the name of a Program spec at a.yaml:6:7",
            ),
            (
                "spec.renamed-from-twice",
                "a.yaml",
                10,
                "also claimed by \"New name\" at a.yaml:3:14",
            ),
            ("spec.renamed-from-self", "a.yaml", 14, "same as `name`"),
        ],
    );
}

#[test]
fn every_problem_in_the_tree_is_reported_in_one_run() {
    let d = expect(
        "multi-error",
        &[
            ("spec.unknown-field", "programs/p.yaml", 4, "`bogus`"),
            // The unknown key does not stop P's own checks.
            ("program.unknown-topic", "programs/p.yaml", 3, "\"Missing\""),
            ("program.unknown-topic", "programs/p.yaml", 8, "\"Missing\""),
            ("speechrule.overlap", "rules/r.yaml", 5, "\"a b c\""),
            ("speechrule.weight", "rules/r.yaml", 8, "2 is outside"),
            ("speechrule.regex", "rules/r.yaml", 13, "does not compile"),
            ("topic.duplicate-phrase", "topics/a.yaml", 6, "\"HELLO\""),
            ("spec.invalid-type", "topics/a.yaml", 11, "number `99`"),
        ],
    );
    assert_eq!(d.len(), 8, "{d:#?}");
    // Deterministic order: file, then line.
    let keys: Vec<(String, u64)> = d
        .iter()
        .map(|x| {
            (
                x["file"].as_str().unwrap_or("").to_string(),
                x["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn several_structural_errors_in_one_document_are_all_reported() {
    let repo = Repo::new();
    repo.write(
        "a.yaml",
        "kind: Topic\nname: T\ndialect: en-US\nstrictness: 72\nparticipnts: All\n\
tags: [a, 5]\nphrases:\n  - text: hello\n    sentimnt: Positive\n  - text: HELLO\n",
    );
    let (code, d) = validate_json(repo.path(), &[]);
    assert_eq!(code, 1);
    let got: Vec<(String, u64)> = d
        .iter()
        .map(|x| {
            (
                x["code"].as_str().unwrap_or("").to_string(),
                x["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let want: Vec<(String, u64)> = [
        ("spec.invalid-type", 4),
        ("spec.unknown-field", 5),
        ("spec.invalid-type", 6),
        ("spec.unknown-field", 9),
        ("topic.duplicate-phrase", 10),
    ]
    .iter()
    .map(|(c, l)| (c.to_string(), *l))
    .collect();
    assert_eq!(got, want, "{d:#?}");
}

#[test]
fn json_output_shape_is_stable() {
    let (_, d) = validate_json(&fixture("speechrule-regex"), &[]);
    let obj = d[0].as_object().expect("object");
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "severity", "code", "message", "file", "line", "column", "hint"
        ]
    );
    assert_eq!(d[0]["column"], 13);
    // A valid tree prints an empty array.
    let (code, d) = validate_json(&manifest_dir().join("rules"), &[]);
    assert_eq!((code, d.len()), (0, 0));
}

#[test]
fn text_output_has_location_snippet_caret_hint_and_summary() {
    let r = run(speechops(&fixture("speechrule-overlap")).args(["validate", "--dir", "."]));
    assert_eq!(r.code, 1);
    let out = &r.stdout;
    assert!(out.contains("speechrule.overlap"), "{out}");
    assert!(out.contains("[a.yaml:8:13]"), "{out}");
    assert!(out.contains("8 |   - phrase: may be recorded"), "{out}");
    assert!(out.contains("^^^^^^^^^^^^^^^"), "{out}");
    assert!(out.contains("help: remove the shorter phrase"), "{out}");
    assert!(
        out.trim_end()
            .ends_with("invalid: 1 error, 0 warnings in 1 file (1 spec)"),
        "{out}"
    );
    assert!(
        !out.contains('\u{1b}'),
        "no colour when NO_COLOR is set: {out}"
    );
}

#[test]
fn warnings_pass_unless_strict() {
    let r = run(speechops(&fixture("warning-only")).args(["validate", "--dir", "."]));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.contains("valid: 0 errors, 1 warning"),
        "{}",
        r.stdout
    );
    let r = run(speechops(&fixture("warning-only")).args(["validate", "--dir", ".", "--strict"]));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("--strict"), "{}", r.stdout);
}

#[test]
fn hidden_folders_and_other_extensions_are_skipped() {
    let (code, d) = validate_json(&fixture("hidden"), &[]);
    assert_eq!((code, d.len()), (0, 0), "{d:#?}");
    let r = run(speechops(&fixture("hidden")).args(["validate", "--dir", "."]));
    assert!(r.stdout.contains("in 1 file (1 spec)"), "{}", r.stdout);
}

#[test]
fn missing_dir_is_a_clear_error() {
    let repo = Repo::new();
    let r = repo.run(&["validate", "--dir", "nope"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("nope"), "{}", r.stderr);
    // Without --dir, the default `rules` folder is used.
    let r = repo.run(&["validate"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("rules"), "{}", r.stderr);
}

#[test]
fn validate_reads_rules_dir_from_the_config_and_needs_no_target() {
    let repo = Repo::new();
    repo.write("speechops.yaml", "rulesDir: specs\n");
    repo.write("specs/p.yaml", "kind: Program\nname: P\n");
    let r = repo.run(&["validate"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 spec"), "{}", r.stdout);
}

#[test]
fn binary_empty_deep_and_huge_files_do_not_crash() {
    let repo = Repo::new();
    std::fs::write(
        repo.path().join("binary.yaml"),
        [0u8, 159, 146, 150, 255, 0, 1],
    )
    .expect("write");
    std::fs::write(
        repo.path().join("late.yaml"),
        b"kind: Program\nname: ok\ndescription: caf\xc3\xa9 \xff\n",
    )
    .expect("write");
    repo.write("empty.yaml", "");
    repo.write("deep-flow.yaml", &"[".repeat(200_000));
    let block: String = (0..2000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    repo.write("deep-block.yaml", &block);
    // Just over the 16 MiB limit.
    let big = format!(
        "kind: Program\nname: big\ndescription: {}\n",
        "x".repeat(17 << 20)
    );
    repo.write("huge.yaml", &big);
    let (code, d) = validate_json(repo.path(), &[]);
    assert_eq!(code, 1);
    let find = |file: &str| {
        d.iter()
            .find(|x| x["file"] == file)
            .unwrap_or_else(|| panic!("nothing for {file}: {d:#?}"))
    };
    assert_eq!(find("binary.yaml")["code"], "file.not-utf8");
    assert_eq!(find("late.yaml")["code"], "file.not-utf8");
    assert_eq!(find("late.yaml")["line"], 3);
    assert_eq!(find("late.yaml")["column"], 19);
    assert_eq!(find("empty.yaml")["code"], "file.empty");
    assert_eq!(find("huge.yaml")["code"], "file.too-large");
    for f in ["deep-flow.yaml", "deep-block.yaml"] {
        let x = find(f);
        assert_eq!(x["severity"], "error");
        assert!(x["line"].as_u64().is_some_and(|l| l >= 1), "{x}");
    }
    // The text renderer copes too.
    let r = repo.run(&["validate", "--dir", "."]);
    assert_eq!(r.code, 1);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn example_rules_tree_is_valid_under_strict() {
    let r = run(speechops(&manifest_dir()).args(["validate", "--dir", "rules", "--strict"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("valid: 0 errors, 0 warnings"),
        "{}",
        r.stdout
    );
}

#[test]
fn example_rules_carry_a_schema_header_that_resolves() {
    let root = manifest_dir().join("rules");
    let mut stack = vec![root.clone()];
    let mut count = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            let first = text.lines().next().unwrap_or("");
            let rel = first
                .strip_prefix("# yaml-language-server: $schema=")
                .unwrap_or_else(|| panic!("{} lacks the schema header", path.display()));
            let target = dir.join(rel);
            assert!(target.is_file(), "{}: {rel} does not exist", path.display());
            count += 1;
        }
    }
    assert!(count >= 10);
    // At least 8 topics across 2 dialects and 2 programs.
    let tree = speechops::spec::load_tree(&root).expect("load");
    let topics: Vec<_> = tree
        .specs
        .iter()
        .filter_map(|s| match &s.object {
            speechops::model::Object::Topic(t) => Some(t.dialect.clone()),
            _ => None,
        })
        .collect();
    assert!(topics.len() >= 8);
    assert!(topics.iter().any(|d| d == "en-GB") && topics.iter().any(|d| d == "en-US"));
    let programs = tree
        .specs
        .iter()
        .filter(|s| s.object.kind() == speechops::model::Kind::Program)
        .count();
    assert!(programs >= 2);
    assert!(
        tree.specs
            .iter()
            .any(|s| s.object.name() == "Compliance_Greeting_Verification")
    );
}

#[test]
fn committed_schemas_are_up_to_date() {
    let update = std::env::var_os("SPEECHOPS_UPDATE_SCHEMAS").is_some();
    for (kind, file) in [
        (None, "speechops.schema.json"),
        (Some("Topic"), "topic.schema.json"),
        (Some("Program"), "program.schema.json"),
        (Some("SpeechRule"), "speechrule.schema.json"),
    ] {
        let mut cmd = speechops(&manifest_dir());
        cmd.arg("schema");
        if let Some(k) = kind {
            cmd.args(["--kind", k]);
        }
        let r = run(&mut cmd);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let path = manifest_dir().join("schemas").join(file);
        if update {
            std::fs::write(&path, &r.stdout).expect("write schema");
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == r.stdout,
            "schemas/{file} is stale. Regenerate with:\n  \
SPEECHOPS_UPDATE_SCHEMAS=1 cargo test --test it validate::committed_schemas_are_up_to_date"
        );
    }
}

#[test]
fn schema_kind_flag() {
    let r = run(speechops(&manifest_dir()).args(["schema", "--kind", "Topic"]));
    let v: Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["properties"]["kind"]["const"], "Topic");
    assert_eq!(v["required"][0], "kind");
    let r = run(speechops(&manifest_dir()).args(["schema", "--kind", "Nope"]));
    assert_eq!(r.code, 1);
    let r = run(speechops(&manifest_dir()).args(["schema"]));
    let v: Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(
        v["oneOf"].as_array().map(Vec::len),
        Some(speechops::model::Kind::ALL.len())
    );
}

#[test]
fn spec_files_are_hashed_and_paths_are_relative() {
    let repo = Repo::new();
    repo.write("sub/p.yaml", "kind: Program\nname: P\n");
    let tree = speechops::spec::load_tree(repo.path()).expect("load");
    assert_eq!(tree.files.len(), 1);
    assert_eq!(tree.files[0].path, "sub/p.yaml");
    assert_eq!(
        tree.files[0].sha256,
        speechops::model::sha256_hex(b"kind: Program\nname: P\n")
    );
    assert_eq!(tree.specs[0].location.line, 1);
}

// ---- property tests -------------------------------------------------------------

fn load_one(yaml: &[u8]) -> speechops::spec::SpecTree {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("spec.yaml"), yaml).expect("write");
    speechops::spec::load_tree(dir.path()).expect("load")
}

fn assert_located(tree: &speechops::spec::SpecTree) {
    for d in &tree.diagnostics {
        let loc = d
            .location
            .as_ref()
            .unwrap_or_else(|| panic!("diagnostic without location: {d:?}"));
        assert!(loc.line >= 1 && loc.column >= 1, "bad location: {d:?}");
        assert!(!d.message.is_empty());
    }
}

/// YAML-ish text: fragments of real specs, YAML syntax and noise, glued together.
fn yamlish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "kind: Topic\n",
        "kind: Program\n",
        "kind: SpeechRule\n",
        "name: x\n",
        "name: y\n",
        "dialect: en-US\n",
        "phrases:\n",
        "  - text: a\n",
        "  - phrase: a b\n",
        "    matchType: regex\n",
        "  - phrase: '('\n",
        "scoring:\n",
        "  - type: additive\n",
        "    value: 1e999\n",
        "topics: [x, y]\n",
        "tags: [a, a]\n",
        "---\n",
        "...\n",
        "[",
        "]",
        "{",
        "}",
        "&a ",
        "*a",
        "<<: *a\n",
        "!!str ",
        "!custom ",
        "? ",
        ": ",
        "- ",
        "  ",
        "\t",
        "\n",
        "'",
        "\"",
        "#",
        "%YAML 1.2\n",
        "|\n",
        ">-\n",
        "~",
        "null",
        "0x1F",
        ".nan",
        "\u{feff}",
        "é",
        "\0",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_errors_have_locations(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let tree = load_one(&bytes);
        assert_located(&tree);
    }

    #[test]
    fn arbitrary_yamlish_text_never_panics_and_errors_have_locations(text in yamlish()) {
        let tree = load_one(text.as_bytes());
        assert_located(&tree);
    }

    #[test]
    fn normalisation_is_idempotent_and_order_insensitive(
        words in prop::collection::btree_set("[a-z]{3,8}", 1..12),
        tags in prop::collection::vec("[a-z]{1,5}", 0..6),
        seed in any::<u64>(),
    ) {
        let words: Vec<String> = words.into_iter().collect();
        // Phrases "w w" never contain one another as whole words when words differ.
        let phrases: Vec<String> = words.iter().map(|w| format!("{w} {w}")).collect();
        let shuffle = |v: &[String]| {
            let mut v = v.to_vec();
            let n = v.len();
            for i in 0..n {
                let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % n as u64) as usize;
                v.swap(i, j);
            }
            v.reverse();
            v
        };
        let topic = |phrases: &[String], tags: &[String]| {
            let mut s = String::from("kind: Topic\nname: T\ndialect: en-US\n");
            s.push_str(&format!("tags: [{}]\nphrases:\n", tags.join(", ")));
            for p in phrases {
                s.push_str(&format!("  - text: {p}\n"));
            }
            s.push_str("---\nkind: Program\nname: P\ntopics: [T]\n");
            s.push_str(&format!("tags: [{}]\n", tags.join(", ")));
            s
        };
        let a = load_one(topic(&phrases, &tags).as_bytes());
        let b = load_one(topic(&shuffle(&phrases), &shuffle(&tags)).as_bytes());
        prop_assert!(a.diagnostics.iter().all(|d| d.code == "spec.duplicate-tag"), "{:?}", a.diagnostics);
        prop_assert_eq!(a.specs.len(), 2);
        for (x, y) in a.specs.iter().zip(&b.specs) {
            prop_assert_eq!(&x.object, &y.object);
            prop_assert_eq!(x.object.sha256(), y.object.sha256());
            prop_assert_eq!(&x.object.clone().normalized(), &x.object);
        }
    }
}

#[test]
fn imported_spec_files_load_back_to_the_same_objects() {
    // `speechops import` writes spec files; the loader must read them back unchanged.
    let tree = speechops::spec::load_tree(&manifest_dir().join("rules")).expect("load");
    let repo = Repo::new();
    for (i, s) in tree.specs.iter().enumerate() {
        let yaml = speechops::commands::import::spec_yaml(&s.object, "");
        repo.write(&format!("spec-{i:03}.yaml"), &yaml);
    }
    let again = speechops::spec::load_tree(repo.path()).expect("load");
    assert!(again.diagnostics.is_empty(), "{:#?}", again.diagnostics);
    let a: Vec<_> = tree.specs.iter().map(|s| &s.object).collect();
    let b: Vec<_> = again.specs.iter().map(|s| &s.object).collect();
    assert_eq!(a, b);
}

#[test]
fn an_unquoted_value_that_is_no_choice_either_gets_both_hints_at_once() {
    let repo = Repo::new();
    repo.write(
        "rules/x.yaml",
        "kind: Topic\nname: X\ndialect: en-US\nstrictness: 70\nphrases: [{text: hello}]\n",
    );
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains("70 is not one of them, and YAML needs it quoted; did you mean \"72\"?"),
        "{all}"
    );
    // A valid value left unquoted is told only to quote it.
    repo.write(
        "rules/x.yaml",
        "kind: Topic\nname: X\ndialect: en-US\nstrictness: 72\nphrases: [{text: hello}]\n",
    );
    let all = {
        let run = repo.run(&["validate"]);
        format!("{}{}", run.stdout, run.stderr)
    };
    assert!(all.contains("quote it: \"72\""), "{all}");
}

/// Issue 26: a program that still names a topic by the name it was renamed from is
/// pointed at the rename, not told the topic "is not defined" and left to guess.
#[test]
fn a_reference_to_a_renamed_topic_points_at_the_rename() {
    let repo = Repo::new();
    repo.write(
        "rules/t.yaml",
        "kind: Topic\nname: Card payment\nrenamedFrom: Payment card mention\ndialect: en-US\nphrases:\n  - text: my card number is\n",
    );
    repo.write(
        "rules/p.yaml",
        "kind: Program\nname: P\ntopics: [Payment card mention]\n",
    );
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 1, "{run:?}");
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains(
            "Topic \"Payment card mention\" was renamed to \"Card payment\" (rules/t.yaml:3)"
        ),
        "{all}"
    );
}

/// Issue 26: an alias whose anchor is in an earlier document (across `---`) says so,
/// instead of "check indentation".
#[test]
fn an_anchor_used_across_documents_says_each_document_is_separate() {
    let repo = Repo::new();
    repo.write(
        "rules/t.yaml",
        "kind: Topic\nname: A\ndialect: en-US\ntags: &t [x]\nphrases:\n  - text: hello there\n---\nkind: Topic\nname: B\ndialect: en-US\ntags: *t\nphrases:\n  - text: hello again\n",
    );
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 1, "{run:?}");
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("rules/t.yaml:11:7"), "{all}");
    assert!(all.contains("each `---` starts a new one"), "{all}");
    assert!(!all.contains("check indentation"), "{all}");
}
