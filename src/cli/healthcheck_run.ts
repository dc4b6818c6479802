import { mustRecord, resolveContainer } from "../engine/mod.ts";
import { runHealthcheckNow } from "../engine/health.ts";
import { UsageError } from "../errors/mod.ts";
import { HELP, parseCommand } from "./_args.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

/** `nook healthcheck run`. */
export const spec: CommandSpec = {
  name: "healthcheck run",
  usage: "healthcheck run CONTAINER",
  summary:
    "Run a container's healthcheck now (its monitor runs it, and the result counts as any other); exits 0 when it passed, 1 when it failed.",
  options: [HELP],
  examples: ["nook healthcheck run web"],
  positional: "container",
};

/** Run it. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const [ref, ...extra] = a.rest;
  if (ref === undefined || extra.length) throw new UsageError("Usage: nook healthcheck run CONTAINER");
  const r = await runHealthcheckNow(mustRecord(resolveContainer(ref)));
  if (r.exitCode === 0) return 0;
  await write("unhealthy\n");
  return 1;
}
