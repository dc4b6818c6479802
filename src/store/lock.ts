import { StoreError } from "./errors.ts";
import { storeLayout } from "./layout.ts";

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
  return await lockFile(layout.lock, mode === "exclusive", "the image store", quiet);
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
