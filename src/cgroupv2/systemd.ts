/**
 * The systemd manager: a transient scope with Delegate=yes, asked of the
 * user's systemd over D-Bus (StartTransientUnit), holding the container.
 *
 * Why D-Bus and not `systemd-run --user --scope`: systemd-run must run a
 * command in the scope it makes, so nook would have to start itself again
 * under it (another Deno start-up) or park a helper process there; over
 * D-Bus the waiting container process itself is handed to the scope, in one
 * round trip on a connection opened while the container is being cloned.
 * bench/cgroup_scope.ts measures both.
 */
import { DBusConnection, DBusError, type DBusValue, signalName, variant } from "./_dbus.ts";
import { CgroupError, DELEGATION_FIX } from "./errors.ts";
import { CGROUP_ROOT, cgroupOf } from "./detect.ts";

const SD = "org.freedesktop.systemd1";
const SD_PATH = "/org/freedesktop/systemd1";
const SD_MANAGER = "org.freedesktop.systemd1.Manager";
const JOB_TIMEOUT_MS = 30_000;

/** A connection to the user's systemd that follows its jobs. */
export class SystemdUser {
  private results = new Map<string, string>();
  private waiters = new Map<string, (result: string) => void>();
  private subscribed: Promise<unknown>;

  private constructor(readonly bus: DBusConnection) {
    bus.onSignal((m) => {
      if (signalName(m) !== `${SD_MANAGER}.JobRemoved`) return;
      const job = String(m.body[1]), result = String(m.body[3]);
      const w = this.waiters.get(job);
      if (w) w(result);
      else this.results.set(job, result);
    });
    // JobRemoved is only broadcast while somebody is subscribed; both calls go out now, pipelined.
    const match = `type='signal',sender='${SD}',path='${SD_PATH}',interface='${SD_MANAGER}',member='JobRemoved'`;
    this.subscribed = Promise.all([
      bus.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s", [match]),
      bus.call(SD, SD_PATH, SD_MANAGER, "Subscribe"),
    ]);
    this.subscribed.catch(() => {});
  }

  /** Connect to the session bus at `path`. */
  static async connect(path: string): Promise<SystemdUser> {
    let bus: DBusConnection;
    try {
      bus = await DBusConnection.connect(path);
    } catch (err) {
      throw new CgroupError(`Cannot talk to your systemd user manager on "${path}": ${(err as Error).message}`, {
        op: "connect to the session bus",
        path,
        cause: err,
        hint: DELEGATION_FIX,
      });
    }
    return new SystemdUser(bus);
  }

  private waitJob(job: string, what: string): Promise<string> {
    const done = this.results.get(job);
    if (done !== undefined) {
      this.results.delete(job);
      return Promise.resolve(done);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(job);
        reject(new CgroupError(`systemd did not finish ${what} within ${JOB_TIMEOUT_MS / 1000} s`, { op: what }));
      }, JOB_TIMEOUT_MS);
      this.waiters.set(job, (result) => {
        clearTimeout(timer);
        this.waiters.delete(job);
        resolve(result);
      });
    });
  }

  /**
   * Start scope `unit` holding `pids` (the first is the one to check), with Delegate=yes (the subtree is the
   * user's to manage), collected even when it failed, and OOMPolicy=continue
   * so that an OOM kill inside does not stop the whole scope (systemd ≥ 253;
   * older ones have no OOM policy for scopes and refuse the property, so it
   * is sent again without). `slice` puts it in that slice of the user's
   * manager (systemd's default, app.slice, without). Resolves with the scope's cgroup directory.
   */
  async startScope(unit: string, pids: number[], description: string, slice?: string): Promise<string> {
    const pid = pids[0]!;
    const props = (oomPolicy: boolean): DBusValue[] => [
      ["Description", variant("s", description)],
      ...(slice ? [["Slice", variant("s", slice)]] : []),
      ["PIDs", variant("au", pids)],
      ["Delegate", variant("b", true)],
      ["CollectMode", variant("s", "inactive-or-failed")],
      ...(oomPolicy ? [["OOMPolicy", variant("s", "continue")]] : []),
    ];
    const start = (oomPolicy: boolean) =>
      this.bus.call(SD, SD_PATH, SD_MANAGER, "StartTransientUnit", "ssa(sv)a(sa(sv))", [
        unit,
        "fail",
        props(oomPolicy),
        [],
      ]);
    let job: string;
    try {
      await this.subscribed;
      try {
        job = String((await start(true))[0]);
      } catch (err) {
        if (!(err instanceof DBusError && err.message.includes("OOMPolicy"))) throw err;
        job = String((await start(false))[0]);
      }
    } catch (err) {
      throw new CgroupError(`systemd refused to make the scope "${unit}": ${(err as Error).message}`, {
        op: "StartTransientUnit",
        cause: err,
        hint: DELEGATION_FIX,
      });
    }
    const result = await this.waitJob(job, `starting "${unit}"`);
    if (result !== "done") {
      throw new CgroupError(`systemd could not start the scope "${unit}" (job result "${result}")`, {
        op: "StartTransientUnit",
        hint: `see journalctl --user -u ${unit}`,
      });
    }
    const path = cgroupOf(pid);
    if (!path?.endsWith(`/${unit}`)) {
      throw new CgroupError(`systemd started "${unit}", but the container's process is in "${path ?? "?"}"`, {
        op: "StartTransientUnit",
        hint: "the container's process must still be alive and waiting; this is a bug in nook if it was",
      });
    }
    return `${CGROUP_ROOT}${path}`;
  }

  /**
   * Move processes into `subcgroup` ("/container") of a unit's delegated
   * cgroup. Why ask systemd: a process outside the user's delegated tree
   * (a login session's) cannot be moved in by the user, whose rights end at
   * the delegated subtree; the user manager asks the system manager, which
   * checks that the processes and the unit are the caller's.
   */
  async attachProcesses(unit: string, subcgroup: string, pids: number[]): Promise<void> {
    try {
      await this.bus.call(SD, SD_PATH, SD_MANAGER, "AttachProcessesToUnit", "ssau", [unit, subcgroup, pids]);
    } catch (err) {
      throw new CgroupError(
        `systemd could not move process ${pids.join(", ")} into "${unit}" (${subcgroup}): ${(err as Error).message}`,
        {
          op: "AttachProcessesToUnit",
          cause: err,
          hint: "the container's scope must still exist (is the container running?); AttachProcessesToUnit needs systemd 238 or later",
        },
      );
    }
  }

  /** Stop a unit and wait until it is gone; a unit that is already gone is fine. */
  async stopUnit(unit: string): Promise<void> {
    let job: string;
    try {
      job = String((await this.bus.call(SD, SD_PATH, SD_MANAGER, "StopUnit", "ss", [unit, "replace"]))[0]);
    } catch (err) {
      if (err instanceof DBusError && err.dbusName === "org.freedesktop.systemd1.NoSuchUnit") return;
      throw err;
    }
    await this.waitJob(job, `stopping "${unit}"`);
  }

  /** Close the connection. */
  close(): void {
    this.bus.close();
  }
}
