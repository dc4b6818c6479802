#!/bin/sh
# Network benchmark, rerunnable:
#  0. user networks (first, alone with BENCH_ONLY=user): start-up on a user network against
#     --network none (goal ≤ +10 ms), and container-to-container TCP throughput on one network
#     (goal ≥ 2 GB/s): bench/network_stream.c sends, bench/network_sink.c reads MIB MiB in
#     another container; podman side by side on a network of its own when BENCH_PODMAN=1
#     (its backend, netavark or CNI, named in the row).
#  1. start-up: `nook run --rm --network MODE … true` for none, pasta, slirp4netns
#     (with and without a published port), in one hyperfine run, side by side with
#     pasta driven directly (`pasta --config-net -- true`, pasta making the
#     namespace itself) and `unshare -Urn true`, and podman when BENCH_PODMAN=1.
#     Prints medians and the extra cost of each mode over `none` (target ≤ +25 ms).
#  2. TCP throughput through -p on loopback: a container streams zeros
#     (bench/network_stream.c), the host reads MIB MiB of them through the
#     published port; for pasta and slirp4netns through nook, through the same
#     helper driven by hand (unshare -Urn + the helper), and plain host loopback.
# Runs as an unprivileged user; as root it re-runs itself as $NOOK_TEST_USER.
#   bench/network.sh [RUNS] [MIB]
# NOOK_BENCH_COMPARE=/path/to/other/nook: the user-network start-up rows of both checkouts (before
# and after a change), in rounds whose order rotates (bench/rounds.ts), so both meet the same load.
set -eu
. "$(dirname -- "$0")/_lib.sh"
root=$bench_root
runs=${1:-30}
mib=${2:-1024}
BENCH_PASS="BENCH_PODMAN BENCH_ONLY NOOK_BENCH_COMPARE" bench_as_user "$0" "$@"
bench_need hyperfine pasta slirp4netns unshare cc
deno="$root/.deno/node_modules/deno/deno"
[ -x "$deno" ] || deno=deno

tmp=$(mktemp -d)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
rootfs="$tmp/rootfs"
bench_busybox_rootfs "$rootfs" true sh nc ip sleep
# the throughput source (faster than busybox nc): static, so it runs in the busybox root
cc -O2 -static -o "$rootfs/bin/stream" "$root/bench/network_stream.c" ||
  { echo "bench: cannot build bench/network_stream.c statically (apt install gcc libc6-dev)" >&2; exit 1; }
cc -O2 -static -o "$rootfs/bin/sink" "$root/bench/network_sink.c" ||
  { echo "bench: cannot build bench/network_sink.c statically (apt install gcc libc6-dev)" >&2; exit 1; }
chmod 755 "$tmp" "$rootfs"
export NOOK_DATA_DIR="$tmp/data" XDG_RUNTIME_DIR="$tmp/run"
mkdir -m 700 "$XDG_RUNTIME_DIR"
nook="$root/nook"
"$nook" run --rm --network none --rootfs "$rootfs" true # warm: Deno installed, caches filled

# a free TCP port on 127.0.0.1 (asks the kernel, then lets go)
free_port() {
  "$deno" eval --quiet 'const l = Deno.listen({ hostname: "127.0.0.1", port: 0 }); console.log(l.addr.port); l.close();'
}

# --- user networks -------------------------------------------------------------------------
"$nook" network create benchnet >/dev/null
"$nook" run --rm --network benchnet --rootfs "$rootfs" true # warm: the shared namespace is up
pod="podman --cgroup-manager=cgroupfs --runtime runc"
podnet=""
if [ "${BENCH_PODMAN:-0}" = 1 ] && command -v podman >/dev/null && command -v runc >/dev/null; then
  if $pod run --rm --network none --rootfs "$rootfs" true >/dev/null 2>&1 &&
    $pod network create nookbench >/dev/null 2>&1 &&
    $pod run --rm --network nookbench --rootfs "$rootfs" true >/dev/null 2>"$tmp/podnet.err"; then
    podnet="podman ($($pod info --format '{{.Host.NetworkBackend}}' 2>/dev/null || echo '?'))"
  else
    echo "bench: podman left out of the user-network rows: $(tail -1 "$tmp/podnet.err" 2>/dev/null)" >&2
  fi
fi
pod_cleanup() { $pod rm -f nookbench-src >/dev/null 2>&1 || true; $pod network rm -f nookbench >/dev/null 2>&1 || true; }
[ -n "$podnet" ] && trap 'pod_cleanup; cleanup' EXIT

echo "== start-up on a user network against --network none ($runs runs each)"
set -- -N --warmup 3 --runs "$runs" --export-json "$tmp/user.json" \
  -n "nook --network none" "$nook run --rm --network none --rootfs $rootfs true" \
  -n "nook --network benchnet (user network)" "$nook run --rm --network benchnet --rootfs $rootfs true"
if [ -n "$podnet" ]; then
  set -- "$@" -n "podman --network none" "$pod run --rm --network none --rootfs $rootfs true" \
    -n "podman --network nookbench (user network)" "$pod run --rm --network nookbench --rootfs $rootfs true"
fi
if [ -n "${NOOK_BENCH_COMPARE:-}" ]; then
  other=$NOOK_BENCH_COMPARE
  "$other" run --rm --network benchnet --rootfs "$rootfs" true # warm the other checkout too
  set -- "nook --network none" "$nook run --rm --network none --rootfs $rootfs true" \
    "nook --network benchnet (user network)" "$nook run --rm --network benchnet --rootfs $rootfs true" \
    "other: nook --network none" "$other run --rm --network none --rootfs $rootfs true" \
    "other: nook --network benchnet (user network)" "$other run --rm --network benchnet --rootfs $rootfs true"
  per=3
  "$deno" run --allow-all --quiet --config "$root/deno.json" "$root/bench/rounds.ts" \
    $(((runs + per - 1) / per)) $per "$tmp/user.json" -N --warmup 1 -- "$@"
else
  hyperfine "$@" >"$tmp/user.txt" 2>&1 || { cat "$tmp/user.txt"; exit 1; }
fi
"$deno" eval --quiet '
const r = JSON.parse(Deno.readTextFileSync(Deno.args[0])).results;
const med = (x) => { const s = [...x.times].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] * 1000; };
const w = Math.max(...r.map((x) => x.command.length));
console.log(`${"command".padEnd(w)}  median ms  extra ms (over the same tool with --network none)  runs`);
for (const x of r) {
  const pre = x.command.startsWith("other: ") ? "other: " : "";
  const b = r.find((y) => y.command === (x.command.startsWith("podman") ? "podman --network none" : `${pre}nook --network none`));
  console.log(`${x.command.padEnd(w)}  ${med(x).toFixed(1).padStart(9)}  ${(b === x ? "" : (med(x) - med(b)).toFixed(1)).padStart(8)}  ${x.times.length}`);
}
console.log(`load average: ${Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ")} (2 cores)`);' "$tmp/user.json"
echo "goal: a user network adds ≤ 10 ms over none"
echo

echo "== container-to-container TCP on one user network: $mib MiB, network_stream → network_sink"
printf '%-44s %s\n' "path" "rate"
"$nook" run -d --name bench-src --network benchnet --rootfs "$rootfs" stream 5201 >/dev/null
src_ip=$("$nook" network inspect benchnet | sed -n 's/.*"ip": "\(10\.[0-9.]*\)".*/\1/p' | head -1)
printf '%-44s %s\n' "nook (veth + bridge in the shared netns)" \
  "$("$nook" run --rm --network benchnet --rootfs "$rootfs" sink "$src_ip" 5201 "$mib")"
"$nook" rm -f bench-src >/dev/null
if [ -n "$podnet" ]; then
  $pod run -d --name nookbench-src --network nookbench --rootfs "$rootfs" stream 5201 >/dev/null
  pip=$($pod inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' nookbench-src)
  printf '%-44s %s\n' "$podnet" "$($pod run --rm --network nookbench --rootfs "$rootfs" sink "$pip" 5201 "$mib")"
  pod_cleanup
fi
p=$(free_port)
"$rootfs/bin/stream" "$p" 127.0.0.1 &
pids="$pids $!"
printf '%-44s %s\n' "host loopback (no container)" "$("$rootfs/bin/sink" 127.0.0.1 "$p" "$mib")"
echo "goal: ≥ 2 GB/s (2000 MB/s) between two containers on one network"
"$nook" network rm benchnet >/dev/null
echo
[ "${BENCH_ONLY:-}" = user ] && exit 0

echo "== start-up: nook run --rm --network MODE --rootfs … true ($runs runs each)"
p1=$(free_port)
p2=$(free_port)
set -- -N --warmup 3 --runs "$runs" --export-json "$tmp/start.json" \
  -n "nook --network none" "$nook run --rm --network none --rootfs $rootfs true" \
  -n "nook --network pasta" "$nook run --rm --network pasta --rootfs $rootfs true" \
  -n "nook --network slirp4netns" "$nook run --rm --network slirp4netns --rootfs $rootfs true" \
  -n "nook --network pasta -p" "$nook run --rm --network pasta -p 127.0.0.1:$p1:80 --rootfs $rootfs true" \
  -n "nook --network slirp4netns -p" "$nook run --rm --network slirp4netns -p 127.0.0.1:$p2:80 --rootfs $rootfs true" \
  -n "unshare -Urn true" "unshare -Urn true" \
  -n "pasta --config-net -- true" "pasta --config-net -q -t none -u none -T none -U none -- true"
if [ "${BENCH_PODMAN:-0}" = 1 ] && command -v podman >/dev/null && command -v runc >/dev/null; then
  # podman 4.3 (Debian 12) knows no pasta; crun refuses hybrid cgroups, so runc + cgroupfs
  pod="podman --cgroup-manager=cgroupfs run --rm --runtime runc"
  if $pod --network none --rootfs "$rootfs" true >/dev/null 2>&1; then
    set -- "$@" -n "podman --network none" "$pod --network none --rootfs $rootfs true" \
      -n "podman --network slirp4netns" "$pod --network slirp4netns --rootfs $rootfs true"
  else
    echo "bench: podman left out: it cannot run a container here" >&2
  fi
fi
hyperfine "$@" >"$tmp/start.txt" 2>&1 || { cat "$tmp/start.txt"; exit 1; }
"$deno" eval --quiet '
const r = JSON.parse(Deno.readTextFileSync(Deno.args[0])).results;
const med = (x) => { const s = [...x.times].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] * 1000; };
const cpu = (x) => (x.user + x.system) * 1000; // mean CPU time of the whole process tree: robust on a busy host
const ref = (c) => c.startsWith("nook") ? "nook --network none" : c.startsWith("podman") ? "podman --network none" : "unshare -Urn true";
const by = (c) => r.find((x) => x.command === c);
const w = Math.max(...r.map((x) => x.command.length));
console.log(`${"command".padEnd(w)}  median ms  extra ms   cpu ms  extra cpu ms   (extra: over the same tool with no network)`);
for (const x of r) {
  const b = by(ref(x.command));
  const same = b === x;
  const col = (v, n) => (same ? "" : v.toFixed(1)).padStart(n);
  console.log(`${x.command.padEnd(w)}  ${med(x).toFixed(1).padStart(9)}  ${col(med(x) - med(b), 8)}  ${cpu(x).toFixed(1).padStart(7)}  ${col(cpu(x) - cpu(b), 12)}`);
}
console.log(`load average while measuring: ${Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ")} (2 cores)`);' "$tmp/start.json"
echo
# The same runs again, interleaved (none, pasta, slirp4netns, none, …): on a busy
# host, load that comes and goes then falls on every mode alike.
echo "== start-up, interleaved rounds ($runs rounds)"
: >"$tmp/inter.txt"
i=0
while [ $i -lt "$runs" ]; do
  for mode in none pasta slirp4netns; do
    t0=$(date +%s%N)
    "$nook" run --rm --network $mode --rootfs "$rootfs" true
    t1=$(date +%s%N)
    echo "$mode $(((t1 - t0) / 1000))" >>"$tmp/inter.txt"
  done
  i=$((i + 1))
done
"$deno" eval --quiet '
const rows = Deno.readTextFileSync(Deno.args[0]).trim().split("\n").map((l) => l.split(" "));
const med = (m) => { const s = rows.filter((r) => r[0] === m).map((r) => Number(r[1]) / 1000).sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const none = med("none");
for (const m of ["none", "pasta", "slirp4netns"]) {
  console.log(`nook --network ${m.padEnd(12)} median ${med(m).toFixed(1).padStart(7)} ms${m === "none" ? "" : `   extra ${(med(m) - none).toFixed(1).padStart(6)} ms`}`);
}
console.log(`load average now: ${Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ")} (2 cores)`);' "$tmp/inter.txt"
echo "target: extra start-up of pasta/slirp4netns over none ≤ 25 ms"
echo

# rate PORT: read $mib MiB from 127.0.0.1:PORT (retrying, bounded, until the server streams), print MB/s
rate() {
  "$deno" eval --quiet '
const [port, mib] = Deno.args.map(Number);
const want = mib * 1024 * 1024;
const buf = new Uint8Array(1 << 20);
for (let attempt = 0; attempt < 100; attempt++) {
  let got = 0, t0 = 0;
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      while (got < want) {
        const n = await c.read(buf);
        if (n === null) break;
        if (got === 0) t0 = performance.now(); // from the first byte: connection set-up is not throughput
        got += n;
      }
    } finally {
      c.close();
    }
  } catch {
    // not listening yet
  }
  if (got >= want) {
    console.log(`${(got / 1e6 / ((performance.now() - t0) / 1000)).toFixed(0)} MB/s`);
    Deno.exit(0);
  }
  await new Promise((r) => setTimeout(r, 100));
}
console.log("failed");' "$1" "$mib"
}

echo "== TCP throughput through -p on loopback: $mib MiB streamed by bench/network_stream.c in the container"
printf '%-44s %s\n' "path" "rate"
# plain host loopback, for reference
p=$(free_port)
"$rootfs/bin/stream" "$p" 127.0.0.1 &
pids="$pids $!"
printf '%-44s %s\n' "host loopback (no container)" "$(rate "$p")"

for mode in pasta slirp4netns; do
  p=$(free_port)
  "$nook" run --rm --init --network "$mode" -p "127.0.0.1:$p:80" --rootfs "$rootfs" stream 80 2>/dev/null &
  pids="$pids $!"
  printf '%-44s %s\n' "nook --network $mode -p" "$(rate "$p")"
done

# the same helpers driven by hand: unshare -Urn runs the server, the helper joins it
p=$(free_port)
unshare -Urn sh -c "ip link set lo up; exec $rootfs/bin/stream 80" &
ns=$!
pids="$pids $ns"
mkfifo "$tmp/pasta.pid"
pasta -f -q --config-net --pid "$tmp/pasta.pid" -t "127.0.0.1/$p:80" -u none -T none -U none \
  --userns "/proc/$ns/ns/user" --netns "/proc/$ns/ns/net" 2>"$tmp/pasta.log" &
pids="$pids $!"
timeout 10 cat "$tmp/pasta.pid" >/dev/null # pasta writes its pid once the interface is up
printf '%-44s %s\n' "pasta by hand (unshare -Urn + pasta -t)" "$(rate "$p")"

p=$(free_port)
unshare -Urn sh -c "exec $rootfs/bin/stream 80" &
ns=$!
pids="$pids $ns"
mkfifo "$tmp/slirp.ready"
slirp4netns --configure --mtu=65520 --enable-sandbox --enable-seccomp --disable-host-loopback --ready-fd=3 \
  --api-socket "$tmp/slirp.sock" "$ns" tap0 \
  3>"$tmp/slirp.ready" 2>"$tmp/slirp.log" &
pids="$pids $!"
timeout 10 cat "$tmp/slirp.ready" >/dev/null # "1" once tap0 is configured
"$deno" eval --quiet '
const c = await Deno.connect({ transport: "unix", path: Deno.args[0] });
await c.write(new TextEncoder().encode(JSON.stringify({ execute: "add_hostfwd",
  arguments: { proto: "tcp", host_addr: "127.0.0.1", host_port: Number(Deno.args[1]), guest_port: 80 } })));
await c.closeWrite(); const b = new Uint8Array(512); await c.read(b); c.close();' "$tmp/slirp.sock" "$p"
printf '%-44s %s\n' "slirp4netns by hand (unshare -Urn + API fwd)" "$(rate "$p")"
