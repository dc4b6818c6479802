/**
 * Image records: which images the store holds, under which names, made of
 * which layers. One JSON file, replaced atomically (temp name, fsync,
 * rename); readers need no lock, writers hold the store lock.
 */
import { StoreError } from "./errors.ts";
import { storeLayout, syncDirOf } from "./layout.ts";

/** One layer of an image. */
export interface LayerRef {
  /** Digest of the blob as stored (compressed or not). */
  digest: string;
  /** Media type of the blob. */
  mediaType: string;
  /** Size of the blob in bytes. */
  size: number;
  /** Digest of the uncompressed tar (from the config's rootfs.diff_ids). */
  diffId: string;
  /** Chain ID: names the unpacked directory of this layer on top of its parents. */
  chainId: string;
}

/** An image in the store. */
export interface ImageRecord {
  /** Image ID: the config's digest, "sha256:…". */
  id: string;
  /** Fully qualified names ("docker.io/library/alpine:latest"). */
  names: string[];
  /** "registry/repository@sha256:…" of the manifest it was pulled by. */
  repoDigests: string[];
  /** Digest of the manifest blob in the store. */
  manifest: string;
  /** Media type of that manifest. */
  manifestMediaType: string;
  /** Layers, bottom first. */
  layers: LayerRef[];
  /** "os/arch[/variant]". */
  platform: string;
  /** Creation time from the config (RFC 3339), if any. */
  created?: string;
  /** When the store got it (RFC 3339). */
  added: string;
  /** Sum of the uncompressed layer sizes, bytes. */
  size: number;
}

interface ImagesFile {
  version: 1;
  images: ImageRecord[];
}

/** All image records (no lock needed: the file is replaced atomically). */
export function readImages(root?: string): ImageRecord[] {
  const path = storeLayout(root).images;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw new StoreError(`Cannot read the image records "${path}": ${(err as Error).message}`, { path, cause: err });
  }
  try {
    const data = JSON.parse(text) as ImagesFile;
    return Array.isArray(data.images) ? data.images : [];
  } catch (err) {
    throw new StoreError(`The image records "${path}" are not valid JSON`, {
      path,
      cause: err,
      hint: "the file was edited by hand or the disk is failing; `nook system reset` starts over",
    });
  }
}

/**
 * Change the image records: `fn` gets the current list and returns the new
 * one. The caller holds the store lock (shared is enough for adding names:
 * updates are serialised by a lock of their own).
 */
export async function updateImages(
  fn: (images: ImageRecord[]) => ImageRecord[],
  root?: string,
): Promise<ImageRecord[]> {
  const layout = storeLayout(root);
  Deno.mkdirSync(layout.root, { recursive: true, mode: 0o700 });
  using f = await Deno.open(`${layout.images}.lock`, { read: true, write: true, create: true, mode: 0o600 });
  await f.lock(true);
  const next = fn(readImages(root));
  const tmp = `${layout.images}.${Deno.pid}.tmp`;
  const data: ImagesFile = { version: 1, images: next };
  {
    using t = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    const bytes = new TextEncoder().encode(JSON.stringify(data, null, 1) + "\n");
    let off = 0;
    while (off < bytes.length) off += t.writeSync(bytes.subarray(off));
    t.syncSync();
  }
  Deno.renameSync(tmp, layout.images);
  syncDirOf(layout.images);
  return next;
}

/**
 * Add an image, or merge it into the record with the same ID; the names it
 * carries move to it from any other image (a tag points at one image).
 */
export function addImage(images: ImageRecord[], rec: ImageRecord): ImageRecord[] {
  const names = new Set(rec.names);
  const out = images.map((i) => (i.id === rec.id ? i : { ...i, names: i.names.filter((n) => !names.has(n)) }));
  const existing = out.find((i) => i.id === rec.id);
  if (!existing) return [...out, rec];
  existing.names = [...new Set([...existing.names, ...rec.names])];
  existing.repoDigests = [...new Set([...existing.repoDigests, ...rec.repoDigests])];
  return out;
}
