/**
 * Adding an image as a transaction. A pull, load or import first records its intent — the file
 * `intents/<op>-<pid>-<random>.json` in the store, naming the operation, the process carrying it
 * out, and (written ahead, before each is made) the blobs and layers it will create and the image
 * it will record — and removes it when done. What it makes in tmp/ carries its pid in the name
 * (see `sweepTemporary` in lock.ts).
 *
 * A nook killed halfway leaves an intent whose process is gone. The next command that takes the
 * store lock ({@link sweepStoreIntents}) rolls it back: the blobs and layers it named that no image
 * record uses are removed, so no half image stays; its temporary files go with the tmp/ sweep. A
 * download cut off in the middle (`<hex>.partial`) is kept for the next pull of that blob to
 * resume; `nook system check --repair` and `nook image prune` remove it. An image record the
 * transaction wrote before it was killed is whole: what it uses stays (the change is finished).
 *
 * Why use locks: the store lock is held shared by every writer, so a sweeper and a live pull that
 * relies on a blob or layer a dead one made run at the same time. A transaction holds
 * `locks/use-<hex>.lock` shared for every blob and layer it names, from before it looks at them
 * until it ends; a rollback removes an item only while it holds that lock exclusively.
 *
 * @module
 */
import { crashPoint } from "../proc/crash_point.ts";
import { isSameProcess, procStartTime } from "../proc/mod.ts";
import { blobPath, hasBlob } from "./blobs.ts";
import { listContainerStorage } from "./container_storage.ts";
import { readImages } from "./images.ts";
import { hasLayer, layerDir } from "./layers.ts";
import { digestHex, storeLayout, syncDirOf } from "./layout.ts";

/** The operations recorded as store intents. */
export type StoreOp = "pull" | "load" | "import" | "build";

/** The contents of an intent file. */
export interface StoreIntent {
  /** What is being done. */
  op: StoreOp;
  /** What it works on (an image reference, an archive's name). */
  what: string;
  /** The nook process doing it; once it is gone, the intent is abandoned. */
  pid: number;
  /** Start time of `pid` (clock ticks since boot; 0 when unknown). */
  pidStart: number;
  /** Blob digests it may create (written before it creates them). */
  blobs: string[];
  /** Layer chain IDs it may create. */
  layers: string[];
  /** Image IDs it records. */
  images: string[];
  /** Of those blobs and layers, the ones that were in the store before it: never its to roll back. */
  existed?: string[];
  /** Build-cache keys it may write (`build-cache/<key>.json`): rolled back with the layers they name. */
  cache?: string[];
}

/** Where intent files live. */
export function intentsDir(root?: string): string {
  return `${storeLayout(root).root}/intents`;
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // gone already
  }
}

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  {
    using f = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    const bytes = new TextEncoder().encode(text);
    let off = 0;
    while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
    f.syncSync();
  }
  Deno.renameSync(tmp, path);
  syncDirOf(path);
}

function useLockPath(hex: string, root?: string): string {
  return `${storeLayout(root).locks}/use-${hex}.lock`;
}

/** Open a use lock file (made when missing). */
function openUseLock(hex: string, root?: string): Deno.FsFile {
  Deno.mkdirSync(storeLayout(root).locks, { recursive: true, mode: 0o700 });
  return Deno.openSync(useLockPath(hex, root), { read: true, write: true, create: true, mode: 0o600 });
}

let current: StoreTransaction | undefined;

/** The build cache's directory: its entries (`<key>.json`) name layers and blobs. */
export function buildCacheDir(root?: string): string {
  return `${storeLayout(root).root}/build-cache`;
}

/** A build-cache entry's layer and blob, when it is one (a 64-hex key). */
function readCacheEntry(path: string): { chainId: string; digest: string } | undefined {
  try {
    const e = JSON.parse(Deno.readTextFileSync(path)) as { chainId?: unknown; digest?: unknown };
    return typeof e.chainId === "string" && typeof e.digest === "string"
      ? { chainId: e.chainId, digest: e.digest }
      : undefined;
  } catch {
    return undefined;
  }
}

/** The transaction this process is carrying out, if any (one at a time). */
export function currentTransaction(): StoreTransaction | undefined {
  return current;
}

/** One pull, load or import, from its recorded intent to its end. */
export class StoreTransaction {
  readonly #path: string;
  readonly #intent: StoreIntent;
  readonly #root: string | undefined;
  readonly #locks = new Map<string, Deno.FsFile>();
  readonly #outer: StoreTransaction | undefined;
  #ended = false;

  private constructor(path: string, intent: StoreIntent, root?: string) {
    this.#path = path;
    this.#intent = intent;
    this.#root = root;
    // a build pulls its base images: the pull is a transaction of its own, inside the build's
    this.#outer = current;
  }

  /** Record the intent of `op` on `what` (nothing is made before this). */
  static begin(op: StoreOp, what: string, root?: string): StoreTransaction {
    const dir = intentsDir(root);
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = `${dir}/${op}-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.json`;
    const intent: StoreIntent = {
      op,
      what,
      pid: Deno.pid,
      pidStart: procStartTime(Deno.pid) ?? 0,
      blobs: [],
      layers: [],
      images: [],
    };
    writeAtomically(path, JSON.stringify(intent) + "\n");
    const tx = new StoreTransaction(path, intent, root);
    current = tx;
    return tx;
  }

  /** The operation. */
  get op(): StoreOp {
    return this.#intent.op;
  }

  /**
   * Name blobs, layers and images this transaction may create, before it looks for them or
   * makes them: they are written into the intent, and their use locks are taken shared.
   */
  will(
    items: {
      blobs?: readonly string[];
      layers?: readonly string[];
      images?: readonly string[];
      cache?: readonly string[];
    },
  ): void {
    const add = (list: string[], more: readonly string[] | undefined): boolean => {
      let changed = false;
      for (const d of more ?? []) {
        if (!list.includes(d)) {
          list.push(d);
          changed = true;
        }
      }
      return changed;
    };
    // the use locks first: from here no rollback of another transaction removes these, so what
    // exists now was there before this one, and stays out of its own rollback
    for (const d of [...(items.blobs ?? []), ...(items.layers ?? [])]) {
      const hex = digestHex(d);
      if (this.#locks.has(hex)) continue;
      const f = openUseLock(hex, this.#root);
      f.lockSync(false);
      this.#locks.set(hex, f);
    }
    const existed = this.#intent.existed ??= [];
    for (const d of items.blobs ?? []) {
      if (!this.#intent.blobs.includes(d) && hasBlob(d, undefined, this.#root)) existed.push(d);
    }
    for (const c of items.layers ?? []) {
      if (!this.#intent.layers.includes(c) && hasLayer(c, this.#root)) existed.push(c);
    }
    const changed = [
      add(this.#intent.blobs, items.blobs),
      add(this.#intent.layers, items.layers),
      add(this.#intent.images, items.images),
      items.cache?.length ? add(this.#intent.cache ??= [], items.cache) : false,
    ].some(Boolean);
    if (changed) writeAtomically(this.#path, JSON.stringify(this.#intent) + "\n");
  }

  /** A crash point named after this operation's step (`pull.download`, `load.layer`…). */
  step(name: string): void {
    crashPoint(`${this.#intent.op}.${name}`);
  }

  /**
   * End the transaction. After a failure, what it made that no image uses is rolled back;
   * after success, everything it named is in an image record, or was there already. With
   * `tidy`, a success also removes what it made that neither an image record nor a build-cache
   * entry names (a build's layers of stages that are not in its image, built without the cache).
   */
  end(failed: boolean, opts: { tidy?: boolean } = {}): void {
    if (this.#ended) return;
    this.#ended = true;
    if (current === this) current = this.#outer;
    this.#release();
    if (failed) rollBack(this.#intent, this.#root);
    // its own cache entries stay, and keep what they name
    else if (opts.tidy) rollBack({ ...this.#intent, cache: [] }, this.#root);
    removeQuietly(this.#path);
  }

  #release(): void {
    for (const f of this.#locks.values()) {
      try {
        f.close();
      } catch {
        // closed
      }
    }
    this.#locks.clear();
  }

  /** Same as a failed end (for `using`: a transaction not ended on purpose failed). */
  [Symbol.dispose](): void {
    this.end(true);
  }
}

/** The intents in the store, with their file names. */
export function readStoreIntents(root?: string): [string, StoreIntent][] {
  const out: [string, StoreIntent][] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(intentsDir(root))];
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!e.name.endsWith(".json")) continue;
    const path = `${intentsDir(root)}/${e.name}`;
    try {
      const v = JSON.parse(Deno.readTextFileSync(path)) as StoreIntent;
      if (typeof v.pid === "number" && Array.isArray(v.blobs) && Array.isArray(v.layers)) out.push([path, v]);
    } catch {
      // half written (its writer renames a whole one into place), or being removed
    }
  }
  return out;
}

/** True when the process that recorded the intent is gone (killed before it finished). */
export function isAbandonedIntent(intent: StoreIntent): boolean {
  return !(intent.pid === Deno.pid || isSameProcess(intent.pid, intent.pidStart));
}

/**
 * Blobs and layers an intent made that no image record and no container's storage uses: what a
 * rollback would remove.
 */
export function unrecorded(intent: StoreIntent, root?: string): { blobs: string[]; layers: string[] } {
  const images = readImages(root);
  const blobs = new Set<string>(intent.existed ?? []);
  const layers = new Set<string>(intent.existed ?? []);
  for (const c of listContainerStorage(root)) for (const l of c.layers) layers.add(l);
  // a build-cache entry keeps its layer and blob, unless this intent wrote it (it goes with them)
  for (const e of cacheEntries(root, new Set(intent.cache ?? []))) {
    layers.add(e.chainId);
    blobs.add(e.digest);
  }
  for (const i of images) {
    blobs.add(i.id);
    blobs.add(i.manifest);
    for (const d of i.repoDigests) blobs.add(d.slice(d.indexOf("@") + 1));
    for (const l of i.layers) {
      blobs.add(l.digest);
      layers.add(l.chainId);
    }
  }
  const exists = (p: string) => {
    try {
      Deno.lstatSync(p);
      return true;
    } catch {
      return false;
    }
  };
  return {
    blobs: intent.blobs.filter((d) => !blobs.has(d) && exists(blobPath(d, root))),
    layers: intent.layers.filter((c) => !layers.has(c) && exists(layerDir(c, root))),
  };
}

/** The build-cache entries, except those under the keys in `except`. Reads nothing when there is no build cache. */
function cacheEntries(root: string | undefined, except: ReadonlySet<string>): { chainId: string; digest: string }[] {
  const out: { chainId: string; digest: string }[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(buildCacheDir(root))];
  } catch {
    return out;
  }
  for (const e of entries) {
    const m = /^([0-9a-f]{64})\.json$/.exec(e.name);
    if (!m || except.has(m[1]!)) continue;
    const entry = readCacheEntry(`${buildCacheDir(root)}/${e.name}`);
    if (entry) out.push(entry);
  }
  return out;
}

/**
 * The build-cache entries a build wrote that name what it made (an entry another build wrote
 * since under the same key, naming a layer of its own, is that one's), and the temporary files
 * its process left in the build cache (`*.<pid>.tmp`).
 */
function cacheLeftovers(intent: StoreIntent, root?: string): string[] {
  const out: string[] = [];
  const dir = buildCacheDir(root);
  const existed = new Set(intent.existed ?? []);
  for (const key of intent.cache ?? []) {
    const entry = readCacheEntry(`${dir}/${key}.json`);
    if (entry && intent.layers.includes(entry.chainId) && !existed.has(entry.chainId)) out.push(`${dir}/${key}.json`);
  }
  if (intent.op === "build") {
    try {
      for (const e of Deno.readDirSync(dir)) if (e.name.endsWith(`.${intent.pid}.tmp`)) out.push(`${dir}/${e.name}`);
    } catch {
      // no build cache
    }
  }
  return out;
}

/**
 * Remove what an intent made that no image record uses. An item another live transaction holds
 * is left (that one records it, or rolls it back when it fails). Returns true when nothing of the
 * intent is left to undo.
 */
function rollBack(intent: StoreIntent, root?: string): boolean {
  // a build's cache entries first: from then on nothing names its layers
  for (const path of cacheLeftovers(intent, root)) removeQuietly(path);
  const left = unrecorded(intent, root);
  let whole = true;
  const items: [string, "blob" | "layer"][] = [
    ...left.blobs.map((d): [string, "blob"] => [d, "blob"]),
    ...left.layers.map((c): [string, "layer"] => [c, "layer"]),
  ];
  for (const [digest, kind] of items) {
    let f: Deno.FsFile;
    try {
      f = openUseLock(digestHex(digest), root);
    } catch {
      whole = false;
      continue;
    }
    try {
      if (!f.tryLockSync(true)) {
        whole = false;
        continue;
      }
      // recorded meanwhile by a transaction that has ended: it stays
      const still = unrecorded({
        ...intent,
        blobs: kind === "blob" ? [digest] : [],
        layers: kind === "layer" ? [digest] : [],
      }, root);
      if (!still.blobs.length && !still.layers.length) continue;
      try {
        if (kind === "blob") Deno.removeSync(blobPath(digest, root));
        else removeLayer(digest, root);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) whole = false;
      }
    } finally {
      f.close();
    }
  }
  return whole;
}

/**
 * Remove a layer directory: first renamed out of layers/ (atomic: it is never found half
 * removed), then deleted. Files of subordinate ids can only be deleted inside nook's user
 * namespace; what cannot be deleted from here stays in tmp/ under this pid, for the tmp/ sweep of
 * a later command.
 */
function removeLayer(chainId: string, root?: string): void {
  const { tmp } = storeLayout(root);
  Deno.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const aside = `${tmp}/rollback-${Deno.pid}-${digestHex(chainId).slice(0, 12)}-${crypto.randomUUID().slice(0, 8)}`;
  Deno.renameSync(layerDir(chainId, root), aside);
  removeQuietly(aside);
}

/** What {@link sweepStoreIntents} rolled back. */
export interface SweptIntent {
  /** The operation and what it worked on. */
  op: StoreOp;
  /** What it worked on. */
  what: string;
  /** Blobs removed or to remove. */
  blobs: number;
  /** Layers removed or to remove. */
  layers: number;
}

/**
 * Roll back the transactions of killed nooks (see the module's documentation). Costs one
 * directory read when there is nothing to do. Run with the store lock held.
 */
export function sweepStoreIntents(root?: string): SweptIntent[] {
  const out: SweptIntent[] = [];
  sweepHalfWritten(root);
  for (const [path, intent] of readStoreIntents(root)) {
    if (!isAbandonedIntent(intent)) continue;
    const left = unrecorded(intent, root);
    if (rollBack(intent, root)) removeQuietly(path);
    out.push({ op: intent.op, what: intent.what, blobs: left.blobs.length, layers: left.layers.length });
  }
  return out;
}

/** Intent files a killed nook was writing (`<op>-<pid>-<random>.json.tmp`): removed once their writer is gone. */
function sweepHalfWritten(root?: string): void {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(intentsDir(root))];
  } catch {
    return;
  }
  for (const e of entries) {
    const m = /^[a-z]+-(\d+)-[0-9a-f]+\.json\.tmp$/.exec(e.name);
    if (m && Number(m[1]) !== Deno.pid && procStartTime(Number(m[1])) === undefined) {
      removeQuietly(`${intentsDir(root)}/${e.name}`);
    }
  }
}
