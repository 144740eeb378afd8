//! The `speechops` binary: parse arguments, run, turn the outcome into an exit code.

fn main() -> std::process::ExitCode {
    speechops::run(std::env::args_os())
}
