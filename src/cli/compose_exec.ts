import { resolveContainer } from "../engine/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { type OptionSpec, parseCommand } from "./_args.ts";
import { readProject } from "./_compose_state.ts";
import type { CommandSpec } from "./commands.ts";
import { main as exec, spec as execSpec } from "./exec.ts";
import { projectOf } from "./down.ts";
import { containerName } from "./up.ts";

const PROJECT_OPTIONS: readonly OptionSpec[] = [
  { name: "file", short: "f", type: "string", value: "FILE", help: "The compose file (names the project)" },
  { name: "project-name", short: "p", type: "string", value: "NAME", help: "Project name" },
  { name: "no-TTY", short: "T", type: "bool", help: "No terminal (the default here: give -t for one)" },
];

/** `nook compose exec`. */
export const spec: CommandSpec = {
  name: "compose exec",
  usage: "compose exec [OPTIONS] SERVICE COMMAND [ARG...]",
  summary: "Run a command in a service's running container: nook exec's options, with the service's name.",
  options: [...PROJECT_OPTIONS, ...execSpec.options],
  examples: ["nook compose exec web ps", "nook compose exec -p demo -e A=1 db env"],
};

/** Run it through `nook exec` with the service's container. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec, true);
  if (!a) return 0;
  const [service, ...cmd] = a.rest;
  if (service === undefined || !cmd.length) {
    throw new UsageError("nook compose exec needs a service and a command", { hint: spec.usage });
  }
  const project = await projectOf(a);
  if (!readProject(project)?.containers.some((c) => c.service === service)) {
    throw new UsageError(`The project "${project}" has no service "${service}"`, { hint: "see nook compose ps" });
  }
  const name = containerName(project, service);
  resolveContainer(name); // a clear error when it was removed
  // the options before the service, less the project's own, go to exec as they were given
  const opts = argv.slice(0, argv.length - a.rest.length);
  const passed: string[] = [];
  for (let i = 0; i < opts.length; i++) {
    const o = opts[i]!;
    if (["-f", "--file", "-p", "--project-name"].includes(o)) i++;
    else if (/^--(file|project-name)=/.test(o) || o === "-T" || o === "--no-TTY") continue;
    else passed.push(o);
  }
  return await exec([...passed, name, ...cmd]);
}
