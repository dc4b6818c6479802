/**
 * config.json → the model's {@link PlanSpec}, which the one plan builder (src/engine/build_plan.ts)
 * compiles. What is the runtime front door's is decided here, with runc's rules; nothing here adds
 * a plan op. The runtime's plan, in the builder's order (runc's, where it matters):
 *
 *   BARRIER_OPEN exec.fifo                 (host path, before anything resolves in the rootfs)
 *   namespaces:  clone(new ones) + SETNS(joined)          — nothing to join first
 *            or  SETNS(user first, then the others) + UNSHARE(new ones)
 *                [+ SYNC usermap: the parent writes the id maps]   — a user namespace to join,
 *                                                                    or a new one besides joined ones
 *   [SETID 0: root of a new user namespace where 0 is mapped]
 *   [FORK when a pid namespace is new after UNSHARE or joined]
 *   UNSHARE cgroup                           (after the cgroup manager placed the process)
 *   / propagation → bind rootfs [→ private → bind again, when shared] → [nodev] → ROOT(rootfs)
 *     → config.json's mounts in order (mounts.ts) → devices, /dev links [, /dev/console]
 *     → sysctl → mkdir cwd
 *   [DUMPABLE, unless the pid namespace is joined]
 *   [SYNC hooks: prestart, createRuntime (runtime namespaces), createContainer (container's)]
 *   pivot_root (chroot with --no-pivot) → read-only root → read-only and masked paths → root propagation
 *   hostname, domainname, personality → the process setup (the engine's, src/engine/process_setup.ts):
 *     [PTY, /dev/console] → [KEEP_FDS] → cwd, rlimits, umask
 *     → LSM labels, no_new_privs, bounding set → SETID → seccomp, final capabilities
 *   SYNC created   (`create` writes the pid file and exits here; `run` starts at once)
 *   BARRIER_WAIT   (`start` writes one byte into exec.fifo)
 *   EXEC
 *
 * Everything that can fail is checked here or comes before SYNC created, so `create` reports it.
 *
 * @module
 */
import { CLONE, type Plan } from "../plan/mod.ts";
import type { SecuritySpec } from "../security/mod.ts";
import type { ExecPlanOptions, ProcessSetup } from "../engine/process_setup.ts";
import type { IdMapping, IdRange } from "../userns/mod.ts";
import { compilePlan, joinsFirst } from "../engine/build_plan.ts";
import type { PlanSpec, RootStep } from "../model/plan_spec.ts";
import type { NsType, OciConfig, OciProcess } from "./config.ts";
import { CLONE_FLAG } from "./namespaces.ts";
import { invalid, unsupported } from "./errors.ts";
import type { RuntimeLog } from "./log.ts";
import { deviceSteps, ociMount, rootPropagation, sysctlNamespace } from "./mounts.ts";
import { compileSeccomp, fitCapabilities, processSecurity } from "./security.ts";
import { ociIdMapping, type UsernsView, usernsView } from "./userns.ts";

/** SYNC tags of the runtime's plans. */
export const SYNC_TAG = {
  /** A new user namespace was unshared: write its id maps. */
  USERMAP: 901,
  /** Namespaces and mounts are ready, before pivot_root: run the create hooks. */
  HOOKS: 902,
  /** Everything is set up; next the process waits for `start`. */
  CREATED: 903,
} as const;

/** What creating a container needs besides config.json. */
export interface CreateOptions {
  /** Host path of the start FIFO. */
  fifo: string;
  /** `--no-pivot`: chroot instead of pivot_root. */
  noPivot: boolean;
  /** `--preserve-fds N`: fds 3..3+N-1 stay open for the process. */
  preserveFds: number;
  /** The host's /sys/fs/cgroup is cgroup v2. */
  hostCgroup2: boolean;
  /** Where warnings go. */
  log: RuntimeLog;
}

/** A container's plan and what the parent must do for it. */
export interface CreatePlan {
  /** The plan. */
  plan: Plan;
  /** What it was compiled from. */
  spec: PlanSpec;
  /** Id maps for a new user namespace (written before GO, or at SYNC usermap). */
  mapping?: IdMapping;
  /** The maps are written at SYNC usermap (true) or before GO (false). */
  mapsAtSync: boolean;
  /** The plan stops at SYNC hooks. */
  hooksSync: boolean;
  /** The security decision (for exec to reuse the filter's rules). */
  security: SecuritySpec;
}

/** This process is in the host's own user namespace (real root), where device nodes are not refused by the kernel. */
export function initialUserns(): boolean {
  try {
    return /^\s*0\s+0\s+4294967295\s*$/.test(Deno.readTextFileSync("/proc/self/uid_map"));
  } catch {
    return false;
  }
}

/**
 * `linux.resources.devices` grants every device (a privileged container's
 * `{"allow": true, "access": "rwm"}` with no later deny): nothing to enforce.
 */
export function devicesAllowAll(resources: Record<string, unknown> | undefined): boolean {
  const rules = resources?.devices;
  if (!Array.isArray(rules)) return false;
  let all = false;
  for (const r of rules as Record<string, unknown>[]) {
    const any = (v: unknown) => v === undefined || v === null || v === -1;
    const wide = (r.type === undefined || r.type === "a") && any(r.major) && any(r.minor);
    const access = typeof r.access === "string" ? r.access : "rwm";
    if (r.allow === true && wide && ["r", "w", "m"].every((c) => access.includes(c))) all = true;
    else if (r.allow !== true) all = false;
  }
  return all;
}

/** Split the namespace list into new ones (as clone flags) and ones to join. */
function splitNamespaces(cfg: OciConfig): { newFlags: number; joins: { type: NsType; path: string }[] } {
  let newFlags = 0;
  const joins: { type: NsType; path: string }[] = [];
  for (const ns of cfg.linux.namespaces) {
    if (ns.path) joins.push({ type: ns.type, path: ns.path });
    else newFlags |= CLONE_FLAG[ns.type];
  }
  return { newFlags, joins };
}

/** True when this process holds CAP_SYS_ADMIN in its user namespace (root in podman's namespace). */
export function privilegedHere(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(Deno.readTextFileSync("/proc/self/status"));
    return m ? ((BigInt(`0x${m[1]}`) >> 21n) & 1n) === 1n : false;
  } catch {
    return false;
  }
}

/** A checked config.json as the model's plan spec, compiled by the one plan builder. */
export function buildCreatePlan(cfg: OciConfig, opts: CreateOptions): CreatePlan {
  const proc = cfg.process;
  if (!proc) throw invalid("process", "is missing; a container needs a process to run");
  const { newFlags, joins } = splitNamespaces(cfg);
  const has = (t: NsType) => cfg.linux.namespaces.some((n) => n.type === t);
  const userJoin = joins.find((j) => j.type === "user");
  if (!has("mount")) {
    throw unsupported("linux.namespaces", 'nook needs a mount namespace: add {"type": "mount"}');
  }
  if (!has("user") && !privilegedHere()) {
    throw unsupported(
      "linux.namespaces",
      "without a user namespace only a privileged runtime can create the others, and this one runs as an unprivileged user",
      'add {"type": "user"} with linux.uidMappings and linux.gidMappings (`nook runtime spec --rootless` writes them)',
    );
  }
  if ((cfg.linux.uidMappings.length || cfg.linux.gidMappings.length) && (!has("user") || userJoin !== undefined)) {
    throw invalid("linux.uidMappings", 'needs a new user namespace (a {"type": "user"} entry without a path)');
  }
  if ((cfg.hostname || cfg.domainname) && !has("uts")) {
    throw invalid(cfg.hostname ? "hostname" : "domainname", 'needs a uts namespace: add {"type": "uts"}');
  }
  const mapping = newFlags & CLONE.NEWUSER ? ociIdMapping(cfg.linux) : undefined;
  const view: UsernsView = usernsView(
    newFlags & CLONE.NEWUSER ? "new" : userJoin ? { path: userJoin.path } : "shared",
    mapping,
  );
  checkIds(proc, view, "process");

  const security: SecuritySpec = {
    ...processSecurity(proc, "process", opts.log),
    maskedPaths: cfg.linux.maskedPaths,
    readonlyPaths: cfg.linux.readonlyPaths,
  };
  fitCapabilities(security, !(newFlags & CLONE.NEWUSER) && !userJoin, "process", opts.log);
  const filter = compileSeccomp(cfg.linux.seccomp, security.capabilities.bounding, opts.log);
  if (filter) security.seccomp = filter;

  // The namespaces as the model lists them: an empty path is a new namespace, as runc reads it.
  const namespaces = cfg.linux.namespaces.map((n) => n.path ? { type: n.type, path: n.path } : { type: n.type });
  // The maps of a user namespace unshared after joining are written at SYNC usermap (the
  // builder stops there); a cloned one's before GO.
  const mapsAtSync = (newFlags & CLONE.NEWUSER) !== 0 && joinsFirst(namespaces);
  const rootfs = cfg.root.path;
  const propagation = rootPropagation(cfg.linux.rootfsPropagation);
  // Without a user namespace of the container's, the kernel lets root open
  // any device node it finds or makes (CAP_MKNOD); runc's device cgroup
  // enforces linux.resources.devices then. nook has no device cgroup, so the
  // container's mounts are nodev instead: only the nodes bound into /dev
  // below (the defaults and linux.devices) open, as in a user namespace.
  // In a user namespace other than the host's (under podman, rootlesskit) the
  // kernel already refuses such nodes: there is nothing to add.
  const nodev = !has("user") && initialUserns() && !devicesAllowAll(cfg.linux.resources);
  const ctx = {
    nodev,
    gid5Mapped: view.gidMap ? view.gidMap.some((r) => 5 >= r.inside && 5 < r.inside + r.count) : undefined,
    hostCgroup2: opts.hostCgroup2,
    debug: (msg: string) => opts.log.debug(msg),
  };
  const steps: RootStep[] = cfg.mounts.map((m, i) => ({ mount: ociMount(m, `mounts[${i}]`, ctx) }));
  const devBound = cfg.mounts.some((m) =>
    m.destination === "/dev" && (m.type === "bind" || m.options.includes("bind") || m.options.includes("rbind"))
  );
  if (!devBound) steps.push(...deviceSteps(cfg.linux.devices, proc.terminal));
  else if (cfg.linux.devices.length) {
    throw invalid(
      "linux.devices",
      "cannot be added: /dev is a bind mount from the host (mounts) and has the host's nodes",
    );
  }

  const sysctls: [string, string][] = [];
  for (const [key, value] of Object.entries(cfg.linux.sysctl)) {
    const need = sysctlNamespace(key);
    const nsType = (Object.keys(CLONE_FLAG) as NsType[]).find((t) => CLONE_FLAG[t] === need);
    if (need === undefined || !nsType) {
      throw unsupported(`linux.sysctl["${key}"]`, "it is not a namespaced sysctl; setting it would change the host");
    }
    if (!has(nsType)) {
      throw invalid(
        `linux.sysctl["${key}"]`,
        `needs the container's own ${nsType} namespace (it would change the host's)`,
      );
    }
    if (!cfg.mounts.some((m) => m.destination === "/proc" && m.type === "proc")) {
      throw invalid(`linux.sysctl["${key}"]`, "needs /proc mounted in the container (a proc mount at /proc)");
    }
    sysctls.push([key, value]);
  }

  const hooks = cfg.hooks;
  const hooksSync = hooks.prestart.length + hooks.createRuntime.length + hooks.createContainer.length > 0;
  // From the end of the mounts to its exec, nook opens the child's /proc/PID/ns/* (hooks that
  // run in the container's namespaces, `exec` into a created container), so
  // the child becomes dumpable — only where no other process can see it: in a
  // pid namespace of its own, where it is alone until it execs (and it execs
  // through the sealed exec helper, never from nook's binary). In a joined pid
  // namespace it stays out of reach, and hooks that would join it are refused.
  const pidJoined = joins.some((j) => j.type === "pid");
  if (pidJoined && hooks.createContainer.length + hooks.startContainer.length > 0) {
    throw unsupported(
      hooks.createContainer.length ? "hooks.createContainer" : "hooks.startContainer",
      "cannot run in the namespaces of a container that joins another's pid namespace: nook keeps its setup process unreachable from that namespace until it execs",
      "run the hook as a createRuntime or poststart hook, or give the container a pid namespace of its own",
    );
  }
  let personality: number | undefined;
  const pers = cfg.linux.personality;
  if (pers) {
    if (pers.flags.length) throw unsupported("linux.personality.flags", "no personality flags are defined by the spec");
    personality = { LINUX: 0, LINUX32: 0x0008 }[pers.domain];
    if (personality === undefined) {
      throw invalid("linux.personality.domain", `is "${pers.domain}"; use LINUX or LINUX32`);
    }
  }

  const spec: PlanSpec = {
    namespaces,
    // the cgroup namespace is made after the cgroup manager placed the process
    cgroupNsAfterPlacement: true,
    // the container outlives `create`
    dieWithParent: false,
    barrier: opts.fifo,
    syncs: {
      // the parent writes the maps through /proc/PID (newuidmap checks that the user owns it)
      ...(mapsAtSync ? { namespaces: SYNC_TAG.USERMAP } : {}),
      ...(hooksSync ? { beforePivot: SYNC_TAG.HOOKS } : {}),
      created: SYNC_TAG.CREATED,
    },
    propagation,
    rootfs,
    rootNodev: nodev,
    steps,
    sysctls,
    dumpableAfterMounts: !pidJoined,
    noPivot: opts.noPivot,
    readonlyRoot: cfg.root.readonly,
    loopback: false,
    process: processSetup(proc),
    ...processOptions(security, view, opts.preserveFds, !devBound),
  };
  if (newFlags & CLONE.NEWUSER && idMapped(view.uidMap, 0) && idMapped(view.gidMap, 0)) {
    // Become root of the new namespace, as runc does once the maps are written.
    spec.becomeRoot = { skipSetgroups: !view.setgroups };
  }
  if (cfg.hostname) spec.hostname = cfg.hostname;
  if (cfg.domainname) spec.domainname = cfg.domainname;
  if (personality !== undefined) spec.personality = personality;
  const out: CreatePlan = { plan: compilePlan(spec), spec, mapsAtSync, hooksSync, security };
  if (mapping) out.mapping = mapping;
  return out;
}

/**
 * config.json's process in the engine's form: the one process setup (src/engine/process_setup.ts) then
 * makes the process part of `create`'s plan and of `exec`'s. Its stdin is what the engine handed
 * over, and its umask stays inherited unless config.json names one.
 */
export function processSetup(proc: OciProcess): ProcessSetup {
  const out: ProcessSetup = {
    args: proc.args,
    env: proc.env,
    cwd: proc.cwd,
    uid: proc.user.uid,
    gid: proc.user.gid,
    groups: proc.user.additionalGids,
    terminal: proc.terminal,
    stdin: true,
    rlimits: proc.rlimits,
  };
  if (proc.user.umask !== undefined) out.umask = proc.user.umask;
  if (proc.consoleSize) out.consoleSize = [proc.consoleSize.height, proc.consoleSize.width];
  return out;
}

/** How the process part of a runtime plan is set up: the security ops, setgroups as the user namespace allows, kept fds. */
export function processOptions(
  security: SecuritySpec,
  view: UsernsView,
  preserveFds: number,
  consoleBind: boolean,
): Required<Pick<ExecPlanOptions, "security" | "skipSetgroups" | "preserveFds" | "consoleBind">> {
  return { security, skipSetgroups: !view.setgroups, preserveFds, consoleBind };
}

const idMapped = (ranges: IdRange[] | undefined, id: number) =>
  ranges !== undefined && ranges.some((r) => id >= r.inside && id < r.inside + r.count);

/** Refuse a user or group the container's user namespace does not have. */
export function checkIds(proc: OciProcess, view: UsernsView, field: string): void {
  const mapped = (ranges: IdRange[] | undefined, id: number) =>
    ranges === undefined || ranges.some((r) => id >= r.inside && id < r.inside + r.count);
  if (!mapped(view.uidMap, proc.user.uid)) {
    throw invalid(`${field}.user.uid`, `is ${proc.user.uid}, which is not mapped in the container's user namespace`);
  }
  for (
    const [gid, f] of [[proc.user.gid, "gid"], ...proc.user.additionalGids.map((g, i) => [g, `additionalGids[${i}]`])]
  ) {
    if (!mapped(view.gidMap, gid as number)) {
      throw invalid(`${field}.user.${f}`, `is ${gid}, which is not mapped in the container's user namespace`);
    }
  }
  if (!view.setgroups && proc.user.additionalGids.length) {
    throw unsupported(
      `${field}.user.additionalGids`,
      "setgroups is denied in this user namespace (only your own id is mapped, without newgidmap)",
      "map a subordinate gid range in linux.gidMappings (needs newgidmap), or drop additionalGids",
    );
  }
}
