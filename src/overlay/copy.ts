/**
 * The last-resort backend: a private copy of an image's layers, applied
 * bottom to top with overlay semantics (whiteouts delete, opaque directories
 * hide what is below), owners, modes, times, hard links and user.* xattrs
 * kept. Regular files are copied with copy_file_range, which the kernel turns
 * into a reflink on filesystems that share extents (btrfs, xfs). Runs inside
 * nook's user namespace (the files belong to subordinate ids).
 */
import * as c from "../libc/mod.ts";
import { F } from "../libc/mod.ts";

interface Source {
  dir: string;
  opaque: readonly string[];
}

function remove(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** Ids on disk → ids to write (a shifted copy); identity when absent. */
export type IdShift = (uid: number, gid: number) => [number, number];

let shift: IdShift = (u, g) => [u, g];

/** Owner, mode, user.* xattrs and mtime of `src` onto `dest` (a file or directory). */
function meta(dest: string, src: string, st: c.Stat): void {
  const fd = c.openat(F.AT_FDCWD, dest, F.O_RDONLY | F.O_NOFOLLOW);
  const sfd = c.openat(F.AT_FDCWD, src, F.O_RDONLY | F.O_NOFOLLOW);
  try {
    c.fchown(fd, ...shift(st.uid, st.gid), dest);
    c.fchmod(fd, st.mode & 0o7777, dest);
    for (const name of c.flistxattr(sfd)) {
      if (!name.startsWith("user.") || name.startsWith("user.overlay.")) continue;
      const v = c.fgetxattr(sfd, name);
      if (v) c.fsetxattr(fd, name, v, dest);
    }
    c.futimes(fd, st.mtime[0], st.mtime[1]);
  } finally {
    c.close(sfd);
    c.close(fd);
  }
}

function applyDir(src: string, dest: string, rel: string, opaque: Set<string>, links: Map<bigint, string>): void {
  if (opaque.has(rel)) {
    for (const e of Deno.readDirSync(dest)) remove(`${dest}/${e.name}`);
  }
  for (const e of Deno.readDirSync(src)) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    const s = `${src}/${e.name}`;
    const d = `${dest}/${e.name}`;
    const st = c.lstatat(F.AT_FDCWD, s)!;
    const type = st.mode & F.S_IFMT;
    if (type === F.S_IFCHR && st.rdev[0] === 0 && st.rdev[1] === 0) {
      remove(d); // a whiteout
      continue;
    }
    const have = c.lstatat(F.AT_FDCWD, d);
    if (type === F.S_IFDIR) {
      if (have && (have.mode & F.S_IFMT) !== F.S_IFDIR) remove(d);
      if (!have || (have.mode & F.S_IFMT) !== F.S_IFDIR) Deno.mkdirSync(d, { mode: 0o700 });
      applyDir(s, d, r, opaque, links);
      meta(d, s, st);
      continue;
    }
    if (have) remove(d);
    if (type === F.S_IFREG) {
      const first = st.nlink > 1 ? links.get(st.ino) : undefined;
      if (first) {
        Deno.linkSync(first, d);
        continue;
      }
      Deno.copyFileSync(s, d);
      if (st.nlink > 1) links.set(st.ino, d);
      meta(d, s, st);
    } else if (type === F.S_IFLNK) {
      Deno.symlinkSync(Deno.readLinkSync(s), d);
      c.lchownat(F.AT_FDCWD, d, ...shift(st.uid, st.gid));
      c.lutimesat(F.AT_FDCWD, d, st.mtime[0], st.mtime[1]);
    } else if (type === F.S_IFIFO) {
      c.mknodat(F.AT_FDCWD, d, F.S_IFIFO | (st.mode & 0o777));
      c.lchownat(F.AT_FDCWD, d, ...shift(st.uid, st.gid));
    }
  }
}

/**
 * Copy layers (bottom first) into `dest` (an existing, empty directory); with `idShift`, every
 * owner is written shifted (a copy of an image for a container whose mapping differs).
 */
export function copyLayers(dest: string, layers: readonly Source[], idShift?: IdShift): void {
  const old = Deno.umask(0);
  const before = shift;
  if (idShift) shift = idShift;
  try {
    for (const layer of layers) {
      // hard links are kept within a layer (each layer's inode numbers are its own)
      applyDir(layer.dir, dest, "", new Set(layer.opaque), new Map());
      const st = c.lstatat(F.AT_FDCWD, layer.dir);
      if (st) meta(dest, layer.dir, st);
    }
  } finally {
    shift = before;
    Deno.umask(old);
  }
}
