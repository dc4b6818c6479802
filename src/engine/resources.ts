/**
 * A new container's resource limits: docker-style values → cgroup v2 limits, and the run hooks
 * that give the container a cgroup of its own.
 *
 * @module
 */
import type { ResourceRequest } from "./run_request.ts";
import { UsageError } from "../errors/mod.ts";
import type { ContainerSpec, RunHooks } from "../model/mod.ts";
// Only the parts every run needs load here; the managers load when a cgroup is made.
import { CPU_LIST, type DeviceThrottle, type Resources } from "../cgroupv2/resources.ts";
import type { CgroupRelease } from "../cgroupv2/container_cgroup.ts";
import { DEFAULT_CPU_PERIOD, sharesToWeight } from "../cgroupv2/cpu.ts";
import { recordedCgroupHooks } from "./cgroup.ts";

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** docker's byte sizes: "1024", "512k", "256m", "1.5g", "10mb", "1GiB" (binary multiples). */
export function parseBytes(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i.exec(value.trim());
  if (!m) {
    throw new UsageError(`Invalid size "${value}" for --${flag}`, {
      hint: "use a number of bytes with an optional unit: b, k, m, g (e.g. 256m)",
    });
  }
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}

function parseInteger(value: string, flag: string, min: number, max: number, extra = ""): number {
  if (!/^-?\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`Invalid value "${value}" for --${flag}`, {
      hint: `use a whole number from ${min} to ${max}${extra}`,
    });
  }
  return Number(value);
}

/** A block device's major:minor, from its path. */
export function deviceNumbers(path: string, flag: string): { major: number; minor: number } {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch (err) {
    throw new UsageError(`Cannot use "${path}" for --${flag}: ${(err as Error).message}`, {
      path,
      hint: "name a block device, e.g. /dev/sda",
    });
  }
  if (!st.isBlockDevice || st.rdev === null) {
    throw new UsageError(`Cannot use "${path}" for --${flag}: it is not a block device`, {
      path,
      hint: "name a block device, e.g. /dev/sda",
    });
  }
  const r = BigInt(st.rdev);
  // glibc's gnu_dev_major/gnu_dev_minor
  const major = Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
  const minor = Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
  return { major, minor };
}

function throttle(value: string, flag: string, key: "rbps" | "wbps" | "riops" | "wiops"): DeviceThrottle {
  const i = value.lastIndexOf(":");
  if (i <= 0) {
    throw new UsageError(`Invalid value "${value}" for --${flag}`, {
      hint: `use DEVICE:${key.endsWith("iops") ? "N" : "RATE"}, e.g. /dev/sda:10mb`,
    });
  }
  const path = value.slice(0, i);
  const rate = key.endsWith("iops")
    ? parseInteger(value.slice(i + 1), flag, 1, Number.MAX_SAFE_INTEGER)
    : parseBytes(value.slice(i + 1), flag);
  if (rate <= 0) throw new UsageError(`Invalid rate in "${value}" for --${flag}`, { hint: "the rate must be above 0" });
  return { path, ...deviceNumbers(path, flag), [key]: rate };
}

/** The resource values as cgroup v2 limits; only what was asked for is set. */
export function resourcesFrom(req: ResourceRequest): Resources {
  const r: Resources = {};

  const memory = req.memory;
  const swap = req.memorySwap;
  const reservation = req.memoryReservation;
  if (memory !== undefined || swap !== undefined || reservation !== undefined) {
    const mem: NonNullable<Resources["memory"]> = {};
    const max = memory === undefined ? undefined : parseBytes(memory, "memory");
    if (max !== undefined) {
      if (max < 6 * 1024 * 1024) {
        throw new UsageError(`--memory ${memory} is too small`, { hint: "the minimum memory limit is 6m" });
      }
      mem.max = max;
      // docker: without --memory-swap, swap may hold as much again as --memory
      mem.swapMax = max;
    }
    if (swap !== undefined) {
      if (max === undefined) {
        throw new UsageError("--memory-swap needs --memory", {
          hint: "set --memory too; --memory-swap is memory plus swap",
        });
      }
      mem.swapExplicit = true;
      if (swap.trim() === "-1") mem.swapMax = "max";
      else {
        const total = parseBytes(swap, "memory-swap");
        if (total < max) {
          throw new UsageError(`--memory-swap ${swap} is below --memory ${memory}`, {
            hint: "--memory-swap is memory plus swap: set it to at least --memory (equal: no swap)",
          });
        }
        mem.swapMax = total - max;
      }
    }
    if (reservation !== undefined) {
      mem.low = parseBytes(reservation, "memory-reservation");
      if (max !== undefined && mem.low > max) {
        throw new UsageError(`--memory-reservation ${reservation} is above --memory ${memory}`, {
          hint: "the reservation must be at most the limit",
        });
      }
    }
    r.memory = mem;
  }

  const cpus = req.cpus;
  const quota = req.cpuQuota;
  const period = req.cpuPeriod;
  const shares = req.cpuShares;
  if (cpus !== undefined && (quota !== undefined || period !== undefined)) {
    throw new UsageError("--cpus cannot be combined with --cpu-quota or --cpu-period", {
      hint: "use --cpus alone, or --cpu-quota with --cpu-period",
    });
  }
  if (cpus !== undefined || quota !== undefined || period !== undefined || shares !== undefined) {
    const cpu: NonNullable<Resources["cpu"]> = {};
    if (cpus !== undefined) {
      const n = Number(cpus);
      if (!/^\d*\.?\d+$/.test(cpus.trim()) || !(n > 0) || n > 1024) {
        throw new UsageError(`Invalid value "${cpus}" for --cpus`, {
          hint: "use a number of CPUs above 0, e.g. 0.5 or 2",
        });
      }
      cpu.period = DEFAULT_CPU_PERIOD;
      cpu.quota = Math.max(1000, Math.round(n * DEFAULT_CPU_PERIOD));
    }
    if (period !== undefined) cpu.period = parseInteger(period, "cpu-period", 1000, 1_000_000);
    if (quota !== undefined) {
      const q = parseInteger(quota, "cpu-quota", -1, 1_000_000_000_000, " (or -1 for no limit)");
      if (q !== -1 && q < 1000) {
        throw new UsageError(`Invalid value "${quota}" for --cpu-quota`, {
          hint: "the smallest quota is 1000 microseconds; -1 means no limit",
        });
      }
      cpu.quota = q === -1 ? "max" : q;
    }
    if (shares !== undefined) {
      const s = parseInteger(shares, "cpu-shares", 0, 262144);
      if (s !== 0) cpu.weight = sharesToWeight(Math.max(2, s));
    }
    if (Object.keys(cpu).length) r.cpu = cpu;
  }

  const cpusetCpus = req.cpusetCpus;
  const cpusetMems = req.cpusetMems;
  for (const [flag, v] of [["cpuset-cpus", cpusetCpus], ["cpuset-mems", cpusetMems]] as const) {
    if (v !== undefined && !CPU_LIST.test(v.trim())) {
      throw new UsageError(`Invalid value "${v}" for --${flag}`, { hint: "use a list such as 0, 0-3 or 0,2-3" });
    }
  }
  if (cpusetCpus !== undefined || cpusetMems !== undefined) {
    r.cpuset = {
      ...(cpusetCpus !== undefined ? { cpus: cpusetCpus.trim() } : {}),
      ...(cpusetMems !== undefined ? { mems: cpusetMems.trim() } : {}),
    };
  }

  const pids = req.pidsLimit;
  if (pids !== undefined) {
    const n = parseInteger(pids, "pids-limit", -1, 4_194_304, " (0 or -1: no limit)");
    r.pids = { max: n <= 0 ? "max" : n };
  }

  const weight = req.blkioWeight;
  const throttles = [
    ...(req.deviceReadBps ?? []).map((v) => throttle(v, "device-read-bps", "rbps")),
    ...(req.deviceWriteBps ?? []).map((v) => throttle(v, "device-write-bps", "wbps")),
    ...(req.deviceReadIops ?? []).map((v) => throttle(v, "device-read-iops", "riops")),
    ...(req.deviceWriteIops ?? []).map((v) => throttle(v, "device-write-iops", "wiops")),
  ];
  if (weight !== undefined || throttles.length) {
    const io: NonNullable<Resources["io"]> = {};
    if (weight !== undefined) {
      const w = parseInteger(weight, "blkio-weight", 0, 1000);
      if (w !== 0 && w < 10) {
        throw new UsageError(`Invalid value "${weight}" for --blkio-weight`, { hint: "use 10 to 1000 (0: not set)" });
      }
      if (w !== 0) io.blkioWeight = w;
    }
    if (throttles.length) io.throttle = throttles;
    if (Object.keys(io).length) r.io = io;
  }
  return r;
}

/**
 * Give the container a cgroup of its own with its limits (src/cgroupv2/run_hooks.ts):
 * the hooks that put the waiting process in its cgroup — its monitor's
 * parent keeps it for -d — note it in the container's record, and, in the
 * foreground, remove it afterwards, recording and reporting an OOM kill
 * (`onRelease` hears of the release too). Without a manager: one warning
 * when no limit was asked for, a CgroupError (exit 125) when one was.
 */
export async function resourceHooks(
  req: ResourceRequest,
  spec: ContainerSpec,
  detached: boolean,
  onRelease?: (r: CgroupRelease) => void,
): Promise<RunHooks> {
  return await recordedCgroupHooks(spec.id, spec, resourcesFrom(req), {
    detached,
    onRelease: (released) => {
      onRelease?.(released);
      if (released.oomKilled) {
        const limit = req.memory;
        console.error(
          `nook: the container ran out of memory${limit ? ` (--memory ${limit})` : ""}: ` +
            "the kernel's OOM killer killed a process in it",
        );
      }
    },
  });
}
