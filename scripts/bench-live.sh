#!/usr/bin/env bash
# The live room's benchmark (edit propagation vs y-websocket's reference server; terminal
# echo and bulk output vs terminado). Prints a table of figures; not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cache=${INTERVIEW_PLATFORM_CACHE:-/var/cache/interview-platform}
bash scripts/build-test-images.sh >&2
INTERVIEW_PLATFORM_INSIDER=$(bash scripts/build-insider.sh)
export INTERVIEW_PLATFORM_INSIDER
(cd ui && npm ci --silent && npm run build --silent) >&2
cargo build --release -p backend --bin interview-platform-server --quiet
venv="$cache/bench-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import terminado' 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet terminado tornado >&2
fi
INTERVIEW_PLATFORM_SERVER=$CARGO_TARGET_DIR/release/interview-platform-server \
  TERMINADO_PYTHON=$venv/bin/python node ui/bench/live-bench.mjs
