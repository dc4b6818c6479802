import { startContainer, stopContainer } from "../engine/mod.ts";
import { HELP, type OptionSpec, parseCommand, str } from "./_args.ts";
import { eachContainer, seconds } from "./_containers.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "time", short: "t", type: "string", value: "SECONDS", help: "Seconds to wait for the stop before SIGKILL" },
  HELP,
];

/** `nook restart`. */
export const spec: CommandSpec = {
  name: "restart",
  usage: "restart [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Stop containers (if running) and start them again, detached.",
  options: OPTIONS,
  examples: ["nook restart web", "nook restart -t 2 web"],
  positional: "container",
};

/** Restart them. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const timeoutSec = seconds(str(a, "time"), "--time");
  return await eachContainer(a.rest, "restart", async (id) => {
    await stopContainer(id, timeoutSec !== undefined ? { timeoutSec } : {});
    await startContainer(id);
  }, true);
}
