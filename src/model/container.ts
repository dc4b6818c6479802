import type { PortMapping } from "./network.ts";
/**
 * A container as nook decides it before anything runs: the root, the process, mounts, network,
 * security and image, fully resolved (policy that depends on the host is decided before this is
 * written), plus the parent-side steps other concerns add to a run.
 *
 * @module
 */
import type { SecuritySpec } from "./security.ts";
import type { NetworkMode, NetworkSetup } from "./network.ts";

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

/**
 * How the child assembles the root filesystem before binding it:
 * a copy-on-write mount of image layers on the rootfs directory.
 */
export interface RootfsSetup {
  /** Change into this directory first (layer paths are given relative to it, to fit mount's 4 KiB data limit). */
  cwd?: string;
  /** A filesystem to mount on the rootfs directory (kernel overlayfs). */
  mount?: MountSpec;
  /** Helpers run to completion after the mount, in order: fuse-overlayfs (its daemon dies with the
   * container's pid namespace), a private copy of the layers, copying image content into new volumes. */
  run?: { path: string; args: string[]; env: string[] }[];
  /** Move into a new mount namespace after the helpers ran: a FUSE daemon stays in the old one, so the
   * container's pivot_root does not change the daemon's root to its own mount (it would deadlock). */
  leaveHelpersBehind?: boolean;
}

/** What the container was made from, recorded for other commands (stop signal, ports, storage). */
export interface ImageInfo {
  /** The name the user gave (or the ID). */
  name: string;
  /** Image ID ("sha256:…"). */
  id: string;
  /** StopSignal of the image config, if any. */
  stopSignal?: string;
  /** Healthcheck of the image config (docker's form: Test, and durations in ns), if any. */
  healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  /** ExposedPorts keys ("80/tcp"). */
  exposedPorts: string[];
  /** Copy-on-write backend of the root: "overlay", "fuse-overlayfs" or "copy". */
  storage: string;
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
  /** Keep the caller's own supplementary groups (`--group-add keep-groups`): setgroups is never called. */
  keepGroups?: boolean;
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
  /** Network: a private namespace (loopback only, or connected by pasta/slirp4netns), or the host's. */
  network: NetworkMode;
  /** How the network is set up: published ports, helper and its options. */
  networkSetup?: NetworkSetup;
  /** Ports the image exposes (its config's ExposedPorts, `"80/tcp"`), published by `-P`. */
  exposedPorts?: string[];
  /** The process. */
  process: ProcessSpec;
  /** Extra mounts (volumes, tmpfs), mounted in order after /proc, /dev and /sys. */
  mounts: MountSpec[];
  /** Host files bind-mounted onto /etc/hosts, /etc/hostname, /etc/resolv.conf. */
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  /** Capabilities, seccomp, no_new_privs, masked paths; nook's defaults when absent. */
  security?: SecuritySpec;
  /** Assemble the root in the child first (images from the store); absent for a plain directory. */
  rootfsSetup?: RootfsSetup;
  /** The image the container runs, when it came from the store. */
  image?: ImageInfo;
  /**
   * cgroup: the process joins a cgroup of its own before GO, so its
   * cgroup namespace is made after GO (rooted there) and a writable cgroup2 of
   * that subtree is mounted on /sys/fs/cgroup (podman's cgroupns=private).
   */
  privateCgroup?: boolean;
  /** The container's own id maps (`--userns`, `--uidmap`): absent, the caller's default mapping. */
  idMap?: { uidMap: IdMapLine[]; gidMap: IdMapLine[] };
  /**
   * Maps that leave out the caller (`--userns=nomap`, such `--uidmap`s): the container's process
   * gets a user namespace of these ranges, made below the first one (whose ids their outside ids
   * are) once the root is set up there.
   */
  idMapBelow?: { uidMap: IdMapLine[]; gidMap: IdMapLine[] };
  /** Host device nodes bound into the container (`--device`, CDI), after the default set. */
  devices?: DeviceSpec[];
  /**
   * Programs run on the host once the container's namespaces exist and before its program starts
   * (CDI's createRuntime/prestart hooks), at every start: the first, `nook start`, the monitor's
   * restarts. Each gets the container's state (id, pid) on stdin.
   */
  createHooks?: { path: string; args: string[]; env: string[] }[];
  /**
   * The user namespace to create the container in (`/proc/PID/ns/user` of the shared network
   * namespace's holder): containers on a user network share it, so their network namespaces
   * can be wired together. Its id maps are the holder's, written once.
   */
  joinUserns?: string;
  /** Namespaces of a running container to join (`/proc/PID/ns/…`; its user namespace is {@link joinUserns}). */
  joinNamespaces?: { network?: string; pid?: string; ipc?: string; uts?: string };
  /** The pod the container is a member of (its namespaces are the pod's infra container's). */
  pod?: string;
  /** The user network the container is on, and its place there. */
  userNetwork?: UserNetworkAttachment;
}

/** One line of a uid_map/gid_map: `inside outside count`. */
export interface IdMapLine {
  /** First id inside. */
  inside: number;
  /** First id outside. */
  outside: number;
  /** Length of the range. */
  count: number;
}

/** A host device node bound into the container. */
export interface DeviceSpec {
  /** The node on the host. */
  host: string;
  /** Its path inside. */
  container: string;
  /** Writable (`w` among the permissions); otherwise bound read-only. */
  writable: boolean;
}

/** A container's place on a user network. */
export interface UserNetworkAttachment {
  /** The network's name. */
  network: string;
  /** Its IPv4 address. */
  ip: string;
  /** Names it answers to besides its own. */
  aliases: string[];
  /** Published ports (host port 0: any free one, picked at each start), reached through the host's loopback. */
  ports?: PortMapping[];
  /** `--network-rate`: the container's egress on each of its interfaces, in bits a second. */
  rate?: number;
  /**
   * The host file of netlink requests that configure the container's interfaces, written at
   * the plan's SYNC and sent by the plan child after it (absent in records made before: there
   * `ip` configures them in the container's namespace).
   */
  linkSetup?: string;
}

/** Parent-side steps other concerns add to a run (cgroups, network helpers…). */
export interface RunHooks {
  /** Run while the child waits in its fresh namespaces, after the id maps are written. */
  beforeGo?: ((pid: number) => Promise<void>)[];
  /** Run while the id maps are being written, for steps that do not need them (starting a network helper). */
  duringIdMapping?: ((pid: number) => Promise<void>)[];
  /** Run after the container's process has ended (whatever the outcome). */
  afterExit?: (() => Promise<void>)[];
  /** Run when the child reaches a SYNC op of its plan (a user network's veth is made there). */
  onSync?: ((tag: number, pid: number) => Promise<void>)[];
  /** Run once the container's program runs, with its pid (a plan that forks ends in another process than the one cloned). */
  started?: ((pid: number) => Promise<void>)[];
}
