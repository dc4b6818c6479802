/**
 * Which cgroup manager nook can use on this host, decided from cheap checks
 * (a few stat calls and two small /proc reads) on every `nook run`. Kept free
 * of imports: it is on the start-up path of every run.
 */
import { DELEGATION_FIX } from "./errors.ts";

/** Where cgroup v2 is mounted. */
export const CGROUP_ROOT = "/sys/fs/cgroup";

/** How the host mounts cgroups. */
export type CgroupVersion = "v2" | "hybrid" | "v1" | "none";

/** A cgroup manager: how nook gets a cgroup of its own for a container. */
export type ManagerKind = "systemd" | "cgroupfs" | "none";

/** The manager nook will use, and why. */
export interface ManagerChoice {
  /** systemd (a transient scope), cgroupfs (a child of nook's own delegated cgroup) or none. */
  kind: ManagerKind;
  /** How the host mounts cgroups. */
  version: CgroupVersion;
  /** Why there are no limits (none), in a sentence. */
  reason?: string;
  /** What the user can do about it (none). */
  hint?: string;
  /** The user chose "none" (NOOK_CGROUP_MANAGER=none): no warning. */
  chosen?: boolean;
  /** nook's own cgroup directory (cgroupfs). */
  ownDir?: string;
  /** The session bus socket (systemd). */
  bus?: string;
}

/**
 * What the choice of a manager reads from the host. `nook run` reads the
 * real one; `nook doctor` passes its own inputs, so both reach one verdict.
 */
export interface ManagerHost {
  /** An environment variable (NOOK_CGROUP_MANAGER, DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR). */
  env(name: string): string | undefined;
  /** The user's uid. */
  uid: number;
  /** The pid of the process whose cgroup is asked about (nook itself). */
  pid: number;
  /** That process's cgroup v2 path ("/user.slice/…"). */
  ownCgroup(): string | undefined;
  /** Whether systemd is the init system (/run/systemd/system exists). */
  systemdBooted(): boolean;
}

/** The real host, as `nook run` sees it. */
export function realManagerHost(): ManagerHost {
  return {
    env: (name) => Deno.env.get(name),
    uid: Deno.uid() ?? 0,
    pid: Deno.pid,
    ownCgroup: () => cgroupOf(),
    systemdBooted: () => exists("/run/systemd/system"),
  };
}

/** True when the path exists. */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** How cgroups are mounted at `root`. */
export function cgroupVersion(root = CGROUP_ROOT): CgroupVersion {
  if (exists(`${root}/cgroup.controllers`)) return "v2";
  if (exists(`${root}/unified/cgroup.controllers`)) return "hybrid";
  if (exists(`${root}/memory`) || exists(`${root}/cpu`) || exists(`${root}/pids`)) return "v1";
  return "none";
}

/** A process's cgroup v2 path ("/user.slice/…") from /proc/PID/cgroup, or undefined. */
export function cgroupOf(pid: number | "self" = "self"): string | undefined {
  try {
    const line = Deno.readTextFileSync(`/proc/${pid}/cgroup`).split("\n").find((l) => l.startsWith("0::"));
    return line?.slice(3);
  } catch {
    return undefined;
  }
}

/** The address of the user's session bus as a socket path, or undefined when there is none. */
export function sessionBusPath(h: ManagerHost = realManagerHost()): string | undefined {
  const addr = h.env("DBUS_SESSION_BUS_ADDRESS");
  if (addr) {
    for (const part of addr.split(";")) {
      const m = /^unix:(?:.*,)?path=([^,]+)/.exec(part);
      if (m) return decodeURIComponent(m[1]!);
    }
  }
  const runtime = h.env("XDG_RUNTIME_DIR") || `/run/user/${h.uid}`;
  try {
    const st = Deno.statSync(`${runtime}/bus`);
    if (st.isSocket && st.uid === h.uid) return `${runtime}/bus`;
  } catch {
    // no bus there
  }
  return undefined;
}

function ownedBy(path: string, uid: number): boolean {
  try {
    const st = Deno.statSync(path);
    return st.uid === uid && ((st.mode ?? 0) & 0o200) !== 0;
  } catch {
    return false;
  }
}

/**
 * Why nook's own cgroup cannot be used as a delegated parent ("cgroupfs"),
 * or undefined when it can: it must be ours to write, and hold no process
 * but nook (the rest would be "internal processes" once controllers are on).
 */
export function cgroupfsProblem(ownDir: string, h: ManagerHost = realManagerHost()): string | undefined {
  const mine = (p: string) => ownedBy(p, h.uid);
  if (!mine(ownDir) || !mine(`${ownDir}/cgroup.procs`) || !mine(`${ownDir}/cgroup.subtree_control`)) {
    return `nook's own cgroup "${ownDir}" is not delegated to you`;
  }
  let procs: string[] = [];
  try {
    procs = Deno.readTextFileSync(`${ownDir}/cgroup.procs`).split("\n").filter(Boolean);
  } catch {
    return `cannot read "${ownDir}/cgroup.procs"`;
  }
  const others = procs.filter((p) => Number(p) !== h.pid);
  if (others.length) {
    return `nook's own cgroup "${ownDir}" also holds other processes (${others.slice(0, 5).join(", ")})`;
  }
  return undefined;
}

/**
 * Choose the manager: NOOK_CGROUP_MANAGER when set; else cgroupfs when nook
 * already sits alone in a cgroup delegated to the user (e.g. started with
 * `systemd-run --user --scope -p Delegate=yes`, or in a container's own
 * cgroup namespace); else systemd when a user manager and its bus are there;
 * else none, with the reason.
 */
export function chooseManager(root = CGROUP_ROOT, h: ManagerHost = realManagerHost()): ManagerChoice {
  const forced = h.env("NOOK_CGROUP_MANAGER");
  const version = cgroupVersion(root);
  if (forced === "none") return { kind: "none", version, reason: "NOOK_CGROUP_MANAGER is set to none", chosen: true };
  if (forced && forced !== "systemd" && forced !== "cgroupfs") {
    return {
      kind: "none",
      version,
      reason: `NOOK_CGROUP_MANAGER is "${forced}", which is not a cgroup manager`,
      hint: "set NOOK_CGROUP_MANAGER to systemd, cgroupfs or none, or unset it",
    };
  }
  if (version !== "v2") {
    const why = version === "hybrid"
      ? `this host mounts cgroup v1 controllers ("hybrid" mode): the cgroup v2 tree at ${root}/unified has no controllers`
      : version === "v1"
      ? "this host mounts cgroup v1 only"
      : `no cgroup filesystem is mounted at ${root}`;
    return { kind: "none", version, reason: why, hint: DELEGATION_FIX };
  }
  const own = h.ownCgroup();
  const ownDir = own === undefined ? undefined : `${root}${own === "/" ? "" : own}`;
  const fsProblem = ownDir ? cgroupfsProblem(ownDir, h) : "nook's own cgroup is unknown (/proc/self/cgroup)";
  if (forced === "cgroupfs" || (forced === undefined && !fsProblem)) {
    if (fsProblem) {
      return {
        kind: "none",
        version,
        reason: `NOOK_CGROUP_MANAGER is cgroupfs, but ${fsProblem}`,
        hint: DELEGATION_FIX,
      };
    }
    return { kind: "cgroupfs", version, ownDir: ownDir! };
  }
  const bus = sessionBusPath(h);
  const booted = h.systemdBooted();
  if (bus && booted) return { kind: "systemd", version, bus };
  const noSystemd = !booted
    ? "systemd is not the init system here"
    : `no systemd user manager is reachable (no session bus at ${h.env("XDG_RUNTIME_DIR") || `/run/user/${h.uid}`}/bus)`;
  return { kind: "none", version, reason: `${noSystemd}, and ${fsProblem}`, hint: DELEGATION_FIX };
}

/** What `nook info` shows about cgroups. */
export interface CgroupInfo {
  /** How the host mounts cgroups. */
  version: CgroupVersion;
  /** The manager `nook run` would use. */
  manager: ManagerKind;
  /** Controllers delegated to the user (what limits can use). */
  controllers: string[];
  /** The delegated cgroup they were read from. */
  path?: string;
  /** Why there are no limits (manager none). */
  reason?: string;
  /** How to fix that. */
  hint?: string;
}

/** cgroup version, the manager `nook run` uses and its delegated controllers, for `nook info` and `nook doctor`. */
export async function cgroupInfo(root = CGROUP_ROOT, h: ManagerHost = realManagerHost()): Promise<CgroupInfo> {
  const choice = chooseManager(root, h);
  const base: CgroupInfo = { version: choice.version, manager: choice.kind, controllers: [] };
  if (choice.kind === "none") {
    return {
      ...base,
      ...(choice.reason ? { reason: choice.reason } : {}),
      ...(choice.hint ? { hint: choice.hint } : {}),
    };
  }
  let path = choice.ownDir;
  if (choice.kind === "systemd") {
    // the user manager's cgroup: what systemd delegates to the scopes it makes for us
    const uid = h.uid;
    const mine = h.ownCgroup() ?? "";
    const i = mine.indexOf(`/user@${uid}.service`);
    path = `${root}${i >= 0 ? mine.slice(0, i) : `/user.slice/user-${uid}.slice`}/user@${uid}.service`;
  }
  let controllers: string[] = [];
  try {
    controllers = path
      ? (await Deno.readTextFile(`${path}/cgroup.controllers`)).trim().split(/\s+/).filter(Boolean)
      : [];
  } catch {
    // not readable: none to report
  }
  return { ...base, controllers, ...(path ? { path } : {}) };
}
