import { runtimeDir } from "../paths/mod.ts";
import type { HelperMode, NetworkMode } from "./mode.ts";
import { NetworkError } from "./network_error.ts";
import type { PortMapping } from "./ports.ts";

/** File name of the network state in a container's runtime directory. */
export const NETWORK_STATE_FILE = "network.json";

/**
 * What a running container's network is: written when the container starts,
 * read by `nook port` (and recorded by detached runs, issue #4).
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

/** The state of every container that runs now: `<runtime dir>/containers/<id>/network.json`. */
export function listNetworkStates(root: string = `${runtimeDir()}/containers`): NetworkState[] {
  const out: NetworkState[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(root)];
  } catch {
    return out;
  }
  for (const e of entries) {
    try {
      const state = JSON.parse(Deno.readTextFileSync(`${root}/${e.name}/${NETWORK_STATE_FILE}`)) as NetworkState;
      if (isRunning(state)) out.push(state);
    } catch {
      // not started yet, or gone meanwhile
    }
  }
  return out;
}

/** Find a running container's network state by name, id, or unique id prefix. */
export function findNetworkState(ref: string, states: NetworkState[] = listNetworkStates()): NetworkState {
  const byName = states.find((s) => s.name === ref);
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
