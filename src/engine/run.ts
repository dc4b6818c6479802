import { launch } from "../launch/mod.ts";
import { applyIdMapping, checkIdMapTool, type IdMapping, idMapCommands } from "../userns/mod.ts";
import { helperCollect, type SpawnedHelper, spawnWith } from "../ffi/mod.ts";
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
  // newuidmap/newgidmap start with the clone (libshim starts them before it returns), so they
  // run while nook waits for the child's READY; a container in the shared user namespace has
  // its maps already (the holder's), and the single-id maps are written in beforeGo.
  const mapTools = spec.joinUserns ? [] : idMapCommands(mapping);
  let mapHelpers: SpawnedHelper[] = [];
  let maps: Promise<void> | undefined;
  const mapsWritten = () =>
    maps ??= Promise.all(mapHelpers.map(async (h, i) => checkIdMapTool(mapTools[i]![0]!, await helperCollect(h))))
      .then(() => mark("id maps"));
  let started;
  try {
    started = await launch(plan, {
      beforeGo: async (pid) => {
        // the id maps and a slow helper (pasta) need not wait for each other.
        const idMaps = spec.joinUserns ? Promise.resolve() : mapTools.length ? mapsWritten() : applyIdMapping(pid, mapping).then(() => mark("id maps"));
        await Promise.all([idMaps, ...(hooks.duringIdMapping ?? []).map((step) => step(pid))]);
        mark("network");
        for (const step of hooks.beforeGo ?? []) await step(pid);
        mark("before go");
      },
      onSync: async (tag, pid) => {
        await userNetworkSync(spec)?.(tag, pid);
        for (const step of hooks.onSync ?? []) await step(tag, pid);
      },
    }, (bytes) => {
      const sp = spawnWith(bytes, mapTools);
      mapHelpers = sp.helpers;
      return sp;
    });
  } catch (err) {
    await mapsWritten().catch(() => {}); // a failed start reaps the map helpers it started
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
