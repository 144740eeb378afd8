//! `speechops test`: run the detection tests (SPEC 10) against the specs, locally.

use std::path::Path;

use crate::Outcome;
use crate::cli::{Format, GlobalArgs, TestArgs};
use crate::model::Object;
use crate::settings::Settings;
use crate::testing::{self, Report};

/// Runs `speechops test`.
pub fn run(global: &GlobalArgs, args: &TestArgs) -> anyhow::Result<Outcome> {
    let settings = Settings::resolve(global)?;
    let dir = args
        .tests
        .clone()
        .unwrap_or_else(|| settings.tests_dir.clone());
    if !dir.is_dir() {
        anyhow::bail!(
            "no detection tests: {} is not a folder (see docs/testing-rules.md)",
            dir.display()
        );
    }
    let Some(tree) = super::load_valid_specs(&settings, global)? else {
        return Ok(Outcome::Failure);
    };
    let objects: Vec<&Object> = tree.specs.iter().map(|s| &s.object).collect();
    let Some(report) = run_tests(&dir, &objects)? else {
        return Ok(Outcome::Failure);
    };
    let out = match global.format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&serde_json::json!({
                "formatVersion": 1,
                "tests": report,
            }))
            .unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Markdown => testing::markdown(&report),
        Format::Text | Format::Csv | Format::Html => testing::text(&report),
    };
    super::out(&out);
    Ok(if report.ok() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

/// Loads and runs the tests under `dir` against these specs. Problems in the test
/// files are printed (file:line:column) and give `None`: a test that cannot be read
/// must not pass silently.
pub fn run_tests(dir: &Path, objects: &[&Object]) -> anyhow::Result<Option<Report>> {
    let topics = testing::topics_by_name(objects);
    let (tests, diags) = testing::load(dir, &topics);
    if !diags.is_empty() {
        eprint!("{}", crate::spec::diagnostics::render_text(&diags, false));
        eprintln!(
            "error: the detection tests in {} are invalid; fix them first",
            dir.display()
        );
        return Ok(None);
    }
    Ok(Some(testing::run(&tests, &topics)))
}
