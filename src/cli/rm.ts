import { removeContainer } from "../containers/mod.ts";
import { bool, formatHelp, type OptionSpec, parseArgs } from "./_args.ts";
import { eachContainer } from "./_containers.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "force", short: "f", type: "bool", help: "Kill a running container first" },
  { name: "volumes", short: "v", type: "bool", help: "Accepted for docker compatibility (anonymous volumes arrive with images)" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook rm`. */
export const spec: CommandSpec = {
  name: "rm",
  usage: "rm [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Remove containers (their record, status, logs and files).",
  options: OPTIONS,
  examples: ["nook rm web", "nook rm -f web", "nook rm $(nook ps -aq)"],
  positional: "container",
};

/** Remove them. */
export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, false);
  if (bool(a, "help")) {
    await write(formatHelp(spec));
    return 0;
  }
  const force = bool(a, "force");
  return await eachContainer(a.rest, "rm", async (id, ref) => {
    await removeContainer(id, force);
    await write(`${ref}\n`);
  });
}
