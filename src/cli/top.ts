import { ContainerError, currentStatus, isSameProcess, mustRecord, resolveContainer } from "../engine/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { formatHelp, HELP, type OptionSpec } from "./_args.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [HELP];

/** `nook top`. */
export const spec: CommandSpec = {
  name: "top",
  usage: "top CONTAINER [ps OPTIONS]",
  summary: "Show the processes of a running container (host pids), as `ps -ef` or with the ps options given.",
  options: OPTIONS,
  examples: ["nook top web", "nook top web -o pid,user,args"],
  positional: "container",
};

/** Host pids of every process in the pid namespace of `pid`. */
export function processesInNamespace(pid: number): number[] {
  const ns = Deno.readLinkSync(`/proc/${pid}/ns/pid`);
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Deno.readLinkSync(`/proc/${e.name}/ns/pid`) === ns) out.push(Number(e.name));
    } catch {
      // ended, or not ours to see
    }
  }
  return out.sort((a, b) => a - b);
}

/** List them (docker's way: run ps on the host and keep the container's rows). */
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "--help" || argv[0] === "-h") {
    await write(formatHelp(spec));
    return 0;
  }
  const [ref, ...psArgs] = argv;
  if (ref === undefined) throw new UsageError("nook top needs a container", { hint: "nook top NAME|ID [ps OPTIONS]" });
  const id = resolveContainer(ref);
  const rec = mustRecord(id);
  const s = currentStatus(id);
  if (s.state !== "running" || !isSameProcess(s.pid, s.pidStart)) {
    throw new ContainerError(`Container ${rec.name} is not running`, { hint: `nook start ${rec.name}` });
  }
  const pids = new Set(processesInNamespace(s.pid));
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("ps", { args: psArgs.length ? psArgs : ["-ef"], stdin: "null" }).output();
  } catch (err) {
    throw new ContainerError(`Cannot run ps: ${(err as Error).message}`, { cause: err, hint: "install procps (apt install procps)" });
  }
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new ContainerError(`ps failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  const [header = "", ...rows] = text.split("\n").filter(Boolean);
  const col = header.trim().split(/\s+/).indexOf("PID");
  if (col < 0) throw new UsageError("The ps options must include the PID column", { hint: "e.g. nook top web -o pid,args" });
  const kept = rows.filter((r) => pids.has(Number(r.trim().split(/\s+/)[col])));
  await write([header, ...kept].map((l) => l + "\n").join(""));
  return 0;
}
