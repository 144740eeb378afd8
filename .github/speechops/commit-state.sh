#!/usr/bin/env bash
# Commits the updated lockfile and audit log back to the branch, so the next plan on
# any pull request starts from the state this apply recorded.
set -euo pipefail
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
git push origin "HEAD:${GITHUB_REF_NAME:-main}"
