#!/usr/bin/env bash
# Builds the desktop app's packages for this OS, each carrying the room agents staged in
# build/agents (scripts/build-insider.sh --stage), each signed for the updater, and copies
# them with their signatures into dist/ as interview-platform_<version>_<arch>.<ext>.
#
#   TAURI_SIGNING_PRIVATE_KEY=… scripts/bundle.sh [--bundles deb,rpm] [--config FILE]...
#                                                 [--version X.Y.Z] [--out DIR]
#
# --config merges another config over tauri.conf.json (a test key, say); --version builds
# that version instead of the one in tauri.conf.json. Default bundles: deb,rpm on Linux,
# app,dmg on macOS, nsis,msi on Windows.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target_dir=${CARGO_TARGET_DIR:-$root/target}
out=$root/dist
bundles=
version=
configs=(--config "$root/src-tauri/bundle.conf.json")
# An absolute path (macOS has no `realpath -m`).
abs() { mkdir -p "$(dirname "$1")" && echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --bundles) bundles=$2; shift 2 ;;
    --config) configs+=(--config "$(abs "$2")"); shift 2 ;;
    --version) version=$2; shift 2 ;;
    --out) out=$(abs "$2"); shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
case "$(uname -s)" in
  Linux) os=linux; : "${bundles:=deb,rpm}" ;;
  Darwin) os=macos; : "${bundles:=app,dmg}" ;;
  MINGW* | MSYS* | CYGWIN*) os=windows; : "${bundles:=nsis,msi}" ;;
  *) echo "unsupported OS: $(uname -s)" >&2; exit 1 ;;
esac
if [ -z "${TAURI_SIGNING_PRIVATE_KEY:-}" ]; then
  echo "set TAURI_SIGNING_PRIVATE_KEY (and TAURI_SIGNING_PRIVATE_KEY_PASSWORD): every package is signed for the updater (docs/releasing.md)" >&2
  exit 1
fi
if ! compgen -G "build/agents/insider-*" >/dev/null; then
  echo "no room agent staged in build/agents: run scripts/build-insider.sh --stage first" >&2
  exit 1
fi
[ -n "$version" ] && configs+=(--config "{\"version\":\"$version\"}")
version=${version:-$(node -p 'require("./tauri.conf.json").version')}

(cd src-tauri && "$root/ui/node_modules/.bin/tauri" build --ci --bundles "$bundles" "${configs[@]}")

arch=$(uname -m)
case "$arch" in arm64) arch=aarch64 ;; amd64 | x64) arch=x86_64 ;; esac
mkdir -p "$out"
copied=0
# Copies a package and its signature under the name the update manifest expects.
take() {
  local src=$1 ext=$2
  local dst="$out/interview-platform_${version}_${arch}.$ext"
  cp "$src" "$dst"
  if [ -f "$src.sig" ]; then cp "$src.sig" "$dst.sig"; fi
  echo "$dst"
  copied=$((copied + 1))
}
shopt -s nullglob
b=$target_dir/release/bundle
for f in "$b"/deb/*_"${version}"_*.deb; do take "$f" deb; done
for f in "$b"/rpm/*-"${version}"-*.rpm; do take "$f" rpm; done
for f in "$b"/appimage/*_"${version}"_*.AppImage; do take "$f" AppImage; done
for f in "$b"/macos/*.app.tar.gz; do take "$f" app.tar.gz; done
for f in "$b"/dmg/*_"${version}"_*.dmg; do take "$f" dmg; done
for f in "$b"/nsis/*_"${version}"_*-setup.exe; do take "$f" setup.exe; done
for f in "$b"/msi/*_"${version}"_*.msi; do take "$f" msi; done
if [ "$copied" -eq 0 ]; then
  echo "no package of version $version was found under $b" >&2
  exit 1
fi
