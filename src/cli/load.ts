import { lazyImport } from "../lazy/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { parsePlatform } from "../image/manifest.ts";
import { bool, type OptionSpec, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { addToStore, checkInputFile, inUserns } from "./_userns.ts";

const OPTIONS: readonly OptionSpec[] = [
  {
    name: "input",
    short: "i",
    type: "string",
    value: "FILE",
    help: "Read from FILE instead of stdin",
    complete: "file",
  },
  { name: "platform", type: "string", value: "OS/ARCH", help: "Platform to take from a multi-platform archive" },
  { name: "quiet", short: "q", type: "bool", help: "Print only the loaded image names" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook load`. */
export const spec: CommandSpec = {
  name: "load",
  usage: "load [OPTIONS]",
  summary: "Load images from a docker-archive (docker save) or oci-archive tarball, plain or compressed.",
  options: OPTIONS,
  examples: ["nook load -i app.tar", "docker save alpine | nook load", "nook load -i image.oci.tar.gz"],
};

/** Load. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length) {
    throw new UsageError(`nook load takes no arguments (got "${a.rest[0]}")`, { hint: "nook load -i FILE" });
  }
  const input = str(a, "input");
  if (input !== undefined) checkInputFile(input, "nook load -i FILE");
  else if (Deno.stdin.isTerminal()) {
    throw new UsageError("nook load reads an archive from stdin, which is a terminal", {
      hint: "nook load -i FILE, or pipe one in",
    });
  }
  const code = await inUserns(["load"], argv);
  if (code !== undefined) return code;

  const { loadArchive } = await lazyImport<typeof import("../image/archive.ts")>("image/archive.ts");
  const platform = str(a, "platform");
  const recs = await addToStore(bool(a, "quiet"), async (progress) => {
    const file = input !== undefined ? await Deno.open(input) : undefined;
    return await loadArchive(file ? file.readable : Deno.stdin.readable, progress, {
      archiveName: input ?? "stdin",
      ...(platform ? { platform: parsePlatform(platform) } : {}),
    });
  });
  const lines = recs.flatMap((r) => (r.names.length ? r.names : [r.id]).map((n) => `Loaded image: ${n}`));
  await write(lines.map((l) => l + "\n").join(""));
  return 0;
}
