/**
 * Typed wrappers of the libshim helpers the OCI runtime uses (issue #9):
 * FIFO, pidfd, sending the console's pty master, running hooks.
 */
import { closeFd, shim, unwrap } from "../ffi/mod.ts";
import { errnoName } from "../errors/mod.ts";

const cstr = (s: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(s + "\0");

/** mkfifo(2). */
export async function mkfifo(path: string, mode = 0o600): Promise<void> {
  unwrap(await shim().shim_mkfifo(cstr(path), mode), "create the start FIFO", path);
}

/** Send an fd over the AF_UNIX socket at path (SCM_RIGHTS), as runc does with a console socket. */
export async function sendFd(path: string, fd: number, name: string): Promise<void> {
  unwrap(await shim().shim_send_fd(cstr(path), fd, cstr(name)), "send the terminal to the console socket", path);
}

/** How a hook ended. */
export interface HookResult {
  /** Exit status (128+n for a signal), or "timeout". */
  status: number | "timeout";
  /** What it wrote to stdout and stderr (up to 8 KiB). */
  output: string;
}

/**
 * Run a program with `input` on stdin, inside the namespaces listed (paths,
 * joined in order; none = nook's own), killing it after timeoutMs (0 = never).
 */
export async function runHook(
  path: string,
  argv: readonly string[],
  env: readonly string[],
  namespaces: readonly string[],
  input: string,
  timeoutMs: number,
): Promise<HookResult> {
  const strings = new TextEncoder().encode([path, ...argv, ...env, ...namespaces].map((s) => s + "\0").join(""));
  const stdin = new TextEncoder().encode(input);
  const out = new Uint8Array(8192);
  const rc = await shim().shim_run_hook(
    strings,
    strings.length,
    argv.length,
    env.length,
    namespaces.length,
    stdin,
    stdin.length,
    timeoutMs,
    out,
    out.length,
  );
  const end = out.indexOf(0);
  const output = new TextDecoder().decode(end < 0 ? out : out.subarray(0, end));
  if (rc === -110 /* ETIMEDOUT */) return { status: "timeout", output };
  if (rc < 0) unwrap(rc, `run hook "${path}" (${errnoName(-rc)})`, path);
  return { status: rc, output };
}

export { closeFd };
