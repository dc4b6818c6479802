import { parseSignal, stopContainer } from "../engine/mod.ts";
import { HELP, type OptionSpec, parseCommand, str } from "./_args.ts";
import { eachContainer, seconds } from "./_containers.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "time", short: "t", type: "string", value: "SECONDS", help: "Seconds to wait before SIGKILL (default: the container's --stop-timeout, 10)" },
  { name: "signal", short: "s", type: "string", value: "SIGNAL", help: "Signal to send first (default: the container's --stop-signal, SIGTERM)" },
  HELP,
];

/** `nook stop`. */
export const spec: CommandSpec = {
  name: "stop",
  usage: "stop [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Stop running containers: the stop signal, then SIGKILL after the timeout. A stopped container is not restarted by its policy.",
  options: OPTIONS,
  examples: ["nook stop web", "nook stop -t 2 web db", "nook stop -s SIGINT web"],
  positional: "container",
};

/** Stop them. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const timeoutSec = seconds(str(a, "time"), "--time");
  const sig = str(a, "signal");
  const signal = sig === undefined ? undefined : parseSignal(sig);
  return await eachContainer(a.rest, "stop", async (id) => {
    await stopContainer(id, { ...(timeoutSec !== undefined ? { timeoutSec } : {}), ...(signal !== undefined ? { signal } : {}) });
  }, true);
}
