/**
 * Pushing an image from the store to a registry: each blob the registry has
 * already is skipped after a HEAD, one that another repository of the same
 * registry has is mounted from there, the rest are uploaded — in one request
 * when small, in PATCH chunks when large — and a failed upload is started
 * again with backoff. Then the manifests go, the tag last. A multi-platform
 * image goes as an index of the platforms the store holds. Reads the store
 * only; the caller holds the store lock shared, so nothing it reads goes away.
 *
 * @module
 */
import { NookError } from "../errors/mod.ts";
import { blobPath, hasBlob, readBlobText, sha256, tempPath } from "../store/blobs.ts";
import type { ImageRecord } from "../store/images.ts";
import { readImages } from "../store/images.ts";
import { findCredentials } from "./auth.ts";
import { inParallel } from "./ingest.ts";
import {
  type Descriptor,
  type Index,
  type Manifest,
  ManifestError,
  manifestKind,
  MT,
  parseIndex,
  parseManifest,
} from "./manifest.ts";
import type { Progress, Task } from "./progress.ts";
import { formatReference, type Reference, repoName } from "./reference.ts";
import { Registry, RegistryError, RegistryTimeoutError } from "./registry.ts";

/** A push could not be done (what the store holds does not allow it). */
export class PushError extends NookError {}

/** Options of {@link pushImage}. */
export interface PushOptions {
  /** false: allow plain HTTP (and unverified TLS) for this registry. */
  tlsVerify?: boolean;
  /** Rewrite the manifests' media types to this format (the digests change); default: as stored. */
  format?: "oci" | "docker";
  /** Parallel blob uploads (default 6, as skopeo and podman: a small image's blobs all go at once). */
  parallel?: number;
  /** Blobs larger than this go in PATCH chunks of this size (default 16 MiB, `NOOK_PUSH_CHUNK_SIZE`). */
  chunkSize?: number;
  /** Print `debug:` lines (which blobs were skipped, mounted, uploaded). */
  debug?: boolean;
  /**
   * Layers compressed otherwise are recompressed to this before they go (their digests, and the
   * manifest's, change; the config's diff IDs stay); zstd needs the OCI format. Default: as stored.
   */
  compression?: "gzip" | "zstd";
}

/** What a push did. */
export interface PushResult {
  /** Digest of the manifest (or index) the tag now points at. */
  digest: string;
  /** Its media type. */
  mediaType: string;
  /** Blobs uploaded, mounted from another repository, already there. */
  blobs: { uploaded: number; mounted: number; existing: number };
}

/** One manifest to push with the blobs it names. */
interface Item {
  bytes: Uint8Array;
  digest: string;
  mediaType: string;
  manifest: Manifest;
  /** Its descriptor in the index, when there is one. */
  desc?: Descriptor;
}

const DEFAULT_CHUNK = 16 * 1024 * 1024;
const enc = new TextEncoder();

function chunkSize(opts: PushOptions): number {
  if (opts.chunkSize) return opts.chunkSize;
  const env = Number(Deno.env.get("NOOK_PUSH_CHUNK_SIZE"));
  return Number.isInteger(env) && env > 0 ? env : DEFAULT_CHUNK;
}

function readJson(digest: string, what: string): unknown {
  try {
    return JSON.parse(readBlobText(digest));
  } catch (err) {
    if (err instanceof NookError) throw err;
    throw new ManifestError(`The stored ${what} ${digest} is not valid JSON`, {
      cause: err,
      hint: "the store is damaged; pull or load the image again (nook rmi it first)",
    });
  }
}

/** True when the store has every blob a manifest names. */
function complete(m: Manifest): boolean {
  return [m.config, ...m.layers].every((d) => hasBlob(d.digest, d.size));
}

const TO_DOCKER: Record<string, string> = {
  [MT.OCI_LAYER_GZIP]: MT.DOCKER_LAYER_GZIP,
  [MT.OCI_LAYER]: "application/vnd.docker.image.rootfs.diff.tar",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": MT.DOCKER_FOREIGN_GZIP,
};
const TO_OCI: Record<string, string> = {
  [MT.DOCKER_LAYER_GZIP]: MT.OCI_LAYER_GZIP,
  "application/vnd.docker.image.rootfs.diff.tar": MT.OCI_LAYER,
  [MT.DOCKER_FOREIGN_GZIP]: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
};

/**
 * The manifest in the asked format: the same bytes when it is in that format
 * already (its digest stays), else rewritten with the format's media types.
 */
async function convert(item: Item, format: "oci" | "docker" | undefined, name: string): Promise<Item> {
  const want = format === "docker" ? MT.DOCKER_MANIFEST : format === "oci" ? MT.OCI_MANIFEST : undefined;
  if (!want || item.mediaType === want) return item;
  const layers = item.manifest.layers.map((l) => {
    const table = format === "docker" ? TO_DOCKER : TO_OCI;
    const own = format === "docker" ? /^application\/vnd\.docker\./ : /^application\/vnd\.oci\./;
    if (own.test(l.mediaType)) return l;
    const mt = table[l.mediaType];
    if (!mt) {
      throw new PushError(
        `The image ${name} has a layer of type "${l.mediaType}", which the ${format} format cannot describe`,
        { hint: format === "docker" ? "push it with --format oci (zstd layers need it)" : "push it without --format" },
      );
    }
    return { ...l, mediaType: mt };
  });
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: want,
    config: { ...item.manifest.config, mediaType: format === "docker" ? MT.DOCKER_CONFIG : MT.OCI_CONFIG },
    layers,
  };
  if (format === "oci" && item.manifest.annotations) doc.annotations = item.manifest.annotations;
  const bytes = enc.encode(JSON.stringify(doc));
  return { bytes, digest: await sha256(bytes), mediaType: want, manifest: doc as unknown as Manifest };
}

/**
 * What to push for an image record: its manifest, or — when it was pulled
 * through a multi-platform index that the store still has — every platform
 * of that index the store holds whole, with the original index when all are
 * there (its digest stays) and a smaller index of those otherwise.
 */
function plan(rec: ImageRecord): { items: Item[]; index?: { bytes: Uint8Array; digest: string; doc: Index } } {
  const own = (): Item => {
    const manifest = parseManifest(readJson(rec.manifest, "manifest"));
    return {
      bytes: Deno.readFileSync(blobPath(rec.manifest)),
      digest: rec.manifest,
      mediaType: manifest.mediaType ?? rec.manifestMediaType,
      manifest,
    };
  };
  for (const rd of rec.repoDigests) {
    const digest = rd.slice(rd.lastIndexOf("@") + 1);
    if (digest === rec.manifest || !hasBlob(digest)) continue;
    let doc: unknown;
    try {
      doc = readJson(digest, "index");
      if (manifestKind(doc) !== "index") continue;
    } catch {
      continue;
    }
    const index = parseIndex(doc);
    if (!index.manifests.some((d) => d.digest === rec.manifest)) continue;
    const items: Item[] = [];
    for (const d of index.manifests) {
      if (!hasBlob(d.digest, d.size)) continue;
      let manifest: Manifest;
      try {
        const m = readJson(d.digest, "manifest");
        if (manifestKind(m, d.mediaType) !== "manifest") continue;
        manifest = parseManifest(m);
      } catch {
        continue;
      }
      if (!complete(manifest)) continue;
      items.push({
        bytes: Deno.readFileSync(blobPath(d.digest)),
        digest: d.digest,
        mediaType: manifest.mediaType ?? d.mediaType,
        manifest,
        desc: d,
      });
    }
    if (items.length < 2) break; // one platform: push it alone, as podman does
    return { items, index: { bytes: Deno.readFileSync(blobPath(digest)), digest, doc: index } };
  }
  return { items: [own()] };
}

/** How a layer media type is compressed; undefined for one that is not a plain layer (foreign, nondistributable). */
function layerCompression(mt: string): "gzip" | "zstd" | "none" | undefined {
  if (/nondistributable|foreign/.test(mt)) return undefined;
  if (/(\.|\+)gzip$/.test(mt)) return "gzip";
  if (/\+zstd$/.test(mt)) return "zstd";
  if (/\.tar$/.test(mt)) return "none";
  return undefined;
}

/**
 * Recompress one stored layer blob into a temporary file of the store (decompress, compress);
 * resolves with its digest, size and path. `node:zlib` and `node:crypto` are loaded here.
 */
async function recompressBlob(digest: string, from: "gzip" | "zstd" | "none", to: "gzip" | "zstd"): Promise<{ digest: string; size: number; path: string }> {
  const zlib = await import("node:zlib");
  const nodeCrypto = await import("node:crypto");
  const { Readable, Writable } = await import("node:stream");
  const { pipeline } = await import("node:stream/promises");
  const path = tempPath("blob");
  const h = nodeCrypto.createHash("sha256");
  let size = 0;
  const src = Deno.openSync(blobPath(digest), { read: true });
  const out = Deno.openSync(path, { write: true, createNew: true, mode: 0o600 });
  try {
    const read = async function* () {
      const buf = new Uint8Array(1 << 20);
      for (;;) {
        const n = src.readSync(buf);
        if (n === null || n === 0) return;
        yield buf.slice(0, n);
      }
    };
    const stages: (import("node:stream").Readable | import("node:stream").Transform | import("node:stream").Writable)[] = [Readable.from(read())];
    if (from === "gzip") stages.push(zlib.createGunzip());
    else if (from === "zstd") stages.push(zlib.createZstdDecompress());
    stages.push(to === "zstd" ? zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: 3 } }) : zlib.createGzip({ level: 6 }));
    stages.push(new Writable({
      write(chunk: Uint8Array, _enc, cb) {
        h.update(chunk);
        size += chunk.length;
        for (let off = 0; off < chunk.length;) off += out.writeSync(chunk.subarray(off));
        cb();
      },
    }));
    // deno-lint-ignore no-explicit-any
    await (pipeline as (...s: any[]) => Promise<void>)(...stages);
  } catch (err) {
    try {
      Deno.removeSync(path);
    } catch {
      // not there
    }
    throw new PushError(`Cannot recompress the layer ${digest}: ${(err as Error).message}`, {
      cause: err,
      hint: "the stored blob may be damaged; pull or load the image again (nook rmi it first)",
    });
  } finally {
    src.close();
    out.close();
  }
  return { digest: "sha256:" + h.digest("hex"), size, path };
}

/** The manifest with its layers recompressed to `to` (the same item when none needs it); new blobs go into `extra`. */
async function recompress(item: Item, to: "gzip" | "zstd", extra: Map<string, string>, name: string, progress: Progress): Promise<Item> {
  const docker = item.mediaType === MT.DOCKER_MANIFEST;
  if (docker && to === "zstd") {
    throw new PushError(`The image ${name} cannot have zstd layers in the docker format`, { hint: "push it with --format oci" });
  }
  let changed = false;
  const layers: Descriptor[] = [];
  for (const l of item.manifest.layers) {
    const from = layerCompression(l.mediaType);
    if (from === undefined || from === to) {
      layers.push(l);
      continue;
    }
    progress.line(`Recompressing ${l.digest.slice(7, 19)} (${from} to ${to})`);
    const r = await recompressBlob(l.digest, from, to);
    extra.set(r.digest, r.path);
    layers.push({ ...l, digest: r.digest, size: r.size, mediaType: to === "zstd" ? MT.OCI_LAYER_ZSTD : docker ? MT.DOCKER_LAYER_GZIP : MT.OCI_LAYER_GZIP });
    changed = true;
  }
  if (!changed) return item;
  const doc = { ...item.manifest, layers } as Manifest;
  const bytes = enc.encode(JSON.stringify(doc));
  return { ...item, bytes, digest: await sha256(bytes), manifest: doc };
}

/** Repositories of the same registry that are known to hold a blob: mount sources. */
function mountSources(digest: string, registry: string, repository: string): string[] {
  const out = new Set<string>();
  for (const img of readImages()) {
    if (img.id !== digest && !img.layers.some((l) => l.digest === digest)) continue;
    for (const n of [...img.repoDigests, ...img.names]) {
      const at = n.indexOf("@");
      const base = at >= 0
        ? n.slice(0, at)
        : n.slice(0, n.lastIndexOf(":") > n.lastIndexOf("/") ? n.lastIndexOf(":") : n.length);
      if (!base.startsWith(`${registry}/`)) continue;
      const repo = base.slice(registry.length + 1);
      if (repo !== repository) out.add(repo);
    }
  }
  return [...out];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Transient: a registry's 5xx/429 or a broken connection; a timeout or a refusal is not. */
function transient(err: unknown): boolean {
  if (err instanceof RegistryTimeoutError) return false;
  if (err instanceof RegistryError) {
    if (err.status === undefined) return !/refused|dns error|certificate/i.test(err.message);
    return err.status >= 500 || err.status === 429 || err.status === 408;
  }
  return err instanceof TypeError; // fetch's own "connection reset", "error sending request"
}

/** Read part of a file. */
function readRange(file: Deno.FsFile, offset: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  file.seekSync(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = file.readSync(buf.subarray(got));
    if (n === null) throw new PushError(`A stored blob ended early at ${offset + got} bytes`);
    got += n;
  }
  return buf;
}

/**
 * Push an image record to `dest`; resolves with the digest the tag points at.
 * Blobs are read from the store, so the store lock must be held shared.
 */
export async function pushImage(
  rec: ImageRecord,
  dest: Reference,
  progress: Progress,
  opts: PushOptions = {},
): Promise<PushResult> {
  if (dest.tag === undefined) {
    throw new PushError(`Cannot push to "${formatReference(dest)}": a push needs a tag`, {
      hint: "name the destination with a tag, e.g. registry.example.com/team/app:1.4",
    });
  }
  const name = formatReference(dest);
  const client = new Registry(dest.registry, {
    credentials: await findCredentials(dest.registry),
    ...(opts.tlsVerify === undefined ? {} : { tlsVerify: opts.tlsVerify }),
    onRetry: (what, n, why) => progress.line(`retrying ${what} (attempt ${n + 1}): ${why}`),
  });
  const { items: stored, index } = plan(rec);
  const items: Item[] = [];
  // zstd layers need the OCI format: an image stored in docker's goes as OCI unless --format says docker
  const format = opts.compression === "zstd" && opts.format === undefined ? "oci" : opts.format;
  for (const it of stored) items.push(await convert(it, format, name));
  // recompressed layers live in temporary files until the push ends
  const extra = new Map<string, string>();
  try {
    if (opts.compression) for (const [k, it] of items.entries()) items[k] = await recompress(it, opts.compression, extra, name, progress);
    return await pushItems({ ...dest, tag: dest.tag }, progress, opts, client, items, stored, index, extra);
  } finally {
    for (const p of extra.values()) {
      try {
        Deno.removeSync(p);
      } catch {
        // gone
      }
    }
  }
}

async function pushItems(
  dest: Reference & { tag: string },
  progress: Progress,
  opts: PushOptions,
  client: Registry,
  items: Item[],
  stored: Item[],
  index: ReturnType<typeof plan>["index"],
  extra: ReadonlyMap<string, string>,
): Promise<PushResult> {
  const name = formatReference(dest);
  const debug = (t: string) => opts.debug && progress.line(`debug: ${t}`);
  const attempts = Number(Deno.env.get("NOOK_PULL_RETRIES")) || 5;
  const chunk = chunkSize(opts);
  const pathOf = (digest: string) => extra.get(digest) ?? blobPath(digest);
  const counts = { uploaded: 0, mounted: 0, existing: 0 };

  const blobs = new Map<string, Descriptor>();
  for (const it of items) for (const d of [...it.manifest.layers, it.manifest.config]) blobs.set(d.digest, d);
  const repo = dest.repository;

  const pushBlob = async (d: Descriptor): Promise<void> => {
    const task = progress.task(d.digest.slice(7, 19), d.size, "Copying blob");
    if (!extra.has(d.digest) && !hasBlob(d.digest, d.size)) {
      throw new PushError(`The blob ${d.digest} of ${name} is missing from the store`, {
        hint: "the store is damaged; pull or load the image again (nook rmi it first)",
      });
    }
    if (await client.hasBlob(repo, d.digest)) {
      counts.existing++;
      task.finish("already exists");
      return;
    }
    for (const from of mountSources(d.digest, dest.registry, repo).slice(0, 3)) {
      const r = await client.startUpload(repo, { digest: d.digest, from });
      if (r === "mounted") {
        counts.mounted++;
        debug(`mounted ${d.digest} from ${dest.registry}/${from}`);
        task.finish(`mounted from ${from}`);
        return;
      }
      // the registry started a plain upload instead: use it
      await upload(d, r, task);
      return;
    }
    await upload(d, undefined, task);
  };

  const upload = async (d: Descriptor, started: string | undefined, task: Task): Promise<void> => {
    for (let attempt = 1;; attempt++) {
      try {
        const url = started ?? await client.startUpload(repo) as string;
        started = undefined;
        using f = Deno.openSync(pathOf(d.digest), { read: true });
        if (d.size <= chunk) {
          await client.finishUpload(repo, url, d.digest, readRange(f, 0, d.size));
        } else {
          let next = url;
          for (let off = 0; off < d.size; off += chunk) {
            const part = readRange(f, off, Math.min(chunk, d.size - off));
            next = await client.uploadChunk(repo, next, part, off);
            task.update(off + part.length);
          }
          await client.finishUpload(repo, next, d.digest);
        }
        counts.uploaded++;
        debug(`uploaded ${d.digest} (${d.size} bytes${d.size > chunk ? `, in chunks of ${chunk}` : ""})`);
        task.finish("done");
        return;
      } catch (err) {
        if (!transient(err) || attempt >= attempts) throw err;
        progress.line(
          `retrying the upload of ${d.digest.slice(7, 19)} (attempt ${attempt + 1}): ${(err as Error).message}`,
        );
        await sleep(250 * 2 ** (attempt - 1) * (0.75 + Math.random() / 2));
      }
    }
  };

  await inParallel([...blobs.values()], opts.parallel ?? 6, pushBlob);

  progress.line("Writing manifest to image destination");
  if (!index) {
    const it = items[0]!;
    await client.putManifest(repo, dest.tag, it.bytes, it.mediaType);
    return { digest: it.digest, mediaType: it.mediaType, blobs: counts };
  }
  for (const it of items) await client.putManifest(repo, it.digest, it.bytes, it.mediaType);
  const all = items.length === index.doc.manifests.length;
  let bytes = index.bytes;
  let digest = index.digest;
  let mediaType = index.doc.mediaType ?? MT.OCI_INDEX;
  const converted = items.some((it, i) => it.digest !== stored[i]!.digest);
  if (!all || converted) {
    mediaType = opts.format === "docker" ? MT.DOCKER_LIST : opts.format === "oci" ? MT.OCI_INDEX : mediaType;
    const doc: Record<string, unknown> = {
      schemaVersion: 2,
      mediaType,
      manifests: items.map((it) => ({
        ...it.desc!,
        mediaType: it.mediaType,
        digest: it.digest,
        size: it.bytes.length,
      })),
    };
    if (mediaType === MT.OCI_INDEX && index.doc.annotations) doc.annotations = index.doc.annotations;
    bytes = enc.encode(JSON.stringify(doc));
    digest = await sha256(bytes);
    if (!all) {
      progress.line(
        `note: the store holds ${items.length} of the ${index.doc.manifests.length} platforms of ${
          repoName(dest)
        }'s index; pushing those`,
      );
    }
  }
  await client.putManifest(repo, dest.tag, bytes, mediaType);
  return { digest, mediaType, blobs: counts };
}
