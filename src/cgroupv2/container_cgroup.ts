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
 * until nook stops it itself, so the cleanup is synchronous too.
 */
import { applyResources, availableControllers, checkControllers, enableControllers } from "./apply.ts";
import type { ManagerChoice } from "./detect.ts";
import { requiredControllers, type Resources } from "./resources.ts";
import { CgroupError } from "./errors.ts";
import { type CgroupStats, readStats } from "./stats.ts";
import { SystemdUser } from "./systemd.ts";
import { errnoOf, writeCgroupFile } from "./_fs.ts";
import { poll, startKeeper, wait } from "../ffi/mod.ts";

/** What {@link ContainerCgroup.release} found out before removing the cgroup. */
export interface CgroupRelease {
  /** The kernel's OOM killer killed a process of the container (memory.events oom_kill). */
  oomKilled: boolean;
  /** The container's last counters (CPU time used, peak pids…), when its cgroup was there to read. */
  stats?: CgroupStats;
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
}

/** The systemd unit name of a container's scope. */
export function scopeUnit(id: string): string {
  return `nook-${id}.scope`;
}

/** Options of {@link createContainerCgroup}. */
export interface CgroupOptions {
  /**
   * systemd: a process of the caller's that outlives the container and holds
   * its scope open instead of a keeper nook starts (a detached container's
   * monitor). It must move restarted containers into `path` itself
   * ({@link joinCgroup}) and read {@link oomKilled} when the container ends;
   * the scope goes when that process has exited.
   */
  keeper?: number;
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
  if (choice.kind === "systemd") return new SystemdCgroup(id, resources, choice.bus!, opts.keeper);
  if (choice.kind === "cgroupfs") return new CgroupfsCgroup(id, resources, choice.ownDir!);
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

  constructor(readonly id: string, private resources: Resources, bus: string, keeper?: number) {
    this.ownKeeper = keeper === undefined;
    this.keeper = keeper ?? 0;
    this.unit = scopeUnit(id);
    this.systemd = SystemdUser.connect(bus);
    this.systemd.catch(() => {});
  }

  async join(pid: number): Promise<void> {
    const systemd = await this.systemd;
    if (this.ownKeeper) this.keeper = await startKeeper();
    this.started = true;
    const scope = await systemd.startScope(this.unit, [pid, this.keeper], `nook container ${this.id.slice(0, 12)}`);
    const available = await availableControllers(scope);
    checkControllers(scope, available, requiredControllers(this.resources));
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
  readonly path: string;
  private released?: Promise<CgroupRelease>;
  private made = false;

  constructor(id: string, private resources: Resources, private ownDir: string) {
    this.path = `${ownDir}/nook-${id}`;
  }

  async join(pid: number): Promise<void> {
    const available = await availableControllers(this.ownDir);
    checkControllers(this.ownDir, available, requiredControllers(this.resources));
    // Why nook moves itself: its own cgroup must hold no process once its
    // controllers are enabled for the container's leaf. Only nook's own pid
    // moves (detect.ts made sure no other process shares the cgroup) — and
    // the container's, which was cloned into it.
    const monitor = `${this.ownDir}/nook-monitor`;
    await mkdirCgroup(monitor);
    await writeCgroupFile(monitor, "cgroup.procs", String(Deno.pid));
    await mkdirCgroup(this.path);
    this.made = true;
    await writeCgroupFile(this.path, "cgroup.procs", String(pid));
    await enableControllers(this.ownDir, available);
    await applyResources(this.path, this.resources);
  }

  release(): Promise<CgroupRelease> {
    return this.released ??= (async () => {
      if (!this.made) return { oomKilled: false };
      const last = await readStats(this.path);
      await removeCgroupDir(this.path);
      return released(last);
    })();
  }
}
