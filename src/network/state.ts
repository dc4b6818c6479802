/**
 * A container's network state: `network.json` in the container's record
 * directory (`dataDir()/containers/<id>/`, next to `status`), for foreground
 * and detached containers alike, so that `nook port`, `nook ps` and `nook
 * inspect` read the same file. Whether the container runs, its pid and its
 * helper's pid come from the status file, which its supervisor (the monitor
 * of a detached container, at every restart; nook in the foreground) keeps current.
 */
import { isSameProcess } from "../containers/proc.ts";
import { parseStatus, type Status } from "../containers/status.ts";
import { isValidName } from "../containers/names.ts";
import { containersDir, isId } from "../containers/store.ts";
import type { HelperMode, NetworkMode } from "./mode.ts";
import { NetworkError } from "./network_error.ts";
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
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" || fields[0] === "X" ? undefined : fields[19];
  } catch {
    return undefined;
  }
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

/**
 * A container's network as it is now, from its directory and its status: the
 * state file with the container's current pid and its helper's (a restart
 * changes both), or undefined when the container does not run.
 */
export function liveNetworkState(dir: string, status: Status): NetworkState | undefined {
  if (status.state !== "running" || !(status.pid > 0) || !isSameProcess(status.pid, status.pidStart)) return undefined;
  const s = readNetworkStateFile(dir);
  if (!s) return undefined;
  const live: NetworkState = { ...s, pid: status.pid, started: String(status.pidStart) };
  if (s.helper && status.helperPid > 0) live.helper = { ...s.helper, pid: status.helperPid };
  return live;
}

/** The network state of every container that runs now (`root` is the store's containers directory). */
export function listNetworkStates(root: string = containersDir()): NetworkState[] {
  const out: NetworkState[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(root)];
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!isId(e.name)) continue;
    let status: Status;
    try {
      status = parseStatus(Deno.readTextFileSync(`${root}/${e.name}/status`));
    } catch {
      continue; // never started, or removed meanwhile
    }
    const live = liveNetworkState(`${root}/${e.name}`, status);
    if (live) out.push(live);
  }
  return out;
}

/** Find a running container's network state by name (as `nook ps` shows it), id, or unique id prefix. */
export function findNetworkState(ref: string, root: string = containersDir()): NetworkState {
  const states = listNetworkStates(root);
  let named: string | undefined;
  try {
    // the names index (src/containers/names.ts) knows generated names too
    if (isValidName(ref)) named = Deno.readLinkSync(`${root}/names/${ref}`);
  } catch {
    // not a name
  }
  const byName = states.find((s) => s.id === named || s.name === ref);
  if (byName) return byName;
  const byId = states.filter((s) => s.id.startsWith(ref));
  if (byId.length === 1) return byId[0]!;
  if (byId.length > 1) {
    throw new NetworkError(`"${ref}" is the start of several container ids`, {
      hint: "give more of the id, or the name",
    });
  }
  throw new NetworkError(`No running container "${ref}"`, {
    hint: "give the name (--name) or id of a container that runs now",
  });
}
