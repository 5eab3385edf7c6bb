#!/usr/bin/env bash
# Builds room images without any registry, and a catalog that points languages at them:
#   interview-platform-offline/busybox:latest   a busybox shell (seconds)       -> bash
#   interview-platform-offline/debian:2         Debian with python3, nodejs, tsc, gcc/g++, ruby
#                                               -> python, javascript, typescript, c, cpp, ruby
#                                               (a few minutes: about 150 MB of packages)
# Installs debootstrap / busybox-static when missing, caches what it downloads, honours
# DOCKER_HOST, and is idempotent. Progress goes to stderr; the last line on stdout is the
# catalog's absolute path. Use it with `interview-platform-server serve --catalog FILE`, or
# copy it to catalog.toml in the data dir.
#   --busybox-only   skip the Debian image
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '%s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need_pkg() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' && return
  log "installing $1"
  as_root apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$1" >&2
}

cache=${INTERVIEW_PLATFORM_CACHE:-/var/cache/interview-platform}
out_dir=${INTERVIEW_PLATFORM_CATALOG_DIR:-$cache}
mkdir -p "$cache" "$out_dir"
busybox_image=interview-platform-offline/busybox:latest
# The tag changes whenever what goes into the image does, so an older build is not reused.
debian_image=interview-platform-offline/debian:2
debian_packages=python3,nodejs,node-typescript,gcc,g++,libc6-dev,ruby,ca-certificates

have() { docker image inspect "$1" >/dev/null 2>&1; }

if ! have "$busybox_image"; then
  need_pkg busybox-static
  root=$(mktemp -d)
  mkdir -p "$root"/{bin,etc,tmp,home/candidate,interview}
  cp /bin/busybox "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf /bin/busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\ncandidate:x:1000:1000:candidate:/home/candidate:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\ncandidate:x:1000:\n' >"$root/etc/group"
  chmod 1777 "$root/tmp"
  chown -R 1000:1000 "$root/home/candidate" "$root/interview"
  tar --numeric-owner -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' - "$busybox_image" >/dev/null
  rm -rf "$root"
  log "built $busybox_image"
else
  log "$busybox_image is present"
fi

with_debian=1
[ "${1:-}" = --busybox-only ] && with_debian=0
if [ "$with_debian" = 1 ] && ! have "$debian_image"; then
  need_pkg debootstrap
  # The mirror this machine's apt already uses.
  mirror=$( (cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
      /etc/apt/sources.list.d/*.sources 2>/dev/null || true) |
    grep -oE '^(deb|URIs:)[[:space:]]+https?://[^[:space:]]+/debian/?([[:space:]]|$)' |
    awk '{print $2}' | head -n 1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  root=$(mktemp -d)
  mkdir -p "$cache/debootstrap"
  log "debootstrap bookworm with $debian_packages from $mirror (a few minutes)"
  as_root debootstrap --variant=minbase --include="$debian_packages" \
    --cache-dir="$cache/debootstrap" bookworm "$root" "$mirror" >&2
  as_root rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* \
    "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
  as_root chroot "$root" sh -c 'getent passwd 1000 >/dev/null || useradd -u 1000 -m -d /home/candidate -s /bin/bash candidate'
  as_root mkdir -p "$root/interview"
  as_root chown 1000:1000 "$root/interview"
  as_root tar --numeric-owner -C "$root" -c . | docker import -c 'CMD ["/bin/bash"]' - "$debian_image" >/dev/null
  as_root rm -rf "$root"
  log "built $debian_image"
  # An earlier build of the same image under its old tag is superseded.
  docker image rm interview-platform-offline/debian:latest >/dev/null 2>&1 || true
elif [ "$with_debian" = 1 ]; then
  log "$debian_image is present"
fi

catalog="$out_dir/offline-catalog.toml"
{
  echo "# Written by scripts/offline-images.sh: languages served by images built without a registry."
  echo
  echo "[languages.bash]"
  echo "image = \"$busybox_image\""
  echo "run = \"sh main.sh\""
  if [ "$with_debian" = 1 ]; then
    printf '\n[languages.python]\nimage = "%s"\n' "$debian_image"
    printf '\n[languages.javascript]\nimage = "%s"\n' "$debian_image"
    # Debian's Node cannot strip types by itself: compile with tsc, then run.
    printf '\n[languages.typescript]\nimage = "%s"\nrun = "%s"\n' "$debian_image" \
      'tsc --outDir /tmp/ts main.ts && node /tmp/ts/main.js'
    for lang in c cpp ruby; do
      printf '\n[languages.%s]\nimage = "%s"\n' "$lang" "$debian_image"
    done
  fi
} >"$catalog"
log "catalog written"
realpath "$catalog"
