/**
 * Starting a container under the C monitor (libshim/monitor.c): nook spawns
 * the monitor, the monitor clones the container, and the usual handshake
 * (src/launch/) runs through it, so nook writes the id maps, runs its hooks
 * and turns setup errors into typed errors exactly as in the foreground.
 * Once the container has exec'd, nook leaves and the monitor stays: it holds
 * the container's output, writes the log and the exit status, and restarts
 * the container when the restart policy says so. It also starts the
 * container's network helper at every start (src/network/detached.ts).
 */
import { specMapping } from "./userns.ts";
import { buildPlan } from "./build_plan.ts";
import { publishUserNetworkPorts, userNetworkSync } from "./networks.ts";
import type { ContainerSpec, RunHooks } from "../model/container.ts";
import { closeFd, monitorSpawn, recv, ShimError, type Spawned } from "../ffi/mod.ts";
import { launch } from "../launch/mod.ts";
import { Msg } from "../plan/mod.ts";
import { applyIdMapping, findExecutable, type IdMapping } from "../userns/mod.ts";
import type { ContainerRecord } from "./store.ts";
import { cgroupPathFile, containerDir, logPath, statusPath } from "./store.ts";
import { detachedNetwork } from "../network/detached.ts";
import { MonitorError } from "./errors.ts";
import { monitorPath } from "./monitor_path.ts";
import { selfCommand } from "../paths/project.ts";
import { dataDir } from "../paths/mod.ts";
import { healthMonitorArgs } from "./health.ts";
import { crashPoint } from "../proc/crash_point.ts";

/** Back-off between restarts (docker's: 100 ms, doubled each time, at most a minute). */
const RESTART_DELAY_MS = 100;
const RESTART_DELAY_MAX_MS = 60_000;

/**
 * Steps the monitor runs before GO when it restarts the container (nook is
 * gone by then): the same id maps {@link applyIdMapping} writes on the first
 * start. Why the monitor runs newuidmap/newgidmap itself rather than keeping
 * the first run's user namespace alive: every run then gets a fresh user
 * namespace built exactly like the first one, and the monitor needs no
 * namespace of its own (it stays outside, like nook).
 */
export function idMapSteps(m: IdMapping): string[] {
  const ranges = (l: IdMapping["uidMap"]) => l.flatMap((r) => [r.inside, r.outside, r.count].map(String));
  if (m.mode === "subid") {
    const uid = [m.newuidmap!, "%PID%", ...ranges(m.uidMap)];
    const gid = [m.newgidmap!, "%PID%", ...ranges(m.gidMap)];
    return [
      ...["--pre-go-run", String(uid.length), ...uid],
      ...["--pre-go-run", String(gid.length), ...gid],
    ];
  }
  const text = (l: IdMapping["uidMap"]) => l.map((r) => `${r.inside} ${r.outside} ${r.count}\n`).join("");
  return [
    ...["--pre-go-write", "uid_map", text(m.uidMap)],
    ...(Deno.uid() !== 0 ? ["--pre-go-write", "setgroups", "deny"] : []),
    ...["--pre-go-write", "gid_map", text(m.gidMap)],
  ];
}

/**
 * A create hook (CDI's) as a command the monitor runs before GO on a restart, when nook is not
 * there: the container's state on its stdin, its environment only the hook's own.
 */
export function createHookCommand(h: { path: string; args: string[]; env: string[] }, id: string): string[] {
  const state = `{"ociVersion":"1.0.2","id":"%s","status":"creating","pid":%s,"bundle":""}`;
  const script = `pid=$1; shift; printf '${state}' "$0" "$pid" | "$@"`;
  return [findExecutable("sh", "/usr/bin:/bin") ?? "/bin/sh", "-c", script, id, "%PID%", "/usr/bin/env", "-i", ...h.env, h.path, ...h.args.slice(1)];
}

/** Extra things other concerns need the monitor to do. */
export interface MonitorExtras {
  /** Commands to run before GO on restarts ("%PID%" is the child's pid), e.g. joining a cgroup. */
  preGo?: string[][];
  /** More monitor arguments, for every start (the network helper's: `--helper …`). */
  args?: string[];
}

/** The monitor's command line for this container. */
export async function monitorArgs(rec: ContainerRecord, mapping: IdMapping, extras: MonitorExtras = {}): Promise<string[]> {
  const h = rec.host;
  const argv = [await monitorPath(), "--id", rec.id, "--status", statusPath(rec.id)];
  // the cgroup: where nook put the container's cgroup (written before GO; absent without one)
  argv.push("--cgroup-file", cgroupPathFile(rec.id));
  if (h.log.driver !== "none") {
    argv.push("--log", logPath(rec.id), "--log-max-size", String(h.log.maxSize), "--log-max-files", String(h.log.maxFiles));
  }
  if (rec.spec.process.stdin) argv.push("--stdin-pipe");
  switch (h.restart.name) {
    case "no":
      break;
    case "on-failure":
      argv.push("--restart-on-failure", "--restart-max", String(h.restart.maxRetries > 0 ? h.restart.maxRetries : -1));
      break;
    case "always":
    case "unless-stopped":
      argv.push("--restart-on-success", "--restart-on-failure");
      break;
  }
  // the healthcheck's restart action restarts whatever the policy: the monitor needs the same steps
  if (h.restart.name !== "no" || h.health?.onFailure === "restart") {
    argv.push("--restart-delay-ms", String(RESTART_DELAY_MS), "--restart-delay-max-ms", String(RESTART_DELAY_MAX_MS));
    // a container in a shared user namespace has its maps (the namespace's); one on a user network
    // is wired at its plan's SYNC, where nook is not there on a restart: the monitor asks a short nook
    if (!rec.spec.joinUserns) argv.push(...idMapSteps(mapping));
    for (const cmd of extras.preGo ?? []) argv.push("--pre-go-run", String(cmd.length), ...cmd);
    if (rec.spec.userNetwork) {
      // the monitor runs it with PATH only: the store's location is passed on
      const env = ["NOOK_DATA_DIR", "HOME", "XDG_DATA_HOME"].flatMap((k) => {
        const v = k === "NOOK_DATA_DIR" ? dataDir() : Deno.env.get(k);
        return v === undefined ? [] : [`${k}=${v}`];
      });
      const wire = ["/usr/bin/env", ...env, ...selfCommand(), "_network", "wire", rec.id, "%PID%"];
      argv.push("--sync-run", String(wire.length), ...wire);
    }
  }
  argv.push(...healthMonitorArgs(rec, mapping));
  argv.push(...extras.args ?? []);
  if (h.autoRemove) {
    const rm = [...selfCommand(), "rm", rec.id];
    argv.push("--exit-command", String(rm.length), ...rm);
  }
  return argv;
}

/** Spawn the monitor and read its first message: the container's pid and pidfd. */
async function viaMonitor(argv: string[], plan: Uint8Array): Promise<Spawned> {
  let sock: number;
  try {
    sock = await monitorSpawn(argv, plan);
  } catch (err) {
    if (err instanceof ShimError && err.errno === 2 /* ENOENT */) {
      throw new MonitorError(`The container monitor "${argv[0]}" is missing`, {
        path: argv[0]!,
        cause: err,
        hint: "run ./nook once so it builds build/nook-monitor, or point NOOK_MONITOR at one",
      });
    }
    throw err;
  }
  const first = await recv(sock, 10_000).catch((err) => {
    void closeFd(sock);
    throw err;
  });
  if (first?.type === Msg.PID) return { pid: first.value, sock, pidfd: first.fd };
  await closeFd(sock);
  if (first) await closeFd(first.fd);
  if (first?.type === Msg.ERROR && first.text === "clone") {
    throw new ShimError("clone failed", { op: "clone", errno: first.err });
  }
  throw new MonitorError(
    first?.type === Msg.ERROR
      ? `The container monitor failed: ${first.text}`
      : "The container monitor exited before it started the container",
    { op: "monitor", hint: `check that "${argv[0]}" is nook's own build/nook-monitor and that the data directory is writable` },
  );
}

/**
 * Start the container detached: returns once it has exec'd, with the
 * monitor as its parent (and the network helper as the monitor's child,
 * ready). hooks.beforeGo run at this first start only.
 */
export async function startDetached(
  rec: ContainerRecord,
  mapping: IdMapping,
  hooks: RunHooks = {},
  extras: MonitorExtras = {},
): Promise<void> {
  const spec: ContainerSpec = rec.spec;
  if (spec.process.terminal && !spec.process.consoleSize) spec.process.consoleSize = [24, 80];
  const net = await detachedNetwork(spec, containerDir(rec.id), rec.name);
  mapping = specMapping(spec, mapping); // --userns: the container's own maps
  const plan = buildPlan(spec, mapping);
  const preGo = [...extras.preGo ?? [], ...(spec.createHooks ?? []).map((h) => createHookCommand(h, rec.id))];
  const argv = await monitorArgs(rec, mapping, { ...extras, ...(preGo.length ? { preGo } : {}), args: [...extras.args ?? [], ...net.args] });
  crashPoint("start.monitor");
  const started = await launch(plan, {
    beforeGo: async (pid) => {
      crashPoint("start.go"); // the monitor and the container's first process wait for this nook
      if (!spec.joinUserns) await applyIdMapping(pid, mapping); // else the shared user namespace's maps hold
      for (const step of hooks.beforeGo ?? []) await step(pid);
    },
    onSync: async (tag, pid) => {
      await userNetworkSync(spec)?.(tag, pid);
      for (const step of hooks.onSync ?? []) await step(tag, pid);
    },
    explainError: (msg) => net.explain(msg),
  }, (bytes) => viaMonitor(argv, bytes));
  crashPoint("start.started");
  await closeFd(started.pidfd);
  await closeFd(started.ptyMaster);
  net.publish();
  await publishUserNetworkPorts(spec, started.pid);
}
