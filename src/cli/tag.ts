import { UsageError } from "../errors/mod.ts";
import { parseReference } from "../image/reference.ts";
import { type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { changeImageNames } from "./_image_names.ts";

const OPTIONS: readonly OptionSpec[] = [{ name: "help", type: "bool", help: "Show this help" }];

/** `nook tag`. */
export const spec: CommandSpec = {
  name: "tag",
  usage: "tag IMAGE NAME [NAME...]",
  summary: "Give an image more names. A name without a registry is local (localhost/NAME, as podman names it); " +
    "a name another image had moves to this one.",
  options: OPTIONS,
  examples: [
    "nook tag app:1.4 app:latest",
    "nook tag alpine registry.example.com/base/alpine:3.20",
    "nook tag 5ad3b1c2c0f1 app:1 app:stable",
  ],
  positional: "image",
};

/** The stored form of a name a user gives to tag (or untag): `registry/repository:tag`. */
function storedName(text: string): string {
  const ref = parseReference(text, "localhost");
  if (ref.digest !== undefined) {
    throw new UsageError(`"${text}" is a digest reference; an image name takes a tag`, {
      hint: "leave out the @sha256:… part",
    });
  }
  return `${ref.registry}/${ref.repository}:${ref.tag ?? "latest"}`;
}

/** Tag it. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length < 2) {
    throw new UsageError("nook tag needs an image and at least one new name", {
      hint: "nook tag IMAGE NAME [NAME...]",
    });
  }
  const [image, ...rest] = a.rest as [string, ...string[]];
  const names = rest.map(storedName); // every name is checked before anything changes
  await changeImageNames(image, (cur, all) => {
    const moved = new Set(names);
    return all.map((i) =>
      i.id === cur.id
        ? { ...i, names: [...new Set([...i.names, ...names])] }
        : { ...i, names: i.names.filter((n) => !moved.has(n)) }
    );
  });
  return 0;
}
