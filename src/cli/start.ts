import { startContainer } from "../engine/mod.ts";
import { HELP, type OptionSpec, parseCommand } from "./_args.ts";
import { eachContainer } from "./_containers.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [HELP];

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
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  return await eachContainer(a.rest, "start", async (id) => {
    await startContainer(id);
  }, true);
}
