import { readRecord } from "../engine/store.ts";
import { userNetworkSync } from "../engine/networks.ts";
import { USER_NETWORK_SYNC } from "../engine/build_plan.ts";
import { UsageError } from "../errors/mod.ts";
import type { CommandSpec } from "./commands.ts";

/** `nook _network` (internal): what the monitor asks for when it restarts a container on a user network. */
export const spec: CommandSpec = {
  name: "_network",
  usage: "_network wire CONTAINER-ID PID",
  summary: "Internal: wire a restarted container to its user network (run by its monitor).",
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
  throw new UsageError("usage: nook _network wire CONTAINER-ID PID (internal)");
}
