/**
 * Where a container's own mounts may not go. procfs is what nook trusts when
 * it masks paths, makes /proc/sys read-only and writes sysctls and LSM labels
 * (/proc/self/attr/…): a volume or bind mount on /proc, or below it, would put
 * files of the container's choosing where those writes land, and masks over
 * planted files hide nothing (runc's and podman's fake-/proc escapes). The
 * only exceptions are the single files that lxcfs-style tools bind over
 * procfs, as runc allows them.
 *
 * @module
 */

/** /proc files a bind mount may replace (lxcfs's set, as in runc). */
export const PROC_BIND_ALLOWED: readonly string[] = [
  "/proc/cpuinfo",
  "/proc/diskstats",
  "/proc/meminfo",
  "/proc/stat",
  "/proc/swaps",
  "/proc/uptime",
  "/proc/loadavg",
  "/proc/slabinfo",
  "/proc/net/dev",
  "/proc/sys/kernel/ns_last_pid",
];

/**
 * Why a mount of `fstype` on `target` is refused, or undefined when it may go
 * there: nothing but a proc mount on /proc itself, and no mount below /proc
 * but a bind over one of {@link PROC_BIND_ALLOWED}.
 *
 * @example
 * procMountRefusal("/proc", "") // "…would hide the container's procfs…"
 * procMountRefusal("/proc", "proc") // undefined
 */
export function procMountRefusal(target: string, fstype: string): string | undefined {
  const clean = "/" + target.split("/").filter((p) => p && p !== ".").join("/");
  if (clean === "/proc") {
    return fstype === "proc" ? undefined : "would hide the container's procfs, which masked paths and labels rely on";
  }
  if (!clean.startsWith("/proc/")) return undefined;
  if (fstype === "" && PROC_BIND_ALLOWED.includes(clean)) return undefined;
  return "is inside /proc: only single lxcfs-style files may be bound there";
}
