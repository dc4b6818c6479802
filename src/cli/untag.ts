import { NookError, UsageError } from "../errors/mod.ts";
import { candidates, repoName } from "../image/reference.ts";
import { type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { changeImageNames } from "./_image_names.ts";

const OPTIONS: readonly OptionSpec[] = [{ name: "help", type: "bool", help: "Show this help" }];

/** `nook untag`. */
export const spec: CommandSpec = {
  name: "untag",
  usage: "untag IMAGE [NAME...]",
  summary: "Remove names from an image; without NAME, all of its names. The image stays in the store " +
    "(as <none>) until nook rmi or nook image prune removes it.",
  options: OPTIONS,
  examples: ["nook untag app:1.4 app:latest", "nook untag app:1.4", "nook untag 5ad3b1c2c0f1 localhost/app:old"],
  positional: "image",
};

/** The stored names a user's NAME may stand for (short names through localhost/ and the search registries). */
function forms(text: string): string[] {
  return candidates(text).filter((r) => r.digest === undefined).map((r) => `${repoName(r)}:${r.tag}`);
}

/** Untag it. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length < 1) {
    throw new UsageError("nook untag needs an image", { hint: "nook untag IMAGE [NAME...]" });
  }
  const [image, ...given] = a.rest as [string, ...string[]];
  const wanted = given.map((g) => ({ text: g, forms: forms(g) }));
  await changeImageNames(image, (cur, all) => {
    let drop: Set<string>;
    if (wanted.length === 0) drop = new Set(cur.names);
    else {
      drop = new Set();
      for (const w of wanted) {
        const hit = w.forms.find((f) => cur.names.includes(f));
        if (!hit) {
          throw new NookError(`"${w.text}" is not a name of the image "${image}"`, {
            hint: cur.names.length ? `its names: ${cur.names.join(", ")}` : "it has no names",
          });
        }
        drop.add(hit);
      }
    }
    return all.map((i) => (i.id === cur.id ? { ...i, names: i.names.filter((n) => !drop.has(n)) } : i));
  });
  return 0;
}
