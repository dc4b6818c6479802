import { NookError, UsageError } from "../errors/mod.ts";
import { lazyImport } from "../lazy/mod.ts";
import { findImage } from "../image/lookup.ts";
import { type OptionSpec, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  {
    name: "output",
    short: "o",
    type: "string",
    value: "FILE",
    help: "Write to FILE instead of stdout",
    complete: "file",
  },
  { name: "format", type: "string", value: "FORMAT", help: "oci-archive (default) or docker-archive" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook save`. */
export const spec: CommandSpec = {
  name: "save",
  usage: "save [OPTIONS] IMAGE [IMAGE...]",
  summary: "Write images to a tarball: an oci-archive, or a docker-archive that docker load reads.",
  options: OPTIONS,
  examples: ["nook save -o alpine.tar alpine", "nook save --format docker-archive alpine | docker load"],
  positional: "image",
};

/** Refuse an output path whose directory is missing or not writable, before any work. */
function checkOutput(output: string): void {
  const dir = output.includes("/") ? output.slice(0, output.lastIndexOf("/")) || "/" : ".";
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(dir);
  } catch {
    throw new UsageError(`Cannot write "${output}": the directory "${dir}" does not exist`, {
      path: output,
      hint: `create it first (mkdir -p ${dir}) or choose another path`,
    });
  }
  if (!st.isDirectory) {
    throw new UsageError(`Cannot write "${output}": "${dir}" is not a directory`, { path: output });
  }
  try {
    if (Deno.statSync(output).isDirectory) {
      throw new UsageError(`Cannot write "${output}": it is a directory`, {
        path: output,
        hint: "give a file name, e.g. -o DIR/image.tar",
      });
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // not there yet: fine
  }
}

/** Save. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const format = str(a, "format") ?? "oci-archive";
  if (format !== "oci-archive" && format !== "docker-archive") {
    throw new UsageError(`Unknown format "${format}"`, { hint: "use oci-archive or docker-archive" });
  }
  if (a.rest.length === 0) throw new UsageError("nook save needs an image", { hint: spec.usage });
  const output = str(a, "output");
  if (output === undefined && Deno.stdout.isTerminal()) {
    throw new UsageError("nook save will not write an archive to a terminal", {
      hint: "use -o FILE or redirect stdout",
    });
  }
  if (output !== undefined) checkOutput(output);
  const recs = a.rest.map((n) => {
    const r = findImage(n);
    if (!r) throw new NookError(`No such image: "${n}"`, { hint: "see nook images" });
    return r;
  });
  const { saveImages } = await lazyImport<typeof import("../image/archive.ts")>("image/archive.ts");
  const { lockStore } = await lazyImport<typeof import("../store/lock.ts")>("store/lock.ts");
  using _lock = await lockStore("shared");
  const tmp = output !== undefined ? `${output}.${Deno.pid}.tmp` : undefined;
  let out: Deno.FsFile | typeof Deno.stdout;
  try {
    out = tmp !== undefined ? await Deno.open(tmp, { write: true, create: true, truncate: true }) : Deno.stdout;
  } catch (err) {
    throw new NookError(`Cannot write "${output}": ${(err as Error).message.replace(/:? ?\(os error \d+\).*$/, "")}`, {
      path: output ?? "",
      cause: err,
      hint: "choose a file in a directory you can write to",
    });
  }
  try {
    await saveImages(recs, format, async (chunk) => {
      let off = 0;
      while (off < chunk.length) off += await out.write(chunk.subarray(off));
    });
    if (tmp !== undefined) {
      out.close();
      Deno.renameSync(tmp, output!);
    }
  } catch (err) {
    if (tmp !== undefined) {
      try {
        out.close();
      } catch {
        // closed
      }
      try {
        Deno.removeSync(tmp);
      } catch {
        // never made
      }
    }
    throw err;
  }
  return 0;
}
