import { execSecurity } from "../security/mod.ts";
// the engine's files one by one, not its mod.ts: the barrel would load every verb (cp, logs, stop…)
import { buildExecPlan, execProcess, launchExec } from "../engine/exec.ts";
import { ContainerError } from "../engine/errors.ts";
import { currentStatus } from "../engine/status.ts";
import { isSameProcess } from "../engine/proc.ts";
import { mustRecord } from "../engine/store.ts";
import { resolveContainer } from "../engine/names.ts";
import { UsageError } from "../errors/mod.ts";
import { bool, HELP, list, type OptionSpec, parseCommand, str } from "./_args.ts";
import { envFlag, readEnvFile, RUN_OPTIONS } from "./run.ts";
import { mergeEnv } from "../engine/prepare.ts";
import type { CommandSpec } from "./commands.ts";

/** exec shares these options with run, with the same meaning. */
const SHARED_WITH_RUN = ["interactive", "tty", "env", "env-file", "user", "workdir"];

const OPTIONS: readonly OptionSpec[] = [
  ...RUN_OPTIONS.filter((o) => SHARED_WITH_RUN.includes(o.name)),
  { name: "detach", short: "d", type: "bool", help: "Run the command in the background" },
  HELP,
];

/** `nook exec`. */
export const spec: CommandSpec = {
  name: "exec",
  usage: "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
  summary: "Run a command in a running container, in all of its namespaces; exits with the command's status.",
  options: OPTIONS,
  examples: ["nook exec web ps", "nook exec -it web sh", "nook exec -e A=1 -u 1000 -w /tmp web env", "nook exec -d web touch /tmp/x"],
  positional: "container",
};

/** Run it. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec, true);
  if (!a) return 0;
  const [ref, ...args] = a.rest;
  if (ref === undefined || args.length === 0) {
    throw new UsageError("nook exec needs a container and a command", { hint: "nook exec [OPTIONS] NAME|ID COMMAND [ARG...]" });
  }
  const id = resolveContainer(ref);
  const rec = mustRecord(id);
  const s = currentStatus(id);
  if (s.state !== "running" || !isSameProcess(s.pid, s.pidStart)) {
    throw new ContainerError(`Container ${rec.name} is not running`, { hint: `start it first: nook start ${rec.name}` });
  }
  const detach = bool(a, "detach");
  const tty = bool(a, "tty") && !detach;
  let consoleSize: [number, number] | undefined;
  if (tty) {
    try {
      const { rows, columns } = Deno.consoleSize();
      consoleSize = [rows, columns];
    } catch {
      // not a terminal: the pty keeps its default size
    }
  }
  const proc = execProcess(rec, s.pid, {
    args,
    env: [...list(a, "env-file").flatMap(readEnvFile), ...list(a, "env").flatMap(envFlag)],
    user: str(a, "user"),
    workdir: str(a, "workdir"),
    tty,
    stdin: bool(a, "interactive") && !detach,
    detach,
    ...(consoleSize ? { consoleSize } : {}),
  }, mergeEnv);
  let skipSetgroups = false;
  try {
    skipSetgroups = Deno.readTextFileSync(`/proc/${s.pid}/setgroups`).trim() === "deny";
  } catch {
    // the container ended meanwhile: the plan's setns will say so
  }
  const sec = rec.spec.security;
  const plan = buildExecPlan(s.pid, proc, {
    detach,
    detachedStdioNull: true,
    dieWithNook: true,
    skipSetgroups,
    ...(rec.spec.idMapBelow ? { userNamespaceBelow: true } : {}),
    ...(sec ? { security: execSecurity(sec, rec.spec.process.uid, proc.uid) } : {}),
  });
  return await launchExec(plan, { cgroup: rec.cgroup, detach, stdin: proc.stdin });
}
