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

/** Parent-side steps other concerns add to a run (cgroups, network helpers…). */
export interface RunHooks {
  /** Run while the child waits in its fresh namespaces, after the id maps are written. */
  beforeGo?: ((pid: number) => Promise<void>)[];
  /** Run while the id maps are being written, for steps that do not need them (starting a network helper). */
  duringIdMapping?: ((pid: number) => Promise<void>)[];
  /** Run after the container's process has ended (whatever the outcome). */
  afterExit?: (() => Promise<void>)[];
}

/**
 * Run a container in the foreground: start it, relay its terminal when it has
 * one, forward signals, and resolve with its exit code. The terminal mode is
 * restored on every path out.
 */
export async function runContainer(spec: ContainerSpec, mapping: IdMapping, hooks: RunHooks = {}): Promise<number> {
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
  let started;
  try {
    started = await launch(plan, {
      beforeGo: async (pid) => {
        // newuidmap/newgidmap and a slow helper (pasta) need not wait for each other.
        await Promise.all([applyIdMapping(pid, mapping), ...(hooks.duringIdMapping ?? []).map((step) => step(pid))]);
        for (const step of hooks.beforeGo ?? []) await step(pid);
      },
    });
  } catch (err) {
    for (const step of hooks.afterExit ?? []) await step().catch(() => {});
    throw err;
  }

  const listeners: [Deno.Signal, () => void][] = [];
  const on = (sig: Deno.Signal, fn: () => void) => {
    Deno.addSignalListener(sig, fn);
    listeners.push([sig, fn]);
  };
  let restoreTty: (() => Promise<void>) | undefined;
  try {
    for (const sig of FORWARDED_SIGNALS) on(sig, () => void pidfdKill(started.pidfd, SIGNALS[sig]!).catch(() => {}));
    let relay: Promise<void> = Promise.resolve();
    if (started.ptyMaster >= 0) {
      const master = started.ptyMaster;
      on("SIGWINCH", () => {
        try {
          const { rows, columns } = Deno.consoleSize();
          void ptyResize(master, rows, columns).catch(() => {});
        } catch {
          // no terminal to measure
        }
      });
      if (spec.process.stdin && Deno.stdin.isTerminal()) restoreTty = await ttyRaw(0);
      relay = ptyRelay(master, spec.process.stdin ? 0 : -1, 1).finally(() => closeFd(master));
    }
    const status = await wait(started.pid);
    await relay;
    return exitCode(status);
  } finally {
    await restoreTty?.();
    for (const [sig, fn] of listeners) Deno.removeSignalListener(sig, fn);
    await closeFd(started.pidfd);
    for (const step of hooks.afterExit ?? []) await step().catch(() => {});
  }
}
