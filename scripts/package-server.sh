#!/usr/bin/env bash
# Packages the headless server for Linux servers: one binary and the room agents staged in
# build/agents, as dist/interview-platform-server-<version>-linux-<arch>.tar.gz. Prints its path.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target_dir=${CARGO_TARGET_DIR:-$root/target}
out=${1:-$root/dist}
if ! compgen -G "build/agents/insider-*" >/dev/null; then
  echo "no room agent staged in build/agents: run scripts/build-insider.sh --stage first" >&2
  exit 1
fi
cargo build --release --locked --quiet -p backend --bin interview-platform-server
version=$(cargo pkgid -p backend | sed 's/.*[#@]//')
arch=$(uname -m)
case "$arch" in arm64) arch=aarch64 ;; esac
name=interview-platform-server-$version-linux-$arch
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/agents" "$out"
cp "$target_dir/release/interview-platform-server" "$stage/$name/"
cp build/agents/insider-* "$stage/$name/agents/"
cp LICENSE "$stage/$name/"
cat >"$stage/$name/README.txt" <<TXT
Interview Platform server $version (Linux, $arch)

Serves interview rooms without a window: candidates and interviewers open links in a browser.
Needs a Docker engine. The room agents in agents/ must stay beside the binary.

  ./interview-platform-server serve --help     start the room server
  ./interview-platform-server rooms --help     create, list and stop rooms
TXT
tar -C "$stage" -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"
