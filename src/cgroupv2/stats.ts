/** Everything the kernel counts for a container's cgroup, as `nook stats` and `inspect` show it. */
import { type CpuStats, readCpuStats } from "./cpu.ts";
import { type IoStats, readIoStats } from "./io.ts";
import { type MemoryStats, readMemoryStats } from "./memory.ts";
import { type PidsStats, readPidsStats } from "./pids.ts";
import { parseKeyed, readCgroupFile } from "./_fs.ts";

/** One sample of a cgroup's counters; a part is absent when its controller is not enabled. */
export interface CgroupStats {
  /** When the sample was taken (ms, performance.now() clock). */
  at: number;
  /** cpu.stat. */
  cpu?: CpuStats;
  /** memory.current, memory.max, memory.stat, memory.events. */
  memory?: MemoryStats;
  /** pids.current, pids.max. */
  pids?: PidsStats;
  /** io.stat. */
  io?: IoStats;
}

/** Read a cgroup's counters; undefined when the cgroup no longer exists. */
export async function readStats(cgroupPath: string): Promise<CgroupStats | undefined> {
  const at = performance.now();
  const [cpu, memory, pids, io] = await Promise.all([
    readCpuStats(cgroupPath),
    readMemoryStats(cgroupPath),
    readPidsStats(cgroupPath),
    readIoStats(cgroupPath),
  ]);
  if (!cpu) return undefined; // cpu.stat is in every cgroup v2: the cgroup is gone
  return { at, cpu, ...(memory ? { memory } : {}), ...(pids ? { pids } : {}), ...(io ? { io } : {}) };
}

/** How many processes the kernel's OOM killer killed in the cgroup (memory.events oom_kill, subtree included). */
export async function oomKillCount(cgroupPath: string): Promise<number> {
  return parseKeyed(await readCgroupFile(cgroupPath, "memory.events")).oom_kill ?? 0;
}

/** True when the OOM killer killed a process of the container: its OOMKilled record. Read it before the cgroup is removed. */
export async function oomKilled(cgroupPath: string): Promise<boolean> {
  return (await oomKillCount(cgroupPath)) > 0;
}

/** CPU use between two samples, in percent of one CPU (docker's CPU %: 200 = two CPUs busy). */
export function cpuPercent(before: CgroupStats, after: CgroupStats): number {
  const wallUs = (after.at - before.at) * 1000;
  if (!before.cpu || !after.cpu || wallUs <= 0) return 0;
  return Math.max(0, ((after.cpu.usageUsec - before.cpu.usageUsec) / wallUs) * 100);
}

/** Memory in use as docker counts it: memory.current minus the inactive page cache. */
export function memoryUsage(m: MemoryStats): number {
  return Math.max(0, m.current - (m.stat.inactive_file ?? 0));
}
