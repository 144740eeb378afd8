//! `speechops sandbox serve`.

use std::io::Write;

use crate::Outcome;
use crate::cli::{GlobalArgs, SandboxCommand, SandboxServeArgs};
use crate::sandbox::{self, SandboxOptions};

/// Runs `speechops sandbox ...`.
pub fn run(global: &GlobalArgs, cmd: &SandboxCommand) -> anyhow::Result<Outcome> {
    let _ = global;
    match cmd {
        SandboxCommand::Serve(args) => serve(args),
    }
}

fn options(args: &SandboxServeArgs) -> SandboxOptions {
    SandboxOptions {
        listen: args.listen.clone(),
        data_dir: args.data.clone(),
        client_id: args.client_id.clone(),
        client_secret: args.client_secret.clone(),
        rate_limit: args.rate_limit,
        rate_window_secs: args.rate_window,
        token_ttl_secs: args.token_ttl,
        fault_rate: args.fault_rate,
        latency_ms: args.latency_ms,
        seed: args.seed,
        seed_file: args.seed_file.clone(),
        list_lag: args.list_lag,
        lost_answer_rate: args.lost_answer_rate,
        delete_settle: args.delete_settle,
    }
}

/// Serves until Ctrl-C or SIGTERM. The only stdout output is the `listening on` line:
/// scripts and tests read it and may close the pipe right after.
fn serve(args: &SandboxServeArgs) -> anyhow::Result<Outcome> {
    let options = options(args);
    options.validate()?;
    let runtime = super::runtime()?;
    runtime.block_on(async move {
        let handle = sandbox::start(options).await?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {}", handle.url())?;
            out.flush()?;
        }
        shutdown_signal().await;
        tracing::info!("sandbox stopping");
        drop(handle);
        Ok(Outcome::Success)
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
