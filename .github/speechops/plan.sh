#!/usr/bin/env bash
# Pull request: plan in markdown for the sticky comment and the job summary, and save
# the plan. Outputs: exitcode (0 no changes, 2 changes), changes (true|false).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
out_dir="${SPEECHOPS_OUT:-.speechops-ci}"
mkdir -p "$out_dir"
"$SPEECHOPS" plan "${EXTRA_ARGS[@]}" --format markdown --detailed-exitcode \
  --out "$out_dir/plan.json" > "$out_dir/plan.md" 2> "$out_dir/plan.err"
code=$?
cat "$out_dir/plan.err" >&2
if [ "$code" -ne 0 ] && [ "$code" -ne 2 ]; then
  {
    echo "### speechops plan failed (exit $code)"
    echo
    echo '```'
    cat "$out_dir/plan.err"
    echo '```'
  } | tee "$out_dir/plan.md" | summary
  output exitcode "$code"
  output changes false
  exit 1
fi
summary < "$out_dir/plan.md"
output exitcode "$code"
output changes "$([ "$code" -eq 2 ] && echo true || echo false)"
cat "$out_dir/plan.md"
