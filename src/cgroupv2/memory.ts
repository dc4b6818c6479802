/** The memory controller: memory.max, memory.swap.max, memory.low; usage and OOM events. */
import type { Resources } from "./resources.ts";
import { hasFile, parseKeyed, parseSingle, readCgroupFile, writeCgroupFile } from "./_fs.ts";
import { CgroupError } from "./errors.ts";

/** Write the memory limits into the cgroup at dir. */
export async function applyMemory(dir: string, mem: Resources["memory"]): Promise<void> {
  if (!mem) return;
  // memory.low before memory.max: the kernel takes any order, but a reader sees the final state sooner.
  if (mem.low !== undefined) await writeCgroupFile(dir, "memory.low", String(mem.low));
  if (mem.max !== undefined) await writeCgroupFile(dir, "memory.max", String(mem.max));
  if (mem.swapMax !== undefined) {
    if (!hasFile(dir, "memory.swap.max")) {
      if (!mem.swapExplicit) return; // implied by --memory: nothing to enforce without swap accounting
      throw new CgroupError(`Cannot limit swap: "${dir}/memory.swap.max" does not exist`, {
        path: `${dir}/memory.swap.max`,
        hint: "the kernel does not account swap (boot with swapaccount=1 on older kernels), or leave out --memory-swap",
      });
    }
    await writeCgroupFile(dir, "memory.swap.max", String(mem.swapMax));
  }
}

/** What the memory controller reports about a cgroup. */
export interface MemoryStats {
  /** memory.current in bytes. */
  current: number;
  /** memory.max in bytes, or "max". */
  max: number | "max";
  /** memory.swap.current in bytes (0 without swap accounting). */
  swapCurrent: number;
  /** memory.stat (anon, file, inactive_file…). */
  stat: Record<string, number>;
  /** memory.events (low, high, max, oom, oom_kill…). */
  events: Record<string, number>;
}

/** Read memory.current, memory.max, memory.stat and memory.events; undefined without the controller. */
export async function readMemoryStats(dir: string): Promise<MemoryStats | undefined> {
  const current = parseSingle(await readCgroupFile(dir, "memory.current"));
  if (current === undefined || current === "max") return undefined;
  const swap = parseSingle(await readCgroupFile(dir, "memory.swap.current"));
  return {
    current,
    max: parseSingle(await readCgroupFile(dir, "memory.max")) ?? "max",
    swapCurrent: typeof swap === "number" ? swap : 0,
    stat: parseKeyed(await readCgroupFile(dir, "memory.stat")),
    events: parseKeyed(await readCgroupFile(dir, "memory.events")),
  };
}
