# Shared helpers of the reconcile scripts (sourced, not run).
# SPEECHOPS_BIN: the binary (default: speechops on PATH).
# SPEECHOPS_ARGS: extra global flags, e.g. "--target prod" or "--sandbox" for a dry run.
SPEECHOPS="${SPEECHOPS_BIN:-speechops}"
read -r -a EXTRA_ARGS <<< "${SPEECHOPS_ARGS:-}"
summary() { cat >> "${GITHUB_STEP_SUMMARY:-/dev/null}"; }
output() { echo "$1=$2" >> "${GITHUB_OUTPUT:-/dev/null}"; }

# Guard overrides come only from the pull request's labels, which reviewers see and
# set (never from a repository-wide setting): speechops:force, speechops:allow-empty,
# speechops:allow-takeover. Reads label names, one per line, on stdin.
label_flags() {
  local flags=() name
  while IFS= read -r name; do
    case "$name" in
      speechops:force) flags+=(--force) ;;
      speechops:allow-empty) flags+=(--allow-empty) ;;
      speechops:allow-takeover) flags+=(--allow-takeover) ;;
    esac
  done
  echo "${flags[*]:-}"
}

# The reviewed-plan digest in a plan's markdown or comment body (stdin): the LAST
# marker, which speechops writes as the final line (a spec's text shown in the plan
# cannot stand in for it).
digest_of() {
  python3 -c '
import re, sys
found = re.findall(r"<!-- speechops-digest: ([0-9a-f]{64}) -->", sys.stdin.read())
print(found[-1] if found else "")
'
}
