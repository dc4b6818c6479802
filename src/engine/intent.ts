/**
 * Verbs as transactions. A change that takes several steps (create a container, remove one)
 * first records its intent in the container's record directory — the file `intent`, naming the
 * operation and the process carrying it out — and removes it when done. Everything such a change
 * makes (the record directory, the runtime directory, the name, the storage under rootfs/<id>)
 * is named by the container id, so the intent alone says what to undo or finish.
 *
 * A nook killed halfway leaves an intent whose process is gone: the next command that looks at
 * the store ({@link sweepAbandoned}: ps, rm, prune, rmi, system check/reset) rolls a create back
 * and finishes a remove. The record directory is made before anything else a container owns, so
 * an orphan (storage or runtime directory without a record directory) is always one a dead nook
 * left, never one being made.
 *
 * Crash points ({@link crashPoint}) let the tests kill nook at each step deterministically.
 *
 * @module
 */
import { lazyImport } from "../lazy/mod.ts";
import { containerDir, containersDir, runtimeDir } from "../paths/mod.ts";
import { crashPoint } from "../proc/crash_point.ts";
import { namesDir } from "./names.ts";
import { isId, listIds } from "./store.ts";
import { currentStatus, isActive } from "./status.ts";
import { SIGNALS } from "../plan/linux.ts";

export { crashPoint };
export { clearIntent, type Intent, type IntentOp, intentPath, isAbandoned, readIntent, recordIntent } from "./intent_file.ts";
import { type Intent, isAbandoned, readIntent, recordIntent } from "./intent_file.ts";

/** The runtime directory of a container (its /etc files, helper pid files, sockets while it runs). */
export function containerRunDir(id: string): string {
  return `${runtimeDir()}/containers/${id}`;
}

/**
 * Begin making a container: its record directory with a `create` intent, before its runtime
 * directory, storage or name exist (see the module's documentation).
 */
export function beginCreate(id: string): void {
  Deno.mkdirSync(containersDir(), { recursive: true, mode: 0o700 });
  Deno.mkdirSync(containerDir(id), { mode: 0o700 });
  recordIntent(id, "create");
  crashPoint("create.intent");
}

/** What {@link sweepAbandoned} did. */
export interface Swept {
  /** Containers whose creation was rolled back. */
  rolledBack: string[];
  /** Containers whose removal was finished. */
  finished: string[];
  /** Runtime directories of containers that no longer exist. */
  runDirs: string[];
}

/** The containers with an abandoned intent, and runtime directories without a container: what the sweep would do. */
export function findAbandoned(): { intents: [string, Intent][]; runDirs: string[] } {
  const intents: [string, Intent][] = [];
  for (const id of listIds()) {
    const intent = readIntent(id);
    // a foreground --rm run whose container still runs (its nook was killed, not the container) is left to end
    if (intent && isAbandoned(intent) && !(intent.op === "create" && currentStatus(id).state === "running")) {
      intents.push([id, intent]);
    }
  }
  const runDirs: string[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    entries = [...Deno.readDirSync(`${runtimeDir()}/containers`)];
  } catch {
    // none
  }
  for (const e of entries) {
    if (!isId(e.name)) continue;
    try {
      Deno.statSync(containerDir(e.name));
    } catch {
      runDirs.push(e.name);
    }
  }
  return { intents, runDirs };
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // gone already
  }
}

/** Remove the name links that point at id (a name is a symlink in names/ to the id). */
function releaseNamesOf(id: string): void {
  try {
    for (const e of Deno.readDirSync(namesDir())) {
      try {
        if (Deno.readLinkSync(`${namesDir()}/${e.name}`) === id) Deno.removeSync(`${namesDir()}/${e.name}`);
      } catch {
        // removed meanwhile, or not a link
      }
    }
  } catch {
    // no names yet
  }
}

/**
 * Remove everything a container owns, in the order that keeps it findable until the end: its
 * storage and runtime directory, then its name, then its record directory (the intent inside
 * goes last, with it). Used to finish a removal and to roll back a creation.
 */
export async function removeOwned(id: string, afterStorage?: () => void): Promise<void> {
  const { removeContainerStorage } = await lazyImport<typeof import("../overlay/container_rootfs.ts")>("overlay/container_rootfs.ts");
  await removeContainerStorage(id);
  afterStorage?.();
  removeQuietly(containerRunDir(id));
  releaseNamesOf(id);
  removeRecordDir(id);
}

/**
 * Remove a record directory for good. Why more than once: a concurrent command on the same
 * container (a losing `rm -f`) may create its lock file in the directory while it is being
 * removed; once the directory is gone, such a command finds nothing to lock and says so.
 */
function removeRecordDir(id: string): void {
  const dir = containerDir(id);
  for (let i = 0; i < 20; i++) {
    removeQuietly(dir);
    try {
      Deno.statSync(dir);
    } catch {
      return;
    }
  }
}

/**
 * Finish or roll back what killed nooks left: abandoned creations are rolled back, abandoned
 * removals finished, runtime directories of containers that no longer exist removed. Costs one
 * directory read of the records and one of the runtime directory when there is nothing to do.
 */
export async function sweepAbandoned(): Promise<Swept> {
  const found = findAbandoned();
  const out: Swept = { rolledBack: [], finished: [], runDirs: [] };
  for (const [id, intent] of found.intents) {
    // a removal is recorded before its container is stopped: one killed in between left it running
    if (intent.op === "remove" && isActive(currentStatus(id))) {
      const { stopContainer } = await lazyImport<typeof import("./stop.ts")>("engine/stop.ts");
      await stopContainer(id, { timeoutSec: 0, signal: SIGNALS.SIGKILL! }).catch(() => {});
    }
    await removeOwned(id);
    (intent.op === "create" ? out.rolledBack : out.finished).push(id);
  }
  for (const id of found.runDirs) {
    removeQuietly(containerRunDir(id));
    out.runDirs.push(id);
  }
  return out;
}

/** A creation failed before its record was written: remove the record directory (and its intent). */
export function abandonCreate(id: string): void {
  try {
    Deno.statSync(`${containerDir(id)}/config.json`);
  } catch {
    removeQuietly(containerDir(id));
  }
}
