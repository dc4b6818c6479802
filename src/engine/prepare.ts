/**
 * A new container from a {@link RunRequest}: its source resolved (a host directory, the built-in
 * `hello`, or an image from the store, pulled when missing), its process, mounts, network and
 * confinement decided — the {@link ContainerSpec} — and then recorded and run
 * ({@link runRequest}). `nook run` and the library API both come here; the image and volume
 * code (image_source.ts) loads only when the request uses it.
 *
 * @module
 */
import { UsageError } from "../errors/mod.ts";
import { NookError } from "../errors/mod.ts";
import type { ContainerSpec, MountSpec, RunHooks } from "../model/mod.ts";
import { ensureHelloRootfs, HELLO_NAMES } from "../image/builtin_hello.ts";
import { lazyImport } from "../lazy/mod.ts";
import {
  checkPublications,
  exposedToPublish,
  type NetworkFlags,
  networkHooks,
  parsePublish,
  parseRate,
  prepareNetwork,
  unprivilegedPortStart,
} from "../network/mod.ts";
import { joinNetwork, networkExists } from "./networks.ts";
import { dataDir, runtimeDir } from "../paths/mod.ts";
import { RLIM_INFINITY, RLIMIT } from "../plan/mod.ts";
import { decideSecurity, type SecuritySpec } from "../security/mod.ts";
import { mark } from "../trace/mod.ts";
import { detectIdMapping, type IdMapping, type ModeMapping } from "../userns/mod.ts";
import { applyGroupAdd, keepIdEtc, parseDevice, refuseDeviceCgroupRules, resolveUserns } from "./userns.ts";
import { DEFAULT_PATH, NAMESPACES } from "./build_plan.ts";
import { writeEtcFiles } from "./etc_files.ts";
import { readTextInRoot } from "./in_root.ts";
import { abandonCreate, beginCreate, crashPoint } from "./intent.ts";
import { type RunOutcome, runWithLifecycle } from "./lifecycle.ts";
import { resourceHooks } from "./resources.ts";
import { mergeHooks } from "./run.ts";
import { DEFAULT_NETWORK, type RunRequest, type SecurityRequestFlags } from "./run_request.ts";
import { containerDir, readRecord } from "./store.ts";
import { infraId, readPod } from "./pod_store.ts";
import { resolveContainer } from "./names.ts";
import { currentStatus } from "./status.ts";
import { parseTmpfs, tmpfsMounts } from "./tmpfs.ts";
import { resolveUser } from "./user.ts";
import type { StoreParts, StoreSource } from "./image_source.ts";


/** What the container runs from: a directory plus the image's defaults (the store's shape, its parts optional). */
interface Source extends Omit<StoreSource, "store"> {
  /** An image from the store: its layers, storage and volumes. */
  store?: StoreParts;
  /** The image's ExposedPorts (`"80/tcp"`), for -P. */
  exposedPorts?: string[];
}

/** A prepared container: its spec, and what removes what was made for it when no record keeps it. */
export interface Prepared {
  /** The container's description. */
  spec: ContainerSpec;
  /** Remove the run directory, and the storage and volumes unless a record now owns them. */
  cleanup: () => Promise<void>;
}

let impl: typeof import("./image_source.ts") | undefined;

/** The image of the store a request runs, if any (`hello` is built in, a rootfs is a directory). */
function storeImage(req: RunRequest): string | undefined {
  const image = req.source.image;
  return image && !HELLO_NAMES.includes(image) ? image : undefined;
}

/**
 * Before the container is prepared (async, so it can pull): for an image from the store, pull
 * it when missing and learn the storage backend; load the volume code when the run has volumes.
 */
export async function prepareSource(req: RunRequest): Promise<void> {
  const image = storeImage(req);
  if (image === undefined && !req.volumes?.length && !req.mounts?.length) return;
  impl ??= await lazyImport<typeof import("./image_source.ts")>("engine/image_source.ts");
  if (image !== undefined) await impl.prepareImage(image, req.pull, req.platform);
}

/** After {@link prepareSource} and the mode: a shifted copy of the image, where the mode needs one and fuse-overlayfs cannot shift. */
export async function prepareShift(req: RunRequest, mode: ModeMapping): Promise<void> {
  const image = storeImage(req);
  if (image !== undefined && mode.layerShift && impl) await impl.prepareShift(image, mode);
}

/**
 * The container a request describes (after {@link prepareSource}): its record directory and
 * intent come first, then its storage, run directory, network setup and spec.
 */
export function prepareContainer(req: RunRequest, mapping: IdMapping, mode?: ModeMapping, id: string = newId()): Prepared {
  refuseDeviceCgroupRules(req.deviceCgroupRules ?? []);
  mode ??= resolveUserns(req, mapping, id);
  // the record directory and its intent come first: whatever follows is named by it (src/engine/intent.ts)
  beginCreate(id);
  let source: Source | undefined;
  try {
    source = req.source.rootfs !== undefined ? rootfsSource(req.source.rootfs) : imageSource(req, req.source.image, id, mode);
    crashPoint("create.storage");
    return prepareFrom(req, mapping, id, source, mode);
  } catch (err) {
    void source?.store?.cleanup().finally(() => abandonCreate(id));
    if (!source?.store) abandonCreate(id);
    throw err;
  }
}

/**
 * CDI names (vendor.com/class=name) among `--device`: their specs are read only then, and their
 * edits applied to the request (environment) and the mode (device nodes, mounts); the hooks are
 * the container's to record.
 */
export async function applyCdi(req: RunRequest, mode: ModeMapping): Promise<{ req: RunRequest; hooks?: ContainerSpec["createHooks"] }> {
  const cdiNames = (req.devices ?? []).filter((d) => !d.startsWith("/"));
  if (!cdiNames.length) return { req };
  const cdi = await lazyImport<typeof import("./cdi.ts")>("engine/cdi.ts");
  const bad = cdiNames.find((n) => !cdi.isCdiName(n));
  if (bad) {
    throw new UsageError(`Invalid --device "${bad}"`, { hint: "use a host path (/dev/…) or a CDI name vendor.com/class=name" });
  }
  const edits = await cdi.cdiEdits(cdiNames);
  mode.cdi = { devices: edits.devices, mounts: edits.mounts };
  return {
    req: { ...req, devices: (req.devices ?? []).filter((d) => d.startsWith("/")), env: [...edits.env, ...(req.env ?? [])] },
    ...(edits.hooks.length ? { hooks: edits.hooks } : {}),
  };
}

/**
 * Prepare, record and run a new container: in the foreground (resolving when it exits), or
 * detached under its monitor. The caller's own output (an id, a code) is the caller's.
 */
export async function runRequest(req: RunRequest, mapping: IdMapping = detectIdMapping()): Promise<RunOutcome> {
  refuseDeviceCgroupRules(req.deviceCgroupRules ?? []);
  await prepareSource(req);
  const id = newId();
  const mode = resolveUserns(req, mapping, id);
  await prepareShift(req, mode);
  const withCdi = await applyCdi(req, mode);
  req = withCdi.req;
  const { spec: container, cleanup } = prepareContainer(req, mapping, mode, id);
  let cdiHooks: RunHooks = {};
  const createHooks = withCdi.hooks;
  if (createHooks?.length) {
    // recorded, so that `nook start` and the monitor's restarts run them too (monitor.ts, start.ts)
    container.createHooks = createHooks;
    const { runCdiHook } = await lazyImport<typeof import("./cdi.ts")>("engine/cdi.ts");
    cdiHooks = { beforeGo: [(pid) => Promise.all(createHooks.map((h) => runCdiHook(h, container.id, pid))).then(() => {})] };
  }
  mark("spec");
  try {
    const detached = req.lifecycle?.detach ?? false;
    // cgroup first (the container's process must be in it before GO), then the network helper;
    // detached, the container's monitor starts its network helper (src/network/detached.ts), not this short-lived process
    const network: RunHooks = detached ? {} : networkHooks(container);
    const userNet = userNetworkName(req.network ?? DEFAULT_NETWORK);
    if (userNet) {
      const flags = req.network ?? DEFAULT_NETWORK;
      const ports = [...flags.publish.flatMap(parsePublish), ...(flags.publishAll ? exposedToPublish(container.exposedPorts ?? []) : [])];
      if (ports.length) {
        checkPublications(ports, unprivilegedPortStart());
        if ((req.lifecycle?.restart ?? "no") !== "no") {
          // its pasta follows the first run's process; the monitor's restarts would run unreachable
          throw new UsageError(`Ports cannot be published with --restart on the user network "${userNet}" yet`, {
            hint: "leave --restart out (start it again with nook start), or publish no ports",
          });
        }
      }
      const rate = flags.rate !== undefined ? parseRate(flags.rate) : undefined; // before anything is reserved
      const more = flags.more ?? [];
      for (const m of more) if (!networkExists(m)) throw new UsageError(`No network named "${m}"`, { hint: "nook network ls lists them" });
      const joined = await joinNetwork(userNet, container.id, req.name ?? "", req.network?.aliases ?? [], ports);
      container.joinUserns = joined.userns;
      container.userNetwork = joined.attachment;
      if (rate !== undefined) container.userNetwork.rate = rate;
      // further networks: their interfaces (eth1…) are made at the same SYNC as the first's
      for (const m of more) await joinNetwork(m, container.id, req.name ?? "", req.network?.aliases ?? []);
    } else if (req.network?.rate !== undefined) {
      // the qdisc is set where nook is root over the container's network namespace: the shared user namespace's
      throw new UsageError("--network-rate works on user networks only, for now", {
        hint: "run the container on one (nook network create NAME; --network NAME)",
      });
    } else if (req.network?.more?.length) {
      throw new UsageError("Only user networks can be given together in several --network flags", {
        hint: "name user networks only (nook network ls), e.g. --network a --network b",
      });
    }
    const hooks = mergeHooks(await resourceHooks(req.resources ?? {}, container, detached), network, cdiHooks);
    mark("cgroup");
    return await runWithLifecycle(req.lifecycle ?? {}, req.source, req.name, container, mapping, hooks);
  } finally {
    await cleanup();
    mark("cleanup");
  }
}

/** The user network `--network` names (not a mode), checked: publishing through it is not there yet. */
function userNetworkName(flags: NetworkFlags): string | undefined {
  const v = flags.network;
  if (v === undefined || /^(none|host|pasta|slirp4netns|private|auto|default|container)(:|$)/.test(v) || v === "") return undefined;
  if (!networkExists(v)) return undefined; // parseNetworkFlag says what is wrong with it
  return v;
}

/** A running container named by `container:NAME` (of --network, --pid, --ipc): its pid and /etc files. */
interface JoinTarget {
  pid: number;
  etc: { hosts: string; resolvConf: string };
}

function containerRef(value: string | undefined, flag: string): JoinTarget | undefined {
  if (value === undefined || !value.startsWith("container:")) {
    if (value !== undefined && flag !== "--network") {
      throw new UsageError(`Invalid ${flag} "${value}"`, { hint: `use ${flag} container:NAME (a running container's)` });
    }
    return undefined;
  }
  const ref = value.slice("container:".length);
  const id = resolveContainer(ref);
  const s = currentStatus(id);
  if (s.state !== "running" || !s.pid) {
    throw new UsageError(`Cannot share the namespaces of container "${ref}": it is ${s.state}`, { hint: `start it first: nook start ${ref}` });
  }
  const rec = readRecord(id)!;
  return { pid: s.pid, etc: { hosts: rec.spec.etcFiles.hosts, resolvConf: rec.spec.etcFiles.resolvConf } };
}

/**
 * The spec's share of other containers' namespaces. Why their user namespace too: joining a
 * namespace needs CAP_SYS_ADMIN in the user namespace that owns it, so the container is made
 * inside the owner's (all joined containers must share one: refused otherwise).
 */
function joinedNamespaces(
  net: JoinTarget | undefined,
  pid: JoinTarget | undefined,
  ipc: JoinTarget | undefined,
  uts?: JoinTarget | undefined,
): Pick<ContainerSpec, "joinUserns" | "joinNamespaces"> {
  const targets = [net, pid, ipc, uts].filter((t) => t !== undefined);
  if (!targets.length) return {};
  const userns = (t: JoinTarget) => Deno.readLinkSync(`/proc/${t.pid}/ns/user`);
  if (new Set(targets.map(userns)).size > 1) {
    throw new UsageError("The containers whose namespaces are shared are in different user namespaces", {
      hint: "share namespaces of one container, or of containers on one user network",
    });
  }
  const ns = (t: JoinTarget | undefined, file: string) => t ? `/proc/${t.pid}/ns/${file}` : undefined;
  const join = { network: ns(net, "net"), pid: ns(pid, "pid"), ipc: ns(ipc, "ipc"), uts: ns(uts, "uts") };
  return {
    joinUserns: `/proc/${targets[0]!.pid}/ns/user`,
    joinNamespaces: Object.fromEntries(Object.entries(join).filter(([, v]) => v !== undefined)),
  };
}

/** A container's name becomes a file name in the store: a filesystem's 255-byte limit must never be what refuses it. */
export function checkName(name: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name) || name.length > 128) {
    throw new UsageError(
      name.length > 128
        ? `Invalid container name "${name.slice(0, 20)}…": it has ${name.length} characters, at most 128 are allowed`
        : `Invalid container name "${name}"`,
      { hint: "names match [a-zA-Z0-9][a-zA-Z0-9_.-]* and have at most 128 characters" },
    );
  }
}

/**
 * A member of a pod (`--pod NAME`) is a container that shares the pod's infra container's
 * namespaces: the request becomes `--network/--ipc/--uts [--pid] container:INFRA`, with the
 * pod's name as hostname. What the pod decides (ports, network) cannot be asked per member.
 */
function podRequest(req: RunRequest): RunRequest {
  if (req.pod === undefined) return req;
  const pod = readPod(req.pod);
  if (!pod) throw new UsageError(`No such pod: "${req.pod}"`, { hint: `create it first: nook pod create --name ${req.pod}` });
  const net = req.network ?? DEFAULT_NETWORK;
  if (net.network !== undefined || net.publish.length || net.publishAll || req.share?.pid || req.share?.ipc) {
    throw new UsageError("A pod's members share its network, ipc and pid settings: --network, -p, -P, --pid and --ipc cannot be given with --pod", {
      hint: `publish ports on the pod: nook pod create --name ${pod.name} -p HOST:CONTAINER`,
    });
  }
  const infraRef = infraId(pod);
  if (!infraRef) {
    throw new UsageError(`The infra container of the pod "${pod.name}" is gone`, { hint: `remove the pod (nook pod rm -f ${pod.name}) and create it again` });
  }
  if (currentStatus(infraRef).state !== "running") {
    throw new UsageError(`The pod "${pod.name}" is not running`, { hint: `start it: nook pod start ${pod.name}` });
  }
  const infra = `container:${pod.infra}`;
  return {
    ...req,
    hostname: pod.name,
    network: { ...net, network: infra },
    share: { ipc: infra, uts: infra, ...(pod.share.includes("pid") ? { pid: infra } : {}) },
  };
}

function prepareFrom(req: RunRequest, mapping: IdMapping, id: string, source: Source, mode: ModeMapping): Prepared {
  req = podRequest(req);
  const name = req.name;
  if (name !== undefined) checkName(name);
  (req.tmpfs ?? []).forEach(parseTmpfs); // a bad tmpfs option fails before anything is made

  const entrypointOpt = req.entrypoint;
  const command = req.command ?? [];
  const entrypoint = entrypointOpt !== undefined ? (entrypointOpt ? [entrypointOpt] : []) : source.entrypoint;
  const cmd = command.length ? command : entrypointOpt !== undefined ? [] : source.cmd;
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw new UsageError("No command given, and the image has none", {
      hint: "put the command after the image (or after --rootfs DIR), e.g. nook run --rootfs DIR sh",
    });
  }

  const readFile = source.store?.readFile ?? ((p: string) => readTextInRoot(source.rootfs, p));
  const dir = `${runtimeDir()}/containers/${id}`;
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // keep-id: the caller's own ids inside, with an entry in the image's passwd and group
  const kept = mode.keep ? keepIdEtc(dir, mode.keep, readFile) : undefined;
  const user = kept
    ? resolveUser(req.user ?? `${kept.user.uid}:${kept.user.gid}`, Deno.readTextFileSync(`${dir}/passwd`), Deno.readTextFileSync(`${dir}/group`))
    : resolveUser(req.user ?? source.user, readFile("/etc/passwd"), readFile("/etc/group"));
  if (kept && user.uid === kept.user.uid) {
    user.home = kept.user.home;
    if (source.store && user.home !== "/") {
      // the home directory, made by the caller's id inside when the image has none
      const sh = "/bin/sh";
      (source.store.rootfsSetup.run ??= []).push({
        path: sh,
        args: ["sh", "-c", '[ -e "$0$1" ] || { mkdir -p "$0$1" && chown "$2" "$0$1"; }', source.rootfs, user.home, `${user.uid}:${user.gid}`],
        env: ["PATH=/usr/bin:/bin"],
      });
    }
  }
  const keepGroups = applyGroupAdd(req.groupAdd ?? [], user, readFile);
  const devices = [...(req.devices ?? []).flatMap(parseDevice), ...(mode.cdi?.devices ?? [])];
  if (devices.length && Deno.uid() !== 0) {
    // --device's own rule (docker adds one per device) cannot be installed rootless: say so, once
    noticeOnce(
      "--device binds the node; a rootless container gets no device cgroup rule (the kernel installs one only for a privileged process), so the node's own permissions decide access, and PERMS without w mounts it read-only",
      "device-cgroup",
    );
  }
  const workdir = req.workdir ?? source.workdir;
  if (!workdir.startsWith("/")) {
    throw new UsageError(`The working directory "${workdir}" is not an absolute path`, { hint: "use -w /path" });
  }

  const hostname = req.hostname ?? id.slice(0, 12);
  const terminal = req.tty ?? false;
  const env = mergeEnv([
    `PATH=${DEFAULT_PATH}`,
    `HOSTNAME=${hostname}`,
    "container=nook",
    `HOME=${user.uid === 0 && user.home === "/" ? "/root" : user.home}`,
    ...(terminal ? ["TERM=xterm"] : []),
    ...source.env,
    ...(req.env ?? []),
  ]);

  if (mapping.mode === "single" && mapping.notice && !req.userns) noticeOnce(mapping.notice);

  let volumes: { mounts: MountSpec[]; cleanup: () => Promise<void> } | undefined;
  const cleanup = async () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // already gone
    }
    // A container that still has a record (not removed at exit, or detached) keeps its
    // storage and volumes until `nook rm` removes them with it.
    if (existsSync(`${containerDir(id)}/config.json`)) return;
    await volumes?.cleanup();
    await source.store?.cleanup();
    abandonCreate(id); // no record was made: its directory (and intent) go too
  };
  try {
    const flags = req.network ?? DEFAULT_NETWORK;
    const userNet = userNetworkName(flags);
    const joinNet = containerRef(flags.network, "--network");
    // a user network: the container's own namespace, wired to the bridge at its plan's SYNC (networks.ts)
    if (joinNet && (flags.publish.length || flags.publishAll)) {
      throw new UsageError("Ports cannot be published with --network container:NAME", {
        hint: "publish them on the container whose network is shared",
      });
    }
    // (a user network's ports are published by a pasta of the container's own: networks.ts)
    const net = prepareNetwork(userNet || joinNet ? { ...flags, network: "none", publish: [], publishAll: false } : flags, { id, name, hostname, runDir: dir, exposedPorts: source.exposedPorts });
    if (net.notice) noticeOnce(net.notice, net.noticeTopic ?? "network");
    const etcFiles = writeEtcFiles(dir, hostname, net.etc);
    const joined = joinedNamespaces(
      joinNet,
      containerRef(req.share?.pid, "--pid"),
      containerRef(req.share?.ipc, "--ipc"),
      containerRef(req.share?.uts, "--uts"),
    );
    if ((userNet || joined.joinUserns) && (mode.mapping !== mapping || mode.below)) {
      // such a container lives in a user namespace made before it, whose id maps are set
      throw new UsageError("--userns, --uidmap and --gidmap cannot be combined with a user network or container:NAME", {
        hint: "leave the id mapping out: the container gets the shared user namespace's (root inside is you)",
      });
    }
    // the network's names and resolver are the shared network's
    if (joinNet) Object.assign(etcFiles, { hosts: joinNet.etc.hosts, resolvConf: joinNet.etc.resolvConf });
    volumes = impl ? impl.runMounts(req.volumes ?? [], req.mounts ?? [], id, source.store) : undefined;
    const readonlyRootfs = source.readonly || (req.readonly ?? false);
    const mounts: MountSpec[] = [...(kept?.mounts ?? []), ...(mode.cdi?.mounts ?? []), ...(volumes?.mounts ?? [])];
    mounts.push(...tmpfsMounts(req.tmpfs ?? [], req.readOnlyTmpfs ?? false, readonlyRootfs));
    const spec: ContainerSpec = {
      id,
      rootfs: source.rootfs,
      readonlyRootfs,
      hostname,
      network: net.mode,
      networkSetup: net.setup,
      ...joined,
      ...(source.exposedPorts ? { exposedPorts: source.exposedPorts } : {}),
      mounts,
      etcFiles,
      process: {
        args,
        env,
        cwd: workdir,
        uid: user.uid,
        gid: user.gid,
        groups: user.groups,
        ...(keepGroups ? { keepGroups } : {}),
        terminal,
        stdin: req.interactive ?? false,
        init: req.init ?? false,
        umask: 0o022,
        rlimits: (req.ulimits ?? []).map(parseUlimit),
      },
      security: securityFrom(req.security ?? {}, user.uid),
      ...(source.store ? { rootfsSetup: source.store.rootfsSetup, image: source.store.image } : {}),
      ...(mode.mapping !== mapping ? { idMap: { uidMap: mode.mapping.uidMap, gidMap: mode.mapping.gidMap } } : {}),
      ...(mode.below ? { idMapBelow: mode.below } : {}),
      ...(devices.length ? { devices } : {}),
      ...(req.pod !== undefined ? { pod: req.pod } : {}),
    };
    return { spec, cleanup };
  } catch (err) {
    void cleanup();
    throw err;
  }
}

/** The security decision for a request; warnings (a profile's unknown syscalls) go to stderr. */
export function securityFrom(req: SecurityRequestFlags, uid: number): SecuritySpec {
  const { security, warnings } = decideSecurity({ ...req, uid });
  for (const w of warnings) console.error(`nook: warning: ${w}`);
  return security;
}

function rootfsSource(path: string): Source {
  let real: string;
  try {
    real = Deno.realPathSync(path);
    if (!Deno.statSync(real).isDirectory) throw new Error("not a directory");
  } catch {
    throw new UsageError(`The root filesystem "${path}" does not exist or is not a directory`, {
      path,
      hint: "point --rootfs at an unpacked root filesystem (for example: mkdir r && tar -xf rootfs.tar -C r)",
    });
  }
  return { rootfs: real, readonly: false, env: [], entrypoint: [], cmd: [], workdir: "/" };
}

function imageSource(req: RunRequest, image: string | undefined, id: string, mode: ModeMapping): Source {
  if (image === undefined || image === "") {
    throw new UsageError("No image given", { hint: "nook run [OPTIONS] IMAGE [COMMAND], or --rootfs DIR COMMAND" });
  }
  if (HELLO_NAMES.includes(image)) {
    return {
      rootfs: ensureHelloRootfs(dataDir()),
      readonly: true,
      env: [`NOOK_HOST_NS=${hostNamespaces()}`],
      entrypoint: [],
      cmd: ["/hello"],
      workdir: "/",
    };
  }
  if (!impl) throw new NookError("internal: prepareSource was not called before prepareContainer");
  // Only a foreground container removed at exit has storage that counts as garbage once its
  // process is gone (`image prune` removes it); any other is removed by its rm.
  const autoRemove = (req.lifecycle?.autoRemove ?? false) && !(req.lifecycle?.detach ?? false);
  const src: Source = impl.storeImageSource(image, id, autoRemove, mode.layerShift, mode.shiftedCopy);
  const ports = src.store?.image.exposedPorts;
  return ports?.length ? { ...src, exposedPorts: ports } : src;
}

function hostNamespaces(): string {
  return NAMESPACES.map((ns) => {
    try {
      return `${ns}=${/\[(\d+)\]/.exec(Deno.readLinkSync(`/proc/self/ns/${ns}`))?.[1] ?? 0}`;
    } catch {
      return `${ns}=0`;
    }
  }).join(" ");
}

/** 64 random hex digits. */
export function newId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Merge KEY=VALUE strings, later ones winning, in first-seen order. */
export function mergeEnv(entries: readonly string[]): string[] {
  const m = new Map<string, string>();
  for (const e of entries) {
    const i = e.indexOf("=");
    m.set(i < 0 ? e : e.slice(0, i), e);
  }
  return [...m.values()];
}

/** `--ulimit name=soft[:hard]` → [resource, soft, hard]; -1 or "unlimited" is infinity. */
export function parseUlimit(value: string): [number, bigint, bigint] {
  const m = /^([a-z]+)=(-?\d+|unlimited)(?::(-?\d+|unlimited))?$/.exec(value);
  const res = m ? RLIMIT[m[1]!] : undefined;
  if (!m || res === undefined) {
    throw new UsageError(`Invalid ulimit "${value}"`, {
      hint: `use NAME=SOFT[:HARD] with NAME one of ${Object.keys(RLIMIT).join(", ")}`,
    });
  }
  const num = (s: string) => (s === "unlimited" || s === "-1" ? RLIM_INFINITY : BigInt(s));
  const soft = num(m[2]!);
  const hard = m[3] === undefined ? soft : num(m[3]);
  if (soft > hard) throw new UsageError(`Invalid ulimit "${value}": the soft limit is above the hard limit`);
  return [res, soft, hard];
}

/** Print a notice once per boot (the runtime directory is emptied by reboots); one marker per topic. */
function noticeOnce(text: string, topic = "idmap"): void {
  const marker = `${runtimeDir()}/notice-${topic}`;
  try {
    Deno.writeFileSync(marker, new Uint8Array(), { createNew: true });
  } catch {
    return;
  }
  console.error(`nook: notice: ${text}`);
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
