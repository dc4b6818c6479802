import { startContainer } from "../containers/mod.ts";
import { bool, formatHelp, type OptionSpec, parseArgs } from "./_args.ts";
import { eachContainer } from "./_containers.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [{ name: "help", type: "bool", help: "Show this help" }];

/** `nook start`. */
export const spec: CommandSpec = {
  name: "start",
  usage: "start CONTAINER [CONTAINER...]",
  summary: "Start stopped containers again, detached, with the configuration they were created with.",
  options: OPTIONS,
  examples: ["nook start web"],
  positional: "container",
};

/** Start them. */
export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, false);
  if (bool(a, "help")) {
    await write(formatHelp(spec));
    return 0;
  }
  return await eachContainer(a.rest, "start", async (id, ref) => {
    await startContainer(id);
    await write(`${ref}\n`);
  });
}
