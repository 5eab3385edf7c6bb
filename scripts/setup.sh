#!/usr/bin/env bash
# Installs what Interview Platform needs on Debian/Ubuntu, skipping what is already there.
#   scripts/setup.sh run    what the desktop app needs (WebKitGTK, Docker engine, npm packages)
#   scripts/setup.sh test   the same, plus what the test suite needs (Chromium, Xvfb,
#                           WebKitWebDriver, tauri-driver, busybox for the offline test image)
# Idempotent and quick when nothing is missing. Starts the Docker engine when none answers.
set -euo pipefail
cd "$(dirname "$0")/.."

purpose=${1:-run}
say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "root is needed to run: $* (install sudo or run as root)"; fi
}

# --- toolchains ----------------------------------------------------------------------------
if ! command -v cargo >/dev/null; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
  command -v curl >/dev/null || as_root apt-get install -y --no-install-recommends curl ca-certificates
  say "installing Rust (rustup)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
  export PATH="$HOME/.cargo/bin:$PATH"
fi
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  die "Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none)). Install it from your distribution or nodejs.org, then run this again."
fi

# --- system packages -----------------------------------------------------------------------
packages=(build-essential pkg-config file libssl-dev libwebkit2gtk-4.1-dev
  libayatana-appindicator3-dev librsvg2-dev libxdo-dev docker.io)
if [ "$purpose" = test ]; then
  # nginx: the reverse-proxy test runs its own instance (the system service is not started).
  packages+=(chromium xvfb xauth imagemagick webkit2gtk-driver busybox-static nginx-light xclip
    dbus-daemon python3-xlib unzip
    # The package tests: reading the .rpm, and the privilege step the updater installs with.
    rpm sudo)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Another engine (Docker Desktop, docker-ce) counts as Docker.
if [[ " ${missing[*]} " == *" docker.io "* ]] && command -v dockerd >/dev/null; then
  missing=("${missing[@]/docker.io}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  say "installing system packages: ${missing[*]}"
  as_root apt-get update -q
  # Packages install without starting their services (nginx would take port 80).
  no_start=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d
    no_start=1
  fi
  installed=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    installed=$?
  if [ "$no_start" = 1 ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
  [ "$installed" = 0 ] || die "installing ${missing[*]} failed"
fi

# --- Docker engine -------------------------------------------------------------------------
engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if ! engine_up && [ -z "${DOCKER_HOST:-}" ]; then
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    say "starting the Docker engine (systemctl)"
    as_root systemctl start docker || true
  elif [ "$(id -u)" = 0 ]; then
    say "starting the Docker engine (dockerd, log in /var/log/interview-platform-dockerd.log)"
    nohup dockerd >/var/log/interview-platform-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 150); do engine_up && break; sleep 0.2; done
  engine_up || echo "warning: no Docker engine answers; rooms cannot start until one does (see the app's engine status)" >&2
fi
if engine_up && [ "$(id -u)" != 0 ] && ! docker info >/dev/null 2>&1; then
  echo "hint: add yourself to the docker group: sudo usermod -aG docker $USER (then log in again)" >&2
fi

# --- npm packages --------------------------------------------------------------------------
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  say "installing npm packages"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- test tools ----------------------------------------------------------------------------
if [ "$purpose" = test ]; then
  if ! command -v tauri-driver >/dev/null || ! tauri-driver --help >/dev/null 2>&1; then
    say "installing tauri-driver"
    cargo install tauri-driver --locked --version 2.1.0 --quiet
  fi
fi
