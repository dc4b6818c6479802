/**
 * The attach verb: stay with a process the engine started in the foreground (`nook run`,
 * `nook exec`, `nook runtime run` and `exec` without --detach) — its terminal relayed, nook's
 * signals forwarded to it, and its exit code (128+n for a signal) as the result. Both front doors
 * use this one waiter.
 *
 * @module
 */
import { closeFd, type ExitStatus, pidfdKill, ptyRelay, ptyResize, ttyRaw, wait } from "../ffi/mod.ts";
import type { Launched } from "../launch/mod.ts";
import { SIGNALS } from "../plan/linux.ts";
import type { RunHooks } from "../model/container.ts";
import { mark } from "../trace/mod.ts";

/** Signals `nook run` passes on to the container's process. */
export const FORWARDED_SIGNALS: readonly Deno.Signal[] = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

/** docker's exit code for how a process ended: its code, or 128 + signal. */
export function exitCode(status: ExitStatus): number {
  return status.exited ? status.code : 128 + status.signal;
}


/**
 * Passes nook's signals on to a process. It listens from the moment it is
 * made — before the process exists, since a container can run (and be
 * signalled) before launch() returns — and queues what comes early until
 * {@link SignalForwarder.attach} names the process.
 */
export class SignalForwarder {
  #listeners: [Deno.Signal, () => void][] = [];
  #pidfd = -1;
  #pending: number[] = [];

  /** Start listening for {@link FORWARDED_SIGNALS}. */
  constructor() {
    for (const sig of FORWARDED_SIGNALS) this.on(sig, () => this.#forward(SIGNALS[sig]!));
  }

  /** Add another listener that lives as long as this forwarder (SIGWINCH for a pty). */
  on(sig: Deno.Signal, fn: () => void): void {
    Deno.addSignalListener(sig, fn);
    this.#listeners.push([sig, fn]);
  }

  /** From now on signals go to the process behind this pidfd; queued ones first. */
  attach(pidfd: number): void {
    this.#pidfd = pidfd;
    for (const signo of this.#pending.splice(0)) this.#forward(signo);
  }

  /** Stop listening. */
  close(): void {
    for (const [sig, fn] of this.#listeners.splice(0)) Deno.removeSignalListener(sig, fn);
  }

  #forward(signo: number): void {
    if (this.#pidfd < 0) this.#pending.push(signo);
    else void pidfdKill(this.#pidfd, signo).catch(() => {});
  }
}

/**
 * Stay with a started process until it ends (run, exec): relay its terminal
 * when it has one, forward signals, resolve with its exit code, run the
 * afterExit hooks. The terminal mode is restored on every path out.
 */
export async function attachForeground(
  started: Launched,
  stdin: boolean,
  hooks: RunHooks = {},
  signals: SignalForwarder = new SignalForwarder(),
): Promise<number> {
  signals.attach(started.pidfd);
  let restoreTty: (() => Promise<void>) | undefined;
  try {
    let relay: Promise<void> = Promise.resolve();
    if (started.ptyMaster >= 0) {
      const master = started.ptyMaster;
      signals.on("SIGWINCH", () => {
        try {
          const { rows, columns } = Deno.consoleSize();
          void ptyResize(master, rows, columns).catch(() => {});
        } catch {
          // no terminal to measure
        }
      });
      if (stdin && Deno.stdin.isTerminal()) restoreTty = await ttyRaw(0);
      relay = ptyRelay(master, stdin ? 0 : -1, 1).finally(() => closeFd(master));
    }
    const status = await wait(started.pid);
    mark("wait");
    await relay;
    return exitCode(status);
  } finally {
    await restoreTty?.();
    signals.close();
    await closeFd(started.pidfd);
    for (const step of hooks.afterExit ?? []) await step().catch(() => {});
  }
}
