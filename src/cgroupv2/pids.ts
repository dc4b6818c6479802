/** The pids controller: pids.max; pids.current. */
import type { Resources } from "./resources.ts";
import { parseSingle, readCgroupFile, writeCgroupFile } from "./_fs.ts";

/** Write pids.max into the cgroup at dir. */
export async function applyPids(dir: string, pids: Resources["pids"]): Promise<void> {
  if (pids) await writeCgroupFile(dir, "pids.max", String(pids.max));
}

/** What the pids controller reports. */
export interface PidsStats {
  /** pids.current. */
  current: number;
  /** pids.max, or "max". */
  max: number | "max";
}

/** Read pids.current and pids.max; undefined without the controller. */
export async function readPidsStats(dir: string): Promise<PidsStats | undefined> {
  const current = parseSingle(await readCgroupFile(dir, "pids.current"));
  if (typeof current !== "number") return undefined;
  return { current, max: parseSingle(await readCgroupFile(dir, "pids.max")) ?? "max" };
}
