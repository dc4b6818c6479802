#!/bin/sh
# Start-up benchmark: `true` in a fresh busybox container, nook side by side with the
# other rootless tools in one hyperfine run (so the ratios are comparable on a busy host):
# nook (--network none, the default network, an image from the store on an overlay root,
# its bundle run by `deno run` without the launcher, which is what a compiled binary does,
# and the sources), an empty `deno run`, `unshare -Urmpf`, and bubblewrap, runc, crun and
# podman when they are installed and work here. Ends with the ratios start-up is judged by.
# Runs as an unprivileged user; as root it re-runs itself as $NOOK_TEST_USER.
#   bench/start.sh [RUNS]          (BENCH_PODMAN=0 leaves podman out: its first run is slow)
# NOOK_BENCH_COMPARE=/path/to/other/nook compares this checkout's nook with another's (before
# and after a change) instead: the nook rows of both, in rounds of a few runs whose order
# rotates (bench/rounds.ts), so both meet the same load; it reports medians and the ratios.
set -eu
. "$(dirname -- "$0")/_lib.sh"
root=$bench_root
runs=${1:-40}
BENCH_PASS="BENCH_PODMAN NOOK_BENCH_COMPARE" bench_as_user "$0" "$@"
bench_need hyperfine

deno="$root/.deno/node_modules/deno/deno"
[ -x "$deno" ] || deno=$(command -v deno)
tmp=$(mktemp -d)
# the store's files of subordinate ids: only nook (in its user namespace) can remove them
trap '"$root/nook" system reset -f >/dev/null 2>&1; rm -rf "$tmp"' EXIT
rootfs="$tmp/rootfs"
bench_busybox_rootfs "$rootfs" true sh
chmod 755 "$tmp" "$rootfs"
# XDG_* rather than NOOK_DATA_DIR: any NOOK_* setting makes each run load the config, which a
# user who configured nothing does not pay for; no config file either
export XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" XDG_RUNTIME_DIR="$tmp/run"
mkdir -m 700 "$XDG_RUNTIME_DIR"
"$root/nook" run --rm --rootfs "$rootfs" true # warm: Deno installed, caches filled
NOOK_FROM_SOURCE=1 "$root/nook" run --rm --rootfs "$rootfs" true 2>/dev/null
# the same busybox as a one-layer image in nook's store (the run mounts an overlay root)
tar -C "$rootfs" -cf - . | "$root/nook" import -q - bench-busybox >/dev/null
"$root/nook" run --rm --network none bench-busybox true
# what the launcher execs at its end, without the launcher: a compiled nook does this
bundle="$deno run --v8-flags=--no-lazy --allow-all --quiet --no-prompt --config $root/deno.json $root/build/js/nook.js"
[ -e "$root/build/js/nook.js" ] || { echo "bench: the launcher did not build build/js/nook.js" >&2; exit 1; }
: >"$tmp/empty.js"

if [ -n "${NOOK_BENCH_COMPARE:-}" ]; then
  other=$NOOK_BENCH_COMPARE
  "$other" run --rm --rootfs "$rootfs" true # warm the other checkout too
  NOOK_FROM_SOURCE=1 "$other" run --rm --rootfs "$rootfs" true 2>/dev/null
  "$other" run --rm --network none bench-busybox true
  set --
  for n in "$root/nook" "$other"; do
    label=""
    [ "$n" = "$other" ] && label="other: "
    set -- "$@" "${label}nook --network none" "$n run --rm --network none --rootfs $rootfs true" \
      "${label}nook, default network" "$n run --rm --rootfs $rootfs true" \
      "${label}nook, image from the store (overlay)" "$n run --rm --network none bench-busybox true" \
      "${label}nook --network none, from the sources" "env NOOK_FROM_SOURCE=1 $n run --rm --network none --rootfs $rootfs true"
  done
  per=4
  "$deno" run --allow-all --quiet --config "$root/deno.json" "$root/bench/rounds.ts" \
    $(((runs + per - 1) / per)) $per "$tmp/result.json" -N --warmup 1 -- "$@"
  "$deno" run --allow-all --quiet --config "$root/deno.json" "$root/bench/compare_table.ts" \
    "$tmp/result.json" "$root" "$other"
  exit 0
fi

nook="$root/nook run --rm --network none --rootfs $rootfs true"
set -- -N --warmup 5 --runs "$runs" --export-json "$tmp/result.json" \
  -n "nook --network none" "$nook" \
  -n "nook, default network" "$root/nook run --rm --rootfs $rootfs true" \
  -n "nook, image from the store (overlay)" "$root/nook run --rm --network none bench-busybox true" \
  -n "nook, image from the store, --userns=keep-id (fuse-overlayfs id mapping)" "$root/nook run --rm --network none --userns=keep-id bench-busybox true" \
  -n "nook --network none, bundle by deno run (no launcher)" "$bundle run --rm --network none --rootfs $rootfs true" \
  -n "nook --network none, single-id mapping" "env NOOK_IDMAP=single $nook" \
  -n "nook --network none, from the sources" "env NOOK_FROM_SOURCE=1 $nook" \
  -n "empty deno run" "$deno run --allow-all --quiet --no-prompt --config $root/deno.json $tmp/empty.js" \
  -n "unshare -Urmpf true" "unshare -Urmpf --mount-proc true"
if command -v bwrap >/dev/null; then
  set -- "$@" -n "bwrap --unshare-all" \
    "bwrap --unshare-all --uid 0 --gid 0 --bind $rootfs / --proc /proc --dev /dev /bin/true"
fi
# runc and crun: the rootless bundle of their own `spec --rootless` (user, mount, pid, ipc,
# uts and net namespaces), running `true` without a terminal, the root path made absolute.
# crun refuses a hybrid cgroup host ("cgroups in hybrid mode not supported"): it runs where
# the cgroup2 mount is hidden, under a tmpfs in a private user+mount namespace, so its row
# includes that `unshare -Urm` (compare with the unshare row).
for rt in runc crun; do
  command -v $rt >/dev/null || continue
  b="$tmp/$rt-bundle"
  mkdir -p "$b"
  (cd "$b" && $rt spec --rootless) >/dev/null 2>&1 || { echo "bench: $rt left out: $rt spec failed" >&2; continue; }
  sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"true"/' \
    -e "s|\"path\": \"rootfs\"|\"path\": \"$rootfs\"|" "$b/config.json"
  cmd="$rt --root $tmp/$rt-state run -b $b bench-\$\$"
  [ $rt = crun ] && grep -q ' /sys/fs/cgroup/unified cgroup2 ' /proc/mounts &&
    cmd="unshare -Urm sh -c 'mount -t tmpfs none /sys/fs/cgroup/unified && exec $cmd'"
  # only what works on this host goes into the table
  if out=$(sh -c "$cmd" 2>&1); then
    set -- "$@" -n "$rt run (rootless bundle)" "sh -c \"$cmd\""
  else
    echo "bench: $rt left out: $out" >&2
  fi
done
if command -v podman >/dev/null && [ "${BENCH_PODMAN:-1}" = 1 ]; then
  # crun refuses hybrid cgroups, so podman runs runc with cgroupfs; --rootfs needs no image
  pod="podman --cgroup-manager=cgroupfs --runtime runc run --rm --network none --rootfs $rootfs true"
  if out=$($pod 2>&1); then
    set -- "$@" -n "podman run --network none (runc)" "$pod"
  else
    echo "bench: podman left out: $out" >&2
  fi
fi
hyperfine "$@" >"$tmp/out.txt" 2>&1 || { cat "$tmp/out.txt"; exit 1; }
# medians, every command relative to nook and to runc, and the ratios start-up is judged by
"$deno" eval --quiet '
const r = JSON.parse(Deno.readTextFileSync(Deno.args[0])).results;
const med = (x) => { const s = [...x.times].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] * 1000; };
const by = (prefix) => r.find((x) => x.command.startsWith(prefix));
const nook = by("nook --network none"), runc = by("runc");
const w = Math.max(...r.map((x) => x.command.length));
console.log(`${"command".padEnd(w)}  median ms   mean ms  × nook${runc ? "  × runc" : ""}`);
for (const x of r) {
  const m = med(x);
  console.log(`${x.command.padEnd(w)}  ${m.toFixed(1).padStart(9)}  ${(x.mean * 1000).toFixed(1).padStart(8)}  ${(m / med(nook)).toFixed(2).padStart(6)}${runc ? (m / med(runc)).toFixed(2).padStart(8) : ""}`);
}
const ratio = (what, a, b, target) => a && b && console.log(`${what.padEnd(50)} ${(med(a) / med(b)).toFixed(2).padStart(6)}   (target ≤ ${target})`);
console.log("");
ratio("nook --network none / runc", nook, runc, "1.00");
const empty = by("empty deno run");
console.log(`${"nook --network none − empty deno run".padEnd(50)} ${(med(nook) - med(empty)).toFixed(1).padStart(6)} ms (target ≤ 15 ms)`);
ratio("default network / --network none", by("nook, default network"), nook, "1.25");
ratio("image from the store / --rootfs", by("nook, image from the store"), nook, "1.15");
const direct = by("nook --network none, bundle");
console.log(`${"the launcher: ./nook − the bundle by deno run".padEnd(50)} ${(med(nook) - med(direct)).toFixed(1).padStart(6)} ms (target ≤ 3 ms)`);
console.log(`load average after: ${Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ")}`);' "$tmp/result.json"
