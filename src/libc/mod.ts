/**
 * The few libc calls Deno has no API for — `openat2`, the `*at` family,
 * `mknodat`, xattrs, `lchown`-style calls — through FFI, for layer unpacking
 * and the private-copy storage backend. Opened lazily on first use: never on
 * the path of `nook run` (each synchronous symbol costs ~0.2 ms at open).
 *
 * Every wrapper returns the result or throws a {@link LibcError} carrying the
 * errno, so callers can branch on `err.code`.
 *
 * @module
 */
import { errnoName, errnoText, NookError } from "../errors/mod.ts";

/** A libc call failed; `errno`/`code` say why. */
export class LibcError extends NookError {}

const SYMBOLS = {
  /** long syscall(long nr, ...) — used for openat2 (no glibc wrapper) */
  syscall: { parameters: ["i64", "i64", "buffer", "buffer", "u64"], result: "i64" },
  /** int openat(int dirfd, const char *path, int flags, mode_t mode) */
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  /** int close(int fd) */
  close: { parameters: ["i32"], result: "i32" },
  /** ssize_t write(int fd, const void *buf, size_t n) */
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** ssize_t pwrite(int fd, const void *buf, size_t n, off_t offset) */
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  /** int ftruncate(int fd, off_t length) */
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  /** ssize_t read(int fd, void *buf, size_t n) */
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** int mkdirat(int dirfd, const char *path, mode_t mode) */
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int symlinkat(const char *target, int dirfd, const char *linkpath) */
  symlinkat: { parameters: ["buffer", "i32", "buffer"], result: "i32" },
  /** int linkat(int olddirfd, const char *old, int newdirfd, const char *new, int flags) */
  linkat: { parameters: ["i32", "buffer", "i32", "buffer", "i32"], result: "i32" },
  /** int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev) */
  mknodat: { parameters: ["i32", "buffer", "u32", "u64"], result: "i32" },
  /** int fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags) */
  fchownat: { parameters: ["i32", "buffer", "u32", "u32", "i32"], result: "i32" },
  /** int fchown(int fd, uid_t uid, gid_t gid) */
  fchown: { parameters: ["i32", "u32", "u32"], result: "i32" },
  /** int fchmod(int fd, mode_t mode) */
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  /** int utimensat(int dirfd, const char *path, const struct timespec times[2], int flags) */
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  /** int futimens(int fd, const struct timespec times[2]) */
  futimens: { parameters: ["i32", "buffer"], result: "i32" },
  /** int unlinkat(int dirfd, const char *path, int flags) */
  unlinkat: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags) */
  fsetxattr: { parameters: ["i32", "buffer", "buffer", "usize", "i32"], result: "i32" },
  /** ssize_t fgetxattr(int fd, const char *name, void *value, size_t size) */
  fgetxattr: { parameters: ["i32", "buffer", "buffer", "usize"], result: "isize" },
  /** ssize_t flistxattr(int fd, char *list, size_t size) */
  flistxattr: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *buf) */
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  /** int fsync(int fd) */
  fsync: { parameters: ["i32"], result: "i32" },
  /** int *__errno_location(void) */
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

function libc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  if (!lib) {
    let last: unknown;
    for (const name of ["libc.so.6", "libc.so"]) {
      try {
        lib = Deno.dlopen(name, SYMBOLS);
        break;
      } catch (err) {
        last = err;
      }
    }
    if (!lib) {
      throw new LibcError(`Cannot open the C library: ${(last as Error).message}`, { op: "dlopen", cause: last });
    }
  }
  return lib.symbols;
}

/** openat2/open flags, mode bits and *at flags used by nook (Linux generic values). */
export const F = {
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_RDWR: 2,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_NOCTTY: 0o400,
  O_TRUNC: 0o1000,
  O_DIRECTORY: 0o200000,
  O_NOFOLLOW: 0o400000,
  O_CLOEXEC: 0o2000000,
  O_PATH: 0o10000000,
  AT_FDCWD: -100,
  AT_SYMLINK_NOFOLLOW: 0x100,
  AT_REMOVEDIR: 0x200,
  AT_EMPTY_PATH: 0x1000,
  S_IFMT: 0o170000,
  S_IFIFO: 0o010000,
  S_IFCHR: 0o020000,
  S_IFDIR: 0o040000,
  S_IFREG: 0o100000,
  S_IFLNK: 0o120000,
  RESOLVE_NO_XDEV: 0x01,
  RESOLVE_NO_MAGICLINKS: 0x02,
  RESOLVE_NO_SYMLINKS: 0x04,
  RESOLVE_BENEATH: 0x08,
  RESOLVE_IN_ROOT: 0x10,
} as const;

const SYS_OPENAT2 = 437n; // same number on x86_64 and aarch64 (the generic table)
const enc = new TextEncoder();

/** NUL-terminated bytes of a string, for FFI. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(s.length * 3 + 1);
  const { written } = enc.encodeInto(s, b);
  return b.subarray(0, written + 1) as Uint8Array<ArrayBuffer>;
}

function errno(): number {
  const p = libc().__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

function fail(op: string, path: string | undefined, e = errno()): never {
  throw new LibcError(`${op}${path === undefined ? "" : ` "${path}"`} failed: ${errnoText(e)}`, {
    op,
    errno: e,
    code: errnoName(e),
    ...(path === undefined ? {} : { path }),
  });
}

function check(rc: number | bigint, op: string, path?: string): number {
  if (Number(rc) < 0) fail(op, path);
  return Number(rc);
}

const howBuf = new BigUint64Array(3);

/** openat2(2): open `path` relative to `dirfd` with RESOLVE_* rules; returns the fd. */
export function openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number {
  howBuf[0] = BigInt(flags | F.O_CLOEXEC);
  howBuf[1] = BigInt(flags & F.O_CREAT ? mode : 0);
  howBuf[2] = BigInt(resolve);
  for (let i = 0; i < 100; i++) {
    const rc = libc().syscall(SYS_OPENAT2, BigInt(dirfd), cstr(path), new Uint8Array(howBuf.buffer), 24n);
    if (rc >= 0) return Number(rc);
    const e = errno();
    if (e !== 11 /* EAGAIN: a rename raced the lookup */) fail("openat2", path, e);
  }
  return fail("openat2", path, 11);
}

/** openat(2); returns the fd. */
export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  return check(libc().openat(dirfd, cstr(path), flags | F.O_CLOEXEC, mode), "open", path);
}

/** close(2), ignoring errors. */
export function close(fd: number): void {
  if (fd >= 0) libc().close(fd);
}

/** write(2) all of `data`. */
export function writeAll(fd: number, data: Uint8Array, what?: string): void {
  let off = 0;
  while (off < data.length) {
    const chunk = off === 0 ? data : data.subarray(off);
    const n = Number(libc().write(fd, chunk as Uint8Array<ArrayBuffer>, BigInt(chunk.length)));
    if (n < 0) {
      const e = errno();
      if (e === 4 /* EINTR */) continue;
      fail("write", what, e);
    }
    off += n;
  }
}

/**
 * pwrite(2) all of `data` at `offset`: what writes a sparse file's data
 * fragments, leaving the holes between them unallocated.
 */
export function pwriteAll(fd: number, data: Uint8Array, offset: number, what?: string): void {
  let off = 0;
  while (off < data.length) {
    const chunk = off === 0 ? data : data.subarray(off);
    const n = Number(libc().pwrite(fd, chunk as Uint8Array<ArrayBuffer>, BigInt(chunk.length), BigInt(offset + off)));
    if (n < 0) {
      const e = errno();
      if (e === 4 /* EINTR */) continue;
      fail("write", what, e);
    }
    off += n;
  }
}

/** ftruncate(2): set the size of an open file (a sparse file's trailing hole). */
export function ftruncate(fd: number, size: number, what?: string): void {
  check(libc().ftruncate(fd, BigInt(size)), "truncate", what);
}

/** read(2) into buf; returns the count (0 at end). */
export function read(fd: number, buf: Uint8Array, what?: string): number {
  for (;;) {
    const n = Number(libc().read(fd, buf as Uint8Array<ArrayBuffer>, BigInt(buf.length)));
    if (n >= 0) return n;
    const e = errno();
    if (e !== 4) fail("read", what, e);
  }
}

/** mkdirat(2). */
export function mkdirat(dirfd: number, name: string, mode: number): void {
  check(libc().mkdirat(dirfd, cstr(name), mode), "mkdir", name);
}

/** symlinkat(2). */
export function symlinkat(target: string, dirfd: number, name: string): void {
  check(libc().symlinkat(cstr(target), dirfd, cstr(name)), "symlink", name);
}

/** linkat(2) without following a symlink at the old path. */
export function linkat(olddirfd: number, oldName: string, newdirfd: number, newName: string): void {
  check(libc().linkat(olddirfd, cstr(oldName), newdirfd, cstr(newName), 0), "link", newName);
}

/** mknodat(2); `dev` is makedev(major, minor). */
export function mknodat(dirfd: number, name: string, mode: number, dev = 0n): void {
  check(libc().mknodat(dirfd, cstr(name), mode, dev), "mknod", name);
}

/** fchownat(2) without following a symlink at the path. */
export function lchownat(dirfd: number, name: string, uid: number, gid: number): void {
  check(libc().fchownat(dirfd, cstr(name), uid, gid, F.AT_SYMLINK_NOFOLLOW), "chown", name);
}

/** fchown(2). */
export function fchown(fd: number, uid: number, gid: number, what?: string): void {
  check(libc().fchown(fd, uid, gid), "chown", what);
}

/** fchmod(2). */
export function fchmod(fd: number, mode: number, what?: string): void {
  check(libc().fchmod(fd, mode), "chmod", what);
}

const times = new BigInt64Array(4);

/** utimensat(2) without following a symlink: atime and mtime in seconds (+ nanoseconds). */
export function lutimesat(dirfd: number, name: string, sec: number, nsec = 0): void {
  times[0] = times[2] = BigInt(Math.trunc(sec));
  times[1] = times[3] = BigInt(nsec);
  check(libc().utimensat(dirfd, cstr(name), new Uint8Array(times.buffer), F.AT_SYMLINK_NOFOLLOW), "set times of", name);
}

/** futimens(3): times of an open file or directory. */
export function futimes(fd: number, sec: number, nsec = 0): void {
  times[0] = times[2] = BigInt(Math.trunc(sec));
  times[1] = times[3] = BigInt(nsec);
  check(libc().futimens(fd, new Uint8Array(times.buffer)), "set times");
}

/** unlinkat(2); `dir` removes an empty directory. */
export function unlinkat(dirfd: number, name: string, dir = false): void {
  check(libc().unlinkat(dirfd, cstr(name), dir ? F.AT_REMOVEDIR : 0), dir ? "rmdir" : "unlink", name);
}

/** fsetxattr(2). */
export function fsetxattr(fd: number, name: string, value: Uint8Array | string, what?: string): void {
  const v = (typeof value === "string" ? enc.encode(value) : value) as Uint8Array<ArrayBuffer>;
  check(libc().fsetxattr(fd, cstr(name), v, BigInt(v.length), 0), `set xattr ${name} on`, what);
}

/** fgetxattr(2): the value, or undefined when the attribute is not set. */
export function fgetxattr(fd: number, name: string): Uint8Array | undefined {
  const buf = new Uint8Array(65536);
  const n = Number(libc().fgetxattr(fd, cstr(name), buf, BigInt(buf.length)));
  if (n < 0) {
    const e = errno();
    if (e === 61 /* ENODATA */ || e === 95 /* EOPNOTSUPP */) return undefined;
    fail(`get xattr ${name}`, undefined, e);
  }
  return buf.slice(0, n);
}

/** flistxattr(2): names of the extended attributes of an open file. */
export function flistxattr(fd: number): string[] {
  const buf = new Uint8Array(65536);
  const n = Number(libc().flistxattr(fd, buf, BigInt(buf.length)));
  if (n < 0) {
    const e = errno();
    if (e === 95) return [];
    fail("list xattrs", undefined, e);
  }
  return new TextDecoder().decode(buf.subarray(0, n)).split("\0").filter(Boolean);
}

/** What {@link lstatat} reports. */
export interface Stat {
  /** st_mode: type and permission bits. */
  mode: number;
  /** Owner. */
  uid: number;
  /** Group. */
  gid: number;
  /** Size in bytes. */
  size: number;
  /** Link count. */
  nlink: number;
  /** Device number of a device node: [major, minor]. */
  rdev: [number, number];
  /** mtime seconds and nanoseconds. */
  mtime: [number, number];
  /** Inode number. */
  ino: bigint;
}

const statxBuf = new Uint8Array(256);
const statxView = new DataView(statxBuf.buffer);

/** statx(2) without following a final symlink; undefined when the path does not exist. */
export function lstatat(dirfd: number, name: string): Stat | undefined {
  const flags = F.AT_SYMLINK_NOFOLLOW | (name === "" ? F.AT_EMPTY_PATH : 0);
  if (libc().statx(dirfd, cstr(name), flags, 0x7ff, statxBuf) < 0) {
    const e = errno();
    if (e === 2 /* ENOENT */ || e === 20 /* ENOTDIR */) return undefined;
    fail("stat", name, e);
  }
  const v = statxView;
  return {
    nlink: v.getUint32(16, true),
    uid: v.getUint32(20, true),
    gid: v.getUint32(24, true),
    mode: v.getUint16(28, true),
    ino: v.getBigUint64(32, true),
    size: Number(v.getBigUint64(40, true)),
    mtime: [Number(v.getBigInt64(112, true)), v.getUint32(120, true)],
    rdev: [v.getUint32(128, true), v.getUint32(132, true)],
  };
}

/** fsync(2). */
export function fsync(fd: number, what?: string): void {
  check(libc().fsync(fd), "fsync", what);
}
