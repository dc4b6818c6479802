import { createNetwork } from "../engine/networks.ts";
import { UsageError } from "../errors/mod.ts";
import { type OptionSpec, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

const OPTIONS: readonly OptionSpec[] = [
  {
    name: "subnet",
    type: "string",
    value: "CIDR",
    help: "The network's IPv4 /24 (default: the next free 10.89.N.0/24)",
  },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook network create`. */
export const spec: CommandSpec = {
  name: "network create",
  usage: "network create [OPTIONS] NAME",
  summary: "Create a user network: containers on it reach each other by name.",
  options: OPTIONS,
  examples: ["nook network create app", "nook network create --subnet 10.89.7.0/24 app"],
};

/** Create. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length !== 1) {
    throw new UsageError("nook network create needs one name", { hint: "nook network create NAME" });
  }
  const n = await createNetwork(a.rest[0]!, { subnet: str(a, "subnet") });
  await write(n.name + "\n");
  return 0;
}
