#!/bin/sh
# Start-up benchmark of issue #2: `nook run --rm --rootfs BUSYBOX true`, side by
# side (one hyperfine run, so the ratios are comparable) with `unshare -Urmpf`,
# and bwrap, runc, crun and podman when installed. Target: nook ≤ 30 ms median.
# Runs as an unprivileged user; as root it re-runs itself as $NOOK_TEST_USER.
#   bench/start.sh [RUNS]
set -eu
. "$(dirname -- "$0")/_lib.sh"
root=$bench_root
runs=${1:-40}
BENCH_PASS=BENCH_PODMAN bench_as_user "$0" "$@"
bench_need hyperfine

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rootfs="$tmp/bundle/rootfs"
bench_busybox_rootfs "$rootfs" true sh
chmod 755 "$tmp" "$tmp/bundle" "$rootfs"
export NOOK_DATA_DIR="$tmp/data" XDG_RUNTIME_DIR="$tmp/run"
mkdir -m 700 "$XDG_RUNTIME_DIR"
"$root/nook" run --rm --rootfs "$rootfs" true # warm: Deno installed, caches filled
NOOK_FROM_SOURCE=1 "$root/nook" run --rm --rootfs "$rootfs" true 2>/dev/null

# The first row is the core run path (the others, like runc and unshare, give the container
# loopback only); the default network (pasta or slirp4netns) is bench/network.sh's subject.
nook="$root/nook run --rm --network none --rootfs $rootfs true"
set -- -N --warmup 5 --runs "$runs" --export-json "$tmp/result.json" \
  -n "nook run --rm --network none --rootfs … true" "$nook" \
  -n "nook run, default network" "$root/nook run --rm --rootfs $rootfs true" \
  -n "nook run, single-id mapping" "env NOOK_IDMAP=single $nook" \
  -n "nook run, from the sources (NOOK_FROM_SOURCE=1)" "env NOOK_FROM_SOURCE=1 $nook" \
  -n "unshare -Urmpf true" "unshare -Urmpf --mount-proc true"
if command -v bwrap >/dev/null; then
  set -- "$@" -n "bwrap (user, pid, net, proc, dev)" \
    "bwrap --unshare-all --uid 0 --gid 0 --bind $rootfs / --proc /proc --dev /dev /bin/true"
fi
for rt in runc crun; do
  if command -v $rt >/dev/null; then
    mkdir -p "$tmp/$rt"
    rm -f "$tmp/bundle/config.json"
    (cd "$tmp/bundle" && $rt spec --rootless >/dev/null 2>&1 && mv config.json "$tmp/$rt.json") || true
    if [ -f "$tmp/$rt.json" ]; then
      # the bundle's process: true, no terminal
      sed -e 's/"terminal": true/"terminal": false/' -e 's/"sh"/"true"/' "$tmp/$rt.json" >"$tmp/bundle/config.json"
      cp "$tmp/bundle/config.json" "$tmp/$rt.bundle.json"
      cmd="sh -c 'cp $tmp/$rt.bundle.json $tmp/bundle/config.json; $rt --root $tmp/$rt run -b $tmp/bundle bench-\$\$'"
      # only what works on this host goes into the table (crun refuses hybrid cgroups)
      if out=$(eval "$cmd" 2>&1); then
        set -- "$@" -n "$rt run (rootless bundle)" "$cmd"
      else
        echo "bench: $rt left out: $out" >&2
      fi
    fi
  fi
done
if command -v podman >/dev/null && [ "${BENCH_PODMAN:-0}" = 1 ]; then
  # needs an image in podman's store; off by default (BENCH_PODMAN=1 to include)
  set -- "$@" -n "podman run --network none" "podman run --rm --network none --rootfs $rootfs true"
fi
hyperfine "$@" >"$tmp/out.txt" 2>&1 || { cat "$tmp/out.txt"; exit 1; }
deno="$root/.deno/node_modules/deno/deno"
[ -x "$deno" ] || deno=deno
# medians, and every command relative to nook and to runc, as one table
"$deno" eval --quiet '
const r = JSON.parse(Deno.readTextFileSync(Deno.args[0])).results;
const med = (x) => { const s = [...x.times].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] * 1000; };
const nook = med(r[0]), runc = r.find((x) => x.command.startsWith("runc"));
const w = Math.max(...r.map((x) => x.command.length));
console.log(`${"command".padEnd(w)}  median ms   mean ms  × nook${runc ? "  × runc" : ""}`);
for (const x of r) {
  const m = med(x);
  console.log(`${x.command.padEnd(w)}  ${m.toFixed(1).padStart(9)}  ${(x.mean * 1000).toFixed(1).padStart(8)}  ${(m / nook).toFixed(2).padStart(6)}${runc ? (m / med(runc)).toFixed(2).padStart(8) : ""}`);
}' "$tmp/result.json"
echo
echo "target: nook ≤ 30 ms median on this machine (runc rootless ≈ 55 ms, unshare ≈ 3 ms)"
