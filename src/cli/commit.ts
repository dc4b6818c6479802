import { lazyImport } from "../lazy/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { resolveContainer } from "../engine/names.ts";
import { mustRecord } from "../engine/store.ts";
import { parseReference } from "../image/reference.ts";
import { list, type OptionSpec, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { inUserns } from "./_userns.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "message", short: "m", type: "string", value: "TEXT", help: "Comment for the image's history" },
  { name: "author", short: "a", type: "string", value: "NAME", help: "Author of the image" },
  {
    name: "change",
    short: "c",
    type: "list",
    value: "INSTRUCTION",
    help: 'Set config: "CMD …", "ENTRYPOINT …", "ENV K=V", "WORKDIR …", "USER …", "EXPOSE …", "VOLUME …"',
  },
  {
    name: "pause",
    short: "p",
    type: "bool",
    help: "Freeze a running container while committing (default; --pause=false to not)",
  },
  { name: "quiet", short: "q", type: "bool", help: "Print only the image ID (the default output)" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook commit`. */
export const spec: CommandSpec = {
  name: "commit",
  usage: "commit [OPTIONS] CONTAINER [NAME[:TAG]]",
  summary: "Make an image from a container's changes: one new layer on top of its image's, " +
    "the image's configuration with --change applied, and a history entry. Prints the image ID.",
  options: OPTIONS,
  examples: [
    "nook commit w w-snapshot:1",
    "nook commit -m 'added the config' -a 'Ann <ann@example.com>' -c 'CMD [\"/app\"]' web web:2",
  ],
  positional: "container",
};

/** Commit. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const [ref, name, extra] = a.rest;
  if (ref === undefined || extra !== undefined) {
    throw new UsageError("nook commit takes a container and an optional image name", { hint: spec.usage });
  }
  if (name !== undefined) parseReference(name, "localhost");
  const id = resolveContainer(ref);
  // the layer is written from files of subordinate ids and unpacked into the store as them
  const code = await inUserns(["commit"], argv);
  if (code !== undefined) return code;
  const { commitContainer } = await lazyImport<typeof import("../build/commit.ts")>("build/commit.ts");
  const { closeUnpackWorkers } = await lazyImport<typeof import("../image/unpack.ts")>("image/unpack.ts");
  try {
    const imageId = await commitContainer(mustRecord(id), {
      name,
      message: str(a, "message"),
      author: str(a, "author"),
      changes: list(a, "change"),
      pause: a.opts["pause"] !== false,
      say: (t) => console.error(`nook: ${t}`),
    });
    await write(`${imageId}\n`);
  } finally {
    closeUnpackWorkers();
  }
  return 0;
}
