/** The cpu controller: cpu.max (quota, period) and cpu.weight; cpu.stat. */
import type { Resources } from "./resources.ts";
import { parseKeyed, readCgroupFile, writeCgroupFile } from "./_fs.ts";

/** cpu.max's default period (µs), as docker, runc and the kernel use. */
export const DEFAULT_CPU_PERIOD = 100_000;

/**
 * --cpu-shares (cgroup v1, 2..262144, default 1024) → cpu.weight (1..10000,
 * default 100), with the conversion runc and crun use since 2025: a quadratic
 * in log2(shares) that maps 2 → 1, 1024 → 100 and 262144 → 10000. (The older
 * linear formula, 1 + (shares - 2) * 9999 / 262142, turned the default 1024
 * into 39, below a neighbour's default 100.) 0 means "not set".
 */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612 - 7 / 34;
  return Math.ceil(Math.pow(10, exponent));
}

/** Write cpu.max and cpu.weight into the cgroup at dir. */
export async function applyCpu(dir: string, cpu: Resources["cpu"]): Promise<void> {
  if (!cpu) return;
  if (cpu.weight !== undefined) await writeCgroupFile(dir, "cpu.weight", String(cpu.weight));
  if (cpu.quota !== undefined || cpu.period !== undefined) {
    await writeCgroupFile(dir, "cpu.max", `${cpu.quota ?? "max"} ${cpu.period ?? DEFAULT_CPU_PERIOD}`);
  }
}

/** What cpu.stat reports (present in every cgroup v2, with or without the cpu controller). */
export interface CpuStats {
  /** Total CPU time, µs. */
  usageUsec: number;
  /** User CPU time, µs. */
  userUsec: number;
  /** System CPU time, µs. */
  systemUsec: number;
  /** Periods in which the quota ran out (cpu controller only). */
  nrThrottled: number;
  /** Time spent throttled, µs. */
  throttledUsec: number;
  /** cpu.max as written ("max 100000"), when the controller is on. */
  max?: string;
}

/** Read cpu.stat (and cpu.max); undefined when the cgroup is gone. */
export async function readCpuStats(dir: string): Promise<CpuStats | undefined> {
  const text = await readCgroupFile(dir, "cpu.stat");
  if (text === undefined) return undefined;
  const s = parseKeyed(text);
  const max = (await readCgroupFile(dir, "cpu.max"))?.trim();
  return {
    usageUsec: s.usage_usec ?? 0,
    userUsec: s.user_usec ?? 0,
    systemUsec: s.system_usec ?? 0,
    nrThrottled: s.nr_throttled ?? 0,
    throttledUsec: s.throttled_usec ?? 0,
    ...(max ? { max } : {}),
  };
}
