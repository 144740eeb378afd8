#!/usr/bin/env bash
# Posts the plan as ONE sticky pull-request comment, updated in place on every push:
# the comment is found by a hidden marker among ALL the pull request's comments
# (paged), written by the identity the token acts as; created only the first time.
# A comment never exceeds GitHub's limit: an oversized plan is cut in the middle, its
# end (the summary, each change's key and the digest, which covers the whole plan)
# kept, and the comment says where the full plan is (the run's artifact).
# Needs GH_TOKEN, GITHUB_REPOSITORY, PR_NUMBER; GITHUB_API_URL defaults to github.com.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
out_dir="${SPEECHOPS_OUT:-.speechops-ci}"
marker='<!-- speechops-plan -->'
body_file="$out_dir/comment.json"
artifact="${SPEECHOPS_ARTIFACT:-speechops-plan}"
python3 - "$out_dir/plan.md" "$marker" "$artifact" "${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID:-0}" > "$body_file" <<'PY'
import json, sys
text = open(sys.argv[1], encoding="utf-8").read()
marker, artifact, run = sys.argv[2], sys.argv[3], sys.argv[4]
# GitHub refuses bodies over 65,536 characters (422): stay well below.
LIMIT = 65000
body = marker + "\n" + text
if len(body) > LIMIT:
    digest_at = text.rfind("<!-- speechops-digest: ")
    keys_at = text.rfind("<!-- speechops-changes", 0, max(digest_at, 0))
    cut = keys_at if keys_at >= 0 else digest_at
    tail = text[cut:] if cut >= 0 else ""
    # The summary line just before the markers stays too.
    summary = text[:cut].rstrip().rsplit("\n", 1)[-1] if cut > 0 else ""
    note = ("\n\n> [!IMPORTANT]\n> This plan is too long for a comment; it is cut here. "
            f"The full plan is the artifact `{artifact}` of [this run]({run}); "
            "the digest below covers all of it.\n\n" + summary + "\n\n")
    room = LIMIT - len(marker) - 1 - len(note) - len(tail)
    if room < 0:
        # Too many changes to list their keys: the digest alone (merge then applies
        # only an unchanged plan).
        tail = text[text.rfind("<!-- speechops-digest: "):]
        room = LIMIT - len(marker) - 1 - len(note) - len(tail)
    head = text[:max(room, 0)]
    head = head[: head.rfind("\n")] if "\n" in head else head
    body = marker + "\n" + head + note + tail
print(json.dumps({"body": body}))
PY
comments=$(gh_all "$API/repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments")
existing=$(printf '%s' "$comments" | plan_comment "$(gh_identity)" "$marker" id)
if [ -n "$existing" ]; then
  curl -fsS -X PATCH "${gh_auth[@]}" --data @"$body_file" \
    "$API/repos/$GITHUB_REPOSITORY/issues/comments/$existing" > /dev/null
  echo "updated comment $existing"
else
  curl -fsS -X POST "${gh_auth[@]}" --data @"$body_file" \
    "$API/repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" > /dev/null
  echo "created the plan comment"
fi
