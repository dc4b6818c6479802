#!/bin/sh
# What locking a container down costs at start-up: `nook run --rm ... true`
# with the default filter (precompiled), without one, with --privileged, and
# with --cap-drop ALL (the filter compiled at run time). Run as a normal user:
#   bench/security_start.sh [ROOTFS]
# With no ROOTFS, a busybox root filesystem is made from busybox-static.
# Compare the User/System columns too: on a busy machine wall time is noise.
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd -P)
rootfs=${1:-}
if [ -z "$rootfs" ]; then
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  mkdir -p "$rootfs/bin" "$rootfs/proc" "$rootfs/dev" "$rootfs/sys" "$rootfs/etc" "$rootfs/tmp"
  chmod 755 "$rootfs"
  cp /bin/busybox "$rootfs/bin/busybox"
  ln -s busybox "$rootfs/bin/true"
  ln -s busybox "$rootfs/bin/sh"
fi
"$root/nook" run --rm --rootfs "$rootfs" true # warm the caches (and build libshim)
hyperfine -N -w 5 -r "${RUNS:-40}" \
  -n default "$root/nook run --rm --rootfs $rootfs true" \
  -n seccomp=unconfined "$root/nook run --rm --security-opt seccomp=unconfined --rootfs $rootfs true" \
  -n privileged "$root/nook run --rm --privileged --rootfs $rootfs true" \
  -n cap-drop-all "$root/nook run --rm --cap-drop ALL --rootfs $rootfs true"
