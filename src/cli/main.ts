/**
 * nook's entry point: dispatch to one command file, print errors the one way,
 * exit with the command's code (125 for nook's own failures, as docker does).
 */
import { formatError, NookError } from "../errors/mod.ts";
import { ALIASES, COMMANDS } from "./commands.ts";
import { write } from "./_io.ts";
import { runtimeArgv } from "../oci/argv0.ts";

function topHelp(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  return [
    "Usage: nook [--version] [--help] COMMAND [OPTIONS] [ARG...]",
    "",
    "A rootless container runtime: containers for unprivileged users, one binary, no daemon.",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(w)}${c.summary}`),
    "",
    "Run 'nook COMMAND --help' for more about a command.",
    "",
  ].join("\n");
}

/** Run the CLI with these arguments; resolves with the exit code. */
export async function cli(argv: string[]): Promise<number> {
  let [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    if (name === "help" && rest[0]) return cli([rest[0], "--help"]);
    await write(topHelp());
    return name === undefined ? 125 : 0;
  }
  if (name === "--version" || name === "-v") name = "version";
  // `nook container ls` style: drop the group word when the rest is a command.
  if ((name === "container" || name === "image") && rest[0] && COMMANDS[`${name} ${rest[0]}`] === undefined) {
    if (COMMANDS[rest[0]]) name = rest.shift()!;
  }
  name = ALIASES[name] ?? name;
  const entry = COMMANDS[name];
  if (!entry) {
    await write(`nook: unknown command "${name}"\n  hint: run 'nook --help' for the list of commands\n`, true);
    return 125;
  }
  try {
    const mod = await entry.load();
    return await mod.main(rest);
  } catch (err) {
    await write(formatError(err) + "\n", true);
    return err instanceof NookError ? err.exitCode : 125;
  }
}

if (import.meta.main) {
  Deno.exit(await cli(runtimeArgv(Deno.args)));
}
