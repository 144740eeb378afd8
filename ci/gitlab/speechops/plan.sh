#!/usr/bin/env bash
# Merge request: the plan in markdown (.speechops-ci/plan.md) with the guard
# overrides of the merge request's labels, posted as ONE note updated in place.
# Exit 0 when the plan can be applied (changes or not), 1 when it fails or would be
# refused (so the pipeline, a required check, fails before merge).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
out_dir="${SPEECHOPS_OUT:-.speechops-ci}"
mkdir -p "$out_dir"
read -r -a OVERRIDES <<< "$(printf '%s\n' "${CI_MERGE_REQUEST_LABELS:-}" | tr ',' '\n' | label_flags)"
"$SPEECHOPS" plan "${EXTRA_ARGS[@]}" "${OVERRIDES[@]}" --format markdown --detailed-exitcode \
  --out "$out_dir/plan.json" > "$out_dir/plan.md" 2> "$out_dir/plan.err"
code=$?
cat "$out_dir/plan.err" >&2
if [ "$code" -ne 0 ] && [ "$code" -ne 2 ]; then
  {
    if [ "$code" -eq 3 ]; then
      echo "### speechops: apply would refuse this plan (exit 3)"
      echo
      echo "Merging would apply nothing. Fix the specs, or add the label that overrides the guard."
    else
      echo "### speechops plan failed (exit $code)"
    fi
    echo
    echo '```'
    cat "$out_dir/plan.err"
    echo '```'
    echo
    cat "$out_dir/plan.md"
  } > "$out_dir/plan.failed.md"
  mv "$out_dir/plan.failed.md" "$out_dir/plan.md"
fi
if [ -n "${CI_MERGE_REQUEST_IID:-}" ] && [ -n "${SPEECHOPS_GITLAB_TOKEN:-}" ]; then
  python3 -c '
import json, sys
print(json.dumps({"body": sys.argv[1] + "\n" + open(sys.argv[2], encoding="utf-8").read()}))' \
    "$MARKER" "$out_dir/plan.md" > "$out_dir/note.json"
  notes=$(gl_all "$API/merge_requests/$CI_MERGE_REQUEST_IID/notes?sort=asc&order_by=created_at") \
    || { echo "error: cannot read the merge request's notes" >&2; exit 1; }
  existing=$(printf '%s' "$notes" | plan_note "$(gl_identity)" id)
  if [ -n "$existing" ]; then
    curl -fsS -X PUT "${gl_auth[@]}" -H "Content-Type: application/json" --data @"$out_dir/note.json" \
      "$API/merge_requests/$CI_MERGE_REQUEST_IID/notes/$existing" > /dev/null
    echo "updated note $existing"
  else
    curl -fsS -X POST "${gl_auth[@]}" -H "Content-Type: application/json" --data @"$out_dir/note.json" \
      "$API/merge_requests/$CI_MERGE_REQUEST_IID/notes" > /dev/null
    echo "created the plan note"
  fi
fi
cat "$out_dir/plan.md"
[ "$code" -eq 0 ] || [ "$code" -eq 2 ]
