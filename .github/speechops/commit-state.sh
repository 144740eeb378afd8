#!/usr/bin/env bash
# For repositories that keep state in files (the `file` backend) on an unprotected
# main: commits the lockfile and audit log back. With `state: {backend: git}` (or
# http) in speechops.yaml, speechops has already stored them, and this does nothing.
# A protected main refuses this push (GH006): use the git backend there.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
backend=$("$SPEECHOPS" state show "${EXTRA_ARGS[@]}" --format json 2>/dev/null \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["backend"])' 2>/dev/null || echo file)
if [ "$backend" != "file" ]; then
  echo "state is kept in $backend; nothing to commit"
  exit 0
fi
files=()
for f in "${SPEECHOPS_LOCKFILE:-speechops.lock}" "${SPEECHOPS_AUDIT_LOG:-speechops-audit.jsonl}"; do
  [ -f "$f" ] && files+=("$f")
done
[ "${#files[@]}" -gt 0 ] || { echo "no state files"; exit 0; }
git add -- "${files[@]}"
if git diff --cached --quiet; then
  echo "state unchanged"
  exit 0
fi
git -c user.name="speechops[bot]" -c user.email="speechops@users.noreply.github.com" \
  commit -m "speechops: record apply of ${GITHUB_SHA:-HEAD} [skip ci]"
if ! git push origin "HEAD:${GITHUB_REF_NAME:-main}"; then
  echo "error: the push of the lockfile and audit log was refused (a protected branch?)." >&2
  echo "Keep state off main: set 'state: {backend: git}' in speechops.yaml and run" >&2
  echo "'speechops state migrate --to git' once (docs/howto-rule-repo.md)." >&2
  exit 1
fi
