import { readRecord } from "../engine/store.ts";
import { userNetworkSync } from "../engine/networks.ts";
import { USER_NETWORK_SYNC } from "../engine/build_plan.ts";
import { UsageError } from "../errors/mod.ts";
// imported here, not by import(): a lazy module of its own would split the network's bundle chunk in two
import { timeHelperStarts } from "../network/start_trial.ts";
import type { CommandSpec } from "./commands.ts";

/** `nook _network` (internal): what the monitor asks for when it restarts a container on a user network. */
export const spec: CommandSpec = {
  name: "_network",
  usage: "_network wire CONTAINER-ID PID | _network time-helpers JSON",
  summary: "Internal: wire a restarted container to its user network (run by its monitor); time the network helpers' start.",
  options: [],
};

/** Run it: the same step nook takes at the plan's SYNC when it starts the container itself. */
export async function main(argv: string[]): Promise<number> {
  const [verb, id, pid] = argv;
  if (verb === "wire" && id && /^[0-9a-f]{64}$/.test(id) && pid && /^\d+$/.test(pid)) {
    const rec = readRecord(id);
    const wire = rec ? userNetworkSync(rec.spec) : undefined;
    if (!wire) throw new UsageError(`Container ${id.slice(0, 12)} is on no user network`);
    await wire(USER_NETWORK_SYNC, Number(pid));
    return 0;
  }
  if (verb === "time-helpers" && id) {
    // the default network's trial, for a nook that must decide synchronously
    const tools = JSON.parse(id) as Record<string, unknown>;
    const wanted = Object.fromEntries(
      (["pasta", "slirp4netns"] as const).flatMap((m) => (typeof tools[m] === "string" ? [[m, tools[m] as string]] : [])),
    );
    await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(await timeHelperStarts(wanted)) + "\n"));
    return 0;
  }
  throw new UsageError("usage: nook _network wire CONTAINER-ID PID | time-helpers JSON (internal)");
}
