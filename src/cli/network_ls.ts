import { listNetworks } from "../engine/networks.ts";
import { bool, type OptionSpec, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { table } from "./_table.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "quiet", short: "q", type: "bool", help: "Print only names" },
  { name: "format", type: "string", value: "table|json", help: "Output format" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook network ls`. */
export const spec: CommandSpec = {
  name: "network ls",
  usage: "network ls [OPTIONS]",
  summary: "List user networks.",
  options: OPTIONS,
  examples: ["nook network ls", "nook network ls -q"],
};

/** List. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const nets = await listNetworks();
  if (bool(a, "quiet")) await write(nets.map((n) => n.name + "\n").join(""));
  else if (str(a, "format") === "json") await write(JSON.stringify(nets, null, 2) + "\n");
  else {
    await write(table([
      ["NETWORK ID", "NAME", "SUBNET", "CONTAINERS"],
      ...nets.map((n) => [n.id.slice(0, 12), n.name, n.subnet, String(Object.keys(n.members).length)]),
    ]));
  }
  return 0;
}
