import { disconnectNetwork } from "../engine/networks.ts";
import { UsageError } from "../errors/mod.ts";
import { type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [{ name: "help", type: "bool", help: "Show this help" }];

/** `nook network disconnect`. */
export const spec: CommandSpec = {
  name: "network disconnect",
  usage: "network disconnect NETWORK CONTAINER",
  summary: "Take a container off a user network: its interface there goes, the others forget its name.",
  options: OPTIONS,
  examples: ["nook network disconnect backend web"],
};

/** Disconnect. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length !== 2) {
    throw new UsageError("nook network disconnect needs a network and a container", {
      hint: "nook network disconnect NETWORK CONTAINER",
    });
  }
  await disconnectNetwork(a.rest[0]!, a.rest[1]!);
  return 0;
}
