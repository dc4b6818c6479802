import { StoreError } from "./errors.ts";
import { storeLayout } from "./layout.ts";
import { sweepStoreIntents } from "./intent.ts";

/** A held lock; release it (or use `using`). */
export interface Held {
  /** Release the lock. */
  release(): void;
  /** Same as release, for `using`. */
  [Symbol.dispose](): void;
}

async function lockFile(path: string, exclusive: boolean, what: string, quiet: boolean): Promise<Held> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  } catch (err) {
    throw new StoreError(`Cannot open the lock file "${path}": ${(err as Error).message}`, {
      path,
      cause: err,
      hint: "check that the data directory is writable (NOOK_DATA_DIR, XDG_DATA_HOME)",
    });
  }
  if (!(await file.tryLock(exclusive))) {
    if (!quiet) console.error(`nook: waiting for ${what} (held by another nook process)`);
    await file.lock(exclusive);
  }
  let done = false;
  const release = () => {
    if (done) return;
    done = true;
    try {
      file.unlockSync();
    } catch {
      // closing releases it anyway
    }
    file.close();
  };
  return { release, [Symbol.dispose]: release };
}

/**
 * The store lock: `shared` for everything that adds to the store or uses it
 * (pull, load, import, run), `exclusive` for what removes from it (rmi,
 * prune, reset), so nothing is removed while another process relies on it.
 */
export async function lockStore(mode: "shared" | "exclusive", root?: string, quiet = false): Promise<Held> {
  const layout = storeLayout(root);
  Deno.mkdirSync(layout.root, { recursive: true, mode: 0o700 });
  const held = await lockFile(layout.lock, mode === "exclusive", "the image store", quiet);
  // what killed pulls, loads and imports left: their half images first, then their temporary files
  sweepStoreIntents(root);
  sweepTemporary(layout.tmp, mode === "exclusive");
  return held;
}

/**
 * Temporary entries that name the process that made them: `<kind>-<pid>-…`
 * (see tempPath in blobs.ts), unpacks of a layer (`layer-<hex12>-<pid>-…`),
 * and layers a rollback moved aside (`rollback-<pid>-…`, see intent.ts).
 * Resumable downloads (`<hex>.partial`) are not here: the next pull of the
 * blob resumes them.
 */
const OWNED_TEMP = /^(?:load|import|blob|layer-import|layer-[0-9a-f]{12}|rollback|build|commit)-(\d+)-/;

/**
 * Remove what a killed or failed load, import, pull or build left in tmp/: with the
 * lock exclusive nobody else works, so every owned entry goes; shared, only
 * those whose process is gone. Costs one directory read when there is nothing
 * to do. An entry this process cannot remove (files of subordinate ids,
 * outside nook's user namespace) waits for the next command that can.
 */
export function sweepTemporary(tmp: string, exclusive: boolean): string[] {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(tmp)];
  } catch {
    return removed;
  }
  for (const e of entries) {
    const m = OWNED_TEMP.exec(e.name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === Deno.pid || (!exclusive && processAlive(pid))) continue;
    try {
      Deno.removeSync(`${tmp}/${e.name}`, { recursive: true });
      removed.push(e.name);
    } catch {
      // not ours to remove from here; a later command will
    }
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * An exclusive lock on one key (a blob digest or a layer's chain ID) while
 * the holder fetches or unpacks it; other processes wait, then find it done.
 * Take it only while holding the store lock.
 */
export async function lockKey(key: string, root?: string): Promise<Held> {
  const layout = storeLayout(root);
  Deno.mkdirSync(layout.locks, { recursive: true, mode: 0o700 });
  return await lockFile(`${layout.locks}/${key.replace(/[^a-zA-Z0-9_.-]/g, "_")}.lock`, true, `"${key}"`, true);
}
