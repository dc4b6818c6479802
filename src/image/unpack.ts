/**
 * Safe layer unpacking: a (gzip, zstd or plain) tar stream into one layer
 * directory, run inside nook's user namespace so that the owners in the
 * archive survive through the subordinate id mapping.
 *
 * nook owns the extraction rules (_tar.ts only parses, every dialect Go's
 * archive/tar reads):
 *   - names are cleaned: a leading `/` or `./` names the layer's root, and
 *     `..` that climbs out is refused;
 *   - every parent directory is opened with openat2(RESOLVE_BENEATH |
 *     RESOLVE_NO_SYMLINKS) from the layer's root, so no write can pass through
 *     a symlink planted by an earlier entry, and nothing outside the layer
 *     directory can be created or changed;
 *   - files are created with O_EXCL|O_NOFOLLOW (a later entry of the same
 *     name replaces an earlier one); sparse files are written with pwrite, so
 *     their holes stay holes; hard links must point at a file of this layer,
 *     before or after them; relative symlinks that climb above the root are refused;
 *   - whiteouts, as `.wh.NAME` entries or overlay's 0/0 character devices,
 *     become what overlayfs (kernel, `userxattr`, and fuse-overlayfs) reads:
 *     a 0/0 character device; opaque directories (`.wh..wh..opq`, or a
 *     directory carrying `trusted.overlay.opaque=y`) get `user.overlay.opaque`;
 *   - extended attributes: `user.*` and `security.capability` are set (see
 *     {@link capabilityForUserns}); the others are listed under `--debug`;
 *   - device nodes are skipped with a note (rootless cannot mknod them).
 *
 * npm and `node:` modules are imported dynamically: this file is never on
 * the path of `nook run`.
 *
 * @module
 */
import { DISK_FULL_HINT, isDiskFull, NookError } from "../errors/mod.ts";
import { projectUrl } from "../paths/project.ts";
import * as c from "../libc/mod.ts";
import { F, LibcError } from "../libc/mod.ts";
import { TarError, type TarHeader, TarReader, type TarSink } from "./_tar.ts";

/** A layer could not be unpacked: a corrupt stream or a hostile entry. */
export class UnpackError extends NookError {}

/** Unpacking `label` ran out of space (the partial layer is removed by the caller). */
function diskFull(label: string, cause: unknown): UnpackError {
  return new UnpackError(`No space left on device while unpacking ${label}`, {
    code: "ENOSPC",
    cause,
    hint: DISK_FULL_HINT,
  });
}

/** Options of {@link unpackLayer}. */
export interface UnpackOptions {
  /** Store every owner as 0 (single-id mapping: no other id exists). */
  squashOwners?: boolean;
  /** Highest uid/gid that exists in the namespace + 1 (owners beyond it are an error). */
  idLimit?: number;
  /** Where notes go (skipped device nodes…); default: collected in the result only. */
  onNote?: (text: string) => void;
  /** Name of the layer for messages. */
  label?: string;
  /** Where `--debug` detail goes (extended attributes that were not set…). */
  onDebug?: (text: string) => void;
  /** Called with the number of compressed bytes consumed so far. */
  onProgress?: (bytes: number) => void;
}

/** What {@link unpackLayer} did. */
export interface UnpackResult {
  /** sha256 of the input as given (compressed): the blob digest, "sha256:…". */
  digest: string;
  /** sha256 of the uncompressed tar, "sha256:…" (the layer's diff ID). */
  diffId: string;
  /** Uncompressed size in bytes. */
  size: number;
  /** Number of tar entries. */
  entries: number;
  /** Directories marked opaque (paths relative to the layer root). */
  opaque: string[];
  /** Paths that are whiteouts (relative to the layer root). */
  whiteouts: string[];
  /** Compression of the input. */
  compression: "gzip" | "zstd" | "none";
  /** Notes for the user (skipped entries). */
  notes: string[];
}

/** Compression of a byte stream from its first bytes. */
export function sniffCompression(head: Uint8Array): "gzip" | "zstd" | "none" | "bzip2" | "xz" {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  if (head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return "bzip2";
  if (head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58) return "xz";
  return "none";
}

const MAX_NAME = 4096;
const WH = ".wh.";
const OPAQUE = ".wh..wh..opq";
const RESOLVE = F.RESOLVE_BENEATH | F.RESOLVE_NO_SYMLINKS | F.RESOLVE_NO_MAGICLINKS | F.RESOLVE_NO_XDEV;
const MAX_CACHED_DIRS = 512;

/** A refused entry: the message names the entry and the rule. */
function hostile(name: string, why: string): UnpackError {
  return new UnpackError(`Refusing to unpack the entry "${name}": ${why}`, {
    hint: "the archive is malformed or hostile; nothing outside the layer directory was touched",
  });
}

/**
 * Clean a member name into a path relative to the layer root ("" = the root):
 * `./a//b/` → `a/b`, `/a` → `a` (a leading `/` names the layer's root, as
 * docker, containers/storage and GNU tar read it: umoci writes `/` for the
 * root itself). `..` that climbs above the root is refused.
 */
export function cleanName(name: string): string {
  if (name.length > MAX_NAME) throw hostile(name.slice(0, 80) + "…", `the name is longer than ${MAX_NAME} bytes`);
  if (name.includes("\0")) throw hostile(name, "the name contains a NUL byte");
  const out: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) throw hostile(name, 'the name climbs out of the layer with ".."');
      out.pop();
    } else out.push(part);
  }
  return out.join("/");
}

/** True when a relative symlink target, read from the link's directory, climbs above the root. */
export function symlinkEscapes(linkPath: string, target: string): boolean {
  if (target.startsWith("/")) return false; // resolved inside the container's root by the kernel
  let depth = linkPath.split("/").length - 1;
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (--depth < 0) return true;
    } else depth++;
  }
  return false;
}

function splitPath(path: string): [string, string] {
  const i = path.lastIndexOf("/");
  return i < 0 ? ["", path] : [path.slice(0, i), path.slice(i + 1)];
}

/** The layer directory, written only through fds resolved beneath its root. */
class LayerFs {
  readonly root: number;
  private dirs = new Map<string, number>();

  constructor(readonly path: string) {
    this.root = c.openat(F.AT_FDCWD, path, F.O_PATH | F.O_DIRECTORY | F.O_NOFOLLOW);
    this.dirs.set("", this.root);
  }

  /** fd of directory `rel` (O_PATH), creating missing ones (0755, owned by 0) like tar does. */
  dir(rel: string, entry: string): number {
    const cached = this.dirs.get(rel);
    if (cached !== undefined) return cached;
    let fd: number;
    try {
      fd = c.openat2(this.root, rel, F.O_PATH | F.O_DIRECTORY, 0, RESOLVE);
    } catch (err) {
      if (!(err instanceof LibcError)) throw err;
      if (err.code === "ELOOP" || err.code === "EXDEV") {
        throw hostile(
          entry,
          `its parent "${rel}" is or passes through a symlink; writing through it could leave the layer`,
        );
      }
      if (err.code === "ENOTDIR") throw hostile(entry, `a parent of it ("${rel}") is not a directory`);
      if (err.code !== "ENOENT") throw err;
      const [parent, base] = splitPath(rel);
      const pfd = this.dir(parent, entry);
      try {
        c.mkdirat(pfd, base, 0o755);
      } catch (e) {
        if (!(e instanceof LibcError && e.code === "EEXIST")) throw e;
      }
      fd = c.openat2(this.root, rel, F.O_PATH | F.O_DIRECTORY, 0, RESOLVE);
    }
    if (this.dirs.size >= MAX_CACHED_DIRS) this.forget();
    this.dirs.set(rel, fd);
    return fd;
  }

  /** Open a directory for reading/metadata (O_RDONLY), beneath the root, without symlinks. */
  openDir(rel: string): number {
    return rel === ""
      ? c.openat(this.root, ".", F.O_RDONLY | F.O_DIRECTORY)
      : c.openat2(this.root, rel, F.O_RDONLY | F.O_DIRECTORY, 0, RESOLVE);
  }

  /** Drop cached directory fds (after something was removed or replaced). */
  forget(): void {
    for (const [k, fd] of this.dirs) if (k !== "") c.close(fd);
    this.dirs = new Map([["", this.root]]);
  }

  /** Remove whatever is at parent/base (a tree when it is a directory). */
  remove(pfd: number, rel: string, base: string): void {
    const st = c.lstatat(pfd, base);
    if (!st) return;
    if ((st.mode & F.S_IFMT) === F.S_IFDIR) {
      // Rust's remove_dir_all (Deno.removeSync) works with openat/unlinkat and
      // never follows symlinks; the path's parents were checked by dir().
      Deno.removeSync(`${this.path}/${rel}`, { recursive: true });
      this.forget();
    } else {
      c.unlinkat(pfd, base);
    }
  }

  close(): void {
    this.forget();
    c.close(this.root);
  }
}

/** `security.capability` revisions (linux/capability.h). */
const VFS_CAP_REVISION_2 = 0x02000000;
const VFS_CAP_REVISION_3 = 0x03000000;
const VFS_CAP_SZ_2 = 20;
const VFS_CAP_SZ_3 = 24;

/**
 * The value of `security.capability` to write inside nook's user namespace,
 * or undefined when it cannot be carried (the reason goes to `why`).
 *
 * A v2 value is written as it is: the kernel turns it into v3 with the host
 * id of the namespace's root as the root id (an unprivileged namespace root
 * may not write v2), which makes it effective in any container whose root
 * is that id — every nook container of this user. A v3 value names its
 * root id as seen from the writer's namespace: an image made under a root
 * id other than 0 is rewritten to 0, the container's root, which is what
 * the image means (its root runs it); its capabilities are kept as they are.
 */
export function capabilityForUserns(value: Uint8Array, why: (text: string) => void): Uint8Array | undefined {
  if (value.length < 4) return why("too short"), undefined;
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const magic = view.getUint32(0, true) & 0xff000000;
  if (magic === VFS_CAP_REVISION_2 && value.length === VFS_CAP_SZ_2) return value;
  if (magic === VFS_CAP_REVISION_3 && value.length === VFS_CAP_SZ_3) {
    if (view.getUint32(20, true) === 0) return value;
    const out = value.slice();
    new DataView(out.buffer).setUint32(20, 0, true);
    return out;
  }
  why(`revision ${(magic >>> 24).toString()} of ${value.length} bytes is not one the kernel takes`);
  return undefined;
}

/**
 * Unpack one layer from `input` (compressed or not) into the existing, empty
 * directory `dir`. Resolves with the diff ID; rejects with an
 * {@link UnpackError} for a corrupt stream or a hostile entry (the caller
 * throws the directory away).
 */
export async function unpackLayer(
  input: AsyncIterable<Uint8Array>,
  dir: string,
  opts: UnpackOptions = {},
): Promise<UnpackResult> {
  const label = opts.label ?? dir;
  const notes: string[] = [];
  const note = (text: string) => {
    notes.push(text);
    opts.onNote?.(text);
  };
  const fs = new LayerFs(dir);
  const opaque: string[] = [];
  const whiteouts: string[] = [];
  const dirTimes: [string, number, number][] = [];
  const devices: string[] = [];
  // xattr name → how many entries carried it, and why it was not set
  const skippedXattrs = new Map<string, { count: number; why: string }>();
  // hard links whose target comes later in the layer: name → target, made at the end
  const pendingLinks = new Map<string, { target: string; name: string; linkname: string }>();
  let squashedNote = false;
  let entries = 0;
  let size = 0;
  const idLimit = opts.idLimit ?? 0x1_0000_0000;

  const owner = (h: TarHeader, name: string): [number, number] => {
    const uid = h.uid;
    const gid = h.gid;
    if (opts.squashOwners) {
      if ((uid || gid) && !squashedNote) {
        squashedNote = true;
        note(
          "only one id is mapped, so every file belongs to root in the container (install uidmap for the full mapping)",
        );
      }
      return [0, 0];
    }
    if (uid < 0 || gid < 0 || uid >= idLimit || gid >= idLimit) {
      throw new UnpackError(
        `The entry "${name}" of ${label} belongs to ${uid}:${gid}, which is not mapped into nook's user namespace`,
        { hint: `only ids below ${idLimit} are mapped; give your user a larger range in /etc/subuid and /etc/subgid` },
      );
    }
    return [uid, gid];
  };
  const skipXattr = (name: string, why: string) => {
    const s = skippedXattrs.get(name);
    if (s) s.count++;
    else skippedXattrs.set(name, { count: 1, why });
  };
  /** The attributes of an entry that can be set in the user namespace. */
  const xattrs = (h: TarHeader): [string, Uint8Array][] => {
    if (h.xattrs.length === 0) return [];
    const out: [string, Uint8Array][] = [];
    for (const [name, v] of h.xattrs) {
      if (name === "security.capability") {
        const cap = capabilityForUserns(v, (why) => skipXattr(name, why));
        if (cap) out.push([name, cap]);
      } else if (name.startsWith("user.overlay.") || name.startsWith("trusted.overlay.")) {
        // overlayfs's own state (opaque is read separately): a layer must not steer the mount
        if (!/^(user|trusted)\.overlay\.opaque$/.test(name)) skipXattr(name, "overlayfs state is nook's to write");
      } else if (name.startsWith("user.")) out.push([name, v]);
      else if (name.startsWith("trusted.")) skipXattr(name, "trusted.* needs CAP_SYS_ADMIN on the host");
      else if (name === "security.selinux") skipXattr(name, "SELinux labels are the host's policy");
      else skipXattr(name, "only user.* and security.capability can be set in a user namespace");
    }
    return out;
  };
  const isOpaqueDir = (h: TarHeader): boolean => {
    for (const [name, v] of h.xattrs) {
      if ((name === "trusted.overlay.opaque" || name === "user.overlay.opaque") && v.length === 1 && v[0] === 0x79) {
        return true;
      }
    }
    return false;
  };
  const setXattrs = (fd: number, attrs: [string, Uint8Array][], rel: string) => {
    for (const [k, v] of attrs) {
      try {
        c.fsetxattr(fd, k, v, rel || "/");
      } catch (err) {
        // a filesystem without xattrs, or a value the kernel refuses (a v3 root id it cannot map)
        if (!(err instanceof LibcError && ["ENOTSUP", "EOPNOTSUPP", "EINVAL", "EPERM"].includes(err.code ?? ""))) {
          throw err;
        }
        skipXattr(k, `the kernel refused it (${err.code})`);
      }
    }
  };

  // The layer directory starts empty: creation is tried first, and only a
  // clash (EEXIST) — an entry replacing an earlier one — costs a stat.
  const make = <T>(rel: string, name: string, create: (pfd: number, base: string) => T): T => {
    const [parent, base] = splitPath(rel);
    try {
      return create(fs.dir(parent, name), base);
    } catch (err) {
      if (!(err instanceof LibcError && err.code === "EEXIST")) throw err;
    }
    fs.remove(fs.dir(parent, name), rel, base);
    return create(fs.dir(parent, name), base);
  };
  /** mkdir, keeping a directory that is already there; true when it was there. */
  const makeDir = (rel: string, name: string, mode: number): boolean => {
    const [parent, base] = splitPath(rel);
    const pfd = fs.dir(parent, name);
    try {
      c.mkdirat(pfd, base, mode);
      return false;
    } catch (err) {
      if (!(err instanceof LibcError && err.code === "EEXIST")) throw err;
    }
    const st = c.lstatat(pfd, base);
    if (st && (st.mode & F.S_IFMT) === F.S_IFDIR) return true;
    fs.remove(pfd, rel, base);
    c.mkdirat(fs.dir(parent, name), base, mode);
    return false;
  };
  /** Owner, mode and xattrs of a directory (only what differs from what mkdir gave it). */
  const dirMeta = (
    rel: string,
    uid: number,
    gid: number,
    mode: number,
    attrs: [string, Uint8Array][],
    force: boolean,
  ) => {
    if (!force && uid === 0 && gid === 0 && (mode & 0o7000) === 0 && attrs.length === 0) return;
    const fd = fs.openDir(rel);
    try {
      if (uid !== 0 || gid !== 0 || force) c.fchown(fd, uid, gid, rel || "/");
      c.fchmod(fd, mode, rel || "/");
      setXattrs(fd, attrs, rel);
    } finally {
      c.close(fd);
    }
  };
  const markOpaque = (rel: string, name: string) => {
    fs.dir(rel, name);
    const fd = fs.openDir(rel);
    try {
      c.fsetxattr(fd, "user.overlay.opaque", "y", rel || "/");
    } finally {
      c.close(fd);
    }
    if (!opaque.includes(rel)) opaque.push(rel);
  };
  const whiteout = (wrel: string, name: string) => {
    // Why a 0/0 character device: it is overlayfs's whiteout, and the kernel
    // lets a user namespace create exactly this device (and no other).
    make(wrel, name, (pfd, b) => c.mknodat(pfd, b, F.S_IFCHR, 0n));
    whiteouts.push(wrel);
  };
  /** A hard link at `rel` to `target` (both cleaned); false when the target is not there (yet). */
  const hardLink = (rel: string, target: string, name: string): boolean => {
    const [tparent, tbase] = splitPath(target);
    const tst = c.lstatat(fs.dir(tparent, name), tbase);
    if (!tst) return false;
    if ((tst.mode & F.S_IFMT) === F.S_IFDIR) throw hostile(name, "a hard link to a directory");
    // the target's directory is resolved again inside: a replacement may have dropped cached fds
    make(rel, name, (pfd, b) => c.linkat(fs.dir(tparent, name), tbase, pfd, b));
    return true;
  };

  const handle = (h: TarHeader): TarSink | undefined => {
    entries++;
    const rel = cleanName(h.name);
    const [parentRel, base] = splitPath(rel);
    const mode = h.mode & 0o7777;
    // a later entry of the same name wins over a hard link still waiting for its target
    if (pendingLinks.size) pendingLinks.delete(rel);

    // whiteouts, AUFS form (what docker and the OCI spec write)
    if (base.startsWith(WH)) {
      if (h.type === "5") throw hostile(h.name, "a whiteout cannot be a directory");
      if (base === OPAQUE) markOpaque(parentRel, h.name);
      else {
        const target = base.slice(WH.length);
        if (target === "" || target === "." || target === "..") throw hostile(h.name, "an empty whiteout name");
        whiteout(parentRel ? `${parentRel}/${target}` : target, h.name);
      }
      return undefined;
    }

    switch (h.type) {
      case "5": {
        const [uid, gid] = owner(h, h.name);
        const existed = rel === "" || makeDir(rel, h.name, mode & 0o777);
        dirMeta(rel, uid, gid, mode, xattrs(h), existed);
        // opaque directory, overlayfs form (trusted.overlay.opaque=y, as overlay diffs carry it)
        if (h.xattrs.length && isOpaqueDir(h)) markOpaque(rel, h.name);
        dirTimes.push([rel, h.mtime, h.mtimeNs]);
        return undefined;
      }
      case "0": {
        if (rel === "") throw hostile(h.name, "a file cannot replace the layer's root");
        const [uid, gid] = owner(h, h.name);
        const fd = make(
          rel,
          h.name,
          (pfd, b) => c.openat(pfd, b, F.O_WRONLY | F.O_CREAT | F.O_EXCL | F.O_NOFOLLOW | F.O_NOCTTY, mode & 0o777),
        );
        const sparse = h.sparse;
        let open = true;
        const finish = () => {
          open = false;
          try {
            // a sparse file's holes were skipped, the trailing one too: give it its size
            if (sparse) c.ftruncate(fd, h.size, rel);
            if (uid !== 0 || gid !== 0) c.fchown(fd, uid, gid, rel);
            // after chown, which clears the setuid/setgid bits (and security.capability)
            if (uid !== 0 || gid !== 0 || (mode & 0o7000) !== 0) c.fchmod(fd, mode, rel);
            if (h.xattrs.length) setXattrs(fd, xattrs(h), rel);
            c.futimes(fd, h.mtime, h.mtimeNs);
          } finally {
            c.close(fd);
          }
        };
        openFiles.add(fd);
        return {
          data: sparse ? (chunk, offset) => c.pwriteAll(fd, chunk, offset, rel) : (chunk) => c.writeAll(fd, chunk, rel),
          end: () => {
            openFiles.delete(fd);
            if (open) finish();
          },
        };
      }
      case "1": {
        if (!h.linkname) throw hostile(h.name, "a hard link without a target");
        const target = cleanName(h.linkname);
        if (target === "" || target === rel) throw hostile(h.name, `a hard link to "${h.linkname}"`);
        if (!hardLink(rel, target, h.name)) pendingLinks.set(rel, { target, name: h.name, linkname: h.linkname });
        return undefined;
      }
      case "2": {
        if (rel === "") throw hostile(h.name, "a symlink cannot replace the layer's root");
        const target = h.linkname;
        if (!target || target.length > MAX_NAME || target.includes("\0")) {
          throw hostile(h.name, "a symlink with a bad target");
        }
        if (symlinkEscapes(rel, target)) {
          throw hostile(h.name, `it is a symlink to "${target}", which climbs above the root of the image`);
        }
        const [uid, gid] = owner(h, h.name);
        make(rel, h.name, (pfd, b) => c.symlinkat(target, pfd, b));
        const pfd = fs.dir(parentRel, h.name);
        if (uid !== 0 || gid !== 0) c.lchownat(pfd, base, uid, gid);
        c.lutimesat(pfd, base, h.mtime, h.mtimeNs);
        return undefined;
      }
      case "6": {
        if (rel === "") throw hostile(h.name, "a fifo cannot replace the layer's root");
        const [uid, gid] = owner(h, h.name);
        make(rel, h.name, (pfd, b) => c.mknodat(pfd, b, F.S_IFIFO | (mode & 0o777)));
        if (uid !== 0 || gid !== 0) c.lchownat(fs.dir(parentRel, h.name), base, uid, gid);
        return undefined;
      }
      case "3":
        // whiteout, overlayfs form: a 0/0 character device (what overlay diffs hold)
        if (h.devmajor === 0 && h.devminor === 0 && rel !== "") {
          whiteout(rel, h.name);
          return undefined;
        }
        devices.push(rel);
        return undefined;
      case "4":
        devices.push(rel);
        return undefined;
      default:
        note(`skipped "${h.name}": tar entry type "${printable(h.type)}" is not supported`);
        return undefined;
    }
  };

  const openFiles = new Set<number>();
  const reader = new TarReader(handle);
  let failure: unknown;
  let onFailure: (err: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => (onFailure = reject));
  failed.catch(() => {});
  const fail = (err: unknown) => {
    if (failure) return;
    failure = err;
    onFailure(err);
  };

  const iter = input[Symbol.asyncIterator]();
  let first = await iter.next();
  while (!first.done && first.value.length === 0) first = await iter.next();
  const head = first.done ? new Uint8Array() : first.value;
  const kind = sniffCompression(head);
  if (kind === "bzip2" || kind === "xz") {
    fs.close();
    await iter.return?.();
    throw new UnpackError(`${label} is compressed with ${kind}, which nook does not read`, {
      hint: "OCI layers are gzip, zstd or uncompressed tar",
    });
  }

  // umask 0 while unpacking: entries are created with their own modes, which
  // saves a chmod for most of them. Only nook's unpack process does this.
  const oldUmask = Deno.umask(0);
  const inflater = await Inflater.get();
  let digests: { blob: string; diff: string; size: number };
  try {
    digests = await inflater.run(kind, first, iter, {
      // the reader writes every byte of the chunk before it returns: ack at once
      onOut: (chunk, ack) => {
        if (!failure) {
          try {
            reader.write(chunk);
          } catch (err) {
            fail(err);
          }
        }
        ack();
      },
      failed,
      onProgress: opts.onProgress,
    }).catch((err) => {
      if (failure) throw failure;
      if (isDiskFull(err)) throw diskFull(label, err);
      throw new UnpackError(
        `${label} is not a valid ${kind === "none" ? "tar" : kind} stream: ${(err as Error).message}`,
        {
          cause: err,
          hint: "the download or the archive is truncated or corrupt; pull or load it again",
        },
      );
    });
    if (failure) throw failure;
    reader.end();
    // hard links whose target came later: make them now, chains in any order
    while (pendingLinks.size) {
      let made = 0;
      for (const [rel, l] of pendingLinks) {
        if (hardLink(rel, l.target, l.name)) {
          pendingLinks.delete(rel);
          made++;
        }
      }
      if (made === 0) {
        const [, l] = pendingLinks.entries().next().value!;
        throw hostile(l.name, `it is a hard link to "${l.linkname}", which is not in this layer`);
      }
    }
  } catch (err) {
    Deno.umask(oldUmask);
    for (const fd of openFiles) c.close(fd);
    await iter.return?.();
    inflater.discard();
    fs.close();
    const e = failure ?? err;
    if (isDiskFull(e) && !(e instanceof NookError && e.code === "ENOSPC")) throw diskFull(label, e);
    if (e instanceof TarError) {
      throw new UnpackError(`${label} is not a valid tar stream: ${e.message}`, { cause: e, hint: e.hint ?? "" });
    }
    if (e instanceof NookError) throw e;
    throw new UnpackError(`Cannot unpack ${label}: ${(e as Error).message}`, {
      cause: e,
      hint: "the archive is truncated or not a tar file",
    });
  }
  Deno.umask(oldUmask);
  inflater.release();
  size = digests.size;

  // Directory times last: creating entries in a directory changes its mtime.
  for (const [rel, s, ns] of dirTimes.reverse()) {
    const fd = fs.openDir(rel);
    try {
      c.futimes(fd, s, ns);
    } finally {
      c.close(fd);
    }
  }
  fs.close();
  if (devices.length) {
    note(
      `skipped ${devices.length} device node${devices.length > 1 ? "s" : ""} (${devices.slice(0, 4).join(", ")}${
        devices.length > 4 ? ", …" : ""
      }): rootless containers cannot create devices; nook binds /dev/null and friends from the host`,
    );
  }
  if (skippedXattrs.size) {
    opts.onDebug?.(
      `${label}: extended attributes not set: ${
        [...skippedXattrs].map(([k, s]) => `${k} on ${s.count} entr${s.count > 1 ? "ies" : "y"} (${s.why})`).join(
          ", ",
        )
      }`,
    );
  }
  return {
    digest: `sha256:${digests.blob}`,
    diffId: `sha256:${digests.diff}`,
    size,
    entries,
    opaque,
    whiteouts,
    compression: kind,
    notes,
  };
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** What the main thread does with the worker's output. */
interface InflateSink {
  /** A decompressed chunk; call ack() once it is consumed (backpressure). */
  onOut: (chunk: Uint8Array, ack: () => void) => void;
  /** Rejects when the consumer failed: stop feeding. */
  failed: Promise<never>;
  /** Compressed bytes fed so far. */
  onProgress: ((bytes: number) => void) | undefined;
}

const MAX_IN_FLIGHT = 4;

/** One decompression worker ({@link _inflate_worker.ts}); pooled, so a pull starts it once. */
class Inflater {
  private static idle: Inflater[] = [];
  private handler: ((m: { t: string; [k: string]: unknown }) => void) | undefined;

  private constructor(private worker: Worker) {
    worker.onmessage = (e) => this.handler?.(e.data);
  }

  static get(): Promise<Inflater> {
    const w = Inflater.idle.pop();
    if (w) return Promise.resolve(w);
    return Promise.resolve(
      new Inflater(new Worker(projectUrl("src/image/_inflate_worker.ts").href, { type: "module" })),
    );
  }

  /** Stop every idle worker (the process cannot exit while one lives). */
  static closeAll(): void {
    for (const w of Inflater.idle.splice(0)) w.worker.terminate();
  }

  release(): void {
    this.handler = undefined;
    Inflater.idle.push(this);
  }

  discard(): void {
    this.handler = undefined;
    this.worker.terminate();
  }

  run(
    kind: "gzip" | "zstd" | "none",
    first: IteratorResult<Uint8Array>,
    rest: AsyncIterator<Uint8Array>,
    sink: InflateSink,
  ): Promise<{ blob: string; diff: string; size: number }> {
    return new Promise((resolve, reject) => {
      let inFlight = 0;
      let wake: (() => void) | undefined;
      let done = false;
      this.handler = (m) => {
        switch (m.t) {
          case "out":
            sink.onOut(m.chunk as Uint8Array, () => this.worker.postMessage({ t: "ack" }));
            break;
          case "taken":
            inFlight--;
            wake?.();
            break;
          case "done":
            done = true;
            resolve(m as unknown as { blob: string; diff: string; size: number });
            break;
          case "error":
            done = true;
            reject(new Error(String(m.message)));
            break;
        }
      };
      this.worker.postMessage({ t: "start", kind });
      const feed = async () => {
        let cur = first;
        let fed = 0;
        while (!cur.done && !done) {
          while (inFlight >= MAX_IN_FLIGHT && !done) await new Promise<void>((r) => (wake = r));
          const chunk = cur.value;
          // transfer, never copy — unless the chunk is a window on a larger buffer
          const own = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength ? chunk : chunk.slice();
          fed += own.length;
          inFlight++;
          this.worker.postMessage({ t: "data", chunk: own }, [own.buffer as ArrayBuffer]);
          sink.onProgress?.(fed);
          cur = await rest.next();
        }
        if (!done) this.worker.postMessage({ t: "end" });
      };
      Promise.race([feed(), sink.failed]).catch((err) => {
        done = true;
        reject(err);
      });
    });
  }
}

/** Stop the pooled decompression workers; call when a command has unpacked everything. */
export function closeUnpackWorkers(): void {
  Inflater.closeAll();
}
