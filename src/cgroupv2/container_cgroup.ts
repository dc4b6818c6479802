/**
 * A container's own cgroup, whichever manager makes it:
 *
 *   systemd:  …/user@UID.service/app.slice/nook-ID.scope   (Delegate=yes, made by systemd)
 *               ├── container                             (the container; its limits)
 *               └── keeper                                (a process that waits for nook)
 *   cgroupfs: nook's own delegated cgroup
 *               ├── nook-monitor                          (nook moves itself here)
 *               └── nook-ID                               (the container; its limits)
 *
 * Limits are written into the container's leaf, never into the scope:
 * systemd owns the scope's own attributes and would write them back. The
 * parent holds no process (cgroup v2's "no internal processes" rule), so its
 * controllers can be enabled for the leaf.
 *
 * Why a keeper in the scope: systemd stops a scope, and removes its whole
 * cgroup, as soon as its last process exits — racing nook, which still has
 * to read the container's OOM record and final counters. The keeper (a
 * process libshim starts that exits with nook) keeps the scope populated
 * until nook stops it itself, so the cleanup is synchronous too. A detached
 * container's keeper is its monitor (libshim/monitor.c), which outlives nook,
 * puts restarted containers back into the cgroup and reads their OOM kills.
 *
 * Other nook processes reach a container's cgroup later through its
 * {@link CgroupRef} (kept in the container's record): `exec` joins it
 * ({@link attachToCgroup}), the OCI runtime freezes it, `rm` removes it.
 */
import { applyResources, availableControllers, checkControllers, enableControllers } from "./apply.ts";
import { CGROUP_ROOT, cgroupOf, exists, type ManagerChoice, sessionBusPath } from "./detect.ts";
import { type Controller, requiredControllers, type Resources } from "./resources.ts";
import { CgroupError, DELEGATION_FIX } from "./errors.ts";
import { type CgroupStats, readStats } from "./stats.ts";
import { SystemdUser } from "./systemd.ts";
import { errnoOf, readCgroupFile, writeCgroupFile } from "./_fs.ts";
import { poll, startKeeper, wait } from "../ffi/mod.ts";

/** What {@link ContainerCgroup.release} found out before removing the cgroup. */
export interface CgroupRelease {
  /** The kernel's OOM killer killed a process of the container (memory.events oom_kill). */
  oomKilled: boolean;
  /** The container's last counters (CPU time used, peak pids…), when its cgroup was there to read. */
  stats?: CgroupStats;
}

/** Where a container's cgroup is: what a record keeps so that other nook processes can reach it. */
export interface CgroupRef {
  /** Which manager made it. */
  manager: "systemd" | "cgroupfs";
  /** The container's cgroup directory. */
  path: string;
  /** The systemd scope holding it (systemd manager). */
  unit?: string;
}

/** The cgroup of one container, from before its process runs until after it ended. */
export interface ContainerCgroup {
  /** Which manager made it. */
  readonly manager: "systemd" | "cgroupfs";
  /** The container's cgroup directory (set by {@link ContainerCgroup.join}). */
  readonly path: string;
  /** The systemd scope holding it (systemd manager). */
  readonly unit?: string;
  /**
   * Put the container's process (waiting before GO, not yet in its cgroup
   * namespace) into its own cgroup, with its limits written.
   */
  join(pid: number): Promise<void>;
  /** After the container ended: read its OOM record, then remove its cgroup (and scope). Safe to call twice. */
  release(): Promise<CgroupRelease>;
  /** Where it is, for the container's record (after {@link ContainerCgroup.join}). */
  ref(): CgroupRef;
}

/** The systemd unit name of a container's scope. */
export function scopeUnit(id: string): string {
  return `nook-${id}.scope`;
}

/** Options of {@link createContainerCgroup}. */
export interface CgroupOptions {
  /**
   * A process of the caller's that outlives the container and holds its
   * scope open instead of a keeper nook starts — "parent": the container's
   * parent process, read when it joins (a detached container's monitor). It
   * must move restarted containers into `path` itself and read the OOM kills
   * when the container ends; the scope goes when that process has exited.
   * cgroupfs: it is moved out of the way with nook (the "no internal
   * processes" rule).
   */
  keeper?: number | "parent";
  /** systemd: the scope's name (default {@link scopeUnit}). */
  unit?: string;
  /** systemd: the slice the scope goes in (default: the user manager's own choice). */
  slice?: string;
  /** cgroupfs: the container's cgroup directory (default `OWN/nook-ID`); missing levels above it are made. */
  path?: string;
  /** What asked for each controller, for the error when one is not delegated (default: run's flags). */
  labels?: Partial<Record<Controller, string>>;
}

/**
 * Prepare the cgroup of container `id` with the manager `choice` picked. For
 * systemd the bus connection starts now, so it is ready by the time the
 * container's process waits for its cgroup.
 */
export function createContainerCgroup(
  id: string,
  resources: Resources,
  choice: ManagerChoice,
  opts: CgroupOptions = {},
): ContainerCgroup {
  if (choice.kind === "systemd") return new SystemdCgroup(id, resources, choice.bus!, opts);
  if (choice.kind === "cgroupfs") {
    return new CgroupfsCgroup(resources, opts.path ?? `${choice.ownDir!}/nook-${id}`, opts);
  }
  throw new CgroupError(
    `No cgroup manager: ${choice.reason ?? "none chosen"}`,
    choice.hint ? { hint: choice.hint } : {},
  );
}

function released(last: CgroupStats | undefined): CgroupRelease {
  return { oomKilled: (last?.memory?.events.oom_kill ?? 0) > 0, ...(last ? { stats: last } : {}) };
}

/** Put a process into a cgroup (a container's exec'd process, a restarted container). */
export async function joinCgroup(path: string, pid: number): Promise<void> {
  await writeCgroupFile(path, "cgroup.procs", String(pid));
}

/**
 * Put a process (waiting before GO) into a container's cgroup from anywhere:
 * directly when the caller may (it sits in the same delegated subtree), else,
 * for a systemd scope, by asking systemd (a process in a login session may
 * not be moved into the user's delegated tree by the user).
 */
export async function attachToCgroup(ref: CgroupRef, pid: number): Promise<void> {
  try {
    await joinCgroup(ref.path, pid);
    return;
  } catch (err) {
    const errno = (err as CgroupError).errno;
    if (ref.manager !== "systemd" || !ref.unit || (errno !== 13 && errno !== 1)) throw err;
  }
  const bus = sessionBusPath();
  if (!bus) {
    throw new CgroupError(`Cannot join the container's cgroup "${ref.path}": no session bus to ask systemd`, {
      path: ref.path,
      hint: DELEGATION_FIX,
    });
  }
  const systemd = await SystemdUser.connect(bus);
  try {
    await systemd.attachProcesses(ref.unit, subcgroupOf(ref), [pid]);
  } finally {
    systemd.close();
  }
}

/** The part of a container's cgroup path below its scope ("/container"). */
function subcgroupOf(ref: CgroupRef): string {
  const i = ref.unit ? ref.path.lastIndexOf(`/${ref.unit}`) : -1;
  return i < 0 ? "/" : ref.path.slice(i + 1 + ref.unit!.length) || "/";
}

/**
 * Remove a container's cgroup after it ended, from any nook process (`rm`,
 * `start` again, the OCI runtime's `delete`): its systemd scope is stopped
 * (unless the caller itself runs inside it, as the exit command of a
 * `run -d --rm` does: then systemd collects it once the caller has exited),
 * a cgroupfs directory is removed. Gone already is fine.
 */
export async function removeCgroup(ref: CgroupRef): Promise<void> {
  if (ref.manager === "systemd" && ref.unit) {
    const scope = ref.path.slice(0, ref.path.lastIndexOf(`/${ref.unit}`) + ref.unit.length + 1);
    if (!exists(scope)) return;
    const mine = cgroupOf();
    if (mine !== undefined && `${CGROUP_ROOT}${mine}/`.startsWith(`${scope}/`)) return;
    const bus = sessionBusPath();
    if (bus) {
      const systemd = await SystemdUser.connect(bus);
      try {
        await systemd.stopUnit(ref.unit);
      } finally {
        systemd.close();
      }
    }
  }
  await removeCgroupDir(ref.path);
}

/**
 * Freeze (or thaw) every process of a cgroup (cgroup.freeze) and wait until
 * the kernel says so in cgroup.events (bounded: 10 s).
 */
export async function freezeCgroup(path: string, frozen: boolean): Promise<void> {
  await writeCgroupFile(
    path,
    "cgroup.freeze",
    frozen ? "1" : "0",
    "the freezer needs cgroup v2 (kernel 5.2 or later) and a cgroup delegated to you",
  );
  const want = `frozen ${frozen ? 1 : 0}`;
  for (let i = 0; i < 1000; i++) {
    const events = await readCgroupFile(path, "cgroup.events");
    if (events === undefined || events.split("\n").includes(want)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new CgroupError(`The processes in "${path}" were not ${frozen ? "frozen" : "thawed"} within 10 s`, {
    path: `${path}/cgroup.events`,
    hint: "a process stuck in the kernel (D state) cannot be frozen; try again",
  });
}

/** True while the container's cgroup exists. */
export function cgroupExists(ref: CgroupRef): boolean {
  return exists(`${ref.path}/cgroup.procs`);
}

/** The parent pid of a process (/proc/PID/status PPid). */
function parentOf(pid: number): number {
  const m = /^PPid:\s+(\d+)$/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  if (!m) throw new CgroupError(`Cannot read the parent of process ${pid}`, { path: `/proc/${pid}/status` });
  return Number(m[1]);
}

/** The parent pid of a process, 0 when it has gone. */
function parentOrZero(pid: number): number {
  try {
    return parentOf(pid);
  } catch {
    return 0;
  }
}

function dirname(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

/** rmdir a cgroup directory, giving exiting processes a moment (bounded) and killing stragglers. */
export async function removeCgroupDir(dir: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    try {
      await Deno.remove(dir);
      return;
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === 2) return; // ENOENT: already gone
      if (errno !== 16 || i === 49) {
        throw new CgroupError(`Cannot remove the cgroup "${dir}": ${(err as Error).message}`, {
          path: dir,
          cause: err,
        });
      }
      // EBUSY: processes are still exiting, or a child cgroup made inside remains
      if (i === 10) {
        await Deno.writeTextFile(`${dir}/cgroup.kill`, "1").catch(() => {});
        for await (const e of Deno.readDir(dir)) if (e.isDirectory) await removeTree(`${dir}/${e.name}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function removeTree(dir: string): Promise<void> {
  try {
    for await (const e of Deno.readDir(dir)) if (e.isDirectory) await removeTree(`${dir}/${e.name}`);
    await Deno.remove(dir);
  } catch {
    // best effort: the caller retries the parent
  }
}

async function mkdirCgroup(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir);
  } catch (err) {
    if (errnoOf(err) === 17) return;
    throw new CgroupError(`Cannot create the cgroup "${dir}": ${(err as Error).message}`, { path: dir, cause: err });
  }
}

class SystemdCgroup implements ContainerCgroup {
  readonly manager = "systemd";
  readonly unit: string;
  path = "";
  private systemd: Promise<SystemdUser>;
  private released?: Promise<CgroupRelease>;
  private started = false;
  private keeper = 0;
  private ownKeeper: boolean;

  constructor(readonly id: string, private resources: Resources, bus: string, private opts: CgroupOptions) {
    this.ownKeeper = opts.keeper === undefined;
    if (typeof opts.keeper === "number") this.keeper = opts.keeper;
    this.unit = opts.unit ?? scopeUnit(id);
    this.systemd = SystemdUser.connect(bus);
    this.systemd.catch(() => {});
  }

  async join(pid: number): Promise<void> {
    const systemd = await this.systemd;
    if (this.ownKeeper) this.keeper = await startKeeper();
    else if (this.opts.keeper === "parent") this.keeper = parentOf(pid);
    this.started = true;
    const scope = await systemd.startScope(
      this.unit,
      [pid, this.keeper],
      `nook container ${this.id.slice(0, 12)}`,
      this.opts.slice,
    );
    const available = await availableControllers(scope);
    checkControllers(scope, available, requiredControllers(this.resources), this.opts.labels);
    this.path = `${scope}/container`;
    // Why move again: systemd put the pids into the scope itself; the scope must hold no
    // process before its controllers can be enabled for the container's leaf.
    await mkdirCgroup(`${scope}/keeper`);
    await writeCgroupFile(`${scope}/keeper`, "cgroup.procs", String(this.keeper));
    await mkdirCgroup(this.path);
    await writeCgroupFile(this.path, "cgroup.procs", String(pid));
    await enableControllers(scope, available);
    await applyResources(this.path, this.resources);
  }

  ref(): CgroupRef {
    return { manager: this.manager, path: this.path, unit: this.unit };
  }

  release(): Promise<CgroupRelease> {
    return this.released ??= (async () => {
      let last: CgroupStats | undefined;
      let systemd: SystemdUser | undefined;
      try {
        systemd = await this.systemd;
      } catch {
        return { oomKilled: false }; // never connected: nothing was made
      }
      try {
        if (this.path) {
          last = await readStats(this.path);
          await removeCgroupDir(this.path);
        }
        // stopping the scope ends the keeper, and systemd removes the scope's cgroup before the job is done
        if (this.started) await systemd.stopUnit(this.unit);
      } finally {
        systemd.close();
        await this.reapKeeper();
      }
      return released(last);
    })();
  }

  private async reapKeeper(): Promise<void> {
    if (!this.keeper || !this.ownKeeper) return;
    try {
      if ((await poll(this.keeper)) === null) {
        Deno.kill(this.keeper, "SIGKILL");
        await wait(this.keeper);
      }
    } catch {
      // already reaped
    }
    this.keeper = 0;
  }
}

class CgroupfsCgroup implements ContainerCgroup {
  readonly manager = "cgroupfs";
  private released?: Promise<CgroupRelease>;
  private made: string[] = [];

  constructor(private resources: Resources, readonly path: string, private opts: CgroupOptions) {}

  async join(pid: number): Promise<void> {
    // the nearest existing ancestor passes the controllers down; the levels below it are made
    let top = dirname(this.path);
    const levels: string[] = [];
    while (!exists(top) && top !== "/") {
      levels.unshift(top);
      top = dirname(top);
    }
    const available = await availableControllers(top);
    checkControllers(top, available, requiredControllers(this.resources), this.opts.labels);
    for (const dir of [...levels, this.path]) {
      await mkdirCgroup(dir);
      this.made.push(dir);
    }
    await writeCgroupFile(this.path, "cgroup.procs", String(pid));
    // Why nook moves itself (and the container's monitor): the cgroup that
    // passes controllers down must hold no process. Only nook's own pid, the
    // keeper's and its children's (a detached container's network helper)
    // move — detect.ts made sure no other process shares the cgroup — and
    // the container's, which was cloned into it.
    const keeper = this.opts.keeper === "parent" ? parentOf(pid) : this.opts.keeper;
    const inTop = ((await readCgroupFile(top, "cgroup.procs")) ?? "").split("\n").filter(Boolean).map(Number);
    const movers = inTop.filter((p) => p === Deno.pid || (keeper && (p === keeper || parentOrZero(p) === keeper)));
    if (movers.length) {
      const monitor = `${top}/nook-monitor`;
      await mkdirCgroup(monitor);
      for (const p of movers) await writeCgroupFile(monitor, "cgroup.procs", String(p));
    }
    // top down: each level offers its children what its parent enabled for it
    for (const dir of [top, ...levels]) await enableControllers(dir, await availableControllers(dir));
    await applyResources(this.path, this.resources);
  }

  ref(): CgroupRef {
    return { manager: this.manager, path: this.path };
  }

  release(): Promise<CgroupRelease> {
    return this.released ??= (async () => {
      if (!this.made.length) return { oomKilled: false };
      const last = await readStats(this.path);
      await removeCgroupDir(this.path);
      // the levels made above it go too, when nothing else lives there
      for (const dir of this.made.slice(0, -1).reverse()) await Deno.remove(dir).catch(() => {});
      return released(last);
    })();
  }
}
