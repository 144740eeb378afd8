//! The fault suite: killed applies, sandbox fault profiles, arbitrary server responses
//! and secrets at maximum verbosity. Each test is bounded in time.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::support::{self, Reply, Repo, Sandbox, Scripted, block_on};

fn remote_names(sandbox: &Sandbox) -> Vec<String> {
    let mut names: Vec<String> = block_on(sandbox.client().list_topics())
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    names.sort();
    names
}

fn assert_converged(repo: &Repo, sandbox: &Sandbox, expected: usize) {
    let names = remote_names(sandbox);
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(names.len(), expected, "missing or duplicate topics");
    assert_eq!(unique.len(), expected, "duplicate topics");
    serde_json::from_str::<serde_json::Value>(&repo.read("speechops.lock"))
        .expect("lockfile parses");
    let verify = repo.run(&["audit", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    let plan = repo.run_against(sandbox, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "not converged:\n{}", plan.stdout);
}

/// SIGKILL of apply at 20 seeded points across a 100-object apply; after each, a re-run
/// converges with no duplicates, no orphans, a parsing lockfile and a valid audit chain.
#[test]
fn sigkill_at_20_seeded_points_then_converge() {
    let sandbox = Sandbox::with_creds(&["--latency-ms", "1"]);
    let repo = Repo::new();
    let mut seed = 20_261_124u64;
    let started = Instant::now();
    for round in 0..20 {
        // Alternate the phrases so every round has 100 writes to interrupt.
        repo.write_topics(100, 1, &format!("round {round}"));
        let kill_after =
            support::audit_lines(&repo) + 1 + (support::splitmix(&mut seed) % 100) as usize;
        support::apply_killed_at(&repo, &sandbox, &["--force"], kill_after);
        let verify = repo.run(&["audit", "verify"]);
        assert_eq!(verify.code, 0, "round {round}: {}", verify.stderr);
        let converge = repo.run_against(&sandbox, &["apply", "--auto-approve", "--force"]);
        assert_eq!(
            converge.code, 0,
            "round {round}:\n{}\n{}",
            converge.stdout, converge.stderr
        );
        assert_converged(&repo, &sandbox, 100);
    }
    assert!(
        started.elapsed() < Duration::from_secs(300),
        "fault suite too slow"
    );
}

/// Random 429/500/503, latency, short-lived tokens and dropped connections: apply
/// converges to exactly the desired state.
#[test]
fn apply_converges_under_sandbox_fault_profile() {
    let sandbox = Sandbox::with_creds(&[
        "--fault-rate",
        "0.2",
        "--latency-ms",
        "40",
        "--token-ttl",
        "3",
        "--seed",
        "11",
    ]);
    let repo = Repo::new();
    repo.write_topics(60, 2, "v1");
    repo.write(
        "rules/programs/p.yaml",
        "kind: Program\nname: Faulty program\ntopics: [Topic 0001, Topic 0002]\n",
    );
    for i in 0..3 {
        repo.write(
            &format!("rules/rules/r{i}.yaml"),
            &format!("kind: SpeechRule\nname: Rule {i}\nphrases:\n  - phrase: rule phrase {i}\nscoring:\n  - type: additive\n    value: 0.5\n"),
        );
    }
    let mut runs = Vec::new();
    for _ in 0..5 {
        let run = repo.run_against(&sandbox, &["apply", "--auto-approve"]);
        let ok = run.code == 0;
        runs.push(run);
        if ok {
            break;
        }
    }
    let last = runs.last().expect("a run");
    assert_eq!(
        last.code,
        0,
        "no convergence in {} runs:\n{}\n{}",
        runs.len(),
        last.stdout,
        last.stderr
    );
    assert_converged(&repo, &sandbox, 60);
    let client = sandbox.client();
    assert_eq!(block_on(client.list_programs()).unwrap().len(), 1);
    assert_eq!(block_on(client.list_speech_rules()).unwrap().len(), 3);
    let stats = sandbox.get_json("/__sandbox/stats");
    let faults: u64 = ["429", "500", "503"]
        .iter()
        .map(|s| stats["statuses"][s].as_u64().unwrap_or(0))
        .sum();
    assert!(faults > 0, "the profile injected no faults: {stats}");
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-zA-Z0-9 ]{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        let keys = prop::sample::select(vec![
            "entities",
            "id",
            "name",
            "pageCount",
            "pageNumber",
            "nextPage",
            "phrases",
            "topics",
            "state",
            "dateModified",
            "published",
            "total",
            "message",
            "code",
            "text",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(keys, inner, 0..6).prop_map(|m| serde_json::Value::Object(
                m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

fn arb_header_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "inin-ratelimit-count",
        "inin-ratelimit-allowed",
        "inin-ratelimit-reset",
        "Retry-After",
        "Content-Length",
        "Content-Type",
    ])
}

fn arb_header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "1",
            "-1",
            "1e20",
            "1e308",
            "NaN",
            "inf",
            "18446744073709551615",
            "99999999999999999999999",
            "0.5",
            "",
            "text/html",
            "application/json; charset=x",
            "Wed, 21 Oct 2015 07:28:00 GMT",
        ])
        .prop_map(str::to_string),
        any::<u64>().prop_map(|n| n.to_string()),
        "[ -~]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Arbitrary response bodies, statuses and headers (rate limits, Retry-After,
    /// content length and type) never panic the client; every failure is a clean error
    /// naming the request.
    #[test]
    fn client_survives_arbitrary_responses(
        body in prop_oneof![arb_json().prop_map(|v| v.to_string()), "[ -~]{0,40}"],
        status in prop_oneof![
            prop::sample::select(vec![200u16, 201, 204, 400, 401, 404, 409, 429, 500, 501, 503]),
            200u16..600,
        ],
        headers in prop::collection::vec((arb_header_name(), arb_header_value()), 0..6),
    ) {
        let next = Arc::new(Mutex::new((status, headers, body)));
        let serve = Arc::clone(&next);
        let server = Scripted::start(move |req| -> Reply {
            if req.path.starts_with("/oauth/token") {
                return (200, r#"{"access_token":"tok","token_type":"bearer","expires_in":3600}"#.to_string()).into();
            }
            match serve.lock() {
                Ok(g) => Reply::Json(g.0, g.1.clone(), g.2.clone()),
                Err(_) => (500, String::new()).into(),
            }
        });
        let client = speechops::genesys::Client::new(
            speechops::genesys::endpoint_for_api_url(&server.url),
            speechops::genesys::Credentials::ClientCredentials {
                client_id: "id".into(),
                client_secret: speechops::genesys::Secret::new("secret"),
            },
            speechops::genesys::ClientOptions {
                max_attempts: 1,
                request_timeout: Duration::from_secs(5),
                // Any wait the headers ask for ends the call at once (the waiting
                // itself is tested elsewhere); a Retry-After of 0 is still retried.
                max_retry_after: Duration::ZERO,
                ..speechops::genesys::ClientOptions::default()
            },
        ).expect("client");
        let req = speechops::kinds::topic::wire::TopicRequest {
            name: "n".into(), description: String::new(), strictness: "72".into(), matching_type: "Lexical".into(), tags: vec![],
            dialect: "en-US".into(), participants: "All".into(), phrases: vec![],
        };
        block_on(async {
            let results = [
                client.list_topics().await.err().map(|e| e.to_string()),
                client.get_topic("x").await.err().map(|e| e.to_string()),
                client.list_programs().await.err().map(|e| e.to_string()),
                client.list_speech_rules().await.err().map(|e| e.to_string()),
                client.create_topic(&req).await.err().map(|e| e.to_string()),
            ];
            for message in results.into_iter().flatten() {
                assert!(!message.is_empty());
                assert!(!message.contains("secret"), "{message}");
            }
        });
    }
}

/// Every command at -vvv with known secret values: they appear in no output, file or log.
#[test]
fn secrets_never_leak_from_any_command_or_the_sandbox() {
    let logs = tempfile::tempdir().unwrap();
    let sandbox_log = logs.path().join("sandbox.log");
    let mut child = Command::new(support::bin())
        .args([
            "sandbox",
            "serve",
            "-vvv",
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "100000",
        ])
        .args([
            "--client-id",
            support::CLIENT_ID,
            "--client-secret",
            support::CLIENT_SECRET,
        ])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&sandbox_log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let sandbox = Sandbox { child, url };

    let repo = Repo::new();
    repo.write_topics(3, 1, "v1");
    repo.write(
        "speechops.yaml",
        "notify:\n  - url: http://127.0.0.1:9/hook\n    secretEnv: HOOK_SECRET\n",
    );
    let hook_secret = "hook-s3cret-value-77";
    let env = [
        ("GENESYSCLOUD_OAUTHCLIENT_ID", support::CLIENT_ID),
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET", support::CLIENT_SECRET),
        ("HOOK_SECRET", hook_secret),
    ];
    let url = sandbox.url.clone();
    let commands: Vec<Vec<&str>> = vec![
        vec!["validate", "-vvv"],
        vec!["plan", "-vvv", "--out", "plan.json"],
        vec!["plan", "-vvv", "--format", "markdown"],
        vec!["apply", "-vvv", "--auto-approve"],
        vec!["import", "-vvv", "--kind", "all", "--out", "imported"],
        vec!["audit", "verify", "-vvv"],
        vec!["schema", "-vvv"],
    ];
    let mut outputs = String::new();
    for args in &commands {
        let mut all = args.clone();
        if !matches!(args[0], "validate" | "audit" | "schema") {
            all.extend(["--api-url", url.as_str()]);
        }
        let run = repo.run_env(&all, &env);
        assert!(run.code == 0, "{args:?}: {}\n{}", run.stdout, run.stderr);
        outputs.push_str(&run.stdout);
        outputs.push_str(&run.stderr);
    }
    drop(sandbox);
    outputs.push_str(&std::fs::read_to_string(&sandbox_log).unwrap());
    for file in ["speechops.lock", "speechops-audit.jsonl", "plan.json"] {
        outputs.push_str(&repo.read(file));
    }
    assert!(
        outputs.contains("DEBUG") || outputs.contains("TRACE") || outputs.contains("INFO"),
        "no logs at -vvv"
    );
    for secret in [support::CLIENT_SECRET, hook_secret] {
        assert!(!outputs.contains(secret), "a secret leaked");
    }
    // Tokens are never logged either: the sandbox's issued tokens look like `tok-…`/UUIDs,
    // so check the Authorization header value never appears.
    assert!(
        !outputs.to_lowercase().contains("bearer "),
        "an Authorization header leaked"
    );
}
