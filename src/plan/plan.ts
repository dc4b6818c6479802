import { NookError } from "../errors/mod.ts";
import { ExecFlag, Op, type OpName, PLAN_VERSION, Protect } from "./ops.ts";

/** One field of an op's payload, in wire order. */
export type Field =
  | { t: "u64"; v: number | bigint }
  | { t: "str"; v: string }
  | { t: "bytes"; v: Uint8Array }
  | { t: "strv"; v: readonly string[] }
  | { t: "u64v"; v: readonly (number | bigint)[] };

/** One op of a plan, with a human description used in error messages. */
export interface PlanOp {
  /** Op name from the {@link Op} table. */
  readonly name: OpName;
  /** Payload fields in wire order. */
  readonly fields: readonly Field[];
  /** What this op does, for messages: `mount "proc" on "/proc"`. */
  readonly what: string;
  /** Path the op is about, if any. */
  readonly path?: string;
}

/** Raised when a plan cannot be encoded (a string with a NUL byte, a value out of range). */
export class PlanError extends NookError {}

const MAGIC = 0x4b4f4f4e;
const HEADER_LEN = 24;

const u64 = (v: number | bigint): Field => ({ t: "u64", v });
const str = (v: string): Field => ({ t: "str", v });
const strv = (v: readonly string[]): Field => ({ t: "strv", v });

/**
 * A plan: the namespace flags for clone() and the ops the child runs, in
 * order, until it execs. Build it with the methods, then {@link Plan.encode}.
 *
 * @example
 * ```ts
 * const plan = new Plan(CLONE.NEWUSER | CLONE.NEWNS);
 * plan.sethostname("box").exec(["/bin/sh"], ["sh"], ["PATH=/bin"]);
 * const bytes = plan.encode();
 * ```
 */
export class Plan {
  /** The ops, in order. */
  readonly ops: PlanOp[] = [];

  /** Start a plan for a child cloned with these CLONE_NEW* flags. */
  constructor(public cloneFlags: number = 0) {}

  /** Append a raw op (prefer the typed methods). */
  add(name: OpName, fields: Field[], what: string, path?: string): this {
    this.ops.push(path === undefined ? { name, fields, what } : { name, fields, what, path });
    return this;
  }

  /** mount(2); target is resolved inside ROOT when one is set. Empty strings mean NULL. */
  mount(source: string, target: string, fstype: string, flags: number, data = ""): this {
    const what = fstype ? `mount ${fstype} on "${target}"` : `mount "${source}" on "${target}"`;
    return this.add("MOUNT", [str(source), str(target), str(fstype), u64(flags), str(data)], what, target);
  }

  /** mount_setattr(2) on target: set/clear MOUNT_ATTR_* bits, change propagation. */
  setattr(target: string, set: number, clear = 0, propagation = 0, recursive = false): this {
    return this.add(
      "MOUNT_SETATTR",
      [str(target), u64(set), u64(clear), u64(propagation), u64(recursive ? 1 : 0)],
      `change mount attributes of "${target}"`,
      target,
    );
  }

  /** umount2(2). */
  umount(target: string, flags = 0): this {
    return this.add("UMOUNT", [str(target), u64(flags)], `unmount "${target}"`, target);
  }

  /** mkdir(2) of one directory (its parent must exist); an existing directory is fine. */
  mkdir(path: string, mode = 0o755): this {
    return this.add("MKDIR", [str(path), u64(mode)], `create directory "${path}"`, path);
  }

  /** mkdir of every missing component of an absolute path, outermost first. */
  mkdirAll(path: string, mode = 0o755): this {
    let cur = "";
    for (const part of path.split("/").filter(Boolean)) this.mkdir((cur += "/" + part), mode);
    return this;
  }

  /** Create an empty file (a bind-mount target) unless something is already there. */
  mkfile(path: string, mode = 0o644): this {
    return this.add("MKFILE", [str(path), u64(mode)], `create file "${path}"`, path);
  }

  /** symlink(2): linkpath → target; an existing entry at linkpath is left alone. */
  symlink(target: string, linkpath: string): this {
    return this.add("SYMLINK", [str(target), str(linkpath)], `create symlink "${linkpath}"`, linkpath);
  }

  /** Write bytes to a file opened with extra open flags. */
  write(path: string, data: Uint8Array | string, openFlags = 0, mode = 0o644): this {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    return this.add("WRITE", [str(path), { t: "bytes", v: bytes }, u64(openFlags), u64(mode)], `write "${path}"`, path);
  }

  /** Resolve later path targets inside this host directory ("" to stop). */
  root(path: string): this {
    return this.add("ROOT", [str(path)], `open root directory "${path}"`, path);
  }

  /** pivot_root(2) into a directory that is a mount point; the old root is detached. */
  pivotRoot(newRoot: string): this {
    return this.add("PIVOT_ROOT", [str(newRoot)], `pivot_root into "${newRoot}"`, newRoot);
  }

  /** chroot(2) (for runtimes asked not to pivot). */
  chroot(newRoot: string): this {
    return this.add("CHROOT", [str(newRoot)], `chroot into "${newRoot}"`, newRoot);
  }

  /** chdir(2). */
  chdir(path: string): this {
    return this.add("CHDIR", [str(path)], `change directory to "${path}"`, path);
  }

  /** sethostname(2). */
  sethostname(name: string): this {
    return this.add("SETHOSTNAME", [str(name)], `set hostname "${name}"`);
  }

  /** setdomainname(2). */
  setdomainname(name: string): this {
    return this.add("SETDOMAINNAME", [str(name)], `set domain name "${name}"`);
  }

  /** setrlimit(2). */
  setrlimit(resource: number, soft: number | bigint, hard: number | bigint): this {
    return this.add("SETRLIMIT", [u64(resource), u64(soft), u64(hard)], `set rlimit ${resource}`);
  }

  /** umask(2). */
  umask(mask: number): this {
    return this.add("UMASK", [u64(mask)], `set umask ${mask.toString(8)}`);
  }

  /** setgroups + setresgid + setresuid (SetIdFlag flags). */
  setid(uid: number, gid: number, groups: readonly number[], flags = 0): this {
    return this.add("SETID", [u64(uid), u64(gid), { t: "u64v", v: groups }, u64(flags)], `switch to user ${uid}:${gid}`);
  }

  /** Capability sets (bit masks) and the highest capability number to consider. */
  caps(sets: { bounding: bigint; effective: bigint; permitted: bigint; inheritable: bigint; ambient: bigint }, lastCap: number): this {
    return this.add(
      "CAPS",
      [u64(sets.bounding), u64(sets.effective), u64(sets.permitted), u64(sets.inheritable), u64(sets.ambient), u64(lastCap)],
      "set capabilities",
    );
  }

  /** prctl(PR_SET_NO_NEW_PRIVS). */
  noNewPrivs(): this {
    return this.add("NO_NEW_PRIVS", [], "set no_new_privs");
  }

  /** Load a classic BPF seccomp program (8-byte sock_filter records). */
  seccomp(program: Uint8Array, flags = 0): this {
    return this.add("SECCOMP", [{ t: "bytes", v: program }, u64(flags)], "load the seccomp filter");
  }

  /** Bring up the loopback interface of the (new) network namespace. */
  loopbackUp(): this {
    return this.add("LOOPBACK_UP", [], "bring up the loopback interface");
  }

  /**
   * Send the NETLINK_ROUTE requests a host file holds (whole messages, each asking for an ACK),
   * read when the op runs: nook writes the file at a SYNC before it (the interfaces it made).
   */
  netlinkFile(path: string, what = "configure the network interfaces"): this {
    return this.add("NETLINK_FILE", [str(path)], what, path);
  }

  /** setns(2) into the namespace file at path. */
  setns(path: string, nstype: number): this {
    return this.add("SETNS", [str(path), u64(nstype)], `join namespace "${path}"`, path);
  }

  /** setns(2) into the user namespace that the user namespace file at path was made in (its parent). */
  setnsParent(path: string): this {
    return this.add("SETNS_PARENT", [str(path)], `join the parent of "${path}"`, path);
  }

  /** unshare(2). */
  unshare(flags: number): this {
    return this.add("UNSHARE", [u64(flags)], "unshare namespaces");
  }

  /**
   * Enter a new user namespace below the current one (with `flags`' other
   * namespaces, owned by it), whose maps (`/proc/PID/uid_map` text, ids of
   * the current namespace) a helper forked beforehand writes: a mapping
   * that need not hold the id the current namespace's root has.
   */
  usernsBelow(flags: number, uidMap: string, gidMap: string): this {
    return this.add("USERNS_BELOW", [u64(flags), str(uidMap), str(gidMap)], "enter the user namespace below");
  }

  /** Fork (CLONE_PARENT): the new process carries on, nook learns its pid. */
  fork(cloneFlags = 0): this {
    return this.add("FORK", [u64(cloneFlags)], "fork");
  }

  /** Become a minimal init: fork, reap zombies and forward signals to the child. */
  init(): this {
    return this.add("INIT", [], "start the init process");
  }

  /** Open a pty from ptmx, make its slave the controlling tty on fds 0-2, send the master back. */
  pty(ptmx: string, rows: number, cols: number): this {
    return this.add("PTY", [str(ptmx), u64(rows), u64(cols)], `allocate a terminal from "${ptmx}"`, ptmx);
  }

  /** Stop and wait until the parent says CONTINUE. */
  sync(tag: number): this {
    return this.add("SYNC", [u64(tag)], `synchronise (${tag})`);
  }

  /** Run a helper program to completion inside the child's namespaces. */
  run(path: string, argv: readonly string[], envp: readonly string[]): this {
    return this.add("RUN", [str(path), strv(argv), strv(envp)], `run "${path}"`, path);
  }

  /** open(2) a path onto a given fd number (kept across exec). */
  openFd(path: string, openFlags: number, mode: number, targetFd: number): this {
    return this.add("OPEN_FD", [str(path), u64(openFlags), u64(mode), u64(targetFd)], `open "${path}" as fd ${targetFd}`, path);
  }

  /**
   * execve the first candidate path that exists, through nook-exec from a
   * sealed memfd (exec_helper.c says why). `direct`: execve the one candidate
   * itself — only for the host's own programs (a runtime hook), never for a
   * program of the container's.
   */
  exec(candidates: readonly string[], argv: readonly string[], envp: readonly string[], opts: { direct?: boolean } = {}): this {
    const flags = opts.direct ? ExecFlag.DIRECT : 0;
    return this.add("EXEC", [strv(candidates), strv(argv), strv(envp), u64(flags)], `execute "${argv[0] ?? ""}"`, argv[0]);
  }

  /** Put `data` on fd `targetFd` (a sealed memfd, read from its start; kept across exec): a program's stdin. */
  input(data: Uint8Array | string, targetFd: number): this {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    return this.add("INPUT", [{ t: "bytes", v: bytes }, u64(targetFd)], `put ${bytes.length} bytes of input on fd ${targetFd}`);
  }

  /** prctl(PR_SET_PDEATHSIG). */
  pdeathsig(signal: number): this {
    return this.add("PDEATHSIG", [u64(signal)], "set the parent-death signal");
  }

  /** personality(2). */
  personality(persona: number): this {
    return this.add("PERSONALITY", [u64(persona)], "set the execution domain");
  }

  /** Keep fds first..first+count-1 open across exec. */
  keepFds(first: number, count: number): this {
    return this.add("KEEP_FDS", [u64(first), u64(count)], `keep ${count} file descriptors`);
  }

  /**
   * Make the child dumpable (true) or not. It starts non-dumpable (a new user
   * namespace: from GO on), so that no process in a container can reach it;
   * a plan makes it dumpable only around a SYNC where nook's parent must open
   * its /proc files and no container process can see it.
   */
  dumpable(on: boolean): this {
    return this.add("DUMPABLE", [u64(on ? 1 : 0)], on ? "become dumpable" : "become non-dumpable");
  }

  /**
   * Hide a path (/dev/null over a file, an empty read-only tmpfs over a
   * directory) or make it read-only; a path that does not exist is skipped.
   */
  protectPath(path: string, how: "mask" | "readonly"): this {
    const what = how === "mask" ? `mask "${path}"` : `make "${path}" read-only`;
    return this.add("PROTECT_PATH", [str(path), u64(how === "mask" ? Protect.MASK : Protect.READONLY)], what, path);
  }

  /** Open a FIFO read-write as the plan's barrier (close-on-exec); {@link Plan.barrierWait} blocks on it. */
  barrierOpen(path: string): this {
    return this.add("BARRIER_OPEN", [str(path)], `open the start barrier "${path}"`, path);
  }

  /** Block until one byte arrives on the barrier (`nook runtime start`), then close it. */
  barrierWait(): this {
    return this.add("BARRIER_WAIT", [], "wait for the container to be started");
  }

  /**
   * mount(2); when the kernel refuses it (EPERM, EACCES: the namespace that
   * owns sysfs/proc/mqueue is not ours) bind `bindSource` recursively instead
   * and set the MOUNT_ATTR_* bits `attrSet` on it.
   */
  mountOrBind(
    source: string,
    target: string,
    fstype: string,
    flags: number,
    data: string,
    bindSource: string,
    attrSet: number,
  ): this {
    return this.add(
      "MOUNT_OR_BIND",
      [str(source), str(target), str(fstype), u64(flags), str(data), str(bindSource), u64(attrSet)],
      `mount ${fstype} on "${target}" (or bind "${bindSource}")`,
      target,
    );
  }

  /** Encode to the wire format of libshim/shim.h. */
  encode(): Uint8Array {
    const enc = new TextEncoder();
    const strCache = new Map<string, Uint8Array>();
    const strBytes = (s: string): Uint8Array => {
      let b = strCache.get(s);
      if (!b) {
        if (s.includes("\0")) throw new PlanError(`A value contains a NUL byte: "${s.replaceAll("\0", "\\0")}"`);
        b = enc.encode(s + "\0");
        strCache.set(s, b);
      }
      return b;
    };
    const fieldSize = (f: Field): number => {
      switch (f.t) {
        case "u64":
          return 8;
        case "str":
          return 4 + strBytes(f.v).length;
        case "bytes":
          return 4 + f.v.length;
        case "strv":
          return 4 + f.v.reduce((n, s) => n + 4 + strBytes(s).length, 0);
        case "u64v":
          return 4 + 8 * f.v.length;
      }
    };
    const sizes = this.ops.map((op) => op.fields.reduce((n, f) => n + fieldSize(f), 0));
    const total = HEADER_LEN + sizes.reduce((n, s) => n + 8 + s, 0);
    const buf = new Uint8Array(total);
    const dv = new DataView(buf.buffer);
    let o = 0;
    const w32 = (v: number) => (dv.setUint32(o, v, true), (o += 4));
    const w64 = (v: number | bigint) => {
      const big = typeof v === "bigint" ? v : BigInt(v);
      if (big < 0n || big > 0xffff_ffff_ffff_ffffn) throw new PlanError(`A number is out of range for a plan: ${v}`);
      dv.setBigUint64(o, big, true);
      o += 8;
    };
    const wstr = (s: string) => {
      const b = strBytes(s);
      w32(b.length);
      buf.set(b, o);
      o += b.length;
    };
    w32(MAGIC);
    dv.setUint16(o, PLAN_VERSION, true);
    dv.setUint16(o + 2, HEADER_LEN, true);
    o += 4;
    w32(total);
    w32(this.ops.length);
    w64(this.cloneFlags);
    this.ops.forEach((op, i) => {
      dv.setUint16(o, Op[op.name], true);
      dv.setUint16(o + 2, 0, true);
      o += 4;
      w32(sizes[i]!);
      for (const f of op.fields) {
        switch (f.t) {
          case "u64":
            w64(f.v);
            break;
          case "str":
            wstr(f.v);
            break;
          case "bytes":
            w32(f.v.length);
            buf.set(f.v, o);
            o += f.v.length;
            break;
          case "strv":
            w32(f.v.length);
            f.v.forEach(wstr);
            break;
          case "u64v":
            w32(f.v.length);
            f.v.forEach(w64);
            break;
        }
      }
    });
    return buf;
  }
}
