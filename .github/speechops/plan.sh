#!/usr/bin/env bash
# Pull request: plan in markdown for the sticky comment and the job summary, and save
# the plan. Outputs: exitcode (0 no changes, 2 changes), changes (true|false).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
out_dir="${SPEECHOPS_OUT:-.speechops-ci}"
mkdir -p "$out_dir"
# Overrides from the pull request's labels (the event payload lists them).
labels=""
if [ -n "${GITHUB_EVENT_PATH:-}" ] && [ -f "$GITHUB_EVENT_PATH" ]; then
  labels=$(python3 -c '
import json, sys
event = json.load(open(sys.argv[1], encoding="utf-8"))
for label in (event.get("pull_request") or {}).get("labels") or []:
    print(label.get("name", ""))
' "$GITHUB_EVENT_PATH")
fi
read -r -a OVERRIDES <<< "$(printf '%s\n' "$labels" | label_flags)"
"$SPEECHOPS" plan "${EXTRA_ARGS[@]}" "${OVERRIDES[@]}" --hits --format markdown --detailed-exitcode \
  --out "$out_dir/plan.json" > "$out_dir/plan.md" 2> "$out_dir/plan.err"
code=$?
# (The overrides from the labels are part of the plan and its digest; speechops says so.)
digest_of < "$out_dir/plan.md" > "$out_dir/digest.txt"
output digest "$(cat "$out_dir/digest.txt")"
cat "$out_dir/plan.err" >&2
if [ "$code" -eq 3 ]; then
  # The plan is shown as it is, under the reason merge would apply nothing.
  {
    echo "### speechops: apply would refuse this plan (exit 3)"
    echo
    echo "Merging would apply nothing. Fix the specs, or, if the change is intended, add the"
    echo "label that overrides the guard (\`speechops:force\`, \`speechops:allow-empty\`,"
    echo "\`speechops:allow-takeover\`); a foreseen conflict has no override."
    echo
    echo '```'
    cat "$out_dir/plan.err"
    echo '```'
    echo
    cat "$out_dir/plan.md"
  } > "$out_dir/plan.refused.md"
  mv "$out_dir/plan.refused.md" "$out_dir/plan.md"
  summary < "$out_dir/plan.md"
  output exitcode 3
  output changes false
  cat "$out_dir/plan.md"
  exit 1
fi
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
