/**
 * `nook commit`: an image from a container's changes. The container's upper directory (overlay
 * backends) — or, for the copy backend, a directory in overlay's format made from its changes —
 * becomes one layer (src/build/layer_tar.ts, as a build step's does) on top of the image's layers;
 * the new config is the image's with `--change` instructions applied and a history entry, and
 * the image record names it. A running container is frozen through its cgroup while its layer is
 * written, where it has one.
 *
 * A transaction under the store lock: everything is made under `tmp/commit-<pid>-…` (swept after
 * a kill) and moved into place only when whole, blob and layer first, the image record last.
 * Runs inside nook's user namespace (the changes hold files of subordinate ids).
 *
 * @module
 */
import { NookError } from "../errors/mod.ts";
import * as c from "../libc/mod.ts";
import { F } from "../libc/mod.ts";
import { crashPoint } from "../engine/intent.ts";
import { containerChanges, storageOf } from "../engine/diff.ts";
import { currentStatus } from "../engine/status.ts";
import type { ContainerRecord } from "../engine/store.ts";
import { applyChanges } from "../image/archive.ts";
import { currentIdPolicy, recordImage } from "../image/ingest.ts";
import { type ImageConfig, type Manifest, MT } from "../image/manifest.ts";
import { parseReference, repoName } from "../image/reference.ts";
import { unpackLayer } from "../image/unpack.ts";
import { rootfsDir } from "../store/container_storage.ts";
import { commitBlobFile, hasBlob, readBlobText, sha256, tempPath, writeBlob } from "../store/blobs.ts";
import { type ImageRecord, readImages } from "../store/images.ts";
import { commitLayer, hasLayer } from "../store/layers.ts";
import { lockStore } from "../store/lock.ts";
import { writeLayer } from "./layer_tar.ts";

/** What to commit. */
export interface CommitOptions {
  /** The image's name (none: an image known by its id only). */
  name?: string | undefined;
  /** `-m`: the history entry's comment. */
  message?: string | undefined;
  /** `-a`: the config's author. */
  author?: string | undefined;
  /** `-c`: Dockerfile-style config changes. */
  changes: readonly string[];
  /** Freeze a running container while its layer is written. */
  pause: boolean;
  /** Where notes go (not paused…). */
  say: (text: string) => void;
}

/** Errors of commit. */
export class CommitError extends NookError {}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // already gone
  }
}

/** Copy one entry of the copy backend's root into the overlay-format change directory (owner, mode, times kept). */
function copyEntry(from: string, to: string): void {
  const st = Deno.lstatSync(from);
  if (st.isDirectory) {
    try {
      Deno.mkdirSync(to);
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
  } else if (st.isSymlink) Deno.symlinkSync(Deno.readLinkSync(from), to);
  else if (st.isFile) Deno.copyFileSync(from, to);
  else return; // devices, fifos and sockets are not part of a rootless layer
  c.lchownat(F.AT_FDCWD, to, st.uid ?? 0, st.gid ?? 0);
  if (!st.isSymlink) {
    Deno.chmodSync(to, (st.mode ?? 0o644) & 0o7777);
    if (st.mtime) Deno.utimeSync(to, st.atime ?? st.mtime, st.mtime);
  }
}

/** The copy backend's changes as overlay's upper directory would hold them. */
function changesDir(id: string, into: string): void {
  const root = `${rootfsDir(id)}/merged`;
  Deno.mkdirSync(into, { mode: 0o755 });
  for (const ch of containerChanges(id)) {
    const rel = ch.path.slice(1);
    // parents first (sorted paths put them before their entries), with the container's attributes
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join("/");
      try {
        Deno.lstatSync(`${into}/${p}`);
      } catch {
        copyEntry(`${root}/${p}`, `${into}/${p}`);
      }
    }
    if (ch.kind === "D") {
      // overlay's whiteout: a 0/0 character device
      c.mknodat(F.AT_FDCWD, `${into}/${rel}`, F.S_IFCHR | 0o600, 0n);
    } else {
      try {
        Deno.lstatSync(`${into}/${rel}`);
      } catch {
        copyEntry(`${root}/${rel}`, `${into}/${rel}`);
      }
    }
  }
}

/**
 * Commit container `rec`: resolves with the new image's id. Call inside nook's user namespace.
 */
export async function commitContainer(rec: ContainerRecord, opts: CommitOptions): Promise<string> {
  applyChanges({}, opts.changes); // a bad --change fails before anything is written
  const names = opts.name !== undefined ? [normalName(opts.name)] : [];
  using _lock = await lockStore("shared");
  const storage = storageOf(rec.id, rec.name);
  const base = readImages().find((i) => i.id === storage.image);
  if (!base) {
    throw new CommitError(`The image of container "${rec.name}" is no longer in the store`, {
      hint: "commit needs the container's image for its configuration and layers",
    });
  }
  const tmp = tempPath("commit");
  Deno.mkdirSync(tmp, { mode: 0o700 });
  try {
    const blobTmp = `${tmp}/layer.tar.gz`;
    const running = currentStatus(rec.id).state === "running";
    const thaw = running && opts.pause ? await freeze(rec, opts.say) : undefined;
    let blob;
    try {
      let upper = `${rootfsDir(rec.id)}/upper`;
      if (storage.backend === "copy") {
        upper = `${tmp}/changes`;
        changesDir(rec.id, upper);
      }
      blob = await writeLayer(upper, blobTmp);
    } finally {
      await thaw?.();
    }
    // the layer as pull would have unpacked it: from the blob, in the store's own format
    const layerTmp = `${tmp}/layer`;
    Deno.mkdirSync(`${layerTmp}/diff`, { recursive: true, mode: 0o755 });
    Deno.chmodSync(layerTmp, 0o755);
    const ids = currentIdPolicy();
    {
      using f = await Deno.open(blobTmp, { read: true });
      await unpackLayer(f.readable, `${layerTmp}/diff`, {
        squashOwners: ids.squashOwners,
        idLimit: ids.idLimit,
        label: "the container's changes",
      });
    }
    const parent = base.layers[base.layers.length - 1]?.chainId;
    const chainId = parent === undefined
      ? blob.diffId
      : await sha256(new TextEncoder().encode(`${parent} ${blob.diffId}`));
    crashPoint("commit.layer");

    const now = new Date().toISOString();
    const cfg = JSON.parse(readBlobText(base.id)) as ImageConfig;
    const config: ImageConfig = {
      ...cfg,
      created: now,
      ...(opts.author !== undefined ? { author: opts.author } : {}),
      config: applyChanges(cfg.config ?? {}, opts.changes),
      rootfs: { type: "layers", diff_ids: [...cfg.rootfs.diff_ids, blob.diffId] },
      history: [
        ...(cfg.history ?? []),
        { created: now, created_by: commandOf(rec), ...(opts.message !== undefined ? { comment: opts.message } : {}) },
      ],
    };
    // blob and layer move into place (a layer nobody names is garbage that prune collects), the record last
    if (!hasBlob(blob.digest, blob.size)) commitBlobFile(blobTmp, blob.digest);
    if (!hasLayer(chainId)) {
      commitLayer(layerTmp, {
        chainId,
        diffId: blob.diffId,
        size: blob.tarSize,
        opaque: blob.opaque,
        created: now,
        ...(parent !== undefined ? { parent } : {}),
      });
    }
    const configBytes = new TextEncoder().encode(JSON.stringify(config));
    const configDigest = await writeBlob(configBytes);
    const docker = base.manifestMediaType === MT.DOCKER_MANIFEST;
    const layerType = docker ? MT.DOCKER_LAYER_GZIP : MT.OCI_LAYER_GZIP;
    const layers = [...base.layers, {
      digest: blob.digest,
      mediaType: layerType,
      size: blob.size,
      diffId: blob.diffId,
      chainId,
    }];
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: docker ? MT.DOCKER_MANIFEST : MT.OCI_MANIFEST,
      config: { mediaType: docker ? MT.DOCKER_CONFIG : MT.OCI_CONFIG, digest: configDigest, size: configBytes.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    const manifestDigest = await writeBlob(new TextEncoder().encode(JSON.stringify(manifest)));
    crashPoint("commit.record");
    const image: ImageRecord = {
      id: configDigest,
      names,
      repoDigests: [],
      manifest: manifestDigest,
      manifestMediaType: manifest.mediaType!,
      layers,
      platform: base.platform,
      added: now,
      size: base.size + blob.tarSize,
      created: now,
    };
    await recordImage(image);
    return configDigest;
  } finally {
    removeQuietly(tmp);
  }
}

/** What the history says made the layer: the container's command, as podman writes it. */
function commandOf(rec: ContainerRecord): string {
  return rec.spec.process.args.join(" ");
}

function normalName(name: string): string {
  const r = parseReference(name, "localhost");
  return `${repoName(r)}:${r.tag ?? "latest"}`;
}

/** Freeze the container's cgroup; resolves with the thaw, or undefined (with a note) when it has no freezer. */
async function freeze(rec: ContainerRecord, say: (text: string) => void): Promise<(() => Promise<void>) | undefined> {
  const path = rec.cgroup?.path;
  if (path) {
    try {
      Deno.statSync(`${path}/cgroup.freeze`);
      const { freezeCgroup } = await import("../cgroupv2/container_cgroup.ts");
      await freezeCgroup(path, true);
      return async () => await freezeCgroup(path, false).catch(() => {});
    } catch {
      // below
    }
  }
  say(
    `note: container "${rec.name}" is not paused while it is committed: it has no cgroup freezer here (a delegated cgroup v2 subtree gives it one)`,
  );
  return undefined;
}
