/**
 * libshim through Deno's FFI: opening the library (also from inside a
 * `deno compile` binary), typed wrappers, and errno → {@link ShimError}.
 *
 * @module
 */
import { errnoName, HostError, NookError } from "../errors/mod.ts";
import { MSG_SIZE } from "../plan/ops.ts";
import { projectPath } from "../paths/project.ts";
import { type Shim, SYMBOLS } from "./symbols.ts";
import { mark } from "../trace/mod.ts";

export { type Shim, SYMBOLS } from "./symbols.ts";

/** A libshim call failed; `errno` holds the positive errno. */
export class ShimError extends NookError {}

let lib: Shim | undefined;

/** Where libshim is: `$NOOK_LIBSHIM`, else `build/libshim.so` next to the sources (or embedded by `deno compile --include`). */
export function libshimPath(): string {
  const override = Deno.env.get("NOOK_LIBSHIM");
  if (override) return override;
  return projectPath("build/libshim.so");
}

/**
 * Open libshim once, and bind each symbol on its first use: Deno builds a call
 * trampoline for every symbol it binds (≈1 ms for a synchronous one), and a
 * command uses a few of the library's symbols (binding all of them cost
 * `nook run` ≈3 ms more on a busy 2-core machine). A compiled nook binds them
 * all at once: there each dlopen of the embedded library may extract a copy.
 * There is no version call here on purpose: every plan carries its version and
 * libshim refuses one it does not speak, and {@link spawn} turns that into a
 * "rebuild libshim" hint.
 */
export function shim(): Shim {
  if (lib) return lib;
  const path = libshimPath();
  const open = <S extends Deno.ForeignLibraryInterface>(symbols: S): Deno.DynamicLibrary<S> => {
    try {
      return Deno.dlopen(path, symbols);
    } catch (err) {
      throw new HostError(`Cannot load libshim from "${path}": ${(err as Error).message}`, {
        op: "dlopen",
        path,
        hint: "run ./nook once so it builds libshim (it needs a C compiler), or point NOOK_LIBSHIM at a built libshim.so",
        cause: err,
      });
    }
  };
  if (Deno.build.standalone) {
    lib = open(SYMBOLS).symbols;
    mark("libshim load");
    return lib;
  }
  open({}); // the library itself: a missing or broken file fails here
  const bound: Record<string, unknown> = {};
  const table: PropertyDescriptorMap = {};
  for (const name of Object.keys(SYMBOLS) as (keyof typeof SYMBOLS)[]) {
    // a symbol an out-of-date libshim lacks fails at its first use, with the same hint
    table[name] = { enumerable: true, get: () => (bound[name] ??= open({ [name]: SYMBOLS[name] }).symbols[name]) };
  }
  lib = Object.defineProperties({}, table) as Shim;
  mark("libshim load");
  return lib;
}

/** Throw a {@link ShimError} for a negative return value, else return it. */
export function unwrap(rc: number, op: string, path?: string): number {
  if (rc >= 0) return rc;
  const errno = -rc;
  throw new ShimError(`${op} failed: ${errnoName(errno)}`, path === undefined ? { op, errno } : { op, errno, path });
}

/** What shim_spawn hands back. */
export interface Spawned {
  /** Child pid in nook's pid namespace. */
  pid: number;
  /** nook's end of the sync socket. */
  sock: number;
  /** pidfd of the child. */
  pidfd: number;
}

/** Validate and spawn a plan (synchronously, on the JS thread); a refused plan throws with libshim's text. */
export function spawn(plan: Uint8Array): Spawned {
  const out = new Int32Array(3);
  const err = new Uint8Array(256);
  const rc = shim().shim_spawn(plan as Uint8Array<ArrayBuffer>, plan.length, out, err, err.length);
  if (rc < 0) {
    const text = cString(err);
    if (text) {
      throw new ShimError(`libshim rejected the plan: ${text}`, {
        op: "spawn",
        errno: -rc,
        ...(text.includes("version") ? { hint: `libshim at "${libshimPath()}" is out of date: delete build/ and run ./nook again` } : {}),
      });
    }
    unwrap(rc, "clone");
  }
  return { pid: out[0]!, sock: out[1]!, pidfd: out[2]! };
}

/** A helper {@link spawnWith} started beside the child: give it to {@link helperCollect}. */
export interface SpawnedHelper {
  /** Its pid (nook's child). */
  pid: number;
  /** The read end of its stderr. */
  errFd: number;
}

/**
 * {@link spawn}, and right after the clone up to two helper programs that need
 * only the child's pid (newuidmap/newgidmap): libshim starts them before it
 * returns, each argument `"%PID%"` replaced by the child's pid, so they run
 * while nook goes back to JavaScript and waits for the child's READY.
 * Collect each with {@link helperCollect}, also when the launch fails.
 */
export function spawnWith(plan: Uint8Array, helpers: readonly (readonly string[])[]): Spawned & { helpers: SpawnedHelper[] } {
  if (!helpers.length) return { ...spawn(plan), helpers: [] };
  const block = new TextEncoder().encode(helpers.map((argv) => argv.map((a) => a + "\0").join("") + "\0").join(""));
  const out = new Int32Array(3 + 2 * helpers.length);
  const err = new Uint8Array(256);
  const rc = shim().shim_spawn_with(plan as Uint8Array<ArrayBuffer>, plan.length, block, block.length, out, err, err.length);
  if (rc < 0) {
    const text = cString(err);
    if (text.startsWith("start ")) unwrap(rc, text, text.slice(6));
    if (text) throw new ShimError(`libshim rejected the plan: ${text}`, { op: "spawn", errno: -rc });
    unwrap(rc, "clone");
  }
  return {
    pid: out[0]!,
    sock: out[1]!,
    pidfd: out[2]!,
    helpers: helpers.map((_, i) => ({ pid: out[3 + 2 * i]!, errFd: out[4 + 2 * i]! })),
  };
}

/** Wait for a helper {@link spawnWith} started: how it ended and what it wrote to stderr. */
export async function helperCollect(h: SpawnedHelper): Promise<HelperResult> {
  const err = new Uint8Array(4096);
  const rc = await shim().shim_helper_collect(h.pid, h.errFd, err, err.length);
  unwrap(rc, "wait for a helper");
  return { code: rc, stderr: cString(err) };
}

/** Plan format version of the loaded libshim. */
export async function version(): Promise<number> {
  return await shim().shim_version();
}

/** Validate a plan without running it: "" when valid, else libshim's message. */
export async function validate(plan: Uint8Array): Promise<string> {
  const err = new Uint8Array(256);
  const rc = await shim().shim_validate(plan as Uint8Array<ArrayBuffer>, plan.length, err, err.length);
  return rc < 0 ? cString(err) || errnoName(-rc) : "";
}

/** One message from the child (`struct shim_msg`), or null at EOF. */
export interface ShimMessage {
  /** Msg type. */
  type: number;
  /** Op index, -1 when not about an op. */
  op: number;
  /** Positive errno (ERROR). */
  err: number;
  /** pid, tag, fd purpose… */
  value: number;
  /** Detail text (ERROR). */
  text: string;
  /** An fd passed along with the message, or -1. */
  fd: number;
}

function decodeMsg(buf: Uint8Array, fd: number): ShimMessage {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    type: dv.getUint32(0, true),
    op: dv.getInt32(4, true),
    err: dv.getInt32(8, true),
    value: dv.getInt32(12, true),
    text: cString(buf.subarray(16)),
    fd,
  };
}

/** Wait for the next message; null when the child closed the socket (it exec'd or died). */
export async function recv(sock: number, timeoutMs = -1): Promise<ShimMessage | null> {
  const buf = new Uint8Array(MSG_SIZE);
  const fd = new Int32Array(1);
  const n = unwrap(await shim().shim_recv(sock, buf, fd, timeoutMs), "receive from the container's setup process");
  return n === 0 ? null : decodeMsg(buf, fd[0]!);
}

/** Send GO / CONTINUE / ABORT. */
export async function send(sock: number, type: number, value = 0): Promise<void> {
  unwrap(await shim().shim_send(sock, type, value), "send to the container's setup process");
}

/** How a process ended. */
export type ExitStatus = { exited: true; code: number } | { exited: false; signal: number };

function decodeStatus(out: Int32Array): ExitStatus | null {
  if (out[0] === 0) return null;
  return out[0] === 1 ? { exited: true, code: out[1]! } : { exited: false, signal: out[1]! };
}

/** waitpid for a child of nook. */
export async function wait(pid: number): Promise<ExitStatus> {
  const out = new Int32Array(2);
  unwrap(await shim().shim_wait(pid, out, 0), "wait for the container", String(pid));
  return decodeStatus(out)!;
}

/** waitpid(WNOHANG): null while the process runs. */
export async function poll(pid: number): Promise<ExitStatus | null> {
  const out = new Int32Array(2);
  unwrap(await shim().shim_wait(pid, out, 1), "wait for the container", String(pid));
  return decodeStatus(out);
}

/** Close an fd that came back through FFI (Deno cannot use them itself). */
export async function closeFd(fd: number): Promise<void> {
  if (fd >= 0) await shim().shim_close(fd);
}

/** Signal a process through its pidfd; false when it is already gone. */
export async function pidfdKill(pidfd: number, signal: number): Promise<boolean> {
  const rc = await shim().shim_pidfd_kill(pidfd, signal);
  if (rc === -3 /* ESRCH */) return false;
  unwrap(rc, "signal the container");
  return true;
}

/** How a helper program ended, and what it wrote to stderr. */
export interface HelperResult {
  /** Exit status (128+n when a signal ended it). */
  code: number;
  /** Its stderr, up to 4 KiB. */
  stderr: string;
}

/**
 * Run a helper program (newuidmap…) to completion with posix_spawn. Cheaper
 * than Deno.Command, whose first use costs ~10 ms of set-up in every nook run.
 */
export async function runHelper(argv: readonly string[]): Promise<HelperResult> {
  const block = new TextEncoder().encode(argv.map((a) => a + "\0").join(""));
  const err = new Uint8Array(4096);
  const out = new Int32Array(2);
  const rc = await shim().shim_helper_run(block, block.length, cBytes(""), null, 0, 0, HELPER_WAIT, out, err, err.length);
  unwrap(rc, `run "${argv[0]}"`, argv[0]);
  return { code: rc, stderr: cString(err) };
}

/** `SHIM_HELPER_*` flags of shim_helper (shim.h). */
const HELPER_WAIT = 1;
const HELPER_KEEPER = 2;

/** A pipe made by libshim: fds only libshim calls and child processes can use. */
export async function pipe(): Promise<{ read: number; write: number }> {
  const out = new Int32Array(2);
  unwrap(await shim().shim_pipe(out), "create a pipe");
  return { read: out[0]!, write: out[1]! };
}

/** Make a FIFO at path and open its read end without blocking; resolves with that fd. */
export async function fifo(path: string): Promise<number> {
  return unwrap(await shim().shim_fifo(cBytes(path)), "create a FIFO", path);
}

/** What {@link startHelper} needs besides argv. */
export interface HelperStartOptions {
  /** File the helper's stderr is appended to ("" = /dev/null). */
  log?: string;
  /** fds (from {@link pipe}/{@link fifo}) that stay open in the helper at their numbers. */
  keepFds?: readonly number[];
  /** Signal the helper gets when nook ends (0 = none). */
  deathSignal?: number;
}

/** A helper process started by {@link startHelper}. */
export interface StartedHelper {
  /** Its pid (a child of nook: reap it with {@link wait}). */
  pid: number;
  /** Its pidfd. */
  pidfd: number;
}

/**
 * Start a long-running helper (pasta, slirp4netns) without waiting for it.
 * Synchronous on purpose: the parent-death signal follows the calling thread.
 */
export function startHelper(argv: readonly string[], opts: HelperStartOptions = {}): StartedHelper {
  const block = cBytes(argv.join("\0"));
  const keep = new Int32Array(opts.keepFds ?? []);
  const out = new Int32Array(2);
  const rc = shim().shim_helper(
    block,
    block.length,
    cBytes(opts.log ?? ""),
    keep,
    keep.length,
    opts.deathSignal ?? 0,
    0,
    out,
    null,
    0,
  );
  unwrap(rc, `start "${argv[0]}"`, argv[0]);
  return { pid: out[0]!, pidfd: out[1]! };
}

/**
 * Wait for a helper's news: up to `max` bytes readable on fd (resolves with
 * them; empty at EOF), or "exited" when the helper ended first, or "timeout".
 * fd -1 waits for the exit only.
 */
export async function helperWait(
  fd: number,
  pidfd: number,
  timeoutMs: number,
  max = 256,
): Promise<Uint8Array | "exited" | "timeout"> {
  const buf = new Uint8Array(max);
  const rc = await shim().shim_helper_wait(fd, pidfd, timeoutMs, buf, buf.length);
  if (rc === -10 /* ECHILD */) return "exited";
  if (rc === -110 /* ETIMEDOUT */) return "timeout";
  return buf.subarray(0, unwrap(rc, "wait for a helper"));
}

/**
 * Whether a server could bind `port` on `ip` for TCP or UDP now: resolves
 * with the port (the kernel's pick for port 0) or a negative errno
 * (-98 EADDRINUSE when taken, -13 EACCES for a privileged port).
 */
export async function probePort(ip: string, port: number, protocol: "tcp" | "udp"): Promise<number> {
  return await shim().shim_port_probe(cBytes(ip), port, protocol === "udp" ? 1 : 0);
}

/** A NUL-terminated copy of a string, for `const char *` parameters. */
function cBytes(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s + "\0");
}

/**
 * Start a process that only waits for nook to exit (or to be killed): it keeps
 * a container's systemd scope alive until nook has read its cgroup. Its pid.
 */
export async function startKeeper(): Promise<number> {
  const out = new Int32Array(2);
  unwrap(await shim().shim_helper_run(null, 0, null, null, 0, 0, HELPER_KEEPER, out, null, 0), "start the scope keeper");
  return out[0]!;
}

/** Relay stdin/stdout to a pty master until the container side hangs up. */
export async function ptyRelay(master: number, inFd: number, outFd: number): Promise<void> {
  unwrap(await shim().shim_pty_relay(master, inFd, outFd), "relay the terminal");
}

/** Put a terminal fd in raw mode; resolves with a function that restores it. */
export async function ttyRaw(fd: number): Promise<() => Promise<void>> {
  const saved = new Uint8Array(128);
  unwrap(await shim().shim_tty_raw(fd, saved, saved.length), "set the terminal to raw mode");
  return async () => void (await shim().shim_tty_restore(fd, saved, saved.length));
}

/** Set a pty's window size. */
export async function ptyResize(master: number, rows: number, cols: number): Promise<void> {
  unwrap(await shim().shim_pty_resize(master, rows, cols), "resize the terminal");
}

/**
 * Start the container monitor (`argv[0]` is its path) with the plan on its fd 3
 * and a control socket on fd 4; resolves with nook's end of that socket.
 * libshim validates the plan first and throws with its text when refused.
 */
export async function monitorSpawn(argv: readonly string[], plan: Uint8Array): Promise<number> {
  const block = new TextEncoder().encode(argv.map((a) => a + "\0").join(""));
  const out = new Int32Array(2);
  const err = new Uint8Array(256);
  const rc = await shim().shim_monitor_spawn(block, block.length, plan as Uint8Array<ArrayBuffer>, plan.length, out, err, err.length);
  if (rc < 0) {
    const text = cString(err);
    if (text) throw new ShimError(`libshim rejected the plan: ${text}`, { op: "spawn", errno: -rc });
    unwrap(rc, `start the container monitor "${argv[0]}"`, argv[0]);
  }
  return out[0]!;
}

/** pidfd_open(2); null when the process is gone. */
export async function pidfdOpen(pid: number): Promise<number | null> {
  const rc = await shim().shim_pidfd_open(pid);
  if (rc === -3 /* ESRCH */) return null;
  return unwrap(rc, "open a pidfd", String(pid));
}

/** Wait up to timeoutMs (-1: for ever) for a pidfd's process to end; true when it has. */
export async function pidfdWait(pidfd: number, timeoutMs: number): Promise<boolean> {
  return unwrap(await shim().shim_pidfd_wait(pidfd, timeoutMs), "wait for a process") === 1;
}

function cString(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(end < 0 ? buf : buf.subarray(0, end));
}
