import { startContainer } from "../engine/mod.ts";
import { startAttached } from "../engine/start_attached.ts";
import { resolveContainer } from "../engine/names.ts";
import { UsageError } from "../errors/mod.ts";
import { bool, HELP, type OptionSpec, parseCommand } from "./_args.ts";
import { eachContainer } from "./_containers.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "attach", short: "a", type: "bool", help: "Run in the foreground: its output here, exit with its status" },
  HELP,
];

/** `nook start`. */
export const spec: CommandSpec = {
  name: "start",
  usage: "start [-a] CONTAINER [CONTAINER...]",
  summary: "Start created or stopped containers with the configuration they were created with: " +
    "detached, or attached with -a (one container; nook exits with its status).",
  options: OPTIONS,
  examples: ["nook start web", "nook create --name w busybox echo hi && nook start -a w"],
  positional: "container",
};

/** Start them. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (bool(a, "attach")) {
    if (a.rest.length !== 1) throw new UsageError("nook start -a takes one container", { hint: spec.usage });
    return await startAttached(resolveContainer(a.rest[0]!));
  }
  return await eachContainer(a.rest, "start", async (id) => {
    await startContainer(id);
  }, true);
}
