//! `speechops audit verify` (check the hash chain) and `speechops audit show`
//! (readable history).

use crate::Outcome;
use crate::audit::{self, AuditError, Filter};
use crate::cli::{AuditCommand, AuditShowArgs, Format, GlobalArgs};
use crate::settings::Settings;

/// Runs `speechops audit ...`.
pub fn run(global: &GlobalArgs, cmd: &AuditCommand) -> anyhow::Result<Outcome> {
    if matches!(cmd, AuditCommand::Keygen) {
        return keygen();
    }
    let settings = Settings::resolve(global)?;
    crate::state::backend::Session::read(&settings.state)?;
    let path = &settings.audit_log;
    if !path.exists() {
        anyhow::bail!("audit log {} does not exist", path.display());
    }
    match cmd {
        AuditCommand::Verify(args) => match verify(global, &settings)? {
            Outcome::Success => match &args.key {
                Some(key) => verify_signed(&settings, key),
                None => Ok(Outcome::Success),
            },
            other => Ok(other),
        },
        AuditCommand::Keygen => keygen(),
        AuditCommand::Show(args) => show(global, &settings, args),
        AuditCommand::Report(args) => report(global, &settings, args),
        AuditCommand::Org(args) => org(global, &settings, args),
    }
}

fn org(
    global: &GlobalArgs,
    settings: &Settings,
    args: &crate::cli::AuditOrgArgs,
) -> anyhow::Result<Outcome> {
    use crate::audit::org;
    let now = time::OffsetDateTime::now_utc();
    let from = audit::parse_since(&args.since, now).map_err(|e| anyhow::anyhow!(e))?;
    let fmt = time::format_description::well_known::Rfc3339;
    let from_t = time::OffsetDateTime::parse(&from, &fmt)?;
    if now - from_t > time::Duration::days(14) {
        anyhow::bail!(
            "--since {}: Genesys's realtime audit query reaches back 14 days; older records need \
the asynchronous audit query, which `audit org` does not run yet",
            args.since
        );
    }
    // A minute past now: records of this very second are in, whatever the clocks.
    let to = (now + time::Duration::minutes(1))
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&fmt)?;
    let (entries, broken) = audit::read_intact_entries(&settings.audit_log)?;
    if let Some(e) = broken {
        anyhow::bail!("{e}; reconciling needs an intact log (run `speechops audit verify`)");
    }
    // The managed objects: the lockfile's (every target of this org) and every id the
    // log names, so an object speechops deleted is still ours.
    let lock = crate::state::Lockfile::load(&settings.lockfile)?;
    let mut managed: std::collections::HashSet<(String, String)> = lock
        .target(&settings.target_name)
        .entries()
        .into_iter()
        .map(|(k, _, e)| (k.as_str().to_string(), e.id.clone()))
        .collect();
    for e in entries.iter().filter(|e| e.target == settings.target_name) {
        if let (Some(k), Some(id)) = (&e.kind, &e.id)
            && !id.is_empty()
        {
            managed.insert((k.clone(), id.clone()));
        }
    }
    let rt = super::runtime()?;
    let records = rt.block_on(async {
        let conn = super::connect(settings, 4).await?;
        match conn.client.sta_audits(&format!("{from}/{to}")).await {
            Err(e @ crate::genesys::Error::Api { status: 403, .. }) => Err(anyhow::anyhow!(
                "{e}\n  reading Genesys's audit records needs the permission audits:audit:view \
for the OAuth client"
            )),
            other => Ok(other?),
        }
    })?;
    let changes = org::reconcile(&records, &entries, &managed);
    let outside = changes.iter().filter(|c| c.verdict == "outside").count();
    let out = match global.format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "formatVersion": 1, "from": from, "to": to,
                "matched": changes.len() - outside, "outside": outside, "changes": changes,
            }))?
        ),
        Format::Markdown => org::markdown(&changes),
        _ => org::text(&changes, &from, &to),
    };
    super::out(&out);
    Ok(if outside > 0 {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

fn report(
    global: &GlobalArgs,
    settings: &Settings,
    args: &crate::cli::AuditReportArgs,
) -> anyhow::Result<Outcome> {
    use crate::audit::report;
    let since = args
        .since
        .as_deref()
        .map(|s| audit::parse_since(s, time::OffsetDateTime::now_utc()))
        .transpose()
        .map_err(|e| anyhow::anyhow!(e))?;
    let (entries, broken) = audit::read_intact_entries(&settings.audit_log)?;
    if let Some(e) = broken {
        anyhow::bail!("{e}; the report needs an intact log (run `speechops audit verify`)");
    }
    let mut rows = report::rows(&entries);
    if let Some(s) = &since {
        rows.retain(|r| r.ts.as_str() >= s.as_str());
    }
    let out = match global.format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(
                &serde_json::json!({"formatVersion": 1, "changes": rows})
            )?
        ),
        Format::Markdown => report::markdown(&rows),
        Format::Csv => report::csv(&rows),
        Format::Html => report::html(&rows),
        Format::Text => report::text(&rows),
    };
    super::out(&out);
    Ok(Outcome::Success)
}

/// `audit verify --key`: the chain head the lockfile anchors is signed by the holder
/// of the signing key, and no entry comes after it.
fn verify_signed(settings: &Settings, key: &str) -> anyhow::Result<Outcome> {
    let lock = crate::state::Lockfile::load(&settings.lockfile)?;
    let Some(head) = lock.audit else {
        eprintln!("error: the state records no audit head to check the signature of");
        return Ok(Outcome::Failure);
    };
    if let Err(why) = audit::verify_head(&head, key) {
        eprintln!("error: {why}");
        return Ok(Outcome::Failure);
    }
    let count = audit::read_entries(&settings.audit_log)?.len() as u64;
    if count != head.seq {
        eprintln!(
            "error: entries {}..{count} come after the signed head (entry {}): they were written \
by a run without the signing key",
            head.seq + 1,
            head.seq
        );
        return Ok(Outcome::Failure);
    }
    super::out(&format!(
        "The chain head (entry {}) is signed by the holder of the signing key.\n",
        head.seq
    ));
    Ok(Outcome::Success)
}

/// `audit keygen`: a new signing key pair.
fn keygen() -> anyhow::Result<Outcome> {
    let (private, public) = audit::keygen()?;
    super::out(&format!(
        "{}={private}\n  the private key: a secret of the apply environment only (never in the repository)\n\
public key: {public}\n  for auditors: speechops audit verify --key {public}\n",
        audit::SIGNING_KEY_VAR
    ));
    Ok(Outcome::Success)
}

fn verify(global: &GlobalArgs, settings: &Settings) -> anyhow::Result<Outcome> {
    let path = &settings.audit_log;
    // The lockfile anchors the last entry it was recorded with; a missing lockfile
    // just means there is no anchor to check.
    let lock = crate::state::Lockfile::load(&settings.lockfile)?;
    let verdict = audit::verify_against(path, lock.audit.as_ref());
    let pending = match &verdict {
        Ok(_) => audit::dangling_intents(&audit::read_entries(path)?).len(),
        Err(_) => 0,
    };
    if global.format == Format::Json {
        let doc = match &verdict {
            Ok((lines, head)) => serde_json::json!({
                "formatVersion": 1,
                "path": path.display().to_string(),
                "ok": true,
                "entries": lines,
                "head": head,
                "pendingIntents": pending,
            }),
            Err(AuditError::Broken { line, reason, .. }) => serde_json::json!({
                "formatVersion": 1,
                "path": path.display().to_string(),
                "ok": false,
                "brokenLine": line,
                "reason": reason,
            }),
            Err(_) => serde_json::Value::Null,
        };
        if !doc.is_null() {
            let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
            s.push('\n');
            super::out(&s);
        }
    }
    match verdict {
        Ok((lines, head)) => {
            if global.format != Format::Json {
                super::out(&format!(
                    "{}: {lines} entries, hash chain intact (head {}).\n",
                    path.display(),
                    head.get(..16).unwrap_or(&head)
                ));
                if pending > 0 {
                    super::out(&format!(
                        "{pending} write(s) were interrupted before their result was recorded; \
the next apply resolves them against the org.\n"
                    ));
                }
            }
            Ok(Outcome::Success)
        }
        Err(e @ AuditError::Broken { .. }) => {
            eprintln!("error: {e}");
            Ok(Outcome::Failure)
        }
        Err(e) => Err(e.into()),
    }
}

fn show(global: &GlobalArgs, settings: &Settings, args: &AuditShowArgs) -> anyhow::Result<Outcome> {
    let name = args
        .name
        .as_deref()
        .map(|g| {
            globset::Glob::new(g)
                .map(|g| g.compile_matcher())
                .map_err(|e| anyhow::anyhow!("--name {g:?} is not a valid glob: {e}"))
        })
        .transpose()?;
    let since = args
        .since
        .as_deref()
        .map(|s| audit::parse_since(s, time::OffsetDateTime::now_utc()))
        .transpose()
        .map_err(|e| anyhow::anyhow!(e))?;
    let filter = Filter {
        kind: args.kind.clone(),
        name,
        since,
        run: args.run.clone(),
    };
    let (entries, broken) = audit::read_intact_entries(&settings.audit_log)?;
    let shown: Vec<&audit::Entry> = entries.iter().filter(|e| filter.keeps(e)).collect();
    let out = match global.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&shown).unwrap_or_default();
            s.push('\n');
            s
        }
        _ => audit::render_history(&shown),
    };
    super::out(&out);
    if let Some(e) = broken {
        eprintln!(
            "error: {e}; only the entries before that line are shown (run `speechops audit verify`)"
        );
        return Ok(Outcome::Failure);
    }
    if shown.is_empty() && global.format != Format::Json {
        eprintln!("note: no audit entry matches these filters");
    }
    Ok(Outcome::Success)
}
