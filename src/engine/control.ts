/**
 * Acting on existing containers: signals, stop, wait, remove. Every signal
 * goes through a pidfd opened for a process whose start time matches the
 * record (src/containers/proc.ts), so a stale pid never hits another process.
 */
import { SIGNALS } from "../plan/mod.ts";
import { parseSignal } from "./signals.ts";
import { ContainerError } from "./errors.ts";
import { crashPoint, isAbandoned, readIntent, recordIntent, removeOwned } from "./intent.ts";
import { releaseRecordedCgroup } from "./cgroup.ts";
import { signalProcess, waitProcessGone } from "./proc.ts";
import { currentStatus, isActive, type Status } from "./status.ts";
import { type ContainerRecord, containerDir, readRecord } from "./store.ts";

/** The record of a container, or an error when it was removed meanwhile. */
export function mustRecord(id: string): ContainerRecord {
  const rec = readRecord(id);
  if (!rec) throw new ContainerError(`No such container: ${id}`, { hint: "nook ps -a lists the containers" });
  return rec;
}

/** Was a C monitor started for this status (and not the foreground nook)? It takes SIGUSR1 as "stopped by the user". */
function hasMonitor(rec: ContainerRecord, s: Status): boolean {
  return s.monitorPid > 0 && s.monitorPid !== Deno.pid && rec.host.restart.name !== "no";
}

/**
 * Tell the monitor not to restart the container (docker: a container stopped
 * by the user is not restarted by its policy).
 */
export async function holdRestarts(rec: ContainerRecord, s: Status): Promise<void> {
  if (hasMonitor(rec, s)) await signalProcess(s.monitorPid, s.monitorStart, SIGNALS.SIGUSR1!);
}

/** Send a signal to the container's pid 1; false when it does not run. */
export async function signalContainer(id: string, signal: number): Promise<boolean> {
  const s = currentStatus(id);
  if (s.state !== "running") return false;
  return await signalProcess(s.pid, s.pidStart, signal);
}

/**
 * Wait until the container is no longer active and its supervisor has
 * written the final status; resolves with that status, or undefined on
 * timeout (timeoutMs < 0: no limit).
 */
export async function waitStopped(id: string, timeoutMs = -1): Promise<Status | undefined> {
  const end = timeoutMs < 0 ? Infinity : Date.now() + timeoutMs;
  for (;;) {
    const s = currentStatus(id);
    if (!isActive(s)) return s;
    const left = end - Date.now();
    if (left <= 0) return undefined;
    const slice = Math.min(left, 1000);
    // Sleep on pid 1's pidfd; once it is gone, give the supervisor a moment to write the status.
    if (s.state === "running" && !(await waitProcessGone(s.pid, s.pidStart, slice))) continue;
    await new Promise((r) => setTimeout(r, Math.min(Math.max(left, 0), 10)));
  }
}

/**
 * docker stop: no more restarts, the stop signal, then SIGKILL after
 * timeoutSec. Resolves with the final status.
 */
export async function stopContainer(id: string, opts: { timeoutSec?: number; signal?: number } = {}): Promise<Status> {
  const rec = mustRecord(id);
  const s = currentStatus(id);
  if (!isActive(s)) return s;
  await holdRestarts(rec, s);
  const signal = opts.signal ?? parseSignal(rec.host.stopSignal);
  const timeout = (opts.timeoutSec ?? rec.host.stopTimeout) * 1000;
  if (s.state === "running") await signalProcess(s.pid, s.pidStart, signal);
  let done = await waitStopped(id, Math.max(0, timeout));
  if (!done) {
    const now = currentStatus(id);
    if (now.state === "running") await signalProcess(now.pid, now.pidStart, SIGNALS.SIGKILL!);
    done = await waitStopped(id, 10_000);
  }
  if (!done) {
    throw new ContainerError(`Container ${rec.name} did not stop`, {
      hint: "its processes may be stuck in the kernel (D state); check with nook top " + rec.name,
    });
  }
  return done;
}

/**
 * Remove a container. A running one is refused unless `force`, which kills
 * it first (docker rm -f).
 */
export async function removeContainer(id: string, force: boolean): Promise<void> {
  const rec = mustRecord(id);
  const s = currentStatus(id);
  if (isActive(s)) {
    if (!force) {
      throw new ContainerError(`Cannot remove container ${rec.name}: it is ${s.state}`, {
        hint: `stop it first (nook stop ${rec.name}) or force it: nook rm -f ${rec.name}`,
      });
    }
    await stopContainer(id, { timeoutSec: 0, signal: SIGNALS.SIGKILL! });
  }
  // Concurrent removals serialize on the container's lock; the loser finds the record gone.
  let lock: Deno.FsFile;
  try {
    lock = await Deno.open(`${containerDir(id)}/lock`, { read: true, write: true, create: true, mode: 0o600 });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw alreadyRemoved(rec);
    throw err;
  }
  try {
    await lock.lock(true);
    if (!readRecord(id) || readIntent(id)?.op === "remove" && !isAbandoned(readIntent(id)!)) throw alreadyRemoved(rec);
    const again = currentStatus(id);
    if (isActive(again)) {
      throw new ContainerError(`Cannot remove container ${rec.name}: it was started again meanwhile`, {
        hint: `nook rm -f ${rec.name}`,
      });
    }
    // From here the removal is recorded: a nook killed halfway leaves it for the next command to finish.
    recordIntent(id, "remove");
    crashPoint("rm.intent");
    // what is left of its cgroup (a cgroupfs directory; a scope systemd has not collected yet)
    await releaseRecordedCgroup(rec);
    // storage and volumes, runtime directory, name, and the record directory last
    await removeOwned(id, () => crashPoint("rm.storage"));
  } finally {
    lock.close();
  }
}

function alreadyRemoved(rec: ContainerRecord): ContainerError {
  return new ContainerError(`Container ${rec.name || rec.id.slice(0, 12)} was already removed (by another command)`, {
    hint: "nook ps -a lists the containers",
  });
}
