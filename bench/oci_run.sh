#!/bin/sh
# OCI runtime benchmark: the same rootless bundle (busybox, `true`,
# config.json from `nook runtime spec --rootless`) run by `nook runtime run`
# and by `runc run`, and the create → start → delete sequence engines use,
# in one hyperfine run so the ratios are comparable. crun is left out: it
# refuses this hybrid-cgroup host ("cgroups in hybrid mode not supported").
# Runs as an unprivileged user; as root it re-runs itself as $NOOK_TEST_USER.
#   bench/oci_run.sh [RUNS]
# NOOK_BENCH_COMPARE=/path/to/other/nook compares this checkout's nook with another's (before
# and after a change) instead: run and create+start+delete of both, in rounds of a few runs
# whose order rotates (bench/rounds.ts), so both meet the same load; medians and the ratios.
set -eu
. "$(dirname -- "$0")/_lib.sh"
root=$bench_root
runs=${1:-30}
BENCH_PASS=NOOK_BENCH_COMPARE bench_as_user "$0" "$@"
bench_need hyperfine

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
b="$tmp/bundle"
bench_busybox_rootfs "$b/rootfs" true sh
chmod 755 "$tmp" "$b" "$b/rootfs"
export XDG_RUNTIME_DIR="$tmp/run"
mkdir -m 700 "$XDG_RUNTIME_DIR"
(cd "$b" && "$root/nook" runtime spec --rootless)
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"true"/' "$b/config.json"
n="$root/nook runtime --root $tmp/nook"
"$root/nook" runtime --root "$tmp/nook" run -b "$b" warm # warm: Deno installed, caches filled

deno="$root/.deno/node_modules/deno/deno"
[ -x "$deno" ] || deno=deno
if [ -n "${NOOK_BENCH_COMPARE:-}" ]; then
  other=$NOOK_BENCH_COMPARE
  "$other" runtime --root "$tmp/other" run -b "$b" warm # warm the other checkout too
  seq="create -b $b c1 && \$R start c1 && \$R delete --force c1"
  set --
  for x in "$root/nook:$tmp/nook:" "$other:$tmp/other:other: "; do
    bin=${x%%:*} rest=${x#*:}
    state=${rest%%:*} label=${rest#*:}
    set -- "$@" "${label}nook runtime run" "$bin runtime --root $state run -b $b b1" \
      "${label}nook runtime create+start+delete" "sh -c 'R=\"$bin runtime --root $state\"; \$R $seq'"
  done
  per=3
  "$deno" run --allow-all --quiet --config "$root/deno.json" "$root/bench/rounds.ts" \
    $(((runs + per - 1) / per)) $per "$tmp/result.json" -N --warmup 1 -- "$@"
  "$deno" run --allow-all --quiet --config "$root/deno.json" "$root/bench/compare_table.ts" \
    "$tmp/result.json" "$root" "$other"
  exit 0
fi

set -- -N --warmup 3 --runs "$runs" --export-json "$tmp/result.json" \
  -n "nook runtime run" "$n run -b $b b1"
if command -v runc >/dev/null && runc --root "$tmp/runc" run -b "$b" probe >/dev/null 2>&1; then
  set -- "$@" -n "runc run" "runc --root $tmp/runc run -b $b b1"
  seq="create -b $b c1 && \$R start c1 && \$R delete --force c1"
  set -- "$@" -n "nook runtime create+start+delete" "sh -c 'R=\"$n\"; \$R $seq'" \
    -n "runc create+start+delete" "sh -c 'R=\"runc --root $tmp/runc\"; \$R $seq'"
else
  echo "bench: runc left out: it cannot run the rootless bundle here" >&2
fi
hyperfine "$@" >"$tmp/out.txt" 2>&1 || { cat "$tmp/out.txt"; exit 1; }
"$deno" eval --quiet '
const r = JSON.parse(Deno.readTextFileSync(Deno.args[0])).results;
const med = (x) => { const s = [...x.times].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] * 1000; };
const cpu = (x) => (x.user + x.system) * 1000;
const w = Math.max(...r.map((x) => x.command.length));
console.log(`${"command".padEnd(w)}  median ms   mean ms  cpu ms  × runc`);
for (const x of r) {
  const peer = r.find((y) => y.command === x.command.replace("nook runtime", "runc")) ?? x;
  console.log(`${x.command.padEnd(w)}  ${med(x).toFixed(1).padStart(9)}  ${(x.mean * 1000).toFixed(1).padStart(8)}  ${cpu(x).toFixed(1).padStart(6)}  ${(med(x) / med(peer)).toFixed(2).padStart(5)}`);
}' "$tmp/result.json"
