#!/usr/bin/env bash
# Builds the room images used by the tests and offline demos without any registry:
# a busybox root filesystem imported with `docker import`.
#   interview-platform-test/busybox:latest
set -euo pipefail

image=interview-platform-test/busybox:latest
if docker image inspect "$image" >/dev/null 2>&1 && [ "${1:-}" != "--force" ]; then
  echo "$image is present"
  exit 0
fi

busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
  busybox=/bin/busybox
fi
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked'; then
  echo "a static busybox is needed: apt-get install busybox-static" >&2
  exit 1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,home/candidate,interview,proc,sys,dev}
cp "$busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] && continue
  ln -sf /bin/busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\ncandidate:x:1000:1000:candidate:/home/candidate:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\ncandidate:x:1000:\n' >"$root/etc/group"
chmod 1777 "$root/tmp"
chown -R 1000:1000 "$root/home/candidate" "$root/interview"
tar --numeric-owner -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' -c 'USER 0' - "$image" >/dev/null
echo "$image built"
