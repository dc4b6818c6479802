/**
 * Paths of /proc and /sys that a container must not read or write: podman's
 * defaults (containers/common `DefaultMaskedPaths` and
 * `DefaultReadOnlyPaths`). A masked file gets /dev/null bound over it, a
 * masked directory an empty read-only tmpfs; a read-only path is bound onto
 * itself and made read-only.
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

/** A path to mask and whether it is a directory (tmpfs) or not (/dev/null). */
export interface MaskedPath {
  /** Absolute path inside the container. */
  path: string;
  /** Directory: an empty read-only tmpfs goes over it; otherwise /dev/null. */
  dir: boolean;
}

/**
 * What is at `path` in the container, looked up before it starts: /proc and
 * /sys are the host kernel's own (the container gets a new instance of the
 * same kernel's filesystems), anything else is in the root filesystem.
 * undefined when nothing is there (then there is nothing to mask).
 */
export function pathKind(path: string, rootfs: string): "dir" | "file" | undefined {
  const onHost = /^\/(proc|sys)(\/|$)/.test(path);
  try {
    const st = Deno.statSync(onHost ? path : `${rootfs}${path}`);
    return st.isDirectory ? "dir" : "file";
  } catch {
    return undefined;
  }
}

/** Masks for the paths that exist. */
export function resolveMasks(paths: Iterable<string>, rootfs: string): MaskedPath[] {
  const out: MaskedPath[] = [];
  for (const path of new Set(paths)) {
    const kind = pathKind(path, rootfs);
    if (kind) out.push({ path, dir: kind === "dir" });
  }
  return out;
}

/** Read-only paths that exist. */
export function resolveReadonly(paths: Iterable<string>, rootfs: string): string[] {
  return [...new Set(paths)].filter((p) => pathKind(p, rootfs) !== undefined);
}
