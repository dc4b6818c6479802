/**
 * User namespace modes as podman names them (`--userns`, `--uidmap`,
 * `--gidmap`): each turns the caller's base mapping (0 → the caller,
 * 1.. → the subordinate ranges, the mapping the store's layers were
 * unpacked with) into the container's mapping, and says how the layers must
 * be shown so that their owners stay what the image says.
 */
import { UsageError } from "../errors/mod.ts";
import type { IdMapping, IdRange } from "./id_map.ts";

/** A parsed `--userns` value (plus `--uidmap`/`--gidmap`). */
export type UsernsMode =
  | { kind: "default" }
  | { kind: "keep-id"; uid?: number; gid?: number }
  | { kind: "nomap" }
  | { kind: "auto"; size: number }
  | { kind: "host" }
  | { kind: "custom"; uidmap: IdRange[]; gidmap: IdRange[] };

const HINT = "use --userns=keep-id[:uid=N,gid=N], --userns=auto[:size=N], --userns=nomap or --userns=host";

/** Ids a container gets from `--userns=auto` without size=. */
export const AUTO_SIZE = 1024;

/**
 * `auto`: container 0 stays the caller (nook's files for the container are the caller's and must be
 * reachable inside), and 1..size-1 are a slice of the subordinate range given to this container
 * alone — `start` is that slice's first id relative to the caller's own mapping (1 = the first
 * subordinate id).
 */
export function autoRanges(start: number, size: number): IdRange[] {
  return [{ inside: 0, outside: 0, count: 1 }, { inside: 1, outside: start, count: size - 1 }];
}

/** Parse `--userns` and `--uidmap`/`--gidmap` (CONTAINER:HOST:SIZE, HOST relative to the caller's own mapping). */
export function parseUsernsMode(text: string | undefined, uidmap: readonly string[] = [], gidmap: readonly string[] = []): UsernsMode {
  if (uidmap.length || gidmap.length) {
    if (text) throw new UsageError(`--userns="${text}" cannot be combined with --uidmap or --gidmap`, { hint: "use one of them" });
    const um = uidmap.map((v) => parseMapLine(v, "--uidmap"));
    const gm = gidmap.map((v) => parseMapLine(v, "--gidmap"));
    // podman: one of the two given alone serves for both
    return { kind: "custom", uidmap: um.length ? um : gm, gidmap: gm.length ? gm : um };
  }
  if (!text || text === "private" || text === "") return { kind: "default" };
  const [kind, opts = ""] = text.split(/:(.*)/s, 2) as [string, string?];
  if (kind === "host" || kind === "nomap") {
    if (opts) throw new UsageError(`Invalid --userns "${text}": "${kind}" takes no options`, { hint: HINT });
    return { kind };
  }
  if (kind === "keep-id") {
    const out: { kind: "keep-id"; uid?: number; gid?: number } = { kind: "keep-id" };
    for (const o of opts.split(",").filter(Boolean)) {
      const m = /^(uid|gid)=(\d{1,10})$/.exec(o);
      if (!m || Number(m[2]) > 0xffff_fffe) {
        throw new UsageError(`Invalid --userns option "${o}" in "${text}"`, { hint: "keep-id takes uid=N and gid=N" });
      }
      out[m[1] as "uid" | "gid"] = Number(m[2]);
    }
    return out;
  }
  if (kind === "auto") {
    let size = AUTO_SIZE;
    for (const o of opts.split(",").filter(Boolean)) {
      const m = /^size=(\d{1,10})$/.exec(o);
      if (!m || Number(m[1]) < 2) throw new UsageError(`Invalid --userns option "${o}" in "${text}"`, { hint: "auto takes size=N (N ≥ 2)" });
      size = Number(m[1]);
    }
    return { kind: "auto", size };
  }
  throw new UsageError(`Unknown user namespace mode "${text}"`, { hint: HINT });
}

function parseMapLine(v: string, flag: string): IdRange {
  const m = /^(\d{1,10}):(\d{1,10}):(\d{1,10})$/.exec(v);
  if (!m || Number(m[3]) === 0) {
    throw new UsageError(`Invalid ${flag} "${v}"`, { hint: `use ${flag} CONTAINER:HOST:SIZE, e.g. ${flag} 0:1:65536` });
  }
  return { inside: Number(m[1]), outside: Number(m[2]), count: Number(m[3]) };
}

/** Map one id through a range list (inside → outside); undefined when unmapped. */
export function mapId(ranges: readonly IdRange[], id: number): number | undefined {
  for (const r of ranges) if (id >= r.inside && id < r.inside + r.count) return r.outside + id - r.inside;
  return undefined;
}

/**
 * Compose: ranges `inner` whose outside ids are inside ids of `outer` →
 * ranges from inner's inside to outer's outside. Pieces that outer does not
 * map are refused (the caller cannot grant ids it does not hold).
 */
export function composeRanges(inner: readonly IdRange[], outer: readonly IdRange[], what: string): IdRange[] {
  const out: IdRange[] = [];
  for (const r of inner) {
    let done = 0;
    while (done < r.count) {
      const id = r.outside + done;
      const o = outer.find((x) => id >= x.inside && id < x.inside + x.count);
      if (!o) {
        throw new UsageError(`The ${what} range "${r.inside}:${r.outside}:${r.count}" reaches id ${id}, which your user cannot map`, {
          hint: `HOST ids are relative to your own mapping: 0 is your own id, 1..${
            outer.reduce((n, x) => Math.max(n, x.inside + x.count), 0) - 1
          } your subordinate ids (see /etc/subuid)`,
        });
      }
      const n = Math.min(r.count - done, o.inside + o.count - id);
      out.push({ inside: r.inside + done, outside: o.outside + id - o.inside, count: n });
      done += n;
    }
  }
  return out;
}

/**
 * Invert `outer` after `inner`: for each id k inside `base` (the store's
 * mapping: image id → host id), the id the container's namespace sees for
 * that host id (inside: the image's id, outside: the id seen in the
 * container's namespace) — what fuse-overlayfs needs (`uidmapping=`) to show
 * an image's id k as k again.
 */
export function layerView(base: readonly IdRange[], container: readonly IdRange[]): IdRange[] {
  const out: IdRange[] = [];
  for (const b of base) {
    let done = 0;
    while (done < b.count) {
      const host = b.outside + done;
      const c = container.find((x) => host >= x.outside && host < x.outside + x.count);
      if (!c) {
        // not visible in the container at all: skip to where the next container range starts
        const next = container.map((x) => x.outside).filter((o) => o > host).reduce((a, x) => Math.min(a, x), Infinity);
        done = next === Infinity ? b.count : Math.min(b.count, done + (next - host));
        continue;
      }
      const n = Math.min(b.count - done, c.outside + c.count - host);
      out.push({ inside: b.inside + done, outside: c.inside + host - c.outside, count: n });
      done += n;
    }
  }
  return out;
}

/** True when two range lists map every id the same way. */
export function sameRanges(a: readonly IdRange[], b: readonly IdRange[]): boolean {
  const norm = (x: readonly IdRange[]) => JSON.stringify([...x].sort((p, q) => p.inside - q.inside));
  return norm(a) === norm(b);
}

/** The container's mapping for a mode, and who its process is by default. */
export interface ModeMapping {
  /** The mapping to write (undefined: the base one). */
  mapping: IdMapping;
  /** keep-id: the uid and gid the caller keeps inside. */
  keep?: { uid: number; gid: number };
  /** fuse-overlayfs `uidmapping=`/`gidmapping=` values when the layers must be shown through a shift. */
  layerShift?: { uid: string; gid: string };
  /** With layerShift: the same shift as ranges, image id → the store's id to write it as (a shifted copy's owners). */
  shift?: { uid: IdRange[]; gid: IdRange[] };
  /** A shifted copy of the image made for this mapping (its key under shifted/), where fuse-overlayfs cannot shift. */
  shiftedCopy?: string;
  /** Devices and mounts CDI names add (filled in by the engine). */
  cdi?: { devices: { host: string; container: string; writable: boolean }[]; mounts: import("../model/mod.ts").MountSpec[] };
  /** `auto`: a slice of the subordinate range that need not hold the ids the store's layers were unpacked with. */
  autoSlice?: boolean;
  /** The caller's own uid or gid is not mapped inside: the store's files (the caller's) cannot be reached from there. */
  callerUnmapped?: boolean;
  /**
   * Set when the caller is unmapped: the container's user namespace is made below one with
   * `mapping` (the caller's, where nook's helpers reach the store), with these ranges, whose
   * outside ids are ids of that namespace (0 = the caller, 1.. = the subordinate ids).
   */
  below?: { uidMap: IdRange[]; gidMap: IdRange[] };
}

/**
 * A container's user namespace made below one with `base` (where nook's helpers reach the store),
 * with ranges `relUid`/`relGid` whose outside ids are ids of that namespace; fuse-overlayfs there
 * shows the image's id k (k on disk, as that namespace sees it) as the id the namespace below sees
 * as k.
 */
export function belowMapping(base: IdMapping, relUid: IdRange[], relGid: IdRange[]): ModeMapping {
  const fmt = (r: IdRange[]) => r.map((x) => `${x.inside}:${x.outside}:${x.count}`).join(":");
  return {
    mapping: base,
    below: { uidMap: relUid, gidMap: relGid },
    layerShift: { uid: fmt(relUid), gid: fmt(relGid) },
    shift: { uid: relUid, gid: relGid },
  };
}

/**
 * The container's mapping for a mode. `keep-id` is podman's map: container
 * U → the caller, 0..U-1 and U+1.. → the subordinate ids in order.
 */
export function modeMapping(mode: UsernsMode, base: IdMapping, hostUid: number, hostGid: number): ModeMapping {
  if (mode.kind === "default") return { mapping: base };
  if (mode.kind === "auto") throw new UsageError("internal: --userns=auto needs its slice first (autoRanges)");
  if (mode.kind === "host") {
    throw new UsageError("--userns=host needs root: a rootless container always has a user namespace of its own", {
      hint: "without one, the container's root would have to be the real root; nook runs as your user, so it keeps " +
        "the mapping (use --userns=keep-id to be your own uid inside)",
    });
  }
  if (base.mode !== "subid") {
    throw new UsageError(`${mode.kind === "custom" ? "--uidmap/--gidmap" : `--userns=${mode.kind}`} needs subordinate ids: ${base.notice ?? "only your own id is mapped"}`, {
      hint: "install uidmap and give your user a range in /etc/subuid and /etc/subgid",
    });
  }
  const n = (r: readonly IdRange[]) => r.reduce((a, x) => Math.max(a, x.inside + x.count), 0);
  let keep: { uid: number; gid: number } | undefined;
  // the ranges asked for, relative to the caller's own mapping (0 = the caller)
  let relUid: IdRange[], relGid: IdRange[];
  if (mode.kind === "nomap") {
    // podman: the caller's own id is not mapped; the container's 0.. are the subordinate ids
    relUid = [{ inside: 0, outside: 1, count: n(base.uidMap) - 1 }];
    relGid = [{ inside: 0, outside: 1, count: n(base.gidMap) - 1 }];
  } else if (mode.kind === "keep-id") {
    const u = mode.uid ?? hostUid, g = mode.gid ?? hostGid;
    const keepMap = (id: number, total: number): IdRange[] => {
      const out: IdRange[] = [];
      if (id > 0) out.push({ inside: 0, outside: 1, count: Math.min(id, total - 1) });
      out.push({ inside: id, outside: 0, count: 1 });
      if (id + 1 < total) out.push({ inside: id + 1, outside: id + 1, count: total - id - 1 });
      return out.filter((r) => r.count > 0);
    };
    relUid = keepMap(u, n(base.uidMap));
    relGid = keepMap(g, n(base.gidMap));
    keep = { uid: u, gid: g };
  } else {
    relUid = mode.uidmap;
    relGid = mode.gidmap;
  }
  const uidMap = composeRanges(relUid, base.uidMap, mode.kind === "custom" ? "--uidmap" : "uid");
  const gidMap = composeRanges(relGid, base.gidMap, mode.kind === "custom" ? "--gidmap" : "gid");
  const holds = (r: IdRange[], id: number) => r.some((x) => id >= x.inside && id < x.inside + x.count);
  if (!holds(relUid.map((x) => ({ ...x, inside: x.outside })), 0) || !holds(relGid.map((x) => ({ ...x, inside: x.outside })), 0)) {
    // Without the caller's id, nook's helpers (fuse-overlayfs, the setup of the root) could not
    // reach the store from the container's namespace: they run in one with the caller's own
    // mapping, and the container's namespace is made below it (podman's rootless namespace
    // with the OCI runtime's below; bubblewrap's user namespace made last).
    // fuse-overlayfs there shows the image's id k (k on disk, as that namespace sees it) as
    // the id the namespace below sees as k.
    return { ...belowMapping(base, relUid, relGid), callerUnmapped: true };
  }
  const mapping: IdMapping = { ...base, mode: "subid", uidMap, gidMap };
  const out: ModeMapping = { mapping };
  if (keep) out.keep = keep;
  if (!sameRanges(uidMap, base.uidMap) || !sameRanges(gidMap, base.gidMap)) {
    // fuse-overlayfs reads each triple as ID-ON-DISK:ID-SHOWN:COUNT (ids on disk as its namespace sees them)
    const fmt = (r: IdRange[]) => r.map((x) => `${x.outside}:${x.inside}:${x.count}`).join(":");
    out.layerShift = { uid: fmt(layerView(base.uidMap, uidMap)), gid: fmt(layerView(base.gidMap, gidMap)) };
    out.shift = { uid: relUid, gid: relGid };
  }
  return out;
}
