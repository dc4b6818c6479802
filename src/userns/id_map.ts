import { HostError } from "../errors/mod.ts";
import { runHelper } from "../ffi/mod.ts";
import { parseSubid, rangesFor } from "./subid.ts";

/** One line of a uid_map/gid_map: `inside outside count`. */
export interface IdRange {
  /** First id inside the namespace. */
  inside: number;
  /** First id outside. */
  outside: number;
  /** Length of the range. */
  count: number;
}

/** How the container's user namespace is mapped. */
export interface IdMapping {
  /** `subid`: 0 → caller, 1..N → subordinate ranges (newuidmap). `single`: only 0 → caller. */
  mode: "subid" | "single";
  /** uid_map lines. */
  uidMap: IdRange[];
  /** gid_map lines. */
  gidMap: IdRange[];
  /** Paths of newuidmap/newgidmap (subid mode). */
  newuidmap?: string;
  /** Path of newgidmap. */
  newgidmap?: string;
  /** Why single mode, and how to get the full mapping (single mode). */
  notice?: string;
}

/** Inputs of {@link detectIdMapping}; tests point them at fixtures. */
export interface DetectOptions {
  /** Caller's uid (default Deno.uid()). */
  uid?: number;
  /** Caller's gid (default Deno.gid()). */
  gid?: number;
  /** Caller's user name (default from /etc/passwd). */
  user?: string;
  /** /etc/subuid path. */
  subuidPath?: string;
  /** /etc/subgid path. */
  subgidPath?: string;
  /** PATH to search for newuidmap/newgidmap. */
  path?: string;
  /** `single` forces the single-id mapping (NOOK_IDMAP). */
  force?: string;
}

/** Decide the mapping: subordinate ranges through newuidmap/newgidmap when both exist, else single. */
export function detectIdMapping(opts: DetectOptions = {}): IdMapping {
  const uid = opts.uid ?? Deno.uid()!;
  const gid = opts.gid ?? Deno.gid()!;
  const user = opts.user ?? userName(uid);
  const single = (notice: string): IdMapping => ({
    mode: "single",
    uidMap: [{ inside: 0, outside: uid, count: 1 }],
    gidMap: [{ inside: 0, outside: gid, count: 1 }],
    notice,
  });
  const force = opts.force ?? Deno.env.get("NOOK_IDMAP");
  if (force === "single") return single("single-id mapping requested by NOOK_IDMAP=single");
  if (uid === 0) {
    // root needs no helper: map the whole range like a rootful runtime would.
    return {
      mode: "single",
      uidMap: [{ inside: 0, outside: 0, count: 4294967295 }],
      gidMap: [{ inside: 0, outside: 0, count: 4294967295 }],
    };
  }
  const searchPath = opts.path ?? `${Deno.env.get("PATH") ?? ""}:/usr/bin:/usr/sbin:/bin:/sbin`;
  const newuidmap = findExecutable("newuidmap", searchPath);
  const newgidmap = findExecutable("newgidmap", searchPath);
  const subuid = rangesFor(parseSubid(readOr(opts.subuidPath ?? "/etc/subuid")), user, uid);
  const subgid = rangesFor(parseSubid(readOr(opts.subgidPath ?? "/etc/subgid")), user, uid);
  const who = user ?? String(uid);
  if (!newuidmap || !newgidmap) {
    return single(
      `only your own uid is mapped (to root); files owned by other users cannot exist in containers. ` +
        `Install newuidmap/newgidmap (Debian/Ubuntu: apt install uidmap) for the full mapping.`,
    );
  }
  if (subuid.length === 0 || subgid.length === 0) {
    const missing = subuid.length === 0 ? "/etc/subuid" : "/etc/subgid";
    return single(
      `only your own uid is mapped (to root): ${missing} has no range for "${who}". ` +
        `Ask an admin for one: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${who}`,
    );
  }
  const build = (own: number, ranges: { start: number; count: number }[]): IdRange[] => {
    const out: IdRange[] = [{ inside: 0, outside: own, count: 1 }];
    let next = 1;
    for (const r of ranges) {
      out.push({ inside: next, outside: r.start, count: r.count });
      next += r.count;
    }
    return out;
  };
  return { mode: "subid", uidMap: build(uid, subuid), gidMap: build(gid, subgid), newuidmap, newgidmap };
}

/** How many ids exist inside: 1 for single mode. */
export function mappedCount(ranges: readonly IdRange[]): number {
  return ranges.reduce((n, r) => Math.max(n, r.inside + r.count), 0);
}

/** True when the id is mapped inside the namespace. */
export function isMapped(ranges: readonly IdRange[], id: number): boolean {
  return ranges.some((r) => id >= r.inside && id < r.inside + r.count);
}

/**
 * Write the maps of a child that waits in its new user namespace.
 * Why from the parent: the child has no privilege over its own maps beyond
 * its own id; newuidmap (setuid/file caps) may grant the subordinate ranges.
 */
export async function applyIdMapping(pid: number, m: IdMapping): Promise<void> {
  if (m.mode === "single") {
    const line = (r: IdRange) => `${r.inside} ${r.outside} ${r.count}\n`;
    try {
      Deno.writeTextFileSync(`/proc/${pid}/uid_map`, m.uidMap.map(line).join(""));
      if (Deno.uid() !== 0) Deno.writeTextFileSync(`/proc/${pid}/setgroups`, "deny");
      Deno.writeTextFileSync(`/proc/${pid}/gid_map`, m.gidMap.map(line).join(""));
    } catch (err) {
      throw new HostError(`Cannot write the id maps of the container: ${(err as Error).message}`, {
        op: "write uid_map",
        path: `/proc/${pid}/uid_map`,
        cause: err,
        hint: "user namespaces may be restricted on this host; run `nook doctor`",
      });
    }
    return;
  }
  const [uid, gid] = idMapCommands(m, String(pid));
  await Promise.all([uid!, gid!].map(async (argv) => checkIdMapTool(argv[0]!, await runHelper(argv))));
}

/**
 * The newuidmap and newgidmap command lines of a subid mapping for the child
 * `pid` (`"%PID%"` by default: libshim fills it in when it starts them with
 * the child, see spawnWith); none for the single-id mapping, whose maps nook
 * writes itself ({@link applyIdMapping}).
 */
export function idMapCommands(m: IdMapping, pid = "%PID%"): string[][] {
  if (m.mode === "single") return [];
  const args = (ranges: IdRange[]) => [pid, ...ranges.flatMap((r) => [r.inside, r.outside, r.count].map(String))];
  return [[m.newuidmap!, ...args(m.uidMap)], [m.newgidmap!, ...args(m.gidMap)]];
}

/** How newuidmap or newgidmap (`tool`) ended: nothing when it wrote the maps, else the error a user reads. */
export function checkIdMapTool(tool: string, out: { code: number; stderr: string }): void {
  if (out.code === 0) return;
  throw new HostError(`${tool} failed: ${out.stderr.trim() || `exit status ${out.code}`}`, {
    op: tool,
    path: tool,
    hint: "check that newuidmap/newgidmap are setuid root or carry file capabilities (apt install --reinstall uidmap), " +
      "and that /etc/subuid and /etc/subgid ranges do not overlap your own id; NOOK_IDMAP=single avoids them",
  });
}

/** The caller's user name from /etc/passwd, or $USER, or undefined. */
export function userName(uid: number): string | undefined {
  for (const line of readOr("/etc/passwd").split("\n")) {
    const f = line.split(":");
    if (f[2] === String(uid) && f[0]) return f[0];
  }
  return Deno.env.get("USER") || undefined;
}

function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** First executable file named `name` in a colon-separated search path. */
export function findExecutable(name: string, searchPath: string = Deno.env.get("PATH") ?? ""): string | undefined {
  for (const dir of searchPath.split(":")) {
    if (!dir) continue;
    try {
      const st = Deno.statSync(`${dir}/${name}`);
      if (st.isFile && ((st.mode ?? 0) & 0o111) !== 0) return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}
