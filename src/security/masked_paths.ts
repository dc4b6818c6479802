/**
 * Paths of /proc and /sys that a container must not read or write: podman's
 * defaults (containers/common `DefaultMaskedPaths` and
 * `DefaultReadOnlyPaths`). A masked file gets /dev/null bound over it, a
 * masked directory an empty read-only tmpfs; a read-only path is bound onto
 * itself and made read-only (plan op PROTECT_PATH). Which of them exist
 * depends on the kernel's configuration; the shim skips the missing ones.
 *
 * @module
 */

/** Hidden from the container: kernel memory, keys, timers, firmware, other devices' details. */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/sys/dev/block",
  "/sys/devices/virtual/powercap",
  "/sys/firmware",
  "/sys/fs/selinux",
];

/** Visible but read-only: kernel tunables and the magic SysRq trigger. */
export const DEFAULT_READONLY_PATHS: readonly string[] = [
  "/proc/asound",
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];
