#!/bin/sh
# Networking of detached containers (the monitor runs the helper): run -d,
# first answer through -p, rm -f, and memory of the monitor and the helper,
# for --network none, pasta and slirp4netns. See bench/network_detached.ts.
#   bench/network_detached.sh [ROUNDS]
# Runs as an unprivileged user; as root it re-runs itself as $NOOK_TEST_USER.
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd -P)
if [ "$(id -u)" = 0 ]; then
  user=${NOOK_TEST_USER:-nooktest}
  "$root/libshim/build.sh"
  home=$(getent passwd "$user" | cut -d: -f6)
  exec runuser -u "$user" -- env -i HOME="$home" USER="$user" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin "$0" "$@"
fi
"$root/nook" --version >/dev/null
exec "$root/.deno/node_modules/deno/deno" run --allow-all --quiet --config "$root/deno.json" "$root/bench/network_detached.ts" "$@"
