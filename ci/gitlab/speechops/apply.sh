#!/usr/bin/env bash
# Default branch: apply the reviewed changes of every merge request merged since the
# last apply (the commit recorded with the state), each one's plan note being what its
# reviewers saw. Changes whose objects moved since review are refused (exit 3), named,
# and reported on the merge request; nothing nobody reviewed is applied.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
out_dir="${SPEECHOPS_OUT:-.speechops-ci}"
mkdir -p "$out_dir"
sha="${CI_COMMIT_SHA:?}"
last=$("$SPEECHOPS" state show "${EXTRA_ARGS[@]}" --format json 2>/dev/null \
  | python3 -c 'import json,sys; print(json.load(sys.stdin).get("lastAppliedCommit") or "")' 2>/dev/null)
commits="$sha"
if [ -n "$last" ] && git merge-base --is-ancestor "$last" "$sha" 2>/dev/null; then
  range=$(git rev-list --first-parent --reverse "$last..$sha")
  [ -n "$range" ] && commits="$range"
fi
mrs=()
labels=""
for c in $commits; do
  found=$(curl -fsS "${gl_auth[@]}" "$API/repository/commits/$c/merge_requests" | python3 -c '
import json, sys
for mr in json.load(sys.stdin):
    if mr.get("state") == "merged":
        print(mr["iid"], ",".join(mr.get("labels") or []))
        break
') || { echo "error: cannot ask GitLab which merge request produced $c" >&2; exit 1; }
  [ -n "$found" ] || continue
  iid=${found%% *}
  case " ${mrs[*]:-} " in *" $iid "*) continue ;; esac
  mrs+=("$iid")
  labels+="${found#* }"$'\n'
done
if [ "${#mrs[@]}" -eq 0 ]; then
  echo "error: no merge request was merged as $sha: speechops applies only plans reviewed in a merge request" >&2
  exit 1
fi
read -r -a OVERRIDES <<< "$(printf '%s\n' "$labels" | tr ',' '\n' | sort -u | label_flags)"
who=$(gl_identity) || { echo "error: cannot tell who the token is (GET /user)" >&2; exit 1; }
reviewed=()
for iid in "${mrs[@]}"; do
  {
    if meta=$(mr_meta "$iid") && [ -n "$meta" ]; then
      printf '<!-- speechops-pull-request: %s -->\n' "$meta"
    fi
    gl_all "$API/merge_requests/$iid/notes?sort=asc&order_by=created_at" | plan_note "$who"
  } > "$out_dir/reviewed-$iid.md"
  if ! grep -q '<!-- speechops-digest: ' "$out_dir/reviewed-$iid.md"; then
    echo "error: merge request !$iid has no speechops plan note: the plan was never reviewed" >&2
    exit 1
  fi
  reviewed+=(--reviewed "$out_dir/reviewed-$iid.md")
done
"$SPEECHOPS" apply "${EXTRA_ARGS[@]}" "${OVERRIDES[@]}" "${reviewed[@]}" --auto-approve \
  > "$out_dir/apply.txt" 2> "$out_dir/apply.err"
code=$?
cat "$out_dir/apply.txt"
cat "$out_dir/apply.err" >&2
if [ "$code" -eq 3 ]; then
  for iid in "${mrs[@]}"; do
    python3 -c '
import json, sys
err = open(sys.argv[1], encoding="utf-8").read()[-60000:]
print(json.dumps({"body": "<!-- speechops-refusal -->\n### speechops: part of this merge was not applied\n\n"
  "Changes whose objects moved since this plan was reviewed were refused; the rest was applied:\n\n```\n"
  + err + "```\n\nTo apply them, run the pipeline of the default branch by hand with "
  "`SPEECHOPS_REPLAN=1`: it posts the plan as it is now here and applies it once a "
  "maintainer approves the manual `speechops:approved-apply` job."}))' "$out_dir/apply.err" \
      > "$out_dir/refusal.json"
    curl -fsS -X POST "${gl_auth[@]}" -H "Content-Type: application/json" --data @"$out_dir/refusal.json" \
      "$API/merge_requests/$iid/notes" > /dev/null || echo "warning: could not note !$iid" >&2
  done
fi
exit "$code"
