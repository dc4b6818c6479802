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
  version: { summary: "Show the versions of nook, Deno and libshim", load: () => import("./version.ts") },
  // images and storage (issue #3)
  pull: { summary: "Download an image from a registry", load: () => import("./pull.ts") },
  images: { summary: "List images", load: () => import("./images.ts") },
  rmi: { summary: "Remove images", load: () => import("./rmi.ts") },
  load: { summary: "Load images from a docker-archive or oci-archive tarball", load: () => import("./load.ts") },
  import: { summary: "Make an image from a root filesystem tarball", load: () => import("./import.ts") },
  save: { summary: "Write images to a tarball", load: () => import("./save.ts") },
  login: { summary: "Log in to a registry", load: () => import("./login.ts") },
  logout: { summary: "Log out of a registry", load: () => import("./logout.ts") },
  "image ls": { summary: "List images", load: () => import("./images.ts") },
  "image rm": { summary: "Remove images", load: () => import("./rmi.ts") },
  "image inspect": { summary: "Show images as JSON", load: () => import("./image_inspect.ts") },
  "image prune": { summary: "Remove unused images and leftovers", load: () => import("./image_prune.ts") },
  "volume create": { summary: "Create a named volume", load: () => import("./volume_create.ts") },
  "volume ls": { summary: "List volumes", load: () => import("./volume_ls.ts") },
  "volume inspect": { summary: "Show volumes as JSON", load: () => import("./volume_inspect.ts") },
  "volume rm": { summary: "Remove volumes", load: () => import("./volume_rm.ts") },
  "volume prune": { summary: "Remove unused volumes", load: () => import("./volume_prune.ts") },
  unshare: { summary: "Run a command in nook's user namespace", load: () => import("./unshare.ts") },
  "system reset": { summary: "Remove all images, volumes and storage", load: () => import("./system_reset.ts") },
  _storage: { summary: "(internal) storage work inside the user namespace", load: () => import("./internal_storage.ts") },
};

/** Command aliases (`nook container run` style words are handled in main). */
export const ALIASES: Record<string, string> = {};
