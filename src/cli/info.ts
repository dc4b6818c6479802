import { UsageError } from "../errors/mod.ts";
import { collectInfo, formatInfo } from "../info/mod.ts";
import { parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

/** `nook info`. */
export const spec: CommandSpec = {
  name: "info",
  usage: "info [OPTIONS]",
  summary: "Show what nook sees on this host: versions (nook, Deno, libshim), kernel, the id mapping in use, " +
    "storage path and backend, cgroup version and controllers, the default network, security defaults, the " +
    "config file with where each value comes from, and nook's paths.",
  options: [
    { name: "format", type: "string", value: "FORMAT", help: "table (default) or json", choices: ["table", "json"] },
    { name: "help", type: "bool", help: "Show this help" },
  ],
  examples: ["nook info", "nook info --format json | jq .idmap"],
  positional: "none",
};

/** Print the info. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length) throw new UsageError(`"nook info" takes no arguments, got "${a.rest[0]}"`, { hint: "see nook info --help" });
  const format = str(a, "format") ?? "table";
  if (format !== "table" && format !== "json") {
    throw new UsageError(`Unknown format "${format}"`, { hint: "use --format table or --format json" });
  }
  const info = await collectInfo();
  await write(format === "json" ? JSON.stringify(info, null, 2) + "\n" : formatInfo(info));
  return 0;
}
