import { removeContainer, resolveContainer } from "../engine/mod.ts";
import { networkExists, removeNetwork } from "../engine/networks.ts";
import { formatError } from "../errors/mod.ts";
import { readVolume, volumeDir, volumeUsers } from "../store/volumes.ts";
import { removeTrees } from "../unshare/mod.ts";
import { bool, type OptionSpec, parseCommand, str } from "./_args.ts";
import { loadCompose, projectName } from "./_compose.ts";
import { dropProject, readProject } from "./_compose_state.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";
import { composeFile } from "./up.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "file", short: "f", type: "string", value: "FILE", help: "The compose file (names the project)" },
  { name: "project-name", short: "p", type: "string", value: "NAME", help: "Project name" },
  { name: "volumes", short: "v", type: "bool", help: "Remove the project's named volumes too" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook down`. */
export const spec: CommandSpec = {
  name: "down",
  usage: "down [OPTIONS]",
  summary: "Stop and remove what `nook up` made for a project: containers, networks (and with -v its volumes).",
  options: OPTIONS,
  examples: ["nook down", "nook down -v -p demo"],
};

/** The project a down/compose ps means: -p, else the compose file's. */
export async function projectOf(a: Parameters<typeof str>[0]): Promise<string> {
  const given = str(a, "project-name");
  if (given !== undefined) return projectName(given);
  return (await loadCompose(composeFile(str(a, "file")))).name;
}

/** Down. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const name = await projectOf(a);
  const state = readProject(name);
  if (!state) {
    await write(`Nothing to remove: the project "${name}" is not up\n`, true);
    return 0;
  }
  let failed = 0;
  const attempt = async (what: () => Promise<void>) => {
    try {
      await what();
    } catch (err) {
      failed++;
      await write(formatError(err) + "\n", true);
    }
  };
  for (const c of [...state.containers].reverse()) {
    let id: string | undefined;
    try {
      id = resolveContainer(c.name);
    } catch {
      continue; // never made, or removed already
    }
    await attempt(() => removeContainer(id!, true));
  }
  for (const n of state.networks) if (networkExists(n)) await attempt(() => removeNetwork(n));
  if (bool(a, "volumes")) {
    for (const v of state.volumes) {
      if (!readVolume(v)) continue;
      if (volumeUsers(v).length) {
        await write(`The volume "${v}" is in use by another container: kept\n`, true);
        continue;
      }
      await attempt(() => removeTrees([volumeDir(v)]));
    }
  }
  if (!failed) dropProject(name);
  return failed ? 125 : 0;
}
