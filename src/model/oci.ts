/**
 * The OCI runtime spec's config (runtime-spec 1.0–1.2, Linux) as checked, typed data: what
 * `nook runtime` reads from config.json (src/oci/config.ts parses and validates it into these
 * types) and what the engine carries out.
 *
 * @module
 */
/** One hook: a program with arguments, environment and a timeout in seconds. */
export interface OciHook {
  /** Absolute path of the program. */
  path: string;
  /** argv, argv[0] included (defaults to [path]). */
  args: string[];
  /** Environment, KEY=VALUE. */
  env: string[];
  /** Seconds before the hook is killed. */
  timeout?: number;
}

/** The hooks, by the point of the lifecycle they run at. */
export interface OciHooks {
  /** Deprecated alias of createRuntime (runs first). */
  prestart: OciHook[];
  /** In the runtime's namespaces, after the container's namespaces exist, before pivot_root. */
  createRuntime: OciHook[];
  /** In the container's namespaces, before pivot_root. */
  createContainer: OciHook[];
  /** In the container's namespaces, at `start`, before the process is run. */
  startContainer: OciHook[];
  /** In the runtime's namespaces, after the process was started. */
  poststart: OciHook[];
  /** In the runtime's namespaces, after the container was deleted. */
  poststop: OciHook[];
}

/** Names of the hook lists. */
export const HOOK_KINDS = [
  "prestart",
  "createRuntime",
  "createContainer",
  "startContainer",
  "poststart",
  "poststop",
] as const;

/** A mount from config.json. */
export interface OciMount {
  /** Absolute path inside the container. */
  destination: string;
  /** Filesystem type ("bind" for a bind mount; "" when absent). */
  type: string;
  /** Device, directory or dummy name; bind sources are made absolute (relative to the bundle). */
  source: string;
  /** fstab-style options. */
  options: string[];
}

/** One line of an id map. */
export interface OciIdMap {
  /** First id inside. */
  containerID: number;
  /** First id outside. */
  hostID: number;
  /** Number of ids. */
  size: number;
}

/** The namespace types of the spec, and nook's name for the /proc/PID/ns file. */
export const NAMESPACE_FILES = {
  user: "user",
  mount: "mnt",
  pid: "pid",
  uts: "uts",
  ipc: "ipc",
  network: "net",
  cgroup: "cgroup",
} as const;

/** A namespace type nook supports. */
export type NsType = keyof typeof NAMESPACE_FILES;

/**
 * The one order namespaces are joined in (util-linux nsenter's), by `nook exec`, by a container
 * that shares another's and by an OCI config's namespace paths: the user namespace first (it
 * grants the rights to join the others), pid before mount (setns(CLONE_NEWPID) applies to
 * children, so the order among the rest does not matter to it), and the mount namespace last:
 * after it, paths resolve in the container's filesystem, where the host's /proc/PID/ns paths of
 * the others do not exist.
 */
export const JOIN_ORDER: readonly NsType[] = ["user", "cgroup", "ipc", "uts", "network", "pid", "mount"];

/** A namespace: new (no path) or joined (path). */
export interface OciNamespace {
  /** Type. */
  type: NsType;
  /** Namespace file to join. */
  path?: string;
}

/**
 * The device nodes every container gets in /dev (the runtime spec's "Default Devices"), by name:
 * `nook run` binds them from the host, `nook runtime` adds them to config.json's devices.
 */
export const DEFAULT_DEVICES = ["null", "zero", "full", "random", "urandom", "tty"] as const;

/** A device node the container should have. */
export interface OciDevice {
  /** c, b, u or p. */
  type: string;
  /** Path inside the container. */
  path: string;
  /** Major number (c, b, u). */
  major?: number;
  /** Minor number (c, b, u). */
  minor?: number;
  /** Mode bits. */
  fileMode?: number;
  /** Owner inside. */
  uid?: number;
  /** Group inside. */
  gid?: number;
}

/** The capability sets of a process, by name (`CAP_CHOWN`). */
export interface OciCapabilities {
  /** Bounding set. */
  bounding: string[];
  /** Effective set. */
  effective: string[];
  /** Inheritable set. */
  inheritable: string[];
  /** Permitted set. */
  permitted: string[];
  /** Ambient set. */
  ambient: string[];
}

/** The container's process (also the form of `exec --process`). */
export interface OciProcess {
  /** Give it a pty. */
  terminal: boolean;
  /** pty size. */
  consoleSize?: { height: number; width: number };
  /** Working directory (absolute). */
  cwd: string;
  /** KEY=VALUE. */
  env: string[];
  /** argv. */
  args: string[];
  /** Who it runs as. */
  user: { uid: number; gid: number; umask?: number; additionalGids: number[] };
  /** Capability sets; absent means nook leaves them as the user namespace gives them. */
  capabilities?: OciCapabilities;
  /** [resource, soft, hard]. */
  rlimits: [number, bigint, bigint][];
  /** prctl(PR_SET_NO_NEW_PRIVS). */
  noNewPrivileges: boolean;
  /** /proc/PID/oom_score_adj. */
  oomScoreAdj?: number;
  /** AppArmor profile to exec into. */
  apparmorProfile?: string;
  /** SELinux process label. */
  selinuxLabel?: string;
}

/** The `linux` section. */
export interface OciLinux {
  /** Namespaces. */
  namespaces: OciNamespace[];
  /** uid_map. */
  uidMappings: OciIdMap[];
  /** gid_map. */
  gidMappings: OciIdMap[];
  /** Device nodes. */
  devices: OciDevice[];
  /** cgroup path ("/a/b", "a/b", or "slice:prefix:name" with --systemd-cgroup). */
  cgroupsPath?: string;
  /** `linux.resources` as written (the cgroup manager reads it). */
  resources?: Record<string, unknown>;
  /** Propagation of the container's root mount. */
  rootfsPropagation?: string;
  /** `linux.seccomp` as written (compiled by src/seccomp/). */
  seccomp?: Record<string, unknown>;
  /** sysctl key → value. */
  sysctl: Record<string, string>;
  /** Paths to hide. */
  maskedPaths: string[];
  /** Paths to make read-only. */
  readonlyPaths: string[];
  /** Execution domain. */
  personality?: { domain: string; flags: string[] };
}

/** A checked config.json. */
export interface OciConfig {
  /** The spec version the bundle complies with. */
  ociVersion: string;
  /** Root filesystem (absolute host path) and whether it is read-only. */
  root: { path: string; readonly: boolean };
  /** The process (required to create a container). */
  process?: OciProcess;
  /** Hostname (needs a uts namespace). */
  hostname?: string;
  /** Domain name (needs a uts namespace). */
  domainname?: string;
  /** Mounts, in order. */
  mounts: OciMount[];
  /** Hooks. */
  hooks: OciHooks;
  /** Annotations. */
  annotations: Record<string, string>;
  /** The Linux section. */
  linux: OciLinux;
  /** Properties the spec does not define (ignored), as dotted paths. */
  unknown: string[];
}

/** The runtime-spec version nook implements. */
export const OCI_VERSION = "1.1.0";

/** A runtime container's status, as the runtime spec names it (plus runc's `paused`). */
export type OciStatus = "creating" | "created" | "running" | "paused" | "stopped";

/** The runtime-spec state of a container (what `nook runtime state` prints, and what hooks read). */
export interface OciState {
  /** Spec version of the state. */
  ociVersion: string;
  /** Container id. */
  id: string;
  /** creating, created, running, paused or stopped. */
  status: OciStatus;
  /** Process id (0 when stopped). */
  pid: number;
  /** Absolute bundle path. */
  bundle: string;
  /** Root filesystem (runc's extension). */
  rootfs: string;
  /** Creation time (runc's extension). */
  created: string;
  /** Owner (runc's extension). */
  owner: string;
  /** Annotations from config.json. */
  annotations: Record<string, string>;
}
