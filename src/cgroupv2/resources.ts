/**
 * What a container may use, in cgroup v2 terms. The CLI turns docker-style
 * flags into this (src/engine/resources.ts); each controller file writes
 * its part into a cgroup directory.
 */

/** A throttle for one block device (io.max). */
export interface DeviceThrottle {
  /** Device path as given ("/dev/vda"). */
  path: string;
  /** Major number. */
  major: number;
  /** Minor number. */
  minor: number;
  /** Read bytes per second. */
  rbps?: number;
  /** Write bytes per second. */
  wbps?: number;
  /** Read operations per second. */
  riops?: number;
  /** Write operations per second. */
  wiops?: number;
}

/** Resource limits of a container; every field optional (absent = not limited). */
export interface Resources {
  /** memory.* */
  memory?: {
    /** memory.max in bytes (--memory), or "max" (a limit taken away again: `nook runtime update --memory -1`). */
    max?: number | "max";
    /** memory.swap.max in bytes, or "max" (from --memory-swap minus --memory). */
    swapMax?: number | "max";
    /** The user set --memory-swap (so a kernel without swap accounting is an error, not a skip). */
    swapExplicit?: boolean;
    /** memory.low in bytes (--memory-reservation). */
    low?: number;
  };
  /** cpu.* */
  cpu?: {
    /** cpu.max quota in µs per period, or "max". */
    quota?: number | "max";
    /** cpu.max period in µs. */
    period?: number;
    /** cpu.weight 1..10000 (converted from --cpu-shares). */
    weight?: number;
  };
  /** cpuset.* */
  cpuset?: {
    /** cpuset.cpus ("0-2,4"). */
    cpus?: string;
    /** cpuset.mems. */
    mems?: string;
  };
  /** pids.max, or "max". */
  pids?: { max: number | "max" };
  /** io.* */
  io?: {
    /** --blkio-weight as given (10..1000): io.bfq.weight as is, io.weight converted. */
    blkioWeight?: number;
    /** io.max lines. */
    throttle?: DeviceThrottle[];
  };
  /**
   * Interface files written as given, after every other limit (OCI
   * `linux.resources.unified`): "memory.high" → "64M". Keys are
   * "CONTROLLER.FILE" of a controller nook enables, or "cgroup.*".
   */
  unified?: Record<string, string>;
}

/** The kernel's list format of CPUs and memory nodes: "0", "0-3", "0,2-3". */
export const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** The cgroup v2 controllers nook uses, in the order they are enabled. */
export const CONTROLLERS = ["cpu", "cpuset", "io", "memory", "pids"] as const;

/** A cgroup v2 controller nook uses. */
export type Controller = (typeof CONTROLLERS)[number];

/** The controller a unified key belongs to ("memory.high" → memory); undefined for "cgroup.*" and unknown ones. */
export function unifiedController(key: string): Controller | undefined {
  const c = key.slice(0, key.indexOf("."));
  return (CONTROLLERS as readonly string[]).includes(c) ? c as Controller : undefined;
}

/** The controllers these resources need. */
export function requiredControllers(r: Resources): Controller[] {
  const out = new Set<Controller>();
  if (r.cpu) out.add("cpu");
  if (r.cpuset) out.add("cpuset");
  if (r.io) out.add("io");
  if (r.memory) out.add("memory");
  if (r.pids) out.add("pids");
  for (const key of Object.keys(r.unified ?? {})) {
    const c = unifiedController(key);
    if (c) out.add(c);
  }
  return CONTROLLERS.filter((c) => out.has(c));
}

/** The flag a user would have used for a controller (for messages). */
export const CONTROLLER_FLAGS: Record<Controller, string> = {
  cpu: "--cpus/--cpu-quota/--cpu-period/--cpu-shares",
  cpuset: "--cpuset-cpus/--cpuset-mems",
  io: "--blkio-weight/--device-read-bps/--device-write-bps/--device-read-iops/--device-write-iops",
  memory: "--memory/--memory-swap/--memory-reservation",
  pids: "--pids-limit",
};
