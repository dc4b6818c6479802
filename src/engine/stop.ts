/**
 * `stop`: no more restarts, the stop signal, then SIGKILL after the timeout (docker stop).
 *
 * @module
 */
import { SIGNALS } from "../plan/linux.ts";
import { parseSignal } from "./signals.ts";
import { ContainerError } from "./errors.ts";
import { holdRestarts } from "./kill.ts";
import { signalProcess } from "./proc.ts";
import { currentStatus, isActive, type Status } from "./status.ts";
import { mustRecord } from "./store.ts";
import { waitStopped } from "./wait.ts";

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
