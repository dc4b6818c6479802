import { removeNetwork } from "../engine/networks.ts";
import { formatError, UsageError } from "../errors/mod.ts";
import { type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

const OPTIONS: readonly OptionSpec[] = [{ name: "help", type: "bool", help: "Show this help" }];

/** `nook network rm`. */
export const spec: CommandSpec = {
  name: "network rm",
  usage: "network rm NAME [NAME...]",
  summary: "Remove user networks no container is on.",
  options: OPTIONS,
  examples: ["nook network rm app"],
};

/** Remove. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (!a.rest.length) throw new UsageError("nook network rm needs a name");
  let failed = 0;
  for (const n of a.rest) {
    try {
      await removeNetwork(n);
      await write(n + "\n");
    } catch (err) {
      failed++;
      await write(formatError(err) + "\n", true);
    }
  }
  return failed ? 125 : 0;
}
