#!/bin/sh
# Boot the cgroup test guest (tests/guest/build.sh) and run one command in it,
# as the guest's unprivileged user "tester" inside a real login session (its
# systemd --user manager, session bus and delegated cgroup controllers).
#
#   tests/guest/run.sh [--timeout SECONDS] COMMAND [ARG...]
#
# The checkout this script belongs to is shared read-only at /project (9p) and
# COMMAND runs there; its output is printed here and this script exits with its
# status. 124: the guest did not finish in time; 125: the guest could not run
# the command (the reason is printed). Runs unprivileged: QEMU with TCG (the
# host's /dev/kvm is a PVM device that does not run a stock kernel; the microvm
# machine type hangs now and then under TCG, q35 does not).
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd -P)
project=$(CDPATH= cd -- "$here/../.." && pwd -P)
timeout=1200
if [ "${1:-}" = "--timeout" ]; then
  timeout=$2
  shift 2
fi
[ $# -gt 0 ] || { echo "usage: tests/guest/run.sh [--timeout SECONDS] COMMAND [ARG...]" >&2; exit 125; }

qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || { echo "tests/guest/run.sh: qemu-system-x86_64 is not installed (apt install qemu-system-x86)" >&2; exit 125; }
img=$("$here/build.sh") || exit 125

res=$(mktemp -d "${TMPDIR:-/tmp}/nook-guest-XXXXXX")
trap 'rm -rf "$res"' EXIT
chmod 0777 "$res" # the guest's user writes its results here (9p, security_model=none)

# Deno's npm cache (registry metadata and packages): with it, Deno finds the
# project's node_modules complete and never reaches for the network the guest lacks.
denodir=${DENO_DIR:-$HOME/.cache/deno}
[ -d "$denodir/npm" ] && cp -R "$denodir/npm" "$res/deno-npm"

quoted=""
for a in "$@"; do
  quoted="$quoted '$(printf '%s' "$a" | sed "s/'/'\\\\''/g")'"
done
cat >"$res/job.sh" <<EOF
exec >/results/log 2>&1
cd /project
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin NO_COLOR=1 NOOK_IN_GUEST=1 LANG=C.UTF-8
export DENO_DIR="\$HOME/.cache/deno" DENO_NO_UPDATE_CHECK=1
mkdir -p "\$DENO_DIR"
[ -d /results/deno-npm ] && cp -R /results/deno-npm "\$DENO_DIR/npm"
$quoted
echo \$? >/results/rc
EOF

start=$(date +%s)
set +e
timeout --kill-after=10 "$timeout" "$qemu" \
  -machine q35,accel=tcg -cpu max -smp 2 -m 2048 \
  -nodefaults -display none -no-reboot -monitor none \
  -serial "file:$res/console.log" \
  -kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 panic=-1 quiet systemd.show_status=0 systemd.unified_cgroup_hierarchy=1" \
  -drive "file=$img/rootfs.img,format=raw,if=virtio,snapshot=on" \
  -virtfs "local,path=$project,mount_tag=project,security_model=none,readonly=on" \
  -virtfs "local,path=$res,mount_tag=results,security_model=none" \
  -device virtio-rng-pci >"$res/qemu.log" 2>&1
qrc=$?
set -e
[ -e "$res/log" ] && cat "$res/log"
echo "tests/guest/run.sh: the guest ran for $(( $(date +%s) - start )) s" >&2
if [ -s "$res/rc" ]; then
  exit "$(cat "$res/rc")"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  echo "tests/guest/run.sh: the guest did not finish within $timeout s; the end of its console:" >&2
  tail -n 40 "$res/console.log" >&2 || true
  exit 124
fi
echo "tests/guest/run.sh: the guest stopped without a result (qemu exit $qrc); qemu said:" >&2
cat "$res/qemu.log" >&2
if [ -e "$res/journal" ]; then
  echo "tests/guest/run.sh: the end of its journal:" >&2
  tail -n 60 "$res/journal" >&2
fi
echo "tests/guest/run.sh: the end of its console:" >&2
tail -n 40 "$res/console.log" >&2 || true
exit 125
