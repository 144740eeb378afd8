#!/usr/bin/env bash
# Push to main: apply exactly what was reviewed.
#
# Every pull request merged since the last apply is found (GitHub keeps only one
# pending run per concurrency group, so one run may have to cover several merges;
# none is skipped). Each one's sticky plan comment holds the changes its reviewers saw
# and their keys; `speechops apply --reviewed` applies each reviewed change whose
# object is still as it was at review, refuses (exit 3) the ones that moved, naming
# them, and applies no drift nobody reviewed. A refusal is posted on the pull
# request with the way forward. Guard overrides come from the pull requests' labels.
# Needs GH_TOKEN, GITHUB_REPOSITORY, GITHUB_SHA; GITHUB_API_URL defaults to github.com.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
out_dir="${SPEECHOPS_OUT:-.speechops-ci}"
mkdir -p "$out_dir"
marker='<!-- speechops-plan -->'

fail() {
  { echo "### speechops apply: nothing was applied"; echo; printf '%s\n' "$@"; } | summary
  printf 'error: %s\n' "$@" >&2
  output exitcode 1
  exit 1
}

# The commits since the last applied one (first parent: one per merge), newest last;
# just this commit when the last one is unknown or not an ancestor.
last=$("$SPEECHOPS" state show "${EXTRA_ARGS[@]}" --format json 2>/dev/null \
  | python3 -c 'import json,sys; print(json.load(sys.stdin).get("lastAppliedCommit") or "")' 2>/dev/null)
commits="$GITHUB_SHA"
if [ -n "$last" ] && git merge-base --is-ancestor "$last" "$GITHUB_SHA" 2>/dev/null; then
  range=$(git rev-list --first-parent --reverse "$last..$GITHUB_SHA")
  [ -n "$range" ] && commits="$range"
fi

prs=()
labels=""
for sha in $commits; do
  pulls=$(curl -fsS "${gh_auth[@]}" "$API/repos/$GITHUB_REPOSITORY/commits/$sha/pulls") \
    || fail "cannot ask GitHub which pull request produced $sha"
  found=$(printf '%s' "$pulls" | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("merged_at"):
        print(p["number"]); break
')
  [ -n "$found" ] || continue
  case " ${prs[*]:-} " in *" $found "*) continue ;; esac
  prs+=("$found")
  labels+=$(printf '%s' "$pulls" | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("merged_at"):
        for label in p.get("labels") or []:
            print(label.get("name", ""))
        break
')$'\n'
done
[ "${#prs[@]}" -gt 0 ] || fail "no pull request was merged as $GITHUB_SHA: speechops applies only plans reviewed in a pull request"
read -r -a OVERRIDES <<< "$(printf '%s\n' "$labels" | sort -u | label_flags)"

who=$(gh_identity)
reviewed=()
for pr in "${prs[@]}"; do
  comments=$(gh_all "$API/repos/$GITHUB_REPOSITORY/issues/$pr/comments") \
    || fail "cannot read the comments of pull request #$pr"
  {
    # Who proposed, merged and approved it, for the audit log (first line: the
    # comment cannot write above its own marker).
    if meta=$(pr_meta "$pr") && [ -n "$meta" ]; then
      printf '<!-- speechops-pull-request: %s -->\n' "$meta"
    fi
    printf '%s' "$comments" | plan_comment "$who" "$marker"
  } > "$out_dir/reviewed-$pr.md"
  [ -n "$(digest_of < "$out_dir/reviewed-$pr.md")" ] \
    || fail "pull request #$pr has no speechops plan comment with a digest: the plan was never reviewed"
  reviewed+=(--reviewed "$out_dir/reviewed-$pr.md")
done

"$SPEECHOPS" apply "${EXTRA_ARGS[@]}" "${OVERRIDES[@]}" "${reviewed[@]}" --auto-approve \
  > "$out_dir/apply.txt" 2> "$out_dir/apply.err"
code=$?
cat "$out_dir/apply.err" >&2
list=$(printf '#%s ' "${prs[@]}")
{
  echo "### speechops apply of the plans reviewed in ${list% } (exit $code)"
  echo
  echo '```'
  cat "$out_dir/apply.txt" "$out_dir/apply.err"
  echo '```'
} | summary
cat "$out_dir/apply.txt"
if [ "$code" -eq 3 ]; then
  # Tell each pull request, where its authors and reviewers look.
  for pr in "${prs[@]}"; do
    python3 - "$out_dir/apply.err" "$pr" > "$out_dir/refusal.json" <<'PY'
import json, sys
err = open(sys.argv[1], encoding="utf-8").read()[-60000:]
body = ("<!-- speechops-refusal -->\n### speechops: part of this merge was not applied\n\n"
        "Changes whose objects moved in the org since this plan was reviewed were refused; "
        "everything else reviewed was applied:\n\n```\n" + err + "```\n\n"
        "To apply them, a maintainer runs the **speechops** workflow by hand "
        f"(*Run workflow*, `pr: {sys.argv[2]}`): it posts the plan as it is now here, and "
        "applies it only once an approver of the `speechops-apply` environment approves that run.\n")
print(json.dumps({"body": body}))
PY
    curl -fsS -X POST "${gh_auth[@]}" --data @"$out_dir/refusal.json" \
      "$API/repos/$GITHUB_REPOSITORY/issues/$pr/comments" > /dev/null \
      || echo "warning: could not comment on #$pr" >&2
  done
fi
output exitcode "$code"
exit "$code"
