import { lazyImport } from "../lazy/mod.ts";
import { type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [{ name: "help", type: "bool", help: "Show this help" }];

/** `nook unshare`. */
export const spec: CommandSpec = {
  name: "unshare",
  usage: "unshare [COMMAND [ARG...]]",
  summary: "Run a command (default: your shell) in nook's user namespace, where you are root over your " +
    "subordinate ids: inspect or remove files of images and containers as they are stored.",
  options: OPTIONS,
  examples: ["nook unshare", "nook unshare ls -ln ~/.local/share/nook/layers", "nook unshare rm -rf ./leftover"],
  positional: "command",
};

/** Run it. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec, true);
  if (!a) return 0;
  const { runInUserns } = await lazyImport<typeof import("../unshare/mod.ts")>("unshare/mod.ts");
  const cmd = a.rest.length ? a.rest : [Deno.env.get("SHELL") || "/bin/sh"];
  return await runInUserns(cmd);
}
