import { UsageError } from "../errors/mod.ts";
import { ensureVolume } from "../store/volumes.ts";
import { list, type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "label", type: "list", value: "KEY=VALUE", help: "Set a label" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook volume create`. */
export const spec: CommandSpec = {
  name: "volume create",
  usage: "volume create [OPTIONS] [NAME]",
  summary: "Create a named volume (a directory that outlives containers; mount it with -v NAME:/path).",
  options: OPTIONS,
  examples: ["nook volume create data", "nook run -v data:/var/lib/data alpine"],
};

/** Create. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length > 1) throw new UsageError("nook volume create takes at most one name");
  const name = a.rest[0] ??
    Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("");
  const labels = Object.fromEntries(list(a, "label").map((l) => [l.split("=")[0]!, l.slice(l.indexOf("=") + 1)]));
  ensureVolume(name, { labels });
  await write(name + "\n");
  return 0;
}
