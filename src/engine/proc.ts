/**
 * Processes named by pid *and* start time. A pid alone may have been reused
 * by an unrelated process since it was recorded (after the container ended,
 * or after a reboot); field 22 of /proc/PID/stat (start time in clock ticks
 * since boot) plus the boot id tells them apart, and signals go through a
 * pidfd opened before that check, so they can only reach the process checked.
 */
import { closeFd, pidfdKill, pidfdOpen, pidfdWait } from "../ffi/mod.ts";

export { bootId, isSameProcess, procStartTime } from "../proc/mod.ts";
import { isSameProcess } from "../proc/mod.ts";

/** A pidfd for the process (pid, start), or null when that process is gone. Close it with closeFd. */
export async function openProcess(pid: number, start: number): Promise<number | null> {
  if (!(pid > 0)) return null;
  const fd = await pidfdOpen(pid).catch(() => null);
  if (fd === null) return null;
  // Checked after opening: if the start time matches now, the pidfd names our process.
  if (!isSameProcess(pid, start)) {
    await closeFd(fd);
    return null;
  }
  return fd;
}

/** Run fn with a pidfd of the process (pid, start), closed afterwards; `gone` when that process no longer exists. */
async function withProcess<T>(pid: number, start: number, gone: T, fn: (pidfd: number) => Promise<T>): Promise<T> {
  const fd = await openProcess(pid, start);
  if (fd === null) return gone;
  try {
    return await fn(fd);
  } finally {
    await closeFd(fd);
  }
}

/** Signal the process (pid, start); false when it is gone (nothing was signalled). */
export function signalProcess(pid: number, start: number, signal: number): Promise<boolean> {
  return withProcess(pid, start, false, (fd) => pidfdKill(fd, signal));
}

/** Wait up to timeoutMs for the process (pid, start) to end; true when it is gone. */
export function waitProcessGone(pid: number, start: number, timeoutMs: number): Promise<boolean> {
  return withProcess(pid, start, true, (fd) => pidfdWait(fd, timeoutMs));
}
