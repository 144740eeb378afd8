//! `speechops completions SHELL`.

use crate::Outcome;
use crate::cli::CompletionsArgs;

/// Prints the completion script of the chosen shell to stdout. The script is built in
/// memory and written like every output: a closed pipe (`| head`) is not a panic.
pub fn run(args: &CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut cmd = crate::cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "speechops", &mut script);
    super::out(&String::from_utf8_lossy(&script));
    Ok(Outcome::Success)
}
