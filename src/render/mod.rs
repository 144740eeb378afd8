//! Renderers of a [`Plan`]: text (for terminals and logs), markdown (for a sticky
//! pull-request comment and `$GITHUB_STEP_SUMMARY`) and json (for machines).
//! Pure functions from a plan to a string; deterministic.

use std::fmt::Write as _;

use serde::Serialize;

use crate::diff::{Action, Change, Plan, Summary};
use crate::model::{Kind, Object};

/// GitHub's comment limit is 65,536 characters; stay safely below it.
pub const MARKDOWN_LIMIT: usize = 65_000;

/// Text rendering options.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextStyle {
    pub color: bool,
    /// Updates as the YAML's line diff, not in words.
    pub yaml_diff: bool,
}

fn paint(style: TextStyle, code: &str, s: &str) -> String {
    if style.color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn action_color(a: Action) -> &'static str {
    match a {
        Action::Create => "32",
        Action::Update => "33",
        Action::Delete => "31",
        Action::Adopt => "36",
        Action::Publish | Action::Republish => "34",
    }
}

/// An update of a kind Genesys cannot update: apply deletes and re-creates it.
pub fn is_replace(c: &Change) -> bool {
    c.action == Action::Update && c.kind.replaces()
}

/// The one-line description of a change, e.g. `+ create Topic "Recording disclosure"`.
pub fn change_line(c: &Change) -> String {
    let mut line = format!(
        "{} {} {} {:?}",
        c.action.symbol(),
        c.action.as_str(),
        c.kind,
        c.name
    );
    if let Some(old) = &c.renamed_from {
        let _ = write!(line, " (renamed from {old:?})");
    }
    if c.is_takeover() {
        line.push_str(" (TAKEOVER: exists in the org but is not managed by speechops)");
    }
    if is_replace(c) {
        line.push_str(
            " (REPLACE: Genesys has no update for it, so it is deleted and created again)",
        );
    }
    if let Some(d) = &c.drift {
        let _ = write!(line, " (DRIFT: {})", drift_text(d));
    }
    if !c.adopted && c.action == Action::Adopt {
        line.push_str(" (re-recorded: the lockfile was behind the org)");
    }
    if let Some(reason) = &c.reason {
        let _ = write!(line, " ({reason})");
    }
    if let Some(id) = &c.id {
        let _ = write!(line, " [id {id}]");
    }
    if let Some((n, days, trend)) = c
        .hits
        .as_ref()
        .and_then(|h| h.communications.map(|n| (n, h.days, h.trend.as_deref())))
    {
        let trend = trend.map(|t| format!(" {t}")).unwrap_or_default();
        let _ = write!(
            line,
            " [detected in {n} communication(s) in the last {days} days{trend}]"
        );
    }
    line
}

/// One line per tested phrase: what it would match.
fn phrase_hit_lines(c: &Change) -> Vec<String> {
    c.hits
        .iter()
        .flat_map(|h| {
            h.phrases.iter().map(move |p| {
                format!(
                    "phrase {:?} would match {} of {} transcripts of the last {} days",
                    p.text, p.matched, p.processed, h.days
                )
            })
        })
        .collect()
}

/// "changed outside speechops by X at T; this update reverts it".
pub fn drift_text(d: &crate::diff::Drift) -> String {
    if d.deleted {
        return "deleted outside speechops (it is managed, and the org no longer has it); \
this create puts it back (`speechops audit org` names who deleted it)"
            .to_string();
    }
    format!(
        "changed outside speechops by {} at {}; this update reverts it",
        d.modified_by.as_deref().unwrap_or("an unknown user"),
        d.date_modified.as_deref().unwrap_or("an unknown time")
    )
}

/// A guard as one line, naming its override.
fn guard_text(g: &crate::diff::Guard) -> String {
    match g.guard.override_flag() {
        Some(flag) => format!("Guard (override: {flag}): {}", g.message),
        None => format!("Conflict (no override: fix the specs): {}", g.message),
    }
}

/// Where apply runs a change: adopts are recorded first; then, for each kind in
/// write order (every kind after the kinds it refers to), its writes and its
/// publishing; then the deletes, kinds in reverse (the executor's phases). Changes
/// are shown in this order.
fn phase(c: &Change) -> usize {
    crate::diff::apply_phase(c.kind, c.action)
}

/// The changes to show, in apply order, each with whether a publish follows it. A
/// publish that follows a create or update of the same object is shown on that
/// change's line, not as an entry of its own.
pub fn shown(plan: &Plan) -> Vec<(&Change, bool)> {
    let written: std::collections::BTreeSet<(Kind, &str)> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Update))
        .map(|c| (c.kind, c.name.as_str()))
        .collect();
    let published: std::collections::BTreeSet<(Kind, &str)> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Publish)
        .map(|c| (c.kind, c.name.as_str()))
        .collect();
    let mut out: Vec<(&Change, bool)> = plan
        .changes
        .iter()
        .filter(|c| !(c.action == Action::Publish && written.contains(&(c.kind, c.name.as_str()))))
        .map(|c| {
            let then_publish = matches!(c.action, Action::Create | Action::Update)
                && published.contains(&(c.kind, c.name.as_str()));
            (c, then_publish)
        })
        .collect();
    out.sort_by(|(a, _), (b, _)| (phase(a), &a.name).cmp(&(phase(b), &b.name)));
    out
}

/// The summary line of SPEC 5.
pub fn summary_line(s: &Summary) -> String {
    let republish = if s.republish > 0 {
        format!(", {} to republish", s.republish)
    } else {
        String::new()
    };
    format!(
        "Plan: {} to create, {} to update, {} to delete, {} to publish{republish}.",
        s.create, s.update, s.delete, s.publish
    )
}

/// Unified diff of the normalised YAML of before and after.
/// What a change does, for people: an update in words ([`words::changes`]: phrases
/// added, removed and changed, members, fields), a create or delete as its YAML.
pub fn change_lines(before: Option<&Object>, after: Option<&Object>) -> String {
    match (before, after) {
        (Some(b), Some(a)) => {
            let lines = words::changes(&b.content_value(), &a.content_value());
            if lines.is_empty() {
                return "(no change to the content)\n".to_string();
            }
            lines.iter().map(|l| format!("{l}\n")).collect()
        }
        _ => yaml_diff(before, after),
    }
}

pub fn yaml_diff(before: Option<&Object>, after: Option<&Object>) -> String {
    let b = before.map(Object::content_yaml).unwrap_or_default();
    let a = after.map(Object::content_yaml).unwrap_or_default();
    similar::TextDiff::from_lines(&b, &a)
        .unified_diff()
        .context_radius(3)
        .header("remote", "repository")
        .to_string()
}

/// The plan as text.
pub fn text(plan: &Plan, style: TextStyle) -> String {
    let mut out = String::new();
    if !plan.has_changes() && plan.orphans.is_empty() {
        let _ = writeln!(
            out,
            "No changes. Target {:?} matches the repository.",
            plan.target
        );
    } else if !plan.has_changes() {
        let _ = writeln!(
            out,
            "No changes to apply to target {:?} (see the orphans below).",
            plan.target
        );
    } else {
        let _ = writeln!(
            out,
            "speechops plan for target {:?} (in the order apply runs it):\n",
            plan.target
        );
        let shown = shown(plan);
        for (c, then_publish) in &shown {
            let mut line = change_line(c);
            if *then_publish {
                line.push_str(" + publish");
            }
            let _ = writeln!(out, "  {}", paint(style, action_color(c.action), &line));
            for l in phrase_hit_lines(c) {
                let _ = writeln!(out, "      {l}");
            }
        }
        // What each write writes: the diff of updates and deletes, the body of creates.
        for (c, _) in shown
            .iter()
            .filter(|(c, _)| matches!(c.action, Action::Create | Action::Update | Action::Delete))
        {
            let _ = writeln!(out, "\n{} {} {:?}:", c.action.symbol(), c.kind, c.name);
            if c.before.is_none() && c.action != Action::Create {
                let _ = writeln!(out, "    (the remote body was not fetched)");
                continue;
            }
            let body = if style.yaml_diff {
                yaml_diff(c.before.as_deref(), c.after.as_deref())
            } else {
                change_lines(c.before.as_deref(), c.after.as_deref())
            };
            for l in body.lines() {
                let colored = match l.chars().next() {
                    Some('+') if !l.starts_with("+++") => paint(style, "32", l),
                    Some('-') if !l.starts_with("---") => paint(style, "31", l),
                    Some('@' | '~') => paint(style, "36", l),
                    _ => l.to_string(),
                };
                let _ = writeln!(out, "    {colored}");
            }
        }
    }
    if !plan.orphans.is_empty() {
        let _ = writeln!(
            out,
            "\nOrphans (managed, but their spec is gone; deleted only with --prune or config `prune: true`):"
        );
        for o in &plan.orphans {
            let _ = writeln!(out, "  {} {:?} [id {}]", o.kind, o.name, o.id);
        }
    }
    if let Some(t) = &plan.tests {
        let _ = write!(out, "\n{}", crate::testing::text(t));
    }
    for g in &plan.guards {
        let _ = writeln!(out, "\n{}", paint(style, "31;1", &guard_text(g)));
    }
    for n in &plan.notes {
        let _ = writeln!(out, "\nNote: {n}");
    }
    let s = plan.summary();
    if s.adopt > 0 {
        let _ = writeln!(
            out,
            "\n{} existing object(s) will be adopted (recorded in the lockfile, not written).",
            s.adopt
        );
    }
    let _ = writeln!(out, "\n{}", summary_line(&s));
    // Errors last, where the eye lands: the plan above cannot be applied until they go.
    for e in &plan.errors {
        let _ = writeln!(out, "\n{} {e}", paint(style, "31;1", "Error:"));
    }
    out
}

/// The plan as GitHub-flavoured markdown, under [`MARKDOWN_LIMIT`] characters.
pub fn markdown(plan: &Plan) -> String {
    let s = plan.summary();
    let mut head = String::new();
    let _ = writeln!(
        head,
        "### speechops plan for `{}`\n",
        md_escape(&plan.target)
    );
    if !plan.has_changes() {
        let _ = writeln!(head, "No changes. The org matches the repository.\n");
    }
    let _ = writeln!(head, "| Action | Count |\n|---|---:|");
    for (label, n) in [
        ("➕ create", s.create),
        ("✏️ update", s.update),
        ("🗑️ delete", s.delete),
        ("📣 publish", s.publish),
        ("📥 adopt", s.adopt),
    ] {
        let _ = writeln!(head, "| {label} | {n} |");
    }
    if s.republish > 0 {
        let _ = writeln!(head, "| 🔁 republish | {} |", s.republish);
    }
    head.push('\n');
    for e in &plan.errors {
        let _ = writeln!(head, "> [!CAUTION]\n> **Error:** {}\n", md_escape(e));
    }
    if let Some(t) = &plan.tests {
        head.push_str(&crate::testing::markdown(t));
    }
    for g in &plan.guards {
        let _ = writeln!(head, "> [!CAUTION]\n> **{}**\n", md_escape(&guard_text(g)));
    }
    let takeovers: Vec<&Change> = plan.changes.iter().filter(|c| c.is_takeover()).collect();
    if !takeovers.is_empty() {
        let _ = writeln!(
            head,
            "> [!WARNING]\n> **Takeover:** {} object(s) exist in the org but are not managed by \
speechops, and this plan overwrites them: {}\n",
            takeovers.len(),
            takeovers
                .iter()
                .map(|c| format!("{} `{}`", c.kind, md_escape(&c.name)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for c in plan.changes.iter().filter(|c| c.drift.is_some()) {
        if let Some(d) = &c.drift {
            let _ = writeln!(
                head,
                "> [!WARNING]\n> **Drift:** {} `{}` was {}\n",
                c.kind,
                md_escape(&c.name),
                md_escape(&drift_text(d))
            );
        }
    }
    if !plan.orphans.is_empty() {
        let _ = writeln!(
            head,
            "**Orphans** (managed, but their spec is gone; deleted only with `--prune` or config \
`prune: true`):\n"
        );
        for o in &plan.orphans {
            let _ = writeln!(head, "- {} `{}`", o.kind, md_escape(&o.name));
        }
        head.push('\n');
    }
    for n in &plan.notes {
        let _ = writeln!(head, "> [!NOTE]\n> {}\n", md_escape(n));
    }
    // Each change's key, so a merge applies exactly the reviewed changes whose objects
    // are still as they were (`apply --reviewed`); then the digest, last.
    let keys = if plan.changes.is_empty() {
        String::new()
    } else {
        let lines: Vec<String> = plan
            .overrides
            .flags()
            .into_iter()
            .map(|f| format!("override {f}"))
            .chain(plan.changes.iter().map(crate::diff::Reviewed::line))
            .collect();
        format!("<!-- speechops-changes\n{}\n-->\n", lines.join("\n"))
    };
    let overrides = if plan.overrides.is_none() {
        String::new()
    } else {
        format!(
            "\n_Planned with the guard overrides `{}`; merge applies with the same._\n",
            plan.overrides.flags().join(" ")
        )
    };
    let tail = format!(
        "\n{}\n{overrides}\n{keys}<!-- speechops-digest: {} -->\n",
        summary_line(&s),
        plan.digest()
    );

    let blocks: Vec<String> = shown(plan)
        .into_iter()
        .map(|(c, then_publish)| markdown_block(c, then_publish))
        .collect();
    let mut out = head;
    let mut shown = 0;
    for b in &blocks {
        let note_room = 200;
        if out.len() + b.len() + tail.len() + note_room > MARKDOWN_LIMIT {
            break;
        }
        out.push_str(b);
        shown += 1;
    }
    if shown < blocks.len() {
        let _ = writeln!(
            out,
            "\n_…{} more change(s) not shown: the comment would exceed GitHub's size limit. \
The whole plan is in the workflow run's `speechops-plan` artifact (`plan.json`, which \
`speechops apply plan.json` applies), and `speechops plan` prints it all._",
            blocks.len() - shown
        );
    }
    out.push_str(&tail);
    out
}

fn markdown_block(c: &Change, then_publish: bool) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<details><summary><code>{}</code> {} <b>{}</b>{}{}{}{}</summary>\n",
        c.action.symbol(),
        c.action.as_str(),
        html_escape(&format!("{} {}", c.kind, c.name)),
        c.renamed_from
            .as_ref()
            .map(|o| format!(" (renamed from {})", html_escape(o)))
            .unwrap_or_default(),
        if is_replace(c) {
            " (replace: deleted and created again)"
        } else {
            ""
        },
        if then_publish { " + publish" } else { "" },
        c.reason
            .as_ref()
            .map(|r| format!(" ({})", html_escape(r)))
            .unwrap_or_default()
    );
    if let Some(h) = &c.hits {
        if let Some(n) = h.communications {
            let trend = h
                .trend
                .as_deref()
                .map(|t| format!(", day by day `{t}`"))
                .unwrap_or_default();
            let _ = writeln!(
                b,
                "Detected in **{n}** communication(s) in the last {} days{trend}.\n",
                h.days
            );
        }
        for l in phrase_hit_lines(c) {
            let _ = writeln!(b, "- {}", html_escape(&l));
        }
        if !h.phrases.is_empty() {
            b.push('\n');
        }
    }
    let body = match c.action {
        Action::Update | Action::Create | Action::Delete => {
            change_lines(c.before.as_deref(), c.after.as_deref())
        }
        Action::Adopt => "existing object recorded as managed; nothing is written\n".to_string(),
        Action::Publish => "publish after writes\n".to_string(),
        Action::Republish => "publish again, content unchanged: a program searches the topic \
versions of its own last publish\n"
            .to_string(),
    };
    let fence = if body.contains("```") { "````" } else { "```" };
    let _ = writeln!(b, "{fence}diff\n{}{fence}\n\n</details>\n", body);
    b
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// JSON plan output (SPEC 5).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonPlan<'a> {
    pub format_version: u32,
    pub target: &'a str,
    pub fingerprint: &'a str,
    pub changes: Vec<JsonChange<'a>>,
    pub summary: Summary,
    pub guards: Vec<JsonGuard<'a>>,
    pub notes: &'a [String],
    pub orphans: &'a [crate::diff::Orphan],
    pub errors: &'a [String],
    /// The reviewed-plan digest ([`Plan::digest`]).
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tests: Option<&'a crate::testing::Report>,
}

/// A guard in the JSON output, with the flag that overrides it (null: none does).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonGuard<'a> {
    pub guard: crate::diff::GuardKind,
    pub message: &'a str,
    #[serde(rename = "override")]
    pub override_flag: Option<&'static str>,
}

/// One change in the JSON output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonChange<'a> {
    pub action: Action,
    pub kind: crate::model::Kind,
    pub name: &'a str,
    pub id: Option<&'a str>,
    pub before: Option<&'a Object>,
    pub after: Option<&'a Object>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub adopted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub takeover: bool,
    /// Genesys has no update for the kind: apply deletes and re-creates it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replace: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<&'a crate::diff::Drift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hits: Option<&'a crate::hits::Hits>,
    /// Why a republish is planned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

/// The plan as pretty JSON.
pub fn json(plan: &Plan, fingerprint: &str) -> String {
    let doc = JsonPlan {
        format_version: 1,
        target: &plan.target,
        fingerprint,
        changes: plan
            .changes
            .iter()
            .map(|c| JsonChange {
                action: c.action,
                kind: c.kind,
                name: &c.name,
                id: c.id.as_deref(),
                before: c.before.as_deref(),
                after: c.after.as_deref(),
                adopted: c.adopted,
                renamed_from: c.renamed_from.as_deref(),
                takeover: c.is_takeover(),
                replace: is_replace(c),
                drift: c.drift.as_ref(),
                hits: c.hits.as_ref(),
                reason: c.reason.as_deref(),
            })
            .collect(),
        summary: plan.summary(),
        guards: plan
            .guards
            .iter()
            .map(|g| JsonGuard {
                guard: g.guard,
                message: &g.message,
                override_flag: g.guard.override_flag(),
            })
            .collect(),
        notes: &plan.notes,
        orphans: &plan.orphans,
        errors: &plan.errors,
        digest: plan.digest(),
        tests: plan.tests.as_ref(),
    };
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests;
pub mod words;
