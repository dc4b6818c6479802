import { formatError, NookError, UsageError } from "../errors/mod.ts";
import { readVolume, volumeData, type VolumeInfo, volumeUsers } from "../store/volumes.ts";
import { type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

const OPTIONS: readonly OptionSpec[] = [{ name: "help", type: "bool", help: "Show this help" }];

/** `nook volume inspect`. */
export const spec: CommandSpec = {
  name: "volume inspect",
  usage: "volume inspect NAME [NAME...]",
  summary: "Show volumes as JSON.",
  options: OPTIONS,
  examples: ["nook volume inspect data", "nook volume inspect data cache"],
};

/** A volume as `inspect` and `ls --format json` show it (docker's field names). */
export function volumeJson(v: VolumeInfo): Record<string, unknown> {
  return {
    Name: v.name,
    Driver: "local",
    Mountpoint: volumeData(v.name),
    CreatedAt: v.created,
    Labels: v.labels,
    Anonymous: v.anonymous,
    UsedBy: volumeUsers(v.name),
  };
}

/** Inspect. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (!a.rest.length) throw new UsageError("nook volume inspect needs a name");
  const out = [];
  let failed = 0;
  for (const n of a.rest) {
    const v = readVolume(n);
    if (!v) {
      failed++;
      await write(formatError(new NookError(`No such volume: "${n}"`)) + "\n", true);
      continue;
    }
    out.push(volumeJson(v));
  }
  await write(JSON.stringify(out, null, 2) + "\n");
  return failed ? 1 : 0;
}
