import { podMembers, podState } from "../engine/pods.ts";
import { infraId, mustPod } from "../engine/pod_store.ts";
import { currentStatus } from "../engine/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { HELP, parseCommand } from "./_args.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

/** `nook pod inspect`. */
export const spec: CommandSpec = {
  name: "pod inspect",
  usage: "pod inspect POD...",
  summary: "Show pods as JSON: state, shared namespaces, published ports, infra container and members.",
  options: [HELP],
  examples: ["nook pod inspect web"],
  positional: "none",
};

/** Print them. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (!a.rest.length) throw new UsageError("nook pod inspect needs a pod", { hint: spec.usage });
  const docs = a.rest.map((ref) => {
    const p = mustPod(ref);
    const infra = infraId(p);
    return {
      Id: p.id,
      Name: p.name,
      Created: p.created,
      State: podState(p).state,
      Hostname: p.name,
      SharedNamespaces: p.share,
      InfraContainerID: infra ?? "",
      InfraContainerName: p.infra,
      Ports: p.ports,
      NumContainers: podMembers(p.name).length,
      Containers: podMembers(p.name).map((m) => ({ Id: m.id, Name: m.name, State: currentStatus(m.id).state })),
    };
  });
  await write(JSON.stringify(docs, null, 2) + "\n");
  return 0;
}
