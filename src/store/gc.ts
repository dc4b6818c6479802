/**
 * What the store may delete: every blob and layer that no image record and no
 * container storage uses (the references are counted from the records each
 * time, so a crash can never leave a count wrong). Run with the store lock
 * held exclusively, inside nook's user namespace (layers hold files of
 * subordinate ids).
 */
import { listContainerStorage, rootfsDir } from "./container_storage.ts";
import { storeLayout } from "./layout.ts";
import { containerDir } from "../paths/mod.ts";
import { type ImageRecord, readImages } from "./images.ts";
import { releaseContainerVolumes } from "./volumes.ts";

/** What a collection removed. */
export interface Collected {
  /** Blob digests removed. */
  blobs: string[];
  /** Layer chain IDs removed. */
  layers: string[];
  /** Container storage of runs that died without cleaning up. */
  containers: string[];
  /** Temporary leftovers removed (partial downloads, half unpacks). */
  temporary: number;
  /** Shifted copies of images removed (their image is gone and no container runs on them). */
  shifted?: string[];
}

function rm(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

function names(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}

/** Layer chain IDs used by images and containers. */
export function layersInUse(images: readonly ImageRecord[] = readImages()): Set<string> {
  const used = new Set<string>();
  for (const i of images) for (const l of i.layers) used.add(l.chainId);
  for (const c of listContainerStorage()) for (const l of c.layers) used.add(l);
  return used;
}

/** Image IDs that containers use. */
export function imagesInUse(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const c of listContainerStorage()) out.set(c.image, [...(out.get(c.image) ?? []), c.id]);
  return out;
}

function hasRecordDir(id: string): boolean {
  try {
    Deno.statSync(containerDir(id));
    return true;
  } catch {
    return false;
  }
}

/**
 * Remove the storage of foreground containers whose nook process is gone
 * (killed before it could clean up): nobody holds their lock any more.
 */
export function removeStaleContainers(): string[] {
  const out: string[] = [];
  for (const c of listContainerStorage()) {
    // a container's record directory is made before its storage (src/engine/intent.ts): storage
    // without one is what a killed nook left, whether or not the container was to be removed
    if (!c.autoRemove && hasRecordDir(c.id)) continue;
    const dir = rootfsDir(c.id);
    let free = false;
    try {
      using f = Deno.openSync(`${dir}/lock`, { read: true, write: true });
      free = f.tryLockSync(true);
    } catch {
      free = true;
    }
    if (!free) continue;
    rm(dir);
    out.push(c.id);
  }
  // the volumes those containers used: release them; their anonymous ones go
  for (const id of out) for (const v of releaseContainerVolumes(id)) rm(`${storeLayout().volumes}/${v}`);
  return out;
}

/** Delete every blob and layer nothing uses, and (with `temporary`) leftovers in tmp/. */
export function collectGarbage(opts: { temporary?: boolean } = {}): Collected {
  const layout = storeLayout();
  const containers = removeStaleContainers();
  const images = readImages();
  const usedLayers = layersInUse(images);
  const usedBlobs = new Set<string>();
  for (const i of images) {
    usedBlobs.add(i.id);
    usedBlobs.add(i.manifest);
    for (const d of i.repoDigests) usedBlobs.add(d.slice(d.indexOf("@") + 1));
    for (const l of i.layers) usedBlobs.add(l.digest);
  }
  const out: Collected = { blobs: [], layers: [], containers, temporary: 0 };
  for (const hex of names(layout.blobs)) {
    const d = `sha256:${hex}`;
    if (!usedBlobs.has(d)) {
      rm(`${layout.blobs}/${hex}`);
      out.blobs.push(d);
    }
  }
  for (const hex of names(layout.layers)) {
    const c = `sha256:${hex}`;
    if (!usedLayers.has(c)) {
      rm(`${layout.layers}/${hex}`);
      out.layers.push(c);
    }
  }
  // shifted copies (src/overlay/shifted.ts) live as long as their image, or a container on them
  const shiftedRoot = `${layout.root}/shifted`;
  const imageIds = new Set(images.map((i) => i.id));
  const pinned = new Set(listContainerStorage().map((r) => r.shifted).filter((k): k is string => !!k));
  for (const n of names(shiftedRoot)) {
    if (!/^[0-9a-f]{32}$/.test(n) || pinned.has(n)) continue;
    let image = "";
    try {
      image = (JSON.parse(Deno.readTextFileSync(`${shiftedRoot}/${n}/shift.json`)) as { image: string }).image;
    } catch {
      // unreadable record: not a usable copy
    }
    if (!imageIds.has(image)) {
      rm(`${shiftedRoot}/${n}`);
      (out.shifted ??= []).push(n);
    }
  }
  if (opts.temporary) {
    // a copy in the making holds the store lock shared; we hold it exclusively: partials are abandoned
    for (const n of names(shiftedRoot)) {
      if (/\.partial-\d+-\d+$/.test(n)) {
        rm(`${shiftedRoot}/${n}`);
        out.temporary++;
      }
    }
    // Writers hold the store lock shared; we hold it exclusively: nothing in
    // tmp/ or locks/ is in use now.
    for (const n of names(layout.tmp)) {
      rm(`${layout.tmp}/${n}`);
      out.temporary++;
    }
    for (const n of names(layout.locks)) rm(`${layout.locks}/${n}`);
  }
  return out;
}
