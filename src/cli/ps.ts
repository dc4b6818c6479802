import { sweepAbandoned } from "../engine/intent.ts";
import { type ContainerView, listIds, psFields, renderRows, shownState } from "../engine/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { bool, HELP, list, type OptionSpec, parseCommand, str } from "./_args.ts";
import { view } from "./_containers.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "all", short: "a", type: "bool", help: "Show all containers (default: only running ones)" },
  { name: "quiet", short: "q", type: "bool", help: "Print only the ids" },
  { name: "format", type: "string", value: "FORMAT", help: "table (default), json (one object per line), or a template: '{{.Names}}\\t{{.Status}}'" },
  { name: "filter", short: "f", type: "list", value: "KEY=VALUE", help: "Only containers with id=, name=, status= (created, running, restarting, exited)" },
  { name: "no-trunc", type: "bool", help: "Show full ids and commands" },
  { name: "latest", short: "l", type: "bool", help: "Show only the most recently created container" },
  HELP,
];

/** `nook ps`. */
export const spec: CommandSpec = {
  name: "ps",
  usage: "ps [OPTIONS]",
  summary: "List containers.",
  options: OPTIONS,
  examples: ["nook ps", "nook ps -a", "nook ps -q", "nook ps --format '{{.Names}} {{.Status}}'", "nook ps -a --format json"],
  positional: "none",
};

const TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
const HEADERS: Record<string, string> = {
  ID: "CONTAINER ID",
  Image: "IMAGE",
  Command: "COMMAND",
  CreatedAt: "CREATED AT",
  RunningFor: "CREATED",
  Ports: "PORTS",
  State: "STATE",
  Status: "STATUS",
  Names: "NAMES",
  Pid: "PID",
  ExitCode: "EXIT CODE",
  Restarts: "RESTARTS",
};

function matches(v: ContainerView, filters: readonly string[]): boolean {
  return filters.every((f) => {
    const [k, val = ""] = f.split("=", 2) as [string, string?];
    switch (k) {
      case "id":
        return v.rec.id.startsWith(val);
      case "name":
        return v.rec.name.includes(val);
      case "status":
        return shownState(v.status) === val;
      default:
        throw new UsageError(`Unknown filter "${k}"`, { hint: "use id=, name= or status=" });
    }
  });
}

/** List them. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  await sweepAbandoned(); // what killed nooks left: finished or rolled back before anything is listed
  if (a.rest.length) throw new UsageError(`nook ps takes no arguments, got "${a.rest[0]}"`, { hint: "see nook ps --help" });
  const filters = list(a, "filter");
  let views = listIds().flatMap((id) => {
    try {
      return [view(id)];
    } catch {
      return []; // removed while we looked
    }
  });
  views.sort((x, y) => y.rec.created.localeCompare(x.rec.created));
  if (!bool(a, "all") && !bool(a, "latest") && !filters.some((f) => f.startsWith("status="))) {
    views = views.filter((v) => v.status.state === "running" || v.status.state === "restarting");
  }
  views = views.filter((v) => matches(v, filters));
  if (bool(a, "latest")) views = views.slice(0, 1);
  const noTrunc = bool(a, "no-trunc");
  const now = Date.now();
  const rows = views.map((v) => {
    const f = psFields(v, now);
    if (noTrunc) f.ID = v.rec.id;
    else if (typeof f.Command === "string" && f.Command.length > 22) f.Command = `"${f.Command.slice(0, 19)}…"`;
    else f.Command = `"${f.Command}"`;
    return f;
  });
  if (bool(a, "quiet")) {
    await write(rows.map((r) => `${r.ID}\n`).join(""));
    return 0;
  }
  const format = str(a, "format") ?? "table";
  if (format === "json") {
    await write(rows.map((r) => JSON.stringify(r) + "\n").join(""));
    return 0;
  }
  await write(renderRows(format === "table" ? TABLE : format, rows, HEADERS));
  return 0;
}
