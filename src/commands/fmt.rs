//! `speechops fmt [--check] [FILES…]`: spec files and detection tests in canonical
//! layout, comments kept (see [`crate::format`]).

use std::path::PathBuf;

use crate::Outcome;
use crate::cli::{FmtArgs, GlobalArgs};
use crate::settings::Settings;

/// Runs `speechops fmt`.
pub fn run(global: &GlobalArgs, args: &FmtArgs) -> anyhow::Result<Outcome> {
    let files = if args.files.is_empty() {
        let settings = Settings::resolve(global)?;
        let mut files = Vec::new();
        for root in [&settings.rules_dir, &settings.tests_dir] {
            if root.is_dir() {
                let mut ignored = Vec::new();
                for f in crate::spec::load::find_files(root, &mut ignored)? {
                    files.push(root.join(&f.rel));
                }
            }
        }
        files
    } else {
        args.files.clone()
    };
    let mut unformatted: Vec<PathBuf> = Vec::new();
    let mut failed = false;
    for path in &files {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {}: cannot read: {e}", path.display());
                failed = true;
                continue;
            }
        };
        match crate::format::format(&text) {
            Ok(formatted) if formatted == text => {}
            Ok(formatted) => {
                if args.check {
                    unformatted.push(path.clone());
                } else {
                    crate::state::write_atomic(path, formatted.as_bytes())
                        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                    super::out(&format!("formatted {}\n", path.display()));
                }
            }
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                failed = true;
            }
        }
    }
    for p in &unformatted {
        eprintln!("not formatted: {}", p.display());
    }
    if !unformatted.is_empty() {
        eprintln!(
            "{} file(s) are not in canonical layout; run `speechops fmt` to fix them",
            unformatted.len()
        );
    }
    Ok(if failed || !unformatted.is_empty() {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}
