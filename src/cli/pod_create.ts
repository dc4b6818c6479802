import { createPod } from "../engine/pods.ts";
import { UsageError } from "../errors/mod.ts";
import { HELP, list, type OptionSpec, parseCommand, str } from "./_args.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "name", type: "string", value: "NAME", help: "The pod's name (also its members' hostname)" },
  { name: "publish", short: "p", type: "list", value: "[IP:]HOST:CONTAINER[/PROTO]", help: "Publish a port of the pod's network on the host" },
  { name: "share", type: "list", value: "pid", help: "Share the pid namespace too (net, ipc and uts always are)" },
  HELP,
];

/** `nook pod create`. */
export const spec: CommandSpec = {
  name: "pod create",
  usage: "pod create --name NAME [-p HOST:CONTAINER]... [--share pid]",
  summary:
    "Create a pod: containers run with --pod NAME share its network (localhost), ipc and uts namespaces, held by an infra container whose pid 1 is nook-init under the C monitor.",
  options: OPTIONS,
  examples: ["nook pod create --name web -p 8080:80", "nook run -d --pod web IMAGE", "nook pod create --name dbg --share pid"],
  positional: "none",
};

/** Create it; prints its id. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const name = str(a, "name");
  if (name === undefined || a.rest.length) throw new UsageError("nook pod create needs --name NAME and no other argument", { hint: spec.usage });
  const share = list(a, "share").flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean);
  for (const s of share) {
    if (!["pid", "net", "ipc", "uts"].includes(s)) throw new UsageError(`Invalid --share "${s}"`, { hint: "net, ipc and uts are always shared; add pid" });
  }
  const pod = await createPod({ name, publish: list(a, "publish"), sharePid: share.includes("pid") });
  await write(`${pod.id}\n`);
  return 0;
}
