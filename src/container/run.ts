import { closeFd, type ExitStatus, pidfdKill, ptyRelay, ptyResize, ttyRaw, wait } from "../ffi/mod.ts";
import { launch } from "../launch/mod.ts";
import { SIGNALS } from "../plan/mod.ts";
import { applyIdMapping, type IdMapping } from "../userns/mod.ts";
import { buildPlan } from "./build_plan.ts";
import type { ContainerSpec } from "./spec.ts";

/** Signals `nook run` passes on to the container's process. */
export const FORWARDED_SIGNALS: readonly Deno.Signal[] = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

/** docker's exit code for how a process ended: its code, or 128 + signal. */
export function exitCode(status: ExitStatus): number {
  return status.exited ? status.code : 128 + status.signal;
}

/**
 * Run a container in the foreground: start it, relay its terminal when it has
 * one, forward signals, and resolve with its exit code. The terminal mode is
 * restored on every path out.
 */
export async function runContainer(spec: ContainerSpec, mapping: IdMapping): Promise<number> {
  const tty = spec.process.terminal;
  if (tty && !spec.process.consoleSize) {
    try {
      const { rows, columns } = Deno.consoleSize();
      spec.process.consoleSize = [rows, columns];
    } catch {
      // not a terminal: the pty keeps its default size
    }
  }
  const plan = buildPlan(spec, mapping);
  const started = await launch(plan, { beforeGo: (pid) => applyIdMapping(pid, mapping) });

  const listeners: [Deno.Signal, () => void][] = [];
  const on = (sig: Deno.Signal, fn: () => void) => {
    Deno.addSignalListener(sig, fn);
    listeners.push([sig, fn]);
  };
  let restoreTty: (() => void) | undefined;
  try {
    for (const sig of FORWARDED_SIGNALS) on(sig, () => pidfdKill(started.pidfd, SIGNALS[sig]!));
    let relay: Promise<void> = Promise.resolve();
    if (started.ptyMaster >= 0) {
      const master = started.ptyMaster;
      on("SIGWINCH", () => {
        try {
          const { rows, columns } = Deno.consoleSize();
          ptyResize(master, rows, columns);
        } catch {
          // no terminal to measure
        }
      });
      if (spec.process.stdin && Deno.stdin.isTerminal()) restoreTty = ttyRaw(0);
      relay = ptyRelay(master, spec.process.stdin ? 0 : -1, 1).finally(() => closeFd(master));
    }
    const status = await wait(started.pid);
    await relay;
    return exitCode(status);
  } finally {
    restoreTty?.();
    for (const [sig, fn] of listeners) Deno.removeSignalListener(sig, fn);
    closeFd(started.pidfd);
  }
}
