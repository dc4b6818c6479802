import { inspectNetwork } from "../engine/networks.ts";
import { formatError } from "../errors/mod.ts";
import { type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { UsageError } from "../errors/mod.ts";

const OPTIONS: readonly OptionSpec[] = [{ name: "help", type: "bool", help: "Show this help" }];

/** `nook network inspect`. */
export const spec: CommandSpec = {
  name: "network inspect",
  usage: "network inspect NAME [NAME...]",
  summary: "Show user networks as JSON: subnet, gateway, bridge and members.",
  options: OPTIONS,
  examples: ["nook network inspect app"],
};

/** Inspect. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (!a.rest.length) throw new UsageError("nook network inspect needs a name");
  const out = [];
  let failed = 0;
  for (const n of a.rest) {
    try {
      out.push(await inspectNetwork(n));
    } catch (err) {
      failed++;
      await write(formatError(err) + "\n", true);
    }
  }
  await write(JSON.stringify(out, null, 2) + "\n");
  return failed ? 125 : 0;
}
