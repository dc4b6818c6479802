import { logFiles, type LogRecord, readLogRecords, resolveContainer } from "../engine/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { bool, type OptionSpec, parseCommand } from "./_args.ts";
import { readProject } from "./_compose_state.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { projectOf } from "./down.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "file", short: "f", type: "string", value: "FILE", help: "The compose file (names the project)" },
  { name: "project-name", short: "p", type: "string", value: "NAME", help: "Project name" },
  { name: "timestamps", short: "t", type: "bool", help: "Start each line with the time it was written" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook compose logs`. */
export const spec: CommandSpec = {
  name: "compose logs",
  usage: "compose logs [OPTIONS] [SERVICE...]",
  summary: "Print what a project's containers wrote, each line after its container's name (stderr lines on stderr).",
  options: OPTIONS,
  examples: ["nook compose logs", "nook compose logs -p demo web"],
};

/** Print them, container by container in start order. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const project = await projectOf(a);
  const state = readProject(project);
  if (!state) throw new UsageError(`The project "${project}" is not up`, { hint: "start it with nook up" });
  const services = new Set(a.rest);
  for (const s of services) {
    if (!state.containers.some((c) => c.service === s)) {
      throw new UsageError(`The project "${project}" has no service "${s}"`, { hint: "see nook compose ps" });
    }
  }
  const containers = state.containers.filter((c) => !services.size || services.has(c.service));
  const width = Math.max(0, ...containers.map((c) => c.name.length));
  for (const c of containers) {
    let id: string;
    try {
      id = resolveContainer(c.name);
    } catch {
      continue; // removed
    }
    const records: LogRecord[] = logFiles(id).flatMap(readLogRecords);
    let out = "", err = "";
    const open: Record<string, string> = {};
    for (const r of records) {
      // a partial record continues the line of its stream: the prefix comes once, at its start
      const line = open[r.stream] ?? `${c.name.padEnd(width)} | ${bool(a, "timestamps") ? `${r.time} ` : ""}`;
      if (r.full) {
        delete open[r.stream];
        if (r.stream === "stderr") err += line + r.text + "\n";
        else out += line + r.text + "\n";
      } else open[r.stream] = line + r.text;
    }
    for (const [stream, rest] of Object.entries(open)) {
      if (stream === "stderr") err += rest + "\n";
      else out += rest + "\n";
    }
    if (out) await write(out);
    if (err) await write(err, true);
  }
  return 0;
}
