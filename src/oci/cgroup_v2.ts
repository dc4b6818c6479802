/**
 * `linux.resources` and `linux.cgroupsPath` carried out by nook's cgroup v2
 * managers (src/cgroupv2/): the default {@link CgroupProvider}.
 *
 * Where the container's cgroup goes:
 *   - `--systemd-cgroup` (cgroupsPath `slice:prefix:name`, or none): a
 *     transient scope `prefix-name.scope` of the user's systemd, in `slice`
 *     (default user.slice, as rootless runc does), the container in its
 *     `container` leaf;
 *   - cgroupsPath as a path: that cgroup directory (absolute: under
 *     /sys/fs/cgroup; relative: under nook's own cgroup), made where it is
 *     missing — it must lie in a subtree delegated to the user;
 *   - neither: the manager `nook run` would pick (a scope `nook-ID.scope`, or
 *     a child of nook's own delegated cgroup).
 *
 * A field the managers cannot carry out fails `create` naming it; without a
 * cgroup (a hybrid host like the one nook is built on, a path that is not
 * the user's) a container with no limits runs on, one with limits is refused.
 *
 * @module
 */
import {
  CGROUP_ROOT,
  type CgroupOptions,
  cgroupOf,
  chooseManager,
  type Controller,
  CPU_LIST,
  createContainerCgroup,
  DEFAULT_CPU_PERIOD,
  type DeviceThrottle,
  type ManagerChoice,
  type Resources,
  sessionBusPath,
  sharesToWeight,
  unifiedController,
} from "../cgroupv2/mod.ts";
import { CgroupError } from "../cgroupv2/errors.ts";
import { exists } from "../cgroupv2/detect.ts";
import { type CgroupProvider, type CgroupRequest, noCgroup, type OciCgroup, requestedLimits, requestedResources, warnIgnoredWeights } from "./cgroups.ts";
import { invalid, unsupported } from "./errors.ts";
import type { RuntimeLog } from "./log.ts";

type Json = Record<string, unknown>;

/** Set in the runtime-spec's sense: present and not 0, false, "" or empty (as {@link requestedResources} counts). */
const isSet = (v: unknown) =>
  !(v === null || v === undefined || v === false || v === 0 || v === "" || (Array.isArray(v) && v.length === 0));

function int(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw invalid(field, `must be a whole number, not ${JSON.stringify(v)}`);
  return v;
}

function obj(v: unknown, field: string): Json | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw invalid(field, "must be an object");
  return v as Json;
}

/** `linux.resources` as cgroup v2 limits, and the field that asked for each controller (for messages). */
export interface OciResources {
  /** The limits. */
  resources: Resources;
  /** Controller → the config.json field that needs it, quoted. */
  labels: Partial<Record<Controller, string>>;
}

/**
 * Convert `linux.resources` the way runc and crun do for cgroup v2; fields
 * cgroup v2 (or nook) cannot carry out are refused by name.
 */
export function ociResources(res: Json | undefined): OciResources {
  const r: Resources = {};
  const labels: Partial<Record<Controller, string>> = {};
  const at = "linux.resources";
  const label = (c: Controller, field: string) => (labels[c] ??= `"${field}"`);
  if (!res) return { resources: r, labels };

  for (const [key, why] of [
    ["hugepageLimits", "nook does not enable the hugetlb controller"],
    ["network", "net_cls and net_prio do not exist in cgroup v2"],
    ["rdma", "nook does not enable the rdma controller"],
  ] as const) {
    if (requestedResources({ [key]: res[key] }).length) throw unsupported(`${at}.${key}`, why);
  }

  const mem = obj(res.memory, `${at}.memory`);
  if (mem) {
    const f = (k: string) => `${at}.memory.${k}`;
    for (const [k, why] of [
      ["kernel", "cgroup v2 has no separate kernel memory limit"],
      ["kernelTCP", "cgroup v2 has no separate kernel TCP memory limit"],
      ["swappiness", "cgroup v2 has no per-cgroup swappiness"],
      ["disableOOMKiller", "cgroup v2 cannot turn the OOM killer off"],
    ] as const) {
      if (isSet(mem[k])) throw unsupported(f(k), why);
    }
    const m: NonNullable<Resources["memory"]> = {};
    const limit = isSet(mem.limit) ? int(mem.limit, f("limit")) : 0;
    if (limit < -1) throw invalid(f("limit"), "must be above 0, or -1 for no limit");
    if (limit > 0) {
      m.max = limit;
      label("memory", f("limit"));
    }
    if (isSet(mem.reservation)) {
      const low = int(mem.reservation, f("reservation"));
      if (low > 0) {
        m.low = low;
        label("memory", f("reservation"));
      }
    }
    if (isSet(mem.swap)) {
      const swap = int(mem.swap, f("swap"));
      label("memory", f("swap"));
      m.swapExplicit = true;
      if (swap === -1) m.swapMax = "max";
      else if (swap < 0) throw invalid(f("swap"), "must be above 0, or -1 for no limit");
      else if (limit <= 0) throw invalid(f("swap"), `needs "${f("limit")}": it is memory plus swap`);
      else if (swap < limit) throw invalid(f("swap"), `is below "${f("limit")}": it is memory plus swap`);
      else m.swapMax = swap - limit;
    }
    if (Object.keys(m).length) r.memory = m;
  }

  const unified: Record<string, string> = {};
  const cpu = obj(res.cpu, `${at}.cpu`);
  if (cpu) {
    const f = (k: string) => `${at}.cpu.${k}`;
    for (const k of ["realtimeRuntime", "realtimePeriod"]) {
      if (isSet(cpu[k])) throw unsupported(f(k), "cgroup v2 has no real-time CPU bandwidth");
    }
    const c: NonNullable<Resources["cpu"]> = {};
    if (isSet(cpu.shares)) {
      const shares = int(cpu.shares, f("shares"));
      if (shares < 0) throw invalid(f("shares"), "must be 2 to 262144");
      c.weight = sharesToWeight(Math.min(262144, Math.max(2, shares)));
      label("cpu", f("shares"));
    }
    if (isSet(cpu.quota)) {
      const quota = int(cpu.quota, f("quota"));
      if (quota < -1 || (quota > 0 && quota < 1000)) throw invalid(f("quota"), "must be 1000 µs or more, or -1 for no limit");
      c.quota = quota === -1 ? "max" : quota;
      label("cpu", f("quota"));
    }
    if (isSet(cpu.period)) {
      const period = int(cpu.period, f("period"));
      if (period < 1000 || period > 1_000_000) throw invalid(f("period"), "must be 1000 to 1000000 µs");
      c.period = period;
      label("cpu", f("period"));
    }
    if (c.quota !== undefined && c.period === undefined) c.period = DEFAULT_CPU_PERIOD;
    if (Object.keys(c).length) r.cpu = c;
    if (isSet(cpu.burst)) {
      unified["cpu.max.burst"] = String(int(cpu.burst, f("burst")));
      label("cpu", f("burst"));
    }
    if (cpu.idle !== undefined && cpu.idle !== null) {
      unified["cpu.idle"] = String(int(cpu.idle, f("idle")));
      label("cpu", f("idle"));
    }
    const set: NonNullable<Resources["cpuset"]> = {};
    for (const k of ["cpus", "mems"] as const) {
      if (!isSet(cpu[k])) continue;
      if (typeof cpu[k] !== "string" || !CPU_LIST.test(cpu[k].trim())) {
        throw invalid(f(k), `must be a list such as "0-2,4", not ${JSON.stringify(cpu[k])}`);
      }
      set[k] = cpu[k].trim();
      label("cpuset", f(k));
    }
    if (Object.keys(set).length) r.cpuset = set;
  }

  const pids = obj(res.pids, `${at}.pids`);
  if (pids && isSet(pids.limit)) {
    const limit = int(pids.limit, `${at}.pids.limit`);
    r.pids = { max: limit > 0 ? limit : "max" };
    label("pids", `${at}.pids.limit`);
  }

  const bio = obj(res.blockIO, `${at}.blockIO`);
  if (bio) {
    const f = (k: string) => `${at}.blockIO.${k}`;
    if (isSet(bio.leafWeight)) throw unsupported(f("leafWeight"), "cgroup v2 has no leaf weight");
    if (isSet(bio.weightDevice)) throw unsupported(f("weightDevice"), "nook sets no per-device I/O weight");
    const io: NonNullable<Resources["io"]> = {};
    if (isSet(bio.weight)) {
      const w = int(bio.weight, f("weight"));
      if (w < 10 || w > 1000) throw invalid(f("weight"), "must be 10 to 1000");
      io.blkioWeight = w;
      label("io", f("weight"));
    }
    const throttles: DeviceThrottle[] = [];
    for (
      const [k, key] of [
        ["throttleReadBpsDevice", "rbps"],
        ["throttleWriteBpsDevice", "wbps"],
        ["throttleReadIOPSDevice", "riops"],
        ["throttleWriteIOPSDevice", "wiops"],
      ] as const
    ) {
      const list = bio[k];
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list)) throw invalid(f(k), "must be an array");
      list.forEach((d, i) => {
        const e = obj(d, `${f(k)}[${i}]`) ?? {};
        const major = int(e.major, `${f(k)}[${i}].major`), minor = int(e.minor, `${f(k)}[${i}].minor`);
        const rate = int(e.rate, `${f(k)}[${i}].rate`);
        if (rate <= 0) return; // 0: no limit
        throttles.push({ path: `${major}:${minor}`, major, minor, [key]: rate });
        label("io", `${f(k)}[${i}]`);
      });
    }
    if (throttles.length) io.throttle = throttles;
    if (Object.keys(io).length) r.io = io;
  }

  const uni = obj(res.unified, `${at}.unified`);
  for (const [key, value] of Object.entries(uni ?? {})) {
    const field = `${at}.unified["${key}"]`;
    if (typeof value !== "string") throw invalid(field, "must be a string");
    if (!/^[a-z_]+\.[a-z0-9_.]+$/.test(key)) throw invalid(field, "is not the name of a cgroup interface file");
    const c = unifiedController(key);
    if (!c && !key.startsWith("cgroup.")) {
      throw unsupported(field, `the "${key.split(".")[0]}" controller is not one nook enables (cpu, cpuset, io, memory, pids)`);
    }
    unified[key] = value;
    if (c) labels[c] ??= field;
  }
  if (Object.keys(unified).length) r.unified = unified;
  return { resources: r, labels };
}

/** A systemd unit name for any text: what systemd's unit names may not hold is escaped as \xNN. */
function unitName(text: string): string {
  return text.replace(/[^A-Za-z0-9:_.-]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** The manager and options for a request, or why there is none. */
function placement(req: CgroupRequest): { choice: ManagerChoice; opts: CgroupOptions; explicit: boolean } {
  const auto = chooseManager();
  const none = (reason: string): ManagerChoice => ({ kind: "none", version: auto.version, reason });
  if (req.path?.kind === "systemd" || (req.systemd && !req.path)) {
    if (auto.version !== "v2") return { choice: auto, opts: {}, explicit: true };
    const bus = sessionBusPath();
    if (!bus || !exists("/run/systemd/system")) {
      return { choice: none("--systemd-cgroup needs a systemd user manager and its session bus, and there is none"), opts: {}, explicit: true };
    }
    const p = req.path?.kind === "systemd" ? req.path : undefined;
    if (p?.name.endsWith(".slice")) {
      throw unsupported("linux.cgroupsPath", `names a slice ("${p.name}"); nook puts a container in a scope`);
    }
    const unit = p ? unitName(p.prefix ? `${p.prefix}-${p.name}.scope` : `${p.name}.scope`) : unitName(`nook-${req.id}.scope`);
    return {
      choice: { kind: "systemd", version: auto.version, bus },
      opts: { unit, slice: p?.slice || "user.slice" },
      explicit: p !== undefined,
    };
  }
  if (req.path?.kind === "cgroupfs") {
    if (auto.version !== "v2") return { choice: auto, opts: {}, explicit: true };
    const own = cgroupOf();
    const base = req.path.relative ? `${CGROUP_ROOT}${own === "/" ? "" : own ?? ""}` : CGROUP_ROOT;
    const path = `${base}/${req.path.path.replace(/^\/+|\/+$/g, "")}`;
    return { choice: { kind: "cgroupfs", version: auto.version, ownDir: base }, opts: { path }, explicit: true };
  }
  return {
    choice: auto,
    opts: auto.kind === "systemd" ? { unit: unitName(`nook-${req.id}.scope`) } : {},
    explicit: false,
  };
}

/**
 * The cgroup v2 provider: a cgroup of the container's own with its limits,
 * or none when the host has no manager and no limit was asked for.
 */
export const cgroupV2Provider: CgroupProvider = (req: CgroupRequest, log: RuntimeLog) => {
  const { resources, labels } = ociResources(req.resources);
  const { choice, opts, explicit } = placement(req);
  if (choice.kind === "none") return Promise.resolve(noCgroup(req, log, choice.reason ?? "there is no cgroup manager"));
  const limited = requestedLimits(req.resources).length > 0;
  const cg = createContainerCgroup(req.id, resources, choice, { ...opts, labels });
  let joined = false;
  const cgroup: OciCgroup = {
    ref: () => (joined ? cg.ref() : undefined),
    join: async (pid) => {
      try {
        await cg.join(pid);
        joined = true;
      } catch (err) {
        if (!(err instanceof CgroupError)) throw err;
        if (limited) {
          throw explicit && !err.message.startsWith("Cannot enforce")
            ? unsupported("linux.cgroupsPath", `its cgroup cannot be made: ${err.message}`, err.hint)
            : err;
        }
        // runc's rootless rule: no limit asked for, so a cgroup that cannot be made is no reason to fail
        log.warn(`the container runs without a cgroup of its own: ${err.message}`);
        warnIgnoredWeights(req.resources, log, "its cgroup could not be made");
        await cg.release().catch(() => {});
      }
    },
    remove: async () => void await cg.release(),
  };
  return Promise.resolve(cgroup);
};
