/**
 * `kill`: signals to a container. Every signal goes through a pidfd opened for a process whose
 * start time matches the record (proc.ts), so a stale pid never hits another process.
 *
 * @module
 */
import { SIGNALS } from "../plan/linux.ts";
import { signalProcess } from "./proc.ts";
import { currentStatus, type Status } from "./status.ts";
import type { ContainerRecord } from "./store.ts";
import type { RuntimeRecord } from "./runtime_record.ts";
import { containerProcesses } from "./state.ts";

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
 * Signal a runtime container (`nook runtime kill`): its first process, or with `all` every
 * process of it. False when its first process is gone (nothing was signalled).
 */
export async function killRuntimeContainer(rec: RuntimeRecord, signal: number, all: boolean): Promise<boolean> {
  if (!all) return await signalProcess(rec.pid, Number(rec.pidStart), signal);
  for (const p of containerProcesses(rec.pid, rec.pidStart)) await signalProcess(p.pid, Number(p.start), signal);
  return true;
}
