/**
 * What confines a container's process, decided: capability sets, no_new_privs, the compiled
 * seccomp filter, masked and read-only paths, LSM labels.
 *
 * @module
 */

/** The five capability sets of a process, as bit masks (bit n = capability n). */
export interface CapabilitySets {
  /** Upper limit for everything the process and its children can ever gain. */
  bounding: bigint;
  /** What the kernel checks now. */
  effective: bigint;
  /** What the process may make effective. */
  permitted: bigint;
  /** What survives execve into a program with matching file capabilities. */
  inheritable: bigint;
  /** What a non-root process keeps across execve of an ordinary program. */
  ambient: bigint;
}

/** A write to a /proc/self/attr file just before exec. */
export interface ExecLabel {
  /** The attribute file (inside the container's /proc). */
  path: string;
  /** What to write. */
  value: string;
}

/** Everything the plan needs to lock a container down. */
export interface SecuritySpec {
  /** The process's capability sets. */
  capabilities: CapabilitySets;
  /** Highest capability of the kernel (the shim drops 0..lastCap from the bounding set). */
  lastCap: number;
  /**
   * The permitted set the process holds when its capabilities are set up;
   * absent: all of them (a user namespace it made or joined gives it all).
   * A runtime started as real root with a narrower set (a host or an engine
   * that dropped some) shares its own: asking capset for more is refused.
   */
  heldCapabilities?: bigint;
  /** prctl(PR_SET_NO_NEW_PRIVS): setuid binaries and file capabilities stop granting anything. */
  noNewPrivileges: boolean;
  /** The compiled filter, or undefined for unconfined. */
  seccomp?: { program: Uint8Array; flags: number };
  /** Paths hidden from the container (those that exist). */
  maskedPaths: string[];
  /** Paths made read-only (those that exist). */
  readonlyPaths: string[];
  /** LSM attributes written just before exec (AppArmor profile, SELinux label). */
  execLabels: ExecLabel[];
}

/**
 * The capabilities a container keeps by default: podman's rootless default,
 * `default_capabilities` in containers.conf (Debian 12's podman 4.3 ships
 * /usr/share/containers/containers.conf with exactly these eleven; docker's
 * default adds AUDIT_WRITE, MKNOD and NET_RAW, which podman dropped in 4.0).
 */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
];
