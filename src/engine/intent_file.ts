/**
 * A container's intent file (`containers/<id>/intent`): what a multi-step change of the container
 * (create, remove) is doing and which nook process does it. The verbs as transactions are in
 * intent.ts; this file is the record alone, which name resolution reads too.
 *
 * @module
 */
import { containerDir } from "../paths/mod.ts";
import { isSameProcess, procStartTime } from "../proc/mod.ts";
import { ContainerError } from "./errors.ts";

/** The operations recorded as intents. */
export type IntentOp = "create" | "remove";

/** The contents of a container's `intent` file. */
export interface Intent {
  /** What is being done. */
  op: IntentOp;
  /** The nook process doing it, and its start time: once it is gone, the intent is abandoned. */
  pid: number;
  /** Start time of `pid` (clock ticks since boot). */
  pidStart: number;
}

/** The intent file of a container. */
export function intentPath(id: string): string {
  return `${containerDir(id)}/intent`;
}

/** Write the intent (temp + rename: a reader never sees half of it). */
export function recordIntent(id: string, op: IntentOp): void {
  const intent: Intent = { op, pid: Deno.pid, pidStart: procStartTime(Deno.pid) ?? 0 };
  const tmp = `${intentPath(id)}.tmp`;
  Deno.writeTextFileSync(tmp, JSON.stringify(intent) + "\n", { mode: 0o600 });
  Deno.renameSync(tmp, intentPath(id));
}

/** The change is complete: forget the intent. */
export function clearIntent(id: string): void {
  try {
    Deno.removeSync(intentPath(id));
  } catch {
    // none, or the directory went with a removal
  }
}

/** The intent recorded for a container, if any. */
export function readIntent(id: string): Intent | undefined {
  try {
    const v = JSON.parse(Deno.readTextFileSync(intentPath(id))) as Intent;
    return v.op === "create" || v.op === "remove" ? v : undefined;
  } catch {
    return undefined;
  }
}

/** True when the process that recorded the intent is gone (killed before it finished). */
export function isAbandoned(intent: Intent): boolean {
  return !(intent.pid === Deno.pid || isSameProcess(intent.pid, intent.pidStart));
}

/**
 * True while another nook, still alive, removes the container: its `remove` intent is recorded.
 * ps shows it as "Removing"; other commands on it are refused (see {@link beingRemoved}).
 */
export function removalInProgress(id: string): boolean {
  const intent = readIntent(id);
  return intent?.op === "remove" && intent.pid !== Deno.pid && !isAbandoned(intent);
}

/** The answer to a command on a container that another command is removing. */
export function beingRemoved(name: string): ContainerError {
  return new ContainerError(`The container "${name}" is being removed (by another command)`, {
    hint: "nook ps -a shows it as Removing until it is gone",
  });
}
