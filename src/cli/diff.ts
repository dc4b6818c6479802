import { lazyImport } from "../lazy/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { resolveContainer } from "../engine/names.ts";
import { readRecord } from "../engine/store.ts";
import { type OptionSpec, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { inUserns } from "./_userns.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "format", type: "string", value: "FORMAT", help: 'json: {"changed":[…],"added":[…],"deleted":[…]}' },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook diff`. */
export const spec: CommandSpec = {
  name: "diff",
  usage: "diff [--format json] CONTAINER",
  summary: "List the files a container added (A), changed (C) or deleted (D) compared with its image, " +
    "running or stopped.",
  options: OPTIONS,
  examples: ["nook diff web", "nook diff --format json web"],
  positional: "container",
};

/** Diff. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const format = str(a, "format");
  if (format !== undefined && format !== "json") {
    throw new UsageError(`Unknown format "${format}"`, { hint: "use --format json, or no --format for A/C/D lines" });
  }
  if (a.rest.length !== 1) throw new UsageError("nook diff takes one container", { hint: spec.usage });
  const id = resolveContainer(a.rest[0]!);
  // the upper directory holds files of subordinate ids, some unreadable from outside
  const code = await inUserns(["diff"], argv);
  if (code !== undefined) return code;
  const { containerChanges } = await lazyImport<typeof import("../engine/diff.ts")>("engine/diff.ts");
  const changes = containerChanges(id, readRecord(id)?.name);
  if (format === "json") {
    const pick = (k: string) => changes.filter((c) => c.kind === k).map((c) => c.path);
    await write(JSON.stringify({ changed: pick("C"), added: pick("A"), deleted: pick("D") }, null, 2) + "\n");
  } else await write(changes.map((c) => `${c.kind} ${c.path}\n`).join(""));
  return 0;
}
