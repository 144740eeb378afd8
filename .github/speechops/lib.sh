# Shared helpers of the reconcile scripts (sourced, not run).
# SPEECHOPS_BIN: the binary (default: speechops on PATH).
# SPEECHOPS_ARGS: extra global flags, e.g. "--target prod" or "--sandbox" for a dry run.
SPEECHOPS="${SPEECHOPS_BIN:-speechops}"
read -r -a EXTRA_ARGS <<< "${SPEECHOPS_ARGS:-}"
summary() { cat >> "${GITHUB_STEP_SUMMARY:-/dev/null}"; }
output() { echo "$1=$2" >> "${GITHUB_OUTPUT:-/dev/null}"; }
