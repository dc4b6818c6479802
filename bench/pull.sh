#!/bin/sh
# Pull + unpack of a ~170 MB Debian image (debootstrap --variant=minbase) from
# a local docker-registry: nook side by side with podman pull, skopeo copy +
# umoci unpack --rootless, and plain tar -xzf of the same layer.
#   bench/pull.sh [ROUNDS]      (default 3 rounds, medians reported)
# As root it builds the Debian root filesystem once (debootstrap needs root)
# and then runs the measurements as the unprivileged user $NOOK_BENCH_USER
# (default nooktest), since rootless is what is measured.
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd -P)
cache=${NOOK_BENCH_CACHE:-/var/tmp/nook-bench}
user=${NOOK_BENCH_USER:-nooktest}
"$root/nook" --version >/dev/null
deno="$root/.deno/node_modules/deno/deno"
[ -x "$deno" ] || deno=$(command -v deno)

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$cache"
  chmod 755 "$cache"
  if [ ! -e "$cache/rootfs/.complete" ]; then
    rm -rf "$cache/rootfs"
    echo "bench: building the Debian image with debootstrap --variant=minbase (once)" >&2
    debootstrap --variant=minbase bookworm "$cache/rootfs" >"$cache/debootstrap.log" 2>&1
    touch "$cache/rootfs/.complete"
  fi
  if [ ! -e "$cache/layer.tar.gz" ]; then
    tar --numeric-owner --exclude=./.complete -C "$cache/rootfs" -cf "$cache/layer.tar" .
    gzip -6 -c "$cache/layer.tar" >"$cache/layer.tar.gz.tmp" && mv "$cache/layer.tar.gz.tmp" "$cache/layer.tar.gz"
    chmod 644 "$cache/layer.tar" "$cache/layer.tar.gz"
  fi
  # a readable copy of the tree for the bench user (root's checkout may be private)
  work=$(mktemp -d /tmp/nook-bench-src.XXXXXX)
  tar -C "$root" --exclude=./.git -cf - . | tar -C "$work" -xf -
  chown -R "$user:" "$work"
  chmod 755 "$work"
  exec runuser -u "$user" -- env -i HOME="$(getent passwd "$user" | cut -d: -f6)" USER="$user" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
    NOOK_BENCH_CACHE="$cache" NOOK_BENCH_COMPARE="${NOOK_BENCH_COMPARE:-}" NOOK_BENCH_TOOLS="${NOOK_BENCH_TOOLS:-}" "$work/bench/pull.sh" "$@"
fi

[ -e "$cache/layer.tar.gz" ] || { echo "bench: no Debian image in $cache; run bench/pull.sh as root once to build it" >&2; exit 1; }
exec "$deno" run --allow-all --quiet --config "$root/deno.json" "$root/bench/pull.ts" "$cache" "$@"
