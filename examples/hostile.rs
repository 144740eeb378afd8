//! Hostile spec inputs for the linear-time checks (figures go to docs/benchmarks.md).
//!
//! ```sh
//! cargo build --release --bins --examples
//! target/release/examples/hostile /tmp/hostile
//! for d in /tmp/hostile/*/; do /usr/bin/time -f "$d %e s %M KB" \
//!     target/release/speechops validate --dir "$d" > /dev/null; done
//! ```
//!
//! Each case is a folder holding one file that a pull request from a fork could send:
//! 50,000 distinct keys in one mapping, a topic of 20,000 phrases (each containing the
//! previous one), nesting 10,000 levels deep, and 10,000 aliases of a large anchor.

use std::fmt::Write as _;
use std::path::Path;

fn write(root: &Path, case: &str, text: &str) -> std::io::Result<()> {
    let dir = root.join(case);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("hostile.yaml"), text)?;
    println!("{case}: {} bytes", text.len());
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args().nth(1).ok_or("usage: hostile OUT_DIR")?;
    let root = Path::new(&root);

    let mut keys = String::from("kind: Topic\nname: Keys\ndialect: en-US\nphrases: [{text: a}]\n");
    for i in 0..50_000 {
        writeln!(keys, "k{i:05}: {i}")?;
    }
    write(root, "keys-50k", &keys)?;

    let mut phrases = String::from("kind: Topic\nname: Phrases\ndialect: en-US\nphrases:\n");
    for i in 0..20_000 {
        writeln!(
            phrases,
            "  - text: word {}",
            "w ".repeat(i % 50) + &i.to_string()
        )?;
    }
    write(root, "phrases-20k", &phrases)?;

    let deep = format!(
        "kind: Topic\nname: Deep\ndialect: en-US\nphrases: [{{text: a}}]\ntags: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    write(root, "nesting-10k", &deep)?;

    let mut aliases = String::from("kind: Topic\nname: Aliases\ndialect: en-US\nbase: &b [");
    for i in 0..1_000 {
        write!(aliases, "x{i}, ")?;
    }
    aliases.push_str("end]\ntags:\n");
    for _ in 0..10_000 {
        aliases.push_str("  - *b\n");
    }
    aliases.push_str("phrases: [{text: a}]\n");
    write(root, "aliases-10k", &aliases)?;
    Ok(())
}
