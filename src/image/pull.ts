/**
 * `pull`: resolve a reference against the registries, choose the platform
 * from an index, verify and store the manifest and the config, then fetch and
 * unpack the layers in parallel. Runs inside nook's user namespace, holding
 * the store lock shared.
 *
 * @module
 */
import { NookError } from "../errors/mod.ts";
import { sha256, writeBlob } from "../store/blobs.ts";
import { chainIds, readLayerInfo } from "../store/layers.ts";
import type { ImageRecord } from "../store/images.ts";
import { currentTransaction, StoreTransaction } from "../store/intent.ts";
import { findCredentials } from "./auth.ts";
import { DigestError, ensureLayers, type IngestLayer, recordImage } from "./ingest.ts";
import {
  choosePlatform,
  formatPlatform,
  hostPlatform,
  isLayerType,
  ManifestError,
  manifestKind,
  parseConfig,
  parseIndex,
  parseManifest,
  type Platform,
  platformMatches,
} from "./manifest.ts";
import type { Progress } from "./progress.ts";
import { candidates, formatReference, type Reference, repoName } from "./reference.ts";
import { Registry, RegistryError } from "./registry.ts";

/** Options of {@link pullImage}. */
export interface PullOptions {
  /** Platform to choose from an index (default: the host's). */
  platform?: Platform;
  /** false: allow plain HTTP (and HTTPS fallback) for this registry. */
  tlsVerify?: boolean;
  /** Parallel layer downloads (default 3). */
  parallel?: number;
  /** Print `debug:` lines (what unpacking left out, such as extended attributes). */
  debug?: boolean;
}

function json(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new ManifestError(`The ${what} is not valid JSON`, { cause: err });
  }
}

/**
 * Pull one image into the store; resolves with its record. A transaction (store/intent.ts): what
 * it makes is named in its intent first, and rolled back when it fails or is killed.
 */
export async function pullImage(input: string, progress: Progress, opts: PullOptions = {}): Promise<ImageRecord> {
  const tx = StoreTransaction.begin("pull", input);
  try {
    const rec = await pullOne(input, progress, opts);
    tx.end(false);
    return rec;
  } catch (err) {
    tx.end(true);
    throw err;
  }
}

async function pullOne(input: string, progress: Progress, opts: PullOptions): Promise<ImageRecord> {
  const want = opts.platform ?? hostPlatform();
  const refs = candidates(input).filter((r) => r.qualified || r.registry !== "localhost");
  let lastErr: unknown;
  const mirrors = await configuredMirrors();
  for (const [i, ref] of refs.entries()) {
    progress.line(`Trying to pull ${formatReference(ref)}...`);
    const mirrored = await fromMirrors(ref, mirrors[ref.registry] ?? [], want, progress, opts);
    if (mirrored) return mirrored;
    const client = new Registry(ref.registry, {
      credentials: await findCredentials(ref.registry),
      ...(opts.tlsVerify === undefined ? {} : { tlsVerify: opts.tlsVerify }),
      onRetry: (what, n, why) => progress.line(`retrying ${what} (attempt ${n + 1}): ${why}`),
    });
    let fetched;
    try {
      fetched = await client.manifest(ref.repository, ref.digest ?? ref.tag!);
    } catch (err) {
      lastErr = err;
      // a short name: not there, or that registry is down — try the next one, as podman does
      const next = err instanceof RegistryError &&
        (err.status === undefined || err.status === 404 || err.status === 401 || err.status === 403);
      if (next && i < refs.length - 1) {
        progress.line(`${formatReference(ref)}: ${(err as Error).message}`);
        continue;
      }
      throw err;
    }
    return await pullFrom(client, ref, fetched, want, progress, opts);
  }
  throw lastErr ?? new NookError(`Cannot pull "${input}"`);
}

/** The `registries` part of the config: mirrors per registry, and the registries spoken to without TLS checks. */
async function configuredMirrors(): Promise<Record<string, { location: string; insecure: boolean }[]>> {
  const { loadConfig } = await import("../config/load.ts");
  const { registries } = await loadConfig();
  const out: Record<string, { location: string; insecure: boolean }[]> = {};
  for (const [registry, list] of Object.entries(registries.mirrors ?? {})) {
    out[registry] = list.map((m) => {
      const location = m.replace(/^https?:\/\//, "").replace(/\/+$/, "");
      const host = location.split("/")[0]!;
      return { location, insecure: m.startsWith("http://") || registries.insecure.includes(host) };
    });
  }
  return out;
}

/**
 * Pull `ref` through its registry's mirrors, in order, as podman does with
 * registries.conf: a mirror `HOST[/PATH]` serves `REPOSITORY` as
 * `HOST/PATH/REPOSITORY`; the image keeps the names of the registry it
 * stands for. Resolves with undefined when no mirror could serve it (down, or
 * without the image): the caller goes to the registry itself.
 */
async function fromMirrors(
  ref: Reference,
  mirrors: readonly { location: string; insecure: boolean }[],
  want: Platform,
  progress: Progress,
  opts: PullOptions,
): Promise<ImageRecord | undefined> {
  const debug = (text: string) => opts.debug && progress.line(`debug: ${text}`);
  for (const m of mirrors) {
    const slash = m.location.indexOf("/");
    const host = slash < 0 ? m.location : m.location.slice(0, slash);
    const repository = slash < 0 ? ref.repository : `${m.location.slice(slash + 1)}/${ref.repository}`;
    const client = new Registry(host, {
      credentials: await findCredentials(host),
      ...(m.insecure || opts.tlsVerify === false ? { tlsVerify: false } : {}),
      attempts: 2, // a mirror only saves time: one that stumbles is passed over quickly
      onRetry: (what, n, why) => debug(`mirror "${m.location}": retrying ${what} (attempt ${n + 1}): ${why}`),
    });
    try {
      const fetched = await client.manifest(repository, ref.digest ?? ref.tag!);
      const rec = await pullFrom(client, ref, fetched, want, progress, opts, repository);
      debug(`the mirror "${m.location}" served ${formatReference(ref)}`);
      return rec;
    } catch (err) {
      // a mirror that is down or lacks the image is passed over; bad content from it is not
      if (!(err instanceof RegistryError)) throw err;
      debug(`the mirror "${m.location}" did not serve ${formatReference(ref)}: ${err.message}`);
    }
  }
  if (mirrors.length) debug(`the registry "${ref.registry}" itself serves ${formatReference(ref)}`);
  return undefined;
}

async function pullFrom(
  client: Registry,
  ref: Reference,
  first: { bytes: Uint8Array; mediaType: string; digest: string | null },
  want: Platform,
  progress: Progress,
  opts: PullOptions,
  repository = ref.repository,
): Promise<ImageRecord> {
  const name = formatReference(ref);
  const topDigest = await sha256(first.bytes);
  if (ref.digest && topDigest !== ref.digest) {
    throw new DigestError(`The registry sent a manifest with digest ${topDigest} for ${name}`, {
      hint: "the registry or something in between altered the content; nothing was stored",
    });
  }
  if (first.digest && first.digest.startsWith("sha256:") && first.digest !== topDigest) {
    throw new DigestError(`The manifest of ${name} has digest ${topDigest}, but the registry says ${first.digest}`);
  }
  let manifestBytes = first.bytes;
  let manifestType = first.mediaType;
  let manifestDigest = topDigest;
  const repoDigests = [`${repoName(ref)}@${topDigest}`];
  let doc = json(first.bytes, "manifest");
  if (manifestKind(doc, first.mediaType) === "index") {
    const index = parseIndex(doc);
    const chosen = choosePlatform(index, want, name);
    const m = await client.manifest(repository, chosen.digest);
    const d = await sha256(m.bytes);
    if (d !== chosen.digest) {
      throw new DigestError(`The registry sent a manifest with digest ${d} instead of ${chosen.digest}`, {
        hint: "nothing was stored",
      });
    }
    manifestBytes = m.bytes;
    manifestType = m.mediaType || chosen.mediaType;
    manifestDigest = d;
    repoDigests.push(`${repoName(ref)}@${d}`);
    doc = json(m.bytes, "manifest");
    if (manifestKind(doc, manifestType) !== "manifest") {
      throw new ManifestError("An image index points at another index");
    }
  }
  const manifest = parseManifest(doc);
  for (const l of manifest.layers) {
    if (!isLayerType(l.mediaType)) {
      throw new ManifestError(`The image ${name} has a layer of type "${l.mediaType}", which nook cannot unpack`);
    }
  }
  const configBytes = await client.blobBytes(repository, manifest.config.digest, manifest.config.size);
  if (await sha256(configBytes) !== manifest.config.digest) {
    throw new DigestError(`Digest mismatch for the config ${manifest.config.digest} of ${name}`, {
      hint: "nothing was stored",
    });
  }
  const config = parseConfig(json(configBytes, "image config"), manifest.layers.length);
  const got: Platform = {
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  };
  if (!platformMatches(got, { os: want.os, architecture: want.architecture })) {
    progress.line(`note: the image is for ${formatPlatform(got)}, not ${formatPlatform(want)}`);
  }
  const chains = await chainIds(config.rootfs.diff_ids);
  const layers: IngestLayer[] = manifest.layers.map((desc, i) => ({
    desc,
    diffId: config.rootfs.diff_ids[i]!,
    chainId: chains[i]!,
    ...(i > 0 ? { parent: chains[i - 1]! } : {}),
    fetch: (offset: number) => client.blob(repository, desc.digest, desc.size, offset),
  }));
  const tx = currentTransaction();
  // written ahead: everything this pull may make, before it looks for any of it
  tx?.will({
    blobs: [...layers.map((l) => l.desc.digest), manifest.config.digest, manifestDigest, topDigest],
    layers: chains,
    images: [manifest.config.digest],
  });
  tx?.step("intent");
  await ensureLayers(layers, progress, opts.parallel ?? 3, opts.debug ?? false);
  // the image's own blobs go in only once all its layers did
  await writeBlob(configBytes, manifest.config.digest);
  await writeBlob(manifestBytes, manifestDigest);
  if (manifestDigest !== topDigest) await writeBlob(first.bytes, topDigest);
  tx?.step("config");
  const rec: ImageRecord = {
    id: manifest.config.digest,
    names: ref.tag !== undefined ? [`${repoName(ref)}:${ref.tag}`] : [],
    repoDigests,
    manifest: manifestDigest,
    manifestMediaType: manifestType || manifest.mediaType || "application/vnd.oci.image.manifest.v1+json",
    layers: layers.map((l) => ({
      digest: l.desc.digest,
      mediaType: l.desc.mediaType,
      size: l.desc.size,
      diffId: l.diffId,
      chainId: l.chainId,
    })),
    platform: formatPlatform(got),
    added: new Date().toISOString(),
    size: 0,
    ...(config.created ? { created: config.created } : {}),
  };
  rec.size = sizeOf(rec);
  await recordImage(rec);
  tx?.step("record");
  return rec;
}

/** Uncompressed size of an image from its layers' records (0 for layers not unpacked). */
export function sizeOf(rec: ImageRecord): number {
  return rec.layers.reduce((n, l) => n + (readLayerInfo(l.chainId)?.size ?? 0), 0);
}
