import { lazyImport } from "../lazy/mod.ts";
import { bool, type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { inUserns } from "./_userns.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "all", short: "a", type: "bool", help: "Remove every image no container uses, not only unnamed ones" },
  {
    name: "build-cache",
    type: "bool",
    help: "Also remove what builds keep between runs: RUN --mount=type=cache directories and kept file hashes",
  },
  { name: "force", short: "f", type: "bool", help: "Do not ask for confirmation" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook image prune`. */
export const spec: CommandSpec = {
  name: "image prune",
  usage: "image prune [OPTIONS]",
  summary: "Remove unnamed images (with -a: all unused images), then every blob, layer and leftover " +
    "(half downloads, storage of killed runs) that nothing uses, and the build cache's records of the " +
    "layers gone (with --build-cache: all the build cache but the records of live layers).",
  options: OPTIONS,
  examples: ["nook image prune", "nook image prune -a -f", "nook image prune --build-cache -f"],
};

/** Prune. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (!bool(a, "force") && Deno.stdin.isTerminal() && !Deno.env.get("NOOK_USERNS")) {
    const what = (bool(a, "all") ? "all images without a container" : "all unnamed images") +
      (bool(a, "build-cache") ? " and the build cache" : "");
    if (!confirm(`This removes ${what}. Continue?`)) return 0;
  }
  const code = await inUserns(["image", "prune", "-f"], argv.filter((x) => x !== "-f" && x !== "--force"));
  if (code !== undefined) return code;

  const { lockStore } = await lazyImport<typeof import("../store/lock.ts")>("store/lock.ts");
  const { readImages, updateImages } = await lazyImport<typeof import("../store/images.ts")>("store/images.ts");
  const { collectGarbage, imagesInUse, removeStaleContainers } = await lazyImport<typeof import("../store/gc.ts")>(
    "store/gc.ts",
  );
  using _lock = await lockStore("exclusive");
  removeStaleContainers();
  const used = imagesInUse();
  const doomed = readImages().filter((i) => !used.has(i.id) && (bool(a, "all") || i.names.length === 0));
  const ids = new Set(doomed.map((i) => i.id));
  if (ids.size) await updateImages((all) => all.filter((i) => !ids.has(i.id)));
  const c = collectGarbage({ temporary: true });
  // after the layers: a build-cache record whose layer went now can go too
  const { pruneBuildCache } = await lazyImport<typeof import("../build/prune.ts")>("build/prune.ts");
  const b = await pruneBuildCache({ buildCache: bool(a, "build-cache") });
  const lines = doomed.map((i) => `Deleted: ${i.id}`);
  if (c.layers.length || c.blobs.length || c.temporary || c.containers.length) {
    lines.push(
      `Removed ${c.layers.length} layers, ${c.blobs.length} blobs, ${c.temporary} temporary files` +
        (c.containers.length ? `, storage of ${c.containers.length} dead containers` : ""),
    );
  }
  if (b.steps || b.hashes || b.mounts) {
    lines.push(
      `Removed from the build cache: ${b.steps} step records, ${b.hashes} kept hashes, ${b.mounts} cache mounts`,
    );
  }
  if (b.busy) lines.push(`Kept ${b.busy} cache mounts a build is using`);
  await write(lines.map((l) => l + "\n").join(""));
  return 0;
}
