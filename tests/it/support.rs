//! Shared test helpers: a temp repo, a running sandbox, the binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Environment variables that must never leak from the developer's shell into a test.
const SCRUBBED_ENV: [&str; 9] = [
    "GENESYSCLOUD_OAUTHCLIENT_ID",
    "GENESYSCLOUD_OAUTHCLIENT_SECRET",
    "GENESYSCLOUD_ACCESS_TOKEN",
    "GENESYSCLOUD_REGION",
    "GENESYSCLOUD_API_URL",
    "GENESYS_CLIENT_ID",
    "GENESYS_CLIENT_SECRET",
    "GENESYS_BASE_URL",
    "GITHUB_ACTOR",
];

/// Path of the built binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_speechops"))
}

/// A `speechops` command with a clean environment, run in `cwd`.
pub fn speechops(cwd: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.current_dir(cwd);
    for var in SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// The result of running the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command to completion and captures its output.
pub fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("spawn speechops");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temporary rule repository.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        Repo { dir: tempfile::tempdir().expect("tempdir") }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    /// Writes a file (creating folders) relative to the repo root.
    pub fn write(&self, rel: &str, contents: &str) -> &Repo {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, contents).expect("write");
        self
    }
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(rel)).expect("read")
    }
    /// `speechops ARGS` run in the repo.
    pub fn run(&self, args: &[&str]) -> Run {
        run(speechops(self.path()).args(args))
    }
    /// `speechops ARGS` with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = speechops(self.path());
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(&mut cmd)
    }
}

/// A `speechops sandbox serve` child process, killed on drop.
pub struct Sandbox {
    pub child: Child,
    pub url: String,
}

impl Sandbox {
    /// Starts a sandbox with extra flags and waits for its `listening on` line.
    pub fn start(extra: &[&str]) -> Sandbox {
        let mut child = Command::new(bin())
            .args(["sandbox", "serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn sandbox");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Sandbox { child, url }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
