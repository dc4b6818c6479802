import type { OptionSpec } from "./_args.ts";

/** The table entry of a command: what `--help`, completions and dispatch need. */
export interface CommandSpec {
  /** Command name. */
  name: string;
  /** Usage line after `nook `. */
  usage: string;
  /** One-paragraph description. */
  summary: string;
  /** Options, in help order. */
  options: readonly OptionSpec[];
  /** Example invocations. */
  examples?: readonly string[];
  /** How positional arguments are completed. */
  positional?: "image" | "container" | "command" | "none";
}

/** What each command file exports. */
export interface CommandModule {
  /** Its table entry. */
  spec: CommandSpec;
  /** Run it with the arguments after the command name; resolves with the exit code. */
  main(argv: string[]): Promise<number>;
}

/**
 * Every command: name → one-line summary and a lazy loader, so that
 * `nook run` loads nothing but the run path.
 */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  run: { summary: "Run a command in a new container", load: () => import("./run.ts") },
  stats: { summary: "Show the CPU, memory, PIDs and block I/O use of containers", load: () => import("./stats.ts") },
  version: { summary: "Show the versions of nook, Deno and libshim", load: () => import("./version.ts") },
};

/** Command aliases (`nook container run` style words are handled in main). */
export const ALIASES: Record<string, string> = {};
