//! Issue 23: state that survives real repositories. The `git` backend keeps the
//! lockfile, the audit log and the lock on a branch of its own (never the protected
//! `main`), over a real git transport; the `http` backend speaks Terraform's HTTP
//! state protocol; `speechops state` shows, pulls, unlocks and migrates.

use std::sync::{Arc, Mutex};

use crate::support::{self, GitServer, Repo, Sandbox, Scripted, git};

fn ok(run: &support::Run) {
    assert_eq!(
        run.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

const GIT_CONFIG: &str = "state:\n  backend: git\n";

/// A server whose `main` holds specs and a git-backend config, protected afterwards,
/// and a clone of it.
fn protected_repo(topics: usize) -> (GitServer, Repo) {
    let server = GitServer::start();
    let repo = server.clone_repo();
    repo.write("speechops.yaml", GIT_CONFIG);
    repo.write(".gitignore", ".speechops/\n");
    repo.write_topics(topics, 1, "v1");
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "--quiet", "-m", "specs"]);
    git(repo.path(), &["push", "--quiet", "origin", "HEAD:main"]);
    server.protect_main();
    (server, repo)
}

#[test]
fn git_state_stays_off_protected_main_and_a_fresh_clone_sees_it() {
    let sandbox = Sandbox::with_creds(&[]);
    let (server, repo) = protected_repo(2);
    let main_before = server.tip("main");

    // Branch protection is real here: the old commit-state push is refused.
    git(
        repo.path(),
        &["commit", "--quiet", "--allow-empty", "-m", "state"],
    );
    let refused = std::process::Command::new("git")
        .arg("-C")
        .arg(repo.path())
        .args(["push", "origin", "HEAD:main", "--force"])
        .output()
        .expect("git");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("GH006"));
    git(repo.path(), &["reset", "--quiet", "--hard", "HEAD~1"]);

    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    assert_eq!(server.tip("main"), main_before, "apply pushed to main");
    assert!(server.tip("speechops-state").is_some());
    let lock = server
        .show("speechops-state", "speechops.lock")
        .expect("lockfile");
    assert!(lock.contains("Topic 0001"), "{lock}");
    let audit = server
        .show("speechops-state", "speechops-audit.jsonl")
        .expect("audit log");
    assert!(audit.lines().count() >= 4, "{audit}");
    // Issue 28: outside CI the commit's author is recorded beside the runner.
    assert!(
        audit
            .lines()
            .all(|l| l.contains("\"gitAuthor\":\"Dev <dev@example.com>\"")),
        "{audit}"
    );
    assert!(
        server.show("speechops-state", "lock.json").is_none(),
        "the lock was released"
    );
    // Nothing in the work tree changed: no lockfile or audit log beside the specs.
    assert!(!repo.path().join("speechops.lock").exists());
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");

    // A fresh clone (another runner) sees the state: the audit log verifies and the
    // plan is clean.
    let fresh = server.clone_repo();
    let verify = fresh.run(&["audit", "verify"]);
    ok(&verify);
    assert!(verify.stdout.contains("intact"), "{}", verify.stdout);
    let plan = fresh.run_against(&sandbox, &["plan", "--detailed-exitcode"]);
    ok(&plan);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    let show = fresh.run(&["state", "show"]);
    ok(&show);
    assert!(
        show.stdout.contains("git branch speechops-state of origin")
            && show.stdout.contains("Lock: free")
            && show.stdout.contains("2 managed object(s)"),
        "{}",
        show.stdout
    );
}

#[test]
fn back_to_back_applies_from_two_runners_keep_one_audit_chain() {
    let sandbox = Sandbox::with_creds(&[]);
    let (server, first) = protected_repo(1);
    ok(&first.run_against(&sandbox, &["apply", "--auto-approve"]));
    // A second runner with a change of its own (its checkout carries it).
    let second = server.clone_repo();
    second.write_topics(2, 1, "v2");
    ok(&second.run_against(&sandbox, &["apply", "--auto-approve"]));
    // Both runners at once: each either applies or is refused by the lock (exit 3),
    // never both writing one chain.
    first.write_topics(3, 1, "v3");
    second.write_topics(3, 1, "v3");
    let a = std::thread::spawn({
        let p = first.path().to_path_buf();
        let url = sandbox.url.clone();
        move || run_apply(&p, &url)
    });
    let b = run_apply(second.path(), &sandbox.url);
    let a = a.join().expect("thread");
    for r in [&a, &b] {
        assert!(r.code == 0 || r.code == 3, "{r:?}");
        if r.code == 3 {
            assert!(r.stderr.contains("state lock"), "{}", r.stderr);
        }
    }
    let fresh = server.clone_repo();
    let verify = fresh.run(&["audit", "verify", "--format", "json"]);
    ok(&verify);
    let v: serde_json::Value = serde_json::from_str(&verify.stdout).expect("json");
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["pendingIntents"], 0, "{v}");
    // Every create of every run is in the one log.
    let audit = server
        .show("speechops-state", "speechops-audit.jsonl")
        .expect("audit");
    for name in ["Topic 0000", "Topic 0001", "Topic 0002"] {
        assert!(
            audit.lines().any(|l| l.contains("\"action\":\"create\"")
                && l.contains(&format!("\"name\":\"{name}\""))
                && l.contains("\"status\":\"ok\"")),
            "no create of {name}:\n{audit}"
        );
    }
}

fn run_apply(dir: &std::path::Path, url: &str) -> support::Run {
    support::run(
        support::speechops(dir)
            .args(["apply", "--auto-approve", "--api-url", url])
            .env("GENESYSCLOUD_OAUTHCLIENT_ID", support::CLIENT_ID)
            .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", support::CLIENT_SECRET),
    )
}

/// Leaves a lock on the state branch as a killed runner would.
fn leave_lock(server: &GitServer, created: &str) {
    let work = server.clone_repo();
    git(
        work.path(),
        &["fetch", "--quiet", "origin", "speechops-state"],
    );
    git(work.path(), &["checkout", "--quiet", "FETCH_HEAD"]);
    work.write(
        "lock.json",
        &format!(
            "{{\"ID\":\"dead-run\",\"Operation\":\"apply\",\"Info\":\"\",\"Who\":\"pid 4711 of runner-7\",\"Version\":\"0\",\"Created\":\"{created}\",\"Path\":\"\"}}"
        ),
    );
    git(work.path(), &["add", "lock.json"]);
    git(work.path(), &["commit", "--quiet", "-m", "killed run"]);
    git(
        work.path(),
        &[
            "push",
            "--quiet",
            "origin",
            "HEAD:refs/heads/speechops-state",
        ],
    );
}

#[test]
fn a_killed_run_s_lock_refuses_applies_until_an_audited_force_unlock() {
    let sandbox = Sandbox::with_creds(&[]);
    let (server, repo) = protected_repo(1);
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    leave_lock(&server, &speechops::audit::now_rfc3339());

    repo.write_topics(1, 2, "v2");
    let held = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    assert_eq!(held.code, 3, "{held:?}");
    assert!(
        held.stderr.contains("pid 4711 of runner-7"),
        "{}",
        held.stderr
    );
    let probe = repo.run(&["state", "unlock"]);
    assert_eq!(probe.code, 3, "{probe:?}");
    assert!(probe.stderr.contains("runner-7"), "{}", probe.stderr);
    // --force needs a reason.
    assert_ne!(repo.run(&["state", "unlock", "--force"]).code, 0);

    let unlock = repo.run(&[
        "state",
        "unlock",
        "--force",
        "--reason",
        "runner 7 was killed",
    ]);
    ok(&unlock);
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let show = repo.run(&["audit", "show", "--format", "json"]);
    ok(&show);
    assert!(
        show.stdout.contains("force-unlock") && show.stdout.contains("runner 7 was killed"),
        "{}",
        show.stdout
    );
    ok(&repo.run(&["audit", "verify"]));
}

#[test]
fn a_lock_older_than_its_lease_is_taken_over_with_a_warning() {
    let sandbox = Sandbox::with_creds(&[]);
    let (server, repo) = protected_repo(1);
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    leave_lock(&server, "2020-01-01T00:00:00Z");
    repo.write_topics(1, 2, "v2");
    let run = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
    ok(&run);
    assert!(
        run.stderr.contains("older than its lease"),
        "{}",
        run.stderr
    );
    assert!(server.show("speechops-state", "lock.json").is_none());
}

#[test]
fn the_state_branch_may_not_be_main() {
    let repo = Repo::new();
    repo.write("speechops.yaml", "state:\n  backend: git\n  branch: main\n");
    repo.write_topics(1, 1, "v1");
    let run = repo.run(&["apply", "--sandbox", "--auto-approve"]);
    // --sandbox keeps its own state; a real target is refused before anything.
    ok(&run);
    let run = repo.run_env(
        &["plan", "--api-url", "http://127.0.0.1:9"],
        &[
            ("GENESYSCLOUD_OAUTHCLIENT_ID", "x"),
            ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "y"),
        ],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("may not be \"main\""), "{}", run.stderr);
}

/// A Terraform HTTP state server: GET/POST the state, LOCK/UNLOCK (or the GitLab
/// methods POST/DELETE on `/lock`) with lock info bodies, 423 with the holder's info.
struct TfState {
    server: Scripted,
    state: Arc<Mutex<Option<String>>>,
}

fn tf_state_server(gitlab: bool) -> TfState {
    let (handler, state) = support::tf_state(gitlab);
    TfState {
        server: Scripted::start(handler),
        state,
    }
}

fn http_config(tf: &TfState, gitlab: bool) -> String {
    let address = format!(
        "{}/api/v4/projects/42/terraform/state/speechops",
        tf.server.url
    );
    let mut cfg = format!(
        "state:\n  backend: http\n  address: {address}\n  usernameEnv: TF_USER\n  passwordEnv: TF_PASS\n"
    );
    if gitlab {
        cfg.push_str(&format!(
            "  lockAddress: {address}/lock\n  unlockAddress: {address}/lock\n  lockMethod: POST\n  unlockMethod: DELETE\n"
        ));
    }
    cfg
}

fn run_http(repo: &Repo, sandbox: &Sandbox, args: &[&str]) -> support::Run {
    let mut all = args.to_vec();
    all.extend(["--api-url", sandbox.url.as_str()]);
    repo.run_env(
        &all,
        &[
            ("GENESYSCLOUD_OAUTHCLIENT_ID", support::CLIENT_ID),
            ("GENESYSCLOUD_OAUTHCLIENT_SECRET", support::CLIENT_SECRET),
            ("TF_USER", "gitlab-ci-token"),
            ("TF_PASS", "tf-password-12345"),
        ],
    )
}

#[test]
fn http_state_follows_terraform_s_protocol_in_both_method_styles() {
    for gitlab in [false, true] {
        let sandbox = Sandbox::with_creds(&[]);
        let tf = tf_state_server(gitlab);
        let repo = Repo::new();
        repo.write("speechops.yaml", &http_config(&tf, gitlab));
        repo.write_topics(2, 1, "v1");
        let apply = run_http(&repo, &sandbox, &["apply", "--auto-approve"]);
        ok(&apply);
        let stored = tf
            .state
            .lock()
            .expect("state")
            .clone()
            .expect("state stored");
        let doc: serde_json::Value = serde_json::from_str(&stored).expect("json");
        assert_eq!(doc["version"], 4);
        assert!(doc["serial"].as_u64().unwrap_or(0) >= 1, "{doc}");
        assert!(
            doc["speechops"]["lockfile"]
                .as_str()
                .is_some_and(|l| l.contains("Topic 0001")),
            "{doc}"
        );
        // Another machine (no working copy) sees it: clean plan, intact log.
        let fresh = Repo::new();
        fresh.write("speechops.yaml", &http_config(&tf, gitlab));
        fresh.write_topics(2, 1, "v1");
        let plan = run_http(&fresh, &sandbox, &["plan", "--detailed-exitcode"]);
        ok(&plan);
        let verify = run_http(&fresh, &sandbox, &["audit", "verify"]);
        ok(&verify);
        // The Basic credentials are never printed, nor stored.
        for text in [&apply.stdout, &apply.stderr, &plan.stdout, &stored] {
            assert!(!text.contains("tf-password-12345"));
            assert!(!text.contains("Z2l0bGFiLWNpLXRva2Vu"));
        }
        // Every write carried the lock's ID.
        assert!(
            tf.server
                .seen()
                .iter()
                .filter(|r| r.method == "POST" && !r.path.ends_with("/lock"))
                .all(|r| r.query.starts_with("ID=")),
            "gitlab={gitlab}"
        );
    }
}

#[test]
fn an_http_lock_held_elsewhere_refuses_with_exit_3_naming_the_holder() {
    let sandbox = Sandbox::with_creds(&[]);
    let tf = tf_state_server(false);
    let repo = Repo::new();
    repo.write("speechops.yaml", &http_config(&tf, false));
    repo.write_topics(1, 1, "v1");
    ok(&run_http(&repo, &sandbox, &["apply", "--auto-approve"]));
    // Terraform (or another speechops) holds the lock.
    let holder = reqwest_lock(&tf);
    assert_eq!(holder, 200);
    let run = run_http(&repo, &sandbox, &["apply", "--auto-approve"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("terraform-user@ci"), "{}", run.stderr);
    let unlock = run_http(
        &repo,
        &sandbox,
        &["state", "unlock", "--force", "--reason", "stuck"],
    );
    ok(&unlock);
    let show = run_http(&repo, &sandbox, &["audit", "show"]);
    assert!(show.stdout.contains("force-unlock"), "{}", show.stdout);
}

fn reqwest_lock(tf: &TfState) -> u16 {
    let body = r#"{"ID":"tf-1","Operation":"OperationTypeApply","Info":"","Who":"terraform-user@ci","Version":"1.9.0","Created":"2099-01-01T00:00:00Z","Path":""}"#;
    let url = format!(
        "{}/api/v4/projects/42/terraform/state/speechops",
        tf.server.url
    );
    support::block_on(async {
        reqwest::Client::new()
            .request(reqwest::Method::from_bytes(b"LOCK").expect("method"), url)
            .header("authorization", support::TF_BASIC)
            .body(body)
            .send()
            .await
            .expect("lock")
            .status()
            .as_u16()
    })
}

#[test]
fn migrate_copies_file_state_to_the_git_branch_and_plans_stay_clean() {
    let sandbox = Sandbox::with_creds(&[]);
    let server = GitServer::start();
    let repo = server.clone_repo();
    repo.write_topics(2, 1, "v1");
    ok(&repo.run_against(&sandbox, &["apply", "--auto-approve"]));
    let entries = support::audit_lines(&repo);
    assert!(entries > 0);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "--quiet", "-m", "file state"]);
    git(repo.path(), &["push", "--quiet", "origin", "HEAD:main"]);

    let migrate = repo.run(&["state", "migrate", "--to", "git"]);
    ok(&migrate);
    assert!(
        migrate.stdout.contains("backend: git"),
        "{}",
        migrate.stdout
    );
    // A second migrate finds the branch holding state and copies nothing.
    let again = repo.run(&["state", "migrate", "--to", "git"]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(
        again.stderr.contains("already holds state"),
        "{}",
        again.stderr
    );

    let audit = server
        .show("speechops-state", "speechops-audit.jsonl")
        .expect("audit");
    assert_eq!(
        audit.lines().count(),
        entries + 1,
        "the migration is recorded"
    );
    repo.write("speechops.yaml", GIT_CONFIG);
    std::fs::remove_file(repo.path().join("speechops.lock")).expect("rm");
    std::fs::remove_file(repo.path().join("speechops-audit.jsonl")).expect("rm");
    let plan = repo.run_against(&sandbox, &["plan", "--detailed-exitcode"]);
    ok(&plan);
    ok(&repo.run(&["audit", "verify"]));
    let pulled = tempfile::tempdir().expect("tmp");
    let pull = repo.run(&[
        "state",
        "pull",
        "--out",
        &pulled.path().display().to_string(),
    ]);
    ok(&pull);
    assert_eq!(
        std::fs::read_to_string(pulled.path().join("speechops-audit.jsonl")).expect("pulled"),
        audit
    );
}
