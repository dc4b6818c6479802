import { inspectDocument, renderTemplate } from "../engine/mod.ts";
import { HELP, type OptionSpec, parseCommand, str } from "./_args.ts";
import { eachContainer, view } from "./_containers.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "format", short: "f", type: "string", value: "TEMPLATE", help: "Print a template per container, e.g. '{{.State.Status}}'" },
  HELP,
];

/** `nook inspect`. */
export const spec: CommandSpec = {
  name: "inspect",
  usage: "inspect [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Print the configuration and state of containers as JSON (docker/podman shape: Id, Name, State, Config, HostConfig…).",
  options: OPTIONS,
  examples: ["nook inspect web", "nook inspect -f '{{.State.Status}} {{.State.ExitCode}}' web"],
  positional: "container",
};

/** Inspect them. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const format = str(a, "format");
  const docs: Record<string, unknown>[] = [];
  const code = await eachContainer(a.rest, "inspect", async (id) => {
    const v = view(id);
    const doc = inspectDocument(v);
    if (v.rec.spec.userNetwork) {
      // docker's NetworkSettings.Networks: the user networks' records (loaded only for their members)
      const { userNetworksOf } = await import("../engine/networks.ts");
      (doc.NetworkSettings as Record<string, unknown>).Networks = userNetworksOf(id);
    }
    if (format !== undefined) await write(renderTemplate(format, doc) + "\n");
    else docs.push(doc);
  });
  if (format === undefined) await write(JSON.stringify(docs, null, 4) + "\n");
  return code;
}
