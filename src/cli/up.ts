import { createNetwork, networkExists } from "../engine/networks.ts";
import { removeContainer, resolveContainer } from "../engine/mod.ts";
import { runRequest } from "../engine/prepare.ts";
import { crashPoint } from "../engine/intent.ts";
import type { RunRequest } from "../engine/run_request.ts";
import { currentStatus } from "../engine/status.ts";
import { bool, type OptionSpec, parseCommand, str } from "./_args.ts";
import { type ComposeService, loadCompose, projectName } from "./_compose.ts";
import { readProject, saveProject } from "./_compose_state.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

const OPTIONS: readonly OptionSpec[] = [
  {
    name: "file",
    short: "f",
    type: "string",
    value: "FILE",
    help: "The compose file (default: compose.yaml, else docker-compose.yml)",
  },
  {
    name: "project-name",
    short: "p",
    type: "string",
    value: "NAME",
    help: "Project name (default: the file's name: key, else its directory's name)",
  },
  {
    name: "detach",
    short: "d",
    type: "bool",
    help: "Start the services and return (without -d: wait until they all exit)",
  },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook up`. */
export const spec: CommandSpec = {
  name: "up",
  usage: "up [OPTIONS]",
  summary: "Start the services of a compose file, on their networks, in dependency order.",
  options: OPTIONS,
  examples: ["nook up -d", "nook up -f stack.yaml -p demo -d"],
};

/** The compose file: -f, or the usual names in this directory. */
export function composeFile(given: string | undefined): string {
  if (given) return given;
  for (const f of ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"]) {
    try {
      Deno.statSync(f);
      return f;
    } catch {
      // next
    }
  }
  return "compose.yaml";
}

/** The container name of a service's (one) replica. */
export function containerName(project: string, service: string): string {
  return `${project}-${service}-1`;
}

function request(project: string, s: ComposeService): RunRequest {
  const net = s.networks[0]!;
  const [entry, ...entryRest] = s.entrypoint ?? [];
  return {
    source: { image: s.image },
    name: containerName(project, s.name),
    ...(s.entrypoint
      ? { entrypoint: entry ?? "", command: [...entryRest, ...(s.command ?? [])] }
      : s.command
      ? { command: s.command }
      : {}),
    env: s.env,
    ...(s.workingDir ? { workdir: s.workingDir } : {}),
    ...(s.user ? { user: s.user } : {}),
    ...(s.hostname ? { hostname: s.hostname } : {}),
    init: s.init,
    readonly: s.readOnly,
    tmpfs: s.tmpfs,
    volumes: s.volumes,
    security: { capAdd: s.capAdd, capDrop: s.capDrop },
    network: {
      network: net.name,
      publish: s.ports,
      publishAll: false,
      dns: [],
      addHosts: [],
      aliases: [s.name, ...net.aliases],
    },
    lifecycle: { detach: true, ...(s.restart ? { restart: s.restart } : {}) },
  };
}

/** Up. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const file = composeFile(str(a, "file"));
  const given = str(a, "project-name");
  const proj = await loadCompose(file, { project: given === undefined ? undefined : projectName(given) });
  for (const w of proj.warnings) await write(`Warning: ${w}\n`, true);
  const state = readProject(proj.name) ?? { name: proj.name, file, networks: [], volumes: [], containers: [] };
  state.volumes = [...new Set([...state.volumes, ...proj.volumes.filter((v) => !v.external).map((v) => v.name)])];
  saveProject(state);
  for (const n of proj.networks) {
    if (networkExists(n.name)) continue;
    if (n.external) throw new Error(`The external network "${n.name}" does not exist`);
    if (!state.networks.includes(n.name)) state.networks.push(n.name);
    saveProject(state); // the intent first: down removes it even if up is killed now
    await createNetwork(n.name);
  }
  const ids: string[] = [];
  for (const s of proj.services) {
    const name = containerName(proj.name, s.name);
    let existing: string | undefined;
    try {
      existing = resolveContainer(name);
    } catch {
      existing = undefined;
    }
    if (existing && currentStatus(existing).state === "running") {
      await write(`${name} is running\n`, true);
      ids.push(existing);
      continue;
    }
    if (existing) await removeContainer(existing, true);
    if (!state.containers.some((c) => c.name === name)) {
      state.containers.push({ service: s.name, name, labels: s.labels });
    }
    saveProject(state);
    const out = await runRequest(request(proj.name, s));
    ids.push(out.id);
    await write(`${name} started\n`, true);
    crashPoint("up.service");
  }
  if (bool(a, "detach")) return 0;
  // in the foreground: wait until every service's container has ended
  for (let i = 0;; i++) {
    if (ids.every((id) => currentStatus(id).state !== "running")) return 0;
    await new Promise((r) => setTimeout(r, Math.min(50 + i * 10, 500)));
  }
}
