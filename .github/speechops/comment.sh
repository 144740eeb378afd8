#!/usr/bin/env bash
# Posts the plan as ONE sticky pull-request comment, updated in place on every push:
# the comment is found by a hidden marker, then PATCHed; created only the first time.
# Needs GH_TOKEN, GITHUB_REPOSITORY, PR_NUMBER; GITHUB_API_URL defaults to github.com.
set -euo pipefail
out_dir="${SPEECHOPS_OUT:-.speechops-ci}"
api="${GITHUB_API_URL:-https://api.github.com}"
marker='<!-- speechops-plan -->'
body_file="$out_dir/comment.json"
python3 - "$out_dir/plan.md" "$marker" > "$body_file" <<'PY'
import json, sys
text = open(sys.argv[1], encoding="utf-8").read()
print(json.dumps({"body": sys.argv[2] + "\n" + text}))
PY
auth=(-H "Authorization: Bearer ${GH_TOKEN}" -H "Accept: application/vnd.github+json")
comments=$(curl -fsS "${auth[@]}" \
  "$api/repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments?per_page=100")
existing=$(printf '%s' "$comments" | python3 -c '
import json, sys
marker = sys.argv[1]
for c in json.load(sys.stdin):
    if marker in (c.get("body") or ""):
        print(c["id"]); break
' "$marker")
if [ -n "$existing" ]; then
  curl -fsS -X PATCH "${auth[@]}" --data @"$body_file" \
    "$api/repos/$GITHUB_REPOSITORY/issues/comments/$existing" > /dev/null
  echo "updated comment $existing"
else
  curl -fsS -X POST "${auth[@]}" --data @"$body_file" \
    "$api/repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" > /dev/null
  echo "created the plan comment"
fi
