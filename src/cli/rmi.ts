import { lazyImport } from "../lazy/mod.ts";
import { formatError, NookError, UsageError } from "../errors/mod.ts";
import { findImage, matchedName } from "../image/lookup.ts";
import { bool, type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { inUserns } from "./_userns.ts";

const OPTIONS: readonly OptionSpec[] = [
  {
    name: "force",
    short: "f",
    type: "bool",
    help: "Remove images that containers use (their layers stay until the containers go)",
  },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook rmi`. */
export const spec: CommandSpec = {
  name: "rmi",
  usage: "rmi [OPTIONS] IMAGE [IMAGE...]",
  summary: "Remove images: a name is untagged; the image goes with its last name (or when given by ID), " +
    "and its layers go when nothing else uses them.",
  options: OPTIONS,
  examples: ["nook rmi alpine", "nook rmi 5ad3b1c2c0f1", "nook rmi -f alpine:3.20"],
  positional: "image",
};

/** Remove them. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length === 0) {
    throw new UsageError("nook rmi needs at least one image", { hint: "nook rmi IMAGE [IMAGE...]" });
  }
  // a container a killed nook left half-made is rolled back first, so rmi never names one nobody can find
  await (await lazyImport<typeof import("../engine/intent.ts")>("engine/intent.ts")).sweepAbandoned();
  const code = await inUserns(["rmi"], argv);
  if (code !== undefined) return code;

  const { lockStore } = await lazyImport<typeof import("../store/lock.ts")>("store/lock.ts");
  const { readImages, updateImages } = await lazyImport<typeof import("../store/images.ts")>("store/images.ts");
  const { collectGarbage, imagesInUse, removeStaleContainers } = await lazyImport<typeof import("../store/gc.ts")>("store/gc.ts");
  using _lock = await lockStore("exclusive");
  removeStaleContainers(); // runs killed before they cleaned up use nothing any more
  let failed = 0;
  const out: string[] = [];
  for (const arg of a.rest) {
    try {
      const images = readImages();
      const rec = findImage(arg, images);
      if (!rec) throw new NookError(`No such image: "${arg}"`, { hint: "see nook images" });
      const name = matchedName(arg, rec);
      if (name && rec.names.length > 1) {
        await updateImages((all) =>
          all.map((i) => (i.id === rec.id ? { ...i, names: i.names.filter((n) => n !== name) } : i))
        );
        out.push(`Untagged: ${name}`);
        continue;
      }
      const users = imagesInUse().get(rec.id) ?? [];
      if (users.length && !bool(a, "force")) {
        throw new NookError(`The image "${arg}" is in use by container ${users[0]!.slice(0, 12)}`, {
          hint: "remove the container first, or use nook rmi -f (its layers stay until the container goes)",
        });
      }
      await updateImages((all) => all.filter((i) => i.id !== rec.id));
      for (const n of rec.names) out.push(`Untagged: ${n}`);
      out.push(`Deleted: ${rec.id}`);
    } catch (err) {
      failed++;
      await write(formatError(err) + "\n", true);
    }
  }
  collectGarbage();
  await write(out.map((l) => l + "\n").join(""));
  // nook's own failures end with 125, as in every other command (docker's convention)
  return failed ? 125 : 0;
}
