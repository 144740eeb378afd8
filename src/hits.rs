//! Detection impact for `plan --hits[=DAYS]` (SPEC 4.4): how often the topics a plan
//! changes, deletes or renames were detected recently (one transcripts aggregates
//! query), and how many recent transcripts each new or changed phrase would match (one
//! test-phrase job per phrase, at most [`MAX_PHRASES`]). Read only; a failure is a
//! note in the plan, never a failed plan.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::diff::{Action, Plan};
use crate::genesys::Client;
use crate::genesys::types::{PhraseJobPhrase, PhraseJobTopic};
use crate::model::{Kind, Object, phrase_key};

/// Test-phrase jobs per plan at most; past that, a note says what was skipped.
pub const MAX_PHRASES: usize = 50;

/// The numbers shown beside one change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hits {
    /// Days looked back.
    pub days: u32,
    /// Communications in which the topic was detected (existing topics only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communications: Option<u64>,
    /// New or changed phrases and the recent transcripts each would match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phrases: Vec<PhraseHits>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhraseHits {
    pub text: String,
    pub matched: u64,
    pub processed: u64,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(i64::MAX)
}

fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Annotates the plan's topic changes with detection numbers over the last `days`.
pub async fn annotate(client: &Client, plan: &mut Plan, days: u32, now_ms: i64) {
    let start_ms = now_ms.saturating_sub(i64::from(days).saturating_mul(86_400_000));
    let is_topic = |kind: Kind, action: Action| {
        kind == Kind::Topic && matches!(action, Action::Create | Action::Update | Action::Delete)
    };
    // 1. Existing topics the plan changes, deletes or renames: one query.
    let ids: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| is_topic(c.kind, c.action) && c.action != Action::Create)
        .filter_map(|c| c.id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let counts = if ids.is_empty() {
        Ok(Default::default())
    } else {
        let interval = format!("{}/{}", rfc3339(start_ms), rfc3339(now_ms));
        client.topic_communications(&ids, &interval).await
    };
    let counts = match counts {
        Ok(c) => Some(c),
        Err(e) => {
            plan.notes.push(format!(
                "warning: detection counts are unavailable ({e}); the plan is complete without them"
            ));
            None
        }
    };
    // 2. New or changed phrases: one test-phrase job each, bounded.
    let mut jobs: Vec<(usize, PhraseJobTopic)> = Vec::new();
    let mut skipped = 0usize;
    for (i, c) in plan.changes.iter().enumerate() {
        if !is_topic(c.kind, c.action) {
            continue;
        }
        let Some(Object::Topic(after)) = c.after.as_deref() else {
            continue;
        };
        let before: BTreeSet<String> = match c.before.as_deref() {
            Some(Object::Topic(b)) => b.phrases.iter().map(|p| phrase_key(&p.text)).collect(),
            _ => BTreeSet::new(),
        };
        for p in after
            .phrases
            .iter()
            .filter(|p| !before.contains(&phrase_key(&p.text)))
        {
            if jobs.len() >= MAX_PHRASES {
                skipped += 1;
                continue;
            }
            jobs.push((
                i,
                PhraseJobTopic {
                    phrase: PhraseJobPhrase {
                        text: p.text.clone(),
                        strictness: Some(p.strictness.to_string()),
                    },
                    strictness: after.strictness.clone(),
                    matching_type: after.matching_type.clone(),
                    dialect: after.dialect.clone(),
                    participants: after.participants.clone(),
                },
            ));
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (n, (i, topic)) in jobs.into_iter().enumerate() {
        let client = client.clone();
        tasks.spawn(async move {
            let res = client.test_phrase(&topic, start_ms, now_ms).await;
            (n, i, topic.phrase.text, res)
        });
    }
    let mut results = Vec::new();
    let mut failures: Vec<(usize, String)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((n, i, text, Ok((processed, matched)))) => results.push((
                n,
                i,
                PhraseHits {
                    text,
                    matched,
                    processed,
                },
            )),
            Ok((n, _, _, Err(e))) => failures.push((n, e.to_string())),
            Err(e) => failures.push((usize::MAX, e.to_string())),
        }
    }
    // Completion order is not the plan's order: restore it, so output is deterministic.
    results.sort_by_key(|(n, _, _)| *n);
    failures.sort();
    if let Some((_, e)) = failures.into_iter().next() {
        plan.notes.push(format!(
            "warning: some phrase test jobs failed ({e}); their numbers are not shown"
        ));
    }
    if !results.is_empty() && results.iter().all(|(_, _, h)| h.processed == 0) {
        plan.notes.push(format!(
            "the org has no transcripts of the last {days} days to test phrases against \
(with --sandbox: put sample transcripts in sandbox-seed.yaml, see docs/testing-rules.md)"
        ));
    }
    if skipped > 0 {
        plan.notes.push(format!(
            "{skipped} new or changed phrase(s) were not tested: at most {MAX_PHRASES} test-phrase jobs run per plan"
        ));
    }
    for (i, c) in plan.changes.iter_mut().enumerate() {
        if !is_topic(c.kind, c.action) {
            continue;
        }
        let communications =
            c.id.as_ref()
                .and_then(|id| counts.as_ref().map(|m| m.get(id).copied().unwrap_or(0)));
        let phrases: Vec<PhraseHits> = results
            .iter()
            .filter(|(_, at, _)| *at == i)
            .map(|(_, _, h)| h.clone())
            .collect();
        if communications.is_some() || !phrases.is_empty() {
            c.hits = Some(Hits {
                days,
                communications,
                phrases,
            });
        }
    }
}
