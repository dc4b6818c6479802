/**
 * Image tarballs: `load` of docker-archive (`docker save`) and oci-archive
 * files, `import` of a plain root filesystem tarball, and `save` in both
 * formats. The outer archive's entries are never written by their names:
 * every file is hashed into a temporary file and kept by content digest only
 * when a manifest refers to it, after its digest was checked. Runs inside
 * nook's user namespace (layers are unpacked).
 *
 * @module
 */
import { NookError } from "../errors/mod.ts";
import { blobPath, commitBlobFile, hasBlob, readBlobText, sha256, tempPath, writeBlob } from "../store/blobs.ts";
import type { ImageRecord } from "../store/images.ts";
import { chainIds, commitLayer, hasLayer, readLayerInfo, tempLayerDir } from "../store/layers.ts";
import { StoreTransaction } from "../store/intent.ts";
import {
  currentIdPolicy,
  describeStreamError,
  DigestError,
  ensureLayers,
  type IngestLayer,
  isStreamError,
  recordImage,
} from "./ingest.ts";
import {
  choosePlatform,
  type ContainerConfig,
  type Descriptor,
  formatPlatform,
  hostPlatform,
  type ImageConfig,
  isLayerType,
  type Manifest,
  manifestKind,
  MT,
  parseConfig,
  parseIndex,
  parseManifest,
  type Platform,
} from "./manifest.ts";
import type { Progress } from "./progress.ts";
import { parseReference, repoName } from "./reference.ts";
import { sniffCompression, unpackLayer } from "./unpack.ts";
import { sizeOf } from "./pull.ts";

/** A tarball could not be loaded, imported or saved. */
export class ArchiveError extends NookError {}

interface Member {
  digest: string;
  size: number;
  tmp: string;
  head: Uint8Array;
}

/** JSON members (manifests, configs, indexes) larger than this are refused. */
const MAX_JSON = 4 * 1024 * 1024;

function clean(name: string): string {
  return name.split("/").filter((p) => p && p !== ".").join("/");
}

/** Read every regular file of an archive into hashed temporary files; on failure none is kept. */
async function readMembers(input: AsyncIterable<Uint8Array>, label: string): Promise<Map<string, Member>> {
  const tarStream = (await import("tar-stream")).default;
  const zlib = await import("node:zlib");
  const { createHash } = await import("node:crypto");
  const members = new Map<string, Member>();
  const extract = tarStream.extract();
  // every failure of the parsers lands here, whoever is waiting for what: never an unhandled rejection
  let fail!: (err: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => {});
  let current: string | undefined; // the member being written, not yet in `members`
  extract.on("error", (e: unknown) => fail(e));
  // tar-stream throws a bad header out of its write callback, which streamx may run later from
  // a queued task where nobody can catch it: hand it to the stream as its error instead
  const parser = extract as unknown as { _write(data: Uint8Array, cb: (err?: unknown) => void): void };
  const parse = parser._write.bind(parser);
  parser._write = (data, cb) => {
    try {
      parse(data, cb);
    } catch (err) {
      cb(err);
    }
  };
  extract.on("entry", (header, stream, next) => {
    stream.on("error", () => {});
    if (header.type !== "file" && header.type !== "contiguous-file") {
      stream.resume();
      return next();
    }
    const name = clean(header.name);
    const hash = createHash("sha256");
    const tmp = tempPath("load");
    current = tmp;
    let f: Deno.FsFile;
    try {
      f = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    } catch (err) {
      return fail(err);
    }
    const head = new Uint8Array(16);
    let size = 0;
    stream.on("data", (data: unknown) => {
      const c = data as Uint8Array;
      try {
        hash.update(c);
        let off = 0;
        while (off < c.length) off += f.writeSync(c.subarray(off));
      } catch (err) {
        fail(err);
        return;
      }
      if (size < head.length) head.set(c.subarray(0, head.length - size), size);
      size += c.length;
    });
    stream.on("end", () => {
      f.close();
      const old = members.get(name);
      if (old) removeQuietly(old.tmp);
      members.set(name, {
        digest: `sha256:${hash.digest("hex")}`,
        size,
        tmp,
        head: head.subarray(0, Math.min(size, head.length)),
      });
      current = undefined;
      next();
    });
    stream.on("error", () => {
      try {
        f.close();
      } catch {
        // closed
      }
    });
  });
  const finished = Promise.race([new Promise<void>((resolve) => extract.on("finish", resolve)), failed]);
  finished.catch(() => {}); // awaited only when the input was read to its end
  const drained = (s: { once(ev: string, f: () => void): unknown }) =>
    Promise.race([new Promise<void>((r) => s.once("drain", () => r())), failed]);
  try {
    const iter = input[Symbol.asyncIterator]();
    let first = await iter.next();
    while (!first.done && first.value.length === 0) first = await iter.next();
    if (first.done) {
      throw new ArchiveError(`${label} is empty`, {
        hint: "give a file that docker save, podman save or skopeo wrote",
      });
    }
    const kind = sniffCompression(first.value);
    if (kind === "bzip2" || kind === "xz") {
      throw new ArchiveError(`${label} is compressed with ${kind}; decompress it first`);
    }
    const sink = kind === "gzip" ? zlib.createGunzip() : kind === "zstd" ? zlib.createZstdDecompress() : undefined;
    const writeTar = async (c: Uint8Array) => {
      if (!extract.write(c)) await drained(extract);
    };
    if (sink) {
      sink.on("error", (e: unknown) => fail(e));
      const out = (async () => {
        for await (const c of sink as AsyncIterable<Uint8Array>) await writeTar(c);
      })();
      out.catch((e) => fail(e));
      for (let cur: IteratorResult<Uint8Array> = first; !cur.done; cur = await iter.next()) {
        if (!sink.write(cur.value)) await drained(sink);
      }
      sink.end();
      await Promise.race([out, failed]);
    } else {
      for (let cur: IteratorResult<Uint8Array> = first; !cur.done; cur = await iter.next()) await writeTar(cur.value);
    }
    (extract as unknown as { end(): void }).end();
    await finished;
  } catch (err) {
    (extract as unknown as { destroy(): void }).destroy();
    if (current !== undefined) removeQuietly(current);
    for (const m of members.values()) removeQuietly(m.tmp);
    if (err instanceof NookError) throw err;
    throw new ArchiveError(`Cannot load ${label}: ${describeStreamError(err)}`, {
      cause: err,
      hint: "give a complete docker-archive (docker save) or oci-archive (podman save, skopeo), plain or compressed",
    });
  }
  return members;
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // gone
  }
}

/** The bytes of a small member (a manifest, a config, an index). */
function bytesOf(m: Member, what: string): Uint8Array {
  if (m.size > MAX_JSON) throw new ArchiveError(`The ${what} in the archive is larger than ${MAX_JSON} bytes`);
  return Deno.readFileSync(m.tmp);
}

function jsonOf(m: Member | undefined, what: string): unknown {
  if (!m) throw new ArchiveError(`The archive has no ${what}`, { hint: "is it a docker-archive or oci-archive file?" });
  try {
    return JSON.parse(new TextDecoder().decode(bytesOf(m, what)));
  } catch (err) {
    if (err instanceof ArchiveError) throw err;
    throw new ArchiveError(`The ${what} in the archive is not valid JSON`, { cause: err });
  }
}

/** The archive member that holds blob `digest` (checked), by the OCI layout path. */
function ociBlob(members: Map<string, Member>, d: Descriptor): Member {
  const m = members.get(`blobs/sha256/${d.digest.slice(7)}`);
  if (!m) throw new ArchiveError(`The archive lacks the blob ${d.digest}`);
  if (m.digest !== d.digest || m.size !== d.size) {
    throw new DigestError(
      `The archive's blob ${d.digest} has digest ${m.digest} and ${m.size} bytes (expected ${d.size})`,
      {
        hint: "the archive is corrupt or was altered; nothing was stored",
      },
    );
  }
  return m;
}

function mediaTypeOf(m: Member): string {
  const k = sniffCompression(m.head);
  return k === "gzip" ? MT.OCI_LAYER_GZIP : k === "zstd" ? MT.OCI_LAYER_ZSTD : MT.OCI_LAYER;
}

/** Commit a member as a blob under its (checked) digest. */
function keep(m: Member): void {
  if (hasBlob(m.digest, m.size)) return;
  if (m.size <= MAX_JSON) {
    // the same member may serve twice (one config for two images): copy, keep the temp file
    Deno.copyFileSync(m.tmp, `${m.tmp}.keep`);
    commitBlobFile(`${m.tmp}.keep`, m.digest);
  } else commitBlobFile(m.tmp, m.digest);
}

interface Found {
  manifest: Manifest;
  manifestBytes: Uint8Array;
  manifestDigest: string;
  manifestType: string;
  config: ImageConfig;
  configMember: Member;
  layers: Member[];
  names: string[];
}

function platformOf(c: ImageConfig): Platform {
  return { os: c.os, architecture: c.architecture, ...(c.variant ? { variant: c.variant } : {}) };
}

/** Name for an OCI ref.name annotation: a full reference, or a bare tag on the archive's name. */
function ociName(ann: Record<string, string> | undefined, archiveName: string): string | undefined {
  const full = ann?.["io.containerd.image.name"];
  const ref = ann?.["org.opencontainers.image.ref.name"];
  const text = full ?? ref;
  if (!text) return undefined;
  try {
    if (full || text.includes("/") || text.includes(":")) {
      const r = parseReference(text);
      return `${repoName(r)}:${r.tag ?? "latest"}`;
    }
    const base = archiveName.replace(/^.*\//, "").replace(/\.(tar|tgz|tar\.gz|oci|tar\.zst)$/, "").toLowerCase()
      .replace(/[^a-z0-9._-]/g, "-") || "image";
    return `localhost/${base}:${text}`;
  } catch {
    return undefined;
  }
}

function findOci(members: Map<string, Member>, archiveName: string, platform: Platform): Found[] {
  const index = parseIndex(jsonOf(members.get("index.json"), "index.json"));
  const out: Found[] = [];
  for (const top of index.manifests) {
    let desc = top;
    let m = ociBlob(members, desc);
    let doc = jsonOf(m, `manifest ${desc.digest}`);
    if (manifestKind(doc, desc.mediaType) === "index") {
      desc = choosePlatform(parseIndex(doc), platform, archiveName);
      m = ociBlob(members, desc);
      doc = jsonOf(m, `manifest ${desc.digest}`);
    }
    const manifest = parseManifest(doc);
    const cm = ociBlob(members, manifest.config);
    const config = parseConfig(jsonOf(cm, "image config"), manifest.layers.length);
    const layers = manifest.layers.map((l) => {
      if (!isLayerType(l.mediaType)) throw new ArchiveError(`A layer has the unsupported media type "${l.mediaType}"`);
      return ociBlob(members, l);
    });
    const name = ociName(top.annotations, archiveName);
    out.push({
      manifest,
      manifestBytes: bytesOf(m, `manifest ${desc.digest}`),
      manifestDigest: desc.digest,
      manifestType: desc.mediaType || manifest.mediaType || MT.OCI_MANIFEST,
      config,
      configMember: cm,
      layers,
      names: name ? [name] : [],
    });
  }
  return out;
}

async function findDocker(members: Map<string, Member>): Promise<Found[]> {
  const list = jsonOf(members.get("manifest.json"), "manifest.json") as {
    Config?: string;
    RepoTags?: string[] | null;
    Layers?: string[];
  }[];
  if (!Array.isArray(list)) throw new ArchiveError("manifest.json is not a list");
  const out: Found[] = [];
  for (const entry of list) {
    const cm = members.get(clean(entry.Config ?? ""));
    if (!cm) throw new ArchiveError(`The archive lacks the config "${entry.Config}"`);
    const layers = (entry.Layers ?? []).map((p) => {
      const m = members.get(clean(p));
      if (!m) throw new ArchiveError(`The archive lacks the layer "${p}"`);
      return m;
    });
    const config = parseConfig(jsonOf(cm, "image config"), layers.length);
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MT.OCI_MANIFEST,
      config: { mediaType: MT.OCI_CONFIG, digest: cm.digest, size: cm.size },
      layers: layers.map((l) => ({ mediaType: mediaTypeOf(l), digest: l.digest, size: l.size })),
    };
    const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest));
    const names = (entry.RepoTags ?? []).flatMap((t) => {
      try {
        const r = parseReference(t);
        return [`${repoName(r)}:${r.tag ?? "latest"}`];
      } catch {
        return [];
      }
    });
    out.push({
      manifest,
      manifestBytes,
      manifestDigest: await sha256(manifestBytes),
      manifestType: MT.OCI_MANIFEST,
      config,
      configMember: cm,
      layers,
      names,
    });
  }
  return out;
}

/**
 * Load the images of a docker-archive or oci-archive stream (plain or
 * compressed) into the store. Resolves with their records.
 */
export async function loadArchive(
  input: AsyncIterable<Uint8Array>,
  progress: Progress,
  opts: { archiveName?: string; platform?: Platform } = {},
): Promise<ImageRecord[]> {
  const label = opts.archiveName ?? "the archive";
  // a transaction (store/intent.ts): what it makes is named in its intent first, rolled back when it fails or is killed
  const tx = StoreTransaction.begin("load", label);
  try {
    const recs = await loadMembers(tx, input, progress, label, opts);
    tx.end(false);
    return recs;
  } catch (err) {
    tx.end(true);
    throw err;
  }
}

async function loadMembers(
  tx: StoreTransaction,
  input: AsyncIterable<Uint8Array>,
  progress: Progress,
  label: string,
  opts: { platform?: Platform },
): Promise<ImageRecord[]> {
  const members = await readMembers(input, label);
  tx.step("read");
  try {
    const isOci = members.has("index.json") && members.has("oci-layout");
    if (!isOci && !members.has("manifest.json")) {
      throw new ArchiveError(`${label} is neither a docker-archive nor an oci-archive`, {
        hint: "for a plain root filesystem tarball use: nook import FILE NAME",
      });
    }
    const found = isOci ? findOci(members, label, opts.platform ?? hostPlatform()) : await findDocker(members);
    const out: ImageRecord[] = [];
    for (const f of found) {
      const diffIds = f.config.rootfs.diff_ids;
      const chains = await chainIds(diffIds);
      const layers: IngestLayer[] = f.manifest.layers.map((desc, i) => ({
        desc,
        diffId: diffIds[i]!,
        chainId: chains[i]!,
        ...(i > 0 ? { parent: chains[i - 1]! } : {}),
        file: f.layers[i]!.tmp,
      }));
      // written ahead: everything this image may make, before any of it is looked for
      tx.will({
        blobs: [...layers.map((l) => l.desc.digest), f.manifest.config.digest, f.manifestDigest],
        layers: chains,
        images: [f.manifest.config.digest],
      });
      tx.step("intent");
      // blobs are stored only once every layer unpacked cleanly
      await ensureLayers(layers, progress);
      keep(f.configMember);
      await writeBlob(f.manifestBytes, f.manifestDigest);
      tx.step("config");
      const rec: ImageRecord = {
        id: f.manifest.config.digest,
        names: f.names,
        repoDigests: [],
        manifest: f.manifestDigest,
        manifestMediaType: f.manifestType,
        layers: layers.map((l) => ({
          digest: l.desc.digest,
          mediaType: l.desc.mediaType,
          size: l.desc.size,
          diffId: l.diffId,
          chainId: l.chainId,
        })),
        platform: formatPlatform(platformOf(f.config)),
        added: new Date().toISOString(),
        size: 0,
        ...(f.config.created ? { created: f.config.created } : {}),
      };
      rec.size = sizeOf(rec);
      await recordImage(rec);
      tx.step("record");
      out.push(rec);
    }
    return out;
  } finally {
    for (const m of members.values()) removeQuietly(m.tmp);
  }
}

/** Apply Dockerfile-style `--change` instructions to a config. */
export function applyChanges(cfg: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const words = (v: string): string[] => {
    const t = v.trim();
    if (t.startsWith("[")) {
      try {
        const a = JSON.parse(t);
        if (Array.isArray(a) && a.every((x) => typeof x === "string")) return a;
      } catch {
        // shell form below
      }
    }
    return ["/bin/sh", "-c", t];
  };
  for (const c of changes) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/s.exec(c);
    if (!m) {
      throw new ArchiveError(`Invalid change "${c}"`, {
        hint: 'use e.g. --change "CMD [\\"/bin/sh\\"]" or --change "ENV A=1"',
      });
    }
    const [, key, value] = m as unknown as [string, string, string];
    switch (key.toUpperCase()) {
      case "CMD":
        cfg.Cmd = words(value);
        break;
      case "ENTRYPOINT":
        cfg.Entrypoint = words(value);
        break;
      case "ENV": {
        const kv = value.includes("=") ? value.trim() : value.trim().replace(/\s+/, "=");
        const k = kv.slice(0, kv.indexOf("="));
        cfg.Env = [...(cfg.Env ?? []).filter((e) => !e.startsWith(`${k}=`)), kv];
        break;
      }
      case "WORKDIR":
        cfg.WorkingDir = value.trim();
        break;
      case "USER":
        cfg.User = value.trim();
        break;
      case "EXPOSE":
        for (const p of value.trim().split(/\s+/)) (cfg.ExposedPorts ??= {})[p.includes("/") ? p : `${p}/tcp`] = {};
        break;
      case "VOLUME":
        for (const p of words(value)[0] === "/bin/sh" ? value.trim().split(/\s+/) : words(value)) {
          (cfg.Volumes ??= {})[p] = {};
        }
        break;
      case "LABEL": {
        for (const kv of value.trim().split(/\s+/)) {
          const i = kv.indexOf("=");
          if (i > 0) (cfg.Labels ??= {})[kv.slice(0, i)] = kv.slice(i + 1).replace(/^"|"$/g, "");
        }
        break;
      }
      case "STOPSIGNAL":
        cfg.StopSignal = value.trim();
        break;
      default:
        throw new ArchiveError(`Unsupported change "${key}"`, {
          hint: "CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, VOLUME, LABEL, STOPSIGNAL",
        });
    }
  }
  return cfg;
}

/**
 * Import a root filesystem tarball (plain, gzip or zstd) as a one-layer
 * image: the tarball is stored as the layer's blob while it is unpacked.
 */
export async function importRootfs(
  input: AsyncIterable<Uint8Array>,
  progress: Progress,
  opts: { name?: string; changes?: string[]; message?: string; label?: string } = {},
): Promise<ImageRecord> {
  applyChanges({}, opts.changes ?? []); // a bad --change fails before anything is written
  // a transaction (store/intent.ts): what it makes is named in its intent first, rolled back when it fails or is killed
  const tx = StoreTransaction.begin("import", opts.label ?? "the tarball");
  try {
    const rec = await importOne(tx, input, progress, opts);
    tx.end(false);
    return rec;
  } catch (err) {
    tx.end(true);
    throw err;
  }
}

async function importOne(
  tx: StoreTransaction,
  input: AsyncIterable<Uint8Array>,
  progress: Progress,
  opts: { name?: string; changes?: string[]; message?: string; label?: string },
): Promise<ImageRecord> {
  const tmp = tempPath("import");
  // the pid in the name lets the next nook that takes the store lock sweep it after a kill
  const work = tempLayerDir(`layer-import-${Deno.pid}-`);
  const file = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  let size = 0;
  async function* tee(): AsyncGenerator<Uint8Array> {
    for await (const c of input) {
      let off = 0;
      while (off < c.length) off += file.writeSync(c.subarray(off));
      if (size === 0) tx.step("unpack");
      size += c.length;
      yield c;
    }
  }
  let committed = false;
  try {
    const ids = currentIdPolicy();
    const task = progress.task("rootfs", 0, "Importing");
    const label = opts.label ?? "the tarball";
    let result;
    try {
      result = await unpackLayer(tee(), `${work}/diff`, {
        squashOwners: ids.squashOwners,
        idLimit: ids.idLimit,
        label,
        onNote: (t) => progress.line(`note: ${t}`),
      });
    } catch (err) {
      if (size === 0) throw emptyImport(label);
      if (isStreamError(err)) {
        throw new ArchiveError(`Cannot import ${label}: ${describeStreamError(err)}`, {
          cause: err,
          hint: "give a complete root filesystem tarball (plain, gzip or zstd), e.g. tar -C rootfs -c .",
        });
      }
      throw err;
    }
    file.close();
    // an image with no files runs nothing: an empty input is a mistake (a failed download, a wrong path)
    if (size === 0 || result.entries === 0) throw emptyImport(label, size);
    task.finish(`${size} bytes`);
    const chainId = result.diffId;
    // written ahead, before the store is looked at: the blob and layer this import may make
    tx.will({ blobs: [result.digest], layers: [chainId] });
    tx.step("intent");
    if (hasBlob(result.digest, size)) removeQuietly(tmp);
    else commitBlobFile(tmp, result.digest);
    tx.step("blob");
    if (hasLayer(chainId)) removeQuietly(work);
    else {
      commitLayer(work, {
        chainId,
        diffId: result.diffId,
        size: result.size,
        opaque: result.opaque,
        created: new Date().toISOString(),
      });
    }
    committed = true;
    tx.step("layer");
    const now = new Date().toISOString();
    const host = hostPlatform();
    const config: ImageConfig = {
      created: now,
      architecture: host.architecture,
      os: host.os,
      ...(host.variant ? { variant: host.variant } : {}),
      config: applyChanges({}, opts.changes ?? []),
      rootfs: { type: "layers", diff_ids: [result.diffId] },
      history: [{ created: now, created_by: "nook import", ...(opts.message ? { comment: opts.message } : {}) }],
    };
    const configBytes = new TextEncoder().encode(JSON.stringify(config));
    tx.will({ blobs: [await sha256(configBytes)], images: [await sha256(configBytes)] });
    const configDigest = await writeBlob(configBytes);
    const layerType = result.compression === "gzip"
      ? MT.OCI_LAYER_GZIP
      : result.compression === "zstd"
      ? MT.OCI_LAYER_ZSTD
      : MT.OCI_LAYER;
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MT.OCI_MANIFEST,
      config: { mediaType: MT.OCI_CONFIG, digest: configDigest, size: configBytes.length },
      layers: [{ mediaType: layerType, digest: result.digest, size }],
    };
    const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest));
    tx.will({ blobs: [await sha256(manifestBytes)] });
    const manifestDigest = await writeBlob(manifestBytes);
    tx.step("config");
    let names: string[] = [];
    if (opts.name) {
      const r = parseReference(opts.name, "localhost");
      names = [`${repoName(r)}:${r.tag ?? "latest"}`];
    }
    const rec: ImageRecord = {
      id: configDigest,
      names,
      repoDigests: [],
      manifest: manifestDigest,
      manifestMediaType: MT.OCI_MANIFEST,
      layers: [{ digest: result.digest, mediaType: layerType, size, diffId: result.diffId, chainId }],
      platform: formatPlatform(host),
      added: now,
      size: result.size,
      created: now,
    };
    await recordImage(rec);
    tx.step("record");
    return rec;
  } finally {
    try {
      file.close();
    } catch {
      // closed
    }
    if (!committed) {
      removeQuietly(tmp);
      removeQuietly(work);
    }
  }
}

function emptyImport(label: string, size = 0): ArchiveError {
  return new ArchiveError(
    size === 0 ? `Cannot import ${label}: it is empty (0 bytes)` : `Cannot import ${label}: the tarball holds no files`,
    { hint: "give a root filesystem tarball, e.g. tar -C rootfs -c . | nook import - NAME" },
  );
}

/** Where `save` writes: a function that takes the archive's bytes in order. */
export type Sink = (chunk: Uint8Array) => Promise<void>;

/**
 * Write images as an oci-archive (blobs as stored) or a docker-archive
 * (layers uncompressed, as `docker load` expects them).
 */
export async function saveImages(
  recs: readonly ImageRecord[],
  format: "oci-archive" | "docker-archive",
  sink: Sink,
): Promise<void> {
  const tarStream = (await import("tar-stream")).default;
  const zlib = await import("node:zlib");
  const pack = tarStream.pack();
  // the caller's ids, as skopeo and podman write them: a rootless reader cannot chown to root
  const uid = Deno.uid() ?? 0;
  const gid = Deno.gid() ?? 0;
  const pump = (async () => {
    for await (const c of pack as AsyncIterable<Uint8Array>) await sink(c);
  })();
  const entry = async (name: string, size: number, body: AsyncIterable<Uint8Array> | Uint8Array) => {
    await new Promise<void>((resolve, reject) => {
      const w = pack.entry(
        { name, size, mode: 0o644, mtime: new Date(0), uid, gid },
        (err) => (err ? reject(err) : resolve()),
      );
      (async () => {
        if (body instanceof Uint8Array) w.write(body);
        else {
          for await (const c of body) {
            if (!w.write(c)) await new Promise<void>((r) => w.once("drain", () => r()));
          }
        }
        (w as unknown as { end(): void }).end();
      })().catch(reject);
    });
  };
  const file = async function* (path: string): AsyncGenerator<Uint8Array> {
    using f = await Deno.open(path, { read: true });
    for await (const c of f.readable) yield c;
  };
  const enc = new TextEncoder();
  if (format === "oci-archive") {
    await entry("oci-layout", 30, enc.encode('{"imageLayoutVersion":"1.0.0"}'));
    const manifests = recs.flatMap((r) => {
      const names = r.names.length ? r.names : [undefined];
      return names.map((n) => ({
        mediaType: r.manifestMediaType,
        digest: r.manifest,
        size: Deno.statSync(blobPath(r.manifest)).size,
        ...(n ? { annotations: { "org.opencontainers.image.ref.name": n, "io.containerd.image.name": n } } : {}),
      }));
    });
    const index = enc.encode(JSON.stringify({ schemaVersion: 2, mediaType: MT.OCI_INDEX, manifests }));
    await entry("index.json", index.length, index);
    for (const d of ["blobs", "blobs/sha256"]) {
      await new Promise<void>((resolve, reject) =>
        pack.entry(
          { name: d, type: "directory", mode: 0o755, mtime: new Date(0), uid, gid },
          (err) => (err ? reject(err) : resolve()),
        )
      );
    }
    const done = new Set<string>();
    for (const r of recs) {
      for (const d of [r.manifest, r.id, ...r.layers.map((l) => l.digest)]) {
        if (done.has(d)) continue;
        done.add(d);
        const p = blobPath(d);
        await entry(`blobs/sha256/${d.slice(7)}`, Deno.statSync(p).size, file(p));
      }
    }
  } else {
    const list = [];
    const done = new Set<string>();
    for (const r of recs) {
      const cfgName = `${r.id.slice(7)}.json`;
      const cfg = enc.encode(readBlobText(r.id));
      if (!done.has(cfgName)) await entry(cfgName, cfg.length, cfg);
      done.add(cfgName);
      const layerNames: string[] = [];
      for (const l of r.layers) {
        const name = `${l.diffId.slice(7)}/layer.tar`;
        layerNames.push(name);
        if (done.has(name)) continue;
        done.add(name);
        const info = readLayerInfo(l.chainId);
        if (!info) throw new ArchiveError(`The layer ${l.chainId} is not unpacked; its uncompressed size is unknown`);
        const kind = l.mediaType.endsWith("gzip") ? "gzip" : l.mediaType.endsWith("zstd") ? "zstd" : "none";
        const src = file(blobPath(l.digest));
        let body: AsyncIterable<Uint8Array> = src;
        if (kind !== "none") {
          const d = kind === "gzip" ? zlib.createGunzip() : zlib.createZstdDecompress();
          (async () => {
            for await (const c of src) if (!d.write(c)) await new Promise((r) => d.once("drain", r));
            d.end();
          })().catch((e) => d.destroy(e));
          body = d as AsyncIterable<Uint8Array>;
        }
        await entry(name, info.size, body);
      }
      list.push({ Config: cfgName, RepoTags: r.names.length ? r.names : null, Layers: layerNames });
    }
    const manifest = enc.encode(JSON.stringify(list));
    await entry("manifest.json", manifest.length, manifest);
  }
  pack.finalize();
  await pump;
}
