/**
 * Reading a user namespace's maps from /proc: the one parser of `uid_map` and `gid_map` text
 * (`inside outside count` per line). No imports beyond a type: the image unpacker and the
 * re-exec check use it too.
 *
 * @module
 */
import type { IdRange } from "./id_map.ts";

/** The identity map of the initial user namespace: every id is itself. */
const INITIAL: IdRange = { inside: 0, outside: 0, count: 4294967295 };

/** Parse the text of a /proc/PID/uid_map or gid_map: one range per non-empty line. */
export function parseIdMap(text: string): IdRange[] {
  return text.trim().split("\n").filter((l) => l.trim()).map((l) => {
    const [inside = 0, outside = 0, count = 0] = l.trim().split(/\s+/).map(Number);
    return { inside, outside, count };
  });
}

/** The ranges of /proc/PID/uid_map (or gid_map), or undefined when it cannot be read. */
export function readIdMap(pid: number | "self", kind: "uid" | "gid"): IdRange[] | undefined {
  try {
    return parseIdMap(Deno.readTextFileSync(`/proc/${pid}/${kind}_map`));
  } catch {
    return undefined;
  }
}

/** True when the ranges are the initial user namespace's own map (`0 0 4294967295`). */
export function isInitialMap(ranges: readonly IdRange[]): boolean {
  const r = ranges[0];
  return ranges.length === 1 && r!.inside === INITIAL.inside && r!.outside === INITIAL.outside &&
    r!.count === INITIAL.count;
}
