import { lazyImport } from "../lazy/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { parseReference } from "../image/reference.ts";
import { bool, list, type OptionSpec, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { addToStore, checkInputFile, inUserns } from "./_userns.ts";

const OPTIONS: readonly OptionSpec[] = [
  {
    name: "change",
    short: "c",
    type: "list",
    value: "INSTRUCTION",
    help: 'Set config: "CMD …", "ENTRYPOINT …", "ENV K=V", "WORKDIR …", "USER …", "EXPOSE …", "VOLUME …"',
  },
  { name: "message", short: "m", type: "string", value: "TEXT", help: "Comment for the image's history" },
  { name: "quiet", short: "q", type: "bool", help: "Print only the image ID" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook import`. */
export const spec: CommandSpec = {
  name: "import",
  usage: "import [OPTIONS] FILE|URL|- [NAME[:TAG]]",
  summary: "Make a one-layer image from a root filesystem tarball (plain, gzip or zstd). " +
    "Names without a registry go under localhost/.",
  options: OPTIONS,
  examples: [
    "nook import rootfs.tar.gz myimage:latest",
    "tar -C rootfs -c . | nook import - myimage",
    'nook import -c "CMD [\\"/bin/sh\\"]" -c "ENV LANG=C.UTF-8" rootfs.tar myimage',
  ],
};

/** Import. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const [src, name, extra] = a.rest;
  if (src === undefined || extra !== undefined) {
    throw new UsageError("nook import takes a file and an optional name", { hint: spec.usage });
  }
  if (name !== undefined) parseReference(name, "localhost");
  const isUrl = /^https?:\/\//.test(src);
  if (src !== "-" && !isUrl) checkInputFile(src, spec.usage);
  const code = await inUserns(["import"], argv);
  if (code !== undefined) return code;

  const { importRootfs } = await lazyImport<typeof import("../image/archive.ts")>("image/archive.ts");
  const message = str(a, "message");
  const rec = await addToStore(bool(a, "quiet"), async (progress) => {
    let input: AsyncIterable<Uint8Array>;
    if (src === "-") input = Deno.stdin.readable;
    else if (isUrl) {
      const res = await fetch(src);
      if (!res.ok || !res.body) throw new UsageError(`Cannot download "${src}": HTTP ${res.status}`);
      input = res.body;
    } else input = (await Deno.open(src)).readable;
    return await importRootfs(input, progress, {
      ...(name !== undefined ? { name } : {}),
      changes: list(a, "change"),
      ...(message !== undefined ? { message } : {}),
      label: src === "-" ? "stdin" : `"${src}"`,
    });
  });
  await write(rec.id + "\n");
  return 0;
}
