# Shared helpers of the GitLab CI scripts (sourced, not run).
# SPEECHOPS_BIN: the binary (default: speechops on PATH).
# SPEECHOPS_ARGS: extra global flags, e.g. "--target prod".
# SPEECHOPS_GITLAB_TOKEN: a project access token (scope `api`) for the merge-request
#   notes; CI_JOB_TOKEN cannot write notes.
SPEECHOPS="${SPEECHOPS_BIN:-speechops}"
read -r -a EXTRA_ARGS <<< "${SPEECHOPS_ARGS:-}"
API="${CI_API_V4_URL:-https://gitlab.com/api/v4}/projects/${CI_PROJECT_ID:-0}"
gl_auth=(-H "PRIVATE-TOKEN: ${SPEECHOPS_GITLAB_TOKEN:-}")
MARKER='<!-- speechops-plan -->'

# Guard overrides come only from the merge request's labels, which reviewers see:
# speechops:force, speechops:allow-empty, speechops:allow-takeover. Names on stdin.
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

# Every item of a paged GitLab list ($1), as one JSON array (100 per page).
gl_all() {
  local url="$1" page=1 sep='?' out="[]" chunk
  case "$url" in *\?*) sep='&' ;; esac
  while :; do
    chunk=$(curl -fsS "${gl_auth[@]}" "${url}${sep}per_page=100&page=${page}") || return 1
    out=$(python3 -c '
import json, sys
print(json.dumps(json.loads(sys.argv[1]) + json.loads(sys.argv[2])))' "$out" "$chunk")
    [ "$(printf '%s' "$chunk" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -ge 100 ] || break
    page=$((page + 1))
  done
  printf '%s' "$out"
}

# The username the token acts as (GET /user).
gl_identity() {
  curl -fsS "${gl_auth[@]}" "${CI_API_V4_URL:-https://gitlab.com/api/v4}/user" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["username"])'
}

# From the notes (JSON array on stdin): the last plan note by user $1; its id with $2=id.
plan_note() {
  python3 -c '
import json, sys
who, marker, want = sys.argv[1], sys.argv[2], sys.argv[3]
found = [n for n in json.load(sys.stdin)
         if (n.get("author") or {}).get("username") == who and marker in (n.get("body") or "")]
if found:
    n = found[-1]
    sys.stdout.write(str(n["id"]) if want == "id" else n.get("body") or "")
' "$1" "$MARKER" "${2:-body}"
}

# Who proposed, merged and approved merge request $1, as one JSON line for the audit
# log: {number, url, author, mergedBy, approvers}.
mr_meta() {
  local iid="$1" detail approvals
  detail=$(curl -fsS "${gl_auth[@]}" "$API/merge_requests/$iid") || return 1
  approvals=$(curl -fsS "${gl_auth[@]}" "$API/merge_requests/$iid/approvals") || approvals="{}"
  python3 -c '
import json, sys
mr, ap = json.loads(sys.argv[1]), json.loads(sys.argv[2])
merged = mr.get("merged_by") or mr.get("merge_user") or {}
meta = {
    "number": mr.get("iid"),
    "url": mr.get("web_url"),
    "author": (mr.get("author") or {}).get("username"),
    "mergedBy": merged.get("username"),
    "approvers": sorted((a.get("user") or {}).get("username", "") for a in ap.get("approved_by") or []),
}
print(json.dumps({k: v for k, v in meta.items() if v is not None}).replace("--", "-\\u002d"))
' "$detail" "$approvals"
}
