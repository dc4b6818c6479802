import { stopPod } from "../engine/pods.ts";
import { mustPod } from "../engine/pod_store.ts";
import { UsageError } from "../errors/mod.ts";
import { HELP, type OptionSpec, parseCommand, str } from "./_args.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "time", short: "t", type: "string", value: "SECONDS", help: "Seconds to wait before SIGKILL (default: each container's --stop-timeout)" },
  HELP,
];

/** `nook pod stop`. */
export const spec: CommandSpec = {
  name: "pod stop",
  usage: "pod stop POD...",
  summary: "Stop pods: their members, then their infra container.",
  options: OPTIONS,
  examples: ["nook pod stop web"],
  positional: "none",
};

/** Stop them; prints each name. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (!a.rest.length) throw new UsageError("nook pod stop needs a pod", { hint: spec.usage });
  const t = str(a, "time");
  if (t !== undefined && !/^\d+$/.test(t)) throw new UsageError(`Invalid time "${t}"`, { hint: "give whole seconds, e.g. -t 5" });
  for (const ref of a.rest) {
    const p = mustPod(ref);
    await stopPod(p.name, t === undefined ? undefined : Number(t));
    await write(`${p.name}\n`);
  }
  return 0;
}
