#!/usr/bin/env bash
# Installs what is missing, builds, and starts the Interview Platform desktop app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
export PATH="$HOME/.cargo/bin:$PATH"

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  cat >&2 <<'MSG'
No display: the desktop app needs a graphical session.
  - Headless, serving rooms without a window:
      cargo run --release -p backend --bin interview-platform-server -- serve
  - The window on a virtual display:
      xvfb-run -a -s "-screen 0 1280x800x24" bash scripts/run.sh
MSG
  exit 1
fi

(cd ui && npm run build --silent)
insider=$(bash scripts/build-insider.sh)
(cd src-tauri && ../ui/node_modules/.bin/tauri build --no-bundle --ci >/dev/null)
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
cp "$insider" "$target_dir/release/insider"
exec "$target_dir/release/interview-platform"
