//! Generates a synthetic spec tree for benchmarking `speechops validate`.
//!
//! ```sh
//! cargo run --release --example gen_specs -- /tmp/bench-rules 10000 20
//! /usr/bin/time -v target/release/speechops validate --dir /tmp/bench-rules
//! ```
//!
//! Arguments: output folder, number of SpeechRule files (default 10000), phrases per
//! rule (default 20, at most 100). Every generated spec is valid, so the run measures
//! the whole pipeline, not an early exit.

use std::io::Write;
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "bench-rules".into()));
    let files: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let phrases: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
        .clamp(1, 100);
    for i in 0..files {
        // 100 files per folder, like a real tree grouped by team or queue.
        let dir = out.join(format!("team-{:04}", i / 100));
        std::fs::create_dir_all(&dir)?;
        let mut f = std::io::BufWriter::new(std::fs::File::create(
            dir.join(format!("rule-{i:06}.yaml")),
        )?);
        writeln!(
            f,
            "# yaml-language-server: $schema=../../schemas/speechrule.schema.json"
        )?;
        writeln!(f, "kind: SpeechRule")?;
        writeln!(f, "name: Generated_Rule_{i:06}")?;
        writeln!(
            f,
            "description: Synthetic rule {i} for the validate benchmark"
        )?;
        writeln!(f, "language: en-US")?;
        writeln!(f, "phrases:")?;
        for j in 0..phrases {
            // Fixed-width numbers keep every exact phrase from containing another.
            let match_type = match j % 4 {
                0 | 1 => "exact",
                2 => "fuzzy",
                _ => "regex",
            };
            if match_type == "regex" {
                writeln!(f, "  - phrase: 'account (number|id) {j:03} of rule {i:06}'")?;
            } else {
                writeln!(f, "  - phrase: phrase {j:03} of generated rule {i:06}")?;
            }
            writeln!(f, "    matchType: {match_type}")?;
        }
        writeln!(f, "scoring:")?;
        writeln!(f, "  - type: additive")?;
        writeln!(f, "    value: 0.5")?;
        writeln!(f, "tags: [generated, team-{:04}]", i / 100)?;
        f.flush()?;
    }
    println!(
        "wrote {files} SpeechRule specs of {phrases} phrases to {}",
        out.display()
    );
    Ok(())
}
