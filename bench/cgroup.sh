#!/bin/sh
# The cgroup benchmark (bench/cgroup_scope.ts) inside the systemd test guest:
# nook's D-Bus StartTransientUnit against systemd-run --user --scope, and
# `nook run` with and without a scope. Needs the guest image (tests/run as
# root builds it). Absolute times are those of a TCG-emulated guest: compare
# the lines with each other, not with the host.
#   bench/cgroup.sh [ITERATIONS]
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd -P)
cd "$root"
./nook --version >/dev/null
exec tests/guest/run.sh .deno/node_modules/deno/deno run --allow-all --config deno.json bench/cgroup_scope.ts "${1:-20}"
