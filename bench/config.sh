#!/bin/sh
# What config.yaml costs `nook run` at start-up (hyperfine, `nook run --rm hello`):
#   no-config      no config file: one stat
#   cached-config  a config file whose parsed form is cached as JSON (the normal case)
#   baseline       (optional) another checkout, e.g. main: bench/config.sh /tmp/nook-main
# The YAML parse itself (~60 ms: the yaml package loads) happens once after each edit of
# the file; `deno bench bench/config_load_bench.ts` measures the in-process parts.
# Run it as an unprivileged user (containers are rootless). Needs hyperfine.
set -eu
root=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd -P)
baseline=${1:-}
runs=${RUNS:-300}
deno=${NOOK_DENO:-$root/.deno/node_modules/deno/deno}
"$root/nook" --version >/dev/null # bootstrap: Deno, libshim, hello
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/empty" "$tmp/cfg/nook" "$tmp/data" "$tmp/run"
chmod 700 "$tmp/run"
cat >"$tmp/cfg/nook/config.yaml" <<'YAML'
network:
  mode: none
storage:
  driver: auto
registries:
  search: [registry.example.com]
  insecure: [localhost:5000]
run:
  env: [TZ=UTC]
  ulimits: [nofile=1024:2048]
security:
  capabilities: [CAP_CHOWN, CAP_KILL, CAP_SETUID, CAP_SETGID]
YAML
run_in() { # run_in TREE: the command line hyperfine runs, without the launcher's shell
  echo "env NOOK_DATA_DIR=$tmp/data XDG_RUNTIME_DIR=$tmp/run DENO_NO_UPDATE_CHECK=1 XDG_CONFIG_HOME=$2 $deno run --allow-all --quiet --no-prompt --config $1/deno.json $1/src/cli/main.ts run --rm hello"
}
# fill the cache once
$(run_in "$root" "$tmp/cfg") >/dev/null
set -- -n no-config "$(run_in "$root" "$tmp/empty")" -n cached-config "$(run_in "$root" "$tmp/cfg")"
if [ -n "$baseline" ]; then
  [ -e "$baseline/build/libshim.so" ] || NOOK_DENO=$deno "$baseline/nook" --version >/dev/null
  set -- "$@" -n baseline "$(run_in "$baseline" "$tmp/empty")"
fi
hyperfine -N --warmup 20 --runs "$runs" --output null "$@"
