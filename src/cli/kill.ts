import { ContainerError, currentStatus, holdRestarts, mustRecord, parseSignal, signalContainer } from "../engine/mod.ts";
import { SIGNALS } from "../plan/mod.ts";
import { HELP, type OptionSpec, parseCommand, str } from "./_args.ts";
import { eachContainer } from "./_containers.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "signal", short: "s", type: "string", value: "SIGNAL", help: "Signal to send (default SIGKILL)" },
  HELP,
];

/** `nook kill`. */
export const spec: CommandSpec = {
  name: "kill",
  usage: "kill [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Send a signal to the main process of running containers.",
  options: OPTIONS,
  examples: ["nook kill web", "nook kill -s HUP web"],
  positional: "container",
};

/** Signal them. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const signal = parseSignal(str(a, "signal") ?? "SIGKILL");
  return await eachContainer(a.rest, "kill", async (id) => {
    const rec = mustRecord(id);
    // Killing with SIGKILL or the stop signal is stopping it: the restart policy stands down (docker's rule).
    if (signal === SIGNALS.SIGKILL || signal === parseSignal(rec.host.stopSignal)) await holdRestarts(rec, currentStatus(id));
    if (!(await signalContainer(id, signal))) {
      throw new ContainerError(`Container ${rec.name} is not running`, { hint: "nook ps -a shows its state" });
    }
  }, true);
}
