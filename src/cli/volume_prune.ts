import { listVolumes, volumeDir, volumeUsers } from "../store/volumes.ts";
import { removeTrees } from "../unshare/mod.ts";
import { bool, type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "force", short: "f", type: "bool", help: "Do not ask for confirmation" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook volume prune`. */
export const spec: CommandSpec = {
  name: "volume prune",
  usage: "volume prune [OPTIONS]",
  summary: "Remove every volume no container uses.",
  options: OPTIONS,
  examples: ["nook volume prune", "nook volume prune -f"],
};

/** Prune. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (
    !bool(a, "force") && Deno.stdin.isTerminal() && !confirm("This removes all volumes no container uses. Continue?")
  ) return 0;
  const unused = listVolumes().filter((v) => volumeUsers(v.name).length === 0);
  await removeTrees(unused.map((v) => volumeDir(v.name)));
  await write(unused.map((v) => v.name + "\n").join(""));
  return 0;
}
