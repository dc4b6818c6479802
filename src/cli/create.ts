import { createRequest } from "../engine/create_request.ts";
import { detectIdMapping } from "../userns/mod.ts";
import { list, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { runRequestFromArgs } from "./_run_options.ts";
import { envFlag, readEnvFile, RUN_OPTIONS } from "./run.ts";
import { write } from "./_io.ts";
import { applyRunDefaults } from "../config/load.ts";

/** run's options, but for -d: a created container is started by `start`, attached or not. */
const OPTIONS = RUN_OPTIONS.filter((o) => o.name !== "detach");

/** `nook create`. */
export const spec: CommandSpec = {
  name: "create",
  usage: "create [OPTIONS] IMAGE [COMMAND [ARG...]]",
  summary: "Make a container (record, storage, name) without starting it, and print its id. " +
    'It is listed as "Created" until `nook start` (detached) or `nook start -a` (attached) runs it.',
  options: OPTIONS,
  examples: [
    "nook create --name w busybox sh -c 'echo hi; exit 3'",
    "nook start -a w",
    "nook create --name web -p 8080:80 --restart always nginx && nook start web",
  ],
  positional: "image",
};

/** Create it: flags → the engine's request → the id of the new container. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec, true);
  if (!a) return 0;
  await applyRunDefaults(a, OPTIONS);
  const env = [...list(a, "env-file").flatMap(readEnvFile), ...list(a, "env").flatMap(envFlag)];
  const id = await createRequest(runRequestFromArgs(a, env), detectIdMapping());
  await write(`${id}\n`);
  return 0;
}
