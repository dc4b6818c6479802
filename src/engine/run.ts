import { launch } from "../launch/mod.ts";
import { applyIdMapping, type IdMapping } from "../userns/mod.ts";
import { buildPlan } from "./build_plan.ts";
import { publishUserNetworkPorts, userNetworkSync } from "./networks.ts";
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
    onSync: all.flatMap((h) => h.onSync ?? []),
    started: all.flatMap((h) => h.started ?? []),
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
        // a container in the shared user namespace has its maps already (the holder's)
        await Promise.all([spec.joinUserns ? Promise.resolve() : applyIdMapping(pid, mapping).then(() => mark("id maps")), ...(hooks.duringIdMapping ?? []).map((step) => step(pid))]);
        mark("network");
        for (const step of hooks.beforeGo ?? []) await step(pid);
        mark("before go");
      },
      onSync: async (tag, pid) => {
        await userNetworkSync(spec)?.(tag, pid);
        for (const step of hooks.onSync ?? []) await step(tag, pid);
      },
    });
  } catch (err) {
    signals.close();
    for (const step of hooks.afterExit ?? []) await step().catch(() => {});
    throw err;
  }
  try {
    await publishUserNetworkPorts(spec, started.pid);
  } catch (err) {
    await attachForeground(started, false, hooks, signals).catch(() => {}); // it was ended: collect it
    throw err;
  }
  for (const step of hooks.started ?? []) await step(started.pid);
  return await attachForeground(started, spec.process.stdin, hooks, signals);
}
