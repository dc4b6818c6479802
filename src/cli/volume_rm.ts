import { formatError, NookError, UsageError } from "../errors/mod.ts";
import { readVolume, volumeDir, volumeUsers } from "../store/volumes.ts";
import { removeTrees } from "../unshare/mod.ts";
import { bool, type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "force", short: "f", type: "bool", help: "Remove volumes that containers use" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook volume rm`. */
export const spec: CommandSpec = {
  name: "volume rm",
  usage: "volume rm [OPTIONS] NAME [NAME...]",
  summary: "Remove volumes and their data (files of subordinate ids included).",
  options: OPTIONS,
  examples: ["nook volume rm data", "nook volume rm -f data cache"],
};

/** Remove. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (!a.rest.length) throw new UsageError("nook volume rm needs a name");
  let failed = 0;
  for (const n of a.rest) {
    try {
      if (!readVolume(n)) throw new NookError(`No such volume: "${n}"`, { hint: "see nook volume ls" });
      const users = volumeUsers(n);
      if (users.length && !bool(a, "force")) {
        throw new NookError(`The volume "${n}" is in use by container ${users[0]!.slice(0, 12)}`, {
          hint: "remove the container first, or use -f",
        });
      }
      await removeTrees([volumeDir(n)]);
      await write(n + "\n");
    } catch (err) {
      failed++;
      await write(formatError(err) + "\n", true);
    }
  }
  // nook's own failures end with 125, as in every other command (docker's convention)
  return failed ? 125 : 0;
}
