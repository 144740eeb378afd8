//! `speechops plan`: fetch remote state, diff, print the plan, optionally save it.

use crate::Outcome;
use crate::cli::{Format, GlobalArgs, OverrideArgs, PlanArgs};
use crate::diff::{self, Desired, Overrides, Plan};
use crate::planfile::SavedPlan;
use crate::remote::{self, RemoteState};
use crate::render;
use crate::settings::Settings;
use crate::spec::SpecTree;
use crate::state::{Lockfile, TargetState};

/// Runs `speechops plan`.
pub fn run(global: &GlobalArgs, args: &PlanArgs) -> anyhow::Result<Outcome> {
    let settings = Settings::resolve(global)?;
    let Some(mut tree) = super::load_valid_specs(&settings, global)? else {
        return Ok(Outcome::Failure);
    };
    let mut desired = take_desired(&mut tree);
    // The state as the backend holds it (a fresh clone sees what the last apply wrote).
    crate::state::backend::Session::read(&settings.state)?;
    let mut lock = Lockfile::load(&settings.lockfile)?;
    let rt = super::runtime()?;
    let prune = args.prune || settings.prune;
    let computed = rt.block_on(async {
        let conn = super::connect(&settings, args.parallelism).await?;
        let org_id = super::org_id(&conn.client).await;
        // In memory only: a plan never writes the lockfile.
        if !locate_state(&mut lock, &settings.target_name, org_id.as_deref()) {
            return anyhow::Ok(None);
        }
        let mut target_state = lock.target(&settings.target_name);
        let (mut plan, remote) = compute(
            &conn.client,
            &settings,
            &mut desired,
            &mut target_state,
            prune,
        )
        .await?;
        if let Some(days) = args.hits {
            crate::hits::annotate(&conn.client, &mut plan, days, crate::hits::now_ms()).await;
        }
        anyhow::Ok(Some((plan, remote)))
    })?;
    let Some((mut plan, remote)) = computed else {
        return Ok(Outcome::Refused);
    };
    plan.overrides = overrides(&settings, &args.overrides);
    // The repository's detection tests run with every plan and show in it.
    if settings.tests_dir.is_dir() {
        let objects: Vec<&crate::model::Object> = desired.iter().map(|d| &*d.object).collect();
        match super::test::run_tests(&settings.tests_dir, &objects)? {
            Some(report) => plan.tests = Some(report),
            None => return Ok(Outcome::Failure),
        }
    }
    print_plan_as(global, &plan, &remote.fingerprint, args.yaml_diff);
    if plan.tests.as_ref().is_some_and(|t| !t.ok()) {
        eprintln!("error: detection tests failed; see the plan output");
        return Ok(Outcome::Failure);
    }
    // What reviewers see must be what runs: a plan that apply would refuse fails here.
    if let Some(outcome) = refusal(&plan, overrides(&settings, &args.overrides)) {
        return Ok(outcome);
    }
    if let Some(out) = &args.out {
        SavedPlan::new(&plan, &remote.fingerprint, prune, &tree.files).save(out)?;
        eprintln!(
            "Saved the plan to {}; apply it with `speechops apply {}{}`.",
            out.display(),
            out.display(),
            target_flags(global)
        );
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Outcome::Changes
    } else {
        Outcome::Success
    })
}

/// Finds the target's state in the lockfile by org id as well as by name (SPEC 4):
/// says so when it moved from another target name, and refuses (false) when the target
/// now points at another org than its state belongs to.
pub fn locate_state(lock: &mut Lockfile, target: &str, org_id: Option<&str>) -> bool {
    match lock.locate(target, org_id) {
        Ok(crate::state::Found::AsIs) => true,
        Ok(crate::state::Found::Moved { from }) => {
            eprintln!(
                "note: the lockfile's state for target {from:?} belongs to the same org; it is \
now kept under {target:?}"
            );
            true
        }
        Err(e) => {
            eprintln!("error: {e}");
            false
        }
    }
}

/// The overrides in force: the flags, plus config `takeover: allow`.
pub fn overrides(settings: &Settings, args: &OverrideArgs) -> Overrides {
    Overrides {
        force: args.force,
        allow_empty: args.allow_empty,
        allow_takeover: args.allow_takeover || settings.allow_takeover,
    }
}

/// The flags that chose this plan's target, for the `apply` hint (a saved plan is
/// refused against another target).
fn target_flags(global: &GlobalArgs) -> String {
    let mut flags = String::new();
    if let Some(dir) = &global.sandbox {
        flags.push_str(&format!(" --sandbox={}", dir.display()));
    }
    if let Some(t) = &global.target {
        flags.push_str(&format!(" --target {t}"));
    }
    if let Some(r) = &global.region {
        flags.push_str(&format!(" --region {r}"));
    }
    if let Some(u) = &global.api_url {
        flags.push_str(&format!(" --api-url {u}"));
    }
    flags
}

/// Why applying this plan would be refused, told on stderr: errors found at plan time
/// (exit 1), then guards not overridden (exit 3, each naming its override). `None`
/// when it would pass.
pub fn refusal(plan: &Plan, o: Overrides) -> Option<Outcome> {
    if !plan.errors.is_empty() {
        for e in &plan.errors {
            eprintln!("error: {e}");
        }
        eprintln!("The plan cannot be applied; nothing was changed.");
        return Some(Outcome::Failure);
    }
    let blocking = plan.blocking(o);
    if blocking.is_empty() {
        return None;
    }
    for g in blocking {
        match g.guard.override_flag() {
            Some(flag) => eprintln!(
                "refused by a safety guard ({flag} overrides it): {}",
                g.message
            ),
            None => eprintln!(
                "refused: foreseen conflict (no override; fix the specs): {}",
                g.message
            ),
        }
    }
    eprintln!("apply refuses this plan; nothing was changed.");
    Some(Outcome::Refused)
}

/// The desired side of a diff, taking the specs out of a loaded tree (the tree keeps
/// its file list and diagnostics).
pub fn take_desired(tree: &mut SpecTree) -> Vec<Desired> {
    std::mem::take(&mut tree.specs)
        .into_iter()
        .map(|s| Desired {
            external_at: s
                .external
                .iter()
                .map(|(class, name, at)| {
                    let at = format!("{}:{}:{}", at.file.display(), at.line, at.column);
                    (class.to_string(), name.clone(), at)
                })
                .collect(),
            object: std::sync::Arc::new(s.object),
            renamed_from: s.renamed_from,
            location: Some(format!(
                "{}:{}:{}",
                s.location.file.display(),
                s.location.line,
                s.location.column
            )),
        })
        .collect()
}

/// Fetches remote state and computes the plan.
/// Topic identities are aligned across the specs, the org and `lock` first
/// ([`remote::align_identities`]), so `desired` and `lock` come back as the plan saw
/// them.
pub async fn compute(
    client: &crate::genesys::Client,
    settings: &Settings,
    desired: &mut [Desired],
    lock: &mut TargetState,
    prune: bool,
) -> anyhow::Result<(Plan, RemoteState)> {
    let mut remote = remote::fetch(client, desired, lock).await?;
    remote::align_identities(desired, &mut remote, lock);
    let (desired, lock) = (&*desired, &*lock);
    let mut plan = diff::plan(&diff::PlanInput {
        target: &settings.target_name,
        desired,
        remote: &remote.objects,
        lock,
        prune,
        max_change_percent: settings.max_change_percent,
    });
    plan.errors.extend(remote.errors.iter().cloned());
    Ok((plan, remote))
}

/// Prints a plan in the chosen format to stdout.
pub fn print_plan(global: &GlobalArgs, plan: &Plan, fingerprint: &str) {
    print_plan_as(global, plan, fingerprint, false);
}

/// [`print_plan`], with updates as the YAML's line diff when `yaml_diff`.
pub fn print_plan_as(global: &GlobalArgs, plan: &Plan, fingerprint: &str, yaml_diff: bool) {
    let out = match global.format {
        Format::Text | Format::Csv | Format::Html => render::text(
            plan,
            render::TextStyle {
                color: super::use_color(global),
                yaml_diff,
            },
        ),
        Format::Markdown => render::markdown(plan),
        Format::Json => render::json(plan, fingerprint),
    };
    super::out(&out);
}
