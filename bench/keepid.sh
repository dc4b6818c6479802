#!/bin/sh
# keep-id start-up: `true` in a fresh container of a small image (busybox) and of a ~170 MB
# one (busybox and Python's library tree, padded with generated files), each with the default
# mapping and with --userns=keep-id, in interleaved rounds:
#   - keep-id through fuse-overlayfs's id mapping (nothing is copied, whatever the image's size);
#   - keep-id on the shifted copy (NOOK_ID_SHIFT=copy, the fallback where fuse-overlayfs cannot
#     map ids), made once per image and mapping and then shared; the one-time cost of making it
#     for the large image is printed first. Any NOOK_* variable makes nook load its config, so
#     those rows are compared with a default-mapping row under the same variable.
# Ends with keep-id / default per image (the target: ≤ 1.2, independent of the image's size).
# Runs as an unprivileged user; as root it re-runs itself as $NOOK_TEST_USER.
#   bench/keepid.sh [RUNS]
set -eu
. "$(dirname -- "$0")/_lib.sh"
root=$bench_root
runs=${1:-20}
bench_as_user "$0" "$@"

deno="$root/.deno/node_modules/deno/deno"
[ -x "$deno" ] || deno=$(command -v deno)
tmp=$(mktemp -d)
# the store's files of subordinate ids: only nook (in its user namespace) can remove them
trap '"$root/nook" system reset -f >/dev/null 2>&1; rm -rf "$tmp"' EXIT
export XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" XDG_RUNTIME_DIR="$tmp/run"
mkdir -m 700 "$XDG_RUNTIME_DIR"

bench_busybox_rootfs "$tmp/small" true sh id
bench_busybox_rootfs "$tmp/large" true sh id
# a real tree of many small files (a language runtime's library), then generated files up to 170 MB
for d in /usr/lib/python3.11 /usr/lib/python3; do
  [ -d "$d" ] && mkdir -p "$tmp/large$(dirname "$d")" && cp -r "$d" "$tmp/large$d" 2>/dev/null || true
done
have=$(du -sk "$tmp/large" | cut -f1)
mkdir -p "$tmp/large/opt/data"
i=0
while [ "$have" -lt $((170 * 1024)) ] && [ $i -lt 1000 ]; do
  head -c $((4 * 1024 * 1024)) /dev/urandom >"$tmp/large/opt/data/blob$i"
  have=$((have + 4096))
  i=$((i + 1))
done
files=$(find "$tmp/large" -type f | wc -l)
size=$(du -sm "$tmp/large" | cut -f1)

"$root/nook" run --rm --rootfs "$tmp/small" true # warm: Deno installed, caches filled
tar -C "$tmp/small" -cf - . | "$root/nook" import -q - bench-small >/dev/null
tar -C "$tmp/large" -cf - . | "$root/nook" import -q - bench-large >/dev/null
echo "images: bench-small (busybox), bench-large ($size MB, $files files)"
for img in bench-small bench-large; do
  "$root/nook" run --rm --network none "$img" true
  "$root/nook" run --rm --network none --userns=keep-id "$img" true
done
t0=$(date +%s%N)
NOOK_ID_SHIFT=copy "$root/nook" run --rm --network none --userns=keep-id bench-large true 2>/dev/null
t1=$(date +%s%N)
NOOK_ID_SHIFT=copy "$root/nook" run --rm --network none --userns=keep-id bench-small true 2>/dev/null
echo "the shifted copy of bench-large, made once for keep-id's mapping: $(((t1 - t0) / 1000000)) ms (that first run included)"

# Interleaved rather than hyperfine's one command after another: on a shared, loaded machine the
# load drifts over a run, and rounds that take every command once each see the same load.
run="$root/nook run --rm --network none"
"$deno" eval --quiet '
const [runs, run] = [Number(Deno.args[0]), Deno.args[1].split(" ")];
const rows = [];
for (const img of ["bench-small", "bench-large"]) {
  rows.push(
    { name: `${img}, default mapping`, env: {}, args: [img, "true"] },
    { name: `${img}, --userns=keep-id (fuse-overlayfs id mapping)`, env: {}, args: ["--userns=keep-id", img, "true"] },
    { name: `${img}, default mapping, NOOK_ID_SHIFT=copy set`, env: { NOOK_ID_SHIFT: "copy" }, args: [img, "true"] },
    { name: `${img}, --userns=keep-id on the shifted copy (NOOK_ID_SHIFT=copy)`, env: { NOOK_ID_SHIFT: "copy" }, args: ["--userns=keep-id", img, "true"] },
  );
}
const times = rows.map(() => []);
for (let round = -2; round < runs; round++) {
  for (const [i, r] of rows.entries()) {
    const t = performance.now();
    const out = await new Deno.Command(run[0], { args: [...run.slice(1), ...r.args], env: r.env, stdout: "null", stderr: "piped" }).output();
    if (!out.success) throw new Error(`${r.name}: ${new TextDecoder().decode(out.stderr)}`);
    if (round >= 0) times[i].push(performance.now() - t); // two warm-up rounds
  }
}
const med = (x) => { const s = [...x].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const w = Math.max(...rows.map((r) => r.name.length));
console.log(`${"command".padEnd(w)}  median ms   min ms   (${runs} interleaved rounds)`);
for (const [i, r] of rows.entries()) console.log(`${r.name.padEnd(w)}  ${med(times[i]).toFixed(1).padStart(9)}  ${Math.min(...times[i]).toFixed(1).padStart(7)}`);
console.log("");
// the minimum too: on a loaded machine it is the nearest to what a quiet one would show
const m = (name) => med(times[rows.findIndex((r) => r.name === name)]);
const lo = (name) => Math.min(...times[rows.findIndex((r) => r.name === name)]);
console.log(`${"ratio".padEnd(50)} median    min`);
for (const img of ["bench-small", "bench-large"]) {
  const pairs = [
    [`${img}: keep-id / default`, `${img}, --userns=keep-id (fuse-overlayfs id mapping)`, `${img}, default mapping`, "   (target ≤ 1.20)"],
    [`${img}: keep-id on the shifted copy / default`, `${img}, --userns=keep-id on the shifted copy (NOOK_ID_SHIFT=copy)`, `${img}, default mapping, NOOK_ID_SHIFT=copy set`, ""],
  ];
  for (const [what, a, b, note] of pairs) {
    console.log(`${what.padEnd(50)} ${(m(a) / m(b)).toFixed(2).padStart(6)} ${(lo(a) / lo(b)).toFixed(2).padStart(6)}${note}`);
  }
}
console.log(`load average after: ${Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ")}`);' "$runs" "$run"
