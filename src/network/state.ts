/**
 * A container's network state: `network.json` in the container's record
 * directory (`dataDir()/containers/<id>/`, next to `status`), for foreground
 * and detached containers alike, so that `nook port`, `nook ps` and `nook
 * inspect` read the same file. Whether the container runs, its pid and its
 * helper's pid come from the status file, which its supervisor (the monitor
 * of a detached container, at every restart; nook in the foreground) keeps current.
 */
import { isSameProcess, procStartTime } from "../proc/mod.ts";
import type { HelperMode, NetworkMode } from "./mode.ts";
import type { PortMapping } from "./ports.ts";

/** File name of the network state in a container's record directory. */
export const NETWORK_STATE_FILE = "network.json";

/**
 * What a container's network is: written when the container starts, read by
 * `nook port`, `ps` and `inspect` while it runs.
 */
export interface NetworkState {
  /** Container id. */
  id: string;
  /** Container name, if it has one. */
  name?: string;
  /** The container's process (nook's pid namespace) and its start time (/proc/PID/stat field 22), to tell it from a reused pid. */
  pid?: number;
  /** Start time of `pid`, in clock ticks since boot. */
  started?: string;
  /** The mode. */
  mode: NetworkMode;
  /** Published ports, with the host ports that were picked. */
  ports: PortMapping[];
  /** The helper serving the container's namespace (pasta, slirp4netns). */
  helper?: { tool: HelperMode; pid: number; log: string };
}

/** Write state into dir (atomically: a reader never sees half a file). */
export function writeNetworkState(dir: string, state: NetworkState): void {
  const tmp = `${dir}/.${NETWORK_STATE_FILE}.tmp`;
  Deno.writeTextFileSync(tmp, JSON.stringify(state) + "\n");
  Deno.renameSync(tmp, `${dir}/${NETWORK_STATE_FILE}`);
}

/**
 * Start time of a live process (field 22 of /proc/PID/stat), or undefined
 * when it does not exist or is a zombie waiting to be reaped.
 */
export function processStartTime(pid: number): string | undefined {
  const t = procStartTime(pid);
  return t === undefined ? undefined : String(t);
}

/** True while the container the state was written for still runs (a killed nook leaves its state behind). */
export function isRunning(s: NetworkState): boolean {
  return s.pid === undefined || (s.started !== undefined && processStartTime(s.pid) === s.started);
}

/** The state file in a container's directory as written, or undefined when there is none. */
export function readNetworkStateFile(dir: string): NetworkState | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(`${dir}/${NETWORK_STATE_FILE}`)) as NetworkState;
  } catch {
    return undefined; // no network state (yet), or removed meanwhile
  }
}

/** What the container's status file says about its processes (the engine's Status, as far as the network needs it). */
export interface SupervisedStatus {
  /** "running" while it runs. */
  state: string;
  /** Host pid of the container's process. */
  pid: number;
  /** Its start time. */
  pidStart: number;
  /** pid of the network helper (0: none). */
  helperPid: number;
}

/**
 * A container's network as it is now, from its directory and its status: the
 * state file with the container's current pid and its helper's (a restart
 * changes both), or undefined when the container does not run.
 */
export function liveNetworkState(dir: string, status: SupervisedStatus): NetworkState | undefined {
  if (status.state !== "running" || !(status.pid > 0) || !isSameProcess(status.pid, status.pidStart)) return undefined;
  const s = readNetworkStateFile(dir);
  if (!s) return undefined;
  const live: NetworkState = { ...s, pid: status.pid, started: String(status.pidStart) };
  if (s.helper && status.helperPid > 0) live.helper = { ...s.helper, pid: status.helperPid };
  return live;
}
