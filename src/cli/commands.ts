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
  // issue #4: container lifecycle
  ps: { summary: "List containers", load: () => import("./ps.ts") },
  logs: { summary: "Print a container's output", load: () => import("./logs.ts") },
  exec: { summary: "Run a command in a running container", load: () => import("./exec.ts") },
  stop: { summary: "Stop running containers", load: () => import("./stop.ts") },
  start: { summary: "Start stopped containers", load: () => import("./start.ts") },
  restart: { summary: "Restart containers", load: () => import("./restart.ts") },
  kill: { summary: "Send a signal to containers", load: () => import("./kill.ts") },
  rm: { summary: "Remove containers", load: () => import("./rm.ts") },
  wait: { summary: "Wait for containers to stop and print their exit codes", load: () => import("./wait.ts") },
  inspect: { summary: "Show the configuration and state of containers", load: () => import("./inspect.ts") },
  top: { summary: "Show the processes of a container", load: () => import("./top.ts") },
  "container prune": { summary: "Remove all stopped containers", load: () => import("./container_prune.ts") },
  // issue #8: the first minute
  doctor: { summary: "Check this host for rootless containers, with the fix for each problem", load: () => import("./doctor.ts") },
  info: { summary: "Show versions, kernel, id mapping, storage, cgroups, network and paths", load: () => import("./info.ts") },
  completion: { summary: "Print the shell completion script for bash, zsh or fish", load: () => import("./completion.ts") },
};

/** Command aliases (`nook container run` style words are handled in main). */
export const ALIASES: Record<string, string> = {
  "container ls": "ps",
  "container list": "ps",
};
