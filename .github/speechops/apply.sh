#!/usr/bin/env bash
# Push to main: apply exactly what was reviewed. The pull request merged as this commit
# is found through the GitHub API; its sticky plan comment holds the digest of the plan
# reviewers saw, and its labels the guard overrides they approved. The plan is
# computed again and applied only if its digest is unchanged; otherwise nothing is
# applied, the job fails and the summary says what differs.
# Needs GH_TOKEN, GITHUB_REPOSITORY, GITHUB_SHA; GITHUB_API_URL defaults to github.com.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
out_dir="${SPEECHOPS_OUT:-.speechops-ci}"
mkdir -p "$out_dir"
api="${GITHUB_API_URL:-https://api.github.com}"
auth=(-H "Authorization: Bearer ${GH_TOKEN:-}" -H "Accept: application/vnd.github+json")

fail() {
  { echo "### speechops apply: nothing was applied"; echo; printf '%s\n' "$@"; } | summary
  printf 'error: %s\n' "$@" >&2
  output exitcode 1
  exit 1
}

pulls=$(curl -fsS "${auth[@]}" "$api/repos/$GITHUB_REPOSITORY/commits/$GITHUB_SHA/pulls") \
  || fail "cannot ask GitHub which pull request produced $GITHUB_SHA"
pr=$(printf '%s' "$pulls" | python3 -c '
import json, sys
merged = [p for p in json.load(sys.stdin) if p.get("merged_at")]
print(merged[0]["number"] if merged else "")
')
[ -n "$pr" ] || fail "no pull request was merged as $GITHUB_SHA: speechops applies only plans reviewed in a pull request"
labels=$(printf '%s' "$pulls" | python3 -c '
import json, sys
merged = [p for p in json.load(sys.stdin) if p.get("merged_at")]
for label in merged[0].get("labels") or []:
    print(label.get("name", ""))
')
read -r -a OVERRIDES <<< "$(printf '%s\n' "$labels" | label_flags)"

comments=$(curl -fsS "${auth[@]}" "$api/repos/$GITHUB_REPOSITORY/issues/$pr/comments?per_page=100") \
  || fail "cannot read the comments of pull request #$pr"
# Only the workflow's own sticky comment counts (written by github-actions[bot]), the
# last one if there are several.
reviewed=$(printf '%s' "$comments" | python3 -c '
import json, sys
bot = [c for c in json.load(sys.stdin)
       if (c.get("user") or {}).get("login") == "github-actions[bot]"
       and "<!-- speechops-plan -->" in (c.get("body") or "")]
sys.stdout.write(bot[-1]["body"] if bot else "")
' | digest_of)
[ -n "$reviewed" ] || fail "pull request #$pr has no speechops plan comment with a digest: the plan was never reviewed"

"$SPEECHOPS" plan "${EXTRA_ARGS[@]}" "${OVERRIDES[@]}" --format markdown \
  --out "$out_dir/merge-plan.json" > "$out_dir/merge-plan.md" 2> "$out_dir/merge-plan.err"
code=$?
cat "$out_dir/merge-plan.err" >&2
if [ "$code" -ne 0 ]; then
  fail "the plan at merge failed or would be refused (exit $code):" "$(cat "$out_dir/merge-plan.err")"
fi
now=$(digest_of < "$out_dir/merge-plan.md")
if [ "$now" != "$reviewed" ]; then
  {
    echo "### speechops apply: the plan changed since review; nothing was applied"
    echo
    echo "Pull request #$pr was reviewed with plan digest \`$reviewed\`; the plan at merge has"
    echo "digest \`$now\`. The org or the repository changed in between (another merge, or an"
    echo "edit in Genesys). Open a pull request (or re-run this one's checks) to review the"
    echo "plan below, then merge it."
    echo
    cat "$out_dir/merge-plan.md"
  } | summary
  echo "error: the plan at merge (digest $now) is not the one reviewed in #$pr ($reviewed)" >&2
  output exitcode 1
  exit 1
fi

"$SPEECHOPS" apply "$out_dir/merge-plan.json" "${EXTRA_ARGS[@]}" "${OVERRIDES[@]}" --auto-approve \
  > "$out_dir/apply.txt"
code=$?
{
  echo "### speechops apply of the plan reviewed in #$pr (exit $code)"
  echo
  echo '```'
  cat "$out_dir/apply.txt"
  echo '```'
} | summary
cat "$out_dir/apply.txt"
output exitcode "$code"
exit "$code"
