/**
 * The shifted copy: where fuse-overlayfs cannot show an image's files with other owners (not
 * installed, /dev/fuse closed to the user, or `NOOK_ID_SHIFT=copy`), a container whose mapping
 * differs from the store's (`--userns=keep-id`, `nomap`, `--uidmap`) runs on a copy of the
 * image's layers whose owners are written shifted. The copy is made once per image and mapping,
 * under `shifted/<key>/`, and shared by every container with that mapping (as the lower layer of
 * its overlay, or the source of its private copy).
 *
 * A copy is a transaction: it is made under `shifted/<key>.partial-<pid>-<start>/` while the
 * store lock is held shared, and renamed into place in one step when complete. A nook killed
 * halfway leaves a partial whose process is gone; the next copy (or the store's garbage
 * collection, under the exclusive lock) removes it. A reader never sees half a copy.
 *
 * @module
 */
import type { IdRange } from "../userns/mod.ts";
import { findExecutable } from "../userns/mod.ts";
import { storeLayout } from "../store/layout.ts";

/** The owners' shift of a copy: ranges image id (inside) → id on disk where the copy is made (outside). */
export interface IdShiftRanges {
  /** uids. */
  uid: IdRange[];
  /** gids. */
  gid: IdRange[];
}

/** What `shifted/<key>/shift.json` records. */
export interface ShiftedRecord {
  /** The image's ID. */
  image: string;
  /** The shift. */
  shift: IdShiftRanges;
  /** When it was made (RFC 3339). */
  created: string;
}

/** `shifted/` of the store. */
export function shiftedRoot(root?: string): string {
  return `${storeLayout(root).root}/shifted`;
}

/** The key of a copy: the image and the shift, hashed (SHA-256, 32 hex digits). */
export async function shiftKey(image: string, shift: IdShiftRanges): Promise<string> {
  const text = JSON.stringify([image, shift.uid.map((r) => [r.inside, r.outside, r.count]), shift.gid.map((r) => [r.inside, r.outside, r.count])]);
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(d.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The tree of a finished copy (relative to the store's root, as overlay lowerdirs are). */
export function shiftedTree(key: string): string {
  return `shifted/${key}/tree`;
}

/** True when the copy of `key` is complete (renamed into place). */
export function shiftedExists(key: string): boolean {
  try {
    return Deno.statSync(`${shiftedRoot()}/${key}/shift.json`).isFile;
  } catch {
    return false;
  }
}

/**
 * Why the layers must be copied for another mapping here, or undefined when fuse-overlayfs can
 * show them shifted at mount time (the way that copies nothing).
 */
export function shiftCopyReason(): string | undefined {
  const over = Deno.env.get("NOOK_ID_SHIFT");
  if (over === "copy") return "NOOK_ID_SHIFT=copy asks for it";
  if (!findExecutable("fuse-overlayfs", `${Deno.env.get("PATH") ?? ""}:/usr/bin:/bin`)) {
    return "fuse-overlayfs is not installed (apt install fuse-overlayfs)";
  }
  try {
    Deno.openSync("/dev/fuse", { read: true, write: true }).close();
  } catch (err) {
    return `/dev/fuse cannot be opened (${err instanceof Deno.errors.PermissionDenied ? "permission denied" : (err as Error).message})`;
  }
  return undefined;
}

/** A partial copy's directory name for this process: `<key>.partial-<pid>-<start time>`. */
export function partialName(key: string, pid: number, start: number): string {
  return `${key}.partial-${pid}-${start}`;
}

/** Partials in `shifted/` whose process is gone (`alive` tells), by directory name. */
export function abandonedPartials(alive: (pid: number, start: number) => boolean): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(shiftedRoot())) {
      const m = /^[0-9a-f]{32}\.partial-(\d+)-(\d+)$/.exec(e.name);
      if (m && !alive(Number(m[1]), Number(m[2]))) out.push(e.name);
    }
  } catch {
    // none yet
  }
  return out;
}

/** Every finished copy: key → its record. */
export function listShifted(root?: string): Map<string, ShiftedRecord> {
  const out = new Map<string, ShiftedRecord>();
  try {
    for (const e of Deno.readDirSync(shiftedRoot(root))) {
      if (!/^[0-9a-f]{32}$/.test(e.name)) continue;
      try {
        out.set(e.name, JSON.parse(Deno.readTextFileSync(`${shiftedRoot(root)}/${e.name}/shift.json`)) as ShiftedRecord);
      } catch {
        // no record: not finished (cannot happen after the rename), left to the collection
      }
    }
  } catch {
    // none yet
  }
  return out;
}

/** The shift as a function over ids (unmapped ids stay as they are). */
export function shiftFunction(shift: IdShiftRanges): (uid: number, gid: number) => [number, number] {
  const one = (ranges: readonly IdRange[], id: number) => {
    for (const r of ranges) if (id >= r.inside && id < r.inside + r.count) return r.outside + id - r.inside;
    return id;
  };
  return (uid, gid) => [one(shift.uid, uid), one(shift.gid, gid)];
}
