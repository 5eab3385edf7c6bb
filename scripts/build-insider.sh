#!/usr/bin/env bash
# Builds the room agent as one static binary that runs in any Linux image (glibc or musl), for
# this machine's architecture (x86_64 or aarch64), and prints its path. Naming the target
# keeps the static flag off build scripts and proc-macros.
#   scripts/build-insider.sh           build, print the path
#   scripts/build-insider.sh --stage   also copy it to build/agents/insider-<arch>, where the
#                                      packages take their agents from
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$(uname -m)
case "$arch" in
  x86_64 | aarch64) ;;
  arm64) arch=aarch64 ;;
  *) echo "the room agent is built for x86_64 or aarch64, not $arch" >&2; exit 1 ;;
esac
triple=$arch-unknown-linux-gnu
var=CARGO_TARGET_$(echo "$triple" | tr 'a-z-' 'A-Z_')_RUSTFLAGS
env "$var=-C target-feature=+crt-static" \
  cargo build --release -p insider --target "$triple" --quiet
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
out=$target_dir/$triple/release/insider
if [ "${1:-}" = --stage ]; then
  mkdir -p build/agents
  cp "$out" "build/agents/insider-$arch"
  out=$PWD/build/agents/insider-$arch
fi
echo "$out"
