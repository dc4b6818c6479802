/**
 * Typed wrappers of the libshim calls the OCI runtime uses: the start FIFO,
 * pidfds, sending the console's pty master; and running a hook as a plan.
 */
import { closeFd, helperWait, pidfdKill, pipe, shim, unwrap, wait } from "../ffi/mod.ts";
import { errnoText, NookError } from "../errors/mod.ts";
import { launch, type Launched } from "../launch/mod.ts";
import { O, Plan, SIGNALS } from "../plan/mod.ts";

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

/** The most of a hook's stdout and stderr kept for its error message. */
const HOOK_OUTPUT_MAX = 8192;

/**
 * The plan of a hook: `input` on its stdin, stdout and stderr into the pipe
 * whose write end is `outFd`, the namespaces joined in order (then a fork, so
 * that a joined pid namespace applies to the hook), and the hook's own program
 * exec'd directly: it is the host's program the spec's author named, not the
 * container's, so not through nook-exec. The plan's child is non-dumpable from
 * its start (before the first setns), its signals are reset and every other fd
 * is closed at the exec.
 */
export function hookPlan(
  path: string,
  argv: readonly string[],
  env: readonly string[],
  namespaces: readonly string[],
  input: string,
  outFd: number,
): Plan {
  const plan = new Plan(0);
  plan.input(input, 0);
  // before any setns: /proc/self/fd/N is the pipe nook holds, in nook's mount namespace
  plan.openFd(`/proc/self/fd/${outFd}`, O.WRONLY, 0, 1);
  plan.openFd(`/proc/self/fd/${outFd}`, O.WRONLY, 0, 2);
  if (namespaces.length > 0) {
    for (const ns of namespaces) plan.setns(ns, 0);
    plan.chdir("/");
    plan.fork();
  }
  return plan.exec([path], argv.length > 0 ? argv : [path], env, { direct: true });
}

/**
 * Run a hook program with `input` on stdin, inside the namespaces listed
 * (paths, joined in order; none = nook's own), killing it after timeoutMs
 * (0 = never). Resolves with its status and what it wrote.
 */
export async function runHook(
  path: string,
  argv: readonly string[],
  env: readonly string[],
  namespaces: readonly string[],
  input: string,
  timeoutMs: number,
): Promise<HookResult> {
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
  const out = await pipe();
  let launched: Launched;
  try {
    launched = await launch(hookPlan(path, argv, env, namespaces, input, out.write));
  } catch (err) {
    await closeFd(out.read);
    if (!(err instanceof NookError) || err.errno === undefined) throw err;
    // a step of the plan failed (a namespace to join, the program to exec): the hook did not run
    const step = /\((\w+)\)$/.exec(err.op ?? "")?.[1] ?? "run";
    const output = `cannot ${step} "${step === "exec" ? path : err.path ?? path}": ${errnoText(err.errno)}`;
    return { status: step === "exec" ? 127 : 126, output };
  } finally {
    await closeFd(out.write);
  }
  const chunks: Uint8Array[] = [];
  let kept = 0, timedOut = false;
  try {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) {
        timedOut = true;
        break;
      }
      const got = await helperWait(out.read, launched.pidfd, left === Infinity ? -1 : Math.min(left, 2 ** 31 - 1), 4096);
      if (got === "timeout") continue;
      // ended: EOF, or the hook exited (its children may hold the pipe: do not wait for them)
      if (got === "exited" || got.length === 0) break;
      if (kept < HOOK_OUTPUT_MAX) chunks.push(got.subarray(0, HOOK_OUTPUT_MAX - kept)), kept += got.length;
    }
    if (timedOut) await pidfdKill(launched.pidfd, SIGNALS.SIGKILL!);
  } finally {
    await closeFd(out.read);
    await closeFd(launched.pidfd);
  }
  const status = await wait(launched.pid);
  let output = "";
  const decoder = new TextDecoder();
  for (const c of chunks) output += decoder.decode(c, { stream: true });
  output += decoder.decode();
  if (timedOut) return { status: "timeout", output };
  return { status: status.exited ? status.code : 128 + status.signal, output };
}

export { closeFd };
