//! The `speechops` binary: parse arguments, run, turn the outcome into an exit code.

/// mimalloc: loading a spec tree makes millions of small allocations, which it serves
/// markedly faster than the system allocator (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    speechops::run(std::env::args_os())
}
