//! `speechops hits`: how often every managed topic fired, per day, over a period
//! (SPEC 12.5). One transcripts aggregates query for the whole period.

use crate::Outcome;
use crate::cli::{Format, GlobalArgs, HitsArgs};
use crate::hits::{self, Report, TopicTrend};
use crate::model::Object;
use crate::settings::Settings;

/// Days in `30d`, `2w`, `12` (days).
fn days_of(text: &str) -> anyhow::Result<u32> {
    let t = text.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((at, 'd')) => (&t[..at], 1),
        Some((at, 'w')) => (&t[..at], 7),
        _ => (t, 1),
    };
    let n: u32 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("--since {text:?} is not a number of days (30d, 2w)"))?;
    let days = n.saturating_mul(mult);
    if !(1..=366).contains(&days) {
        anyhow::bail!("--since {text:?}: the period is 1 to 366 days");
    }
    Ok(days)
}

/// Runs `speechops hits`.
pub fn run(global: &GlobalArgs, args: &HitsArgs) -> anyhow::Result<Outcome> {
    let settings = Settings::resolve(global)?;
    let days = days_of(&args.since)?;
    let Some(tree) = super::load_valid_specs(&settings, global)? else {
        return Ok(Outcome::Failure);
    };
    // The managed topics: the tree's, by name and dialect.
    let mut wanted: Vec<(String, String)> = tree
        .specs
        .iter()
        .filter_map(|s| match &s.object {
            Object::Topic(t) => Some((t.name.clone(), t.dialect.clone())),
            _ => None,
        })
        .collect();
    wanted.sort();
    wanted.dedup();
    if !args.topic.is_empty() {
        for name in &args.topic {
            if !wanted.iter().any(|(n, _)| n == name) {
                let hint = crate::spec::yaml::closest(name, wanted.iter().map(|(n, _)| n.as_str()))
                    .map(|c| format!(" (did you mean {c:?}?)"))
                    .unwrap_or_default();
                anyhow::bail!("--topic {name:?} names no topic of the specs{hint}");
            }
        }
        wanted.retain(|(n, _)| args.topic.contains(n));
    }
    let (dates, interval) = hits::period(days, hits::now_ms());
    let rt = super::runtime()?;
    let (listed, counts) = rt.block_on(async {
        let conn = super::connect(&settings, 4).await?;
        let listed = conn.client.list_topics().await?;
        let ids: Vec<String> = listed
            .iter()
            .filter(|t| {
                wanted
                    .iter()
                    .any(|(n, d)| *n == t.name && Some(d.as_str()) == t.dialect.as_deref())
            })
            .map(|t| t.id.clone())
            .collect();
        // Every topic when there are many (a filter of hundreds of predicates is not
        // something to send); the managed ones are picked out below.
        let filter = if ids.len() <= 100 { ids } else { Vec::new() };
        let counts = conn
            .client
            .topic_communications_daily(&filter, &interval)
            .await?;
        anyhow::Ok((listed, counts))
    })?;
    let topics: Vec<TopicTrend> = wanted
        .iter()
        .map(|(name, dialect)| {
            let id = listed
                .iter()
                .find(|t| t.name == *name && t.dialect.as_deref() == Some(dialect.as_str()))
                .map(|t| t.id.clone());
            let c = id.as_ref().and_then(|id| counts.get(id));
            TopicTrend::new(name, dialect, id, &dates, c)
        })
        .collect();
    let report = Report {
        format_version: 1,
        from: dates.first().cloned().unwrap_or_default(),
        to: dates.last().cloned().unwrap_or_default(),
        days,
        topics,
    };
    let out = match global.format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
        Format::Markdown => report.markdown(),
        Format::Csv => report.csv(),
        Format::Text | Format::Html => report.text(),
    };
    super::out(&out);
    Ok(Outcome::Success)
}
