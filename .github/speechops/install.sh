#!/usr/bin/env bash
# Installs speechops for the reconcile workflow. SPEECHOPS_BIN (already built) wins;
# inside the speechops repository itself it builds from source; elsewhere it installs
# the pinned release from crates.io.
set -euo pipefail
if [ -n "${SPEECHOPS_BIN:-}" ]; then
  echo "using $SPEECHOPS_BIN"
  exit 0
fi
if grep -qs '^name = "speechops"' Cargo.toml; then
  cargo install --locked --path . --root "$HOME/.speechops"
else
  cargo install --locked --root "$HOME/.speechops" speechops --version "${SPEECHOPS_VERSION:-0.1.0}"
fi
echo "$HOME/.speechops/bin" >> "${GITHUB_PATH:-/dev/null}"
