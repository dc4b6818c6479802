/**
 * `events`: a container's statistics in runc's JSON, once (`--stats`) or
 * every `--interval` until it stops, with an `oom` event when the kernel's
 * OOM killer struck in between — read from the cgroup v2 files of the
 * container's cgroup. runc's field names and units: CPU times in
 * nanoseconds, memory in bytes.
 *
 * @module
 */
import { lazyImport } from "../lazy/mod.ts";
import type { CgroupStats } from "../cgroupv2/stats.ts";
import type { RuntimeContext } from "./lifecycle.ts";
import { OciError } from "./errors.ts";
import { checkId, loadRecord } from "./state.ts";
import { runtimeStatus } from "../engine/state.ts";

/** One line of `events`: runc's event object. */
export interface RuntimeEvent {
  /** "stats" or "oom". */
  type: "stats" | "oom";
  /** Container id. */
  id: string;
  /** The statistics (stats events). */
  data?: Record<string, unknown>;
}

/**
 * runc's memory limit when memory.max is "max": Go's math.MaxUint64, which a JavaScript number
 * cannot hold; written as that exact JSON number (a reader decoding into uint64 gets it whole).
 * runc reports an unlimited pids.max as 0, and so does this.
 */
const NO_MEMORY_LIMIT: unknown = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON("18446744073709551615");

/** cgroup v2 counters as runc's `types.Stats`. */
export function runcStats(s: CgroupStats): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (s.cpu) {
    out.cpu = {
      usage: {
        total: s.cpu.usageUsec * 1000,
        kernel: s.cpu.systemUsec * 1000,
        user: s.cpu.userUsec * 1000,
      },
      throttling: { throttled_periods: s.cpu.nrThrottled, throttled_time: s.cpu.throttledUsec * 1000 },
    };
  }
  if (s.memory) {
    const m = s.memory;
    out.memory = {
      usage: { usage: m.current, limit: m.max === "max" ? NO_MEMORY_LIMIT : m.max, failcnt: m.events.max ?? 0 },
      swap: { usage: m.swapCurrent },
      cache: m.stat.file ?? 0,
      raw: m.stat,
    };
  }
  if (s.pids) out.pids = { current: s.pids.current, limit: s.pids.max === "max" ? 0 : s.pids.max };
  if (s.io) {
    const entries = (op: string, key: string) =>
      Object.entries(s.io!.devices).map(([dev, c]) => {
        const [major, minor] = dev.split(":").map(Number);
        return { major, minor, op, value: c[key] ?? 0 };
      });
    out.blkio = {
      ioServiceBytesRecursive: [...entries("Read", "rbytes"), ...entries("Write", "wbytes")],
      ioServicedRecursive: [...entries("Read", "rios"), ...entries("Write", "wios")],
    };
  }
  return out;
}

/** Parse a Go-style duration ("5s", "500ms", "1m"); runc's default is 5s. */
export function parseInterval(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m || Number(m[1]) <= 0) throw new OciError(`--interval takes a duration such as 5s or 500ms, not "${text}"`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
}

/**
 * Print events as JSON lines through `emit`: one stats event (`once`), or
 * one every `intervalMs` while the container runs.
 */
export async function containerEvents(
  ctx: RuntimeContext,
  idArg: string | undefined,
  opts: { once: boolean; intervalMs: number; emit: (e: RuntimeEvent) => Promise<void> },
): Promise<void> {
  const id = checkId(idArg);
  const rec = loadRecord(ctx.root, id);
  const status = runtimeStatus(ctx.root, rec);
  if (status === "stopped") throw new OciError(`container "${id}" is stopped: it has no statistics`);
  if (!rec.cgroup) {
    throw new OciError(`container "${id}" has no cgroup of its own: there are no statistics to read`, {
      hint:
        "statistics come from the container's cgroup: as root on a cgroup v2 host, or rootless where a cgroup v2 subtree is delegated to your user",
    });
  }
  const { readStats, oomKillCount } = await lazyImport<typeof import("../cgroupv2/stats.ts")>("cgroupv2/stats.ts");
  const path = rec.cgroup.path;
  let ooms = await oomKillCount(path);
  for (;;) {
    const s = await readStats(path);
    if (!s) return; // the cgroup is gone: the container stopped
    const now = await oomKillCount(path);
    if (now > ooms) await opts.emit({ type: "oom", id });
    ooms = now;
    await opts.emit({ type: "stats", id, data: runcStats(s) });
    if (opts.once) return;
    await new Promise((r) => setTimeout(r, opts.intervalMs));
    try {
      if (runtimeStatus(ctx.root, loadRecord(ctx.root, id)) === "stopped") return;
    } catch {
      return; // deleted meanwhile
    }
  }
}
