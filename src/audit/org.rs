//! `speechops audit org`: Genesys's own audit records of the managed objects, each
//! matched to the speechops entry that made the change or reported as made outside
//! speechops (SPEC 12.4). Pure: records and entries in, verdicts out.

use std::collections::HashSet;

use serde::Serialize;

use super::Entry;
use crate::genesys::types::AuditLogMessage;

/// How far apart Genesys's record and speechops's entry of one write may be.
const WINDOW_SECS: i64 = 600;

/// One change Genesys recorded, and whether speechops made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgChange {
    pub event_date: String,
    pub action: String,
    pub kind: String,
    pub id: String,
    pub name: Option<String>,
    /// The person (their name, else id) or, for an API call, the OAuth client.
    pub who: String,
    pub client_id: Option<String>,
    /// `matched` or `outside`.
    pub verdict: &'static str,
    /// The speechops entry it matched (`seq`), and its run.
    pub seq: Option<u64>,
    pub run_id: Option<String>,
    /// `property: [old] -> [new]`, as Genesys recorded them.
    pub property_changes: Vec<String>,
}

/// Our kind for a Genesys `entityType`.
pub fn kind_of(entity_type: &str) -> Option<&'static str> {
    Some(match entity_type {
        "Topic" => "Topic",
        "Program" => "Program",
        "Category" => "Category",
        "DictionaryFeedback" => "DictionaryFeedback",
        "SentimentFeedback" => "SentimentFeedback",
        "SpeechTextAnalyticsSettings" => "SpeechAnalyticsSettings",
        _ => return None,
    })
}

/// Whether a speechops entry's action is the write Genesys records as `action`.
fn same_action(genesys: &str, ours: &str) -> bool {
    let ours = match ours {
        "replace-create" | "rollback-delete" => "create",
        "replace-delete" | "rollback-create" => "delete",
        "rollback-update" => "update",
        "republish" | "rollback-publish" => "publish",
        other => other,
    };
    genesys.eq_ignore_ascii_case(ours)
}

fn secs(ts: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp())
}

/// Every successful record about a managed object (`managed`: kind and id, from the
/// lockfile and the log; settings are one object, matched by kind), each matched to at
/// most one speechops write of the same object and action within the window.
pub fn reconcile(
    records: &[AuditLogMessage],
    entries: &[Entry],
    managed: &HashSet<(String, String)>,
) -> Vec<OrgChange> {
    let singleton = |k: &str| k == "SpeechAnalyticsSettings";
    let mut used: HashSet<u64> = HashSet::new();
    let mut out = Vec::new();
    for r in records {
        if !r.status.eq_ignore_ascii_case("SUCCESS") {
            continue;
        }
        let Some(kind) = kind_of(&r.entity_type) else {
            continue;
        };
        let id = r.entity.as_ref().map(|e| e.id.clone()).unwrap_or_default();
        let is_managed = if singleton(kind) {
            managed.iter().any(|(k, _)| k == kind)
        } else {
            managed.contains(&(kind.to_string(), id.clone()))
        };
        if !is_managed {
            continue;
        }
        let at = secs(&r.event_date);
        let found = entries.iter().find(|e| {
            !used.contains(&e.seq)
                && matches!(e.status.as_str(), "ok" | "confirmed")
                && e.kind.as_deref() == Some(kind)
                && (singleton(kind) || e.id.as_deref() == Some(id.as_str()))
                && same_action(&r.action, &e.action)
                && match (at, secs(&e.ts)) {
                    (Some(a), Some(b)) => (a - b).abs() <= WINDOW_SECS,
                    _ => false,
                }
        });
        if let Some(e) = found {
            used.insert(e.seq);
        }
        let who = match (&r.user, &r.client) {
            (Some(u), _) if !u.id.is_empty() || u.name.is_some() => {
                u.name.clone().unwrap_or_else(|| format!("user {}", u.id))
            }
            (_, Some(c)) => format!("OAuth client {}", c.id),
            _ => "someone Genesys did not name".to_string(),
        };
        out.push(OrgChange {
            event_date: r.event_date.clone(),
            action: r.action.clone(),
            kind: kind.to_string(),
            id,
            name: r.entity.as_ref().and_then(|e| e.name.clone()),
            who,
            client_id: r.client.as_ref().map(|c| c.id.clone()),
            verdict: if found.is_some() {
                "matched"
            } else {
                "outside"
            },
            seq: found.map(|e| e.seq),
            run_id: found.map(|e| e.run_id.clone()),
            property_changes: r
                .property_changes
                .iter()
                .map(|p| format!("{}: {:?} -> {:?}", p.property, p.old_values, p.new_values))
                .collect(),
        });
    }
    out
}

/// Text: one line per record, the outside ones with who and what.
pub fn text(changes: &[OrgChange], from: &str, to: &str) -> String {
    let mut out = format!(
        "Genesys audit records (Speech & Text Analytics) of managed objects, {from} to {to}:\n\n"
    );
    for c in changes {
        let object = match &c.name {
            Some(n) => format!("{} {n:?} [id {}]", c.kind, c.id),
            None => format!("{} [id {}]", c.kind, c.id),
        };
        match c.verdict {
            "matched" => out.push_str(&format!(
                "  matched  {} {} {object}: speechops entry #{} (run {})\n",
                c.event_date,
                c.action,
                c.seq.unwrap_or_default(),
                c.run_id.as_deref().unwrap_or_default()
            )),
            _ => {
                out.push_str(&format!(
                    "  OUTSIDE  {} {} {object} by {}: not made by speechops\n",
                    c.event_date, c.action, c.who
                ));
                for p in &c.property_changes {
                    out.push_str(&format!("             {p}\n"));
                }
            }
        }
    }
    let outside = changes.iter().filter(|c| c.verdict == "outside").count();
    out.push_str(&format!(
        "\n{} matched, {outside} made outside speechops.\n",
        changes.len() - outside
    ));
    out
}

/// Markdown: a table.
pub fn markdown(changes: &[OrgChange]) -> String {
    let mut out = String::from(
        "### Genesys audit records of managed objects\n\n| When | Action | Object | Who | speechops |\n|---|---|---|---|---|\n",
    );
    for c in changes {
        let object = c
            .name
            .clone()
            .unwrap_or_else(|| c.id.clone())
            .replace('|', "\\|");
        let ours = match c.seq {
            Some(s) => format!("#{s}"),
            None => "⚠️ **outside**".to_string(),
        };
        out.push_str(&format!(
            "| {} | {} | {} `{object}` | {} | {ours} |\n",
            c.event_date,
            c.action,
            c.kind,
            c.who.replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesys::types::AuditRef;

    fn record(action: &str, id: &str, at: &str, user: Option<&str>) -> AuditLogMessage {
        AuditLogMessage {
            id: format!("a-{id}-{at}"),
            user: user.map(|u| AuditRef {
                id: "u1".into(),
                name: Some(u.into()),
            }),
            client: Some(AuditRef {
                id: "ci-client".into(),
                name: None,
            }),
            service_name: "SpeechAndTextAnalytics".into(),
            event_date: at.into(),
            action: action.into(),
            entity: Some(AuditRef {
                id: id.into(),
                name: Some("Recording disclosure".into()),
            }),
            entity_type: "Topic".into(),
            status: "SUCCESS".into(),
            property_changes: Vec::new(),
        }
    }

    fn entry(seq: u64, action: &str, id: &str, ts: &str) -> Entry {
        Entry {
            seq,
            ts: ts.into(),
            run_id: "r1".into(),
            action: action.into(),
            kind: Some("Topic".into()),
            id: Some(id.into()),
            status: "ok".into(),
            ..Entry::default()
        }
    }

    #[test]
    fn each_record_matches_one_write_of_the_same_object_action_and_time() {
        let managed: HashSet<(String, String)> = [("Topic".to_string(), "t1".to_string())].into();
        let records = vec![
            record("Create", "t1", "2026-12-04T10:00:01.123Z", None),
            record("Publish", "t1", "2026-12-04T10:00:03.000Z", None),
            record(
                "Update",
                "t1",
                "2026-12-04T12:00:00.000Z",
                Some("Jane Admin"),
            ),
            record("Update", "t9", "2026-12-04T12:00:00.000Z", Some("Not ours")),
        ];
        let entries = vec![
            entry(2, "create", "t1", "2026-12-04T10:00:01Z"),
            entry(4, "publish", "t1", "2026-12-04T10:00:03Z"),
        ];
        let got = reconcile(&records, &entries, &managed);
        assert_eq!(got.len(), 3, "the unmanaged object is left out");
        assert_eq!((got[0].verdict, got[0].seq), ("matched", Some(2)));
        assert_eq!((got[1].verdict, got[1].seq), ("matched", Some(4)));
        assert_eq!(
            (got[2].verdict, got[2].who.as_str()),
            ("outside", "Jane Admin")
        );
        assert!(text(&got, "a", "b").contains("2 matched, 1 made outside speechops."));
    }
}
