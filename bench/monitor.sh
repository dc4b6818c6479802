#!/bin/sh
# Memory of what stays resident per detached container: nook's static C
# monitor next to podman's conmon (and a foreground nook, for scale).
#   bench/monitor.sh [N]     N containers of each kind (default 5)
# Runs as an unprivileged user (rootless is the product); as root it runs
# itself as $NOOK_TEST_USER (default nooktest), which must be able to read
# this tree.
set -eu
. "$(dirname -- "$0")/_lib.sh"
bench_as_user "$0" "$@"
bench_deno monitor.ts "$@"
