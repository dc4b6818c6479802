/**
 * Safe layer unpacking: a (gzip, zstd or plain) tar stream into one layer
 * directory, run inside nook's user namespace so that the owners in the
 * archive survive through the subordinate id mapping.
 *
 * nook owns the extraction rules (tar-stream only parses):
 *   - names are cleaned; absolute names and `..` that climbs out are refused;
 *   - every parent directory is opened with openat2(RESOLVE_BENEATH |
 *     RESOLVE_NO_SYMLINKS) from the layer's root, so no write can pass through
 *     a symlink planted by an earlier entry, and nothing outside the layer
 *     directory can be created or changed;
 *   - files are created with O_EXCL|O_NOFOLLOW; hard links must point at a
 *     file of this layer; relative symlinks that climb above the root are refused;
 *   - whiteouts become what overlayfs (kernel, `userxattr`, and fuse-overlayfs)
 *     reads: `.wh.NAME` → a 0/0 character device, `.wh..wh..opq` → the
 *     `user.overlay.opaque` xattr on the directory;
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
 * `./a//b/` → `a/b`. Absolute names and `..` above the root are refused.
 */
export function cleanName(name: string): string {
  if (name.length > MAX_NAME) throw hostile(name.slice(0, 80) + "…", `the name is longer than ${MAX_NAME} bytes`);
  if (name.includes("\0")) throw hostile(name, "the name contains a NUL byte");
  if (name.startsWith("/")) throw hostile(name, "absolute names are not allowed in a layer");
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

interface TarHeader {
  name: string;
  size: number;
  mode: number;
  mtime: Date;
  type: string;
  linkname: string | null;
  uid: number;
  gid: number;
  pax?: Record<string, string> | null;
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
  const tarStream = (await import("tar-stream")).default;

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
  const skippedXattrs = new Set<string>();
  let squashedNote = false;
  let entries = 0;
  let size = 0;
  const idLimit = opts.idLimit ?? 0x1_0000_0000;

  const owner = (h: TarHeader, name: string): [number, number] => {
    const uid = Number(h.pax?.uid ?? h.uid) || 0;
    const gid = Number(h.pax?.gid ?? h.gid) || 0;
    if (opts.squashOwners) {
      if ((uid || gid) && !squashedNote) {
        squashedNote = true;
        note(
          "only one id is mapped, so every file belongs to root in the container (install uidmap for the full mapping)",
        );
      }
      return [0, 0];
    }
    if (uid >= idLimit || gid >= idLimit) {
      throw new UnpackError(
        `The entry "${name}" of ${label} belongs to ${uid}:${gid}, which is not mapped into nook's user namespace`,
        { hint: `only ids below ${idLimit} are mapped; give your user a larger range in /etc/subuid and /etc/subgid` },
      );
    }
    return [uid, gid];
  };
  const mtimeOf = (h: TarHeader): [number, number] => {
    const pax = h.pax?.mtime;
    if (pax && /^\d+(\.\d+)?$/.test(pax)) {
      const [s, frac = ""] = pax.split(".");
      return [Number(s), Number((frac + "000000000").slice(0, 9))];
    }
    const t = h.mtime.getTime();
    return [Number.isFinite(t) ? Math.floor(t / 1000) : 0, 0];
  };
  const xattrs = (h: TarHeader): [string, string][] => {
    const out: [string, string][] = [];
    for (const [k, v] of Object.entries(h.pax ?? {})) {
      if (!k.startsWith("SCHILY.xattr.")) continue;
      const name = k.slice("SCHILY.xattr.".length);
      // user.* is what an unprivileged namespace may set; security.capability
      // and trusted.* values are binary and cannot be carried here.
      if (name.startsWith("user.") && !name.startsWith("user.overlay.")) out.push([name, v]);
      else skippedXattrs.add(name);
    }
    return out;
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
  const dirMeta = (rel: string, uid: number, gid: number, mode: number, attrs: [string, string][], force: boolean) => {
    if (!force && uid === 0 && gid === 0 && (mode & 0o7000) === 0 && attrs.length === 0) return;
    const fd = fs.openDir(rel);
    try {
      if (uid !== 0 || gid !== 0 || force) c.fchown(fd, uid, gid, rel || "/");
      c.fchmod(fd, mode, rel || "/");
      for (const [k, v] of attrs) c.fsetxattr(fd, k, v, rel || "/");
    } finally {
      c.close(fd);
    }
  };

  const handle = (
    h: TarHeader,
    stream: AsyncIterable<Uint8Array> & { resume(): void },
    next: () => void,
  ): Promise<void> | void => {
    entries++;
    const rel = cleanName(h.name);
    const [parentRel, base] = splitPath(rel);
    const mode = h.mode & 0o7777;
    const skip = () => {
      stream.resume();
      next();
    };

    // whiteouts
    if (base.startsWith(WH)) {
      if (h.type === "directory") throw hostile(h.name, "a whiteout cannot be a directory");
      if (base === OPAQUE) {
        fs.dir(parentRel, h.name);
        const fd = fs.openDir(parentRel);
        try {
          c.fsetxattr(fd, "user.overlay.opaque", "y", parentRel || "/");
        } finally {
          c.close(fd);
        }
        opaque.push(parentRel);
      } else {
        const target = base.slice(WH.length);
        if (target === "" || target === "." || target === "..") throw hostile(h.name, "an empty whiteout name");
        const wrel = parentRel ? `${parentRel}/${target}` : target;
        // Why a 0/0 character device: it is overlayfs's whiteout, and the kernel
        // lets a user namespace create exactly this device (and no other).
        make(wrel, h.name, (pfd, b) => c.mknodat(pfd, b, F.S_IFCHR, 0n));
        whiteouts.push(wrel);
      }
      return skip();
    }

    switch (h.type) {
      case "directory": {
        const [uid, gid] = owner(h, h.name);
        const existed = rel === "" || makeDir(rel, h.name, mode & 0o777);
        dirMeta(rel, uid, gid, mode, xattrs(h), existed);
        dirTimes.push([rel, ...mtimeOf(h)]);
        return skip();
      }
      case "file":
      case "contiguous-file": {
        if (rel === "") throw hostile(h.name, "a file cannot replace the layer's root");
        const [uid, gid] = owner(h, h.name);
        const fd = make(
          rel,
          h.name,
          (pfd, b) => c.openat(pfd, b, F.O_WRONLY | F.O_CREAT | F.O_EXCL | F.O_NOFOLLOW | F.O_NOCTTY, mode & 0o777),
        );
        const finish = () => {
          try {
            if (uid !== 0 || gid !== 0) c.fchown(fd, uid, gid, rel);
            // after chown, which clears the setuid/setgid bits
            if (uid !== 0 || gid !== 0 || (mode & 0o7000) !== 0) c.fchmod(fd, mode, rel);
            for (const [k, v] of xattrs(h)) c.fsetxattr(fd, k, v, rel);
            const [s, ns] = mtimeOf(h);
            c.futimes(fd, s, ns);
          } finally {
            c.close(fd);
          }
        };
        if (h.size === 0) {
          finish();
          return skip();
        }
        return (async () => {
          try {
            for await (const chunk of stream) c.writeAll(fd, chunk, rel);
          } catch (err) {
            c.close(fd);
            throw err;
          }
          finish();
          next();
        })();
      }
      case "link": {
        if (!h.linkname) throw hostile(h.name, "a hard link without a target");
        const target = cleanName(h.linkname);
        if (target === "" || target === rel) throw hostile(h.name, `a hard link to "${h.linkname}"`);
        const [tparent, tbase] = splitPath(target);
        const tst = c.lstatat(fs.dir(tparent, h.name), tbase);
        if (!tst) throw hostile(h.name, `it is a hard link to "${h.linkname}", which is not in this layer (before it)`);
        if ((tst.mode & F.S_IFMT) === F.S_IFDIR) throw hostile(h.name, "a hard link to a directory");
        // the target's directory is resolved again inside: a replacement may have dropped cached fds
        make(rel, h.name, (pfd, b) => c.linkat(fs.dir(tparent, h.name), tbase, pfd, b));
        return skip();
      }
      case "symlink": {
        if (rel === "") throw hostile(h.name, "a symlink cannot replace the layer's root");
        const target = h.linkname ?? "";
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
        const [s, ns] = mtimeOf(h);
        c.lutimesat(pfd, base, s, ns);
        return skip();
      }
      case "fifo": {
        const [uid, gid] = owner(h, h.name);
        make(rel, h.name, (pfd, b) => c.mknodat(pfd, b, F.S_IFIFO | (mode & 0o777)));
        if (uid !== 0 || gid !== 0) c.lchownat(fs.dir(parentRel, h.name), base, uid, gid);
        return skip();
      }
      case "character-device":
      case "block-device":
        devices.push(rel);
        return skip();
      default:
        note(`skipped "${h.name}": tar entry type "${h.type}" is not supported`);
        return skip();
    }
  };

  const extract = tarStream.extract();
  let failure: unknown;
  let onFailure: (err: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => (onFailure = reject));
  failed.catch(() => {});
  const fail = (err: unknown) => {
    if (failure) return;
    failure = err;
    onFailure(err);
    extract.destroy(err as Error);
  };
  extract.on("entry", (header, stream, next) => {
    // a destroyed parser destroys the entry's stream with the same error: it is ours already
    stream.on("error", () => {});
    if (failure) return;
    try {
      const p = handle(header as unknown as TarHeader, stream as never, () => next());
      if (p) p.catch(fail);
    } catch (err) {
      fail(err);
    }
  });
  const extracted = new Promise<void>((resolve, reject) => {
    extract.on("finish", () => resolve());
    extract.on("error", (err: Error) => reject(failure ?? err));
    extract.on("close", () => (failure ? reject(failure) : resolve()));
  });
  extracted.catch(() => {});
  // acks held back until the parser drains (one listener, not one per chunk)
  const pendingAcks: (() => void)[] = [];
  extract.on("drain", () => {
    for (const ack of pendingAcks.splice(0)) ack();
  });

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
      onOut: (chunk, ack) => {
        if (failure) return ack();
        if (pendingAcks.length || !extract.write(chunk)) {
          if (pendingAcks.length) extract.write(chunk);
          pendingAcks.push(ack);
        } else ack();
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
    if (!failure) (extract as unknown as { end(): void }).end();
    await Promise.race([extracted, failed]);
  } catch (err) {
    Deno.umask(oldUmask);
    await iter.return?.();
    inflater.discard();
    fs.close();
    const e = failure ?? err;
    if (isDiskFull(e) && !(e instanceof NookError && e.code === "ENOSPC")) throw diskFull(label, e);
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
  if (skippedXattrs.size) note(`skipped extended attributes outside user.*: ${[...skippedXattrs].join(", ")}`);
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
