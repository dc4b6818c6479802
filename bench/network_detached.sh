#!/bin/sh
# Networking of detached containers (the monitor runs the helper): run -d,
# first answer through -p, rm -f, and memory of the monitor and the helper,
# for --network none, pasta and slirp4netns. See bench/network_detached.ts.
#   bench/network_detached.sh [ROUNDS]
# Runs as an unprivileged user; as root it re-runs itself as $NOOK_TEST_USER.
set -eu
. "$(dirname -- "$0")/_lib.sh"
bench_as_user "$0" "$@"
bench_deno network_detached.ts "$@"
