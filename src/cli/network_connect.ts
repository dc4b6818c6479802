import { connectNetwork } from "../engine/networks.ts";
import { UsageError } from "../errors/mod.ts";
import { list, type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "alias", type: "list", value: "NAME", help: "Another name the container answers to on this network" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook network connect`. */
export const spec: CommandSpec = {
  name: "network connect",
  usage: "network connect [OPTIONS] NETWORK CONTAINER",
  summary: "Put a container on one more user network (a running one gets its interface at once).",
  options: OPTIONS,
  examples: ["nook network connect backend web", "nook network connect --alias api backend web"],
};

/** Connect, and print the container's address on the network. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length !== 2) {
    throw new UsageError("nook network connect needs a network and a container", {
      hint: "nook network connect NETWORK CONTAINER",
    });
  }
  const m = await connectNetwork(a.rest[0]!, a.rest[1]!, list(a, "alias"));
  await write(`${m.ip}\n`);
  return 0;
}
