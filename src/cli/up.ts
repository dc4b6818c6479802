import { createNetwork, networkExists } from "../engine/networks.ts";
import { removeContainer, resolveContainer } from "../engine/mod.ts";
import { runRequest } from "../engine/prepare.ts";
import { crashPoint } from "../engine/intent.ts";
import type { RunRequest } from "../engine/run_request.ts";
import { currentStatus } from "../engine/status.ts";
import { bool, list, type OptionSpec, parseCommand, str } from "./_args.ts";
import { ComposeError, type ComposeService, type DependCondition, loadCompose, projectName } from "./_compose.ts";
import { mustRecord } from "../engine/mod.ts";
import { readHealth } from "../engine/health.ts";
import { findImage } from "../image/lookup.ts";
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
  { name: "profile", type: "list", value: "NAME", help: "Also start the services of this profile (COMPOSE_PROFILES too)" },
  { name: "build", type: "bool", help: "Build the images of services with a build key, even when they exist" },
  { name: "help", type: "bool", help: "Show this help" },
];

/** The profiles asked for: --profile, else COMPOSE_PROFILES (comma-separated). */
export function profilesOf(given: readonly string[]): string[] {
  if (given.length) return [...given];
  return (Deno.env.get("COMPOSE_PROFILES") ?? "").split(",").map((x) => x.trim()).filter(Boolean);
}

/** Build a service's image with `nook build`'s own code, as the service names it. */
async function buildService(s: ComposeService): Promise<void> {
  const b = s.build!;
  const { main: build } = await import("./build.ts");
  const args = ["-q", "-t", s.image, ...b.args.flatMap((x) => ["--build-arg", x])];
  if (b.dockerfile) args.push("-f", b.dockerfile);
  if (b.target) args.push("--target", b.target);
  const code = await build([...args, b.context]);
  if (code !== 0) throw new ComposeError(`Building the image of the service "${s.name}" failed`, { hint: "see the build's output above" });
}

/** Wait (bounded) until the service `dep`'s container meets `cond`; an error says why it cannot. */
async function waitCondition(project: string, dep: string, cond: DependCondition, forService: string): Promise<void> {
  if (cond === "service_started") return;
  const name = containerName(project, dep);
  const id = resolveContainer(name);
  const rec = mustRecord(id);
  const health = rec.host.health;
  if (cond === "service_healthy" && !health) {
    throw new ComposeError(`The service "${forService}" waits for "${dep}" to be healthy, but "${dep}" has no healthcheck`, {
      hint: `give "${dep}" a healthcheck, or use condition: service_started`,
    });
  }
  // as long as the dependency's own checks can take to decide, and a minute for a loaded machine
  const boundMs = health ? health.startPeriodMs + (health.intervalMs + health.timeoutMs) * (health.retries + 1) + 60_000 : 600_000;
  const deadline = Date.now() + boundMs;
  for (let i = 0; Date.now() < deadline; i++) {
    const st = currentStatus(id);
    if (cond === "service_completed_successfully") {
      if (st.state === "exited" && st.startedAt > 0n) {
        if (st.exitCode === 0) return;
        throw new ComposeError(`The service "${dep}" exited with ${st.exitCode}: "${forService}" waits for it to complete successfully`, {
          hint: `see its output: nook compose logs ${dep}`,
        });
      }
    } else {
      const h = readHealth(rec);
      if (st.state === "running" && h?.status === "healthy") return;
      if (h?.status === "unhealthy" || st.state === "exited") {
        throw new ComposeError(`The service "${dep}" is ${st.state === "exited" ? "not running" : "unhealthy"}: "${forService}" waits for it to be healthy`, {
          hint: `see nook inspect ${name} (State.Health) and nook compose logs ${dep}`,
        });
      }
    }
    await new Promise((r) => setTimeout(r, Math.min(50 + i * 10, 250)));
  }
  throw new ComposeError(`The service "${dep}" did not become ${cond === "service_healthy" ? "healthy" : "complete"} in time for "${forService}"`, {
    hint: `see nook inspect ${name} and nook compose logs ${dep}`,
  });
}

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
      ...(s.networkRate ? { rate: s.networkRate } : {}),
    },
    lifecycle: {
      detach: true,
      ...(s.restart ? { restart: s.restart } : {}),
      ...(s.healthcheck ? { health: s.healthcheck } : {}),
    },
  };
}

/** Up. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const file = composeFile(str(a, "file"));
  const given = str(a, "project-name");
  const proj = await loadCompose(file, {
    project: given === undefined ? undefined : projectName(given),
    profiles: profilesOf(list(a, "profile")),
  });
  for (const s of proj.services) {
    if (s.build && (bool(a, "build") || !findImage(s.image))) await buildService(s);
  }
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
    for (const dep of s.dependsOn) await waitCondition(proj.name, dep, s.conditions[dep] ?? "service_started", s.name);
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
