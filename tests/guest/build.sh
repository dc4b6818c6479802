#!/bin/sh
# Build (once) the Debian guest that the cgroup tests boot: bookworm with
# systemd as PID 1, a pure cgroup v2 hierarchy, dbus-user-session, uidmap,
# an unprivileged user "tester" with a subordinate id range and lingering,
# the user@.service drop-in that delegates cpu cpuset io memory pids, and
# containerd (with ctr) and rootlesskit, for nook as the runtime of a
# rootless containerd.
#
# Why a guest: the machines nook is developed on have hybrid cgroups and no
# systemd PID 1, and the host's hierarchies must never be changed.
#
# Needs root (debootstrap, chroot). The result is cached, keyed by the hash of
# this script and the kernel it uses, in $NOOK_GUEST_CACHE (default
# /var/cache/nook-test-guest/KEY/), readable by everyone, so an unprivileged
# user can boot it (tests/guest/run.sh, QEMU with TCG: /dev/kvm here is a PVM
# device that cannot run a stock kernel). Prints the image directory.
#
# The kernel is the host's Debian kernel package (linux-image-amd64, in
# tests/run's package list); the initrd holds only what mounting the root
# needs (MODULES=list); the guest's own modules are a subset of the host's.
#
#   tests/guest/build.sh           build if needed, print the image directory
#   tests/guest/build.sh --check   print it if it is built, else fail (never builds)
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd -P)
cache=${NOOK_GUEST_CACHE:-/var/cache/nook-test-guest}

# the newest Debian kernel installed on the host
kver=""
for f in /boot/vmlinuz-*; do
  [ -e "$f" ] || continue
  v=${f#/boot/vmlinuz-}
  [ -d "/lib/modules/$v" ] && kver=$v
done
if [ -z "$kver" ]; then
  echo "tests/guest/build.sh: no Debian kernel on this host (apt install linux-image-amd64)" >&2
  exit 1
fi
key=$( (cat "$0"; echo "$kver") | sha256sum | cut -c1-16)
out="$cache/$key"
if [ -e "$out/ready" ]; then
  echo "$out"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "the guest image is not built: run tests/run as root (it builds it once, with debootstrap), or tests/guest/build.sh as root" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "tests/guest/build.sh: building the guest image needs root (debootstrap); run tests/run as root" >&2
  exit 1
fi
for tool in debootstrap mkinitramfs mkfs.ext4; do
  command -v "$tool" >/dev/null 2>&1 || { echo "tests/guest/build.sh: $tool is missing" >&2; exit 1; }
done

# The Debian mirror this host already uses (never a name written here).
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
  grep -v -e security -e '^$' | head -n1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\{1,\}\([a-z]*:[^[:space:]]*\)[[:space:]]\{1,\}bookworm[[:space:]].*/\1/p' \
  /etc/apt/sources.list 2>/dev/null | head -n1)
[ -n "$mirror" ] || { echo "tests/guest/build.sh: no Debian mirror found in /etc/apt/sources.list*" >&2; exit 1; }

mkdir -p "$cache"
chmod 0755 "$cache"
# one build at a time (several checkouts may be tested at once); another may have just finished it
exec 9>"$cache/.lock"
flock 9
if [ -e "$out/ready" ]; then
  echo "$out"
  exit 0
fi
work=$(mktemp -d "$cache/.build-XXXXXX")
trap 'umount -R "$work/root/proc" "$work/root/sys" "$work/root/dev" 2>/dev/null || true; rm -rf "$work"' EXIT
root="$work/root"
echo "tests/guest/build.sh: debootstrap bookworm into $root (a few minutes)" >&2
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,udev,kmod,uidmap,fuse-overlayfs,passt,busybox-static,procps,e2fsprogs,containerd,rootlesskit \
  bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}

# kernel modules the guest loads itself (9p for the shared project, virtio, overlay, fuse, bfq…)
m=/lib/modules/$kver
mkdir -p "$root$m"
(cd "$m" && tar -cf - modules.order modules.builtin modules.builtin.modinfo \
  kernel/fs kernel/net/9p kernel/drivers/virtio kernel/drivers/block kernel/drivers/char kernel/block \
  kernel/lib kernel/crypto kernel/arch 2>/dev/null) | tar -C "$root$m" -xf -
depmod -b "$root" "$kver"

# the system
echo nook-guest >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 nook-guest\n' >"$root/etc/hosts"
cat >"$root/etc/fstab" <<'EOF'
/dev/vda / ext4 rw,noatime 0 1
project /project 9p trans=virtio,version=9p2000.L,ro,msize=512000,nofail 0 0
results /results 9p trans=virtio,version=9p2000.L,msize=512000,nofail 0 0
EOF
mkdir -p "$root/project" "$root/results"
printf '9pnet_virtio\n9p\nvirtio_rng\n' >"$root/etc/modules-load.d/nook-guest.conf"
# nothing on the boot path that the job does not need
for u in getty@tty1.service serial-getty@ttyS0.service apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer e2scrub_reap.service fstrim.timer dpkg-db-backup.timer systemd-timesyncd.service \
  containerd.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$u"
done

# the unprivileged user: subordinate ids, lingering, delegated controllers
chroot "$root" useradd --create-home --uid 1000 --shell /bin/sh tester
echo "tester:100000:65536" >"$root/etc/subuid"
echo "tester:100000:65536" >"$root/etc/subgid"
mkdir -p "$root/var/lib/systemd/linger"
: >"$root/var/lib/systemd/linger/tester"
mkdir -p "$root/etc/systemd/system/user@.service.d"
printf '[Service]\nDelegate=cpu cpuset io memory pids\n' >"$root/etc/systemd/system/user@.service.d/delegate.conf"

# The job: the host writes /results/job.sh; it runs as tester in a real login
# session (PAMName= makes pam_systemd register one: XDG_RUNTIME_DIR, the
# user's bus and systemd --user manager), then the guest powers off.
cat >"$root/etc/systemd/system/nook-guest-job.service" <<'EOF'
[Unit]
Description=nook guest job
After=multi-user.target user@1000.service
Wants=user@1000.service
RequiresMountsFor=/project /results
ConditionPathExists=/results/job.sh
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=exec
User=tester
PAMName=login
WorkingDirectory=~
ExecStart=/bin/sh /results/job.sh
TimeoutStartSec=infinity
# the guest's journal, for when a job goes wrong (tests/guest/run.sh prints its end then)
ExecStopPost=+/bin/sh -c 'journalctl -b --no-pager -o short-monotonic >/results/journal 2>&1'

[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/nook-guest-job.service "$root/etc/systemd/system/multi-user.target.wants/nook-guest-job.service"
# no job to run (e.g. a boot by hand): power off anyway
cat >"$root/etc/systemd/system/nook-guest-nojob.service" <<'EOF'
[Unit]
Description=power off when there is no job
After=multi-user.target
ConditionPathExists=!/results/job.sh
SuccessAction=poweroff-force

[Service]
Type=oneshot
ExecStart=/bin/true

[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/nook-guest-nojob.service "$root/etc/systemd/system/multi-user.target.wants/nook-guest-nojob.service"
rm -f "$root/etc/machine-id" "$root/var/lib/dbus/machine-id"
: >"$root/etc/machine-id"
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* 2>/dev/null || true

# kernel, initrd (only what mounting the root needs), image
cp "/boot/vmlinuz-$kver" "$work/vmlinuz"
conf="$work/initramfs"
mkdir -p "$conf/conf.d" "$conf/hooks" "$conf/scripts"
printf 'MODULES=list\nBUSYBOX=auto\nCOMPRESS=zstd\nFSTYPE=ext4\nRUNSIZE=10%%\n' >"$conf/initramfs.conf"
printf 'virtio_pci\nvirtio_blk\next4\n' >"$conf/modules"
mkinitramfs -d "$conf" -o "$work/initrd.img" "$kver"
size=$(( $(du -sm "$root" | cut -f1) + 1024 ))
mkfs.ext4 -q -F -L nook-guest -d "$root" "$work/rootfs.img" "${size}M"
chmod 0644 "$work/vmlinuz" "$work/initrd.img" "$work/rootfs.img"
echo "$kver" >"$work/kernel-version"

rm -rf "$out"
mkdir -p "$out"
mv "$work/vmlinuz" "$work/initrd.img" "$work/rootfs.img" "$work/kernel-version" "$out/"
chmod 0755 "$out"
: >"$out/ready"
# older images (another hash) are stale, but another checkout may still boot
# one of the last few: the three newest of them are kept
ls -1dt "$cache"/*/ready 2>/dev/null | while read -r r; do
  d=${r%/ready}
  [ "$d" = "$out" ] || echo "$d"
done | tail -n +4 | while read -r d; do rm -rf "$d"; done
echo "$out"
