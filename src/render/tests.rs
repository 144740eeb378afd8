use super::*;
use crate::diff::{Guard, GuardKind};
use crate::model::{Kind, Program, Topic, TopicPhrase};
use std::sync::Arc;

fn topic(name: &str, phrases: &[&str]) -> Object {
    Object::Topic(
        Topic {
            name: name.into(),
            description: "Agent states the call may be recorded".into(),
            dialect: "en-US".into(),
            strictness: "72".into(),
            participants: "Internal".into(),
            matching_type: String::new(),
            ai_phrases: Default::default(),
            qualified: Default::default(),
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
        }
        .normalized(),
    )
}

fn change(
    action: Action,
    kind: Kind,
    name: &str,
    before: Option<Object>,
    after: Option<Object>,
) -> Change {
    Change {
        action,
        kind,
        name: name.into(),
        id: before.as_ref().map(|_| format!("id-{}", name.len())),
        before: before.map(Arc::new),
        after: after.map(Arc::new),
        adopted: false,
        renamed_from: None,
        drift: None,
        hits: None,
        reason: None,
    }
}

/// A plan holding every action.
fn every_action() -> Plan {
    let program = Object::Program(Program {
        name: "Outbound compliance".into(),
        description: String::new(),
        topics: vec!["Recording disclosure".into()],
        tags: vec!["outbound".into()],
        published: true,
        queues: None,
        flows: None,
        transcription_engines: None,
    });
    let mut renamed = change(
        Action::Update,
        Kind::Topic,
        "Identity check",
        Some(topic("ID check", &["confirm your date of birth"])),
        Some(topic(
            "Identity check",
            &["confirm your date of birth", "what is your postcode"],
        )),
    );
    renamed.renamed_from = Some("ID check".into());
    let mut adopted = change(
        Action::Update,
        Kind::Topic,
        "Complaint",
        Some(topic("Complaint", &["i want to complain"])),
        Some(topic("Complaint", &["i want to make a complaint"])),
    );
    adopted.adopted = true;
    Plan {
        target: "prod".into(),
        changes: vec![
            adopted,
            renamed,
            change(Action::Publish, Kind::Topic, "Identity check", None, Some(topic("Identity check", &["x"]))),
            change(Action::Create, Kind::Topic, "Recording disclosure", None, Some(topic("Recording disclosure", &["this call may be recorded"]))),
            change(Action::Publish, Kind::Topic, "Recording disclosure", None, Some(topic("Recording disclosure", &["x"]))),
            Change {
                adopted: true,
                ..change(Action::Adopt, Kind::Program, "Outbound compliance", Some(program.clone()), Some(program))
            },
            change(Action::Delete, Kind::Topic, "Retired topic", Some(topic("Retired topic", &["old phrase"])), None),
        ],
        guards: vec![Guard {
            guard: GuardKind::Threshold,
            message: "4 of 10 managed Topics would be updated or deleted (40%), above the 30% guard; if this is intended, re-run with --force".into(),
            about: Vec::new(),
        }],
        notes: vec!["1 managed object(s) have no spec any more; run with --prune to delete them".into()],
        orphans: Vec::new(),
        errors: Vec::new(),
        tests: None,
        overrides: Default::default(),
    }
}

#[test]
fn text_snapshot() {
    insta::assert_snapshot!(text(&every_action(), TextStyle::default()));
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(markdown(&every_action()));
}

#[test]
fn json_snapshot() {
    insta::assert_snapshot!(json(&every_action(), "f1ng3rpr1nt"));
}

#[test]
fn no_changes_text() {
    let plan = Plan {
        target: "prod".into(),
        changes: vec![],
        guards: vec![],
        notes: vec![],
        orphans: Vec::new(),
        errors: Vec::new(),
        tests: None,
        overrides: Default::default(),
    };
    let out = text(&plan, TextStyle::default());
    assert!(out.starts_with("No changes."), "{out}");
    assert!(out.contains("Plan: 0 to create, 0 to update, 0 to delete, 0 to publish."));
}

#[test]
fn markdown_stays_under_the_github_limit_with_a_note() {
    let phrases: Vec<String> = (0..200)
        .map(|i| format!("a fairly long phrase number {i} for the limit"))
        .collect();
    let refs: Vec<&str> = phrases.iter().map(String::as_str).collect();
    let changes = (0..100)
        .map(|i| {
            change(
                Action::Create,
                Kind::Topic,
                &format!("Topic {i:03}"),
                None,
                Some(topic(&format!("Topic {i:03}"), &refs)),
            )
        })
        .collect();
    let plan = Plan {
        target: "prod".into(),
        changes,
        guards: vec![],
        notes: vec![],
        orphans: Vec::new(),
        errors: Vec::new(),
        tests: None,
        overrides: Default::default(),
    };
    let md = markdown(&plan);
    assert!(md.len() < MARKDOWN_LIMIT, "{} characters", md.len());
    assert!(md.contains("more change(s) not shown"));
    // The summary, then the reviewed-plan digest, close every comment.
    assert!(md.contains("Plan: 100 to create, 0 to update, 0 to delete, 0 to publish.\n"));
    assert!(md.ends_with(&format!("<!-- speechops-digest: {} -->\n", plan.digest())));
}

#[test]
fn colour_only_when_asked() {
    let plan = every_action();
    assert!(
        !text(
            &plan,
            TextStyle {
                color: false,
                yaml_diff: false
            }
        )
        .contains('\x1b')
    );
    assert!(
        text(
            &plan,
            TextStyle {
                color: true,
                yaml_diff: false
            }
        )
        .contains("\x1b[32m")
    );
}
