#!/usr/bin/env bash
# Installs speechops for the reconcile workflow and the speechops GitHub Action, without
# compiling: it downloads the pinned release's prebuilt binary for this platform,
# VERIFIES its SHA-256 and unpacks it. Only when no prebuilt binary exists for the
# platform (or the archive cannot be downloaded) does it build from source with cargo.
#
# Environment (all optional):
#   SPEECHOPS_VERSION      release to install [default: .github/speechops/VERSION beside
#                          this script]; a leading "v" is ignored
#   SPEECHOPS_REPO         owner/name of the repository publishing the releases
#                          [default: speechops/speechops]
#   SPEECHOPS_RELEASE_URL  base URL of the release's files [default:
#                          https://github.com/$SPEECHOPS_REPO/releases/download/v$VERSION];
#                          file:// URLs work (tests, mirrors)
#   SPEECHOPS_INSTALL_DIR  where the binary goes [default: $HOME/.local/bin]; added to
#                          $GITHUB_PATH when that is set
#   SPEECHOPS_TARGET       Rust target triple of the archive [default: from uname]
#   SPEECHOPS_FROM_GIT=1   the fallback builds the repository's tag v$VERSION instead of
#                          the crates.io release
#   SPEECHOPS_CARGO        cargo command of the fallback [default: cargo]
#   SPEECHOPS_FROM_SOURCE  auto (default): inside a checkout of speechops itself, with no
#                          SPEECHOPS_VERSION set, build that checkout (so its own CI
#                          exercises its code); 1: always; 0: never
#   SPEECHOPS_BIN          an already built binary: nothing is installed
#
# Release files, as .github/workflows/release.yml publishes them:
#   speechops-<target>.tar.gz (.zip on Windows), speechops-<target>.tar.gz.sha256 (one
#   "<sha256>  <file>" line) and SHA256SUMS (every archive).
# Exit status: 0 installed; 1 anything else (a checksum mismatch installs nothing).
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { printf 'speechops install: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

if [ -n "${SPEECHOPS_BIN:-}" ]; then
  say "using $SPEECHOPS_BIN (SPEECHOPS_BIN is set): nothing to install"
  exit 0
fi

version="${SPEECHOPS_VERSION:-}"
if [ -z "$version" ] && [ -f "$script_dir/VERSION" ]; then
  version=$(tr -d ' \t\r\n' < "$script_dir/VERSION")
fi
version="${version#v}"
[ -n "$version" ] || die "no version: set SPEECHOPS_VERSION or write $script_dir/VERSION"

repo="${SPEECHOPS_REPO:-speechops/speechops}"
base_url="${SPEECHOPS_RELEASE_URL:-https://github.com/$repo/releases/download/v$version}"
base_url="${base_url%/}"
install_dir="${SPEECHOPS_INSTALL_DIR:-$HOME/.local/bin}"
cargo_cmd="${SPEECHOPS_CARGO:-cargo}"

# The Rust target triple of the prebuilt binary for this machine; empty when none is
# published for it.
detect_target() {
  local os arch
  os=$(uname -s)
  arch=$(uname -m)
  case "$arch" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) return 0 ;;
  esac
  case "$os" in
    Linux) echo "$arch-unknown-linux-musl" ;;
    Darwin) echo "$arch-apple-darwin" ;;
    MINGW* | MSYS* | CYGWIN* | Windows_NT)
      [ "$arch" = x86_64 ] && echo "x86_64-pc-windows-msvc"
      ;;
  esac
  return 0
}

sha256_of() {
  if command -v sha256sum > /dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum > /dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  else
    die "neither sha256sum nor shasum is installed: cannot verify the download"
  fi
}

fetch() { # URL FILE
  curl --proto '=https,file' --proto-redir '=https' --tlsv1.2 -fsSL --retry 3 --retry-delay 2 -o "$2" "$1"
}

# Writes PATH_ENTRY to $GITHUB_PATH (as a Windows path on Windows runners).
add_to_github_path() {
  [ -n "${GITHUB_PATH:-}" ] || return 0
  local dir="$1"
  if command -v cygpath > /dev/null 2>&1; then
    dir=$(cygpath -w "$dir")
  fi
  echo "$dir" >> "$GITHUB_PATH"
}

# Moves the built or unpacked binary FILE into the install directory (atomically: a
# temporary name in the same directory, then a rename), checks it runs, reports.
install_binary() {
  local src="$1" name dest
  name=$(basename "$src")
  mkdir -p "$install_dir"
  dest="$install_dir/$name"
  cp "$src" "$dest.tmp.$$"
  chmod 755 "$dest.tmp.$$"
  mv -f "$dest.tmp.$$" "$dest"
  add_to_github_path "$install_dir"
  local reported
  reported=$("$dest" --version) || die "the installed $dest does not run"
  say "installed $dest"
  echo "$reported"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/speechops-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Build from source with cargo (crates.io release, the repository's tag, or a checkout).
build_from_source() { # REASON
  local root="$tmp/cargo-root" exe=speechops
  case "$(uname -s)" in MINGW* | MSYS* | CYGWIN* | Windows_NT) exe=speechops.exe ;; esac
  command -v "$cargo_cmd" > /dev/null 2>&1 \
    || die "$1, and $cargo_cmd is not installed to build it from source"
  local args
  if [ "$from_source" = checkout ]; then
    args=(install --locked --path . --root "$root")
    say "$1: building this checkout from source: $cargo_cmd ${args[*]}"
  elif [ "${SPEECHOPS_FROM_GIT:-0}" = 1 ]; then
    args=(install --locked --git "https://github.com/$repo" --tag "v$version" speechops --root "$root")
    say "$1: falling back to building from source: $cargo_cmd ${args[*]}"
  else
    args=(install --locked speechops --version "$version" --root "$root")
    say "$1: falling back to building from source: $cargo_cmd ${args[*]}"
  fi
  "$cargo_cmd" "${args[@]}" >&2 || die "$cargo_cmd install failed"
  [ -f "$root/bin/$exe" ] || die "$cargo_cmd install did not produce $root/bin/$exe"
  install_binary "$root/bin/$exe"
  exit 0
}

from_source=release
case "${SPEECHOPS_FROM_SOURCE:-auto}" in
  1) from_source=checkout ;;
  0) ;;
  *)
    if [ -z "${SPEECHOPS_VERSION:-}" ] && grep -qs '^name = "speechops"' Cargo.toml; then
      from_source=checkout
    fi
    ;;
esac
if [ "$from_source" = checkout ]; then
  build_from_source "inside a checkout of speechops"
fi

target="${SPEECHOPS_TARGET:-$(detect_target)}"
if [ -z "$target" ]; then
  build_from_source "no prebuilt speechops for $(uname -s) $(uname -m)"
fi
case "$target" in
  *-windows-*) archive="speechops-$target.zip" ;;
  *) archive="speechops-$target.tar.gz" ;;
esac

say "speechops $version for $target from $base_url/$archive"
if ! fetch "$base_url/$archive" "$tmp/$archive"; then
  build_from_source "cannot download $base_url/$archive (no prebuilt binary for $target?)"
fi

# The expected checksum: the archive's own .sha256 file, else its line in SHA256SUMS.
# A release whose archive exists but whose checksum does not is refused, not trusted.
expected=""
if fetch "$base_url/$archive.sha256" "$tmp/archive.sha256" 2> /dev/null; then
  expected=$(awk 'NR == 1 { print $1 }' "$tmp/archive.sha256")
elif fetch "$base_url/SHA256SUMS" "$tmp/SHA256SUMS" 2> /dev/null; then
  expected=$(awk -v f="$archive" '{ name = $2; sub(/^\*/, "", name) } name == f { print $1; exit }' \
    "$tmp/SHA256SUMS")
fi
expected=$(printf '%s' "$expected" | tr 'A-F' 'a-f')
if ! printf '%s' "$expected" | grep -Eq '^[0-9a-f]{64}$'; then
  die "no SHA-256 checksum for $archive at $base_url ($archive.sha256 or SHA256SUMS): refusing to install an unverified binary"
fi
actual=$(sha256_of "$tmp/$archive")
if [ "$actual" != "$expected" ]; then
  die "checksum mismatch for $archive: expected SHA-256 $expected, got $actual; the download is corrupt or was tampered with: nothing was installed"
fi
say "SHA-256 verified: $actual"

mkdir "$tmp/unpacked"
case "$archive" in
  *.zip)
    if command -v unzip > /dev/null 2>&1; then
      unzip -q "$tmp/$archive" -d "$tmp/unpacked"
    else
      tar -xf "$tmp/$archive" -C "$tmp/unpacked"
    fi
    exe=speechops.exe
    ;;
  *)
    tar -xzf "$tmp/$archive" -C "$tmp/unpacked"
    exe=speechops
    ;;
esac
binary=$(find "$tmp/unpacked" -type f -name "$exe" -print -quit)
[ -n "$binary" ] || die "$archive holds no $exe"
install_binary "$binary"
