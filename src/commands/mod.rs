//! One module per subcommand. Each returns an [`Outcome`]; errors are printed once, here.

pub mod apply;
pub mod audit;
pub mod completions;
pub mod fmt;
pub mod hits;
pub mod import;
pub mod init;
pub mod org;
pub mod plan;
pub mod sandbox;
pub mod schema;
pub mod state;
pub mod test;
pub mod validate;

use crate::Outcome;
use crate::cli::{Cli, Command, GlobalArgs};

/// Sets up `tracing` on stderr from -v/-q (default: warnings).
pub fn init_logging(global: &GlobalArgs) {
    let level = match i16::from(global.verbose) - i16::from(global.quiet) {
        i16::MIN..=-2 => "off",
        -1 => "error",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // Only our own crate logs at the chosen level; dependencies stay at warn so that
    // -vvv never dumps raw HTTP internals (headers could carry tokens).
    let filter = format!("warn,speechops={level}");
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .try_init();
}

/// Prints a command error once, with its causes.
pub fn print_error(e: &anyhow::Error) {
    use crate::genesys::redact::redact;
    eprintln!("error: {}", redact(&e.to_string()));
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {}", redact(&cause.to_string()));
    }
}

/// Runs the selected subcommand.
pub fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    let global = cli.global;
    use crate::cli::{AuditCommand, Format};
    let report = matches!(cli.command, Command::Audit(AuditCommand::Report(_)));
    let csv_ok = report || matches!(cli.command, Command::Hits(_));
    if (global.format == Format::Csv && !csv_ok) || (global.format == Format::Html && !report) {
        anyhow::bail!(
            "--format {} is for {}; this command writes text, markdown or json",
            if global.format == Format::Csv {
                "csv"
            } else {
                "html"
            },
            if global.format == Format::Csv {
                "`speechops hits` and `audit report`"
            } else {
                "`audit report`"
            }
        );
    }
    match cli.command {
        Command::Validate(args) => validate::run(&global, &args),
        Command::Plan(args) => plan::run(&global, &args),
        Command::Apply(args) => apply::run(&global, &args),
        Command::Import(args) => import::run(&global, &args),
        Command::Test(args) => test::run(&global, &args),
        Command::Init(args) => init::run(&args),
        Command::Fmt(args) => fmt::run(&global, &args),
        Command::Audit(cmd) => audit::run(&global, &cmd),
        Command::State(cmd) => state::run(&global, &cmd),
        Command::Org(args) => org::run(&global, &args),
        Command::Hits(args) => hits::run(&global, &args),
        Command::Sandbox(cmd) => sandbox::run(&global, &cmd),
        Command::Schema(args) => schema::run(&global, &args),
        Command::Completions(args) => completions::run(&args),
    }
}

/// A multi-threaded tokio runtime for commands that talk HTTP.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Requests per minute the embedded `--sandbox` org allows.
pub const EMBEDDED_SANDBOX_RATE_LIMIT: u32 = 6000;

/// A connected client, and the in-process sandbox serving it when `--sandbox` is used
/// (kept alive as long as the connection).
pub struct Connection {
    pub client: crate::genesys::Client,
    pub sandbox: Option<crate::sandbox::SandboxHandle>,
}

/// Connects to the selected target. Must run inside the tokio runtime.
pub async fn connect(
    settings: &crate::settings::Settings,
    parallelism: u16,
) -> anyhow::Result<Connection> {
    use crate::genesys::{self, ClientOptions, Credentials, Secret};
    use crate::settings::Connection as Target;
    // Limits a hostile or broken server cannot push past (documented in
    // docs/reliability.md); the environment may raise the size limits.
    let env_number = |var: &str| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let defaults = ClientOptions::default();
    let options = ClientOptions {
        parallelism: usize::from(parallelism.max(1)),
        command_timeout: Some(settings.timeout),
        max_response_bytes: env_number("SPEECHOPS_MAX_RESPONSE_MB")
            .and_then(|mb| usize::try_from(mb.saturating_mul(1024 * 1024)).ok())
            .filter(|b| *b > 0)
            .unwrap_or(defaults.max_response_bytes),
        max_list_pages: env_number("SPEECHOPS_MAX_LIST_PAGES")
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(defaults.max_list_pages),
        ..defaults
    };
    let target = settings
        .connection
        .clone()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    match target {
        Target::Sandbox(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| {
                anyhow::anyhow!("cannot create sandbox folder {}: {e}", dir.display())
            })?;
            // A fresh secret per run: nothing to configure, nothing to leak.
            let secret = crate::model::sha256_hex(
                format!("{:?}{}", std::time::SystemTime::now(), std::process::id()).as_bytes(),
            );
            let handle = crate::sandbox::start(crate::sandbox::SandboxOptions {
                data_dir: Some(dir),
                client_id: "speechops-embedded".to_string(),
                client_secret: secret.clone(),
                // The embedded org is for trying things offline: paced like a busy
                // org, not like the 300/min default, so large trees stay quick.
                rate_limit: EMBEDDED_SANDBOX_RATE_LIMIT,
                seed_file: settings.sandbox_seed.clone(),
                ..crate::sandbox::SandboxOptions::default()
            })
            .await?;
            let client = genesys::Client::new(
                genesys::endpoint_for_api_url(&handle.url()),
                Credentials::ClientCredentials {
                    client_id: "speechops-embedded".to_string(),
                    client_secret: Secret::new(secret),
                },
                options,
            )?;
            Ok(Connection {
                client,
                sandbox: Some(handle),
            })
        }
        Target::Remote {
            endpoint,
            client_id_env,
            client_secret_env,
        } => {
            let creds = genesys::credentials_from_env(
                client_id_env.as_deref(),
                client_secret_env.as_deref(),
            )?;
            Ok(Connection {
                client: genesys::Client::new(endpoint, creds, options)?,
                sandbox: None,
            })
        }
    }
}

/// Loads the spec tree and refuses an invalid one, printing its problems to stderr
/// with the same snippets as `validate`. Returns `None` (after printing) when invalid.
pub fn load_valid_specs(
    settings: &crate::settings::Settings,
    global: &GlobalArgs,
) -> anyhow::Result<Option<crate::spec::SpecTree>> {
    use std::io::IsTerminal;
    let tree = crate::spec::load_tree(&settings.rules_dir)?;
    if !tree.diagnostics.is_empty() {
        let color = !global.no_color
            && std::env::var_os("NO_COLOR").is_none()
            && std::io::stderr().is_terminal();
        eprint!(
            "{}",
            crate::spec::diagnostics::render_text(&tree.diagnostics, color)
        );
    }
    if tree.is_invalid(false) {
        eprintln!(
            "error: the specs in {} are invalid; nothing was contacted or written. \
Run `speechops validate` for details.",
            settings.rules_dir.display()
        );
        return Ok(None);
    }
    Ok(Some(tree))
}

/// Whether to colour stdout.
pub fn use_color(global: &GlobalArgs) -> bool {
    use std::io::IsTerminal;
    !global.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

/// Writes command output to stdout. A closed pipe (`speechops plan | head`) is not an
/// error worth a panic: the reader has what it wanted.
pub fn out(text: &str) {
    use std::io::Write;
    let text = crate::genesys::redact::redact(text);
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// The org's id for audit entries, or None with a warning when it cannot be read (the
/// audit trail is still written; it just does not name the org).
pub async fn org_id(client: &crate::genesys::Client) -> Option<String> {
    match client.get_org().await {
        Ok(org) if !org.id.is_empty() => Some(org.id),
        Ok(_) => None,
        Err(e) => {
            eprintln!("warning: cannot read the org's id ({e}); audit entries will not name it");
            None
        }
    }
}
