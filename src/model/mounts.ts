/**
 * The mounts every container gets, once, in the runtime spec's form (destination, type, source,
 * options): `nook runtime spec` writes them into config.json, and the plan of `nook run` mounts
 * them from the same rows (src/engine/build_plan.ts turns the options into mount flags and data).
 *
 * @module
 */

/** One default mount, as config.json writes it. */
export interface DefaultMount {
  /** Where it is mounted in the container. */
  readonly destination: string;
  /** Filesystem type ("none" for a bind). */
  readonly type: string;
  /** Source (a device name for pseudo filesystems). */
  readonly source: string;
  /** Mount flags and filesystem data, in order (`nosuid`, `mode=755`…). */
  readonly options: readonly string[];
  /** Mode of the mount point when it has to be made. */
  readonly mode: number;
}

/**
 * The default mounts, by name. /dev/pts gets `gid=5` (tty) besides where that gid is mapped; /sys
 * is sysfs where the container owns its network namespace, else the host's, bound read-only
 * ({@link DEFAULT_MOUNTS}.sysBind); `cgroup` is the read-only v1 view a non-rootless spec lists.
 */
export const DEFAULT_MOUNTS = {
  proc: { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"], mode: 0o555 },
  dev: {
    destination: "/dev",
    type: "tmpfs",
    source: "tmpfs",
    options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    mode: 0o755,
  },
  devpts: {
    destination: "/dev/pts",
    type: "devpts",
    source: "devpts",
    options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
    mode: 0o755,
  },
  shm: {
    destination: "/dev/shm",
    type: "tmpfs",
    source: "shm",
    options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    mode: 0o1777,
  },
  mqueue: {
    destination: "/dev/mqueue",
    type: "mqueue",
    source: "mqueue",
    options: ["nosuid", "noexec", "nodev"],
    mode: 0o755,
  },
  sys: {
    destination: "/sys",
    type: "sysfs",
    source: "sysfs",
    options: ["nosuid", "noexec", "nodev", "ro"],
    mode: 0o555,
  },
  sysBind: {
    destination: "/sys",
    type: "none",
    source: "/sys",
    options: ["rbind", "nosuid", "noexec", "nodev", "ro"],
    mode: 0o555,
  },
  cgroup: {
    destination: "/sys/fs/cgroup",
    type: "cgroup",
    source: "cgroup",
    options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
    mode: 0o555,
  },
} as const satisfies Record<string, DefaultMount>;

/** The devpts option that makes new ptys belong to the tty group, where gid 5 is mapped. */
export const DEVPTS_TTY_GID = "gid=5";

/**
 * The symbolic links of a container's own /dev, as runc makes them: [target, link]. `nook run`
 * adds `/dev/core` → `/proc/kcore` as docker does.
 */
export const DEV_SYMLINKS: readonly (readonly [string, string])[] = [
  ["/proc/self/fd", "/dev/fd"],
  ["/proc/self/fd/0", "/dev/stdin"],
  ["/proc/self/fd/1", "/dev/stdout"],
  ["/proc/self/fd/2", "/dev/stderr"],
  ["pts/ptmx", "/dev/ptmx"],
];
