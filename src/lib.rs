//! speechops: Genesys Cloud speech analytics configuration kept as code.
//!
//! Data flows one way: specs ([`spec`]) and remote state ([`genesys`]) are turned into
//! normalised objects ([`model`], one module per kind under [`kinds`]); [`diff`] compares them into a [`diff::Plan`]; [`render`]
//! shows it; the apply command walks it, and [`state`] and [`audit`] record what happened.
//! See ARCHITECTURE.md.

pub mod audit;
pub mod cli;
pub mod commands;
pub mod detect;
pub mod diff;
pub mod executor;
pub mod format;
pub mod genesys;
pub mod hits;
pub mod kinds;
pub mod model;
pub mod notify;
pub mod planfile;
pub mod remote;
pub mod render;
pub mod sandbox;
pub mod settings;
pub mod spec;
pub mod state;
pub mod testing;

use std::ffi::OsString;
use std::process::ExitCode;

/// How a command ended, as documented in SPEC section 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: success (for `plan --detailed-exitcode`: no changes).
    Success,
    /// 1: error.
    Failure,
    /// 2: `plan --detailed-exitcode` only: changes are present.
    Changes,
    /// 3: refused by a safety guard.
    Refused,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Failure => 1,
            Outcome::Changes => 2,
            Outcome::Refused => 3,
        }
    }
}

/// Runs speechops with these arguments (the first is the program name).
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let parsed = cli::command()
        .try_get_matches_from(args)
        .and_then(|m| <cli::Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap uses 2 for usage errors; SPEC reserves 2 for "changes present".
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    ExitCode::from(if e.use_stderr() { 1 } else { 0 })
                }
                _ => ExitCode::from(1),
            };
        }
    };
    commands::init_logging(&cli.global);
    let outcome = match commands::dispatch(cli) {
        Ok(outcome) => outcome,
        Err(e) => {
            commands::print_error(&e);
            Outcome::Failure
        }
    };
    ExitCode::from(outcome.code())
}
