/**
 * `nook run`'s option groups (images and volumes, lifecycle, confinement, resources, network)
 * and the one step from parsed flags to the engine's {@link RunRequest}: the flags are the
 * CLI's, what they mean is the engine's (src/engine/prepare.ts).
 *
 * @module
 */
import type { RunRequest } from "../engine/run_request.ts";
import { bool, list, type OptionSpec, type ParsedArgs, str } from "./_args.ts";

/** Options of `nook run` for images, storage and volumes. */
export const IMAGE_RUN_OPTIONS: readonly OptionSpec[] = [
  {
    name: "volume",
    short: "v",
    type: "list",
    value: "SRC:DST[:OPTS]",
    help: "Bind a host path or a named volume (-v NAME:/path), or an anonymous volume (-v /path); OPTS: ro",
  },
  { name: "mount", type: "list", value: "type=…,…", help: "Mount type=bind|volume|tmpfs,source=…,target=…[,readonly]" },
  { name: "pull", type: "string", value: "POLICY", help: "Pull the image: missing (default), always or never" },
  { name: "platform", type: "string", value: "OS/ARCH", help: "Platform to pull when the image is pulled" },
];

/** Options of `nook run` for the container's lifecycle. */
export const LIFECYCLE_RUN_OPTIONS: readonly OptionSpec[] = [
  { name: "detach", short: "d", type: "bool", help: "Run in the background and print the container id" },
  {
    name: "restart",
    type: "string",
    value: "POLICY",
    help: "Restart a detached container when it exits: no (default), on-failure[:N], always, unless-stopped",
  },
  { name: "stop-signal", type: "string", value: "SIGNAL", help: "Signal that nook stop sends first (default SIGTERM)" },
  { name: "stop-timeout", type: "string", value: "SECONDS", help: "Seconds nook stop waits before SIGKILL (default 10)" },
  { name: "log-driver", type: "string", value: "DRIVER", help: "k8s-file (default: log a detached container's output) or none" },
  { name: "log-opt", type: "list", value: "KEY=VALUE", help: "Log options: max-size=SIZE (e.g. 10m), max-file=N" },
  { name: "health-cmd", type: "string", value: "COMMAND", help: "Healthcheck: a shell command (or a JSON array) the monitor runs in the container" },
  { name: "health-interval", type: "string", value: "DURATION", help: "Time between healthchecks (default 30s)" },
  { name: "health-timeout", type: "string", value: "DURATION", help: "A healthcheck running longer fails (default 30s)" },
  { name: "health-retries", type: "string", value: "N", help: "Failures in a row that make the container unhealthy (default 3)" },
  { name: "health-start-period", type: "string", value: "DURATION", help: "Failures this soon after a start do not count (default 0s)" },
  { name: "health-on-failure", type: "string", value: "ACTION", help: "When unhealthy: none (default), kill, restart or stop" },
  { name: "no-healthcheck", type: "bool", help: "No healthcheck, not even the image's" },
];

/** Options of `nook run` for confinement (capabilities, seccomp, read-only root, tmpfs). */
export const SECURITY_RUN_OPTIONS: readonly OptionSpec[] = [
  { name: "cap-add", type: "list", value: "CAP", help: "Add a capability (NET_RAW, SYS_ADMIN… or ALL)" },
  { name: "cap-drop", type: "list", value: "CAP", help: "Drop a capability (CHOWN… or ALL)" },
  {
    name: "security-opt",
    type: "list",
    value: "OPT",
    help: "seccomp=PROFILE.json|unconfined, no-new-privileges, mask=/p:/q, unmask=ALL|/p, apparmor=NAME, label=…",
  },
  {
    name: "privileged",
    type: "bool",
    help: "Every capability of the user namespace, no seccomp filter, nothing masked",
  },
  { name: "tmpfs", type: "list", value: "PATH[:OPTS]", help: "Mount a tmpfs, e.g. --tmpfs /run:size=64m,mode=755" },
  { name: "read-only-tmpfs", type: "bool", help: "With --read-only: writable tmpfs on /tmp, /var/tmp and /run" },
  { name: "userns", type: "string", value: "MODE", help: "User namespace: keep-id[:uid=N,gid=N] (your ids inside), nomap, host" },
  { name: "uidmap", type: "list", value: "CONTAINER:HOST:SIZE", help: "Map uids (HOST relative to your own mapping: 0 is you)" },
  { name: "gidmap", type: "list", value: "CONTAINER:HOST:SIZE", help: "Map gids (HOST relative to your own mapping)" },
  { name: "subuidname", type: "string", value: "NAME", help: "Take subordinate uids of NAME in /etc/subuid" },
  { name: "subgidname", type: "string", value: "NAME", help: "Take subordinate gids of NAME in /etc/subgid" },
  { name: "device", type: "list", value: "HOST[:CTR][:PERMS]", help: "Bind a host device (read-only unless PERMS has w), or a CDI name" },
  { name: "device-cgroup-rule", type: "list", value: "RULE", help: "A device cgroup rule (refused rootless: the kernel lets only privileged processes install one)" },
  { name: "group-add", type: "list", value: "keep-groups", help: "keep-groups: keep your supplementary groups (device access)" },
];

/** Options of `nook run` for resource limits. */
export const RESOURCES_RUN_OPTIONS: readonly OptionSpec[] = [
  { name: "memory", short: "m", type: "string", value: "BYTES", help: "Memory limit (e.g. 256m, 1g)" },
  {
    name: "memory-swap",
    type: "string",
    value: "BYTES",
    help: "Memory plus swap limit; -1 for unlimited swap (default: twice --memory)",
  },
  {
    name: "memory-reservation",
    type: "string",
    value: "BYTES",
    help: "Memory the container is protected down to (memory.low)",
  },
  { name: "cpus", type: "string", value: "N", help: "Number of CPUs' worth of time (e.g. 1.5)" },
  { name: "cpu-quota", type: "string", value: "US", help: "CPU time per period in microseconds (-1: no limit)" },
  {
    name: "cpu-period",
    type: "string",
    value: "US",
    help: "Length of the CPU period in microseconds (default 100000)",
  },
  { name: "cpu-shares", short: "c", type: "string", value: "N", help: "Relative CPU weight, 2..262144 (default 1024)" },
  { name: "cpuset-cpus", type: "string", value: "LIST", help: "CPUs the container may run on (e.g. 0-2,4)" },
  { name: "cpuset-mems", type: "string", value: "LIST", help: "Memory nodes the container may use" },
  { name: "pids-limit", type: "string", value: "N", help: "Maximum number of processes (0 or -1: no limit)" },
  { name: "blkio-weight", type: "string", value: "N", help: "Relative block I/O weight, 10..1000" },
  {
    name: "device-read-bps",
    type: "list",
    value: "DEV:RATE",
    help: "Limit reads from a device (e.g. /dev/sda:10mb)",
    complete: "file",
  },
  {
    name: "device-write-bps",
    type: "list",
    value: "DEV:RATE",
    help: "Limit writes to a device (e.g. /dev/sda:10mb)",
    complete: "file",
  },
  {
    name: "device-read-iops",
    type: "list",
    value: "DEV:N",
    help: "Limit read operations per second on a device",
    complete: "file",
  },
  {
    name: "device-write-iops",
    type: "list",
    value: "DEV:N",
    help: "Limit write operations per second on a device",
    complete: "file",
  },
];

/** Options of `nook run` for the network. */
export const NETWORK_RUN_OPTIONS: readonly OptionSpec[] = [
  {
    name: "network",
    type: "list",
    value: "MODE",
    help: "none, host, pasta[:OPT,…], slirp4netns[:KEY=VAL,…] or the name of a user network, given again for more user networks (default auto: pasta, else slirp4netns, else none — what works here)",
  },
  { name: "network-alias", type: "list", value: "NAME", help: "Another name the container answers to on its user network" },
  { name: "network-rate", type: "string", value: "RATE", help: "Limit the container's outgoing traffic on a user network, e.g. 10mbit, 2mbps (tc's units)" },
  { name: "pid", type: "string", value: "container:NAME", help: "Share a running container's pid namespace" },
  { name: "ipc", type: "string", value: "container:NAME", help: "Share a running container's IPC namespace" },
  { name: "pod", type: "string", value: "NAME", help: "Run in a pod: its network, ipc and uts namespaces (and pid with pod create --share pid)" },
  {
    name: "publish",
    short: "p",
    type: "list",
    value: "[IP:]HOST:CTR",
    help: "Publish a container port: 8080:80, 127.0.0.1:5353:53/udp, 8000-8009:80-89, 80 (any free host port)",
  },
  { name: "publish-all", short: "P", type: "bool", help: "Publish every port the image exposes on a free host port" },
  { name: "dns", type: "list", value: "IP", help: "Nameserver for /etc/resolv.conf (default: the helper's forwarder)" },
  { name: "add-host", type: "list", value: "NAME:IP", help: "Add a line to /etc/hosts (IP may be host-gateway)" },
];

/**
 * The request parsed flags make: the positional words are the image and its command, or,
 * with `--rootfs`, the command; `env` holds the entries of `--env-file` and `-e`, already
 * turned into KEY=VALUE (the caller reads the files and nook's own environment).
 */
export function runRequestFromArgs(a: ParsedArgs, env: readonly string[]): RunRequest {
  const rootfs = str(a, "rootfs");
  const rest = [...a.rest];
  const source = rootfs !== undefined ? { rootfs } : { image: rest.shift() ?? "" };
  return {
    source,
    command: rest,
    entrypoint: str(a, "entrypoint"),
    name: str(a, "name"),
    env,
    workdir: str(a, "workdir"),
    user: str(a, "user"),
    hostname: str(a, "hostname"),
    tty: bool(a, "tty"),
    interactive: bool(a, "interactive"),
    init: bool(a, "init"),
    readonly: bool(a, "read-only"),
    ulimits: list(a, "ulimit"),
    tmpfs: list(a, "tmpfs"),
    readOnlyTmpfs: bool(a, "read-only-tmpfs"),
    volumes: list(a, "volume"),
    mounts: list(a, "mount"),
    pull: str(a, "pull"),
    platform: str(a, "platform"),
    security: {
      privileged: bool(a, "privileged"),
      capAdd: list(a, "cap-add"),
      capDrop: list(a, "cap-drop"),
      securityOpts: list(a, "security-opt"),
    },
    resources: {
      memory: str(a, "memory"),
      memorySwap: str(a, "memory-swap"),
      memoryReservation: str(a, "memory-reservation"),
      cpus: str(a, "cpus"),
      cpuQuota: str(a, "cpu-quota"),
      cpuPeriod: str(a, "cpu-period"),
      cpuShares: str(a, "cpu-shares"),
      cpusetCpus: str(a, "cpuset-cpus"),
      cpusetMems: str(a, "cpuset-mems"),
      pidsLimit: str(a, "pids-limit"),
      blkioWeight: str(a, "blkio-weight"),
      deviceReadBps: list(a, "device-read-bps"),
      deviceWriteBps: list(a, "device-write-bps"),
      deviceReadIops: list(a, "device-read-iops"),
      deviceWriteIops: list(a, "device-write-iops"),
    },
    network: {
      network: list(a, "network")[0],
      ...(list(a, "network").length > 1 ? { more: list(a, "network").slice(1) } : {}),
      publish: list(a, "publish"),
      publishAll: bool(a, "publish-all"),
      dns: list(a, "dns"),
      addHosts: list(a, "add-host"),
      aliases: list(a, "network-alias"),
      rate: str(a, "network-rate"),
    },
    userns: str(a, "userns"),
    uidmap: list(a, "uidmap"),
    gidmap: list(a, "gidmap"),
    subuidName: str(a, "subuidname"),
    subgidName: str(a, "subgidname"),
    devices: list(a, "device"),
    deviceCgroupRules: list(a, "device-cgroup-rule"),
    groupAdd: list(a, "group-add"),
    share: { pid: str(a, "pid"), ipc: str(a, "ipc") },
    pod: str(a, "pod"),
    lifecycle: {
      detach: bool(a, "detach"),
      autoRemove: bool(a, "rm"),
      restart: str(a, "restart"),
      stopSignal: str(a, "stop-signal"),
      stopTimeout: str(a, "stop-timeout"),
      logDriver: str(a, "log-driver"),
      logOpts: list(a, "log-opt"),
      health: {
        cmd: str(a, "health-cmd"),
        interval: str(a, "health-interval"),
        timeout: str(a, "health-timeout"),
        retries: str(a, "health-retries"),
        startPeriod: str(a, "health-start-period"),
        onFailure: str(a, "health-on-failure"),
        none: bool(a, "no-healthcheck"),
      },
    },
  };
}
