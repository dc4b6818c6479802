/**
 * The network state of the containers in the store: which run now, and with which ports and
 * helper (for `nook port`, `ps` and `inspect`). src/network/state.ts writes and reads one
 * container's file; this is where the store's containers are enumerated.
 *
 * @module
 */
import { liveNetworkState, type NetworkState } from "../network/state.ts";
import { NetworkError } from "../network/network_error.ts";
import { isValidName } from "./names.ts";
import { parseStatus, type Status } from "./status.ts";
import { containersDir, isId } from "./store.ts";

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
