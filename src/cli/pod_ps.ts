import { podMembers, podState } from "../engine/pods.ts";
import { listPods } from "../engine/pod_store.ts";
import { humanDuration } from "../engine/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { bool, HELP, type OptionSpec, parseCommand } from "./_args.ts";
import { write } from "./_io.ts";
import { table } from "./_table.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "quiet", short: "q", type: "bool", help: "Print only the names" },
  HELP,
];

/** `nook pod ps`. */
export const spec: CommandSpec = {
  name: "pod ps",
  usage: "pod ps [-q]",
  summary: "List pods: their state (Running, Degraded, Exited, Created), number of members, infra container.",
  options: OPTIONS,
  examples: ["nook pod ps"],
  positional: "none",
};

/** List them. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length) throw new UsageError(`nook pod ps takes no arguments, got "${a.rest[0]}"`);
  const pods = listPods();
  if (bool(a, "quiet")) {
    await write(pods.map((p) => `${p.name}\n`).join(""));
    return 0;
  }
  const now = Date.now();
  const rows = pods.map((p) => [
    p.id.slice(0, 12),
    p.name,
    podState(p).state,
    `${humanDuration(now - Date.parse(p.created))} ago`,
    String(podMembers(p.name).length),
    p.infra,
  ]);
  await write(table([["POD ID", "NAME", "STATUS", "CREATED", "# OF CONTAINERS", "INFRA"], ...rows]));
  return 0;
}
