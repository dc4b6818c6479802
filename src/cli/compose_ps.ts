import { resolveContainer } from "../engine/mod.ts";
import { currentStatus } from "../engine/status.ts";
import { type OptionSpec, parseCommand } from "./_args.ts";
import { readProject } from "./_compose_state.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { table } from "./_table.ts";
import { projectOf } from "./down.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "file", short: "f", type: "string", value: "FILE", help: "The compose file (names the project)" },
  { name: "project-name", short: "p", type: "string", value: "NAME", help: "Project name" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook compose ps`. */
export const spec: CommandSpec = {
  name: "compose ps",
  usage: "compose ps [OPTIONS]",
  summary: "List a project's containers and their state.",
  options: OPTIONS,
  examples: ["nook compose ps", "nook compose ps -p demo"],
};

/** List. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const state = readProject(await projectOf(a));
  const rows = (state?.containers ?? []).map((c) => {
    let s = "missing";
    try {
      s = currentStatus(resolveContainer(c.name)).state;
    } catch {
      // removed
    }
    return [c.name, c.service, s];
  });
  await write(table([["NAME", "SERVICE", "STATE"], ...rows]));
  return 0;
}
