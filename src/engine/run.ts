import { launch } from "../launch/mod.ts";
import { applyIdMapping, type IdMapping } from "../userns/mod.ts";
import { buildPlan } from "./build_plan.ts";
import type { ContainerSpec, RunHooks } from "../model/container.ts";
export type { RunHooks } from "../model/container.ts";
import { mark } from "../trace/mod.ts";
import { specMapping } from "./userns.ts";
import { attachForeground, SignalForwarder } from "./attach.ts";
export { attachForeground, exitCode, FORWARDED_SIGNALS, SignalForwarder } from "./attach.ts";

/** The steps of several concerns (cgroups, network…) as one set of hooks, in the order given. */
export function mergeHooks(...all: RunHooks[]): RunHooks {
  return {
    beforeGo: all.flatMap((h) => h.beforeGo ?? []),
    duringIdMapping: all.flatMap((h) => h.duringIdMapping ?? []),
    afterExit: all.flatMap((h) => h.afterExit ?? []),
  };
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
  mapping = specMapping(spec, mapping); // --userns: the container's own maps
  const plan = buildPlan(spec, mapping);
  mark("plan");
  const signals = new SignalForwarder();
  let started;
  try {
    started = await launch(plan, {
      beforeGo: async (pid) => {
        // newuidmap/newgidmap and a slow helper (pasta) need not wait for each other.
        await Promise.all([applyIdMapping(pid, mapping).then(() => mark("id maps")), ...(hooks.duringIdMapping ?? []).map((step) => step(pid))]);
        mark("network");
        for (const step of hooks.beforeGo ?? []) await step(pid);
        mark("before go");
      },
    });
  } catch (err) {
    signals.close();
    for (const step of hooks.afterExit ?? []) await step().catch(() => {});
    throw err;
  }
  return await attachForeground(started, spec.process.stdin, hooks, signals);
}
