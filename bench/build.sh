#!/bin/sh
# nook build against buildah bud on one realistic Containerfile: a base image, a package-like RUN
# that writes a few thousand files, a COPY of a source tree, a second stage; (a) cold, (b) an
# unchanged rebuild, (c) one source file changed. nook runs rootless as $NOOK_TEST_USER (default
# nooktest); Debian's buildah runs only as root here (vfs storage, chroot isolation), so this
# script runs as root and says so in its output. One run each; read ratios, not absolutes.
# Then the unchanged rebuild again, NOOK_BENCH_ROUNDS times (default 5), interleaved with buildah's
# (and with another checkout's nook when NOOK_BENCH_COMPARE=DIR names one), as medians: on a
# loaded machine only interleaved runs compare.
# (d) push of the result, NOOK_BENCH_PUSH_ROUNDS times (default 3), interleaved with `skopeo copy`
# of the same image: the equal-work comparison is store to registry — nook push reads its store,
# skopeo reads the image exported once (untimed) from that store as an OCI layout directory, so
# both send the same gzip blobs as they are (no recompression) and the same manifest (its digest
# is checked). Each push goes to a fresh docker-registry on 127.0.0.1 (no blob there to skip or
# mount), both tools run as the test user, skopeo with an empty blob-info cache.
set -eu
[ -n "${BENCH_DEBUG:-}" ] && set -x
. "$(dirname -- "$0")/_lib.sh"
[ "$(id -u)" = 0 ] || { echo "bench: run as root (buildah needs it here; nook runs as the test user)" >&2; exit 1; }
bench_need tar
user=${NOOK_TEST_USER:-nooktest}
"$bench_root/libshim/build.sh" >/dev/null
"$bench_root/nook" --version >/dev/null
chmod -R a+rX "$bench_root/build" 2>/dev/null || true
work=$(mktemp -d /tmp/nook-bench-build-XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
bench_busybox_rootfs "$work/rootfs" sh mkdir seq cat echo touch rm ls wc >/dev/null
# gzip-compressed, as a base from a registry is: the store keeps it so, and (d) pushes it as it is
tar --owner=0 --group=0 --numeric-owner -C "$work/rootfs" -czf "$work/bb.tar.gz" .
mkdir -p "$work/ctx/src"
i=0
while [ $i -lt 300 ]; do echo "source file $i" >"$work/ctx/src/f$i.c"; i=$((i + 1)); done
cat >"$work/ctx/Containerfile" <<'CF'
FROM bb AS build
RUN mkdir -p /usr/share/pkg && cd /usr/share/pkg && for i in $(seq 1 3000); do echo "file $i" > "f$i"; done
COPY src /src
RUN cat /src/*.c | wc -l > /count
FROM bb
COPY --from=build /count /count
COPY --from=build /usr/share/pkg /usr/share/pkg
CMD ["cat", "/count"]
CF
chown -R "$user" "$work"
now() { date +%s.%N; }
ms() { echo "$1 $2" | awk '{ printf "%d", ($2 - $1) * 1000 }'; }
as_user() {
  runuser -u "$user" -- env -i HOME="$work" PATH=/usr/local/bin:/usr/bin:/bin NOOK_DATA_DIR="$work/nook" \
    XDG_RUNTIME_DIR= "$@"
}
as_user "$bench_root/nook" import -q "$work/bb.tar.gz" bb >/dev/null
run_nook() { t0=$(now); as_user "$bench_root/nook" build -q --network none -t bench:1 "$work/ctx" >/dev/null; ms "$t0" "$(now)"; }
n_cold=$(run_nook)
n_warm=$(run_nook)
echo "source file changed" >>"$work/ctx/src/f7.c"
n_one=$(run_nook)
echo "nook build (rootless, user $user): cold ${n_cold} ms, unchanged ${n_warm} ms, one file changed ${n_one} ms"

if command -v buildah >/dev/null; then
  echo "source file 7" >"$work/ctx/src/f7.c"
  b="buildah --root $work/buildah/root --runroot $work/buildah/run --storage-driver vfs"
  # the same base, handed over as a docker-archive (buildah names it localhost/bb)
  as_user "$bench_root/nook" save --format docker-archive -o "$work/bb-docker.tar" bb
  $b pull -q "docker-archive:$work/bb-docker.tar" >/dev/null
  run_buildah() { t0=$(now); $b bud -q --isolation chroot --layers -t bench:1 "$work/ctx" >/dev/null 2>&1; ms "$t0" "$(now)"; }
  b_cold=$(run_buildah)
  b_warm=$(run_buildah)
  echo "source file changed" >>"$work/ctx/src/f7.c"
  b_one=$(run_buildah)
  echo "buildah bud (as root: Debian's buildah cannot build rootless here; vfs, chroot isolation, host network): cold ${b_cold} ms, unchanged ${b_warm} ms, one file changed ${b_one} ms"
else
  echo "buildah bud: skipped, buildah is not installed (apt install buildah)"
fi

# the unchanged rebuild, interleaved
rounds=${NOOK_BENCH_ROUNDS:-5}
other=${NOOK_BENCH_COMPARE:-}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
if [ -n "$other" ]; then
  chmod -R a+rX "$other" 2>/dev/null || true
  "$other/nook" --version >/dev/null
  run_other() {
    t0=$(now)
    runuser -u "$user" -- env -i HOME="$work" PATH=/usr/local/bin:/usr/bin:/bin NOOK_DATA_DIR="$work/nook-other" XDG_RUNTIME_DIR= \
      "$other/nook" build -q --network none -t bench:1 "$work/ctx" >/dev/null
    ms "$t0" "$(now)"
  }
  runuser -u "$user" -- env -i HOME="$work" PATH=/usr/local/bin:/usr/bin:/bin NOOK_DATA_DIR="$work/nook-other" XDG_RUNTIME_DIR= \
    "$other/nook" import -q "$work/bb.tar.gz" bb >/dev/null
  run_other >/dev/null
fi
run_nook >/dev/null
[ -n "${b:-}" ] && run_buildah >/dev/null
t_n="" t_o="" t_b=""
r=0
while [ $r -lt "$rounds" ]; do
  t_n="$t_n $(run_nook)"
  [ -n "$other" ] && t_o="$t_o $(run_other)"
  [ -n "${b:-}" ] && t_b="$t_b $(run_buildah)"
  r=$((r + 1))
done
m_n=$(echo "$t_n" | median)
echo "unchanged rebuild, median of $rounds interleaved rounds: nook ${m_n} ms (${t_n# })"
[ -n "$other" ] && echo "  $other: $(echo "$t_o" | median) ms (${t_o# })"
if [ -n "${b:-}" ]; then
  m_b=$(echo "$t_b" | median)
  echo "  buildah bud: ${m_b} ms (${t_b# }); nook/buildah $(echo "$m_n $m_b" | awk '{ printf "%.2f", $1 / $2 }')"
  [ -n "$other" ] && echo "  $other/buildah $(echo "$(echo "$t_o" | median) $m_b" | awk '{ printf "%.2f", $1 / $2 }')"
fi

# (d) push of the result against skopeo copy of the same image
if ! command -v skopeo >/dev/null || ! [ -x /usr/bin/docker-registry ] || ! command -v python3 >/dev/null; then
  echo "push: skipped, needs skopeo, docker-registry and python3 (apt install skopeo docker-registry python3)"
  exit 0
fi
as_user "$bench_root/nook" save -o "$work/bench-oci.tar" bench:1
mkdir "$work/oci"
tar -C "$work/oci" -xf "$work/bench-oci.tar"
chown -R "$user" "$work/oci"
reg_pid=""
stop_registry() { [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null; reg_pid=""; }
trap 'stop_registry; rm -rf "$work"' EXIT
# start_registry: a fresh docker-registry on a free port of 127.0.0.1; sets $reg
start_registry() {
  stop_registry
  rm -rf "$work/registry"
  mkdir -p "$work/registry"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s/registry/data\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$work" "$port" >"$work/registry/config.yml"
  /usr/bin/docker-registry serve "$work/registry/config.yml" >/dev/null 2>&1 &
  reg_pid=$!
  reg=127.0.0.1:$port
  n=0
  until curl -fs "http://$reg/v2/" >/dev/null 2>&1; do
    n=$((n + 1))
    [ $n -lt 200 ] || { echo "bench: docker-registry did not start on $reg" >&2; exit 1; }
    sleep 0.05
  done
}
run_push() {
  start_registry
  t0=$(now)
  as_user "$bench_root/nook" push -q --tls-verify=false --digestfile "$work/nook.digest" bench:1 "$reg/bench/app:1" >/dev/null
  ms "$t0" "$(now)"
}
run_skopeo() {
  start_registry
  rm -rf "$work/skopeo-data"
  t0=$(now)
  as_user env XDG_DATA_HOME="$work/skopeo-data" skopeo copy -q --dest-tls-verify=false --digestfile "$work/skopeo.digest" \
    "oci:$work/oci" "docker://$reg/bench/app:1" >/dev/null
  ms "$t0" "$(now)"
}
push_rounds=${NOOK_BENCH_PUSH_ROUNDS:-3}
p_n="" p_s=""
r=0
while [ $r -lt "$push_rounds" ]; do
  p_n="$p_n $(run_push)"
  p_s="$p_s $(run_skopeo)"
  r=$((r + 1))
done
stop_registry
same="no: nook $(cat "$work/nook.digest"), skopeo $(cat "$work/skopeo.digest")"
[ "$(cat "$work/nook.digest")" = "$(cat "$work/skopeo.digest")" ] && same=yes
blobs=$(find "$work/oci/blobs" -type f | wc -l)
bytes=$(du -sb "$work/oci/blobs" | cut -f1)
m_pn=$(echo "$p_n" | median)
m_ps=$(echo "$p_s" | median)
echo "push of the result ($blobs blobs, $bytes bytes; the same manifest digest: $same), median of $push_rounds interleaved rounds, each to a fresh registry:"
echo "  nook push: ${m_pn} ms (${p_n# })"
echo "  skopeo copy oci:DIR: ${m_ps} ms (${p_s# }); nook/skopeo $(echo "$m_pn $m_ps" | awk '{ printf "%.2f", $1 / $2 }')"
true
