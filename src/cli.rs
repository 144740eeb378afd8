//! Command-line definitions (clap derive) only; no behaviour lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Speech analytics configuration for Genesys Cloud, kept as code.
#[derive(Debug, Parser)]
#[command(
    name = "speechops",
    version,
    about = "Speech analytics configuration for Genesys Cloud, kept as code",
    long_about = "speechops keeps Genesys Cloud Speech & Text Analytics topics, programs and speech \
rules as YAML in git. `plan` shows what would change in the org; `apply` makes the org match \
the repository and records a lockfile and a hash-chained audit log.",
    after_help = "Examples:\n  speechops validate --dir rules\n  speechops plan --sandbox\n  speechops apply --sandbox --auto-approve\n\nExit codes: 0 success, 1 error, 2 changes present (plan --detailed-exitcode), 3 refused by a safety guard."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags shared by every command.
#[derive(Debug, Clone, Args, Default)]
pub struct GlobalArgs {
    /// Root of the spec tree (searched recursively for *.yaml / *.yml)
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Project config file [default: speechops.yaml if present]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Target from the config [default: the config's defaultTarget]
    #[arg(long, global = true, value_name = "NAME")]
    pub target: Option<String>,
    /// AWS-style Genesys region code, e.g. us-east-1 [env: GENESYSCLOUD_REGION, used
    /// only when no config target applies]
    #[arg(
        long,
        global = true,
        value_name = "CODE",
        long_help = "AWS-style Genesys region code [env: GENESYSCLOUD_REGION, used only when no config target applies]. \
One of: us-east-1, us-east-2, us-west-2, ca-central-1, eu-west-1, eu-west-2, eu-central-1, \
eu-central-2, mx-central-1, ap-southeast-2, ap-northeast-1, ap-northeast-2, ap-northeast-3, \
ap-south-1, ap-southeast-1, sa-east-1, me-central-1, eusc-de-east-1"
    )]
    pub region: Option<String>,
    /// Explicit API base URL; wins over --region (used for emulators) [env:
    /// GENESYSCLOUD_API_URL, used only when no config target applies]
    #[arg(long, global = true, value_name = "URL")]
    pub api_url: Option<String>,
    /// Use the embedded sandbox org persisted in DIR (no credentials, no network)
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = ".speechops/sandbox"
    )]
    pub sandbox: Option<PathBuf>,
    /// State lockfile [default: speechops.lock]
    #[arg(long, global = true, value_name = "FILE")]
    pub lockfile: Option<PathBuf>,
    /// Audit log [default: speechops-audit.jsonl]
    #[arg(long, global = true, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Never colour output
    #[arg(long, global = true)]
    pub no_color: bool,
    /// More log output on stderr (repeatable, -vvv is the most)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less log output (repeatable)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
    /// The longest a command may talk to Genesys, in seconds: every wait (a token, a
    /// page, a Retry-After, a job) ends by then with an error [default: 1800]
    #[arg(long, global = true, value_name = "SECS")]
    pub timeout: Option<u64>,
}

/// Output format of plan, apply and validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Markdown,
    Json,
    /// `speechops hits` and `audit report` only
    Csv,
    /// `audit report` only
    Html,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and validate every spec; print all problems at once
    #[command(
        after_help = "Examples:\n  speechops validate\n  speechops validate --dir rules --strict --format json"
    )]
    Validate(ValidateArgs),
    /// Fetch remote state, diff, and print the plan
    #[command(
        after_help = "Examples:\n  speechops plan --sandbox\n  speechops plan --format markdown --out plan.json\n  speechops plan --detailed-exitcode   # 0 no changes, 2 changes, 1 error, 3 refused by a guard"
    )]
    Plan(PlanArgs),
    /// Plan (or load PLANFILE), then make the org match the repository
    #[command(
        after_help = "Examples:\n  speechops apply --sandbox --auto-approve\n  speechops plan --out plan.json && speechops apply plan.json --auto-approve"
    )]
    Apply(ApplyArgs),
    /// Scaffold a rule repository (refuses to overwrite anything)
    #[command(
        after_help = "Examples:\n  speechops init speech-rules && cd speech-rules && speechops plan --sandbox"
    )]
    Init(InitArgs),
    /// Rewrite spec files in canonical layout, comments kept
    #[command(
        after_help = "Examples:\n  speechops fmt\n  speechops fmt --check          # exit 1 naming unformatted files"
    )]
    Fmt(FmtArgs),
    /// Run the detection tests against the specs, locally
    #[command(
        after_help = "Examples:\n  speechops test\n  speechops test --format markdown >> \"$GITHUB_STEP_SUMMARY\""
    )]
    Test(TestArgs),
    /// Write existing remote objects as spec files
    #[command(
        after_help = "Examples:\n  speechops import --kind Topic --out rules/topics\n  speechops import --kind Program --name 'Outbound*' --out rules/programs"
    )]
    Import(ImportArgs),
    /// Audit log tools
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The state backend: show, pull, unlock, migrate
    #[command(subcommand)]
    State(StateCommand),
    /// Detections per day of every managed topic over a period, topics that never fired
    #[command(
        after_help = "Examples:\n  speechops hits --since 30d\n  speechops hits --topic 'Recording disclosure' --format csv > hits.csv"
    )]
    Hits(HitsArgs),
    /// List the org's queues, flows and speech analytics objects by name (for writing specs)
    #[command(
        after_help = "Examples:\n  speechops org queues --name 'Retention*'\n  speechops org topics --format json"
    )]
    Org(OrgArgs),
    /// Local Genesys API emulator
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Print the JSON Schema of spec files
    #[command(
        after_help = "Examples:\n  speechops schema > schemas/speechops.schema.json\n  speechops schema --kind Topic"
    )]
    Schema(SchemaArgs),
    /// Print a shell completion script
    #[command(
        after_help = "Examples:\n  speechops completions bash > /etc/bash_completion.d/speechops"
    )]
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder to create the repository in (default: the current folder)
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Leave out the example topic, program and detection test: for a repository that
    /// starts by importing an existing org
    #[arg(long)]
    pub no_examples: bool,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Change nothing; exit 1 naming the files that are not formatted
    #[arg(long)]
    pub check: bool,
    /// Files to format [default: every spec file and detection test]
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Folder of detection tests [default: config `testsDir`, else speech-tests]
    #[arg(long, value_name = "DIR")]
    pub tests: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Treat warnings as errors
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Save the plan for a later `apply FILE`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Include deletions of managed objects whose spec is gone (also config `prune: true`)
    #[arg(long)]
    pub prune: bool,
    /// Show how often changed topics were detected in the last DAYS days (default 7), and
    /// how many recent transcripts each new phrase would match
    #[arg(long, value_name = "DAYS", num_args = 0..=1, require_equals = true,
          default_missing_value = "7", value_parser = clap::value_parser!(u32).range(1..=366))]
    pub hits: Option<u32>,
    /// Show updates as a line diff of the YAML (remote vs repository) instead of in
    /// words (phrases added, removed and changed)
    #[arg(long)]
    pub yaml_diff: bool,
    #[command(flatten)]
    pub overrides: OverrideArgs,
    /// Bound on concurrent requests
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: u16,
}

/// Guard overrides, accepted by `plan` (to show that the plan would pass) and `apply`.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct OverrideArgs {
    /// Override the percentage guard (too large a share of a kind's objects changes)
    #[arg(long)]
    pub force: bool,
    /// Override the empty-input guard (every managed object of a kind deleted)
    #[arg(long)]
    pub allow_empty: bool,
    /// Overwrite objects that exist in the org, are not managed and differ (also config
    /// `takeover: allow`)
    #[arg(long)]
    pub allow_takeover: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `plan --out`
    pub planfile: Option<PathBuf>,
    /// Do not ask for confirmation (required when stdin is not a TTY)
    #[arg(long)]
    pub auto_approve: bool,
    /// Delete managed objects whose spec is gone (also config `prune: true`)
    #[arg(long)]
    pub prune: bool,
    /// Roll back this run's writes if any write fails
    #[arg(long)]
    pub atomic: bool,
    /// A reviewed markdown plan (a pull request's comment): apply only its changes
    /// whose objects are as they were at review; refuse (exit 3) the ones that moved.
    /// Repeat for several merged pull requests
    #[arg(long, value_name = "PLAN_MD", conflicts_with = "planfile")]
    pub reviewed: Vec<PathBuf>,
    #[command(flatten)]
    pub overrides: OverrideArgs,
    /// Bound on concurrent requests
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: u16,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[arg(long, help = format!("Kind of object to import: {}, or all", crate::model::Kind::names()))]
    pub kind: String,
    /// Only objects whose name matches this glob
    #[arg(long, value_name = "GLOB")]
    pub name: Option<String>,
    /// Folder to write spec files into
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Overwrite spec files that were edited since import (or not written by it)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain; report the first broken line
    #[command(
        after_help = "Examples:\n  speechops audit verify\n  speechops audit verify --key MCowBQYDK2VwAyEA...   # the signed head too"
    )]
    Verify(AuditVerifyArgs),
    /// Make a key pair for signing the chain head (SPEECHOPS_AUDIT_SIGNING_KEY)
    Keygen,
    /// The audit log as readable history: who, when, which commit, what changed
    #[command(
        after_help = "Examples:\n  speechops audit show --kind Topic --name 'Recording*' --since 7d\n  speechops audit show --run 1234567890-1 --format json"
    )]
    Show(AuditShowArgs),
    /// One row per change (intent, result, publish and rollback folded), objects
    /// followed across renames, with who approved it: for auditors
    #[command(
        after_help = "Examples:\n  speechops audit report --since 30d --format csv > changes.csv\n  speechops audit report --format html > report.html"
    )]
    Report(AuditReportArgs),
    /// Reconcile Genesys's own audit records of the managed objects with this log:
    /// every change is matched to the speechops write that made it, or reported as made
    /// outside speechops (exit 1)
    #[command(
        after_help = "Examples:\n  speechops audit org --since 7d\n  speechops audit org --format markdown >> \"$GITHUB_STEP_SUMMARY\""
    )]
    Org(AuditOrgArgs),
}

#[derive(Debug, Args)]
pub struct AuditOrgArgs {
    /// How far back: an age (24h, 7d, up to 14d, the reach of Genesys's realtime audit query)
    #[arg(long, value_name = "DURATION", default_value = "7d")]
    pub since: String,
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// Also check that the chain head is signed by this Ed25519 public key (base64, or
    /// a file holding it)
    #[arg(long, value_name = "PUBLIC_KEY")]
    pub key: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditReportArgs {
    /// Only changes at or after this time: RFC 3339, a date, or an age (90m, 24h, 30d)
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditShowArgs {
    #[arg(long, help = format!("Only entries of this kind ({})", crate::model::Kind::names()))]
    pub kind: Option<String>,
    /// Only entries whose object name matches this glob
    #[arg(long, value_name = "GLOB")]
    pub name: Option<String>,
    /// Only entries at or after this time: RFC 3339 (2026-11-25T10:00:00Z), a date
    /// (2026-11-25), or an age (90m, 24h, 7d)
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only entries of this run id
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Run the local Genesys API emulator as an HTTP server
    Serve(SandboxServeArgs),
}

#[derive(Debug, Args, Clone)]
pub struct SandboxServeArgs {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Persist the org to this folder
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// OAuth client id the sandbox accepts
    #[arg(long, default_value = "sandbox")]
    pub client_id: String,
    /// OAuth client secret the sandbox accepts
    #[arg(long, default_value = "sandbox")]
    pub client_secret: String,
    /// Requests per rate-limit window per token
    #[arg(long, default_value_t = 300)]
    pub rate_limit: u32,
    /// Length of the rate-limit window in seconds
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub rate_window: u64,
    /// Lifetime of issued tokens in seconds
    #[arg(long, default_value_t = 86400)]
    pub token_ttl: u64,
    /// Probability (0..1) of an injected fault per request
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Added latency per request in milliseconds
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Seed for fault injection
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Lists lag writes: a created object is missing from, and a deleted one still in,
    /// the next N list reads of its kind (first pages)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub list_lag: u32,
    /// Probability (0..1) that a write's answer is lost after it committed
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub lost_answer_rate: f64,
    /// A deleted object's identity stays taken for the next N creates of it (409)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub delete_settle: u32,
    /// Queues, flows and sample transcripts to serve (YAML or JSON; see docs/sandbox.md)
    #[arg(long, value_name = "FILE")]
    pub seed_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the schema of one kind only
    #[arg(long)]
    pub kind: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to generate completions for
    pub shell: clap_complete::Shell,
}

/// The global flags each command does not use: hidden from its `--help` (they are
/// still accepted, and ignored, so scripts that pass them everywhere keep working).
/// Global flags that pick a target and its state: unused by the offline commands.
const TARGET_FLAGS: [&str; 6] = [
    "target",
    "region",
    "api_url",
    "sandbox",
    "lockfile",
    "audit_log",
];

/// The global flags each command does not use besides [`TARGET_FLAGS`]: hidden from its
/// `--help` (they are still accepted, and ignored, so scripts that pass them everywhere
/// keep working).
const UNUSED_GLOBALS: [(&str, &[&str]); 6] = [
    ("validate", &[]),
    ("test", &[]),
    ("fmt", &["format"]),
    ("schema", &["dir", "config", "format"]),
    ("completions", &["dir", "config", "format", "no_color"]),
    ("init", &["dir", "config", "format", "no_color"]),
];

/// The command line, with each command's help showing only the global flags it uses.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    // Global flags are copied into every subcommand when the command is built.
    let mut built = cmd.clone();
    built.build();
    for (name, unused) in UNUSED_GLOBALS {
        // Declared on this subcommand (not only propagated), hidden: clap then shows
        // the subcommand's own copy in its help.
        let hidden: Vec<clap::Arg> = built
            .find_subcommand(name)
            .into_iter()
            .flat_map(|sc| sc.get_arguments())
            .filter(|a| {
                let id = a.get_id().as_str();
                a.is_global_set() && (TARGET_FLAGS.contains(&id) || unused.contains(&id))
            })
            .map(|a| a.clone().global(false).hide(true))
            .collect();
        cmd = cmd.mut_subcommand(name, |sc| sc.args(hidden));
    }
    cmd
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Where the state lives, who holds its lock, and what it records
    Show,
    /// Write the backend's lockfile and audit log into a folder
    #[command(after_help = "Examples:\n  speechops state pull --out /tmp/state")]
    Pull(StatePullArgs),
    /// Release the state lock a killed run left behind (recorded in the audit log)
    #[command(
        after_help = "Examples:\n  speechops state unlock                      # who holds it (exit 3 when held)\n  speechops state unlock --force --reason 'runner 4711 was killed'"
    )]
    Unlock(StateUnlockArgs),
    /// Copy the state to another backend (the source is kept as it is)
    #[command(
        after_help = "Examples:\n  speechops state migrate --to git --branch speechops-state\n  speechops state migrate --to http --address https://gitlab.example.com/api/v4/projects/42/terraform/state/speechops --lock-method POST --unlock-method DELETE"
    )]
    Migrate(StateMigrateArgs),
}

#[derive(Debug, Args)]
pub struct StatePullArgs {
    /// Folder to write speechops.lock and speechops-audit.jsonl into
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Replace files of those names that differ
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct StateUnlockArgs {
    /// Remove the lock whoever holds it
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why (recorded in the audit log with the lock removed)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    File,
    Git,
    Http,
}

#[derive(Debug, Args)]
pub struct StateMigrateArgs {
    /// The backend to copy the state to
    #[arg(long, value_enum)]
    pub to: BackendArg,
    /// git: the state branch [default: speechops-state]
    #[arg(long)]
    pub branch: Option<String>,
    /// git: the remote name or URL [default: origin]
    #[arg(long)]
    pub remote: Option<String>,
    /// http: the state address
    #[arg(long, value_name = "URL")]
    pub address: Option<String>,
    /// http: the lock address [default: --address]
    #[arg(long, value_name = "URL")]
    pub lock_address: Option<String>,
    /// http: the unlock address [default: --address]
    #[arg(long, value_name = "URL")]
    pub unlock_address: Option<String>,
    /// http: the lock method [default: LOCK; GitLab: POST]
    #[arg(long)]
    pub lock_method: Option<String>,
    /// http: the unlock method [default: UNLOCK; GitLab: DELETE]
    #[arg(long)]
    pub unlock_method: Option<String>,
    /// http: environment variable holding the user name
    #[arg(long, value_name = "VAR")]
    pub username_env: Option<String>,
    /// http: environment variable holding the password (token)
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrgWhat {
    Queues,
    Flows,
    Topics,
    Programs,
    Categories,
}

#[derive(Debug, Args)]
pub struct OrgArgs {
    /// What to list
    #[arg(value_enum)]
    pub what: OrgWhat,
    /// Only names matching this glob (case-insensitive)
    #[arg(long, value_name = "GLOB")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct HitsArgs {
    /// The period: an age in days (30d, 2w) [default: 30d]
    #[arg(long, value_name = "DURATION", default_value = "30d")]
    pub since: String,
    /// Only this topic (its name as in the specs; repeatable)
    #[arg(long, value_name = "NAME")]
    pub topic: Vec<String>,
}
