/**
 * The runtime-spec lifecycle: create (create.ts), start, state, kill,
 * delete, pause/resume — the light commands, which load no plan encoder or
 * seccomp code. Each checks the state as runc does and words runc's errors;
 * the work is the engine's verb (src/engine: start, kill, delete, pause,
 * state), which gets the OCI hooks as callbacks.
 *
 *   create  clone → namespaces, mounts → [create hooks] → pivot_root … →
 *           SYNC created: the pid file and state are written, `create` exits;
 *           the process waits on exec.fifo (reparented to the engine's
 *           subreaper, e.g. conmon — so no parent-death signal here)
 *   start   [startContainer hooks, in the container's namespaces] → one byte
 *           into exec.fifo (the process execs) → exec.fifo removed →
 *           [poststart hooks]
 *   kill    pidfd_open + start-time check → pidfd_send_signal
 *   pause   cgroup.freeze
 *   delete  (stopped, or --force: SIGKILL and wait) → state removed →
 *           [poststop hooks]
 *
 * @module
 */
import { killRuntimeContainer } from "../engine/kill.ts";
import { deleteRuntimeContainer } from "../engine/delete.ts";
import { freezeContainer } from "../engine/pause.ts";
import { listRuntimeRecords, removeRuntimeContainerDir, type RuntimeRecord } from "../engine/runtime_record.ts";
import { releaseRuntimeContainer } from "../engine/start.ts";
import { ociState, runtimeStatus } from "../engine/state.ts";
export { containerProcesses } from "../engine/state.ts";
import { signalNumber } from "../engine/signals.ts";
import type { OciState } from "../model/oci.ts";
import { SIGNALS } from "../plan/linux.ts";
import { absolute } from "./config.ts";
import { OciError } from "./errors.ts";
import { runHooks } from "./hooks.ts";
import type { RuntimeLog } from "./log.ts";
import { checkId, loadRecord } from "./state.ts";

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

/**
 * startContainer hooks (in the container's namespaces), then the engine lets the process exec
 * and exec.fifo goes. A failing hook stops the container (the spec's rule).
 */
export async function releaseProcess(ctx: RuntimeContext, rec: RuntimeRecord, pid: number): Promise<void> {
  await releaseRuntimeContainer(
    ctx.root,
    rec,
    pid,
    () =>
      runHooks("startContainer", rec.hooks.startContainer, { ...ociState(ctx.root, rec), status: "created" }, {
        inContainer: pid,
        log: ctx.log,
      }),
  );
}

/** `start`: let a created container's process run its program. */
export async function startContainer(ctx: RuntimeContext, idArg: string | undefined): Promise<void> {
  const id = checkId(idArg);
  const rec = loadRecord(ctx.root, id);
  const status = runtimeStatus(ctx.root, rec);
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
  const status = runtimeStatus(ctx.root, rec);
  if (status !== "created" && status !== "running" && status !== "paused") {
    throw new OciError(`cannot kill container "${id}": it is ${status}`, {
      hint: "only created or running containers get signals",
    });
  }
  if (!(await killRuntimeContainer(rec, signal, all))) {
    throw new OciError(`cannot kill container "${id}": its process has exited`);
  }
}

/** `delete`: remove a stopped (or, with force, any) container and run its poststop hooks. */
export async function deleteContainer(ctx: RuntimeContext, idArg: string | undefined, force: boolean): Promise<void> {
  const id = checkId(idArg);
  let rec: RuntimeRecord;
  try {
    rec = loadRecord(ctx.root, id);
  } catch (err) {
    if (!force) throw err;
    removeRuntimeContainerDir(ctx.root, id); // runc: forcing away what does not exist succeeds
    return;
  }
  const status = runtimeStatus(ctx.root, rec);
  if ((status === "running" || status === "paused") && !force) {
    throw new OciError(`cannot delete container "${id}" that is not stopped: ${status}`, {
      hint: "stop it first (kill), or use delete --force",
    });
  }
  if (status === "creating" && !force) {
    throw new OciError(`cannot delete container "${id}": it is still being created`, { hint: "use delete --force" });
  }
  const poststop = (state: OciState) =>
    runHooks("poststop", rec.hooks.poststop, state, { warnOnly: true, log: ctx.log });
  if (!(await deleteRuntimeContainer(ctx.root, rec, status, poststop))) {
    throw new OciError(`container "${id}" did not stop within 10 s of SIGKILL`, { hint: "try delete --force again" });
  }
}

/** `state`: the runtime-spec state of one container. */
export function containerState(ctx: RuntimeContext, idArg: string | undefined): OciState {
  const id = checkId(idArg);
  return ociState(ctx.root, loadRecord(ctx.root, id));
}

/** `list`: the states of every container. */
export function listContainers(ctx: RuntimeContext): OciState[] {
  return listRuntimeRecords(ctx.root).map((r) => ociState(ctx.root, r));
}

/** `pause`/`resume`: freeze or thaw a container's cgroup (cgroup.freeze). */
export async function pauseContainer(ctx: RuntimeContext, idArg: string | undefined, pause: boolean): Promise<void> {
  const id = checkId(idArg);
  const rec = loadRecord(ctx.root, id);
  const status = runtimeStatus(ctx.root, rec);
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
  await freezeContainer(rec.cgroup, pause);
}
