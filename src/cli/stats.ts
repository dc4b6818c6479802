import { UsageError } from "../errors/mod.ts";
import { type CgroupStats, chooseManager, cpuPercent, memoryUsage, readStats } from "../cgroupv2/mod.ts";
import { cgroupExists } from "../cgroupv2/container_cgroup.ts";
import {
  ContainerError,
  currentStatus,
  isActive,
  listIds,
  readRecord,
  resolveContainer,
} from "../engine/mod.ts";
import { bool, type OptionSpec, parseCommand, str } from "./_args.ts";
import type { CommandSpec } from "./commands.ts";
import { write } from "./_io.ts";

const OPTIONS: readonly OptionSpec[] = [
  {
    name: "no-stream",
    type: "bool",
    help: "Print one sample and exit (default: refresh every second until interrupted)",
  },
  {
    name: "format",
    type: "string",
    value: "FORMAT",
    help: "table (default) or json (one object per container and line, numbers in bytes and µs)",
  },
  { name: "help", type: "bool", help: "Show this help" },
];

/** `nook stats`. */
export const spec: CommandSpec = {
  name: "stats",
  usage: "stats [OPTIONS] [CONTAINER...]",
  summary: "Show the CPU, memory, PIDs and block I/O use of running containers, read from their cgroups.",
  options: OPTIONS,
  examples: ["nook stats", "nook stats --no-stream --format json", "nook stats 3f2a"],
  positional: "container",
};

/** A running container with a cgroup of its own, as its record says. */
export interface StatsTarget {
  /** Container id. */
  id: string;
  /** Its name. */
  name: string;
  /** Its cgroup directory. */
  path: string;
}

/** Why a container has no stats, or its target (it runs, and its cgroup exists). */
function target(id: string): StatsTarget | string {
  const rec = readRecord(id);
  if (!rec) return "it was removed";
  if (!isActive(currentStatus(id))) return "it is not running";
  if (!rec.cgroup || !cgroupExists(rec.cgroup)) {
    const choice = chooseManager();
    return `it has no cgroup of its own${choice.kind === "none" ? ` (${choice.reason})` : ""}`;
  }
  return { id, name: rec.name, path: rec.cgroup.path };
}

/** Every running container that has a cgroup of its own (foreground or detached), by id. */
export function statsTargets(): StatsTarget[] {
  return listIds().sort().map(target).filter((t): t is StatsTarget => typeof t !== "string");
}

/** One container's figures between two samples. */
export interface StatsRow {
  /** Container id. */
  ID: string;
  /** Name, or "". */
  Name: string;
  /** CPU use in percent of one CPU over the sampling interval. */
  CPUPerc: number;
  /** CPU time used since the start, µs (cpu.stat usage_usec). */
  CPUUsageUsec: number;
  /** Memory in use, bytes (memory.current minus inactive page cache, as docker counts it). */
  MemUsage: number | null;
  /** memory.current, bytes. */
  MemCurrent: number | null;
  /** memory.max, bytes; null when unlimited. */
  MemLimit: number | null;
  /** MemUsage in percent of the limit (or of the host's memory). */
  MemPerc: number | null;
  /** Processes killed by the OOM killer (memory.events oom_kill). */
  OOMKills: number;
  /** pids.current. */
  PIDs: number | null;
  /** pids.max; null when unlimited. */
  PIDsLimit: number | null;
  /** Bytes read from block devices (io.stat). */
  BlockRead: number | null;
  /** Bytes written to block devices (io.stat). */
  BlockWrite: number | null;
  /** The container's cgroup. */
  CgroupPath: string;
}

function hostMemory(): number | null {
  try {
    const m = /^MemTotal:\s+(\d+) kB/m.exec(Deno.readTextFileSync("/proc/meminfo"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Figures for one container from two samples of its cgroup. */
export function statsRow(rec: StatsTarget, before: CgroupStats, after: CgroupStats, hostMem: number | null): StatsRow {
  const mem = after.memory;
  const limit = mem && mem.max !== "max" ? mem.max : null;
  const usage = mem ? memoryUsage(mem) : null;
  const base = limit ?? hostMem;
  return {
    ID: rec.id,
    Name: rec.name,
    CPUPerc: Math.round(cpuPercent(before, after) * 100) / 100,
    CPUUsageUsec: after.cpu?.usageUsec ?? 0,
    MemUsage: usage,
    MemCurrent: mem?.current ?? null,
    MemLimit: limit,
    MemPerc: usage !== null && base ? Math.round((usage / base) * 10000) / 100 : null,
    OOMKills: mem?.events.oom_kill ?? 0,
    PIDs: after.pids?.current ?? null,
    PIDsLimit: after.pids && after.pids.max !== "max" ? after.pids.max : null,
    BlockRead: after.io?.readBytes ?? null,
    BlockWrite: after.io?.writeBytes ?? null,
    CgroupPath: rec.path,
  };
}

/** 1.5MiB (binary, for memory, as docker). */
export function binarySize(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0).replace(/\.?0+$/, "")}${units[i]}`;
}

/** 12.3MB (decimal, for block I/O, as docker). */
export function decimalSize(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) (n /= 1000), i++;
  return `${i === 0 ? n : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0).replace(/\.?0+$/, "")}${units[i]}`;
}

/** The table docker prints. */
export function formatTable(rows: readonly StatsRow[], hostMem: number | null): string {
  const header = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "BLOCK I/O", "PIDS"];
  const cells = rows.map((r) => [
    r.ID.slice(0, 12),
    r.Name || "--",
    `${r.CPUPerc.toFixed(2)}%`,
    r.MemUsage === null ? "--" : `${binarySize(r.MemUsage)} / ${binarySize(r.MemLimit ?? hostMem ?? 0)}`,
    r.MemPerc === null ? "--" : `${r.MemPerc.toFixed(2)}%`,
    r.BlockRead === null ? "--" : `${decimalSize(r.BlockRead)} / ${decimalSize(r.BlockWrite ?? 0)}`,
    r.PIDs === null ? "--" : String(r.PIDs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]! + 3))).join("");
  return [line(header), ...cells.map(line)].join("\n") + "\n";
}

/** Run it. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  const format = str(a, "format") ?? "table";
  if (format !== "table" && format !== "json") {
    throw new UsageError(`Unknown format "${format}"`, { hint: "use --format table or --format json" });
  }
  const stream = !bool(a, "no-stream");
  const hostMem = hostMemory();

  // named containers: as every command resolves them; each must run and have a cgroup
  const named = a.rest.map((ref) => {
    const id = resolveContainer(ref);
    const t = target(id);
    if (typeof t === "string") {
      throw new ContainerError(`No stats for container "${ref}": ${t}`, {
        hint: t.startsWith("it has no cgroup")
          ? "stats are read from a container's own cgroup, which needs cgroup v2 delegated to you (nook info shows why not)"
          : "nook stats shows running containers; nook ps lists them",
      });
    }
    return t.id;
  });
  const select = (): StatsTarget[] => {
    const all = statsTargets();
    return named.length ? all.filter((t) => named.includes(t.id)) : all;
  };

  let records = select();
  if (records.length === 0 && a.rest.length === 0) {
    const choice = chooseManager();
    if (choice.kind === "none") {
      await write(`nook: containers here get no cgroup, so there are no stats: ${choice.reason}\n`, true);
    }
  }
  let before = new Map<string, CgroupStats>();
  for (const r of records) {
    const s = await readStats(r.path);
    if (s) before.set(r.id, s);
  }
  for (let frame = 0;; frame++) {
    await new Promise((res) => setTimeout(res, frame === 0 ? 500 : 1000));
    const rows: StatsRow[] = [];
    const next = new Map<string, CgroupStats>();
    for (const r of records) {
      const s = await readStats(r.path);
      const b = before.get(r.id);
      if (!s) continue; // it ended meanwhile
      next.set(r.id, s);
      if (b) rows.push(statsRow(r, b, s, hostMem));
    }
    const text = format === "json" ? rows.map((r) => JSON.stringify(r) + "\n").join("") : formatTable(rows, hostMem);
    await write((stream && format === "table" ? "\x1b[2J\x1b[H" : "") + text);
    if (!stream) return 0;
    before = next;
    records = select();
    for (const r of records) {
      if (!before.has(r.id)) {
        const s = await readStats(r.path);
        if (s) before.set(r.id, s);
      }
    }
  }
}
