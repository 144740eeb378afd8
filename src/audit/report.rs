//! `speechops audit report`: the log as one row per change (SPEC 12.4). A change's
//! intent, result, later resolution, publish and rollback entries fold into its row;
//! an object is followed across renames by its id. Pure: entries in, text out.

use serde::Serialize;

use super::{Entry, PullRequest};

/// One change: what happened to one object in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// When the change began (its first entry).
    pub ts: String,
    pub run_id: String,
    pub actor: String,
    pub target: String,
    pub git_commit: Option<String>,
    pub kind: String,
    /// The name in this change, and the object's latest name when it was renamed since.
    pub name: String,
    pub now_named: Option<String>,
    pub id: Option<String>,
    /// `create`, `update`, `delete`, `replace`, `adopt`, `import`, `forget`.
    pub action: String,
    /// `ok`, `failed`, `not-applied`, `pending` (a killed run not resolved yet).
    pub status: String,
    pub published: bool,
    pub rolled_back: bool,
    /// The fields the change touched.
    pub fields: Vec<String>,
    pub pull_request: Option<PullRequest>,
    pub message: Option<String>,
}

/// The write a row is about, from an entry's action (`None`: not a change of an
/// object, or a publish or rollback that folds into one).
fn base(action: &str) -> Option<&'static str> {
    Some(match action {
        "create" => "create",
        "update" => "update",
        "delete" => "delete",
        "replace-delete" | "replace-create" => "replace",
        "adopt" => "adopt",
        "import" => "import",
        "forget" => "forget",
        _ => return None,
    })
}

/// The rows of `entries` (a verified log, in order).
pub fn rows(entries: &[Entry]) -> Vec<Row> {
    use std::collections::HashMap;
    // Every object's latest name, by id.
    let mut latest: HashMap<(&str, &str), &str> = HashMap::new();
    for e in entries {
        if let (Some(k), Some(id), Some(n)) = (&e.kind, &e.id, &e.name)
            && !id.is_empty()
        {
            latest.insert((k.as_str(), id.as_str()), n.as_str());
        }
    }
    let mut rows: Vec<Row> = Vec::new();
    // (run, kind, name) -> row index, for folding.
    let mut open: HashMap<(String, String, String), usize> = HashMap::new();
    // intent seq -> row index.
    let mut by_intent: HashMap<u64, usize> = HashMap::new();
    for e in entries {
        let (Some(kind), Some(name)) = (&e.kind, &e.name) else {
            continue;
        };
        let key = (e.run_id.clone(), kind.clone(), name.clone());
        let answered = e.intent.and_then(|i| by_intent.get(&i).copied());
        if let Some(b) = base(&e.action) {
            let at = match answered.or_else(|| {
                open.get(&key)
                    .copied()
                    .filter(|i| rows[*i].action == b && b == "replace")
            }) {
                Some(i) => i,
                None => {
                    rows.push(Row {
                        ts: e.ts.clone(),
                        run_id: e.run_id.clone(),
                        actor: e.actor.clone(),
                        target: e.target.clone(),
                        git_commit: e.git_commit.clone(),
                        kind: kind.clone(),
                        name: name.clone(),
                        now_named: None,
                        id: None,
                        action: b.to_string(),
                        status: e.status.clone(),
                        published: false,
                        rolled_back: false,
                        fields: Vec::new(),
                        pull_request: None,
                        message: None,
                    });
                    open.insert(key.clone(), rows.len() - 1);
                    rows.len() - 1
                }
            };
            let row = &mut rows[at];
            if e.status != "pending" || row.status == "pending" {
                row.status = match e.status.as_str() {
                    "confirmed" => "ok".to_string(),
                    other => other.to_string(),
                };
            }
            if let Some(id) = e.id.as_ref().filter(|i| !i.is_empty()) {
                row.id = Some(id.clone());
            }
            if let Some(serde_json::Value::Object(c)) = &e.changes {
                for f in c.keys() {
                    if !row.fields.contains(f) {
                        row.fields.push(f.clone());
                    }
                }
            }
            if e.pull_request.is_some() {
                row.pull_request.clone_from(&e.pull_request);
            }
            if e.message.is_some() && e.status == "failed" {
                row.message.clone_from(&e.message);
            }
            if e.status == "pending" {
                by_intent.insert(e.seq, at);
            }
        } else if let Some(&at) = open.get(&key) {
            let ok = matches!(e.status.as_str(), "ok" | "confirmed");
            match e.action.as_str() {
                "publish" | "republish" if ok => rows[at].published = true,
                a if a.starts_with("rollback-") && ok && a != "rollback-publish" => {
                    rows[at].rolled_back = true;
                }
                _ => {}
            }
        } else if matches!(e.action.as_str(), "publish" | "republish") && e.status != "pending" {
            // A publish of an object the run did not write (a republish).
            rows.push(Row {
                ts: e.ts.clone(),
                run_id: e.run_id.clone(),
                actor: e.actor.clone(),
                target: e.target.clone(),
                git_commit: e.git_commit.clone(),
                kind: kind.clone(),
                name: name.clone(),
                now_named: None,
                id: e.id.clone(),
                action: e.action.clone(),
                status: e.status.clone(),
                published: e.status == "ok",
                rolled_back: false,
                fields: Vec::new(),
                pull_request: e.pull_request.clone(),
                message: None,
            });
        }
    }
    for row in &mut rows {
        if let Some(id) = &row.id
            && let Some(now) = latest.get(&(row.kind.as_str(), id.as_str()))
            && *now != row.name
        {
            row.now_named = Some((*now).to_string());
        }
    }
    rows
}

fn object(r: &Row) -> String {
    match &r.now_named {
        Some(now) => format!("{} {:?} (now {now:?})", r.kind, r.name),
        None => format!("{} {:?}", r.kind, r.name),
    }
}

fn what(r: &Row) -> String {
    let mut w = r.action.clone();
    if r.published {
        w.push_str(" + publish");
    }
    if r.rolled_back {
        w.push_str(", rolled back");
    }
    w
}

fn approval(r: &Row) -> String {
    match &r.pull_request {
        Some(pr) if pr.approvers.is_empty() => format!("#{} (no approval)", pr.number),
        Some(pr) => format!("#{} approved by {}", pr.number, pr.approvers.join(", ")),
        None => String::new(),
    }
}

fn short(c: &Option<String>) -> String {
    c.as_deref()
        .map(|s| s.get(..8).unwrap_or(s).to_string())
        .unwrap_or_default()
}

/// Text: one line per change.
pub fn text(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        let pr = approval(r);
        out.push_str(&format!(
            "{} {} {}: {} by {}{}{} [{}]\n",
            r.ts,
            what(r),
            object(r),
            r.status,
            r.actor,
            if pr.is_empty() {
                String::new()
            } else {
                format!(", {pr}")
            },
            if r.git_commit.is_some() {
                format!(", commit {}", short(&r.git_commit))
            } else {
                String::new()
            },
            r.target
        ));
    }
    out.push_str(&format!("{} change(s).\n", rows.len()));
    out
}

const COLUMNS: [&str; 12] = [
    "time",
    "target",
    "kind",
    "name",
    "now named",
    "id",
    "change",
    "status",
    "by",
    "pull request",
    "approved by",
    "commit",
];

fn cells(r: &Row) -> [String; 12] {
    [
        r.ts.clone(),
        r.target.clone(),
        r.kind.clone(),
        r.name.clone(),
        r.now_named.clone().unwrap_or_default(),
        r.id.clone().unwrap_or_default(),
        what(r),
        r.status.clone(),
        r.actor.clone(),
        r.pull_request
            .as_ref()
            .map(|p| p.url.clone().unwrap_or_else(|| format!("#{}", p.number)))
            .unwrap_or_default(),
        r.pull_request
            .as_ref()
            .map(|p| p.approvers.join(" "))
            .unwrap_or_default(),
        r.git_commit.clone().unwrap_or_default(),
    ]
}

/// Markdown: a table.
pub fn markdown(rows: &[Row]) -> String {
    let esc = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = format!(
        "### speechops audit report\n\n| {} |\n|{}\n",
        COLUMNS.join(" | "),
        "---|".repeat(COLUMNS.len())
    );
    for r in rows {
        let c: Vec<String> = cells(r).iter().map(|x| esc(x)).collect();
        out.push_str(&format!("| {} |\n", c.join(" | ")));
    }
    out.push_str(&format!("\n{} change(s).\n", rows.len()));
    out
}

/// CSV (RFC 4180).
pub fn csv(rows: &[Row]) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = COLUMNS.join(",").replace(' ', "_") + "\r\n";
    for r in rows {
        let c: Vec<String> = cells(r).iter().map(|x| field(x)).collect();
        out.push_str(&c.join(","));
        out.push_str("\r\n");
    }
    out
}

/// HTML: one self-contained page with the table, every value escaped.
pub fn html(rows: &[Row]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>speechops audit report</title>\n<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head>\n<body><h1>speechops audit report</h1>\n<table>\n<tr>",
    );
    for c in COLUMNS {
        out.push_str(&format!("<th>{}</th>", esc(c)));
    }
    out.push_str("</tr>\n");
    for r in rows {
        out.push_str("<tr>");
        for c in cells(r) {
            out.push_str(&format!("<td>{}</td>", esc(&c)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str(&format!(
        "</table>\n<p>{} change(s).</p>\n</body></html>\n",
        rows.len()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(seq: u64, action: &str, name: &str, id: &str, status: &str, intent: Option<u64>) -> Entry {
        Entry {
            seq,
            ts: format!("2026-12-01T10:00:{seq:02}Z"),
            actor: "ci".into(),
            run_id: "r1".into(),
            target: "prod".into(),
            action: action.into(),
            kind: Some("Topic".into()),
            name: Some(name.into()),
            id: Some(id.into()),
            intent,
            status: status.into(),
            ..Entry::default()
        }
    }

    #[test]
    fn intent_result_and_publish_fold_into_one_row_and_renames_are_followed() {
        let mut later = e(5, "update", "Card payment", "t1", "pending", None);
        later.run_id = "r2".into();
        let mut later_ok = e(6, "update", "Card payment", "t1", "ok", Some(5));
        later_ok.run_id = "r2".into();
        later_ok.changes =
            Some(serde_json::json!({"name": {"from": "Payment card", "to": "Card payment"}}));
        let entries = vec![
            e(1, "create", "Payment card", "", "pending", None),
            e(2, "create", "Payment card", "t1", "ok", Some(1)),
            e(3, "publish", "Payment card", "t1", "pending", None),
            e(4, "publish", "Payment card", "t1", "ok", Some(3)),
            later,
            later_ok,
        ];
        let r = rows(&entries);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(
            (r[0].action.as_str(), r[0].status.as_str(), r[0].published),
            ("create", "ok", true)
        );
        assert_eq!(r[0].now_named.as_deref(), Some("Card payment"));
        assert_eq!(r[1].fields, vec!["name".to_string()]);
        assert!(
            text(&r).contains("create + publish Topic \"Payment card\" (now \"Card payment\"): ok")
        );
        assert!(csv(&r).starts_with("time,target,kind,name,now_named,id,change,status,by,pull_request,approved_by,commit\r\n"));
        assert!(
            html(&[Row {
                name: "<b>".into(),
                ..r[0].clone()
            }])
            .contains("&lt;b&gt;")
        );
    }
}
