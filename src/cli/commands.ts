import { lazyImport } from "../lazy/mod.ts";
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

/** Load a command file by name (see lazyImport: a literal import() per command would slow down every start). */
function lazy(file: string): () => Promise<CommandModule> {
  return () => lazyImport<CommandModule>(`cli/${file}.ts`);
}

/**
 * Every command: name → one-line summary and a lazy loader, so that
 * `nook run` loads nothing but the run path.
 */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  run: { summary: "Run a command in a new container", load: lazy("run") },
  version: { summary: "Show the versions of nook, Deno and libshim", load: lazy("version") },
  // container lifecycle
  ps: { summary: "List containers", load: lazy("ps") },
  logs: { summary: "Print a container's output", load: lazy("logs") },
  exec: { summary: "Run a command in a running container", load: lazy("exec") },
  stop: { summary: "Stop running containers", load: lazy("stop") },
  create: { summary: "Make a container without starting it", load: lazy("create") },
  start: { summary: "Start created or stopped containers (-a: attached)", load: lazy("start") },
  restart: { summary: "Restart containers", load: lazy("restart") },
  kill: { summary: "Send a signal to containers", load: lazy("kill") },
  rm: { summary: "Remove containers", load: lazy("rm") },
  wait: { summary: "Wait for containers to stop and print their exit codes", load: lazy("wait") },
  inspect: { summary: "Show the configuration and state of containers", load: lazy("inspect") },
  top: { summary: "Show the processes of a container", load: lazy("top") },
  "container prune": { summary: "Remove all stopped containers", load: lazy("container_prune") },
  "healthcheck run": { summary: "Run a container's healthcheck now", load: lazy("healthcheck_run") },
  // the first minute: checking the host
  doctor: { summary: "Check this host for rootless containers, with the fix for each problem", load: lazy("doctor") },
  info: { summary: "Show versions, kernel, id mapping, storage, cgroups, network and paths", load: lazy("info") },
  completion: { summary: "Print the shell completion script for bash, zsh or fish", load: lazy("completion") },
  // images and storage
  pull: { summary: "Download an image from a registry", load: lazy("pull") },
  images: { summary: "List images", load: lazy("images") },
  rmi: { summary: "Remove images", load: lazy("rmi") },
  load: { summary: "Load images from a docker-archive or oci-archive tarball", load: lazy("load") },
  import: { summary: "Make an image from a root filesystem tarball", load: lazy("import") },
  save: { summary: "Write images to a tarball", load: lazy("save") },
  build: { summary: "Build an image from a Containerfile", load: lazy("build") },
  push: { summary: "Upload an image to a registry", load: lazy("push") },
  tag: { summary: "Give an image more names", load: lazy("tag") },
  untag: { summary: "Remove names from an image (all of them without NAME)", load: lazy("untag") },
  commit: { summary: "Make an image from a container's changes", load: lazy("commit") },
  diff: { summary: "List the files a container added, changed or deleted", load: lazy("diff") },
  cp: { summary: "Copy files between a container and the host", load: lazy("cp") },
  history: { summary: "Show the steps an image was made of, with their layer sizes", load: lazy("history") },
  login: { summary: "Log in to a registry", load: lazy("login") },
  logout: { summary: "Log out of a registry", load: lazy("logout") },
  "image inspect": { summary: "Show images as JSON", load: lazy("image_inspect") },
  "image prune": { summary: "Remove unused images and leftovers", load: lazy("image_prune") },
  "volume create": { summary: "Create a named volume", load: lazy("volume_create") },
  "volume ls": { summary: "List volumes", load: lazy("volume_ls") },
  "volume inspect": { summary: "Show volumes as JSON", load: lazy("volume_inspect") },
  "volume rm": { summary: "Remove volumes", load: lazy("volume_rm") },
  "volume prune": { summary: "Remove unused volumes", load: lazy("volume_prune") },
  up: { summary: "Start the services of a compose file", load: lazy("up") },
  down: { summary: "Remove what nook up made for a project", load: lazy("down") },
  "compose ps": { summary: "List a compose project's containers", load: lazy("compose_ps") },
  "pod create": { summary: "Create a pod: containers sharing network, ipc and uts", load: lazy("pod_create") },
  "pod ps": { summary: "List pods", load: lazy("pod_ps") },
  "pod inspect": { summary: "Show pods as JSON", load: lazy("pod_inspect") },
  "pod start": { summary: "Start pods", load: lazy("pod_start") },
  "pod stop": { summary: "Stop pods", load: lazy("pod_stop") },
  "pod rm": { summary: "Remove pods and their containers", load: lazy("pod_rm") },
  "compose logs": { summary: "Print the output of a compose project's containers", load: lazy("compose_logs") },
  "compose exec": { summary: "Run a command in a compose service's container", load: lazy("compose_exec") },
  "network create": { summary: "Create a user network", load: lazy("network_create") },
  "network ls": { summary: "List user networks", load: lazy("network_ls") },
  "network inspect": { summary: "Show user networks as JSON", load: lazy("network_inspect") },
  "network rm": { summary: "Remove user networks", load: lazy("network_rm") },
  "network prune": { summary: "Remove unused user networks", load: lazy("network_prune") },
  "network connect": { summary: "Put a container on one more user network", load: lazy("network_connect") },
  "network disconnect": { summary: "Take a container off a user network", load: lazy("network_disconnect") },
  unshare: { summary: "Run a command in nook's user namespace", load: lazy("unshare") },
  "system check": {
    summary: "Find (and with --repair remove) what killed nooks left behind",
    load: lazy("system_check"),
  },
  "system reset": { summary: "Remove all images, volumes and storage", load: lazy("system_reset") },
  _storage: { summary: "(internal) storage work inside the user namespace", load: lazy("internal_storage") },
  _network: { summary: "(internal) wire a restarted container to its user network", load: lazy("internal_network") },
  port: { summary: "List a container's published ports", load: lazy("port") },
  runtime: {
    summary: "Be the OCI runtime of podman, containerd or CRI-O (runc's command line)",
    load: lazy("runtime"),
  },
  stats: { summary: "Show the CPU, memory, PIDs and block I/O use of containers", load: lazy("stats") },
};

/** Command aliases (`nook container run` style words are handled in main). */
export const ALIASES: Record<string, string> = {
  "container ls": "ps",
  "container list": "ps",
  "image ls": "images",
  "image list": "images",
  "image rm": "rmi",
};
