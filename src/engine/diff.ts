/**
 * What a container changed in its root, as podman's `diff` lists it: A (added), C (changed), D
 * (deleted), one path each. With an overlay backend (kernel overlayfs, fuse-overlayfs) the
 * container's upper directory is exactly its changes: a 0/0 character device (or fuse-overlayfs'
 * `.wh.NAME`) is a deletion, an entry that the image has too is a change, anything else an
 * addition; an opaque directory hides what the image had below it. With the copy backend the
 * container's copy is compared with the image's layers.
 *
 * Reads files of subordinate ids: runs inside nook's user namespace.
 *
 * @module
 */
import * as c from "../libc/mod.ts";
import { F } from "../libc/mod.ts";
import { listInLayers, lstatInLayers, unionOf } from "../overlay/union.ts";
import { containerStorage, rootfsDir, type RootfsRecord } from "../store/container_storage.ts";
import { ContainerError } from "./errors.ts";

/** One changed path. */
export interface Change {
  /** A (added), C (changed) or D (deleted). */
  kind: "A" | "C" | "D";
  /** Absolute path inside the container. */
  path: string;
}

type Layers = ReturnType<typeof unionOf>;

/** The storage record of a container, or a clear error when it has none (a --rootfs or the built-in image). */
export function storageOf(id: string, name: string): RootfsRecord {
  const rec = containerStorage(id);
  if (!rec) {
    throw new ContainerError(`The container "${name}" has no image storage to compare with`, {
      hint: "diff and commit work on containers made from an image (not --rootfs or the built-in hello)",
    });
  }
  return rec;
}

/** True when a directory is marked opaque (overlay's `user.`/`trusted.overlay.opaque`, fuse-overlayfs' own). */
export function isOpaqueDir(path: string): boolean {
  let fd: number;
  try {
    fd = c.openat(F.AT_FDCWD, path, F.O_RDONLY | F.O_NOFOLLOW | F.O_CLOEXEC | F.O_DIRECTORY);
  } catch {
    return false;
  }
  try {
    for (const name of ["user.overlay.opaque", "trusted.overlay.opaque", "user.fuseoverlayfs.opaque"]) {
      const v = c.fgetxattr(fd, name);
      if (v && new TextDecoder().decode(v) === "y") return true;
    }
  } finally {
    c.close(fd);
  }
  try {
    Deno.lstatSync(`${path}/.wh..wh..opq`);
    return true;
  } catch {
    return false;
  }
}

function lstat(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch {
    return undefined;
  }
}

const isWhiteout = (st: Deno.FileInfo) => st.isCharDevice === true && st.rdev === 0;

/** The changes of container `id` (sorted by path). */
export function containerChanges(id: string, name = id.slice(0, 12)): Change[] {
  const rec = storageOf(id, name);
  const layers = unionOf(rec.layers);
  const dir = rootfsDir(id);
  const out = rec.backend === "copy" ? copyChanges(`${dir}/merged`, layers) : upperChanges(`${dir}/upper`, layers);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Every path under `rel` in the image, for the D lines of a directory that was replaced. */
function deletedUnder(layers: Layers, rel: string, keep: Set<string>, out: Change[]): void {
  for (const n of listInLayers(layers, rel)) {
    if (!keep.has(n)) out.push({ kind: "D", path: `/${rel ? `${rel}/` : ""}${n}` });
  }
}

function upperChanges(upper: string, layers: Layers): Change[] {
  const out: Change[] = [];
  const walk = (rel: string) => {
    const host = rel ? `${upper}/${rel}` : upper;
    let names: string[];
    try {
      names = [...Deno.readDirSync(host)].map((e) => e.name);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw err;
    }
    for (const n of names) {
      if (n === ".wh..wh..opq") continue;
      const r = rel ? `${rel}/${n}` : n;
      const st = lstat(`${upper}/${r}`);
      if (!st) continue;
      if (n.startsWith(".wh.")) {
        // fuse-overlayfs' whiteout file, where it could not make a device
        out.push({ kind: "D", path: `/${rel ? `${rel}/` : ""}${n.slice(4)}` });
        continue;
      }
      if (isWhiteout(st)) {
        if (lstatInLayers(layers, r)) out.push({ kind: "D", path: `/${r}` });
        continue;
      }
      const inImage = lstatInLayers(layers, r);
      out.push({ kind: inImage ? "C" : "A", path: `/${r}` });
      if (st.isDirectory) {
        if (inImage?.[1].isDirectory && isOpaqueDir(`${upper}/${r}`)) deletedUnder(layers, r, new Set(), out);
        walk(r);
      }
    }
  };
  walk("");
  return out;
}

function sameEntry(a: Deno.FileInfo, b: Deno.FileInfo, ha: string, hb: string): boolean {
  if (a.isDirectory !== b.isDirectory || a.isFile !== b.isFile || a.isSymlink !== b.isSymlink) return false;
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (a.isSymlink) return Deno.readLinkSync(ha) === Deno.readLinkSync(hb);
  if (a.isDirectory) return true;
  if (a.size !== b.size) return false;
  if (a.mtime?.getTime() === b.mtime?.getTime()) return true;
  return equalFiles(ha, hb);
}

function equalFiles(a: string, b: string): boolean {
  using fa = Deno.openSync(a, { read: true });
  using fb = Deno.openSync(b, { read: true });
  const ba = new Uint8Array(1 << 16);
  const bb = new Uint8Array(1 << 16);
  for (;;) {
    const na = fa.readSync(ba) ?? 0;
    let nb = 0;
    while (nb < na) {
      const n = fb.readSync(bb.subarray(nb, na));
      if (!n) break;
      nb += n;
    }
    if (na !== nb) return false;
    if (na === 0) return true;
    for (let i = 0; i < na; i++) if (ba[i] !== bb[i]) return false;
  }
}

function copyChanges(root: string, layers: Layers): Change[] {
  const out: Change[] = [];
  const walk = (rel: string) => {
    const host = rel ? `${root}/${rel}` : root;
    const names = new Set([...Deno.readDirSync(host)].map((e) => e.name));
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const st = lstat(`${root}/${r}`);
      if (!st) continue;
      const inImage = lstatInLayers(layers, r);
      if (!inImage) {
        out.push({ kind: "A", path: `/${r}` });
        if (st.isDirectory) addAll(r);
        continue;
      }
      const changed = !sameEntry(st, inImage[1], `${root}/${r}`, inImage[0]);
      const before = out.length;
      if (st.isDirectory) {
        if (inImage[1].isDirectory) walk(r);
        else addAll(r);
      } else if (inImage[1].isDirectory) deletedUnder(layers, r, new Set(), out);
      // a directory whose entries changed is changed, as its copied-up counterpart in overlay's upper is
      if (changed || out.length > before) out.push({ kind: "C", path: `/${r}` });
    }
    deletedUnder(layers, rel, names, out);
  };
  const addAll = (rel: string) => {
    for (const e of Deno.readDirSync(`${root}/${rel}`)) {
      out.push({ kind: "A", path: `/${rel}/${e.name}` });
      if (e.isDirectory) addAll(`${rel}/${e.name}`);
    }
  };
  walk("");
  return out;
}
