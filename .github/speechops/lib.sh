# Shared helpers of the reconcile scripts (sourced, not run).
# SPEECHOPS_BIN: the binary (default: speechops on PATH).
# SPEECHOPS_ARGS: extra global flags, e.g. "--target prod" or "--sandbox" for a dry run.
SPEECHOPS="${SPEECHOPS_BIN:-speechops}"
read -r -a EXTRA_ARGS <<< "${SPEECHOPS_ARGS:-}"
summary() { cat >> "${GITHUB_STEP_SUMMARY:-/dev/null}"; }
output() { echo "$1=$2" >> "${GITHUB_OUTPUT:-/dev/null}"; }

# Guard overrides come only from the pull request's labels, which reviewers see and
# set (never from a repository-wide setting): speechops:force, speechops:allow-empty,
# speechops:allow-takeover. Reads label names, one per line, on stdin.
label_flags() {
  local flags=() name
  while IFS= read -r name; do
    case "$name" in
      speechops:force) flags+=(--force) ;;
      speechops:allow-empty) flags+=(--allow-empty) ;;
      speechops:allow-takeover) flags+=(--allow-takeover) ;;
    esac
  done
  echo "${flags[*]:-}"
}

# The reviewed-plan digest in a plan's markdown or comment body (stdin): the LAST
# marker, which speechops writes as the final line (a spec's text shown in the plan
# cannot stand in for it).
digest_of() {
  python3 -c '
import re, sys
found = re.findall(r"<!-- speechops-digest: ([0-9a-f]{64}) -->", sys.stdin.read())
print(found[-1] if found else "")
'
}

# GitHub REST calls. GH_TOKEN, GITHUB_API_URL (default github.com).
API="${GITHUB_API_URL:-https://api.github.com}"
gh_auth=(-H "Authorization: Bearer ${GH_TOKEN:-}" -H "Accept: application/vnd.github+json")

# Every item of a paged list endpoint ($1, without per_page/page), as one JSON array:
# pages of 100 until a short page (GitHub caps per_page at 100).
gh_all() {
  local url="$1" page=1 sep='?' out="[]" chunk
  case "$url" in *\?*) sep='&' ;; esac
  while :; do
    chunk=$(curl -fsS "${gh_auth[@]}" "${url}${sep}per_page=100&page=${page}") || return 1
    out=$(python3 -c '
import json, sys
a = json.loads(sys.argv[1]); b = json.loads(sys.argv[2])
print(json.dumps(a + b))' "$out" "$chunk")
    [ "$(printf '%s' "$chunk" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -ge 100 ] || break
    page=$((page + 1))
  done
  printf '%s' "$out"
}

# The login the token acts as: GET /user for a user's token; for the workflow's
# token or a GitHub App's installation token (which /user refuses) nothing, and the
# plan comment is then recognised as the one written by a bot account (type "Bot"),
# which no person can post as. SPEECHOPS_BOT_LOGIN pins it.
gh_identity() {
  if [ -n "${SPEECHOPS_BOT_LOGIN:-}" ]; then
    printf '%s' "$SPEECHOPS_BOT_LOGIN"
    return
  fi
  curl -fsS "${gh_auth[@]}" "$API/user" 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin).get("login",""))' 2>/dev/null || true
}

# The body of the last plan comment (marker $2) written by identity $1 (or by a bot
# when $1 is empty), from a JSON array of comments on stdin; its id with $3 = id.
plan_comment() {
  python3 -c '
import json, sys
who, marker, want = sys.argv[1], sys.argv[2], sys.argv[3]
def ours(c):
    user = c.get("user") or {}
    if marker not in (c.get("body") or ""):
        return False
    return user.get("login") == who if who else user.get("type") == "Bot"
found = [c for c in json.load(sys.stdin) if ours(c)]
if found:
    c = found[-1]
    sys.stdout.write(str(c["id"]) if want == "id" else c.get("body") or "")
' "$1" "$2" "${3:-body}"
}

# Who proposed, merged and approved pull request $1, as one JSON line for the audit
# log: {number, url, author, mergedBy, approvers}; approvers are the users whose last
# review is an approval.
pr_meta() {
  local pr="$1" detail reviews
  detail=$(curl -fsS "${gh_auth[@]}" "$API/repos/$GITHUB_REPOSITORY/pulls/$pr") || return 1
  reviews=$(gh_all "$API/repos/$GITHUB_REPOSITORY/pulls/$pr/reviews") || reviews="[]"
  python3 -c '
import json, sys
pr, reviews = json.loads(sys.argv[1]), json.loads(sys.argv[2])
last = {}
for r in reviews:
    who = (r.get("user") or {}).get("login")
    if who and r.get("state") in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
        last[who] = r["state"]
meta = {
    "number": pr.get("number"),
    "url": pr.get("html_url"),
    "author": (pr.get("user") or {}).get("login"),
    "mergedBy": (pr.get("merged_by") or {}).get("login"),
    "approvers": sorted(w for w, s in last.items() if s == "APPROVED"),
}
# It sits in an HTML comment: no "--" may appear in it.
print(json.dumps({k: v for k, v in meta.items() if v is not None}).replace("--", "-\\u002d"))
' "$detail" "$reviews"
}
