/**
 * The runtime state of a container: the `status` file, and what it means now.
 *
 * The file is written (temp + rename) by whoever supervises the container —
 * the C monitor (libshim/monitor.c) for detached runs, nook itself for
 * foreground runs — as `key=value` lines, so that the C side needs no JSON.
 * Its pids are only believed while the process with that pid still has the
 * recorded start time and the boot id is this boot's: a container whose
 * processes are gone (monitor killed, host rebooted) reads as exited.
 */
import { bootId, isSameProcess, procStartTime } from "./proc.ts";
import { type ContainerRecord, statusPath, writeAtomic } from "./store.ts";
import { NookError } from "../errors/mod.ts";

/** Container states, as docker names them. */
export type ContainerState = "created" | "running" | "restarting" | "exited";

/** The contents of a status file. */
export interface Status {
  /** State as last written. */
  state: ContainerState;
  /** Host pid of the container's pid 1 (running). */
  pid: number;
  /** Its start time (clock ticks since boot). */
  pidStart: number;
  /** pid of the supervisor: the C monitor, or the foreground nook. */
  monitorPid: number;
  /** Its start time. */
  monitorStart: number;
  /** Boot the pids belong to. */
  bootId: string;
  /** Start of the current/last run, ns since the epoch (0: never). */
  startedAt: bigint;
  /** End of the last run, ns since the epoch (0: not yet). */
  finishedAt: bigint;
  /** Exit code of the last run (128+n for a signal). */
  exitCode: number;
  /** Restarts done by the monitor. */
  restarts: number;
  /** The kernel's OOM killer ended the last run (set from cgroup memory events). */
  oomKilled: boolean;
  /** Why the last start failed, or why the exit code is unknown. */
  error: string;
  /** pid of the network helper the monitor started for the current run (0: none). */
  helperPid: number;
  /** Its start time. */
  helperStart: number;
}

/** Exit code recorded when a container's end was not seen by anyone (docker uses the same). */
export const UNKNOWN_EXIT = 255;

/** A fresh status of a container that was never started. */
export function createdStatus(): Status {
  return {
    state: "created",
    pid: 0,
    pidStart: 0,
    monitorPid: 0,
    monitorStart: 0,
    bootId: "",
    startedAt: 0n,
    finishedAt: 0n,
    exitCode: 0,
    restarts: 0,
    oomKilled: false,
    error: "",
    helperPid: 0,
    helperStart: 0,
  };
}

/** The file's keys, in order, and the fields they hold. */
const KEYS: readonly [string, keyof Status][] = [
  ["state", "state"],
  ["pid", "pid"],
  ["pid_start", "pidStart"],
  ["monitor_pid", "monitorPid"],
  ["monitor_start", "monitorStart"],
  ["boot_id", "bootId"],
  ["started_at", "startedAt"],
  ["finished_at", "finishedAt"],
  ["exit_code", "exitCode"],
  ["restarts", "restarts"],
  ["oom_killed", "oomKilled"],
  ["error", "error"],
  ["helper_pid", "helperPid"],
  ["helper_start", "helperStart"],
];

const STATES: readonly string[] = ["created", "running", "restarting", "exited"];

/** Parse a status file's text (unknown keys and bad values are ignored). */
export function parseStatus(text: string): Status {
  const s = createdStatus();
  const fields = s as unknown as Record<string, unknown>;
  const byKey = new Map(KEYS);
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    const field = byKey.get(line.slice(0, i));
    if (i < 0 || field === undefined) continue;
    const v = line.slice(i + 1);
    const was = fields[field];
    if (field === "state") {
      if (STATES.includes(v)) s.state = v as ContainerState;
    } else if (typeof was === "bigint") fields[field] = /^\d+$/.test(v) ? BigInt(v) : 0n;
    else if (typeof was === "number") fields[field] = Number(v) || 0;
    else if (typeof was === "boolean") fields[field] = v === "1";
    else fields[field] = v;
  }
  return s;
}

/** The text of a status file (the format libshim/monitor.c writes). */
export function formatStatus(s: Status): string {
  const text = (v: unknown) => (typeof v === "boolean" ? (v ? "1" : "0") : String(v).replace(/[\r\n]+/g, " "));
  return KEYS.map(([key, field]) => `${key}=${text(s[field])}\n`).join("");
}

/** The status file as written (no liveness check); a fresh one when missing. */
export function readStatusFile(id: string): Status {
  try {
    return parseStatus(Deno.readTextFileSync(statusPath(id)));
  } catch {
    return createdStatus();
  }
}

/** Replace the status file atomically. */
export function writeStatus(id: string, s: Status): void {
  writeAtomic(statusPath(id), formatStatus(s));
}

/** Nanoseconds since the epoch, now. */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** Status of a container nook itself runs in the foreground, once its process exists. */
export function foregroundRunning(prev: Status, pid: number): Status {
  return {
    ...prev,
    state: "running",
    pid,
    pidStart: procStartTime(pid) ?? 0,
    monitorPid: Deno.pid,
    monitorStart: procStartTime(Deno.pid) ?? 0,
    bootId: bootId(),
    startedAt: nowNs(),
    finishedAt: 0n,
    exitCode: 0,
    oomKilled: false,
    error: "",
    helperPid: 0,
    helperStart: 0,
  };
}

/** The status after a run ended (or failed to start) with this code (and whether the OOM killer ended it). */
export function exitedStatus(prev: Status, exitCode: number, error = "", oomKilled = false): Status {
  return {
    ...prev,
    state: "exited",
    pid: 0,
    pidStart: 0,
    finishedAt: nowNs(),
    exitCode,
    error,
    oomKilled,
    helperPid: 0,
    helperStart: 0,
  };
}

function supervised(s: Status, boot: string): { monitor: boolean; container: boolean } {
  if (s.bootId && s.bootId !== boot) return { monitor: false, container: false };
  return {
    monitor: s.monitorPid > 0 && isSameProcess(s.monitorPid, s.monitorStart),
    container: s.state === "running" && s.pid > 0 && isSameProcess(s.pid, s.pidStart),
  };
}

/**
 * The status as it is now. A running/restarting status whose supervisor and
 * container are both gone becomes exited (exit code unknown: 255, with the
 * reason in `error`), and that is written back so it stays stable.
 */
export function currentStatus(id: string): Status {
  const s = readStatusFile(id);
  if (s.state !== "running" && s.state !== "restarting") return s;
  const boot = bootId();
  const live = supervised(s, boot);
  if (live.monitor || live.container) return s;
  // Both gone. A supervisor writes its last word before it exits, so read again.
  const again = readStatusFile(id);
  if (again.state !== "running" && again.state !== "restarting") return again;
  if (again.monitorPid !== s.monitorPid || supervised(again, boot).monitor) return again;
  const why = s.bootId && s.bootId !== boot
    ? "the host was restarted while the container ran; its exit status is unknown"
    : "the container's monitor ended before the container did (was it killed?); its exit status is unknown";
  const fixed = exitedStatus(again, UNKNOWN_EXIT, why);
  try {
    writeStatus(id, fixed);
  } catch {
    // removed meanwhile, or read-only: the answer is the same
  }
  return fixed;
}

/** True when the container has processes (or is between restarts). */
export function isActive(s: Status): boolean {
  return s.state === "running" || s.state === "restarting";
}

/**
 * Record that a start failed (the error's exit code and message), as docker leaves such a container
 * behind. Here, not beside the foreground run: `start` (the runtime's too) needs it without the run's code.
 */
export function recordStartFailure(rec: ContainerRecord, err: unknown): void {
  const code = err instanceof NookError ? err.exitCode : 125;
  try {
    writeStatus(rec.id, exitedStatus(readStatusFile(rec.id), code, (err as Error).message ?? String(err)));
  } catch {
    // the record is gone (removed meanwhile)
  }
}
