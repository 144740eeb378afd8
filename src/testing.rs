//! Detection tests (SPEC 10): sample transcripts with the topics they must and must not
//! trigger, run locally against the specs with the lexical rule of [`crate::detect`].
//! Loading reads files; running and rendering are pure.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::detect::{self, Speaker, Utterance};
use crate::model::{self, Object, Topic};
use crate::spec::yaml::{self, Node, Seg, Value};
use crate::spec::{Diagnostic, Severity, load};

/// A detection test as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TestSpec {
    name: String,
    dialect: String,
    transcript: Vec<UtteranceSpec>,
    #[serde(default)]
    expect: ExpectSpec,
}

/// `- agent: …` or `- customer: …`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct UtteranceSpec {
    agent: Option<String>,
    customer: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExpectSpec {
    #[serde(default)]
    detected: Vec<String>,
    #[serde(default)]
    not_detected: Vec<String>,
}

/// One loaded test, with the positions its failures are reported at.
#[derive(Debug, Clone)]
pub struct DetectionTest {
    pub name: String,
    pub file: PathBuf,
    pub line: u64,
    pub dialect: String,
    pub utterances: Vec<Utterance>,
    /// (topic name, must be detected, line of the expectation).
    pub expectations: Vec<(String, bool, u64)>,
}

/// Every test under `dir` and every problem found loading them (file:line:column).
pub fn load(
    dir: &Path,
    topics: &BTreeMap<String, &Topic>,
) -> (Vec<DetectionTest>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let files = match load::find_files(dir, &mut diags) {
        Ok(f) => f,
        Err(e) => {
            diags.push(Diagnostic {
                severity: Severity::Error,
                code: "test.dir".into(),
                message: e.to_string(),
                location: None,
                hint: None,
            });
            return (Vec::new(), diags);
        }
    };
    let mut tests = Vec::new();
    for f in files {
        let path = dir.join(&f.rel);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(error(
                    &f.display,
                    (1, 1),
                    "test.unreadable",
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        };
        for doc in yaml::parse_documents(&text) {
            match doc {
                Ok(node) => load_doc(&node, &f.display, topics, &mut tests, &mut diags),
                Err(e) => diags.push(error(
                    &f.display,
                    (e.line.max(1), e.column.max(1)),
                    e.code,
                    e.message,
                )),
            }
        }
    }
    (tests, diags)
}

fn error(file: &Path, pos: (u64, u64), code: &str, message: String) -> Diagnostic {
    Diagnostic::new(Severity::Error, code, message, file, pos, None)
}

fn load_doc(
    node: &Node,
    file: &Path,
    topics: &BTreeMap<String, &Topic>,
    tests: &mut Vec<DetectionTest>,
    diags: &mut Vec<Diagnostic>,
) {
    let doc_pos = (node.line, node.column);
    let pos = |path: &[Seg<'_>]| node.get(path).map_or(doc_pos, |n| (n.line, n.column));
    match node.get(&[Seg::Key("kind")]).map(|n| &n.value) {
        Some(Value::Str(k)) if k == "DetectionTest" => {}
        _ => {
            diags.push(error(
                file,
                pos(&[Seg::Key("kind")]),
                "test.kind",
                "a detection test needs `kind: DetectionTest`".into(),
            ));
            return;
        }
    }
    // Every structural problem of the document, not just the first (as for specs).
    let mut ctx = crate::spec::validate::Ctx {
        file,
        node,
        diags: &mut *diags,
    };
    let Some((spec, _)) = load::deserialize::<TestSpec>(&mut ctx, doc_pos) else {
        return;
    };
    if !model::DIALECTS.contains(&spec.dialect.as_str()) {
        diags.push(error(
            file,
            pos(&[Seg::Key("dialect")]),
            "test.dialect",
            format!(
                "dialect {:?} is not one of {}",
                spec.dialect,
                model::DIALECTS.join(", ")
            ),
        ));
    }
    let mut utterances = Vec::new();
    for (i, u) in spec.transcript.iter().enumerate() {
        let (speaker, text) = match (&u.agent, &u.customer) {
            (Some(t), None) => (Speaker::Internal, t),
            (None, Some(t)) => (Speaker::External, t),
            _ => {
                diags.push(error(
                    file,
                    pos(&[Seg::Key("transcript"), Seg::Index(i)]),
                    "test.utterance",
                    "each utterance is `- agent: …` or `- customer: …`".into(),
                ));
                continue;
            }
        };
        utterances.push(Utterance {
            speaker,
            text: text.clone(),
        });
    }
    let mut expectations = Vec::new();
    for (key, detected, list) in [
        ("detected", true, &spec.expect.detected),
        ("notDetected", false, &spec.expect.not_detected),
    ] {
        for (i, name) in list.iter().enumerate() {
            let at = pos(&[Seg::Key("expect"), Seg::Key(key), Seg::Index(i)]);
            // A name topics of several dialects share means the one of the
            // transcript's dialect.
            let qualified = crate::kinds::qualify(name, &spec.dialect);
            let name = if topics.contains_key(name) || !topics.contains_key(&qualified) {
                name
            } else {
                &qualified
            };
            if !topics.contains_key(name) {
                let hint = yaml::closest(name, topics.keys().map(String::as_str))
                    .map(|c| format!("; did you mean {c:?}?"))
                    .unwrap_or_default();
                diags.push(error(
                    file,
                    at,
                    "test.unknown-topic",
                    format!("no Topic spec is named {name:?}{hint}"),
                ));
                continue;
            }
            expectations.push((name.clone(), detected, at.0));
        }
    }
    if expectations.is_empty()
        && spec.expect.detected.is_empty()
        && spec.expect.not_detected.is_empty()
    {
        diags.push(error(
            file,
            doc_pos,
            "test.no-expectations",
            "a detection test needs `expect.detected` or `expect.notDetected`".into(),
        ));
    }
    tests.push(DetectionTest {
        name: spec.name,
        file: file.to_path_buf(),
        line: doc_pos.0,
        dialect: spec.dialect,
        utterances,
        expectations,
    });
}

/// One failed expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// `file:line` of the expectation.
    pub at: String,
    pub topic: String,
    /// True: it had to be detected and was not; false: it was detected but must not be.
    pub expected_detected: bool,
    pub message: String,
}

/// The outcome of one test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    pub name: String,
    pub at: String,
    pub passed: bool,
    pub failures: Vec<Failure>,
}

/// The outcome of every test.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub results: Vec<TestResult>,
    pub passed: usize,
    pub failed: usize,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.failed == 0
    }
}

/// Runs the tests against the topics (by name).
pub fn run(tests: &[DetectionTest], topics: &BTreeMap<String, &Topic>) -> Report {
    let mut report = Report::default();
    for t in tests {
        let mut failures = Vec::new();
        for (name, must, line) in &t.expectations {
            let Some(topic) = topics.get(name) else {
                continue;
            };
            let found = detect::detect(topic, &t.dialect, &t.utterances);
            let at = format!("{}:{line}", t.file.display());
            match (found, *must) {
                (Some(_), true) | (None, false) => {}
                (None, true) => failures.push(Failure {
                    at,
                    topic: name.clone(),
                    expected_detected: true,
                    message: why_not(topic, &t.dialect, &t.utterances),
                }),
                (Some((i, phrase)), false) => {
                    let u = &t.utterances[i];
                    failures.push(Failure {
                        at,
                        topic: name.clone(),
                        expected_detected: false,
                        message: format!(
                            "phrase {phrase:?} matched utterance {} ({}: {:?})",
                            i + 1,
                            who(u.speaker),
                            u.text
                        ),
                    });
                }
            }
        }
        let passed = failures.is_empty();
        if passed {
            report.passed += 1;
        } else {
            report.failed += 1;
        }
        report.results.push(TestResult {
            name: t.name.clone(),
            at: format!("{}:{}", t.file.display(), t.line),
            passed,
            failures,
        });
    }
    report
}

fn who(s: Speaker) -> &'static str {
    match s {
        Speaker::Internal => "agent",
        Speaker::External => "customer",
    }
}

fn why_not(topic: &Topic, dialect: &str, utterances: &[detect::Utterance]) -> String {
    if topic.dialect != dialect {
        return format!(
            "nothing matched: the topic's dialect is {}, the transcript's {dialect}",
            topic.dialect
        );
    }
    let listens = match topic.participants.as_str() {
        "Internal" => "only agent utterances are searched",
        "External" => "only customer utterances are searched",
        _ => "every utterance is searched",
    };
    let mut out = format!("no phrase matched ({listens})");
    if let Some(close) = closest_phrase(topic, utterances) {
        out.push_str(&format!("; closest: {close}"));
    }
    out
}

/// The phrase that came nearest to matching: the most of its words found in order in
/// one utterance the topic listens to, and how it is matched when punctuation changes
/// its words (`can't` is matched as `can t`).
fn closest_phrase(topic: &Topic, utterances: &[detect::Utterance]) -> Option<String> {
    let heard: Vec<(&detect::Utterance, Vec<String>)> = utterances
        .iter()
        .filter(|u| u.speaker.heard_by(&topic.participants))
        .map(|u| (u, detect::tokens(&u.text)))
        .collect();
    let mut best: Option<(usize, &str, Vec<String>, &detect::Utterance)> = None;
    for p in &topic.phrases {
        let words = detect::tokens(&p.text);
        for (u, said) in &heard {
            let found = in_order(&words, said);
            if found > 0 && best.as_ref().is_none_or(|(n, ..)| found > *n) {
                best = Some((found, p.text.as_str(), words.clone(), u));
            }
        }
    }
    let (found, text, words, u) = best?;
    let as_matched = words.join(" ");
    let shown = if as_matched != text.to_lowercase() {
        format!("{text:?} (matched as {as_matched:?})")
    } else {
        format!("{text:?}")
    };
    Some(format!(
        "{shown}, {found} of its {} word(s) in order in the {}'s {:?}",
        words.len(),
        who(u.speaker),
        u.text
    ))
}

/// How many of `words` occur in `said` in the same order (a longest common
/// subsequence, greedily: enough to rank phrases).
fn in_order(words: &[String], said: &[String]) -> usize {
    let mut at = 0;
    let mut n = 0;
    for w in words {
        if let Some(i) = said[at..].iter().position(|s| s == w) {
            at += i + 1;
            n += 1;
        }
    }
    n
}

/// The topics of a spec tree by name.
pub fn topics_by_name<'a>(objects: &[&'a Object]) -> BTreeMap<String, &'a Topic> {
    objects
        .iter()
        .filter_map(|o| match o {
            Object::Topic(t) => Some((crate::kinds::Managed::name(t).to_string(), t)),
            _ => None,
        })
        .collect()
}

/// The report as text: one line per failed expectation, then a summary.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    for t in &r.results {
        for f in &t.failures {
            let expectation = if f.expected_detected {
                "expected Topic {topic:?} to be detected"
            } else {
                "expected Topic {topic:?} not to be detected"
            }
            .replace("{topic:?}", &format!("{:?}", f.topic));
            let _ = writeln!(
                out,
                "FAIL {}: {:?}: {expectation}: {}",
                f.at, t.name, f.message
            );
        }
    }
    let _ = writeln!(
        out,
        "Detection tests: {} passed, {} failed.",
        r.passed, r.failed
    );
    out
}

/// The report as markdown (a section of the PR comment, or the whole output).
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let status = if r.ok() { "✅" } else { "❌" };
    let _ = writeln!(
        out,
        "#### {status} Detection tests: {} passed, {} failed\n",
        r.passed, r.failed
    );
    let failures: Vec<(&TestResult, &Failure)> = r
        .results
        .iter()
        .flat_map(|t| t.failures.iter().map(move |f| (t, f)))
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(
            out,
            "| test | where | topic | expected | what happened |\n|---|---|---|---|---|"
        );
        for (t, f) in failures {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {} |",
                cell(&t.name),
                cell(&f.at),
                cell(&f.topic),
                if f.expected_detected {
                    "detected"
                } else {
                    "not detected"
                },
                cell(&f.message)
            );
        }
        out.push('\n');
    }
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('\n', " ")
        .replace('<', "&lt;")
}
