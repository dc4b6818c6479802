/**
 * What a caller asks a new container for, as plain values: the one input of
 * {@link prepareContainer} (src/engine/prepare.ts) and {@link runRequest}. `nook run` turns its
 * flags into one (src/cli/_run_options.ts); the library API (api.ts) fills one from its options.
 * Values are the texts docker's flags take ("256m", "on-failure:3", "nofile=1024:2048"): the
 * resolvers check them and say what is wrong in the same words.
 *
 * @module
 */
import type { NetworkFlags } from "../network/mod.ts";
import type { SecurityRequest } from "../security/mod.ts";
import type { HealthRequest } from "./health.ts";

/** Where the root comes from: a host directory, or an image (a name in the store, or `hello`). */
export type RunSource = { rootfs: string; image?: undefined } | { image: string; rootfs?: undefined };

/** Confinement, as `--privileged`, `--cap-add`, `--cap-drop` and `--security-opt` say it. */
export type SecurityRequestFlags = Omit<SecurityRequest, "uid">;

/** Resource limits, each as docker's flag of that name takes it; only what is set is applied. */
export interface ResourceRequest {
  /** `--memory`: bytes with an optional unit (256m, 1g). */
  memory?: string | undefined;
  /** `--memory-swap`: memory plus swap, or -1. */
  memorySwap?: string | undefined;
  /** `--memory-reservation`. */
  memoryReservation?: string | undefined;
  /** `--cpus`. */
  cpus?: string | undefined;
  /** `--cpu-quota` (microseconds, -1: none). */
  cpuQuota?: string | undefined;
  /** `--cpu-period` (microseconds). */
  cpuPeriod?: string | undefined;
  /** `--cpu-shares`. */
  cpuShares?: string | undefined;
  /** `--cpuset-cpus`. */
  cpusetCpus?: string | undefined;
  /** `--cpuset-mems`. */
  cpusetMems?: string | undefined;
  /** `--pids-limit`. */
  pidsLimit?: string | undefined;
  /** `--blkio-weight`. */
  blkioWeight?: string | undefined;
  /** `--device-read-bps` values (DEV:RATE). */
  deviceReadBps?: readonly string[];
  /** `--device-write-bps` values. */
  deviceWriteBps?: readonly string[];
  /** `--device-read-iops` values (DEV:N). */
  deviceReadIops?: readonly string[];
  /** `--device-write-iops` values. */
  deviceWriteIops?: readonly string[];
}

/** How the container lives: detached or not, removed at exit, restarted, stopped, logged. */
export interface LifecycleRequest {
  /** Run under the monitor in the background (`-d`). */
  detach?: boolean;
  /** Remove the container when it exits (`--rm`). */
  autoRemove?: boolean;
  /** `--restart` policy text. */
  restart?: string | undefined;
  /** `--stop-signal`. */
  stopSignal?: string | undefined;
  /** `--stop-timeout` (whole seconds, as text). */
  stopTimeout?: string | undefined;
  /** `--log-driver`. */
  logDriver?: string | undefined;
  /** `--log-opt` values (KEY=VALUE). */
  logOpts?: readonly string[];
  /** `--health-*`, `--no-healthcheck`. */
  health?: HealthRequest;
}

/** A new container, as plain values (absent fields take docker's defaults). */
export interface RunRequest {
  /** The root filesystem's source. */
  source: RunSource;
  /** The command after the image (empty: the image's Cmd). */
  command?: readonly string[];
  /** `--entrypoint` (`""` clears the image's). */
  entrypoint?: string | undefined;
  /** The container's name. */
  name?: string | undefined;
  /** KEY=VALUE entries, after the defaults and the image's Env (later ones win). */
  env?: readonly string[];
  /** Working directory (default: the image's, else `/`). */
  workdir?: string | undefined;
  /** USER[:GROUP], names or ids (default: the image's). */
  user?: string | undefined;
  /** Hostname (default: the first 12 digits of the id). */
  hostname?: string | undefined;
  /** A pseudo-terminal (`-t`). */
  tty?: boolean;
  /** Keep stdin attached (`-i`). */
  interactive?: boolean;
  /** A minimal init as pid 1 (`--init`). */
  init?: boolean;
  /** Read-only root (`--read-only`). */
  readonly?: boolean;
  /** `--ulimit` values (NAME=SOFT[:HARD]). */
  ulimits?: readonly string[];
  /** `--tmpfs` values (PATH[:OPTS]). */
  tmpfs?: readonly string[];
  /** `--read-only-tmpfs`. */
  readOnlyTmpfs?: boolean;
  /** `-v` values. */
  volumes?: readonly string[];
  /** `--mount` values. */
  mounts?: readonly string[];
  /** Pull policy: missing (default), always or never. */
  pull?: string | undefined;
  /** Platform to pull. */
  platform?: string | undefined;
  /** Confinement. */
  security?: SecurityRequestFlags;
  /** Resource limits. */
  resources?: ResourceRequest;
  /** Network (default auto: pasta, else slirp4netns, else none — what works here). */
  network?: NetworkFlags;
  /** Detach, removal, restarts, stop, logs. */
  lifecycle?: LifecycleRequest;
  /** `--userns` mode: keep-id[:uid=N,gid=N], nomap, host (default: root inside is the caller). */
  userns?: string | undefined;
  /** `--uidmap` CONTAINER:HOST:SIZE values, HOST relative to the caller's own mapping. */
  uidmap?: readonly string[];
  /** `--gidmap` values. */
  gidmap?: readonly string[];
  /** `--subuidname`: take the subordinate uids of this name in /etc/subuid. */
  subuidName?: string | undefined;
  /** `--subgidname`. */
  subgidName?: string | undefined;
  /** `--device` values: HOST[:CONTAINER][:PERMS], or a CDI name vendor.com/class=name. */
  devices?: readonly string[];
  /** `--device-cgroup-rule` values: TYPE MAJOR:MINOR ACCESS (docker's), e.g. "c 1:3 rwm". */
  deviceCgroupRules?: readonly string[];
  /** `--group-add` values (only keep-groups: keep the caller's supplementary groups). */
  groupAdd?: readonly string[];
  /** `--pid container:NAME`, `--ipc container:NAME`: namespaces shared with a running container. */
  share?: { pid?: string | undefined; ipc?: string | undefined; uts?: string | undefined };
  /** `--pod NAME`: a member of the pod, in the namespaces of its infra container. */
  pod?: string | undefined;
}

/** The network of a request that names none: the default mode, nothing published. */
export const DEFAULT_NETWORK: NetworkFlags = { publish: [], publishAll: false, dns: [], addHosts: [] };
