/**
 * `wait`: until a container is no longer active and its supervisor has written its final status.
 *
 * @module
 */
import { waitProcessGone } from "./proc.ts";
import { currentStatus, isActive, type Status } from "./status.ts";

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

