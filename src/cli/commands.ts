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
  /** The words the first positional argument takes, when they are a fixed list. */
  choices?: readonly string[];
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
  version: { summary: "Show the versions of nook, Deno and libshim", load: () => import("./version.ts") },
  doctor: { summary: "Check this host for rootless containers, with the fix for each problem", load: () => import("./doctor.ts") },
  info: { summary: "Show versions, kernel, id mapping, storage, cgroups, network and paths", load: () => import("./info.ts") },
  completion: { summary: "Print the shell completion script for bash, zsh or fish", load: () => import("./completion.ts") },
};

/** Command aliases (`nook container run` style words are handled in main). */
export const ALIASES: Record<string, string> = {};
