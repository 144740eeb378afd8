//! Fetching the remote state a plan is computed against, with the fewest requests:
//! one list per kind (all pages), then a GET only for the topics and programs whose
//! content the lockfile cannot prove unchanged (SPEC 8.3, 8.4: same `dateModified`
//! and same spec hash need no GET), because the topic list carries no phrases and
//! the program list no member topics.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::diff::{Desired, Remote};
use crate::genesys::{self, Client, convert};
use crate::model::{Kind, Object, sha256_hex};
use crate::state::TargetState;

/// The remote side of a plan.
#[derive(Debug, Clone)]
pub struct RemoteState {
    pub objects: Vec<Remote>,
    /// sha256 over what the lists returned; changes whenever any object changes.
    pub fingerprint: String,
}

impl RemoteState {
    /// The remote object with this id.
    pub fn by_id(&self, kind: Kind, id: &str) -> Option<&Remote> {
        self.objects.iter().find(|r| r.kind == kind && r.id == id)
    }
}

/// Lists every kind and fetches the topic bodies the diff needs.
pub async fn fetch(
    client: &Client,
    desired: &[Desired],
    lock: &TargetState,
) -> Result<RemoteState, genesys::Error> {
    // A kind with no spec and no managed object cannot appear in the plan, so it is
    // not listed. This also keeps orgs without the tutorial's speech-rules endpoint
    // working when the repository has no SpeechRule specs.
    let wanted =
        |kind: Kind| lock.count(kind) > 0 || desired.iter().any(|d| d.object.kind() == kind);
    let (topics, programs, rules) = tokio::join!(
        async {
            if wanted(Kind::Topic) || wanted(Kind::Program) {
                client.list_topics().await
            } else {
                Ok(Vec::new())
            }
        },
        async {
            if wanted(Kind::Program) {
                client.list_programs().await
            } else {
                Ok(Vec::new())
            }
        },
        async {
            if wanted(Kind::SpeechRule) {
                client
                    .list_speech_rules()
                    .await
                    .map_err(explain_missing_rules_api)
            } else {
                Ok(Vec::new())
            }
        }
    );
    let (topics, programs, rules) = (topics?, programs?, rules?);

    let mut fp_lines: Vec<String> = Vec::new();
    for t in &topics {
        fp_lines.push(fingerprint_line(
            Kind::Topic,
            &t.id,
            &t.name,
            &t.date_modified,
            t.published,
        ));
    }
    for p in &programs {
        let line = fingerprint_line(Kind::Program, &p.id, &p.name, &p.date_modified, p.published);
        let count = p.topics_count.unwrap_or_default();
        fp_lines.push(format!("{line}\t{count}"));
    }
    // The rule list carries whole bodies: hash them too, so a change is caught even
    // where an org reports no dateModified.
    for r in &rules {
        let line = fingerprint_line(Kind::SpeechRule, &r.id, &r.name, &r.date_modified, false);
        let body = Object::SpeechRule(convert::speech_rule_to_model(r)).sha256();
        fp_lines.push(format!("{line}\t{body}"));
    }
    fp_lines.sort();
    let fingerprint = sha256_hex(fp_lines.join("\n").as_bytes());

    let listed = |kind: Kind| -> Vec<Listed<'_>> {
        match kind {
            Kind::Topic => topics
                .iter()
                .map(|t| (t.id.as_str(), t.name.as_str(), &t.date_modified))
                .collect(),
            _ => programs
                .iter()
                .map(|p| (p.id.as_str(), p.name.as_str(), &p.date_modified))
                .collect(),
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    for kind in [Kind::Topic, Kind::Program] {
        for id in bodies_to_get(kind, &listed(kind), desired, lock) {
            let client = client.clone();
            tasks.spawn(async move {
                match kind {
                    Kind::Topic => client.get_topic(&id).await.map(Fetched::Topic),
                    _ => client.get_program(&id).await.map(Fetched::Program),
                }
            });
        }
    }
    let mut bodies: BTreeMap<String, Arc<Object>> = BTreeMap::new();
    let mut topic_refs: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut held_by: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    while let Some(res) = tasks.join_next().await {
        let fetched = res.map_err(|e| genesys::Error::Transport {
            method: "GET".into(),
            path: "/api/v2/speechandtextanalytics/{topics|programs}/{id}".into(),
            message: format!("task failed: {e}"),
        })??;
        match fetched {
            Fetched::Topic(t) => {
                held_by.insert(
                    t.id.clone(),
                    t.programs
                        .iter()
                        .map(|p| (p.id.clone(), p.name.clone()))
                        .collect(),
                );
                bodies.insert(
                    t.id.clone(),
                    Arc::new(Object::Topic(convert::topic_to_model(&t))),
                );
            }
            Fetched::Program(p) => {
                let refs = p
                    .topics
                    .iter()
                    .map(|t| (t.id.clone(), t.name.clone()))
                    .collect();
                topic_refs.insert(p.id.clone(), refs);
                bodies.insert(
                    p.id.clone(),
                    Arc::new(Object::Program(convert::program_to_model(&p))),
                );
            }
        }
    }

    let mut objects = Vec::with_capacity(topics.len() + programs.len() + rules.len());
    for t in topics {
        objects.push(Remote {
            kind: Kind::Topic,
            body: bodies.remove(&t.id),
            held_by: held_by.remove(&t.id).unwrap_or_default(),
            modified_by: t.modified_by.map(|m| m.id),
            id: t.id,
            name: t.name,
            date_modified: t.date_modified,
            published: t.published,
            topic_refs: Vec::new(),
        });
    }
    for p in programs {
        objects.push(Remote {
            kind: Kind::Program,
            body: bodies.remove(&p.id),
            topic_refs: topic_refs.remove(&p.id).unwrap_or_default(),
            held_by: Vec::new(),
            modified_by: p.modified_by.map(|m| m.id),
            id: p.id,
            name: p.name,
            date_modified: p.date_modified,
            published: p.published,
        });
    }
    for r in rules {
        objects.push(Remote {
            kind: Kind::SpeechRule,
            body: Some(Arc::new(Object::SpeechRule(convert::speech_rule_to_model(
                &r,
            )))),
            id: r.id,
            name: r.name,
            date_modified: r.date_modified,
            published: false,
            topic_refs: Vec::new(),
            held_by: Vec::new(),
            modified_by: None,
        });
    }
    objects.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    Ok(RemoteState {
        objects,
        fingerprint,
    })
}

/// The speech-rules API is the origin tutorial's, not part of Genesys's public API:
/// say so when an org answers 404 for it.
fn explain_missing_rules_api(e: genesys::Error) -> genesys::Error {
    match e {
        genesys::Error::Api {
            status: 404,
            method,
            path,
            code,
            message,
            context_id,
            correlation_id,
        } => genesys::Error::Api {
            status: 404,
            method,
            path,
            code,
            message: format!(
                "{message} (this org does not serve /api/v2/speech/rules, the origin tutorial's \
speech rules API that is not part of Genesys's public API; remove the SpeechRule specs or \
point --api-url at a gateway that serves it)"
            ),
            context_id,
            correlation_id,
        },
        other => other,
    }
}

fn fingerprint_line(
    kind: Kind,
    id: &str,
    name: &str,
    date_modified: &Option<String>,
    published: bool,
) -> String {
    format!(
        "{kind}\t{id}\t{name}\t{}\t{published}",
        date_modified.as_deref().unwrap_or("")
    )
}

/// A full body fetched by id.
enum Fetched {
    Topic(genesys::types::Topic),
    Program(genesys::types::Program),
}

/// `(id, name, dateModified)` of a listed object.
type Listed<'a> = (&'a str, &'a str, &'a Option<String>);

/// Ids of the listed objects of `kind` whose bodies the diff needs: all but those the
/// lockfile proves unchanged (same `dateModified`, same spec hash) and those that
/// neither a spec nor the lockfile names.
fn bodies_to_get(
    kind: Kind,
    listed: &[Listed<'_>],
    desired: &[Desired],
    lock: &TargetState,
) -> Vec<String> {
    let desired_of_kind: BTreeMap<&str, &Desired> = desired
        .iter()
        .filter(|d| d.object.kind() == kind)
        .map(|d| (d.object.name(), d))
        .collect();
    let renamed: BTreeMap<&str, &Desired> = desired
        .iter()
        .filter(|d| d.object.kind() == kind)
        .filter_map(|d| d.renamed_from.as_deref().map(|old| (old, d)))
        .collect();
    let lock_by_id: BTreeMap<&str, (&str, &crate::state::LockEntry)> = lock
        .entries()
        .into_iter()
        .filter(|(k, _, _)| *k == kind)
        .map(|(_, name, e)| (e.id.as_str(), (name, e)))
        .collect();
    let find = |name: &str| {
        desired_of_kind
            .get(name)
            .or_else(|| renamed.get(name))
            .copied()
    };

    let mut out = BTreeSet::new();
    for &(id, name, date_modified) in listed {
        let managed = lock_by_id.get(id);
        let spec = managed
            .and_then(|(name, _)| find(name))
            .or_else(|| find(name));
        match (spec, managed) {
            (Some(d), Some((_, entry))) => {
                let proven = entry.date_modified.is_some()
                    && entry.date_modified == *date_modified
                    && entry.spec_sha256 == d.object.sha256();
                if !proven {
                    out.insert(id.to_string());
                }
            }
            (Some(_), None) => {
                out.insert(id.to_string());
            }
            // An orphan: its body shows what a prune deletes, and lets the plan hint
            // at a rename that lacks `renamedFrom`.
            (None, Some(_)) => {
                out.insert(id.to_string());
            }
            (None, _) => {}
        }
    }
    out.into_iter().collect()
}
