#!/usr/bin/env bash
# Builds the room agent as one static binary that runs in any Linux image (glibc or musl).
# Naming the target keeps the static flag off build scripts and proc-macros.
set -euo pipefail
cd "$(dirname "$0")/.."
triple=x86_64-unknown-linux-gnu
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release -p insider --target "$triple" --quiet
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
echo "$target_dir/$triple/release/insider"
