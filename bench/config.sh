#!/bin/sh
# What config.yaml costs `nook run --rm hello` at start-up: runs without a config file,
# with a config file (served from the JSON cache, the normal case), and optionally a
# baseline checkout (e.g. `git archive main | tar -x -C /tmp/base`), interleaved round
# by round so that a busy machine slows all of them alike; prints medians and the
# paired differences with a 95% bootstrap interval. With perf installed it counts CPU
# time (task-clock: all threads and children), which a busy machine disturbs much less
# than wall time.
#   bench/config.sh [ROUNDS] [BASELINE_DIR]
# Runs as an unprivileged user; as root it re-runs itself as $NOOK_TEST_USER.
# `deno bench --allow-all bench/config_load_bench.ts` measures the in-process parts.
set -eu
. "$(dirname -- "$0")/_lib.sh"
bench_as_user "$0" "$@"
bench_deno config_start.ts "$@"
