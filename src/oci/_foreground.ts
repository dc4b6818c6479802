/**
 * Waiting for a process the runtime started in the foreground (`run` and
 * `exec` without --detach): signals are forwarded to it, a terminal is
 * relayed, and the result is the process's exit code (128+n for a signal).
 */
import { closeFd, pidfdKill, ptyRelay, ptyResize, ttyRaw, wait } from "../ffi/mod.ts";
import { exitCode, FORWARDED_SIGNALS } from "../engine/run.ts";
import { SIGNALS } from "../plan/mod.ts";

/** Forward nook's signals to a process; call the result to stop. */
export function forwardSignals(pidfd: () => number): () => void {
  const listeners: [Deno.Signal, () => void][] = [];
  for (const sig of FORWARDED_SIGNALS) {
    const fn = () => {
      const fd = pidfd();
      if (fd >= 0) void pidfdKill(fd, SIGNALS[sig]!).catch(() => {});
    };
    Deno.addSignalListener(sig, fn);
    listeners.push([sig, fn]);
  }
  return () => {
    for (const [sig, fn] of listeners) Deno.removeSignalListener(sig, fn);
  };
}

/** Wait for `pid` (a child of nook), relaying `ptyMaster` (or -1) to stdin/stdout. */
export async function waitForeground(pid: number, ptyMaster: number): Promise<number> {
  let restore: (() => Promise<void>) | undefined;
  let relay: Promise<void> = Promise.resolve();
  const resize = () => {
    try {
      const { rows, columns } = Deno.consoleSize();
      void ptyResize(ptyMaster, rows, columns).catch(() => {});
    } catch {
      // no terminal to measure
    }
  };
  if (ptyMaster >= 0) {
    Deno.addSignalListener("SIGWINCH", resize);
    if (Deno.stdin.isTerminal()) restore = await ttyRaw(0);
    relay = ptyRelay(ptyMaster, 0, 1).finally(() => closeFd(ptyMaster));
  }
  try {
    const status = await wait(pid);
    await relay;
    return exitCode(status);
  } finally {
    if (ptyMaster >= 0) Deno.removeSignalListener("SIGWINCH", resize);
    await restore?.();
  }
}
