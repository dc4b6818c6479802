/**
 * The container's user namespace: the id maps config.json asks for, and how
 * nook can write them (directly, or through newuidmap/newgidmap), and what
 * the namespace the process ends up in allows (mapped ids, setgroups).
 *
 * @module
 */
import { findExecutable, type IdMapping, type IdRange, readIdMap } from "../userns/mod.ts";
import type { OciIdMap, OciLinux } from "./config.ts";
import { invalid, unsupported } from "./errors.ts";

const ranges = (maps: readonly OciIdMap[]): IdRange[] =>
  maps.map((m) => ({ inside: m.containerID, outside: m.hostID, count: m.size }));

/**
 * How to write `linux.uidMappings`/`gidMappings` for a new user namespace:
 * directly when nook runs as root (in its own user namespace, e.g. under
 * podman) or when only the caller's own ids are mapped; otherwise through
 * newuidmap/newgidmap, which check /etc/subuid and /etc/subgid.
 */
export function ociIdMapping(linux: OciLinux): IdMapping {
  if (!linux.uidMappings.length || !linux.gidMappings.length) {
    throw invalid(
      linux.uidMappings.length ? "linux.gidMappings" : "linux.uidMappings",
      "is missing: a new user namespace needs both linux.uidMappings and linux.gidMappings",
      "`nook runtime spec --rootless` writes a config.json with your own ids mapped",
    );
  }
  const uidMap = ranges(linux.uidMappings);
  const gidMap = ranges(linux.gidMappings);
  const uid = Deno.uid()!;
  const gid = Deno.gid()!;
  const ownOnly = (r: IdRange[], id: number) => r.length === 1 && r[0]!.outside === id && r[0]!.count === 1;
  if (uid === 0 || (ownOnly(uidMap, uid) && ownOnly(gidMap, gid))) return { mode: "single", uidMap, gidMap };
  const path = `${Deno.env.get("PATH") ?? ""}:/usr/bin:/usr/sbin:/bin:/sbin`;
  const newuidmap = findExecutable("newuidmap", path);
  const newgidmap = findExecutable("newgidmap", path);
  if (!newuidmap || !newgidmap) {
    throw unsupported(
      "linux.uidMappings",
      "it maps ids besides your own, which needs newuidmap and newgidmap, and they are not installed",
      `install uidmap (apt install uidmap), or map only your own ids: [{"containerID": 0, "hostID": ${uid}, "size": 1}]`,
    );
  }
  return { mode: "subid", uidMap, gidMap, newuidmap, newgidmap };
}

/** What the container's user namespace allows, as far as nook can tell. */
export interface UsernsView {
  /** uid_map; undefined when unknown (a joined namespace). */
  uidMap?: IdRange[];
  /** gid_map; undefined when unknown. */
  gidMap?: IdRange[];
  /** setgroups(2) is allowed. */
  setgroups: boolean;
}

function readOr(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * A process in the user namespace of the namespace file `path` (a
 * /proc/PID/ns/user link, or a bind mount of one): found by the
 * namespace's inode among /proc's processes.
 */
export function processInUserns(path: string): number | undefined {
  const m = /^\/proc\/(\d+)\/ns\/user$/.exec(path);
  if (m) return Number(m[1]);
  let ino: number | null;
  try {
    ino = Deno.statSync(path).ino;
  } catch {
    return undefined;
  }
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Deno.readLinkSync(`/proc/${e.name}/ns/user`) === `user:[${ino}]`) return Number(e.name);
    } catch {
      // gone, or not ours to look at
    }
  }
  return undefined;
}

/**
 * The view of a namespace that is new (with these maps), nook's own
 * ("shared"), joined through a namespace file (path), or a process's (pid).
 */
export function usernsView(kind: "new" | "shared" | { path: string } | number, mapping?: IdMapping): UsernsView {
  if (kind === "new") {
    // applyIdMapping denies setgroups when it writes the maps itself as a normal user;
    // a namespace made inside one that denies it (root of `unshare -r`, of
    // rootlesskit without subordinate ids) inherits the denial.
    return {
      uidMap: mapping!.uidMap,
      gidMap: mapping!.gidMap,
      setgroups: (mapping!.mode === "subid" || Deno.uid() === 0) && readOr("/proc/self/setgroups")?.trim() !== "deny",
    };
  }
  if (typeof kind === "object") {
    const member = processInUserns(kind.path);
    return member === undefined ? { setgroups: true } : usernsView(member);
  }
  const pid = kind === "shared" ? "self" : kind;
  const u = readIdMap(pid, "uid");
  const g = readIdMap(pid, "gid");
  const view: UsernsView = { setgroups: readOr(`/proc/${pid}/setgroups`)?.trim() !== "deny" };
  // an empty map (not written yet) says nothing: leave it unknown
  if (u?.length) view.uidMap = u;
  if (g?.length) view.gidMap = g;
  return view;
}
