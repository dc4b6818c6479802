import { removePod } from "../engine/pods.ts";
import { mustPod } from "../engine/pod_store.ts";
import { UsageError } from "../errors/mod.ts";
import { bool, HELP, type OptionSpec, parseCommand } from "./_args.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "force", short: "f", type: "bool", help: "End the pod's running containers first" },
  HELP,
];

/** `nook pod rm`. */
export const spec: CommandSpec = {
  name: "pod rm",
  usage: "pod rm [-f] POD...",
  summary: "Remove pods with their members and infra container (-f: running ones too).",
  options: OPTIONS,
  examples: ["nook pod rm web", "nook pod rm -f web"],
  positional: "none",
};

/** Remove them; prints each name. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (!a.rest.length) throw new UsageError("nook pod rm needs a pod", { hint: spec.usage });
  for (const ref of a.rest) {
    const p = mustPod(ref);
    await removePod(p.name, bool(a, "force"));
    await write(`${p.name}\n`);
  }
  return 0;
}
