//! Nothing leaks, forks or vanishes (issue 24): credentials, the audit chain and spec
//! files under hostile gateways and odd trees.

use crate::support::{self, Repo, Sandbox};

#[track_caller]
fn ok(run: &support::Run) {
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}

const TOPIC: &str =
    "kind: Topic\nname: Compliance\ndialect: en-US\nphrases: [{text: this call is recorded}]\n";

#[test]
fn a_spec_that_vanished_through_a_link_fails_validation_and_nothing_is_pruned() {
    let repo = Repo::new();
    let sandbox = Sandbox::with_creds(&[]);
    repo.write("shared/compliance.yaml", TOPIC);
    std::os::unix::fs::symlink(
        repo.path().join("shared/compliance.yaml"),
        repo.path().join("rules/compliance.yaml"),
    )
    .or_else(|_| {
        std::fs::create_dir_all(repo.path().join("rules"))?;
        std::os::unix::fs::symlink(
            repo.path().join("shared/compliance.yaml"),
            repo.path().join("rules/compliance.yaml"),
        )
    })
    .expect("symlink");
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));

    // `shared/` moves away: the link dangles.
    std::fs::rename(repo.path().join("shared"), repo.path().join("elsewhere")).expect("mv");
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("file.broken-link"), "{all}");
    assert!(all.contains("compliance.yaml"), "{all}");
    let run = repo.run_against(
        &sandbox,
        &["apply", "--auto-approve", "--prune", "--allow-empty"],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let list = sandbox.get_json_authed("/api/v2/speechandtextanalytics/topics");
    assert_eq!(list["entities"].as_array().map(Vec::len), Some(1), "{list}");

    // A link loop, a FIFO and a linked folder are errors too, each naming its entry.
    std::fs::remove_file(repo.path().join("rules/compliance.yaml")).expect("rm");
    std::os::unix::fs::symlink(
        repo.path().join("rules/loop-a.yaml"),
        repo.path().join("rules/loop-b.yaml"),
    )
    .expect("symlink");
    std::os::unix::fs::symlink(
        repo.path().join("rules/loop-b.yaml"),
        repo.path().join("rules/loop-a.yaml"),
    )
    .expect("symlink");
    let fifo = repo.path().join("rules/pipe.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    std::os::unix::fs::symlink(
        repo.path().join("elsewhere"),
        repo.path().join("rules/shared"),
    )
    .expect("symlink");
    let run = repo.run(&["validate"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    for needle in [
        "loop-a.yaml",
        "loop-b.yaml",
        "file.not-regular",
        "pipe.yaml",
        "file.linked-folder",
    ] {
        assert!(all.contains(needle), "{needle}: {all}");
    }
}
