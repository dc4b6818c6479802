/**
 * Putting an image into the store, the part shared by pull, load and import:
 * each layer's blob is streamed once — written to a temporary file and
 * unpacked at the same time, its digest and size checked as it passes — and
 * only when both digests match are the blob (fsync'd, renamed) and the layer
 * directory (renamed) committed. Runs inside nook's user namespace.
 *
 * @module
 */
import { NookError } from "../errors/mod.ts";
import { readIdMap } from "../userns/proc_map.ts";
import { blobPath, commitBlobFile, hasBlob } from "../store/blobs.ts";
import { digestHex, storeLayout } from "../store/layout.ts";
import { commitLayer, hasLayer, type LayerInfo, tempLayerDir } from "../store/layers.ts";
import { lockKey } from "../store/lock.ts";
import { currentTransaction } from "../store/intent.ts";
import { addImage, type ImageRecord, updateImages } from "../store/images.ts";
import type { Descriptor } from "./manifest.ts";
import type { Progress, Task } from "./progress.ts";
import { RegistryError } from "./registry.ts";
import { UnpackError, unpackLayer } from "./unpack.ts";

/**
 * What is wrong with a tar or compressed stream, in words, from the message
 * its parser threw (tar-stream's and zlib's own texts name neither the file
 * nor what to do).
 */
export function describeStreamError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/Invalid tar header|checksum does not match|field of a header is not an octal number/i.test(msg)) {
    return "it is not a tar archive (nor a gzip or zstd compressed one)";
  }
  if (/Unexpected end of data|unexpected end of file|ends early|ends in the middle of an entry/i.test(msg)) {
    return "it ends early (the file is truncated)";
  }
  if (
    /incorrect header check|invalid (block type|distance|stored block|code)|invalid .*length|Unknown frame/i.test(msg)
  ) {
    return "its compressed data is corrupt";
  }
  if (/Is a directory|os error 21/i.test(msg)) return "it is a directory, not a file";
  return msg.split("\n")[0]!.replace(/^\w*Error: /, "");
}

/** True when an unpack failed because the stream is not a (complete) tar, gzip or zstd stream, not for a hostile entry. */
export function isStreamError(err: unknown): boolean {
  return err instanceof UnpackError &&
    /not a valid \w+ stream|tar header|end of (data|file)|header check|invalid (block|distance|stored|code)|Unknown frame/i
      .test(err.message);
}

/** Content did not match its digest or size. */
export class DigestError extends NookError {}

/** One layer to put into the store. */
export interface IngestLayer {
  /** The blob's descriptor (digest, size, media type). */
  desc: Descriptor;
  /** Its diff ID (from the config). */
  diffId: string;
  /** Its chain ID. */
  chainId: string;
  /** Parent chain ID. */
  parent?: string;
  /** The blob's bytes from an offset; absent when only the store has it. */
  fetch?: (offset: number) => AsyncIterable<Uint8Array>;
  /** A local file with the blob (its digest already checked): unpacked, then moved into the store. */
  file?: string;
}

/** How ids are written in this namespace. */
export interface IdPolicy {
  /** Only one id is mapped: store every owner as 0. */
  squashOwners: boolean;
  /** Owners at or above this are not mapped. */
  idLimit: number;
}

/** The id policy of the current user namespace, from /proc/self/uid_map. */
export function currentIdPolicy(): IdPolicy {
  const map = readIdMap("self", "uid");
  if (!map?.length) return { squashOwners: false, idLimit: 0x1_0000_0000 };
  const limit = Math.max(...map.map((r) => r.inside + r.count));
  return { squashOwners: limit <= 1, idLimit: limit };
}

async function* readFile(path: string, from = 0, to = Infinity): AsyncGenerator<Uint8Array> {
  using f = await Deno.open(path, { read: true });
  if (from) await f.seek(from, Deno.SeekMode.Start);
  let left = to - from;
  while (left > 0) {
    const buf = new Uint8Array(Math.min(1 << 20, left === Infinity ? 1 << 20 : left));
    const n = await f.read(buf);
    if (n === null) return;
    left -= n;
    yield n === buf.length ? buf : buf.subarray(0, n);
  }
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // already gone
  }
}

/**
 * Make sure one layer is unpacked (and its blob stored). Waits when another
 * process works on the same blob, then finds it done.
 */
export async function ensureLayer(
  layer: IngestLayer,
  ids: IdPolicy,
  task?: Task,
  notes?: (t: string) => void,
  debug?: (t: string) => void,
): Promise<void> {
  const { desc, chainId } = layer;
  const hex = digestHex(desc.digest);
  const tx = currentTransaction();
  using _lock = await lockKey(`blob-${hex}`);
  const haveBlob = hasBlob(desc.digest, desc.size);
  if (hasLayer(chainId) && haveBlob) {
    task?.finish("already exists");
    return;
  }
  if (hasLayer(chainId) && layer.file) {
    commitBlobFile(layer.file, desc.digest);
    task?.finish("already exists");
    return;
  }
  if (!haveBlob && !layer.fetch && !layer.file) {
    throw new DigestError(`The blob ${desc.digest} is neither in the store nor in the source`);
  }
  const { tmp } = storeLayout();
  const partial = `${tmp}/${hex}.partial`;
  // Leftovers of a process killed while unpacking this blob (we hold its lock now).
  for (const e of safeReadDir(tmp)) if (e.startsWith(`layer-${hex.slice(0, 12)}-`)) removeQuietly(`${tmp}/${e}`);

  const local = haveBlob ? blobPath(desc.digest) : layer.file;
  const unpackOnly = local !== undefined;
  let fed = 0;
  let partialFile: Deno.FsFile | undefined;
  // Flushing to disk as the download goes (on Deno's I/O threads, not
  // awaited) leaves little for the fsync before the rename to wait for.
  const flushes: Promise<void>[] = [];
  let unflushed = 0;
  async function* source(): AsyncGenerator<Uint8Array> {
    if (local !== undefined) {
      for await (const c of readFile(local)) {
        fed += c.length;
        task?.update(fed);
        yield c;
      }
      return;
    }
    let have = 0;
    try {
      have = Deno.statSync(partial).size;
    } catch {
      have = 0;
    }
    if (have > desc.size) {
      removeQuietly(partial);
      have = 0;
    }
    // resume: what an earlier attempt downloaded is replayed from disk first
    if (have > 0) {
      for await (const c of readFile(partial, 0, have)) {
        fed += c.length;
        yield c;
      }
    }
    partialFile = await Deno.open(partial, { write: true, create: true, append: true, mode: 0o600 });
    for await (const c of layer.fetch!(have)) {
      if (fed + c.length > desc.size) {
        throw new DigestError(`The blob ${desc.digest} is larger than its declared ${desc.size} bytes`);
      }
      // to disk first: the chunk is handed to the unpacker's thread after this
      let off = 0;
      while (off < c.length) off += partialFile.writeSync(c.subarray(off));
      if (fed === have) tx?.step("download");
      fed += c.length;
      unflushed += c.length;
      if (unflushed >= 32 * 1024 * 1024) {
        unflushed = 0;
        flushes.push(partialFile.syncData());
      }
      task?.update(fed);
      yield c;
    }
    flushes.push(partialFile.syncData());
  }

  // Why a temporary directory: a half-unpacked layer (kill -9, error) must
  // never be found under layers/; only a complete one is renamed there.
  const work = tempLayerDir(`layer-${hex.slice(0, 12)}-${Deno.pid}-`);
  let ok = false;
  try {
    task?.status(unpackOnly ? "unpacking" : "downloading");
    const result = await unpackLayer(source(), `${work}/diff`, {
      squashOwners: ids.squashOwners,
      idLimit: ids.idLimit,
      label: `layer ${desc.digest.slice(0, 19)}`,
      ...(notes ? { onNote: notes } : {}),
      ...(debug ? { onDebug: debug } : {}),
    });
    await Promise.all(flushes);
    partialFile?.close();
    partialFile = undefined;
    if (fed !== desc.size || result.digest !== desc.digest) {
      removeQuietly(partial);
      throw new DigestError(
        `Digest mismatch for ${desc.digest}: got ${result.digest} over ${fed} bytes (expected ${desc.size})`,
        { hint: "the registry or archive sent other content than the manifest describes; nothing was stored" },
      );
    }
    if (result.diffId !== layer.diffId) {
      throw new DigestError(
        `The layer ${desc.digest} unpacks to ${result.diffId}, but the image config says ${layer.diffId}`,
        {
          hint: "the image is inconsistent; nothing was stored",
        },
      );
    }
    if (!haveBlob) commitBlobFile(local ?? partial, desc.digest);
    tx?.step("blob");
    const info: LayerInfo = {
      chainId,
      diffId: layer.diffId,
      size: result.size,
      opaque: result.opaque,
      created: new Date().toISOString(),
      ...(layer.parent ? { parent: layer.parent } : {}),
    };
    if (hasLayer(chainId)) removeQuietly(work);
    else commitLayer(work, info);
    ok = true;
    tx?.step("layer");
    task?.finish(unpackOnly ? "unpacked" : "done");
  } catch (err) {
    await Promise.allSettled(flushes);
    partialFile?.close();
    // only a download that broke off is worth resuming; content that was
    // refused or wrong, or a failure we cannot judge, starts over next time
    if (!unpackOnly && !(err instanceof RegistryError && err.resumable)) removeQuietly(partial);
    // a stream that is not a layer at all: say what is wrong with the image, not what the parser tripped on
    if (isStreamError(err)) {
      throw new DigestError(`The image's layer ${desc.digest.slice(0, 19)} is damaged: ${describeStreamError(err)}`, {
        cause: err,
        hint: "the image was broken where it was made or saved; nothing of it was stored. Save, build or push it again",
      });
    }
    throw err;
  } finally {
    if (!ok) removeQuietly(work);
  }
}

function safeReadDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}

/** Run `fn` over items with at most `limit` at a time; the first failure wins (the rest finish first). */
export async function inParallel<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let first: unknown;
  const worker = async () => {
    while (next < items.length && first === undefined) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (err) {
        first ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (first !== undefined) throw first;
}

/** Put layers into the store, a few at a time, with progress rows (and `debug` lines when given). */
export async function ensureLayers(
  layers: readonly IngestLayer[],
  progress: Progress,
  limit = 3,
  debug = false,
): Promise<void> {
  const ids = currentIdPolicy();
  const noted = new Set<string>();
  const notes = (t: string) => {
    if (!noted.has(t)) {
      noted.add(t);
      progress.line(`note: ${t}`);
    }
  };
  await inParallel(layers, limit, async (l) => {
    const task = progress.task(l.desc.digest.slice(7, 19), l.desc.size);
    await ensureLayer(l, ids, task, notes, debug ? (t) => progress.line(`debug: ${t}`) : undefined);
  });
}

/** Record an image (its names move to it from other images). */
export async function recordImage(rec: ImageRecord): Promise<void> {
  await updateImages((images) => addImage(images, rec));
}
