/** The io controller: io.weight (or io.bfq.weight) and io.max; io.stat. */
import type { DeviceThrottle, Resources } from "./resources.ts";
import { hasFile, readCgroupFile, writeCgroupFile } from "./_fs.ts";
import { CgroupError } from "./errors.ts";

/**
 * --blkio-weight (cgroup v1 blkio.weight, 10..1000) → io.weight (1..10000),
 * the linear conversion runc and crun use: 1 + (w - 10) * 9999 / 990.
 */
export function blkioToIoWeight(weight: number): number {
  return weight === 0 ? 0 : 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** The io.max line for one device ("8:0 rbps=1048576 wiops=100"). */
export function ioMaxLine(t: DeviceThrottle): string {
  const parts = [`${t.major}:${t.minor}`];
  for (const key of ["rbps", "wbps", "riops", "wiops"] as const) {
    if (t[key] !== undefined) parts.push(`${key}=${t[key]}`);
  }
  return parts.join(" ");
}

/** Merge throttles of the same device into one entry (several flags may name one device). */
export function mergeThrottles(list: readonly DeviceThrottle[]): DeviceThrottle[] {
  const byDev = new Map<string, DeviceThrottle>();
  for (const t of list) {
    const key = `${t.major}:${t.minor}`;
    byDev.set(key, { ...byDev.get(key), ...t });
  }
  return [...byDev.values()];
}

/**
 * Write the I/O weight and throttles into the cgroup at dir. The weight goes
 * to io.bfq.weight (same scale as --blkio-weight) when the BFQ scheduler is
 * in use, else to io.weight, as runc does.
 */
export async function applyIo(dir: string, io: Resources["io"]): Promise<void> {
  if (!io) return;
  if (io.blkioWeight !== undefined) {
    if (hasFile(dir, "io.bfq.weight")) {
      await writeCgroupFile(dir, "io.bfq.weight", String(io.blkioWeight));
    } else if (hasFile(dir, "io.weight")) {
      await writeCgroupFile(dir, "io.weight", `default ${blkioToIoWeight(io.blkioWeight)}`);
    } else {
      throw new CgroupError("Cannot set --blkio-weight: this kernel offers neither io.weight nor io.bfq.weight", {
        path: `${dir}/io.weight`,
        hint:
          "proportional I/O weights need the BFQ I/O scheduler or blk-iocost in the kernel; leave out --blkio-weight",
      });
    }
  }
  for (const t of mergeThrottles(io.throttle ?? [])) {
    await writeCgroupFile(
      dir,
      "io.max",
      ioMaxLine(t),
      `the kernel refused the throttle for "${t.path}" (${t.major}:${t.minor}): it must be a whole disk, not a partition`,
    );
  }
}

/** I/O counters summed over all devices, and per device. */
export interface IoStats {
  /** Bytes read. */
  readBytes: number;
  /** Bytes written. */
  writeBytes: number;
  /** Read operations. */
  readOps: number;
  /** Write operations. */
  writeOps: number;
  /** Per device ("8:0") counters from io.stat. */
  devices: Record<string, Record<string, number>>;
}

/** Parse io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" lines). */
export function parseIoStat(text: string | undefined): IoStats {
  const out: IoStats = { readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0, devices: {} };
  for (const line of (text ?? "").split("\n")) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    if (!dev || !/^\d+:\d+$/.test(dev)) continue;
    const counters: Record<string, number> = {};
    for (const pair of kv) {
      const [k, v] = pair.split("=");
      if (k && v && /^\d+$/.test(v)) counters[k] = Number(v);
    }
    out.devices[dev] = counters;
    out.readBytes += counters.rbytes ?? 0;
    out.writeBytes += counters.wbytes ?? 0;
    out.readOps += counters.rios ?? 0;
    out.writeOps += counters.wios ?? 0;
  }
  return out;
}

/** Read io.stat; undefined without the controller. */
export async function readIoStats(dir: string): Promise<IoStats | undefined> {
  const text = await readCgroupFile(dir, "io.stat");
  return text === undefined ? undefined : parseIoStat(text);
}
