/**
 * The runtime-spec lifecycle: create (create.ts), start, state, kill,
 * delete — the light commands, which load no plan or seccomp code.
 *
 *   create  clone → namespaces, mounts → [create hooks] → pivot_root … →
 *           SYNC created: the pid file and state are written, `create` exits;
 *           the process waits on exec.fifo (reparented to the engine's
 *           subreaper, e.g. conmon — so no parent-death signal here)
 *   start   [startContainer hooks, in the container's namespaces] → one byte
 *           into exec.fifo (the process execs) → exec.fifo removed →
 *           [poststart hooks]
 *   kill    pidfd_open + start-time check → pidfd_send_signal
 *   delete  (stopped, or --force: SIGKILL and wait) → state removed →
 *           [poststop hooks]
 *
 * @module
 */
import { lazyImport } from "../lazy/mod.ts";
import { signalProcess as signalIdentified } from "../engine/proc.ts";
import { signalNumber } from "../engine/signals.ts";
import { SIGNALS } from "../plan/linux.ts";
import { absolute } from "./config.ts";
import { OciError } from "./errors.ts";
import { runHooks } from "./hooks.ts";
import type { RuntimeLog } from "./log.ts";
import {
  checkId,
  containerDir,
  type ContainerRecord,
  listRecords,
  loadRecord,
  type OciState,
  ociState,
  procStat,
  statusOf,
} from "./state.ts";

/** What every runtime command knows: its root, its log, the global flags. */
export interface RuntimeContext {
  /** The state root (`--root`). */
  root: string;
  /** The log (`--log`, `--log-format`, `--debug`). */
  log: RuntimeLog;
  /** `--systemd-cgroup`: cgroupsPath is `slice:prefix:name`. */
  systemdCgroup: boolean;
}

/** Write a pid file the way engines read it: the number alone, written to a temporary name and renamed. */
export function writePidFile(path: string, pid: number): void {
  const abs = absolute(path, Deno.cwd());
  const tmp = `${abs}.nook-${Deno.pid}`;
  Deno.writeTextFileSync(tmp, String(pid));
  Deno.renameSync(tmp, abs);
}

/** rm -rf, quietly. */
export function removeDir(dir: string): void {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch {
    // gone already
  }
}

/**
 * startContainer hooks, then the byte that lets the process exec, then
 * exec.fifo goes. A failing hook stops the container (the spec's rule).
 */
export async function releaseProcess(ctx: RuntimeContext, rec: ContainerRecord, pid: number): Promise<void> {
  try {
    await runHooks("startContainer", rec.hooks.startContainer, { ...ociState(ctx.root, rec), status: "created" }, {
      inContainer: pid,
      log: ctx.log,
    });
  } catch (err) {
    await signalProcess(pid, rec.pidStart, SIGNALS.SIGKILL!);
    throw err;
  }
  const fifo = `${containerDir(ctx.root, rec.id)}/exec.fifo`;
  // read-write: never blocks, even if the process just died (then the byte is simply dropped)
  const f = Deno.openSync(fifo, { read: true, write: true });
  try {
    f.writeSync(new Uint8Array([0x30]));
  } finally {
    f.close();
  }
  Deno.removeSync(fifo);
}

/** `start`: let a created container's process run its program. */
export async function startContainer(ctx: RuntimeContext, idArg: string | undefined): Promise<void> {
  const id = checkId(idArg);
  const rec = loadRecord(ctx.root, id);
  const status = statusOf(ctx.root, rec);
  if (status !== "created") {
    throw new OciError(`cannot start container "${id}": it is ${status}`, {
      hint: status === "stopped" ? "delete it and create it again" : "only a created container can be started",
    });
  }
  await releaseProcess(ctx, rec, rec.pid);
  await runHooks("poststart", rec.hooks.poststart, ociState(ctx.root, rec), { warnOnly: true, log: ctx.log });
}

/** A signal given as a name (KILL, SIGKILL, RTMIN+1) or a number; TERM when absent (runc's default). */
export function parseSignal(value: string | undefined): number {
  if (value === undefined) return SIGNALS.SIGTERM!;
  const n = signalNumber(value);
  if (n !== undefined) return n;
  throw new OciError(`Unknown signal "${value}"`, { hint: "use a name such as TERM, SIGKILL, or a number" });
}

/**
 * Signal one process identified by pid and start time, through the engine's
 * pidfd-then-check (src/engine/proc.ts): the signal can never reach a process
 * that merely reuses the pid.
 */
export function signalProcess(pid: number, start: string, signal: number): Promise<boolean> {
  return signalIdentified(pid, Number(start), signal);
}

/** Processes of a container: everything in its pid namespace, or its process and descendants. */
export function containerProcesses(rec: ContainerRecord): { pid: number; start: string }[] {
  const main = procStat(rec.pid);
  if (!main || main.start !== rec.pidStart) return [];
  const own = (p: number | "self") => {
    try {
      return Deno.readLinkSync(`/proc/${p}/ns/pid`);
    } catch {
      return undefined;
    }
  };
  const ns = own(rec.pid);
  const all: { pid: number; ppid: number; start: string }[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const st = procStat(Number(e.name));
    if (st && st.state !== "Z") all.push({ pid: Number(e.name), ppid: st.ppid, start: st.start });
  }
  if (ns !== undefined && ns !== own("self")) {
    return all.filter((p) => own(p.pid) === ns).map(({ pid, start }) => ({ pid, start }));
  }
  const out = new Map<number, string>([[rec.pid, rec.pidStart]]);
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

/** `kill`: signal the container's process (or, with `all`, every process of it). */
export async function killContainer(
  ctx: RuntimeContext,
  idArg: string | undefined,
  sig: string | undefined,
  all: boolean,
): Promise<void> {
  const id = checkId(idArg);
  const signal = parseSignal(sig);
  const rec = loadRecord(ctx.root, id);
  const status = statusOf(ctx.root, rec);
  if (status !== "created" && status !== "running" && status !== "paused") {
    throw new OciError(`cannot kill container "${id}": it is ${status}`, {
      hint: "only created or running containers get signals",
    });
  }
  if (all) {
    for (const p of containerProcesses(rec)) await signalProcess(p.pid, p.start, signal);
    return;
  }
  if (!(await signalProcess(rec.pid, rec.pidStart, signal))) {
    throw new OciError(`cannot kill container "${id}": its process has exited`);
  }
}

async function waitGone(rec: ContainerRecord, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (let i = 0; i < 10_000 && Date.now() < end; i++) {
    const st = procStat(rec.pid);
    if (!st || st.start !== rec.pidStart || st.state === "Z" || st.state === "X") return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

/** `delete`: remove a stopped (or, with force, any) container and run its poststop hooks. */
export async function deleteContainer(ctx: RuntimeContext, idArg: string | undefined, force: boolean): Promise<void> {
  const id = checkId(idArg);
  let rec: ContainerRecord;
  try {
    rec = loadRecord(ctx.root, id);
  } catch (err) {
    if (!force) throw err;
    removeDir(containerDir(ctx.root, id)); // runc: forcing away what does not exist succeeds
    return;
  }
  const status = statusOf(ctx.root, rec);
  if ((status === "running" || status === "paused") && !force) {
    throw new OciError(`cannot delete container "${id}" that is not stopped: ${status}`, {
      hint: "stop it first (kill), or use delete --force",
    });
  }
  if (status === "creating" && !force) {
    throw new OciError(`cannot delete container "${id}": it is still being created`, { hint: "use delete --force" });
  }
  const cg = rec.cgroup
    ? await lazyImport<typeof import("../cgroupv2/container_cgroup.ts")>("cgroupv2/container_cgroup.ts")
    : undefined;
  if (status === "paused") await cg?.freezeCgroup(rec.cgroup!.path, false); // frozen processes die only once thawed
  if (status === "created" || status === "running" || status === "paused") {
    // A created container never ran its program: runc deletes it without --force too.
    for (const p of containerProcesses(rec)) await signalProcess(p.pid, p.start, SIGNALS.SIGKILL!);
    await signalProcess(rec.pid, rec.pidStart, SIGNALS.SIGKILL!);
    if (!(await waitGone(rec, 10_000))) {
      throw new OciError(`container "${id}" did not stop within 10 s of SIGKILL`, { hint: "try delete --force again" });
    }
  } else if (status === "creating") {
    await signalProcess(rec.creator.pid, rec.creator.start, SIGNALS.SIGKILL!);
  }
  const state: OciState = { ...ociState(ctx.root, rec), status: "stopped", pid: 0 };
  if (rec.cgroup) await cg?.removeCgroup(rec.cgroup);
  removeDir(containerDir(ctx.root, id));
  await runHooks("poststop", rec.hooks.poststop, state, { warnOnly: true, log: ctx.log });
}

/** `state`: the runtime-spec state of one container. */
export function containerState(ctx: RuntimeContext, idArg: string | undefined): OciState {
  const id = checkId(idArg);
  return ociState(ctx.root, loadRecord(ctx.root, id));
}

/** `list`: the states of every container. */
export function listContainers(ctx: RuntimeContext): OciState[] {
  return listRecords(ctx.root).map((r) => ociState(ctx.root, r));
}

/** `pause`/`resume`: freeze or thaw a container's cgroup (cgroup.freeze). */
export async function pauseContainer(ctx: RuntimeContext, idArg: string | undefined, pause: boolean): Promise<void> {
  const id = checkId(idArg);
  const rec = loadRecord(ctx.root, id);
  const status = statusOf(ctx.root, rec);
  if (status !== (pause ? "running" : "paused")) {
    throw new OciError(`cannot ${pause ? "pause" : "resume"} container "${id}": it is ${status}`, {
      hint: pause ? "only a running container can be paused" : "only a paused container can be resumed",
    });
  }
  if (!rec.cgroup) {
    throw new OciError(
      `cannot ${pause ? "pause" : "resume"} container "${id}": it has no cgroup to ${pause ? "freeze" : "thaw"}`,
      {
        hint:
          "pausing needs the cgroup freezer; rootless containers get a cgroup only where a cgroup v2 subtree is delegated to the user (not on cgroup v1 or hybrid hosts)",
      },
    );
  }
  const { freezeCgroup } = await lazyImport<typeof import("../cgroupv2/container_cgroup.ts")>(
    "cgroupv2/container_cgroup.ts",
  );
  await freezeCgroup(rec.cgroup.path, pause);
}
