//! Flags + environment + `speechops.yaml` -> resolved [`Settings`].
//!
//! Precedence for every value: command-line flag, then environment, then the project
//! config, then the built-in default. Relative paths in the config are resolved against
//! the config file's folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::GlobalArgs;
use crate::genesys::{self, Endpoint};
use crate::state::backend::{Backend, GitBackend, HttpBackend, StateSettings};

/// Default guard threshold (SPEC 4): refuse to touch more than this share of a kind.
pub const DEFAULT_MAX_CHANGE_PERCENT: f64 = 30.0;

/// The optional project config file (SPEC section 6).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    pub rules_dir: Option<PathBuf>,
    pub lockfile: Option<PathBuf>,
    pub audit_log: Option<PathBuf>,
    pub default_target: Option<String>,
    #[serde(default)]
    pub targets: BTreeMap<String, TargetConfig>,
    pub guards: Option<GuardsConfig>,
    /// Folder of detection tests.
    pub tests_dir: Option<PathBuf>,
    /// Seed (queues, flows, sample transcripts) of the embedded `--sandbox` org.
    pub sandbox_seed: Option<PathBuf>,
    /// Delete managed objects whose spec is gone (after review in the pull request).
    #[serde(default)]
    pub prune: bool,
    /// Whether a plan may overwrite objects speechops does not manage.
    #[serde(default)]
    pub takeover: Takeover,
    #[serde(default)]
    pub notify: Vec<NotifyConfig>,
    /// Where the lockfile and the audit log live (SPEC 12.2).
    pub state: Option<StateConfig>,
}

/// Config `state:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StateConfig {
    #[serde(default)]
    pub backend: BackendName,
    /// git: the state branch (default `speechops-state`).
    pub branch: Option<String>,
    /// git: the remote name or URL (default `origin`).
    pub remote: Option<String>,
    /// http: Terraform's `address`, `lock_address`, `unlock_address`.
    pub address: Option<String>,
    pub lock_address: Option<String>,
    pub unlock_address: Option<String>,
    /// http: Terraform's `update_method` (POST), `lock_method` (LOCK), `unlock_method`
    /// (UNLOCK). GitLab: lockMethod POST, unlockMethod DELETE.
    pub update_method: Option<String>,
    pub lock_method: Option<String>,
    pub unlock_method: Option<String>,
    /// http: environment variables holding the Basic credentials.
    pub username_env: Option<String>,
    pub password_env: Option<String>,
    /// Minutes after which a lock nobody released may be taken over (default: the
    /// `--timeout` plus 15).
    pub lease_minutes: Option<u64>,
}

/// Config `state.backend`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendName {
    #[default]
    File,
    Git,
    Http,
}

/// Config `takeover`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Takeover {
    #[default]
    Refuse,
    Allow,
}

/// One target of the config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TargetConfig {
    pub region: Option<String>,
    pub api_url: Option<String>,
    pub sandbox: Option<PathBuf>,
    pub client_id_env: Option<String>,
    pub client_secret_env: Option<String>,
}

/// Guard settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GuardsConfig {
    pub max_change_percent: Option<f64>,
}

/// A notification receiver.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NotifyConfig {
    pub url: String,
    /// Name of the environment variable holding the HMAC secret.
    pub secret_env: Option<String>,
}

/// How to reach the org of the selected target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// The embedded sandbox, persisted in this folder.
    Sandbox(PathBuf),
    /// A real (or emulated) Genesys API.
    Remote {
        endpoint: Endpoint,
        client_id_env: Option<String>,
        client_secret_env: Option<String>,
    },
}

/// Everything a command needs to know, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub rules_dir: PathBuf,
    pub lockfile: PathBuf,
    pub audit_log: PathBuf,
    /// Name of the lockfile section and of the target in outputs.
    pub target_name: String,
    /// Unresolved connection problem, reported only by commands that need a target.
    pub connection: Result<Connection, String>,
    pub max_change_percent: f64,
    /// Folder of detection tests (config `testsDir`, default `speech-tests`).
    pub tests_dir: PathBuf,
    /// Seed of the embedded sandbox (config `sandboxSeed`, default `sandbox-seed.yaml`
    /// when it exists).
    pub sandbox_seed: Option<PathBuf>,
    /// Config `prune: true`: plans delete orphans without `--prune`.
    pub prune: bool,
    /// Config `takeover: allow`: as if `--allow-takeover` were given.
    pub allow_takeover: bool,
    pub notify: Vec<NotifyConfig>,
    /// `--timeout`: how long a command may talk to Genesys.
    pub timeout: std::time::Duration,
    /// Where `lockfile` and `audit_log` come from and go to (SPEC 12.2); for the
    /// `file` backend they are the files themselves.
    pub state: StateSettings,
    /// What another backend's settings are made from (`state migrate`).
    pub state_base: StateBase,
}

/// The config's folder and the file backend's paths.
#[derive(Debug, Clone)]
pub struct StateBase {
    pub dir: PathBuf,
    pub file_paths: (PathBuf, PathBuf),
    pub lease: std::time::Duration,
}

impl StateBase {
    /// The state settings of `state:` as `cfg` gives it.
    pub fn settings_for(&self, cfg: &StateConfig) -> Result<StateSettings, String> {
        let backend = backend_of(cfg, &self.dir)?;
        let (lockfile, audit) = working_copy(&backend, &self.dir, &self.file_paths);
        Ok(StateSettings {
            backend,
            lockfile,
            audit,
            lease: self.lease,
        })
    }
}

/// The two local files a backend's state is worked on in: the files themselves for
/// the file backend, else a copy under `.speechops/state/` of the config's folder.
fn working_copy(
    backend: &Backend,
    base: &Path,
    file_paths: &(PathBuf, PathBuf),
) -> (PathBuf, PathBuf) {
    if *backend == Backend::File {
        return file_paths.clone();
    }
    let cache = base
        .join(".speechops/state")
        .join(&crate::model::sha256_hex(backend.describe().as_bytes())[..12]);
    (
        cache.join("speechops.lock"),
        cache.join("speechops-audit.jsonl"),
    )
}

/// The default `--timeout`: 30 minutes, well past a large apply's publish jobs.
pub const DEFAULT_TIMEOUT_SECS: u64 = 1800;

/// Errors reading the config.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {}:{message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("unknown target {name:?} (known: {known})")]
    UnknownTarget { name: String, known: String },
}

impl Settings {
    /// Resolves flags, environment and the config file.
    pub fn resolve(args: &GlobalArgs) -> Result<Settings, SettingsError> {
        let (config, base) = load_config(args.config.as_deref())?;
        let rel = |p: &Path| -> PathBuf {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let rules_dir = args
            .dir
            .clone()
            .or_else(|| config.rules_dir.as_deref().map(rel))
            .unwrap_or_else(|| PathBuf::from("rules"));
        // `--sandbox` keeps its state beside the sandbox org, never in the repository's
        // lockfile and audit log: trying things offline must not put a throwaway org
        // into the committed state or the compliance trail.
        let state_dir = args.sandbox.clone().unwrap_or_default();
        let backend = match &config.state {
            // The sandbox's state is never the repository's (see above).
            Some(state) if args.sandbox.is_none() => {
                backend_of(state, &base).map_err(|message| SettingsError::Invalid {
                    path: config_path(args),
                    message,
                })?
            }
            _ => Backend::File,
        };
        let file_paths = (
            args.lockfile
                .clone()
                .or_else(|| config.lockfile.as_deref().map(rel))
                .unwrap_or_else(|| state_dir.join("speechops.lock")),
            args.audit_log
                .clone()
                .or_else(|| config.audit_log.as_deref().map(rel))
                .unwrap_or_else(|| state_dir.join("speechops-audit.jsonl")),
        );
        if backend != Backend::File && (args.lockfile.is_some() || args.audit_log.is_some()) {
            return Err(SettingsError::Invalid {
                path: config_path(args),
                message: format!(
                    "--lockfile and --audit-log name files of the file backend, but the \
config keeps state in {}; drop the flags (speechops state pull writes a copy)",
                    backend.describe()
                ),
            });
        }
        let (lockfile, audit_log) = working_copy(&backend, &base, &file_paths);
        let timeout =
            std::time::Duration::from_secs(args.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS).max(1));
        let lease = match config.state.as_ref().and_then(|s| s.lease_minutes) {
            Some(m) => std::time::Duration::from_secs(m.saturating_mul(60)),
            None => timeout.saturating_add(std::time::Duration::from_secs(15 * 60)),
        };
        let state = StateSettings {
            backend,
            lockfile: lockfile.clone(),
            audit: audit_log.clone(),
            lease,
        };
        let state_base = StateBase {
            dir: base.clone(),
            file_paths,
            lease,
        };

        let (target_name, connection) = resolve_target(args, &config, &rel)?;
        let max_change_percent = config
            .guards
            .as_ref()
            .and_then(|g| g.max_change_percent)
            .unwrap_or(DEFAULT_MAX_CHANGE_PERCENT);
        Ok(Settings {
            rules_dir,
            lockfile,
            audit_log,
            target_name,
            connection,
            max_change_percent,
            tests_dir: config
                .tests_dir
                .as_deref()
                .map(rel)
                .unwrap_or_else(|| PathBuf::from("speech-tests")),
            sandbox_seed: match config.sandbox_seed.as_deref() {
                Some(p) => Some(rel(p)),
                None => Some(rel(Path::new("sandbox-seed.yaml"))).filter(|p| p.is_file()),
            },
            prune: config.prune,
            allow_takeover: config.takeover == Takeover::Allow,
            notify: config.notify,
            timeout,
            state,
            state_base,
        })
    }
}

/// `${VAR}` in a state address is the environment variable `VAR` (CI systems give the
/// project's API URL and id that way: `${CI_API_V4_URL}/projects/${CI_PROJECT_ID}/…`).
fn expand_env(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unclosed ${{ in state address {text:?}"));
        };
        let name = &after[..end];
        let value = std::env::var(name).map_err(|_| {
            format!(
                "state address {text:?} names the environment variable {name}, which is not set"
            )
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The config file's name for messages.
fn config_path(args: &GlobalArgs) -> PathBuf {
    args.config
        .clone()
        .unwrap_or_else(|| PathBuf::from("speechops.yaml"))
}

/// The backend a `state:` section names, checked.
pub fn backend_of(state: &StateConfig, base: &Path) -> Result<Backend, String> {
    let only = |backend: &str, keys: &[(&str, bool)]| -> Result<(), String> {
        match keys.iter().find(|(_, set)| *set) {
            Some((key, _)) => Err(format!(
                "state.{key} does not apply to the {backend} backend"
            )),
            None => Ok(()),
        }
    };
    let http_keys = [
        ("address", state.address.is_some()),
        ("lockAddress", state.lock_address.is_some()),
        ("unlockAddress", state.unlock_address.is_some()),
        ("updateMethod", state.update_method.is_some()),
        ("lockMethod", state.lock_method.is_some()),
        ("unlockMethod", state.unlock_method.is_some()),
        ("usernameEnv", state.username_env.is_some()),
        ("passwordEnv", state.password_env.is_some()),
    ];
    let git_keys = [
        ("branch", state.branch.is_some()),
        ("remote", state.remote.is_some()),
    ];
    match state.backend {
        BackendName::File => {
            only("file", &http_keys)?;
            only("file", &git_keys)?;
            Ok(Backend::File)
        }
        BackendName::Git => {
            only("git", &http_keys)?;
            Ok(Backend::Git(GitBackend {
                repo: if base.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    base.to_path_buf()
                },
                remote: state.remote.clone().unwrap_or_else(|| "origin".to_string()),
                branch: state
                    .branch
                    .clone()
                    .unwrap_or_else(|| "speechops-state".to_string()),
            }))
        }
        BackendName::Http => {
            only("http", &git_keys)?;
            let Some(address) = state.address.as_deref() else {
                return Err("state.address is required for the http backend".to_string());
            };
            let address = expand_env(address)?;
            let lock_address = state.lock_address.as_deref().map(expand_env).transpose()?;
            let unlock_address = state
                .unlock_address
                .as_deref()
                .map(expand_env)
                .transpose()?;
            for url in [
                Some(&address),
                lock_address.as_ref(),
                unlock_address.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(format!("state address {url:?} is not an http(s) URL"));
                }
            }
            Ok(Backend::Http(HttpBackend {
                lock_address: lock_address.unwrap_or_else(|| address.clone()),
                unlock_address: unlock_address.unwrap_or_else(|| address.clone()),
                address,
                update_method: state.update_method.clone().unwrap_or_else(|| "POST".into()),
                lock_method: state.lock_method.clone().unwrap_or_else(|| "LOCK".into()),
                unlock_method: state
                    .unlock_method
                    .clone()
                    .unwrap_or_else(|| "UNLOCK".into()),
                username_env: state.username_env.clone(),
                password_env: state.password_env.clone(),
            }))
        }
    }
}

fn load_config(explicit: Option<&Path>) -> Result<(Config, PathBuf), SettingsError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let p = PathBuf::from("speechops.yaml");
            if !p.exists() {
                return Ok((Config::default(), PathBuf::new()));
            }
            p
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|source| SettingsError::Read {
        path: path.clone(),
        source,
    })?;
    let config = parse_config(&text).map_err(|message| SettingsError::Invalid {
        path: path.clone(),
        message,
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((config, base))
}

/// The config, read with the spec loader's YAML reader: errors say `line:column`, name
/// the key, and suggest the closest allowed key (`rulesDri` → `rulesDir`).
fn parse_config(text: &str) -> Result<Config, String> {
    use crate::spec::yaml;
    let mut docs = yaml::parse_documents(text).into_iter();
    let node = match docs.next() {
        None => return Ok(Config::default()),
        Some(Err(e)) => {
            let hint = e.hint.map(|h| format!(" — {h}")).unwrap_or_default();
            return Err(format!("{}:{}: {}{hint}", e.line, e.column, e.message));
        }
        Some(Ok(node)) => node,
    };
    if docs.next().is_some() {
        return Err("the config holds one YAML document, not several".into());
    }
    if matches!(node.value, yaml::Value::Null) {
        return Ok(Config::default());
    }
    // Every problem at once (a typo in one key does not hide a wrong value below it).
    let mut diags = Vec::new();
    let mut ctx = crate::spec::validate::Ctx {
        file: Path::new(""),
        node: &node,
        diags: &mut diags,
    };
    let parsed = crate::spec::load::deserialize::<Config>(&mut ctx, (node.line, node.column));
    match parsed {
        Some((config, _)) if diags.is_empty() => Ok(config),
        _ => Err(diags
            .iter()
            .map(|d| {
                let (line, column) = d.location.as_ref().map_or((1, 1), |l| (l.line, l.column));
                let hint = d
                    .hint
                    .as_deref()
                    .map(|h| format!(" — {h}"))
                    .unwrap_or_default();
                format!("{line}:{column}: {}{hint}", d.message)
            })
            .collect::<Vec<_>>()
            .join("\n  and at ")),
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

type Resolved = (String, Result<Connection, String>);

fn resolve_target(
    args: &GlobalArgs,
    config: &Config,
    rel: &dyn Fn(&Path) -> PathBuf,
) -> Result<Resolved, SettingsError> {
    if let Some(dir) = &args.sandbox {
        let name = args.target.clone().unwrap_or_else(|| "sandbox".to_string());
        return Ok((name, Ok(Connection::Sandbox(dir.clone()))));
    }
    let from_target = |name: &str| -> Result<Resolved, SettingsError> {
        let t = config
            .targets
            .get(name)
            .ok_or_else(|| SettingsError::UnknownTarget {
                name: name.to_string(),
                known: if config.targets.is_empty() {
                    "none: add targets to speechops.yaml".to_string()
                } else {
                    config
                        .targets
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            })?;
        let conn = if let Some(dir) = &t.sandbox {
            Ok(Connection::Sandbox(rel(dir)))
        } else {
            let endpoint = match (&t.api_url, &t.region) {
                (Some(url), _) => genesys::checked_api_url(url)
                    .map(|(_, endpoint)| endpoint)
                    .map_err(|e| format!("target {name:?} in speechops.yaml: {e}")),
                (None, Some(region)) => {
                    genesys::endpoint_for_region(region).map_err(|e| e.to_string())
                }
                (None, None) => Err(format!(
                    "target {name:?} in speechops.yaml has no region, apiUrl or sandbox"
                )),
            };
            endpoint.map(|endpoint| Connection::Remote {
                endpoint,
                client_id_env: t.client_id_env.clone(),
                client_secret_env: t.client_secret_env.clone(),
            })
        };
        Ok((name.to_string(), conn))
    };
    if let Some(name) = &args.target {
        return from_target(name);
    }
    let explicit = |url: Option<String>, region: Option<String>| -> Option<Resolved> {
        if let Some(url) = url {
            return Some(match genesys::checked_api_url(&url) {
                Ok((name, endpoint)) => (
                    name,
                    Ok(Connection::Remote {
                        endpoint,
                        client_id_env: None,
                        client_secret_env: None,
                    }),
                ),
                // The name must not carry what the error refuses either.
                Err(e) => ("api-url".to_string(), Err(e)),
            });
        }
        region.map(|region| {
            let conn = genesys::endpoint_for_region(&region)
                .map(|endpoint| Connection::Remote {
                    endpoint,
                    client_id_env: None,
                    client_secret_env: None,
                })
                .map_err(|e| e.to_string());
            (region, conn)
        })
    };
    // Flags beat the config; the environment only fills in when the config names no
    // default target, so a CI-wide GENESYSCLOUD_REGION can never silently redirect a
    // repository's configured target to another org.
    if let Some(r) = explicit(args.api_url.clone(), args.region.clone()) {
        return Ok(r);
    }
    if let Some(name) = &config.default_target {
        return from_target(name);
    }
    let env_url = env_nonempty("GENESYSCLOUD_API_URL").or_else(|| env_nonempty("GENESYS_BASE_URL"));
    if let Some(r) = explicit(env_url, env_nonempty("GENESYSCLOUD_REGION")) {
        return Ok(r);
    }
    Ok((
        "default".to_string(),
        Err(genesys::Error::NoTarget.to_string()),
    ))
}
