#!/usr/bin/env bash
# Installs what is missing and runs the whole test suite: formatting, lints, Rust tests
# against a real Docker engine and SQLite file, UI checks and unit tests, the room page in
# Chromium, the desktop window under Xvfb through WebDriver, and the packages: built, the
# .deb installed and updated through the app's updater. Prints each step's time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
target_dir=${CARGO_TARGET_DIR:-$root/target}
artifacts=$root/artifacts
mkdir -p "$artifacts"

timings=()
step() {
  local name=$1; shift
  printf '\n\033[1m==> %s\033[0m\n' "$name"
  local start=$SECONDS status=0
  "$@" || status=$?
  local took=$((SECONDS - start))
  if [ "$status" -ne 0 ]; then
    timings+=("$(printf '%-28s %4ds  FAILED (exit %d)' "$name" "$took" "$status")")
    exit "$status"
  fi
  timings+=("$(printf '%-28s %4ds' "$name" "$took")")
}
report() {
  printf '\nStep timings:\n'
  for t in "${timings[@]}"; do printf '  %s\n' "$t"; done
  printf '  %-28s %4ds\n' total "$SECONDS"
}
trap report EXIT

# Each step is one command or an && chain: errexit does not apply inside a function whose
# status is being tested, so a failure must end the chain by itself.
setup() { bash scripts/setup.sh test; }
images() {
  bash scripts/build-test-images.sh &&
    INTERVIEW_PLATFORM_OFFLINE_CATALOG=$(bash scripts/offline-images.sh | tail -n 1) &&
    export INTERVIEW_PLATFORM_OFFLINE_CATALOG
}
ui_build() { (cd ui && npm run build --silent); }
fmt() { cargo fmt --all -- --check; }
clippy() { cargo clippy --workspace --all-targets --locked -- -D warnings; }
insider_static() {
  INTERVIEW_PLATFORM_INSIDER=$(bash scripts/build-insider.sh --stage) &&
    export INTERVIEW_PLATFORM_INSIDER &&
    { file "$INTERVIEW_PLATFORM_INSIDER" | grep -Eq 'static(-pie)? linked|statically linked' ||
      { echo "insider is not static: $(file "$INTERVIEW_PLATFORM_INSIDER")"; return 1; }; }
}
rust_tests() { cargo test --workspace --locked; }
ui_checks() { (cd ui && npm run --silent check && npm run --silent lint && npm test --silent); }
server_build() { cargo build -p backend --bin interview-platform-server --locked --quiet; }
browser_e2e() {
  INTERVIEW_PLATFORM_SERVER=$target_dir/debug/interview-platform-server ARTIFACTS=$artifacts \
    node --test ui/e2e/room-page.test.mjs ui/e2e/live-room.test.mjs ui/e2e/proxy.test.mjs
}
# The packages are built as the release workflow builds them, but trusting the test key
# (src-tauri/tests/updater): this version's .deb and .rpm, a newer .deb to update to, and the
# headless server's tar.gz. The window tests run the app binary of this version.
packages=$target_dir/packages
under_test=$target_dir/desktop-under-test
desktop_packages() {
  local version next
  # Signed with the test key, as the release signs with the project's.
  local -x TAURI_SIGNING_PRIVATE_KEY TAURI_SIGNING_PRIVATE_KEY_PASSWORD=''
  TAURI_SIGNING_PRIVATE_KEY=$(cat src-tauri/tests/updater/test.key) &&
    version=$(node -p 'require("./tauri.conf.json").version') &&
    next=$(node -p 'const [a, b, c] = process.argv[1].split("."); `${a}.${b}.${+c + 1}`' "$version") &&
    rm -rf "$packages" "$under_test" && mkdir -p "$under_test" &&
    bash scripts/bundle.sh --config src-tauri/tests/updater/test.conf.json --out "$packages" &&
    cp "$target_dir/release/interview-platform" "$under_test/" &&
    cp "$INTERVIEW_PLATFORM_INSIDER" "$under_test/insider-$(uname -m)" &&
    bash scripts/bundle.sh --bundles deb --config src-tauri/tests/updater/test.conf.json \
      --version "$next" --out "$packages" &&
    bash scripts/package-server.sh "$packages" &&
    ls -l "$packages"
}
desktop_e2e() {
  INTERVIEW_PLATFORM_APP=$under_test/interview-platform ARTIFACTS=$artifacts \
    INTERVIEW_PLATFORM_SERVER=$target_dir/debug/interview-platform-server \
    dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" node --test ui/e2e/desktop.test.mjs
}
packages_e2e() {
  INTERVIEW_PLATFORM_PACKAGES=$packages ARTIFACTS=$artifacts \
    INTERVIEW_PLATFORM_SERVER=$target_dir/debug/interview-platform-server \
    dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" node --test ui/e2e/packages.test.mjs
}

step "install what is missing" setup
step "offline test images" images
step "ui build" ui_build
step "cargo fmt" fmt
step "cargo clippy" clippy
step "static insider" insider_static
step "rust tests" rust_tests
step "ui check, lint, vitest" ui_checks
step "headless server build" server_build
step "room page in chromium" browser_e2e
step "packages (deb, rpm, server)" desktop_packages
step "desktop window (webdriver)" desktop_e2e
step "install and update (deb)" packages_e2e
printf '\nAll steps passed. Screenshots: %s\n' "$artifacts"
