import { UsageError } from "../errors/mod.ts";
import { runRequest } from "../engine/prepare.ts";
import { detectIdMapping } from "../userns/mod.ts";
import { list, type OptionSpec, parseCommand } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import {
  IMAGE_RUN_OPTIONS,
  LIFECYCLE_RUN_OPTIONS,
  NETWORK_RUN_OPTIONS,
  RESOURCES_RUN_OPTIONS,
  runRequestFromArgs,
  SECURITY_RUN_OPTIONS,
} from "./_run_options.ts";
import { write } from "./_io.ts";
import { applyRunDefaults } from "../config/load.ts";
import { mark } from "../trace/mod.ts";

/** The core options of `nook run`. */
const CORE_RUN_OPTIONS: readonly OptionSpec[] = [
  { name: "rm", type: "bool", help: "Remove the container when it exits" },
  { name: "interactive", short: "i", type: "bool", help: "Keep stdin attached to the container" },
  { name: "tty", short: "t", type: "bool", help: "Allocate a pseudo-terminal" },
  { name: "env", short: "e", type: "list", value: "KEY[=VALUE]", help: "Set a variable (KEY alone copies nook's value)" },
  { name: "env-file", type: "list", value: "FILE", help: "Read variables from a file of KEY=VALUE lines", complete: "file" },
  { name: "workdir", short: "w", type: "string", value: "DIR", help: "Working directory inside the container" },
  { name: "user", short: "u", type: "string", value: "USER[:GROUP]", help: "User (name or uid) and group to run as" },
  { name: "hostname", short: "h", type: "string", value: "NAME", help: "Hostname (default: the first 12 digits of the id)" },
  { name: "entrypoint", type: "string", value: "CMD", help: "Override the image's entrypoint" },
  { name: "init", type: "bool", help: "Run a minimal init as pid 1 that reaps zombies and forwards signals" },
  { name: "rootfs", type: "string", value: "DIR", help: "Use this directory as the root filesystem", complete: "dir" },
  { name: "name", type: "string", value: "NAME", help: "Name of the container" },
  { name: "ulimit", type: "list", value: "NAME=SOFT[:HARD]", help: "Set a resource limit, e.g. nofile=1024:2048" },
  { name: "read-only", type: "bool", help: "Mount the root filesystem read-only" },
];

/** The options of `nook run`, in help order: each concern owns its group. */
export const RUN_OPTIONS: readonly OptionSpec[] = [
  ...CORE_RUN_OPTIONS,
  ...IMAGE_RUN_OPTIONS,
  ...LIFECYCLE_RUN_OPTIONS,
  ...SECURITY_RUN_OPTIONS,
  ...RESOURCES_RUN_OPTIONS,
  ...NETWORK_RUN_OPTIONS,
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook run`. */
export const spec: CommandSpec = {
  name: "run",
  usage: "run [OPTIONS] IMAGE [COMMAND [ARG...]]\n       nook run [OPTIONS] --rootfs DIR COMMAND [ARG...]",
  summary: "Run a command in a new rootless container and wait for it; exits with the command's status.",
  options: RUN_OPTIONS,
  examples: [
    "nook run --rm hello",
    "nook run --rm --rootfs ./rootfs sh -c 'echo $$; id -u; hostname'",
    "nook run --rm -it --rootfs ./rootfs sh",
    "nook run --rm -e FOO=bar -w /tmp -u 1000:1000 --rootfs ./rootfs env",
    "nook run -d --name web --restart on-failure:3 --rootfs ./rootfs sh -c 'while true; do date; sleep 1; done'",
  ],
  positional: "image",
};

/** Run it: flags → the engine's request; the engine's outcome → an exit code, or the id of a detached container. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec, true);
  if (!a) return 0;
  await applyRunDefaults(a, RUN_OPTIONS); // flags not given → config.yaml / NOOK_* (src/config)
  const mapping = detectIdMapping();
  const env = [...list(a, "env-file").flatMap(readEnvFile), ...list(a, "env").flatMap(envFlag)];
  mark("arguments");
  const outcome = await runRequest(runRequestFromArgs(a, env), mapping);
  if (outcome.detached) await write(`${outcome.id}\n`);
  return outcome.code;
}

/** `-e KEY=VALUE`, or `-e KEY` copying nook's own value (dropped when unset), as docker does. */
export function envFlag(value: string): string[] {
  const i = value.indexOf("=");
  const key = i < 0 ? value : value.slice(0, i);
  if (!key || /\s/.test(key)) {
    throw new UsageError(`Invalid environment variable "${value}"`, { hint: "use -e KEY=VALUE" });
  }
  if (i >= 0) return [value];
  const v = Deno.env.get(key);
  return v === undefined ? [] : [`${key}=${v}`];
}

/** docker's env-file format: KEY=VALUE lines (verbatim values), `#` comments, KEY alone copies nook's value. */
export function parseEnvFile(text: string, file: string): string[] {
  const out: string[] = [];
  text.split("\n").forEach((raw, n) => {
    const line = raw.replace(/\r$/, "").trimStart();
    if (!line || line.startsWith("#")) return;
    const i = line.indexOf("=");
    const key = i < 0 ? line.trimEnd() : line.slice(0, i);
    if (!key || /\s/.test(key)) {
      throw new UsageError(`Invalid line ${n + 1} in env file "${file}": "${raw}"`, {
        path: file,
        hint: "each line must be KEY=VALUE, KEY, or a # comment; keys have no spaces",
      });
    }
    if (i >= 0) out.push(line);
    else {
      const v = Deno.env.get(key);
      if (v !== undefined) out.push(`${key}=${v}`);
    }
  });
  return out;
}

/** The variables of a docker env file (see {@link parseEnvFile}). */
export function readEnvFile(file: string): string[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (err) {
    throw new UsageError(`Cannot read env file "${file}": ${(err as Error).message}`, { path: file, cause: err });
  }
  return parseEnvFile(text, file);
}
