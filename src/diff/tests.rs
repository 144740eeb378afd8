use std::sync::Arc;

use super::*;
use crate::kinds::RemoteRef;
use crate::model::{Program, Topic, TopicPhrase};
use crate::state::LockEntry;
use proptest::prelude::*;

fn topic(name: &str, phrases: &[&str]) -> Object {
    Object::Topic(
        Topic {
            name: name.into(),
            description: String::new(),
            dialect: "en-US".into(),
            strictness: Default::default(),
            participants: String::new(),
            matching_type: String::new(),
            ai_phrases: Default::default(),
            qualified: Default::default(),
            tags: vec!["b".into(), "a".into()],
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

fn desired(o: Object) -> Desired {
    Desired {
        external_at: Vec::new(),
        object: Arc::new(o),
        renamed_from: None,
        location: None,
    }
}

fn remote(id: &str, o: &Object, published: bool) -> Remote {
    Remote {
        kind: o.kind(),
        id: id.into(),
        name: o.name().into(),
        date_modified: Some(format!("dm-{id}")),
        published,
        body: Some(Arc::new(o.clone())),
        refs: Vec::new(),
        held_by: Vec::new(),
        modified_by: None,
    }
}

fn lock_of(entries: &[(&Object, &str)]) -> TargetState {
    let mut t = TargetState::default();
    for (o, id) in entries {
        t.insert(
            o.kind(),
            o.name(),
            LockEntry {
                applied_at: "t".into(),
                date_modified: Some(format!("dm-{id}")),
                id: (*id).into(),
                published: true,
                spec_sha256: o.sha256(),
            },
        );
    }
    t
}

fn run(d: &[Desired], r: &[Remote], lock: &TargetState, prune: bool) -> Plan {
    plan(&PlanInput {
        target: "t",
        desired: d,
        remote: r,
        lock,
        prune,
        max_change_percent: 30.0,
    })
}

fn actions(p: &Plan) -> Vec<(Action, String)> {
    p.changes
        .iter()
        .map(|c| (c.action, c.name.clone()))
        .collect()
}

#[test]
fn empty_org_plans_create_and_publish() {
    let d = [desired(topic("A", &["x"]))];
    let p = run(&d, &[], &TargetState::default(), false);
    assert_eq!(
        actions(&p),
        vec![(Action::Create, "A".into()), (Action::Publish, "A".into())]
    );
}

#[test]
fn equal_unmanaged_object_is_adopted_and_changed_one_is_flagged() {
    let a = topic("A", &["x"]);
    let b = topic("B", &["y"]);
    let b_remote = topic("B", &["z"]);
    let p = run(
        &[desired(a.clone()), desired(b)],
        &[remote("1", &a, true), remote("2", &b_remote, true)],
        &TargetState::default(),
        false,
    );
    assert_eq!(
        actions(&p),
        vec![
            (Action::Adopt, "A".into()),
            (Action::Update, "B".into()),
            (Action::Publish, "B".into())
        ]
    );
    assert!(p.changes[1].adopted);
}

#[test]
fn unpublished_equal_object_is_only_published() {
    let a = topic("A", &["x"]);
    let p = run(
        &[desired(a.clone())],
        &[remote("1", &a, false)],
        &lock_of(&[(&a, "1")]),
        false,
    );
    assert_eq!(actions(&p), vec![(Action::Publish, "A".into())]);
}

#[test]
fn unfetched_body_proven_by_lockfile_is_no_change() {
    let a = topic("A", &["x"]);
    let mut r = remote("1", &a, true);
    r.body = None;
    let p = run(&[desired(a.clone())], &[r], &lock_of(&[(&a, "1")]), false);
    assert!(!p.has_changes(), "{p:?}");
}

#[test]
fn rename_is_an_in_place_update() {
    let old = topic("Old", &["x"]);
    let new = topic("New", &["x"]);
    let d = [Desired {
        external_at: Vec::new(),
        object: Arc::new(new),
        renamed_from: Some("Old".into()),
        location: None,
    }];
    let p = run(
        &d,
        &[remote("1", &old, true)],
        &lock_of(&[(&old, "1")]),
        true,
    );
    assert_eq!(
        actions(&p),
        vec![
            (Action::Update, "New".into()),
            (Action::Publish, "New".into())
        ]
    );
    assert_eq!(p.changes[0].renamed_from.as_deref(), Some("Old"));
    assert_eq!(p.changes[0].id.as_deref(), Some("1"));
}

#[test]
fn a_rename_that_landed_but_was_not_recorded_is_re_recorded() {
    // A run was killed after renaming id 1 from Old to New, before the lockfile write.
    let old = topic("Old", &["x"]);
    let new = topic("New", &["x"]);
    let d = [Desired {
        external_at: Vec::new(),
        object: Arc::new(new.clone()),
        renamed_from: Some("Old".into()),
        location: None,
    }];
    let p = run(
        &d,
        &[remote("1", &new, true)],
        &lock_of(&[(&old, "1")]),
        true,
    );
    assert_eq!(actions(&p), vec![(Action::Adopt, "New".into())]);
    assert!(
        !p.changes[0].adopted,
        "a managed object is re-recorded, not adopted"
    );
    assert!(p.guards.is_empty());
}

#[test]
fn deletes_only_with_prune_and_only_managed() {
    let a = topic("A", &["x"]);
    let gone = topic("Gone", &["y"]);
    let stranger = topic("Stranger", &["z"]);
    let r = [
        remote("1", &a, true),
        remote("2", &gone, true),
        remote("3", &stranger, true),
    ];
    let lock = lock_of(&[(&a, "1"), (&gone, "2")]);
    let d = [desired(a.clone())];
    assert!(!run(&d, &r, &lock, false).has_changes());
    assert_eq!(
        actions(&run(&d, &r, &lock, true)),
        vec![(Action::Delete, "Gone".into())]
    );
}

#[test]
fn program_membership_follows_topic_rename() {
    let old = topic("Old", &["x"]);
    let new = topic("New", &["x"]);
    let prog_remote = Object::Program(Program {
        name: "P".into(),
        description: String::new(),
        topics: vec!["Old".into()],
        tags: vec![],
        published: true,
        queues: None,
        flows: None,
        transcription_engines: None,
    });
    let prog_desired = Object::Program(Program {
        topics: vec!["New".into()],
        ..match &prog_remote {
            Object::Program(p) => p.clone(),
            _ => unreachable!(),
        }
    });
    let mut pr = remote("9", &prog_remote, true);
    pr.refs = vec![RemoteRef {
        kind: Kind::Topic,
        id: "1".into(),
        name: "Old".into(),
    }];
    let d = [
        Desired {
            external_at: Vec::new(),
            object: Arc::new(new),
            renamed_from: Some("Old".into()),
            location: None,
        },
        desired(prog_desired),
    ];
    let p = run(
        &d,
        &[remote("1", &old, true), pr],
        &lock_of(&[(&old, "1")]),
        false,
    );
    assert!(
        p.changes
            .iter()
            .all(|c| c.kind == Kind::Topic || matches!(c.action, Action::Adopt | Action::Republish)),
        "program content must not change: {p:?}"
    );
}

#[test]
fn threshold_guard_trips_above_30_percent_of_ten() {
    let objs: Vec<Object> = (0..10).map(|i| topic(&format!("T{i}"), &["x"])).collect();
    let ids: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let lock = lock_of(
        &objs
            .iter()
            .zip(&ids)
            .map(|(o, i)| (o, i.as_str()))
            .collect::<Vec<_>>(),
    );
    let r: Vec<Remote> = objs
        .iter()
        .zip(&ids)
        .map(|(o, i)| remote(i, o, true))
        .collect();
    let changed = |n: usize| -> Vec<Desired> {
        (0..10)
            .map(|i| {
                desired(topic(
                    &format!("T{i}"),
                    &[if i < n { "changed" } else { "x" }],
                ))
            })
            .collect()
    };
    assert!(run(&changed(3), &r, &lock, false).guards.is_empty());
    let p = run(&changed(4), &r, &lock, false);
    assert_eq!(p.guards.len(), 1);
    assert_eq!(p.guards[0].guard, GuardKind::Threshold);
}

#[test]
fn empty_tree_with_managed_objects_trips_the_empty_guard() {
    let a = topic("A", &["x"]);
    let p = run(&[], &[remote("1", &a, true)], &lock_of(&[(&a, "1")]), true);
    assert!(p.guards.iter().any(|g| g.guard == GuardKind::EmptyInput));
}

// ---- property tests -------------------------------------------------------------

fn arb_words() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-e]{1,3}( [a-e]{1,3})?", 0..4)
}

fn arb_object() -> impl Strategy<Value = Object> {
    let name = "[A-F]";
    prop_oneof![
        (
            name,
            arb_words(),
            arb_words(),
            any::<bool>(),
            prop::sample::select(vec!["", "72", "85"])
        )
            .prop_map(|(n, tags, phrases, published, s)| Object::Topic(
                Topic {
                    name: format!("topic {n}"),
                    description: String::new(),
                    dialect: "en-US".into(),
                    strictness: s.into(),
                    participants: String::new(),
                    matching_type: String::new(),
                    ai_phrases: Default::default(),
                    qualified: Default::default(),
                    tags,
                    published,
                    phrases: phrases
                        .into_iter()
                        .map(|t| TopicPhrase {
                            text: t,
                            strictness: Default::default(),
                            sentiment: Default::default()
                        })
                        .collect(),
                }
                .normalized()
            )),
        // Every other kind, through its own example.
        (
            prop::sample::select(
                Kind::ALL
                    .iter()
                    .copied()
                    .filter(|k| *k != Kind::Topic)
                    .collect::<Vec<_>>()
            ),
            name,
            arb_words(),
            any::<bool>()
        )
            .prop_map(|(k, n, tags, flag)| k.example(
                format!("{} {n}", k.as_str().to_lowercase()),
                tags,
                flag
            )),
    ]
}

fn dedup_by_name(objs: Vec<Object>) -> Vec<Object> {
    let mut seen = BTreeSet::new();
    objs.into_iter()
        .filter(|o| seen.insert((o.kind(), o.name().to_string())))
        .collect()
}

/// Applies a plan to an in-memory org and lockfile the way the executor does.
fn simulate(plan: &Plan, org: &mut Vec<Remote>, lock: &mut TargetState, next_id: &mut u32) {
    for c in &plan.changes {
        match c.action {
            Action::Create => {
                *next_id += 1;
                let after = c.after.clone().unwrap();
                let id = format!("n{next_id}");
                let mut r = remote(&id, &after, false);
                r.date_modified = Some(format!("dm-{id}-{next_id}"));
                lock.insert(c.kind, &c.name, entry(&r, &after));
                org.push(r);
            }
            Action::Update => {
                let id = c.id.clone().unwrap();
                let after = c.after.clone().unwrap();
                *next_id += 1;
                let r = org.iter_mut().find(|r| r.id == id).unwrap();
                r.name = c.name.clone();
                r.body = Some(after.clone());
                r.published = false;
                r.date_modified = Some(format!("dm-{id}-{next_id}"));
                if let Some(old) = &c.renamed_from {
                    lock.remove(c.kind, old);
                }
                let e = entry(r, &after);
                lock.insert(c.kind, &c.name, e);
            }
            Action::Delete => {
                let id = c.id.clone().unwrap();
                org.retain(|r| r.id != id);
                lock.remove(c.kind, &c.name);
            }
            Action::Adopt => {
                let id = c.id.clone().unwrap();
                let r = org.iter().find(|r| r.id == id).unwrap();
                let e = entry(r, c.after.as_ref().unwrap());
                lock.insert(c.kind, &c.name, e);
            }
            Action::Publish | Action::Republish => {}
        }
    }
    for c in plan.changes.iter().filter(|c| c.action == Action::Publish) {
        let id = lock.get(c.kind, &c.name).unwrap().id.clone();
        org.iter_mut().find(|r| r.id == id).unwrap().published = true;
    }
}

fn entry(r: &Remote, after: &Object) -> LockEntry {
    LockEntry {
        applied_at: "t".into(),
        date_modified: r.date_modified.clone(),
        id: r.id.clone(),
        published: r.published,
        spec_sha256: after.sha256(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Applying a plan and planning again yields no changes.
    #[test]
    fn apply_then_plan_is_empty(
        want in prop::collection::vec(arb_object(), 0..6),
        have in prop::collection::vec((arb_object(), any::<bool>(), any::<bool>()), 0..6),
        prune in any::<bool>(),
    ) {
        let want = dedup_by_name(want);
        let mut org = Vec::new();
        let mut lock = TargetState::default();
        for (i, (o, published, managed)) in have.into_iter().enumerate() {
            let r = remote(&format!("r{i}"), &o, published);
            if managed && lock.get(o.kind(), o.name()).is_none() {
                lock.insert(o.kind(), o.name(), entry(&r, &o));
            }
            org.push(r);
        }
        let d: Vec<Desired> = want.into_iter().map(desired).collect();
        let first = run(&d, &org, &lock, prune);
        let mut next_id = 0;
        simulate(&first, &mut org, &mut lock, &mut next_id);
        let second = run(&d, &org, &lock, prune);
        let writes: Vec<_> = second.changes.iter().filter(|c| c.action != Action::Adopt).collect();
        prop_assert!(writes.is_empty(), "second plan not empty: {:?}", second.changes);
    }

    /// Planning is deterministic and independent of input order; equal objects written
    /// differently (shuffled lists, explicit defaults) never show a change.
    #[test]
    fn deterministic_and_no_spurious_changes(
        objs in prop::collection::vec(arb_object(), 0..6),
        seed in any::<u64>(),
    ) {
        let objs = dedup_by_name(objs);
        let d: Vec<Desired> = objs.iter().cloned().map(desired).collect();
        // The remote holds the same objects with reversed lists and defaults spelled out.
        let r: Vec<Remote> = objs
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let mut o = o.clone();
                o.scramble();
                remote(&format!("r{i}"), &o.normalized(), true)
            })
            .collect();
        let lock = TargetState::default();
        let p1 = run(&d, &r, &lock, false);
        let mut d2 = d.clone();
        let mut r2 = r.clone();
        if seed % 2 == 0 { d2.reverse(); } else { r2.reverse(); }
        let p2 = run(&d2, &r2, &lock, false);
        prop_assert_eq!(&p1, &p2);
        prop_assert!(p1.changes.iter().all(|c| c.action == Action::Adopt), "{:?}", p1.changes);
    }
}

#[test]
fn the_digest_covers_what_the_org_holds_not_only_what_is_written() {
    let spec = topic("T", &["a", "b"]);
    let held = topic("T", &["a"]);
    let edited = topic("T", &["a", "edited in the UI"]);
    let lock = lock_of(&[(&held, "1")]);
    let plan_with = |remote_body: &Object| {
        let r = remote("1", remote_body, true);
        plan(&PlanInput {
            target: "t",
            desired: &[desired(spec.clone())],
            remote: &[r],
            lock: &lock,
            prune: false,
            max_change_percent: 30.0,
        })
    };
    let reviewed = plan_with(&held);
    let at_merge = plan_with(&edited);
    assert_eq!(reviewed.summary(), at_merge.summary(), "the same actions");
    assert_ne!(
        reviewed.digest(),
        at_merge.digest(),
        "an edit in Genesys changes the digest"
    );
    assert_eq!(
        reviewed.digest(),
        plan_with(&held).digest(),
        "deterministic"
    );
}

fn program(name: &str, topics: &[&str], published: bool) -> Object {
    Object::Program(Program {
        name: name.into(),
        description: String::new(),
        topics: topics.iter().map(|t| (*t).to_string()).collect(),
        tags: vec![],
        published,
        queues: None,
        flows: None,
        transcription_engines: None,
    })
}

#[test]
fn a_published_topic_change_republishes_the_programs_that_hold_it_and_no_others() {
    let old = topic("T", &["a"]);
    let new = topic("T", &["a", "b"]);
    let holds = |id: &str| RemoteRef {
        kind: Kind::Program,
        id: id.into(),
        name: String::new(),
    };
    let mut t = remote("t1", &old, true);
    // Managed and published; managed but kept unpublished by its spec; updated and so
    // published anyway; unmanaged and published; unmanaged with a draft of its own.
    t.held_by = ["p1", "p2", "p3", "p4", "p5"]
        .iter()
        .map(|i| holds(i))
        .collect();
    let managed = program("Managed", &["T"], true);
    let draft_spec = program("Kept draft", &["T"], false);
    let updated = program("Updated", &["T"], true);
    let outside = program("Outside", &["T"], true);
    let outside_draft = program("Outside draft", &["T"], false);
    let mut updated_desired = updated.clone();
    if let Object::Program(p) = &mut updated_desired {
        p.description = "new".into();
    }
    let d = [
        desired(new),
        desired(managed.clone()),
        desired(draft_spec.clone()),
        desired(updated_desired),
    ];
    let org = [
        t,
        remote("p1", &managed, true),
        remote("p2", &draft_spec, false),
        remote("p3", &updated, true),
        remote("p4", &outside, true),
        remote("p5", &outside_draft, false),
    ];
    let lock = lock_of(&[
        (&old, "t1"),
        (&managed, "p1"),
        (&draft_spec, "p2"),
        (&updated, "p3"),
    ]);
    let p = run(&d, &org, &lock, false);
    let republished: Vec<(&str, &str)> = p
        .changes
        .iter()
        .filter(|c| c.action == Action::Republish)
        .map(|c| (c.name.as_str(), c.reason.as_deref().unwrap_or_default()))
        .collect();
    assert_eq!(
        republished,
        [
            ("Managed", "holds changed Topic \"T\""),
            (
                "Outside",
                "holds changed Topic \"T\"; not managed by speechops"
            ),
        ]
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.starts_with("Program \"Outside draft\" holds changed Topic \"T\"")),
        "{:?}",
        p.notes
    );
    // The digest covers the republishes.
    let mut without = p.clone();
    without.changes.retain(|c| c.action != Action::Republish);
    assert_ne!(p.digest(), without.digest());
    // Nothing republishes when no topic is published.
    let quiet = run(&d[1..], &org[1..], &lock, false);
    assert!(quiet.changes.iter().all(|c| c.action != Action::Republish));
}

fn named_change(name: &str) -> Change {
    Change {
        action: Action::Update,
        kind: Kind::Topic,
        name: name.to_string(),
        id: Some("id-1".into()),
        before: None,
        after: None,
        adopted: false,
        renamed_from: None,
        drift: None,
        hits: None,
        reason: None,
    }
}

proptest! {
    /// A change's marker line never closes the HTML comment it sits in, and reads back
    /// as the same change whatever its name holds.
    #[test]
    fn reviewed_lines_round_trip_any_name(name in "\\PC{0,40}") {
        let c = named_change(&name);
        let line = Reviewed::line(&c);
        prop_assert!(!line.contains("--"), "{}", line);
        prop_assert!(!line.contains('\n'));
        let back = Reviewed::parse(&line).expect("parses");
        prop_assert_eq!(back.key, c.key());
        prop_assert_eq!(back.name, name);
    }
}

#[test]
fn the_reviewed_block_is_read_only_right_before_the_last_digest() {
    let c = named_change("A");
    let digest = "a".repeat(64);
    let real = format!(
        "plan text\n<!-- speechops-changes\noverride --force\n{}\n-->\n<!-- speechops-digest: {digest} -->\n",
        Reviewed::line(&c)
    );
    let r = ReviewedPlan::from_text(&real).expect("reviewed");
    assert_eq!(r.digest, digest);
    assert_eq!(r.overrides, vec!["--force".to_string()]);
    assert_eq!(r.changes.len(), 1);
    // A block quoted earlier in the plan (a spec's text) is not the one read.
    let quoted = format!(
        "<!-- speechops-changes\n{}\n-->\nmore text\n<!-- speechops-digest: {digest} -->\n",
        Reviewed::line(&c)
    );
    assert!(
        ReviewedPlan::from_text(&quoted)
            .expect("digest")
            .changes
            .is_empty()
    );
    assert!(ReviewedPlan::from_text("no markers").is_none());
}
