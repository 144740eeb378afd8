//! `speechops init [DIR]` (SPEC 11): a new rule repository that works at once:
//! `validate`, `test`, `fmt --check` and `plan --sandbox` all succeed right after it.
//! Nothing that exists is overwritten: if any file is already there, nothing is written.

use std::path::{Path, PathBuf};

use crate::Outcome;
use crate::cli::InitArgs;
use crate::model::Kind;
use crate::spec::schema::{json_schema, schema_file_name};

const TOPIC: &str = "# yaml-language-server: $schema=../../schemas/speechops.schema.json
# An example topic: edit it, or copy it for your own. `speechops validate` checks it.
kind: Topic
name: Recording disclosure
description: Agent states that the call may be recorded
dialect: en-US
strictness: \"72\"
participants: Internal
tags: [compliance]
phrases:
  - text: this call may be recorded
  - text: calls are recorded for quality and training purposes
";

const PROGRAM: &str = "# yaml-language-server: $schema=../../schemas/speechops.schema.json
# A program groups topics; map it to queues or flows in Genesys.
kind: Program
name: Compliance
description: Topics scored on every call
topics: [Recording disclosure]
";

const TEST: &str = "# Detection tests: sample transcripts and the topics they must (not) trigger.
# `speechops test` runs them, and so does every `speechops plan`.
kind: DetectionTest
name: The agent discloses the recording
dialect: en-US
transcript:
  - agent: Hello, this call may be recorded.
  - customer: That is fine.
expect:
  detected: [Recording disclosure]
";

const CONFIG: &str = "# speechops project config (see the speechops README).
rulesDir: rules
testsDir: speech-tests
# false: deleting a spec leaves its object in the org (listed as an orphan by name).
# true: deleting a spec deletes its object on merge (shown as `- delete` in review).
prune: false
# Objects that exist in the org but are not managed here are never overwritten silently.
takeover: refuse
guards: { maxChangePercent: 30 }
# Where the lockfile and audit log live. With a protected main (as it should be), keep
# them on a branch of their own: see `speechops state` in the docs.
# state: { backend: git, branch: speechops-state }
# One target per org; `plan --sandbox` needs none.
# defaultTarget: prod
# targets:
#   prod: { region: eu-west-1 }
";

const GITIGNORE: &str =
    "# speechops local state: the embedded sandbox org, the apply lock, CI scratch files.
.speechops/
speechops.lock.lock
.speechops-ci/
";

const WORKFLOW: &str = include_str!("../../.github/workflows/speechops-reconcile.yml");

/// `(path under .github/speechops, contents)` of the workflow's scripts.
const SCRIPTS: [(&str, &str); 9] = [
    ("apply.sh", include_str!("../../.github/speechops/apply.sh")),
    (
        "comment.sh",
        include_str!("../../.github/speechops/comment.sh"),
    ),
    (
        "commit-state.sh",
        include_str!("../../.github/speechops/commit-state.sh"),
    ),
    ("drift.sh", include_str!("../../.github/speechops/drift.sh")),
    (
        "fork-check.sh",
        include_str!("../../.github/speechops/fork-check.sh"),
    ),
    (
        "install.sh",
        include_str!("../../.github/speechops/install.sh"),
    ),
    ("lib.sh", include_str!("../../.github/speechops/lib.sh")),
    ("plan.sh", include_str!("../../.github/speechops/plan.sh")),
    // The release the installer fetches: the version of the speechops that wrote it.
    ("VERSION", concat!(env!("CARGO_PKG_VERSION"), "\n")),
];

/// The embedded sandbox's sample org (queues, flows, transcripts the example rules
/// fire on), so `plan --sandbox --hits` has numbers in a new repository.
const SEED: &str = include_str!("../../sandbox-seed.yaml");
/// Transcripts the new repository's seed keeps (the project's has 300).
const SEED_TRANSCRIPTS: usize = 60;

/// The seed cut to its first [`SEED_TRANSCRIPTS`] transcripts.
fn seed() -> String {
    let mut cut = SEED.len();
    let mut count = 0;
    for (at, _) in SEED.match_indices("\n  - conversationId:") {
        count += 1;
        if count > SEED_TRANSCRIPTS {
            cut = at + 1;
            break;
        }
    }
    SEED[..cut].to_string()
}

/// Every file of a new repository, relative to its root.
fn files(examples: bool) -> anyhow::Result<Vec<(PathBuf, String, bool)>> {
    let mut out: Vec<(PathBuf, String, bool)> = Vec::new();
    if examples {
        out.extend([
            (
                "rules/topics/recording-disclosure.yaml".into(),
                TOPIC.into(),
                false,
            ),
            (
                "rules/programs/compliance.yaml".into(),
                PROGRAM.into(),
                false,
            ),
            (
                "speech-tests/recording-disclosure.yaml".into(),
                TEST.into(),
                false,
            ),
        ]);
    }
    out.extend([
        ("speechops.yaml".into(), CONFIG.into(), false),
        ("sandbox-seed.yaml".into(), seed(), false),
        (".gitignore".into(), GITIGNORE.into(), false),
        (
            ".github/workflows/speechops-reconcile.yml".into(),
            WORKFLOW.into(),
            false,
        ),
    ]);
    for (name, text) in SCRIPTS {
        out.push((
            PathBuf::from(".github/speechops").join(name),
            text.to_string(),
            name.ends_with(".sh"),
        ));
    }
    let kinds = std::iter::once(None).chain(Kind::ALL.iter().copied().map(Some));
    for kind in kinds {
        let schema = serde_json::to_string_pretty(&json_schema(kind))? + "\n";
        out.push((
            PathBuf::from("schemas").join(schema_file_name(kind)),
            schema,
            false,
        ));
    }
    Ok(out)
}

/// Runs `speechops init`.
pub fn run(args: &InitArgs) -> anyhow::Result<Outcome> {
    let root = &args.dir;
    let files = files(!args.no_examples)?;
    let existing: Vec<String> = files
        .iter()
        .map(|(rel, _, _)| root.join(rel))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        anyhow::bail!(
            "{} already has {}; nothing was written (init never overwrites)",
            root.display(),
            existing.join(", ")
        );
    }
    for (rel, text, executable) in &files {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        if *executable {
            make_executable(&path)?;
        }
    }
    let shown = if root == Path::new(".") {
        String::new()
    } else {
        format!("cd {} && ", root.display())
    };
    let next = if args.no_examples {
        format!(
            "Created a rule repository in {} ({} files), without examples. Next, adopt the \
org's configuration (credentials exported):\n  {shown}speechops import --kind all --out rules && speechops plan   # No changes.\n",
            root.display(),
            files.len()
        )
    } else {
        format!(
            "Created a rule repository in {} ({} files), with an example topic, program and \
test. Next:\n  {shown}speechops validate && speechops test && speechops plan --sandbox\n\
To adopt an existing org instead, start without the examples (their names may be ones \
your org uses): speechops init --no-examples\n",
            root.display(),
            files.len()
        )
    };
    super::out(&next);
    Ok(Outcome::Success)
}

#[cfg(unix)]
fn make_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| anyhow::anyhow!("cannot make {} executable: {e}", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> anyhow::Result<()> {
    Ok(())
}
