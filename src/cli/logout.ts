import { UsageError } from "../errors/mod.ts";
import { removeCredentials } from "../image/auth.ts";
import { type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

const OPTIONS: readonly OptionSpec[] = [{ name: "help", type: "bool", help: "Show this help" }];

/** `nook logout`. */
export const spec: CommandSpec = {
  name: "logout",
  usage: "logout REGISTRY",
  summary: "Forget the credentials nook login stored for a registry.",
  options: OPTIONS,
  examples: ["nook logout localhost:5000", "nook logout docker.io"],
};

/** Log out. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const registry = a.rest[0];
  if (!registry) throw new UsageError("nook logout needs a registry", { hint: spec.usage });
  if (!removeCredentials(registry)) {
    await write(`Not logged in to ${registry}\n`);
    return 1;
  }
  await write(`Removed login credentials for ${registry}\n`);
  return 0;
}
