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
    /// Those detections day by day, as a sparkline (the trend before the change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<String>,
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
    // Whole UTC days, so the trend has one bar per day.
    let (dates, interval) = period(days, now_ms);
    let counts = if ids.is_empty() {
        Ok(Default::default())
    } else {
        client.topic_communications_daily(&ids, &interval).await
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
        let trend = c.id.as_ref().and_then(|id| {
            counts
                .as_ref()
                .map(|m| TopicTrend::new(&c.name, "", Some(id.clone()), &dates, m.get(id)))
        });
        let communications = trend.as_ref().map(|t| t.total);
        let trend = trend.map(|t| t.sparkline());
        let phrases: Vec<PhraseHits> = results
            .iter()
            .filter(|(_, at, _)| *at == i)
            .map(|(_, _, h)| h.clone())
            .collect();
        if communications.is_some() || !phrases.is_empty() {
            c.hits = Some(Hits {
                days,
                communications,
                trend,
                phrases,
            });
        }
    }
}

/// `speechops hits`: detections per day of each topic over a period (SPEC 12.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub format_version: u32,
    /// First and last day (UTC, `YYYY-MM-DD`).
    pub from: String,
    pub to: String,
    pub days: u32,
    pub topics: Vec<TopicTrend>,
}

/// One topic's detections, a count per day from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicTrend {
    pub name: String,
    pub dialect: String,
    /// Absent when the topic is not in the org (never applied).
    pub id: Option<String>,
    pub total: u64,
    pub never_fired: bool,
    pub daily: Vec<DayCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    pub date: String,
    pub count: u64,
}

/// The `days` UTC dates ending today, oldest first, and the query interval from the
/// first one's midnight to `now_ms`.
pub fn period(days: u32, now_ms: i64) -> (Vec<String>, String) {
    let day_ms: i64 = 86_400_000;
    let today = now_ms.div_euclid(day_ms);
    let first = today.saturating_sub(i64::from(days.max(1)) - 1);
    let dates = (first..=today)
        .map(|d| rfc3339(d.saturating_mul(day_ms)).chars().take(10).collect())
        .collect();
    (
        dates,
        format!(
            "{}/{}",
            rfc3339(first.saturating_mul(day_ms)),
            rfc3339(now_ms)
        ),
    )
}

impl TopicTrend {
    /// A topic's trend from the per-day counts the org answered (missing days are 0).
    pub fn new(
        name: &str,
        dialect: &str,
        id: Option<String>,
        dates: &[String],
        counts: Option<&std::collections::BTreeMap<String, u64>>,
    ) -> TopicTrend {
        let daily: Vec<DayCount> = dates
            .iter()
            .map(|d| DayCount {
                date: d.clone(),
                count: counts.and_then(|c| c.get(d)).copied().unwrap_or(0),
            })
            .collect();
        let total = daily
            .iter()
            .map(|d| d.count)
            .fold(0u64, u64::saturating_add);
        TopicTrend {
            name: name.to_string(),
            dialect: dialect.to_string(),
            id,
            total,
            never_fired: total == 0,
            daily,
        }
    }

    /// The days as a sparkline, one block per day scaled to the topic's busiest day
    /// (`·` for a day with none).
    pub fn sparkline(&self) -> String {
        const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        let max = self.daily.iter().map(|d| d.count).max().unwrap_or(0);
        self.daily
            .iter()
            .map(|d| {
                if d.count == 0 || max == 0 {
                    '·'
                } else {
                    let i = (d.count.saturating_mul(7) / max).min(7);
                    BARS[usize::try_from(i).unwrap_or(7)]
                }
            })
            .collect()
    }
}

impl Report {
    fn never(&self) -> usize {
        self.topics.iter().filter(|t| t.never_fired).count()
    }

    /// Text: one line per topic, its total and sparkline, never-fired topics flagged.
    pub fn text(&self) -> String {
        let width = self
            .topics
            .iter()
            .map(|t| t.name.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = format!(
            "Detections per day, {} to {} ({} days, UTC):\n\n",
            self.from, self.to, self.days
        );
        for t in &self.topics {
            let pad = width.saturating_sub(t.name.chars().count());
            let flag = if t.id.is_none() {
                "  not in the org yet"
            } else if t.never_fired {
                "  NEVER FIRED"
            } else {
                ""
            };
            out.push_str(&format!(
                "  {}{}  {:>7}  {}{flag}\n",
                t.name,
                " ".repeat(pad),
                t.total,
                t.sparkline()
            ));
        }
        out.push_str(&format!(
            "\n{} topic(s); {} never fired in {} days.\n",
            self.topics.len(),
            self.never(),
            self.days
        ));
        out
    }

    /// Markdown: a table with the trend, never-fired topics flagged.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "### Topic detections, {} to {} ({} days)\n\n| Topic | Dialect | Detections | Trend |\n|---|---|---:|---|\n",
            self.from, self.to, self.days
        );
        for t in &self.topics {
            let name = t.name.replace('|', "\\|");
            let flag = if t.never_fired {
                " ⚠️ never fired"
            } else {
                ""
            };
            out.push_str(&format!(
                "| {name}{flag} | {} | {} | `{}` |\n",
                t.dialect,
                t.total,
                t.sparkline()
            ));
        }
        out.push_str(&format!(
            "\n{} topic(s); {} never fired.\n",
            self.topics.len(),
            self.never()
        ));
        out
    }

    /// CSV (RFC 4180): one row per topic per day.
    pub fn csv(&self) -> String {
        let field = |s: &str| {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut out = String::from("topic,dialect,topic_id,date,detections\r\n");
        for t in &self.topics {
            for d in &t.daily {
                out.push_str(&format!(
                    "{},{},{},{},{}\r\n",
                    field(&t.name),
                    field(&t.dialect),
                    field(t.id.as_deref().unwrap_or_default()),
                    d.date,
                    d.count
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod report_tests {
    use super::*;

    #[test]
    fn a_period_is_whole_utc_days_ending_today() {
        // 2026-12-04T13:00:00Z
        let now = 1_796_389_200_000;
        let (dates, interval) = period(3, now);
        assert_eq!(dates, ["2026-12-02", "2026-12-03", "2026-12-04"]);
        assert_eq!(interval, "2026-12-02T00:00:00Z/2026-12-04T13:00:00Z");
    }

    #[test]
    fn sparklines_scale_to_the_busiest_day_and_csv_quotes_names() {
        let dates: Vec<String> = ["d1", "d2", "d3", "d4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let counts: std::collections::BTreeMap<String, u64> = [
            ("d1".to_string(), 1),
            ("d2".to_string(), 8),
            ("d4".to_string(), 4),
        ]
        .into();
        let t = TopicTrend::new(
            "Card, \"PAN\"",
            "en-US",
            Some("t1".into()),
            &dates,
            Some(&counts),
        );
        assert_eq!(t.total, 13);
        assert_eq!(t.sparkline(), "▁█·▄");
        let quiet = TopicTrend::new("Quiet", "en-US", Some("t2".into()), &dates, None);
        assert!(quiet.never_fired);
        assert_eq!(quiet.sparkline(), "····");
        let r = Report {
            format_version: 1,
            from: "d1".into(),
            to: "d4".into(),
            days: 4,
            topics: vec![t, quiet],
        };
        assert!(r.csv().starts_with(
            "topic,dialect,topic_id,date,detections\r\n\"Card, \"\"PAN\"\"\",en-US,t1,d1,1\r\n"
        ));
        assert!(r.text().contains("NEVER FIRED"));
        assert!(r.text().contains("1 never fired in 4 days"));
        assert!(
            r.markdown()
                .contains("| Quiet ⚠️ never fired | en-US | 0 | `····` |")
        );
    }
}
