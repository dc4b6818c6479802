/**
 * nook's entry point: dispatch to one command file, print errors the one way,
 * exit with the command's code (125 for nook's own failures, as docker does).
 */
import { formatError, NookError } from "../errors/mod.ts";
import { ALIASES, COMMANDS } from "./commands.ts";
import { write } from "./_io.ts";
import { applyConfigToEnv } from "../config/load.ts";
import { runtimeArgv } from "../oci/argv0.ts";
import { mark } from "../trace/mod.ts";

function topHelp(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  return [
    "Usage: nook [--version] [--help] COMMAND [OPTIONS] [ARG...]",
    "",
    "A rootless container runtime: containers for unprivileged users, one binary, no daemon.",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).filter(([n]) => !n.startsWith("_")).map(([n, c]) => `  ${n.padEnd(w)}${c.summary}`),
    "",
    "Run 'nook COMMAND --help' for more about a command.",
    "",
  ].join("\n");
}

/** Run the CLI with these arguments; resolves with the exit code. */
export async function cli(argv: string[]): Promise<number> {
  mark("deno start");
  // `--debug` before the command: traces for unexpected errors, here and in re-executed children
  while (argv[0] === "--debug") {
    Deno.env.set("NOOK_DEBUG", "1");
    argv = argv.slice(1);
  }
  lastResort(argv[0]);
  let [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    if (name === "help" && rest[0]) return cli([rest[0], "--help"]);
    await write(topHelp());
    return name === undefined ? 125 : 0;
  }
  if (name === "--version" || name === "-v") name = "version";
  // two-word commands ("image prune", "volume ls", "system reset") and aliases ("container ls" → ps)
  if (rest[0] && (COMMANDS[`${name} ${rest[0]}`] || ALIASES[`${name} ${rest[0]}`])) name = `${name} ${rest.shift()!}`;
  // `nook container run …`, `nook image pull …`: a group word before a plain command
  else if ((name === "container" || name === "image") && rest[0] && COMMANDS[rest[0]]) name = rest.shift()!;
  name = ALIASES[name] ?? name;
  const entry = COMMANDS[name];
  if (!entry) {
    await write(`nook: unknown command "${name}"\n  hint: run 'nook --help' for the list of commands\n`, true);
    return 125;
  }
  try {
    await applyConfigToEnv(); // config.yaml → defaults of NOOK_* variables (src/config)
    mark("config");
    const mod = await entry.load();
    mark("module load");
    return await mod.main(rest);
  } catch (err) {
    await write(formatError(err, name) + "\n", true);
    return err instanceof NookError ? err.exitCode : 125;
  }
}

/**
 * The last resort: an error that escaped every command's own handling (a
 * rejected promise nobody awaited, an exception in a library's callback)
 * becomes one line and exit code 125 instead of Deno's trace. What it left in
 * the store's tmp/ is swept by the next command that takes the store lock.
 */
let lastResortOn = false;
function lastResort(command: string | undefined): void {
  if (lastResortOn) return;
  lastResortOn = true;
  const end = (err: unknown) => {
    try {
      Deno.stderr.writeSync(new TextEncoder().encode(formatError(err, command) + "\n"));
    } finally {
      Deno.exit(err instanceof NookError ? err.exitCode : 125);
    }
  };
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    end(e.reason);
  });
  globalThis.addEventListener("error", (e) => {
    e.preventDefault();
    end(e.error ?? new Error(e.message));
  });
}

if (import.meta.main) {
  Deno.exit(await cli(runtimeArgv(Deno.args)));
}
