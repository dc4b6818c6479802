/**
 * Pruning what builds keep in the store's `build-cache/`: the step records that can never hit
 * again (their layer or blob is gone), the kept file hashes of build contexts that no longer
 * exist and — asked for, as podman's `image prune --build-cache` — the `RUN --mount=type=cache`
 * directories and every kept hash (only shortcuts: the next build hashes again).
 *
 * The caller holds the store lock exclusive (no build of this store runs then) and is inside
 * nook's user namespace (a cache directory holds files of the subordinate ids).
 *
 * @module
 */
import { hasBlob } from "../store/blobs.ts";
import { hasLayer } from "../store/layers.ts";
import { storeLayout } from "../store/layout.ts";

/** What {@link pruneBuildCache} removed. */
export interface BuildCachePruned {
  /** Step records whose layer or blob is gone (with `buildCache`: none kept but live ones). */
  steps: number;
  /** Kept hashes: of contexts, of what a `COPY --from` read. */
  hashes: number;
  /** `RUN --mount=type=cache` directories. */
  mounts: number;
  /** Cache directories left because a build holds them. */
  busy: number;
}

function remove(path: string): boolean {
  try {
    Deno.removeSync(path, { recursive: true });
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

function entries(dir: string): Deno.DirEntry[] {
  try {
    return [...Deno.readDirSync(dir)];
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** True when a step record can still be used: its layer and blob are in the store. */
function live(path: string): boolean {
  try {
    const e = JSON.parse(Deno.readTextFileSync(path)) as { chainId?: unknown; digest?: unknown; size?: unknown };
    return typeof e.chainId === "string" && typeof e.digest === "string" && typeof e.size === "number" &&
      hasLayer(e.chainId) && hasBlob(e.digest, e.size);
  } catch {
    return false;
  }
}

/** True when a context's file-hash cache still names a file that exists. */
function contextLives(path: string): boolean {
  try {
    const doc = JSON.parse(Deno.readTextFileSync(path)) as { entries?: Record<string, unknown> };
    return Object.keys(doc.entries ?? {}).some(exists);
  } catch {
    return false;
  }
}

/**
 * Remove from `build-cache/` what can never be used again; with `buildCache`, also the cache
 * mounts and every kept hash. Step records of live layers stay (they go when their layers do).
 */
export async function pruneBuildCache(opts: { buildCache?: boolean } = {}): Promise<BuildCachePruned> {
  const dir = `${storeLayout().root}/build-cache`;
  const out: BuildCachePruned = { steps: 0, hashes: 0, mounts: 0, busy: 0 };
  for (const e of entries(dir)) {
    const path = `${dir}/${e.name}`;
    if (!e.isFile) continue;
    if (/\.\d+\.tmp$/.test(e.name)) {
      // a write a killed build left half done
      if (remove(path)) out.hashes++;
    } else if (/^[0-9a-f]{64}\.json$/.test(e.name)) {
      if (!live(path) && remove(path)) out.steps++;
    } else if (/^files-[0-9a-f]+\.json$/.test(e.name)) {
      if ((opts.buildCache || !contextLives(path)) && remove(path)) out.hashes++;
    } else if (/^from-[0-9a-f]+\.txt$/.test(e.name)) {
      if (opts.buildCache && remove(path)) out.hashes++;
    }
  }
  if (!opts.buildCache) return out;
  const mounts = `${dir}/mounts`;
  for (const e of entries(mounts)) {
    if (!e.isDirectory) continue;
    const path = `${mounts}/${e.name}`;
    // the lock beside each directory is the one builds take (mounts.ts): a held one is skipped
    let lock: Deno.FsFile | undefined;
    try {
      lock = await Deno.open(`${path}.lock`, { read: true, write: true, create: true, mode: 0o600 });
      if (!(await lock.tryLock(true))) {
        out.busy++;
        continue;
      }
      if (remove(path)) out.mounts++;
      remove(`${path}.lock`);
    } finally {
      lock?.close();
    }
  }
  return out;
}
