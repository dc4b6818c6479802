import { formatError, NookError, UsageError } from "../errors/mod.ts";
import { findImage } from "../image/lookup.ts";
import type { ImageConfig } from "../image/manifest.ts";
import { readBlobText } from "../store/blobs.ts";
import { layerDiff, readLayerInfo } from "../store/layers.ts";
import { type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook image inspect`. */
export const spec: CommandSpec = {
  name: "image inspect",
  usage: "image inspect IMAGE [IMAGE...]",
  summary: "Show what nook knows about images, as JSON in the shape docker and podman use.",
  options: OPTIONS,
  examples: ["nook image inspect alpine"],
  positional: "image",
};

/** Inspect. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length === 0) {
    throw new UsageError("nook image inspect needs an image", { hint: "nook image inspect IMAGE" });
  }
  const out: unknown[] = [];
  let failed = 0;
  for (const arg of a.rest) {
    try {
      const rec = findImage(arg);
      if (!rec) throw new NookError(`No such image: "${arg}"`, { exitCode: 1 });
      const cfg = JSON.parse(readBlobText(rec.id)) as ImageConfig & { author?: string };
      out.push({
        Id: rec.id,
        Digest: rec.manifest,
        RepoTags: rec.names,
        RepoDigests: rec.repoDigests,
        Created: cfg.created ?? null,
        Author: cfg.author ?? "",
        Architecture: cfg.architecture,
        Os: cfg.os,
        ...(cfg.variant ? { Variant: cfg.variant } : {}),
        Size: rec.size,
        Config: cfg.config ?? {},
        Labels: cfg.config?.Labels ?? null,
        RootFS: { Type: "layers", Layers: cfg.rootfs.diff_ids },
        ManifestType: rec.manifestMediaType,
        Layers: rec.layers.map((l) => ({
          Digest: l.digest,
          MediaType: l.mediaType,
          Size: l.size,
          DiffID: l.diffId,
          ChainID: l.chainId,
        })),
        History: cfg.history ?? [],
        GraphDriver: {
          Name: "nook-layers",
          Data: {
            LowerDir: [...rec.layers].reverse().map((l) => layerDiff(l.chainId)).join(":"),
            Unpacked: rec.layers.every((l) => readLayerInfo(l.chainId) !== undefined),
          },
        },
        Added: rec.added,
      });
    } catch (err) {
      failed++;
      await write(formatError(err) + "\n", true);
    }
  }
  await write(JSON.stringify(out, null, 2) + "\n");
  return failed ? 1 : 0;
}
