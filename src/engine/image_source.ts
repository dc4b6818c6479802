/**
 * The image side of a new container, loaded by prepare.ts only when a run uses an image from
 * the store or volumes: images pulled when missing (as docker does), their config applied, a
 * copy-on-write root, and volumes (`-v`, `--mount`, the image's VOLUMEs; tmpfs is tmpfs.ts's).
 * Nothing here loads an npm package or a `node:` module: this is the run path.
 *
 * @module
 */
import { tmpfsOptions } from "./tmpfs.ts";
import { NookError, UsageError } from "../errors/mod.ts";
import type { ImageInfo, MountSpec, RootfsSetup } from "../model/container.ts";
import { findImage } from "../image/lookup.ts";
import type { ImageConfig } from "../image/manifest.ts";
import { type BackendChoice, createContainerRootfs, removeContainerStorage, storageBackend } from "../overlay/mod.ts";
import { canonicalInLayers, readTextInLayers, unionOf } from "../overlay/union.ts";
import { MS } from "../plan/mod.ts";
import { readBlobText } from "../store/blobs.ts";
import { storeLayout } from "../store/layout.ts";
import { ensureVolume, useVolume, volumeData } from "../store/volumes.ts";
import { findExecutable } from "../userns/mod.ts";
import { reexecInUserns, removeTrees } from "../unshare/mod.ts";
import type { ModeMapping } from "../userns/mod.ts";
import type { ImageRecord } from "../store/images.ts";
import { layerDiff, readLayerInfo } from "../store/layers.ts";
import { syncDirOf } from "../store/layout.ts";
import { StoreError } from "../store/errors.ts";
import {
  abandonedPartials,
  type IdShiftRanges,
  partialName,
  shiftCopyReason,
  shiftedExists,
  type ShiftedRecord,
  shiftedRoot,
  shiftKey,
} from "../overlay/shifted.ts";
import { isSameProcess, procStartTime } from "../proc/mod.ts";
import { crashPoint } from "./intent.ts";

/** The parts of a run source that come from an image in the store. */
export interface StoreParts {
  /** Read a file of the image (through its layers). */
  readFile: (path: string) => string | undefined;
  /** How the child assembles the root. */
  rootfsSetup: RootfsSetup;
  /** What the container runs. */
  image: ImageInfo;
  /** The image's VOLUME paths. */
  volumes: string[];
  /** Copy image content at `path` into a new volume's directory (in the child, before the volume is mounted). */
  populate: (path: string, dir: string) => void;
  /** Remove the container's storage. */
  cleanup: () => Promise<void>;
}

/** An image from the store, as a new container uses it. */
export interface StoreSource {
  /** Where the root will be (an empty mount point until the child mounts it). */
  rootfs: string;
  /** Read-only root. */
  readonly: boolean;
  /** Env of the image. */
  env: string[];
  /** Entrypoint. */
  entrypoint: string[];
  /** Cmd. */
  cmd: string[];
  /** WorkingDir (default "/"). */
  workdir: string;
  /** User of the image. */
  user?: string;
  /** The store-specific parts. */
  store: StoreParts;
}

let backend: BackendChoice | undefined;

/**
 * Before the container is prepared: pull the image when it is missing (or
 * `--pull always`), as docker does, and learn the storage backend (a trial
 * mount the first time, then cached).
 */
export async function prepareImage(image: string, pull: string | undefined, platform: string | undefined): Promise<void> {
  const policy = pull ?? "missing";
  if (!["missing", "always", "never"].includes(policy)) {
    throw new UsageError(`Unknown pull policy "${policy}"`, {
      hint: "use --pull missing, --pull always or --pull never",
    });
  }
  const have = findImage(image);
  if (policy === "always" || (!have && policy === "missing")) {
    if (!have) console.error(`Unable to find image '${image}' locally`);
    // Why a separate process in nook's user namespace: layers are unpacked
    // with the image's owners, which only that namespace can create.
    const code = await reexecInUserns(["pull", ...(platform ? ["--platform", platform] : []), image], {
      env: { NOOK_PULL_QUIET_ID: "1" }, // progress to stderr, no image ID among the container's output
    });
    if (code !== 0) throw new NookError(`Cannot run "${image}": the pull failed (see above)`, { exitCode: 125 });
  } else if (!have) {
    throw new NookError(`Image "${image}" is not in the store and --pull never forbids pulling it`, {
      hint: `pull it first: nook pull ${image}`,
    });
  }
  backend = await storageBackend();
}

/**
 * A container whose mapping differs from the store's, where fuse-overlayfs cannot shift the
 * layers at mount time (shifted.ts says why): make, once per image and mapping, a copy of the
 * image's layers with the owners shifted, and run on it. Call after {@link prepareImage}.
 */
export async function prepareShift(image: string, mode: ModeMapping): Promise<void> {
  if (!mode.layerShift || !mode.shift) return;
  const why = shiftCopyReason();
  if (!why) return;
  // held shared while copying, so no rmi removes the layers being read; the collection (exclusive) waits
  const lock = lockShared();
  try {
    const rec = findImage(image);
    if (!rec) return; // storeImageSource says so
    const key = await shiftKey(rec.id, mode.shift);
    if (!shiftedExists(key)) await makeShifted(image, rec, key, mode.shift, why);
    mode.shiftedCopy = key;
  } finally {
    lock.close();
  }
}

async function makeShifted(name: string, rec: ImageRecord, key: string, shift: IdShiftRanges, why: string): Promise<void> {
  const root = shiftedRoot();
  Deno.mkdirSync(root, { recursive: true, mode: 0o700 });
  // partials of nooks that died while copying: theirs to lose
  const dead = abandonedPartials((pid, start) => isSameProcess(pid, start));
  if (dead.length) await removeTrees(dead.map((n) => `${root}/${n}`));
  const partial = `${root}/${partialName(key, Deno.pid, procStartTime(Deno.pid) ?? 0)}`;
  Deno.mkdirSync(partial, { mode: 0o700 });
  const layers = rec.layers.map((l) => ({ dir: layerDiff(l.chainId), opaque: readLayerInfo(l.chainId)?.opaque ?? [] }));
  Deno.writeTextFileSync(`${partial}/job.json`, JSON.stringify({ layers, shift }) + "\n");
  console.error(
    `nook: notice: fuse-overlayfs cannot show the image's files with other owners here (${why}): ` +
      `copying "${name}" once for this id mapping, its owners shifted; later runs with the same mapping share the copy`,
  );
  // Why in nook's user namespace: the copy's files belong to subordinate ids, which only root there can give
  const code = await reexecInUserns(["_storage", "shift", partial]);
  if (code !== 0) {
    await removeTrees([partial]);
    throw new StoreError(`Cannot make a copy of "${name}" with shifted owners (the copy exited with ${code})`, {
      hint: "see the message above; install fuse-overlayfs (and make /dev/fuse usable) to shift at mount time instead",
    });
  }
  crashPoint("shift.copy");
  const record: ShiftedRecord = { image: rec.id, shift, created: new Date().toISOString() };
  Deno.writeTextFileSync(`${partial}/shift.json`, JSON.stringify(record) + "\n");
  Deno.removeSync(`${partial}/job.json`);
  try {
    // the commit: one rename, so a copy is either all there or not there
    Deno.renameSync(partial, `${root}/${key}`);
    syncDirOf(`${root}/${key}`);
  } catch (err) {
    if (!shiftedExists(key)) throw err;
    await removeTrees([partial]); // another nook made the same copy first: use that one
  }
}

/** The store's shared lock, taken synchronously (the run path is synchronous here). */
function lockShared(): Deno.FsFile {
  const layout = storeLayout();
  Deno.mkdirSync(layout.root, { recursive: true, mode: 0o700 });
  const f = Deno.openSync(layout.lock, { read: true, write: true, create: true, mode: 0o600 });
  f.lockSync(false);
  return f;
}

/** An image from the store as the source of a new container (call {@link prepareImage} first). */
export function storeImageSource(
  image: string,
  id: string,
  autoRemove: boolean,
  layerShift?: { uid: string; gid: string },
  shifted?: string,
): StoreSource {
  const choice = backend;
  if (!choice) throw new NookError("internal: prepareImage was not called before storeImageSource");
  const lock = lockShared();
  let prepared;
  let rec;
  let config: ImageConfig;
  try {
    rec = findImage(image);
    if (!rec) {
      throw new NookError(`Image "${image}" is not in the store`, { hint: `pull it: nook pull ${image}` });
    }
    config = JSON.parse(readBlobText(rec.id)) as ImageConfig;
    // pinned under the lock: no rmi can remove its layers from here on
    prepared = createContainerRootfs(id, rec, image, choice, { autoRemove, ...(layerShift ? { layerShift } : {}), ...(shifted ? { shifted } : {}) });
  } finally {
    lock.close();
  }
  const union = unionOf(rec.layers.map((l) => l.chainId));
  const cfg = config.config ?? {};
  const setup: RootfsSetup = prepared.setup ?? {};
  const cp = findExecutable("cp", "/usr/bin:/bin");
  const pinned = prepared;
  const store: StoreParts = {
    readFile: (p) => readTextInLayers(union, p),
    rootfsSetup: setup,
    image: {
      name: image,
      id: rec.id,
      exposedPorts: Object.keys(cfg.ExposedPorts ?? {}),
      storage: choice.backend,
      ...(cfg.StopSignal ? { stopSignal: cfg.StopSignal } : {}),
      ...(cfg.Healthcheck ? { healthcheck: cfg.Healthcheck } : {}),
    },
    volumes: Object.keys(cfg.Volumes ?? {}),
    populate: (path, dir) => {
      // Only a real directory of the image is copied, found through the layers
      // with symlinks resolved inside the image: the copy then reads the same
      // path on the merged root, never a host path a symlink points at.
      const canon = canonicalInLayers(union, path, true);
      if (!canon || !cp) return;
      (setup.run ??= []).push({
        path: cp,
        args: ["cp", "-a", "--", `${pinned.rootfs}${canon}/.`, `${dir}/`],
        env: ["PATH=/usr/bin:/bin"],
      });
    },
    cleanup: () => removeContainerStorage(id, pinned.lock),
  };
  return {
    rootfs: prepared.rootfs,
    readonly: false,
    env: cfg.Env ?? [],
    entrypoint: cfg.Entrypoint ?? [],
    cmd: cfg.Cmd ?? [],
    workdir: cfg.WorkingDir || "/",
    ...(cfg.User ? { user: cfg.User } : {}),
    store,
  };
}

function absTarget(t: string, what: string): string {
  if (!t.startsWith("/")) {
    throw new UsageError(`The ${what} target "${t}" is not an absolute path`, { hint: "container paths start with /" });
  }
  const clean = "/" + t.split("/").filter((p) => p && p !== ".").join("/");
  if (clean.split("/").includes("..")) throw new UsageError(`The ${what} target "${t}" contains ".."`);
  return clean;
}

interface Wanted {
  kind: "bind" | "volume" | "tmpfs";
  source: string;
  target: string;
  readonly: boolean;
  opts: string[];
  nocopy: boolean;
}

function parseVolumeFlag(v: string): Wanted {
  const parts = v.split(":");
  if (parts.length === 1) {
    return { kind: "volume", source: "", target: absTarget(v, "volume"), readonly: false, opts: [], nocopy: false };
  }
  if (parts.length > 3) throw new UsageError(`Invalid volume "${v}"`, { hint: "use -v SRC:DST[:OPTS]" });
  const [src, dst, o = ""] = parts as [string, string, string?];
  const opts = o.split(",").filter(Boolean);
  for (const x of opts) {
    if (!["ro", "rw", "z", "Z", "nocopy", "bind", "rbind", "private", "rprivate"].includes(x)) {
      throw new UsageError(`Unknown volume option "${x}" in "${v}"`, { hint: "use ro or rw" });
    }
  }
  const isPath = src.includes("/") || src.startsWith(".") || src.startsWith("~");
  return {
    kind: isPath ? "bind" : "volume",
    source: src,
    target: absTarget(dst, "volume"),
    readonly: opts.includes("ro"),
    opts,
    nocopy: opts.includes("nocopy"),
  };
}

function parseMountFlag(v: string): Wanted {
  const kv = new Map<string, string>();
  for (const part of v.split(",")) {
    const i = part.indexOf("=");
    kv.set(i < 0 ? part : part.slice(0, i), i < 0 ? "true" : part.slice(i + 1));
  }
  const type = kv.get("type") ?? "volume";
  if (!["bind", "volume", "tmpfs"].includes(type)) {
    throw new UsageError(`Unknown mount type "${type}"`, { hint: "use type=bind, type=volume or type=tmpfs" });
  }
  const target = kv.get("target") ?? kv.get("destination") ?? kv.get("dst") ?? kv.get("dest");
  if (!target) throw new UsageError(`The mount "${v}" has no target`, { hint: "add target=/path" });
  const ro = kv.get("readonly") ?? kv.get("ro");
  const opts: string[] = [];
  if (type === "tmpfs") {
    if (kv.has("tmpfs-size")) opts.push(`size=${kv.get("tmpfs-size")}`);
    if (kv.has("tmpfs-mode")) opts.push(`mode=${kv.get("tmpfs-mode")}`);
  }
  return {
    kind: type as Wanted["kind"],
    source: kv.get("source") ?? kv.get("src") ?? "",
    target: absTarget(target, "mount"),
    readonly: ro === "true" || ro === "1",
    opts,
    nocopy: kv.get("volume-nocopy") === "true",
  };
}

function randomName(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The mounts of a run from `-v`, `--mount` and the image's
 * VOLUMEs (anonymous volumes where nothing else is mounted), and what to undo
 * when the container goes (anonymous volumes removed, named ones released).
 */
export function runMounts(
  volumes: readonly string[],
  mountFlags: readonly string[],
  id: string,
  store?: StoreParts,
): { mounts: MountSpec[]; cleanup: () => Promise<void> } {
  const wanted: Wanted[] = [...volumes.map(parseVolumeFlag), ...mountFlags.map(parseMountFlag)];
  const seen = new Set<string>();
  for (const w of wanted) {
    if (seen.has(w.target)) throw new UsageError(`Two mounts have the same target "${w.target}"`);
    seen.add(w.target);
  }
  for (const v of store?.volumes ?? []) {
    const t = absTarget(v, "image volume");
    if (!seen.has(t)) wanted.push({ kind: "volume", source: "", target: t, readonly: false, opts: [], nocopy: false });
  }
  const mounts: MountSpec[] = [];
  for (const w of wanted) {
    if (w.kind === "tmpfs") {
      const t = tmpfsOptions(w.opts, `--mount type=tmpfs,target=${w.target}`);
      mounts.push({ source: "tmpfs", target: w.target, fstype: "tmpfs", flags: t.flags, data: t.data });
    } else if (w.kind === "bind") {
      let src = w.source.startsWith("~/") ? `${Deno.env.get("HOME")}/${w.source.slice(2)}` : w.source;
      let st: Deno.FileInfo;
      try {
        src = Deno.realPathSync(src);
        st = Deno.statSync(src);
      } catch {
        throw new UsageError(`The bind source "${w.source}" does not exist`, {
          path: w.source,
          hint: `create it first (mkdir -p ${w.source})`,
        });
      }
      mounts.push({
        source: src,
        target: w.target,
        fstype: "",
        flags: MS.BIND | MS.REC,
        readonly: w.readonly,
        ...(st.isDirectory ? {} : { file: true }),
      });
    } else {
      const name = w.source || randomName();
      const { created } = ensureVolume(name, { anonymous: !w.source });
      useVolume(name, id);
      const data = volumeData(name);
      if (created && !w.nocopy) store?.populate(w.target, data);
      mounts.push({ source: data, target: w.target, fstype: "", flags: MS.BIND | MS.REC, readonly: w.readonly });
    }
  }
  // the volumes' claims go with the container's storage (removeContainerStorage)
  return { mounts, cleanup: () => removeContainerStorage(id) };
}
