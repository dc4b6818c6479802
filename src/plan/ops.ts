/**
 * Plan op numbers. `libshim/shim.h` (`enum shim_op`) holds the same list;
 * `tests/plan_ops.test.ts` checks that both agree.
 */
export const Op = {
  // 1-39: the process and its view: mounts, files, root, identity, limits, capabilities,
  // seccomp, namespaces, process tree, terminal, exec
  MOUNT: 1,
  MOUNT_SETATTR: 2,
  UMOUNT: 3,
  MKDIR: 4,
  MKFILE: 5,
  SYMLINK: 6,
  WRITE: 7,
  ROOT: 8,
  PIVOT_ROOT: 9,
  CHROOT: 10,
  CHDIR: 11,
  SETHOSTNAME: 12,
  SETDOMAINNAME: 13,
  SETRLIMIT: 14,
  UMASK: 15,
  SETID: 16,
  CAPS: 17,
  NO_NEW_PRIVS: 18,
  SECCOMP: 19,
  LOOPBACK_UP: 20,
  SETNS: 21,
  UNSHARE: 22,
  FORK: 23,
  INIT: 24,
  PTY: 25,
  SYNC: 26,
  RUN: 27,
  OPEN_FD: 28,
  EXEC: 29,
  PDEATHSIG: 30,
  PERSONALITY: 31,
  KEEP_FDS: 32,
  DUMPABLE: 33,
  INPUT: 34,
  USERNS_BELOW: 37,
  SETNS_PARENT: 38,
  // 40-44: hiding and protecting paths of the host's kernel (masked and read-only paths)
  PROTECT_PATH: 40,
  // 45-49: the OCI runtime's create/start barrier, and mounts that may fall back to a bind
  BARRIER_OPEN: 45,
  BARRIER_WAIT: 46,
  MOUNT_OR_BIND: 47,
  // 50-54: the network namespace's interfaces
  NETLINK_FILE: 50,
} as const;

/** Name of an op number, as in the `Op` table. */
export type OpName = keyof typeof Op;

/** Plan format version; must equal `SHIM_PLAN_VERSION` and `shim_version()`. */
export const PLAN_VERSION = 2;

/** Messages on the sync socket (`enum shim_msg_type`). */
export const Msg = {
  READY: 1,
  ERROR: 2,
  SYNC: 3,
  FD: 4,
  PID: 5,
  GO: 16,
  ABORT: 17,
  CONTINUE: 18,
} as const;

/**
 * The monitor's report about the network helper it starts (`SHIM_OP_INDEX_HELPER`
 * and `enum shim_helper_step`): an ERROR message with this op index, the step
 * in the low byte of `value` and the index of a failed call above it.
 */
export const HelperReport = {
  OP_INDEX: -2,
  START: 1,
  EXITED: 2,
  TIMEOUT: 3,
  CALL: 4,
} as const;

/** Size of `struct shim_msg` on the socket. */
export const MSG_SIZE = 256;

/** `SHIM_PROTECT_*`: how PROTECT_PATH protects a path. */
export const Protect = { MASK: 1, READONLY: 2 } as const;

/** `SHIM_EXEC_*` flags of EXEC. */
export const ExecFlag = {
  /** execve the one path itself, not through nook-exec: for the host's own programs (a runtime hook). */
  DIRECT: 1,
} as const;

/** `SHIM_SETID_*` flags. */
export const SetIdFlag = { SKIP_SETGROUPS: 1, KEEP_CAPS: 2 } as const;
