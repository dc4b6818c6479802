import { sweepAbandoned } from "../engine/intent.ts";
import { removeContainer } from "../engine/mod.ts";
import { infraId, listPods } from "../engine/pod_store.ts";
import { UsageError } from "../errors/mod.ts";
import { bool, HELP, type OptionSpec, parseCommand } from "./_args.ts";
import { eachContainer } from "./_containers.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "force", short: "f", type: "bool", help: "Kill a running container first" },
  { name: "volumes", short: "v", type: "bool", help: "Accepted for docker compatibility (anonymous volumes arrive with images)" },
  HELP,
];

/** `nook rm`. */
export const spec: CommandSpec = {
  name: "rm",
  usage: "rm [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Remove containers (their record, status, logs and files).",
  options: OPTIONS,
  examples: ["nook rm web", "nook rm -f web", "nook rm $(nook ps -aq)"],
  positional: "container",
};

/** Remove them. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  await sweepAbandoned(); // what killed nooks left: finished or rolled back before anything is listed
  const force = bool(a, "force");
  const pods = listPods();
  return await eachContainer(a.rest, "rm", async (id) => {
    // a pod's infra container holds its members' namespaces: it goes with the pod
    const pod = pods.find((p) => infraId(p) === id);
    if (pod) {
      throw new UsageError(`The container "${pod.infra}" is the infra container of the pod "${pod.name}"`, {
        hint: `remove the pod: nook pod rm -f ${pod.name}`,
      });
    }
    await removeContainer(id, force);
  }, true);
}
