import { startContainer, stopContainer } from "../containers/mod.ts";
import { bool, formatHelp, type OptionSpec, parseArgs, str } from "./_args.ts";
import { eachContainer, seconds } from "./_containers.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "time", short: "t", type: "string", value: "SECONDS", help: "Seconds to wait for the stop before SIGKILL" },
  { name: "help", type: "bool", help: "Show this help" },
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
  const a = parseArgs(argv, OPTIONS, false);
  if (bool(a, "help")) {
    await write(formatHelp(spec));
    return 0;
  }
  const timeoutSec = seconds(str(a, "time"), "--time");
  return await eachContainer(a.rest, "restart", async (id, ref) => {
    await stopContainer(id, timeoutSec !== undefined ? { timeoutSec } : {});
    await startContainer(id);
    await write(`${ref}\n`);
  });
}
