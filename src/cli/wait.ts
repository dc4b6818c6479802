import { ContainerError, waitStopped } from "../engine/mod.ts";
import { HELP, type OptionSpec, parseCommand } from "./_args.ts";
import { eachContainer } from "./_containers.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [HELP];

/** `nook wait`. */
export const spec: CommandSpec = {
  name: "wait",
  usage: "wait CONTAINER [CONTAINER...]",
  summary: "Wait until containers stop (and are not restarted), then print their exit codes.",
  options: OPTIONS,
  examples: ["nook wait web", "code=$(nook wait job)"],
  positional: "container",
};

/** Wait for them. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  return await eachContainer(a.rest, "wait", async (id) => {
    const s = await waitStopped(id);
    if (!s) throw new ContainerError(`Gave up waiting for container ${id.slice(0, 12)}`);
    await write(`${s.exitCode}\n`);
  });
}
