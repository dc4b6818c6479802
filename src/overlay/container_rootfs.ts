/**
 * Per-container copy-on-write storage under `rootfs/<container id>/`:
 * `upper/` and `work/` (overlay backends) or a private copy (copy backend),
 * `merged/` (the directory that becomes `/`), and `rootfs.json`, which pins
 * the image's layers so that `rmi`/`prune` leave them alone.
 */
import type { RootfsSetup } from "../model/mod.ts";
import { StoreError } from "../store/errors.ts";
import { containerStorage, listContainerStorage, rootfsDir, type RootfsRecord } from "../store/container_storage.ts";
export { containerStorage, listContainerStorage, rootfsDir, type RootfsRecord };
import type { ImageRecord } from "../store/images.ts";
import { layerDiff, readLayerInfo } from "../store/layers.ts";
import { digestHex, storeLayout } from "../store/layout.ts";
import { releaseContainerVolumes, volumeDir } from "../store/volumes.ts";
import { removeTrees, USERNS_ENV } from "../unshare/mod.ts";
import { selfCommand } from "../paths/project.ts";
import { findExecutable } from "../userns/mod.ts";
import type { BackendChoice } from "./backend.ts";
import { crashPoint } from "../proc/crash_point.ts";
import { shiftedTree } from "./shifted.ts";

/** A container's prepared storage. */
export interface PreparedRootfs {
  /** The directory that becomes `/` (the mount point for overlay backends). */
  rootfs: string;
  /** What the child does to assemble it (overlay backends). */
  setup?: RootfsSetup;
  /** The record (also written to rootfs.json). */
  record: RootfsRecord;
  /** The container's lock (held while the container is in use; released on removal). */
  lock: Deno.FsFile;
}

/** Mount options longer than this do not fit mount(2)'s one page of data. */
const MAX_MOUNT_DATA = 4000;

/**
 * Make a container's storage for an image: directories, the pin, and the
 * setup the child runs. Call with the store lock held (shared), so no `rmi`
 * removes a layer between reading the image and pinning it. The copy
 * backend's copy is made by the child (a helper in the setup).
 */
export function createContainerRootfs(
  id: string,
  image: ImageRecord,
  imageName: string,
  choice: BackendChoice,
  opts: { autoRemove: boolean; layerShift?: { uid: string; gid: string }; shifted?: string },
): PreparedRootfs {
  // a shifted copy already has the owners this mapping needs: any backend serves
  if (opts.layerShift && !opts.shifted) choice = shiftingBackend(choice);
  const layout = storeLayout();
  for (const l of image.layers) {
    if (!readLayerInfo(l.chainId)) {
      throw new StoreError(`The layer ${l.chainId} of image "${imageName}" is missing from the store`, {
        hint: `pull or load the image again (nook rmi ${image.id.slice(7, 19)} first)`,
      });
    }
  }
  const dir = rootfsDir(id);
  Deno.mkdirSync(layout.rootfs, { recursive: true, mode: 0o700 });
  Deno.mkdirSync(dir, { mode: 0o700 });
  const lock = Deno.openSync(`${dir}/lock`, { read: true, write: true, create: true, mode: 0o600 });
  lock.lockSync(false);
  const record: RootfsRecord = {
    id,
    backend: choice.backend,
    image: image.id,
    imageName,
    layers: image.layers.map((l) => l.chainId),
    autoRemove: opts.autoRemove,
    created: new Date().toISOString(),
    ...(opts.shifted ? { shifted: opts.shifted } : {}),
  };
  const merged = `${dir}/merged`;
  // the container's "/" takes its owner and mode from upper/ (or the copy's top)
  Deno.mkdirSync(merged, { mode: 0o755 });
  Deno.chmodSync(merged, 0o755);
  let setup: RootfsSetup | undefined;
  if (choice.backend === "copy") {
    // the copy is made in the child, which is root over the mapped ids, before it enters the root
    const env = Object.entries({ ...Deno.env.toObject(), [USERNS_ENV]: "1" }).map(([k, v]) => `${k}=${v}`);
    const self = selfCommand();
    setup = { run: [{ path: self[0]!, args: [...self, "_storage", "copy", id], env }] };
  } else {
    for (const d of ["upper", "work"]) {
      Deno.mkdirSync(`${dir}/${d}`, { mode: 0o755 });
      Deno.chmodSync(`${dir}/${d}`, 0o755);
    }
    const lowers = opts.shifted ? [shiftedTree(opts.shifted)] : [...image.layers].reverse().map((l) => `layers/${digestHex(l.chainId)}/diff`);
    if (lowers.length === 0) {
      Deno.mkdirSync(`${dir}/empty`, { mode: 0o755 });
      lowers.push(`rootfs/${id}/empty`);
    }
    if (choice.backend === "overlay") {
      // relative to the store root (the child chdirs there): 64-hex names times
      // many layers would not fit mount(2)'s data page as absolute paths
      // Why volatile for a foreground --rm run: its upper layer is thrown away when it exits, so
      // overlayfs need not sync the whole upper filesystem when the container's mount namespace
      // goes (a journal commit of the host's disk on every exit); such storage is mounted once
      // only (no restart with --rm), and a crash leaves it to the sweep of abandoned storage.
      // volatile (Linux 5.10) is older than userxattr (5.11), which this backend needs anyway.
      const data = `lowerdir=${lowers.join(":")},upperdir=rootfs/${id}/upper,workdir=rootfs/${id}/work,userxattr` +
        (opts.autoRemove ? ",volatile" : "");
      if (data.length > MAX_MOUNT_DATA) {
        throw new StoreError(
          `The image "${imageName}" has too many layers (${image.layers.length}) for one overlay mount`,
          {
            hint: "run it with NOOK_STORAGE_BACKEND=fuse-overlayfs",
          },
        );
      }
      setup = { cwd: layout.root, mount: { source: "overlay", target: merged, fstype: "overlay", flags: 0, data } };
    } else {
      const abs = lowers.map((l) => `${layout.root}/${l}`);
      const fuse = choice.fuseOverlayfs ?? "/usr/bin/fuse-overlayfs";
      // another user namespace than the store's: the layers are shown with their image owners at
      // mount time (fuse-overlayfs maps ids per request), never copied or chowned
      const shift = opts.layerShift && !opts.shifted ? `,uidmapping=${opts.layerShift.uid},gidmapping=${opts.layerShift.gid}` : "";
      const mountOpts = `lowerdir=${abs.join(":")},upperdir=${dir}/upper,workdir=${dir}/work,allow_other${shift}`;
      // the daemon keeps its stderr for life: into a log next to the upper
      // layer, not into the container's output
      const sh = findExecutable("sh", "/usr/bin:/bin");
      const run = sh
        ? {
          path: sh,
          args: ["sh", "-c", 'exec "$0" "$@" 2>>"$LOG"', fuse, "-o", mountOpts, merged],
          env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", `LOG=${dir}/fuse-overlayfs.log`],
        }
        : { path: fuse, args: ["fuse-overlayfs", "-o", mountOpts, merged], env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] };
      setup = { run: [run], leaveHelpersBehind: true };
    }
  }
  crashPoint("create.rootfs"); // its directories are made, the pin on the image's layers is not
  const tmp = `${dir}/rootfs.json.tmp`;
  Deno.writeTextFileSync(tmp, JSON.stringify(record) + "\n");
  Deno.renameSync(tmp, `${dir}/rootfs.json`);
  return { rootfs: merged, record, lock, ...(setup ? { setup } : {}) };
}

/** Layers of a container as the copy backend needs them, bottom first. */
export function copySources(record: RootfsRecord): { dir: string; opaque: string[] }[] {
  if (record.shifted) return [{ dir: `${storeLayout().root}/${shiftedTree(record.shifted)}`, opaque: [] }];
  return record.layers.map((c) => ({ dir: layerDiff(c), opaque: readLayerInfo(c)?.opaque ?? [] }));
}

/**
 * Remove everything a container has in the store: its copy-on-write storage
 * (the upper layer may hold files of subordinate ids), its claims on volumes,
 * and the anonymous volumes only it used. Safe to call more than once; the
 * container lifecycle (`rm`, `run --rm`) calls this.
 */
export async function removeContainerStorage(id: string, lock?: Deno.FsFile): Promise<void> {
  try {
    lock?.close();
  } catch {
    // closed already
  }
  const anonymous = releaseContainerVolumes(id);
  await removeTrees([rootfsDir(id), ...anonymous.map((n) => volumeDir(n))]);
}

/**
 * The backend for a container whose user namespace differs from the
 * store's: kernel overlayfs cannot shift ids here (an id-mapped mount of the
 * layers needs privilege over their filesystem, which a user namespace does
 * not have), fuse-overlayfs can.
 */
function shiftingBackend(choice: BackendChoice): BackendChoice {
  if (choice.backend === "fuse-overlayfs") return choice;
  const fuse = choice.fuseOverlayfs ?? findExecutable("fuse-overlayfs", `${Deno.env.get("PATH") ?? ""}:/usr/bin:/bin`);
  if (!fuse) {
    throw new StoreError("This user namespace mode needs fuse-overlayfs to show the image's files with their owners", {
      hint: "install it (Debian/Ubuntu: apt install fuse-overlayfs)",
    });
  }
  return { ...choice, backend: "fuse-overlayfs", fuseOverlayfs: fuse };
}
