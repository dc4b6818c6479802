import { pruneNetworks } from "../engine/networks.ts";
import { type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "force", short: "f", type: "bool", help: "Do not ask (nook never asks)" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook network prune`. */
export const spec: CommandSpec = {
  name: "network prune",
  usage: "network prune [OPTIONS]",
  summary: "Remove every user network no container is on.",
  options: OPTIONS,
  examples: ["nook network prune"],
};

/** Prune. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  for (const n of await pruneNetworks()) await write(n + "\n");
  return 0;
}
