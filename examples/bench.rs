//! Benchmarks of plan and apply against the sandbox (figures go to docs/benchmarks.md).
//!
//! ```sh
//! cargo build --release && cargo run --release --example bench -- all
//! cargo run --release --example bench -- plan-nochange   # 2,000 topics x 200 phrases
//! cargo run --release --example bench -- apply-throughput # 500 creates at --rate-limit 300
//! cargo run --release --example bench -- plan-cold        # 2,000 topics, no lockfile
//! ```
//!
//! Every scenario drives the real release binary against a real `speechops sandbox
//! serve` process over loopback, times commands with `/usr/bin/time` (wall seconds and
//! peak RSS) and reads request counts from the sandbox's `/__sandbox/stats`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const ID: &str = "bench";
const SECRET: &str = "bench-secret";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let bin = speechops_bin()?;
    println!("binary: {}", bin.display());
    let run_all = which == "all";
    if run_all || which == "plan-nochange" || which == "plan-cold" {
        plans(
            &bin,
            run_all || which == "plan-nochange",
            run_all || which == "plan-cold",
        )?;
    }
    if run_all || which == "apply-throughput" {
        apply_throughput(&bin)?;
    }
    Ok(())
}

/// `target/release/speechops`, beside `target/release/examples/bench`.
fn speechops_bin() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot locate the target folder")?;
    let bin = dir.join("speechops");
    if !bin.exists() {
        return Err(format!(
            "{} is missing: run `cargo build --release` first",
            bin.display()
        )
        .into());
    }
    Ok(bin)
}

struct Sandbox {
    child: Child,
    url: String,
}

impl Sandbox {
    fn start(
        bin: &Path,
        rate_limit: u32,
        data: &Path,
    ) -> Result<Sandbox, Box<dyn std::error::Error>> {
        let mut child = Command::new(bin)
            .args([
                "sandbox",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--client-id",
                ID,
                "--client-secret",
                SECRET,
            ])
            .args(["--rate-limit", &rate_limit.to_string(), "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("unexpected first line {line:?}"))?
            .to_string();
        Ok(Sandbox { child, url })
    }

    fn stats(&self) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        http(&self.url, "GET", "/__sandbox/stats")
    }

    fn reset(&self) -> Result<(), Box<dyn std::error::Error>> {
        http(&self.url, "POST", "/__sandbox/stats/reset").map(|_| ())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http(
    base: &str,
    method: &str,
    path: &str,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client = reqwest::Client::new();
        let url = format!("{base}{path}");
        let req = if method == "POST" {
            client.post(url)
        } else {
            client.get(url)
        };
        let text = req.send().await?.text().await?;
        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    })
}

/// Wall seconds and peak RSS (MiB) of one command, with its exit code.
struct Measured {
    wall: f64,
    rss_mib: f64,
    code: i32,
}

/// Points the project config's `bench` target at a sandbox: the lockfile section is
/// named after the target, so a sandbox restarted on a new port keeps its state.
fn point_config(cwd: &Path, url: &str) -> std::io::Result<()> {
    std::fs::write(
        cwd.join("speechops.yaml"),
        format!("defaultTarget: bench\ntargets:\n  bench: {{ apiUrl: \"{url}\" }}\n"),
    )
}

fn measure(
    bin: &Path,
    cwd: &Path,
    url: &str,
    args: &[&str],
) -> Result<Measured, Box<dyn std::error::Error>> {
    point_config(cwd, url)?;
    let report = cwd.join("time.txt");
    let start = Instant::now();
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%e %M", "-o"])
        .arg(&report)
        .arg(bin)
        .args(args)
        .current_dir(cwd)
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", ID)
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let wall = start.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&report)?;
    let kib: f64 = text
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    Ok(Measured {
        wall,
        rss_mib: kib / 1024.0,
        code: status.code().unwrap_or(-1),
    })
}

fn write_topics(dir: &Path, n: usize, phrases: usize) -> std::io::Result<()> {
    let topics = dir.join("rules/topics");
    std::fs::create_dir_all(&topics)?;
    for i in 0..n {
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(topics.join(format!("t{i:05}.yaml")))?);
        writeln!(
            f,
            "kind: Topic\nname: Bench topic {i:05}\ndialect: en-US\ntags: [bench]\nphrases:"
        )?;
        for p in 0..phrases {
            writeln!(f, "  - text: bench phrase {p:03} of topic {i:05}")?;
        }
    }
    Ok(())
}

fn route(stats: &serde_json::Value, key: &str) -> u64 {
    stats["routes"][key].as_u64().unwrap_or(0)
}

fn plans(bin: &Path, nochange: bool, cold: bool) -> Result<(), Box<dyn std::error::Error>> {
    let work = tempfile::tempdir()?;
    let data = work.path().join("org");
    std::fs::create_dir_all(&data)?;
    println!("\n== seeding 2,000 topics x 200 phrases (not measured)");
    write_topics(work.path(), 2000, 200)?;
    {
        let sandbox = Sandbox::start(bin, 1_000_000, &data)?;
        let seed = measure(
            bin,
            work.path(),
            &sandbox.url,
            &["apply", "--auto-approve", "--parallelism", "8"],
        )?;
        println!("seeded in {:.1} s (exit {})", seed.wall, seed.code);
    }
    if nochange {
        let sandbox = Sandbox::start(bin, 1_000_000, &data)?;
        sandbox.reset()?;
        let m = measure(
            bin,
            work.path(),
            &sandbox.url,
            &["plan", "--detailed-exitcode"],
        )?;
        let stats = sandbox.stats()?;
        println!("\n== no-change plan, 2,000 topics x 200 phrases, fresh lockfile");
        println!("exit {} (0 = no changes)", m.code);
        println!("wall {:.2} s, peak RSS {:.1} MiB", m.wall, m.rss_mib);
        println!(
            "requests {} (token {}, topic lists {}, topic GETs {})",
            stats["total"],
            route(&stats, "POST /oauth/token"),
            route(&stats, "GET /api/v2/speechandtextanalytics/topics"),
            route(&stats, "GET /api/v2/speechandtextanalytics/topics/{id}")
        );
    }
    if cold {
        // BENCH_COLD_RATE=1000000 measures memory without waiting out the rate limit.
        let rate: u32 = std::env::var("BENCH_COLD_RATE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300);
        std::fs::rename(
            work.path().join("speechops.lock"),
            work.path().join("speechops.lock.bak"),
        )?;
        let sandbox = Sandbox::start(bin, rate, &data)?;
        sandbox.reset()?;
        println!(
            "\n== cold plan, 2,000 topics x 200 phrases, no lockfile, --rate-limit {rate} (takes minutes)"
        );
        let m = measure(
            bin,
            work.path(),
            &sandbox.url,
            &["plan", "--parallelism", "8"],
        )?;
        let stats = sandbox.stats()?;
        let total = stats["total"].as_u64().unwrap_or(0);
        let limited = total.saturating_sub(route(&stats, "POST /oauth/token"));
        let even = limited as f64 / (f64::from(rate) / 60.0);
        // The sandbox (like Genesys) counts in fixed 60 s windows: the last request
        // can start at the opening of window ceil(n / limit).
        let windows = (limited.saturating_sub(1) / u64::from(rate)) as f64 * 60.0;
        println!(
            "exit {}, wall {:.1} s, peak RSS {:.1} MiB",
            m.code, m.wall, m.rss_mib
        );
        println!(
            "requests {total} (rate-limited {limited}); floor: {even:.1} s at an even {rate}/min, \
{windows:.1} s with fixed windows; wall / fixed-window floor = {:.2}; 429s {}",
            m.wall / windows.max(1.0),
            stats["statuses"]["429"].as_u64().unwrap_or(0)
        );
    }
    Ok(())
}

fn apply_throughput(bin: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let rate = 300u32;
    let work = tempfile::tempdir()?;
    let data = work.path().join("org");
    std::fs::create_dir_all(&data)?;
    write_topics(work.path(), 500, 5)?;
    let sandbox = Sandbox::start(bin, rate, &data)?;
    println!("\n== apply: create 500 topics at --rate-limit {rate} (takes about two minutes)");
    let m = measure(bin, work.path(), &sandbox.url, &["apply", "--auto-approve"])?;
    let stats = sandbox.stats()?;
    let total = stats["total"].as_u64().unwrap_or(0);
    let limited = total.saturating_sub(route(&stats, "POST /oauth/token"));
    let rpm = limited as f64 / (m.wall / 60.0);
    println!(
        "exit {}, wall {:.1} s, peak RSS {:.1} MiB",
        m.code, m.wall, m.rss_mib
    );
    println!(
        "requests {total} (rate-limited {limited}); achieved {:.0} req/min = {:.2} of the limit; 429s {}",
        rpm,
        rpm / f64::from(rate),
        stats["statuses"]["429"].as_u64().unwrap_or(0)
    );
    Ok(())
}
