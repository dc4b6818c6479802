#!/bin/sh
# Build libshim and the built-in hello program with the system C compiler,
# only when their sources are newer than what is built. Safe to run from
# several processes at once: each output is written to a temporary name and
# renamed into place.
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd -P)
cc=${CC:-cc}
out="$root/build"
mkdir -p "$out"
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "nook: no C compiler ('$cc') found; install one (Debian/Ubuntu: sudo apt install gcc)" >&2
  exit 1
fi

stale() { # stale OUTPUT INPUT... : true when OUTPUT is missing or older than an input
  o=$1; shift
  [ -e "$o" ] || return 0
  for i in "$@"; do [ "$i" -nt "$o" ] && return 0; done
  return 1
}

if stale "$out/libshim.so" "$root/libshim/shim.c" "$root/libshim/shim.h" "$0"; then
  tmp="$out/.libshim.so.$$"
  $cc -O2 -g -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -o "$tmp" "$root/libshim/shim.c"
  mv -f "$tmp" "$out/libshim.so"
fi

if stale "$out/nook-monitor" "$root/libshim/monitor.c" "$root/libshim/shim.c" "$root/libshim/shim.h" "$0"; then
  tmp="$out/.nook-monitor.$$"
  # Static: it is exec'd for every detached container and should cost no
  # more memory than it touches (no shared libc mapped, no dynamic loader).
  if ! $cc -O2 -g0 -Wall -Wextra -Werror -static -o "$tmp" "$root/libshim/monitor.c"; then
    echo "nook: cannot build the container monitor statically; install the static C library (Debian/Ubuntu: libc6-dev)" >&2
    exit 1
  fi
  mv -f "$tmp" "$out/nook-monitor"
fi

if stale "$out/hello" "$root/images/hello/hello.c" "$0"; then
  tmp="$out/.hello.$$"
  # Static when the toolchain allows (Debian's libc6-dev ships libc.a); the
  # image then needs nothing but this one file.
  if ! $cc -O2 -static -o "$tmp" "$root/images/hello/hello.c" 2>/dev/null; then
    echo "nook: cannot link hello statically; install the static C library (Debian/Ubuntu: libc6-dev)" >&2
    exit 1
  fi
  mv -f "$tmp" "$out/hello"
fi
