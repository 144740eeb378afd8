//! One module per subcommand. Each returns an [`Outcome`]; errors are printed once, here.

pub mod apply;
pub mod audit;
pub mod completions;
pub mod import;
pub mod plan;
pub mod sandbox;
pub mod schema;
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
    eprintln!("error: {e}");
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

/// Runs the selected subcommand.
pub fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    let global = cli.global;
    match cli.command {
        Command::Validate(args) => validate::run(&global, &args),
        Command::Plan(args) => plan::run(&global, &args),
        Command::Apply(args) => apply::run(&global, &args),
        Command::Import(args) => import::run(&global, &args),
        Command::Audit(cmd) => audit::run(&global, &cmd),
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
