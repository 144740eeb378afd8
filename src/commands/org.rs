//! `speechops org queues|flows|topics|programs|categories`: the org's objects by
//! name, so specs can name them exactly (SPEC 12.5).

use crate::Outcome;
use crate::cli::{Format, GlobalArgs, OrgArgs, OrgWhat};
use crate::settings::Settings;

/// One object of the org as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
struct Row {
    name: String,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    dialect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    published: Option<bool>,
}

impl Row {
    fn new(name: String, id: String) -> Row {
        Row {
            name,
            id,
            dialect: None,
            published: None,
        }
    }
}

/// The permission each listing needs (Genesys Cloud's names).
fn permission(what: OrgWhat) -> &'static str {
    match what {
        OrgWhat::Queues => "routing:queue:view",
        OrgWhat::Flows => "architect:flow:view",
        OrgWhat::Topics => "speechAndTextAnalytics:topic:view",
        OrgWhat::Programs => "speechAndTextAnalytics:program:view",
        OrgWhat::Categories => "speechAndTextAnalytics:category:view",
    }
}

/// Runs `speechops org ...`.
pub fn run(global: &GlobalArgs, args: &OrgArgs) -> anyhow::Result<Outcome> {
    let settings = Settings::resolve(global)?;
    let glob = match &args.name {
        Some(g) => Some(
            globset::GlobBuilder::new(g)
                .case_insensitive(true)
                .build()
                .map_err(|e| anyhow::anyhow!("invalid --name glob {g:?}: {e}"))?
                .compile_matcher(),
        ),
        None => None,
    };
    let rt = super::runtime()?;
    let listed = rt.block_on(async {
        let conn = super::connect(&settings, 4).await?;
        let c = &conn.client;
        let rows: Result<Vec<Row>, crate::genesys::Error> = match args.what {
            OrgWhat::Queues | OrgWhat::Flows => {
                let class = if args.what == OrgWhat::Queues {
                    "queue"
                } else {
                    "flow"
                };
                c.list_named(class)
                    .await
                    .map(|v| v.into_iter().map(|x| Row::new(x.name, x.id)).collect())
            }
            OrgWhat::Topics => c.list_topics().await.map(|v| {
                v.into_iter()
                    .map(|t| Row {
                        dialect: t.dialect,
                        published: Some(t.published),
                        ..Row::new(t.name, t.id)
                    })
                    .collect()
            }),
            OrgWhat::Programs => c.list_programs().await.map(|v| {
                v.into_iter()
                    .map(|p| Row {
                        published: Some(p.published),
                        ..Row::new(p.name, p.id)
                    })
                    .collect()
            }),
            OrgWhat::Categories => c
                .list_categories()
                .await
                .map(|v| v.into_iter().map(|x| Row::new(x.name, x.id)).collect()),
        };
        anyhow::Ok(rows)
    })?;
    let mut rows = match listed {
        Ok(rows) => rows,
        Err(e @ crate::genesys::Error::Api { status: 403, .. }) => {
            anyhow::bail!(
                "{e}\n  listing {} needs the permission {} for the OAuth client",
                what_word(args.what),
                permission(args.what)
            );
        }
        Err(e) => return Err(e.into()),
    };
    rows.retain(|r| glob.as_ref().is_none_or(|g| g.is_match(&r.name)));
    rows.sort_by(|a, b| (&a.name, &a.dialect, &a.id).cmp(&(&b.name, &b.dialect, &b.id)));
    if global.format == Format::Json {
        super::out(&format!("{}\n", serde_json::to_string_pretty(&rows)?));
        return Ok(Outcome::Success);
    }
    let width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for r in &rows {
        let pad = width.saturating_sub(r.name.chars().count());
        let extra = match (&r.dialect, r.published) {
            (Some(d), Some(p)) => format!("  {d}{}", if p { "" } else { "  (draft)" }),
            (None, Some(false)) => "  (draft)".to_string(),
            _ => String::new(),
        };
        text.push_str(&format!("{}{}  {}{extra}\n", r.name, " ".repeat(pad), r.id));
    }
    text.push_str(&format!(
        "{} {} (needs {}).\n",
        rows.len(),
        what_word(args.what),
        permission(args.what)
    ));
    super::out(&text);
    Ok(Outcome::Success)
}

fn what_word(what: OrgWhat) -> &'static str {
    match what {
        OrgWhat::Queues => "queue(s)",
        OrgWhat::Flows => "flow(s)",
        OrgWhat::Topics => "topic(s)",
        OrgWhat::Programs => "program(s)",
        OrgWhat::Categories => "category(ies)",
    }
}
