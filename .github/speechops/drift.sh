#!/usr/bin/env bash
# Schedule: fail when the org drifted from the repository (plan --detailed-exitcode).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
out_dir="${SPEECHOPS_OUT:-.speechops-ci}"
mkdir -p "$out_dir"
"$SPEECHOPS" plan "${EXTRA_ARGS[@]}" --format markdown --detailed-exitcode > "$out_dir/drift.md"
code=$?
case "$code" in
  0) echo "### speechops drift check: the org matches the repository" | summary
     output drift false ;;
  2) { echo "### speechops drift check: the org drifted from the repository"; echo; cat "$out_dir/drift.md"; } | summary
     output drift true
     echo "::error::the org drifted from the repository; see the job summary" ;;
  *) echo "### speechops drift check failed (exit $code)" | summary ;;
esac
cat "$out_dir/drift.md"
[ "$code" -eq 0 ]
