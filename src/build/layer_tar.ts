/**
 * A layer from a directory: a deterministic tar (names sorted, PAX records for long names,
 * large ids and extended attributes) of a build step's changes, gzip-compressed, hashed twice
 * as it goes (diff ID of the tar, digest of the blob) and written to a file once.
 *
 * The directory is in overlay's format (a RUN step's upper directory, or the layer nook made for
 * COPY/ADD): a 0/0 character device is a deletion and becomes a `.wh.NAME` entry; a directory
 * with `user.overlay.opaque` (or `trusted.overlay.opaque`) gets a `.wh..wh..opq` entry; hard
 * links become link entries; owners, modes, `user.*` attributes and file capabilities
 * (`security.capability`) are kept; overlay's own attributes are not. Runs inside nook's user
 * namespace, where every owner can be read.
 *
 * @module
 */
import * as c from "../libc/mod.ts";
import { F } from "../libc/mod.ts";
import { tarHeaderBlocks } from "../image/tar_pax.ts";
import { BuildError } from "./containerfile.ts";

/** What writing a layer produced. */
export interface LayerBlob {
  /** Digest of the gzip blob. */
  digest: string;
  /** Size of the blob. */
  size: number;
  /** Digest of the uncompressed tar. */
  diffId: string;
  /** Size of the uncompressed tar. */
  tarSize: number;
  /** Directories marked opaque (relative paths). */
  opaque: string[];
}

/** How entry times are written. */
export interface TimePolicy {
  /** Every entry gets this time (`--timestamp`). */
  set?: number;
  /** Times after this are clamped to it (`SOURCE_DATE_EPOCH`). */
  clamp?: number;
}

const KEEP_XATTR = /^(user\.|security\.capability$)/;
const OVERLAY_XATTR = /^(user|trusted)\.overlay\./;

function xattrsOf(path: string, isLink: boolean): { keep: [string, Uint8Array][]; opaque: boolean } {
  if (isLink) return { keep: [], opaque: false };
  let fd: number;
  try {
    fd = c.openat(F.AT_FDCWD, path, F.O_RDONLY | F.O_NOFOLLOW | F.O_CLOEXEC | F.O_NOCTTY);
  } catch {
    return { keep: [], opaque: false };
  }
  try {
    const keep: [string, Uint8Array][] = [];
    let opaque = false;
    for (const name of c.flistxattr(fd).sort()) {
      if (OVERLAY_XATTR.test(name)) {
        if (/\.overlay\.opaque$/.test(name)) opaque = new TextDecoder().decode(c.fgetxattr(fd, name) ?? new Uint8Array()) === "y";
        continue;
      }
      if (!KEEP_XATTR.test(name)) continue;
      const v = c.fgetxattr(fd, name);
      if (v) keep.push([name, v]);
    }
    return { keep, opaque };
  } finally {
    c.close(fd);
  }
}

/** How a layer blob is compressed: gzip (the default), zstd, or not at all (a plain tar). */
export type LayerCompression = "gzip" | "zstd" | "none";

/** A pass-through stream for uncompressed output, with the few stream methods writeLayer uses. */
async function plainStream(): Promise<import("node:stream").Transform> {
  const { PassThrough } = await import("node:stream");
  return new PassThrough();
}

/**
 * Write the tar of `dir` (compressed as `compression` says) into `out`; resolves with both
 * digests. `node:zlib` and `node:crypto` are loaded here, never on the run path.
 */
export async function writeLayer(dir: string, out: string, times: TimePolicy = {}, compression: LayerCompression = "gzip"): Promise<LayerBlob> {
  const zlib = await import("node:zlib");
  const crypto = await import("node:crypto");
  const tarHash = crypto.createHash("sha256");
  const blobHash = crypto.createHash("sha256");
  const file = Deno.openSync(out, { write: true, create: true, truncate: true, mode: 0o600 });
  const gz = compression === "gzip"
    ? zlib.createGzip({ level: 6 })
    : compression === "zstd"
    ? zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: 3 } })
    : await plainStream();
  let blobSize = 0;
  let tarSize = 0;
  const done = new Promise<void>((resolve, reject) => {
    gz.on("data", (chunk: Uint8Array) => {
      blobHash.update(chunk);
      blobSize += chunk.length;
      let off = 0;
      while (off < chunk.length) off += file.writeSync(chunk.subarray(off));
    });
    gz.on("end", () => resolve());
    gz.on("error", reject);
  });
  const emit = async (b: Uint8Array) => {
    tarHash.update(b);
    tarSize += b.length;
    if (!gz.write(b)) await new Promise((r) => gz.once("drain", r));
  };
  const time = (t: number) => times.set ?? (times.clamp !== undefined ? Math.min(t, times.clamp) : t);
  const opaque: string[] = [];
  const links = new Map<bigint, string>();
  const walk = async (rel: string): Promise<void> => {
    const host = rel ? `${dir}/${rel}` : dir;
    const names = [...Deno.readDirSync(host)].map((e) => e.name).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const path = `${dir}/${r}`;
      const st = c.lstatat(F.AT_FDCWD, path);
      if (!st) continue;
      const type = st.mode & F.S_IFMT;
      const base = { uid: st.uid, gid: st.gid, mode: st.mode, mtime: time(st.mtime[0]) };
      if (type === F.S_IFCHR && st.rdev[0] === 0 && st.rdev[1] === 0) {
        // overlay's whiteout: a deletion
        const i = r.lastIndexOf("/");
        const wh = i < 0 ? `.wh.${r}` : `${r.slice(0, i)}/.wh.${r.slice(i + 1)}`;
        for (const b of tarHeaderBlocks({ ...base, name: wh, type: "0", size: 0, mode: 0o600 })) await emit(b);
        continue;
      }
      if (type === F.S_IFDIR) {
        const x = xattrsOf(path, false);
        for (const b of tarHeaderBlocks({ ...base, name: r + "/", type: "5", size: 0, xattrs: x.keep })) await emit(b);
        if (x.opaque) {
          opaque.push(r);
          for (const b of tarHeaderBlocks({ ...base, name: `${r}/.wh..wh..opq`, type: "0", size: 0, mode: 0o600 })) await emit(b);
        }
        await walk(r);
      } else if (type === F.S_IFLNK) {
        for (const b of tarHeaderBlocks({ ...base, name: r, type: "2", size: 0, link: Deno.readLinkSync(path) })) await emit(b);
      } else if (type === F.S_IFREG) {
        const first = st.nlink > 1 ? links.get(st.ino) : undefined;
        if (first !== undefined) {
          for (const b of tarHeaderBlocks({ ...base, name: r, type: "1", size: 0, link: first })) await emit(b);
          continue;
        }
        if (st.nlink > 1) links.set(st.ino, r);
        const x = xattrsOf(path, false);
        for (const b of tarHeaderBlocks({ ...base, name: r, type: "0", size: st.size, xattrs: x.keep })) await emit(b);
        using f = Deno.openSync(path, { read: true });
        let left = st.size;
        const buf = new Uint8Array(1 << 20);
        while (left > 0) {
          const n = f.readSync(buf.subarray(0, Math.min(buf.length, left)));
          if (n === null || n === 0) throw new BuildError(`The file "${r}" shrank while its layer was written`);
          await emit(buf.slice(0, n));
          left -= n;
        }
        const pad = (512 - (st.size % 512)) % 512;
        if (pad) await emit(new Uint8Array(pad));
      }
      // sockets, fifos and other devices cannot be part of a rootless layer: left out
    }
  };
  try {
    const top = xattrsOf(dir, false);
    if (top.opaque) {
      opaque.push("");
      for (const b of tarHeaderBlocks({ name: ".wh..wh..opq", type: "0", size: 0, mode: 0o600, uid: 0, gid: 0, mtime: time(0) })) await emit(b);
    }
    await walk("");
    await emit(new Uint8Array(1024));
    gz.end();
    await done;
    try {
      file.syncSync();
    } catch {
      // a pipe (a tar written to stdout) has nothing to sync
    }
  } finally {
    file.close();
  }
  return {
    digest: "sha256:" + blobHash.digest("hex"),
    size: blobSize,
    diffId: "sha256:" + tarHash.digest("hex"),
    tarSize,
    opaque,
  };
}
