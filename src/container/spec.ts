/** A bind mount or filesystem to put into the container before pivot_root. */
export interface MountSpec {
  /** Host path (bind) or filesystem source name ("tmpfs"). */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  /** Filesystem type; "" for a bind mount. */
  fstype: string;
  /** MS_* flags. */
  flags: number;
  /** Filesystem data ("size=64m,mode=1777"). */
  data?: string;
  /** Read-only (applied with mount_setattr after mounting). */
  readonly?: boolean;
  /** The target is a file, not a directory (create it as such). */
  file?: boolean;
}

/** The process to run in the container, fully resolved. */
export interface ProcessSpec {
  /** argv; argv[0] is the command as the user wrote it. */
  args: string[];
  /** `KEY=VALUE` strings. */
  env: string[];
  /** Working directory inside the container (absolute). */
  cwd: string;
  /** uid inside the container. */
  uid: number;
  /** gid inside the container. */
  gid: number;
  /** Supplementary groups. */
  groups: number[];
  /** Allocate a pty (-t). */
  terminal: boolean;
  /** Keep stdin attached (-i); without it the container reads /dev/null. */
  stdin: boolean;
  /** Run a minimal init as pid 1 (--init). */
  init: boolean;
  /** umask of the process. */
  umask: number;
  /** rlimits by resource number: [soft, hard]. */
  rlimits: [number, bigint, bigint][];
  /** Terminal size for -t: rows, cols (0 = unknown). */
  consoleSize?: [number, number];
}

/** Everything needed to start a container: the decision, made in TypeScript. */
export interface ContainerSpec {
  /** 64 hex digits. */
  id: string;
  /** Host directory that becomes `/`. */
  rootfs: string;
  /** Mount the root read-only. */
  readonlyRootfs: boolean;
  /** Hostname inside. */
  hostname: string;
  /** Network: a private namespace with only loopback, or the host's. */
  network: "none" | "host";
  /** The process. */
  process: ProcessSpec;
  /** Extra mounts (volumes, tmpfs), mounted in order after /proc, /dev and /sys. */
  mounts: MountSpec[];
  /** Host files bind-mounted onto /etc/hosts, /etc/hostname, /etc/resolv.conf. */
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  /**
   * cgroup (#6): the process joins a cgroup of its own before GO, so its
   * cgroup namespace is made after GO (rooted there) and a writable cgroup2 of
   * that subtree is mounted on /sys/fs/cgroup (podman's cgroupns=private).
   */
  privateCgroup?: boolean;
}
