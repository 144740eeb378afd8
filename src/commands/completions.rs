//! `speechops completions SHELL`.

use clap::CommandFactory;

use crate::Outcome;
use crate::cli::{Cli, CompletionsArgs};

/// Prints the completion script of the chosen shell to stdout.
pub fn run(args: &CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "speechops", &mut std::io::stdout());
    Ok(Outcome::Success)
}
