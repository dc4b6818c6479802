import { startPod } from "../engine/pods.ts";
import { mustPod } from "../engine/pod_store.ts";
import { UsageError } from "../errors/mod.ts";
import { HELP, type OptionSpec, parseCommand } from "./_args.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [

  HELP,
];

/** `nook pod start`. */
export const spec: CommandSpec = {
  name: "pod start",
  usage: "pod start POD...",
  summary: "Start pods: their infra container, then their members.",
  options: OPTIONS,
  examples: ["nook pod start web"],
  positional: "none",
};

/** Start them; prints each name. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (!a.rest.length) throw new UsageError("nook pod start needs a pod", { hint: spec.usage });

  for (const ref of a.rest) {
    const p = mustPod(ref);
    await startPod(p.name);
    await write(`${p.name}\n`);
  }
  return 0;
}
