/**
 * `cp` between the host and a container's root, file by file like tar (modes and times kept,
 * symlinks copied as links, never followed): every path inside the container is resolved with
 * openat2(RESOLVE_IN_ROOT) against a descriptor of the container's root, and every entry below it
 * is opened relative to its directory's descriptor with O_NOFOLLOW — so a symlink in the
 * container (absolute, or full of `..`) resolves inside the root, and nothing outside it is read
 * or written.
 *
 * The root is the running container's `/proc/PID/root`, or, for a container that does not run,
 * its storage assembled in a mount namespace of nook's user namespace (see src/cli/cp.ts).
 *
 * @module
 */
import * as c from "../libc/mod.ts";
import { F } from "../libc/mod.ts";
import { ContainerError } from "./errors.ts";
import { closeFd, wait } from "../ffi/mod.ts";
import { launch } from "../launch/mod.ts";
import { tarHeaderBlocks } from "../image/tar_pax.ts";
import { applyRootfsSetup } from "../overlay/setup_plan.ts";
import { selfCommand } from "../paths/project.ts";
import { CLONE, MS, Plan, SIGNALS } from "../plan/mod.ts";
import { USERNS_ENV } from "../unshare/mod.ts";
import { applyIdMapping, detectIdMapping, readIdMap } from "../userns/mod.ts";
import type { ContainerRecord } from "./store.ts";
import { CLONE_FLAG, nsFile } from "./namespaces.ts";

const BUF = 1 << 20;

/** Owner given to what is copied into the container (undefined: the copying process's own ids). */
export type Owner = { uid: number; gid: number } | undefined;

/** An O_PATH descriptor of a container's root directory. */
export function openRoot(path: string): number {
  try {
    return c.openat(F.AT_FDCWD, path, F.O_PATH | F.O_DIRECTORY);
  } catch (err) {
    throw new ContainerError(`Cannot open the container's root "${path}": ${(err as Error).message}`, {
      path,
      cause: err,
    });
  }
}

function split(path: string): [string, string] {
  const clean = path.replace(/\/+$/, "");
  const i = clean.lastIndexOf("/");
  return i < 0 ? [".", clean] : [clean.slice(0, i) || "/", clean.slice(i + 1)];
}

/** A directory inside the root (RESOLVE_IN_ROOT), as an O_PATH descriptor; undefined when it is not there. */
function openDirInRoot(root: number, path: string): number | undefined {
  try {
    return c.openat2(root, path || "/", F.O_PATH | F.O_DIRECTORY, 0, F.RESOLVE_IN_ROOT | F.RESOLVE_NO_MAGICLINKS);
  } catch (err) {
    if (err instanceof c.LibcError && (err.code === "ENOENT" || err.code === "ENOTDIR")) return undefined;
    throw err;
  }
}

const fdPath = (fd: number) => `/proc/self/fd/${fd}`;

function notFound(path: string): ContainerError {
  return new ContainerError(`"${path}" does not exist in the container`, {
    path,
    hint: "symlinks are resolved inside the container's root",
  });
}

/**
 * Copy `inPath` out of the container to `dest` on the host: into `dest` when it is a directory,
 * else as `dest` (whose parent must exist).
 */
export function copyOut(root: number, inPath: string, dest: string): void {
  const [parent, base] = split(inPath);
  const pfd = openDirInRoot(root, parent);
  if (pfd === undefined) throw notFound(inPath);
  try {
    let name = base;
    let dirFd = pfd;
    let owned: number | undefined;
    if (base === "" || base === "." || base === "..") {
      // the root itself, or a path ending in . or ..: resolved as a directory
      owned = openDirInRoot(root, inPath);
      if (owned === undefined) throw notFound(inPath);
      dirFd = owned;
      name = "";
    }
    try {
      const st = c.lstatat(dirFd, name);
      if (!st) throw notFound(inPath);
      let target = dest;
      try {
        if (Deno.statSync(dest).isDirectory) target = `${dest.replace(/\/+$/, "")}/${name || baseName(inPath)}`;
      } catch {
        // a new name
      }
      outEntry(dirFd, name, st, target);
    } finally {
      if (owned !== undefined) c.close(owned);
    }
  } finally {
    c.close(pfd);
  }
}

function baseName(p: string): string {
  const parts = p.split("/").filter((s) => s && s !== "." && s !== "..");
  return parts[parts.length - 1] ?? "root";
}

function outEntry(dirFd: number, name: string, st: c.Stat, target: string): void {
  const type = st.mode & F.S_IFMT;
  const mode = st.mode & 0o7777;
  if (type === F.S_IFDIR) {
    const fd = name === ""
      ? c.openat(dirFd, ".", F.O_RDONLY | F.O_DIRECTORY)
      : c.openat(dirFd, name, F.O_RDONLY | F.O_DIRECTORY | F.O_NOFOLLOW);
    try {
      try {
        Deno.mkdirSync(target, { mode: 0o700 });
      } catch (err) {
        if (!(err instanceof Deno.errors.AlreadyExists) || !Deno.lstatSync(target).isDirectory) throw err;
      }
      for (const e of Deno.readDirSync(fdPath(fd))) {
        const est = c.lstatat(fd, e.name);
        if (est) outEntry(fd, e.name, est, `${target}/${e.name}`);
      }
      Deno.chmodSync(target, mode);
      Deno.utimeSync(target, st.mtime[0], st.mtime[0]);
    } finally {
      c.close(fd);
    }
  } else if (type === F.S_IFLNK) {
    const link = Deno.readLinkSync(`${fdPath(dirFd)}/${name}`);
    try {
      Deno.removeSync(target);
    } catch {
      // none
    }
    Deno.symlinkSync(link, target);
  } else if (type === F.S_IFREG) {
    const fd = c.openat(dirFd, name, F.O_RDONLY | F.O_NOFOLLOW | F.O_NOCTTY);
    try {
      using out = Deno.openSync(target, { write: true, create: true, truncate: true, mode });
      const buf = new Uint8Array(BUF);
      for (;;) {
        const n = c.read(fd, buf, name);
        if (n === 0) break;
        let off = 0;
        while (off < n) off += out.writeSync(buf.subarray(off, n));
      }
    } finally {
      c.close(fd);
    }
    Deno.chmodSync(target, mode);
    Deno.utimeSync(target, st.mtime[0], st.mtime[0]);
  }
  // devices, fifos and sockets are not copied
}

/**
 * Copy `src` from the host into the container at `inPath`: into it when it is a directory
 * there, else as it (its parent must exist in the container).
 */
export function copyIn(src: string, root: number, inPath: string, owner: Owner): void {
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(src);
  } catch (err) {
    throw new ContainerError(`Cannot read "${src}": ${(err as Error).message}`, { path: src, cause: err });
  }
  const into = openDirInRoot(root, inPath);
  if (into !== undefined) {
    try {
      inEntry(src, st, into, baseName(src), owner);
    } finally {
      c.close(into);
    }
    return;
  }
  if (inPath.endsWith("/")) {
    throw new ContainerError(`The directory "${inPath}" does not exist in the container`, {
      path: inPath,
      hint: "create it first, or leave out the trailing / to copy to that name",
    });
  }
  const [parent, base] = split(inPath);
  const pfd = openDirInRoot(root, parent);
  if (pfd === undefined) {
    throw new ContainerError(`The directory "${parent}" does not exist in the container`, {
      path: parent,
      hint: "symlinks are resolved inside the container's root",
    });
  }
  try {
    inEntry(src, st, pfd, base, owner);
  } finally {
    c.close(pfd);
  }
}

function removeAt(dirFd: number, name: string): void {
  const st = c.lstatat(dirFd, name);
  if (st && (st.mode & F.S_IFMT) !== F.S_IFDIR) c.unlinkat(dirFd, name);
}

function inEntry(src: string, st: Deno.FileInfo, dirPathFd: number, name: string, owner: Owner): void {
  const mode = (st.mode ?? 0o644) & 0o7777;
  // a directory descriptor that can be written through (the O_PATH one cannot)
  const dirFd = c.openat(dirPathFd, ".", F.O_RDONLY | F.O_DIRECTORY);
  try {
    if (st.isDirectory) {
      const existing = c.lstatat(dirFd, name);
      if (existing && (existing.mode & F.S_IFMT) !== F.S_IFDIR) c.unlinkat(dirFd, name);
      if (!existing || (existing.mode & F.S_IFMT) !== F.S_IFDIR) c.mkdirat(dirFd, name, 0o700);
      const fd = c.openat(dirFd, name, F.O_RDONLY | F.O_DIRECTORY | F.O_NOFOLLOW);
      try {
        for (const e of Deno.readDirSync(src)) {
          inEntry(`${src}/${e.name}`, Deno.lstatSync(`${src}/${e.name}`), fd, e.name, owner);
        }
        if (owner) c.fchown(fd, owner.uid, owner.gid, name);
        c.fchmod(fd, mode, name);
        if (st.mtime) c.futimes(fd, Math.floor(st.mtime.getTime() / 1000));
      } finally {
        c.close(fd);
      }
    } else if (st.isSymlink) {
      removeAt(dirFd, name);
      c.symlinkat(Deno.readLinkSync(src), dirFd, name);
      if (owner) c.lchownat(dirFd, name, owner.uid, owner.gid);
    } else if (st.isFile) {
      // a symlink (or anything but a file) at the name is replaced, never written through
      removeAt(dirFd, name);
      const fd = c.openat(dirFd, name, F.O_WRONLY | F.O_CREAT | F.O_EXCL | F.O_NOFOLLOW, 0o600);
      try {
        using f = Deno.openSync(src, { read: true });
        const buf = new Uint8Array(BUF);
        for (;;) {
          const n = f.readSync(buf);
          if (n === null || n === 0) break;
          c.writeAll(fd, buf.subarray(0, n), name);
        }
        if (owner) c.fchown(fd, owner.uid, owner.gid, name);
        c.fchmod(fd, mode, name);
        if (st.mtime) c.futimes(fd, Math.floor(st.mtime.getTime() / 1000));
      } finally {
        c.close(fd);
      }
    }
    // devices, fifos and sockets are not copied
  } finally {
    c.close(dirFd);
  }
}

/** Set in the environment of the nook that copies inside a stopped container's assembled storage. */
export const IN_STORAGE_ENV = "NOOK_CP_IN_STORAGE";

/** Set in the environment of the nook that copies from inside a running container's user namespace. */
export const IN_CONTAINER_ENV = "NOOK_CP_IN_CONTAINER";

async function runPlan(p: Plan, mapping?: ReturnType<typeof detectIdMapping>): Promise<number> {
  const started = await launch(p, mapping ? { beforeGo: (pid) => applyIdMapping(pid, mapping) } : {});
  try {
    const status = await wait(started.pid);
    return status.exited ? status.code : 128 + status.signal;
  } finally {
    await closeFd(started.pidfd);
  }
}

/**
 * Run `nook ARGS…` inside the user namespace of the running container whose pid 1 is `pid`;
 * resolves with its exit code. Why: its root (`/proc/PID/root`) is reached there as the
 * container's root reaches it — files of every mapped id, and a fuse-overlayfs root, which lets
 * in only processes of the namespace that mounted it.
 */
export async function runInContainerUserns(pid: number, args: readonly string[]): Promise<number> {
  const self = selfCommand();
  const env = Object.entries({ ...Deno.env.toObject(), [IN_CONTAINER_ENV]: String(pid) }).map(([k, v]) => `${k}=${v}`);
  const p = new Plan(0);
  p.setns(nsFile(pid, "user"), CLONE_FLAG.user);
  p.pdeathsig(SIGNALS.SIGKILL!);
  p.exec([self[0]!], [...self, ...args], env);
  return await runPlan(p);
}

/**
 * Run `nook ARGS…` in nook's user namespace with container `rec`'s storage assembled (its overlay
 * mounted on `merged/`) in a mount namespace of its own, which goes away with it; resolves with
 * its exit code. Why a namespace: the overlay of a container that does not run is mounted only
 * while it is used, where no other process sees it, and only root of nook's namespace may mount
 * it and touch files of subordinate ids.
 */
export async function runInStorage(rec: ContainerRecord, args: readonly string[]): Promise<number> {
  const mapping = detectIdMapping();
  const self = selfCommand();
  const env = Object.entries({ ...Deno.env.toObject(), [USERNS_ENV]: "1", [IN_STORAGE_ENV]: "1" }).map(([k, v]) =>
    `${k}=${v}`
  );
  // fuse-overlayfs stays as a daemon: in a pid namespace of its own, it ends when this nook (its pid 1) does
  const fuse = rec.rootfs.backend === "fuse-overlayfs";
  const p = new Plan(CLONE.NEWUSER | CLONE.NEWNS | (fuse ? CLONE.NEWPID : 0));
  p.pdeathsig(SIGNALS.SIGKILL!);
  p.mount("", "/", "", MS.REC | MS.PRIVATE);
  if (mapping.mode === "subid") p.setid(0, 0, [], 0);
  const setup = rec.spec.rootfsSetup;
  // the copy backend's root is a plain directory already (its setup would copy the layers again)
  if (setup && rec.rootfs.backend !== "copy") applyRootfsSetup(p, setup);
  p.exec([self[0]!], [...self, ...args], env);
  return await runPlan(p, mapping);
}

/**
 * Write `inPath` of the container as a tar stream to `write` (`cp NAME:PATH -`): entries named
 * from its last component down, owners and modes as the container has them, symlinks as links.
 */
export function copyOutTar(root: number, inPath: string, write: (b: Uint8Array) => void): void {
  const [parent, base] = split(inPath);
  const special = base === "" || base === "." || base === "..";
  const dirFd = openDirInRoot(root, special ? inPath : parent);
  if (dirFd === undefined) throw notFound(inPath);
  try {
    const name = special ? "" : base;
    const st = c.lstatat(dirFd, name);
    if (!st) throw notFound(inPath);
    tarEntry(dirFd, name, st, special ? baseName(inPath) : base, write);
    write(new Uint8Array(1024));
  } finally {
    c.close(dirFd);
  }
}

function tarEntry(dirFd: number, name: string, st: c.Stat, rel: string, write: (b: Uint8Array) => void): void {
  const type = st.mode & F.S_IFMT;
  const head = { mode: st.mode, uid: st.uid, gid: st.gid, mtime: st.mtime[0], size: 0 };
  if (type === F.S_IFDIR) {
    for (const b of tarHeaderBlocks({ ...head, name: `${rel}/`, type: "5" })) write(b);
    const fd = name === ""
      ? c.openat(dirFd, ".", F.O_RDONLY | F.O_DIRECTORY)
      : c.openat(dirFd, name, F.O_RDONLY | F.O_DIRECTORY | F.O_NOFOLLOW);
    try {
      const names = [...Deno.readDirSync(fdPath(fd))].map((e) => e.name).sort();
      for (const n of names) {
        const est = c.lstatat(fd, n);
        if (est) tarEntry(fd, n, est, `${rel}/${n}`, write);
      }
    } finally {
      c.close(fd);
    }
  } else if (type === F.S_IFLNK) {
    for (const b of tarHeaderBlocks({ ...head, name: rel, type: "2", link: Deno.readLinkSync(`${fdPath(dirFd)}/${name}`) })) {
      write(b);
    }
  } else if (type === F.S_IFREG) {
    const fd = c.openat(dirFd, name, F.O_RDONLY | F.O_NOFOLLOW | F.O_NOCTTY);
    try {
      for (const b of tarHeaderBlocks({ ...head, name: rel, type: "0", size: st.size })) write(b);
      const buf = new Uint8Array(BUF);
      let left = st.size;
      while (left > 0) {
        const n = c.read(fd, buf.subarray(0, Math.min(buf.length, left)), name);
        if (n === 0) break;
        write(buf.slice(0, n));
        left -= n;
      }
      // a file that shrank meanwhile is padded to the size its header gave
      if (left > 0) write(new Uint8Array(left));
      const pad = (512 - (st.size % 512)) % 512;
      if (pad) write(new Uint8Array(pad));
    } finally {
      c.close(fd);
    }
  }
  // devices, fifos and sockets are left out
}

/**
 * Unpack a tar stream (`cp - NAME:DIR`) into directory `inPath` of the container, which must
 * exist: with the unpacker of image layers, confined to that directory (nothing it makes or
 * follows leaves it).
 */
export async function copyInTar(input: AsyncIterable<Uint8Array>, root: number, inPath: string): Promise<void> {
  const dirFd = openDirInRoot(root, inPath);
  if (dirFd === undefined) {
    throw new ContainerError(`The directory "${inPath}" does not exist in the container`, {
      path: inPath,
      hint: "a tar stream is unpacked into an existing directory",
    });
  }
  try {
    const { unpackLayer } = await import("../image/unpack.ts");
    const map = readIdMap("self", "uid");
    const limit = map?.length ? Math.max(...map.map((r) => r.inside + r.count)) : 0x1_0000_0000;
    // "/." follows the descriptor's magic link to the directory itself
    await unpackLayer(input, `${fdPath(dirFd)}/.`, {
      squashOwners: limit <= 1,
      idLimit: limit,
      label: "the tar stream",
    });
  } finally {
    c.close(dirFd);
  }
}
