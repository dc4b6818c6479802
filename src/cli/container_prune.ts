import { sweepAbandoned } from "../engine/intent.ts";
import { currentStatus, isActive, listIds, removeContainer } from "../engine/mod.ts";
import { infraId, listPods } from "../engine/pod_store.ts";
import { bool, HELP, type OptionSpec, parseCommand } from "./_args.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "force", short: "f", type: "bool", help: "Do not ask for confirmation" },
  HELP,
];

/** `nook container prune`. */
export const spec: CommandSpec = {
  name: "container prune",
  usage: "container prune [OPTIONS]",
  summary: "Remove every container that is not running.",
  options: OPTIONS,
  examples: ["nook container prune -f"],
  positional: "none",
};

/** Prune. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  await sweepAbandoned(); // what killed nooks left: finished or rolled back before anything is listed
  if (!bool(a, "force") && Deno.stdin.isTerminal()) {
    const answer = prompt("This removes every stopped container. Continue? [y/N]");
    if (!/^y(es)?$/i.test(answer ?? "")) return 0;
  }
  const removed: string[] = [];
  // a stopped pod's infra container is the pod's: it goes with pod rm, not with a prune
  const infras = new Set(listPods().flatMap((p) => infraId(p) ?? []));
  for (const id of listIds()) {
    try {
      if (infras.has(id) || isActive(currentStatus(id))) continue;
      await removeContainer(id, false);
      removed.push(id);
    } catch {
      // started or removed meanwhile
    }
  }
  await write(removed.length ? `Deleted Containers:\n${removed.map((id) => id + "\n").join("")}` : "");
  return 0;
}
