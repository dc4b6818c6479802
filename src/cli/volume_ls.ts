import { listVolumes } from "../store/volumes.ts";
import { volumeJson } from "./volume_inspect.ts";
import { bool, type OptionSpec, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { table } from "./_table.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "quiet", short: "q", type: "bool", help: "Print only names" },
  { name: "format", type: "string", value: "table|json", help: "Output format" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook volume ls`. */
export const spec: CommandSpec = {
  name: "volume ls",
  usage: "volume ls [OPTIONS]",
  summary: "List volumes.",
  options: OPTIONS,
  examples: ["nook volume ls", "nook volume ls -q"],
};

/** List. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const vols = listVolumes();
  if (bool(a, "quiet")) {
    await write(vols.map((v) => v.name + "\n").join(""));
  } else if (str(a, "format") === "json") {
    await write(JSON.stringify(vols.map(volumeJson), null, 2) + "\n");
  } else {
    await write(table([["DRIVER", "VOLUME NAME"], ...vols.map((v) => ["local", v.name])]));
  }
  return 0;
}
