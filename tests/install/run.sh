#!/usr/bin/env bash
# Tests .github/speechops/install.sh with no network: a fake release on disk
# (file:// URLs), a stub speechops binary and a stub cargo.
#   bash tests/install/run.sh
# Prints one summary line (and each failed check, with the installer's output; every
# check with INSTALL_TEST_VERBOSE=1); exits non-zero when any check fails.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
installer="$root/.github/speechops/install.sh"
version=0.1.0

work=$(mktemp -d "${TMPDIR:-/tmp}/speechops-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
ok() {
  passed=$((passed + 1))
  if [ -n "${INSTALL_TEST_VERBOSE:-}" ]; then printf 'ok   %s\n' "$1"; fi
}
not_ok() {
  failed=$((failed + 1))
  printf 'FAIL %s\n' "$1"
  if [ -n "${2:-}" ] && [ -f "$2" ]; then sed 's/^/     | /' "$2"; fi
}
check() { # NAME LOG COMMAND...
  local name="$1" log="$2"
  shift 2
  if "$@"; then ok "$name"; else not_ok "$name" "$log"; fi
}

# The target the installer will pick on this machine (same rules as install.sh).
case "$(uname -m)" in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) arch=$(uname -m) ;;
esac
case "$(uname -s)" in
  Linux) target="$arch-unknown-linux-musl" ;;
  Darwin) target="$arch-apple-darwin" ;;
  *) echo "install test: unsupported test platform $(uname -s)" >&2; exit 1 ;;
esac
archive="speechops-$target.tar.gz"

sha256() {
  if command -v sha256sum > /dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  else
    shasum -a 256 "$1" | cut -d ' ' -f 1
  fi
}

# A fake release: the archive holds a script named speechops, as the real archives hold
# the binary at the top level.
make_release() { # DIR
  local dir="$1"
  mkdir -p "$dir" "$work/pkg"
  cat > "$work/pkg/speechops" <<EOF
#!/bin/sh
if [ "\${1:-}" = "--version" ]; then echo "speechops $version"; exit 0; fi
echo "fake speechops \$*"
EOF
  chmod 755 "$work/pkg/speechops"
  tar -czf "$dir/$archive" -C "$work/pkg" speechops
  (cd "$dir" && printf '%s  %s\n' "$(sha256 "$archive")" "$archive" > "$archive.sha256")
  (cd "$dir" && cat ./*.sha256 > SHA256SUMS)
}

# Runs the installer from a scratch directory (not a speechops checkout), with the
# environment of a CI runner: a fresh install dir, GITHUB_PATH, a stub cargo.
run_installer() { # NAME RELEASE_DIR [VAR=VALUE...]
  local name="$1" release="$2"
  shift 2
  mkdir -p "$work/$name/cwd"
  : > "$work/$name/github_path"
  (
    cd "$work/$name/cwd"
    env -u SPEECHOPS_VERSION -u SPEECHOPS_BIN -u SPEECHOPS_TARGET -u SPEECHOPS_FROM_GIT \
      SPEECHOPS_RELEASE_URL="file://$release" \
      SPEECHOPS_INSTALL_DIR="$work/$name/bin" \
      SPEECHOPS_CARGO="$work/cargo-stub" \
      CARGO_STUB_LOG="$work/$name/cargo.args" \
      GITHUB_PATH="$work/$name/github_path" \
      "$@" bash "$installer"
  ) > "$work/$name/out" 2>&1
}

# A stub cargo: records its arguments and "builds" a speechops into --root's bin.
cat > "$work/cargo-stub" <<EOF
#!/usr/bin/env bash
printf '%s\n' "\$*" >> "\$CARGO_STUB_LOG"
root=""
while [ \$# -gt 0 ]; do
  if [ "\$1" = --root ]; then root="\$2"; shift; fi
  shift
done
mkdir -p "\$root/bin"
printf '#!/bin/sh\necho "speechops $version"\n' > "\$root/bin/speechops"
chmod 755 "\$root/bin/speechops"
EOF
chmod 755 "$work/cargo-stub"

# 1. A good release installs, runs, and is put on GITHUB_PATH.
make_release "$work/release-good"
if run_installer good "$work/release-good"; then
  ok "good release: install.sh exits 0"
else
  not_ok "good release: install.sh exits 0" "$work/good/out"
fi
check "good release: binary installed and runs" "$work/good/out" \
  test "$("$work/good/bin/speechops" --version 2> /dev/null)" = "speechops $version"
check "good release: prints the installed version" "$work/good/out" \
  grep -qx "speechops $version" "$work/good/out"
check "good release: SHA-256 verified" "$work/good/out" grep -q 'SHA-256 verified' "$work/good/out"
check "good release: install dir added to GITHUB_PATH" "$work/good/out" \
  grep -qx "$work/good/bin" "$work/good/github_path"
check "good release: cargo not called" "$work/good/out" test ! -e "$work/good/cargo.args"

# 2. The same release with only SHA256SUMS (no per-archive .sha256) installs too.
cp -r "$work/release-good" "$work/release-sums"
rm "$work/release-sums/$archive.sha256"
if run_installer sums "$work/release-sums" && [ -x "$work/sums/bin/speechops" ]; then
  ok "SHA256SUMS only: installed"
else
  not_ok "SHA256SUMS only: installed" "$work/sums/out"
fi

# 3. A tampered archive (checksum mismatch) is refused: exit non-zero, nothing
#    installed, a message naming the checksum, no fallback build.
cp -r "$work/release-good" "$work/release-bad"
printf 'echo pwned\n' >> "$work/pkg/speechops"
tar -czf "$work/release-bad/$archive" -C "$work/pkg" speechops
if run_installer bad "$work/release-bad"; then
  not_ok "tampered archive: install.sh exits non-zero" "$work/bad/out"
else
  ok "tampered archive: install.sh exits non-zero"
fi
check "tampered archive: nothing installed" "$work/bad/out" test ! -e "$work/bad/bin/speechops"
check "tampered archive: message mentions the checksum" "$work/bad/out" \
  grep -qi 'checksum mismatch' "$work/bad/out"
check "tampered archive: no fallback build" "$work/bad/out" test ! -e "$work/bad/cargo.args"
check "tampered archive: GITHUB_PATH untouched" "$work/bad/out" test ! -s "$work/bad/github_path"

# 4. An archive without any checksum is refused.
cp -r "$work/release-good" "$work/release-nosum"
rm "$work/release-nosum/$archive.sha256" "$work/release-nosum/SHA256SUMS"
if ! run_installer nosum "$work/release-nosum" && [ ! -e "$work/nosum/bin/speechops" ] \
  && grep -qi 'checksum' "$work/nosum/out"; then
  ok "no checksum published: refused, nothing installed"
else
  not_ok "no checksum published: refused, nothing installed" "$work/nosum/out"
fi

# 5. No archive for this platform: falls back to cargo install of the pinned version,
#    says so, and installs what it built.
mkdir -p "$work/release-empty"
if run_installer fallback "$work/release-empty"; then
  ok "missing archive: install.sh exits 0 through the fallback"
else
  not_ok "missing archive: install.sh exits 0 through the fallback" "$work/fallback/out"
fi
check "missing archive: cargo install --locked speechops --version $version" "$work/fallback/out" \
  grep -q -- "^install --locked speechops --version $version " "$work/fallback/cargo.args"
check "missing archive: says it falls back" "$work/fallback/out" \
  grep -qi 'falling back' "$work/fallback/out"
check "missing archive: fallback binary installed" "$work/fallback/out" \
  test "$("$work/fallback/bin/speechops" --version 2> /dev/null)" = "speechops $version"

# 6. SPEECHOPS_FROM_GIT=1: the fallback builds the repository's tag.
if run_installer git "$work/release-empty" SPEECHOPS_FROM_GIT=1 SPEECHOPS_REPO=acme/speechops \
  && grep -q -- "^install --locked --git https://github.com/acme/speechops --tag v$version speechops " \
    "$work/git/cargo.args"; then
  ok "SPEECHOPS_FROM_GIT=1: cargo install --git ... --tag v$version"
else
  not_ok "SPEECHOPS_FROM_GIT=1: cargo install --git ... --tag v$version" "$work/git/out"
fi

# 7. SPEECHOPS_VERSION wins over the VERSION file (and a leading v is dropped).
if run_installer pinned "$work/release-empty" SPEECHOPS_VERSION=v9.8.7 \
  && grep -q -- "^install --locked speechops --version 9.8.7 " "$work/pinned/cargo.args"; then
  ok "SPEECHOPS_VERSION overrides the VERSION file"
else
  not_ok "SPEECHOPS_VERSION overrides the VERSION file" "$work/pinned/out"
fi

# 8. Inside a checkout of speechops (its own CI), with no SPEECHOPS_VERSION: builds the
#    checkout; SPEECHOPS_FROM_SOURCE=0 installs the release instead.
mkdir -p "$work/checkout/cwd" "$work/release-only/cwd"
printf '[package]\nname = "speechops"\n' > "$work/checkout/cwd/Cargo.toml"
printf '[package]\nname = "speechops"\n' > "$work/release-only/cwd/Cargo.toml"
if run_installer checkout "$work/release-good" \
  && grep -q -- "^install --locked --path \. " "$work/checkout/cargo.args"; then
  ok "speechops checkout: builds the checkout"
else
  not_ok "speechops checkout: builds the checkout" "$work/checkout/out"
fi
if run_installer release-only "$work/release-good" SPEECHOPS_FROM_SOURCE=0 \
  && [ ! -e "$work/release-only/cargo.args" ] && grep -q 'SHA-256 verified' "$work/release-only/out"; then
  ok "speechops checkout, SPEECHOPS_FROM_SOURCE=0: installs the release"
else
  not_ok "speechops checkout, SPEECHOPS_FROM_SOURCE=0: installs the release" "$work/release-only/out"
fi

total=$((passed + failed))
if [ "$failed" -eq 0 ]; then
  echo "install.sh tests: $passed/$total passed ($target)"
else
  echo "install.sh tests: $failed of $total FAILED ($target)"
  exit 1
fi
