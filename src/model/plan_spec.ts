/**
 * A container as the one plan builder (src/engine/build_plan.ts) takes it: every decision made,
 * in the order the plan carries it out. Both front doors produce it — `nook run` from its
 * `ContainerSpec` (in the builder's own file, so the run path loads nothing more), the
 * runtime front door from a checked config.json (src/oci/plan_spec.ts) — and nothing in it
 * depends on which one did.
 *
 * Mount flags and attributes are the kernel's numbers (MS_*, MOUNT_ATTR_*), as in
 * `MountSpec`; the model itself imports none of nook's folders.
 *
 * @module
 */
import type { ProcessSpec, RootfsSetup } from "./container.ts";
import type { SecuritySpec } from "./security.ts";
import type { NsType } from "./oci.ts";

/**
 * A process to set up in a plan: the model's process, whose umask may be left as inherited
 * (config.json may name none) and which runs a minimal init only when asked (`nook run --init`).
 */
export type ProcessSetup = Omit<ProcessSpec, "umask" | "init"> & { umask?: number; init?: boolean };

/** One mount_setattr on a mount target, after it is mounted. */
export interface MountAttrChange {
  /** MOUNT_ATTR_* bits to set (0: none). */
  set: number;
  /** An MS_* propagation type to apply (MS_PRIVATE, MS_SHARED, MS_SLAVE, MS_UNBINDABLE), or none. */
  propagation?: number;
  /** The whole tree under the target (AT_RECURSIVE). */
  recursive: boolean;
}

/** A mount inside the container's root, before pivot_root. */
export interface RootMount {
  /** Host path (a bind) or the filesystem's source name. */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  /** Filesystem type; "" for a bind. */
  fstype: string;
  /** MS_* flags given to mount(2). */
  flags: number;
  /** Filesystem data ("size=64m,mode=1777"). */
  data?: string;
  /**
   * How the mount point is made first: `"dirs"` (the default) the directory and its missing
   * parents; `"file"` the missing parents, then an empty file; `"dir"` only the directory, its
   * parent existing; `"node"` only an empty file; `"exists"` nothing. `mode` is the new
   * directory's or file's mode (the builder's defaults otherwise).
   */
  point?: "dirs" | "file" | "dir" | "node" | "exists";
  /** Mode of what {@link point} makes. */
  mode?: number;
  /**
   * Where the kernel refuses a new mount of this filesystem (the container does not own the
   * namespace it belongs to: sysfs with the host's network), bind the host's mount at `path`
   * instead, with the MOUNT_ATTR_* bits `attrs`.
   */
  orBind?: { path: string; attrs: number };
  /** mount_setattr calls on the target once mounted, in order (read-only binds, propagation). */
  attrs?: MountAttrChange[];
}

/** One step in building the container's filesystem inside its new root, before pivot_root. */
export type RootStep =
  | { mount: RootMount }
  | { dir: string; mode?: number }
  | { file: string; mode?: number }
  | { symlink: string; target: string };

/** A namespace of the container: a new one, or one joined through a namespace file. */
export interface NamespaceSpec {
  /** Its type. */
  type: NsType;
  /** Join this namespace file (`/proc/PID/ns/net`, a bind mount of one); absent: a new namespace. */
  path?: string;
}

/** SYNC tags at which the plan stops and the parent acts (0 or absent: no stop). */
export interface PlanSyncs {
  /**
   * After the namespaces are unshared: the parent writes the new user namespace's id maps, or
   * wires the new network namespace. The child is dumpable for that stop only, still in nook's
   * pid namespace. Only a plan that unshares its namespaces (a user namespace joined, or one
   * made besides joined ones) stops here: a cloned child's namespaces are ready before GO,
   * where the parent acts anyway.
   */
  namespaces?: number;
  /** The filesystem is ready, before pivot_root (the runtime's create hooks). */
  beforePivot?: number;
  /** Everything is set up, before the process waits and execs (the runtime's "created"). */
  created?: number;
}

/** Everything the one plan builder needs, decided. */
export interface PlanSpec {
  /** The container's namespaces, new and joined (joined ones in any order: the builder sorts them). */
  namespaces: NamespaceSpec[];
  /**
   * A new cgroup namespace is made after GO, once the parent has placed the process in its
   * cgroup (so it is rooted there), rather than at clone.
   */
  cgroupNsAfterPlacement: boolean;
  /** After a new user namespace exists, become its root, keeping capabilities (0 is mapped there). */
  becomeRoot?: { skipSetgroups: boolean };
  /** The setup process dies with nook (SIGKILL as parent-death signal) until it execs. */
  dieWithParent: boolean;
  /** Host path of a FIFO opened first and waited on just before exec (the runtime's exec.fifo). */
  barrier?: string;
  /** Where the plan stops for the parent. */
  syncs: PlanSyncs;
  /**
   * A host file of NETLINK_ROUTE requests the child sends right after the namespaces SYNC
   * (written by the parent at that SYNC: a user network's veth ends, configured from inside the
   * container's network namespace).
   */
  netlinkAfterSync?: string;
  /**
   * Propagation of the old root, as MS_* flags: `before` is applied to "/" before the rootfs is
   * bound (MS_REC|MS_PRIVATE, or runc's default MS_REC|MS_SLAVE); `after`, when not 0, to the
   * new root after the masked paths. A shared `before` binds the rootfs twice (pivot_root
   * refuses a shared new root).
   */
  propagation: { before: number; after: number };
  /** Host directory that becomes `/`. */
  rootfs: string;
  /** Assemble the root in the child first (an image's layers). */
  rootfsSetup?: RootfsSetup;
  /** Make every mount under the rootfs nodev (no device cgroup enforces device rules). */
  rootNodev: boolean;
  /** The container's filesystem, in order. */
  steps: RootStep[];
  /** Namespaced sysctls written through the container's /proc (`net.ipv4.ip_forward` → value). */
  sysctls: [string, string][];
  /** The setup process is dumpable from the filesystem's end to its exec (the parent opens its /proc at the SYNC points). */
  dumpableAfterMounts: boolean;
  /** chroot instead of pivot_root. */
  noPivot: boolean;
  /** Mount the root read-only. */
  readonlyRoot: boolean;
  /** Values written through the new root's /proc right after pivot_root (path, value). */
  writesAfterPivot?: [string, string][];
  /**
   * Move the process into a user namespace made below its first one (with these new namespaces
   * and maps), after the filesystem and before the process setup: maps that leave out the caller.
   */
  usernsBelow?: { flags: number; uidMap: string; gidMap: string; becomeRoot?: { skipSetgroups: boolean } };
  /** The hostname, when the container has a uts namespace to set it in. */
  hostname?: string;
  /** The NIS domain name. */
  domainname?: string;
  /** Bring up the loopback interface of the container's network namespace. */
  loopback: boolean;
  /** personality(2) execution domain (0x0008: LINUX32). */
  personality?: number;
  /** The process. */
  process: ProcessSetup;
  /** Capabilities, no_new_privs, seccomp, masked and read-only paths, LSM labels. */
  security: SecuritySpec;
  /** The user namespace denies setgroups (only one id mapped without newgidmap). */
  skipSetgroups: boolean;
  /** A root process where only one id is mapped keeps its ids (no SETID op). */
  rootKeepsIds?: boolean;
  /** Pass fds 3..3+N-1 to the process. */
  preserveFds?: number;
  /** Bind the terminal onto /dev/console (when /dev is the container's own). */
  consoleBind?: boolean;
}
