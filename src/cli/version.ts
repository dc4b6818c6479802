import { version } from "../ffi/mod.ts";
import { HELP, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { NOOK_VERSION } from "../version.ts";

/** `nook version`. */
export const spec: CommandSpec = {
  name: "version",
  usage: "version",
  summary: "Show the versions of nook, Deno, V8, TypeScript and libshim's plan format.",
  options: [HELP],
  examples: ["nook version", "nook --version"],
  positional: "none",
};

/** Print versions. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  let plan = "not built";
  try {
    plan = `plan v${await version()}`;
  } catch {
    // reported as "not built"
  }
  await write(
    `nook ${NOOK_VERSION}\ndeno ${Deno.version.deno}\nv8 ${Deno.version.v8}\ntypescript ${Deno.version.typescript}\nlibshim ${plan}\n`,
  );
  return 0;
}
