/**
 * What /proc says about a process: the one reader of `/proc/PID/stat` (state letter, parent,
 * start time) and of this boot's id. A pid alone may have been reused by an unrelated process
 * since it was recorded; its start time (field 22, clock ticks since boot) plus the boot id tell
 * them apart.
 *
 * @module
 */

/** Fields of /proc/PID/stat nook uses. */
export interface ProcStat {
  /** State letter (field 3): R, S, D, T, Z (zombie), X (dead)… */
  state: string;
  /** Parent pid (field 4). */
  ppid: number;
  /** Start time in clock ticks since boot (field 22), as written. */
  start: string;
}

/** What /proc/PID/stat says about pid, or undefined when there is no such process. */
export function procStat(pid: number): ProcStat | undefined {
  if (!(pid > 0)) return undefined;
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  if (f.length < 20) return undefined;
  return { state: f[0]!, ppid: Number(f[1]), start: f[19]! };
}

/**
 * Start time of a live process (clock ticks since boot), or undefined when there is none — a
 * zombie counts as gone: it has ended, only its parent has not collected it yet.
 */
export function procStartTime(pid: number): number | undefined {
  const st = procStat(pid);
  if (!st || st.state === "Z" || st.state === "X") return undefined;
  const v = Number(st.start);
  return Number.isFinite(v) ? v : undefined;
}

/** True when pid is (still) the process that started at `start` (0: start unknown, the pid is trusted). */
export function isSameProcess(pid: number, start: number): boolean {
  const now = procStartTime(pid);
  return now !== undefined && (start === 0 || now === start);
}

/** This boot's id (/proc/sys/kernel/random/boot_id). */
export function bootId(): string {
  try {
    return Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
  } catch {
    return "";
  }
}
