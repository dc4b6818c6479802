/**
 * `state`: the runtime-spec state of a container kept for an OCI engine, read from its processes
 * and its FIFO, never stored — a process is named by pid *and* start time (/proc/PID/stat field
 * 22), so a recycled pid never passes for the container.
 *
 * @module
 */
import type { OciState, OciStatus } from "../model/oci.ts";
import { procStat } from "../proc/mod.ts";
import { execFifoPath, type RuntimeRecord } from "./runtime_record.ts";

/** True while pid is the process that started at `start` and has not exited (a zombie has). */
export function isAlive(pid: number, start: string): boolean {
  const st = procStat(pid);
  return st !== undefined && st.start === start && st.state !== "Z" && st.state !== "X";
}

/** True when the container's cgroup is frozen (`pause`). */
export function isFrozen(rec: RuntimeRecord): boolean {
  if (!rec.cgroup) return false;
  try {
    return Deno.readTextFileSync(`${rec.cgroup.path}/cgroup.freeze`).trim() === "1";
  } catch {
    return false;
  }
}

/** The status of a runtime container, from its processes, its FIFO and its cgroup. */
export function runtimeStatus(root: string, rec: RuntimeRecord): OciStatus {
  if (rec.phase === "creating") return isAlive(rec.creator.pid, rec.creator.start) ? "creating" : "stopped";
  if (!isAlive(rec.pid, rec.pidStart)) return "stopped";
  try {
    Deno.lstatSync(execFifoPath(root, rec.id));
    return "created";
  } catch {
    return isFrozen(rec) ? "paused" : "running";
  }
}

/** The runtime-spec state of a runtime container. */
export function ociState(root: string, rec: RuntimeRecord): OciState {
  const status = runtimeStatus(root, rec);
  return {
    ociVersion: rec.ociVersion,
    id: rec.id,
    status,
    pid: status === "stopped" ? 0 : rec.pid,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    owner: rec.owner,
    annotations: rec.annotations,
  };
}

/**
 * The processes of a container whose first process is (pid, start): everything in its pid
 * namespace when it has one of its own, else that process and its descendants.
 */
export function containerProcesses(pid: number, start: string): { pid: number; start: string }[] {
  const main = procStat(pid);
  if (!main || main.start !== start) return [];
  const own = (p: number | "self") => {
    try {
      return Deno.readLinkSync(`/proc/${p}/ns/pid`);
    } catch {
      return undefined;
    }
  };
  const ns = own(pid);
  const all: { pid: number; ppid: number; start: string }[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const st = procStat(Number(e.name));
    if (st && st.state !== "Z") all.push({ pid: Number(e.name), ppid: st.ppid, start: st.start });
  }
  if (ns !== undefined && ns !== own("self")) {
    return all.filter((p) => own(p.pid) === ns).map(({ pid, start }) => ({ pid, start }));
  }
  const out = new Map<number, string>([[pid, start]]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) {
      if (!out.has(p.pid) && out.has(p.ppid)) {
        out.set(p.pid, p.start);
        grew = true;
      }
    }
  }
  return [...out].map(([pid, start]) => ({ pid, start }));
}
