#!/usr/bin/env bash
# Push to main: apply, with the result in the job summary.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
out_dir="${SPEECHOPS_OUT:-.speechops-ci}"
mkdir -p "$out_dir"
"$SPEECHOPS" apply "${EXTRA_ARGS[@]}" --auto-approve > "$out_dir/apply.txt"
code=$?
{
  echo "### speechops apply (exit $code)"
  echo
  echo '```'
  cat "$out_dir/apply.txt"
  echo '```'
} | summary
cat "$out_dir/apply.txt"
output exitcode "$code"
exit "$code"
