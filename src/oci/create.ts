/**
 * `create` and `run`: config.json → plan → a process waiting for `start`
 * (or, for `run`, started at once and waited for). The heavy half of the
 * runtime (plans, seccomp, launching); `start`, `kill`, `delete` and
 * `state` live in lifecycle.ts and load none of it.
 *
 * @module
 */
import { closeFd, pidfdKill } from "../ffi/mod.ts";
import { launch, type Launched } from "../launch/mod.ts";
import { resolveInRoot } from "../engine/in_root.ts";
import { execCandidates } from "../engine/build_plan.ts";
import { SIGNALS } from "../plan/mod.ts";
import { applyIdMapping, userName } from "../userns/mod.ts";
import { absolute, type OciConfig, parseConfig } from "./config.ts";
import { buildCreatePlan, SYNC_TAG } from "./plan_spec.ts";
import { type CgroupRequest, containerCgroup, hostCgroup2, type OciCgroup, parseCgroupsPath } from "./cgroups.ts";
import { OciError } from "./errors.ts";
import { runHooks } from "./hooks.ts";
import { deleteContainer, releaseProcess, type RuntimeContext, writePidFile } from "./lifecycle.ts";
import { checkId } from "./state.ts";
import {
  execFifoPath,
  removeRuntimeContainerDir,
  runtimeContainerDir,
  type RuntimeRecord,
  writeRuntimeRecord,
} from "../engine/runtime_record.ts";
import { ociState } from "../engine/state.ts";
import type { OciState } from "../model/oci.ts";
import { procStat } from "../proc/mod.ts";
import { mkfifo, sendFd } from "./_shim.ts";
import { attachForeground, SignalForwarder } from "../engine/attach.ts";

/** `create` and `run`'s options. */
export interface CreateRequest {
  /** Container id. */
  id: string;
  /** Bundle directory (default: the current directory). */
  bundle?: string;
  /** Write the process's pid here. */
  pidFile?: string;
  /** Send the pty master to this AF_UNIX socket. */
  consoleSocket?: string;
  /** chroot instead of pivot_root. */
  noPivot?: boolean;
  /** Pass fds 3..3+N-1 to the process. */
  preserveFds?: number;
}

/** A checked bundle: its absolute path and config. */
export function readBundle(bundle: string | undefined): { bundle: string; config: OciConfig } {
  const dir = absolute(bundle ?? ".", Deno.cwd());
  let text: string;
  try {
    text = Deno.readTextFileSync(`${dir}/config.json`);
  } catch (err) {
    throw new OciError(`Cannot read "${dir}/config.json": ${(err as Error).message}`, {
      path: `${dir}/config.json`,
      hint: "point --bundle at a directory with config.json (`nook runtime spec` writes one)",
    });
  }
  const config = parseConfig(text, dir);
  try {
    if (!Deno.statSync(config.root.path).isDirectory) throw new Error("not a directory");
  } catch {
    throw new OciError(`config.json: "root.path" is "${config.root.path}", which is not a directory`, {
      path: config.root.path,
      hint: "unpack the root filesystem there, or fix root.path (relative paths are taken from the bundle)",
    });
  }
  return { bundle: dir, config };
}

/** Refuse a process whose program is in no candidate path of the rootfs (runc reports this at create). */
function checkProgram(cfg: OciConfig, candidates: readonly string[]): void {
  const arg0 = cfg.process!.args[0]!;
  const under = (p: string) => cfg.mounts.some((m) => p === m.destination || p.startsWith(m.destination + "/"));
  if (candidates.some((c) => under(c) || resolveInRoot(cfg.root.path, c) !== undefined)) return;
  const msg = arg0.includes("/")
    ? `exec: "${arg0}": stat ${arg0}: no such file or directory`
    : `exec: "${arg0}": executable file not found in $PATH`;
  throw new OciError(msg, { exitCode: 127, hint: "check process.args[0] and the PATH in process.env" });
}

/** What `createContainer` hands back. */
export interface Created {
  /** The record. */
  record: RuntimeRecord;
  /** The launched process (its pidfd is open; ptyMaster when it has a terminal and no console socket). */
  launched: Launched;
}

/**
 * Create a container: everything up to the process waiting for `start`.
 * With `startNow` (`run`), start it at once instead: the process execs
 * before this resolves and nook stays its parent.
 */
export async function createContainer(ctx: RuntimeContext, req: CreateRequest, startNow = false): Promise<Created> {
  const id = checkId(req.id);
  const { bundle, config } = readBundle(req.bundle);
  for (const u of config.unknown) {
    ctx.log.debug(`config.json: unknown property "${u}" ignored (runtime-spec: unknown properties are ignored)`);
  }
  const proc = config.process;
  if (proc?.terminal && !req.consoleSocket && !startNow) {
    throw new OciError("process.terminal is true, but no --console-socket was given to receive the terminal", {
      hint:
        "give --console-socket PATH (an AF_UNIX socket that receives the pty master), or set process.terminal false",
    });
  }
  const dir = runtimeContainerDir(ctx.root, id);
  const fifo = execFifoPath(ctx.root, id);
  const built = buildCreatePlan(config, {
    fifo,
    noPivot: req.noPivot ?? false,
    preserveFds: req.preserveFds ?? 0,
    hostCgroup2: hostCgroup2(),
    log: ctx.log,
  });
  checkProgram(config, execCandidates(proc!.args[0]!, proc!.env));
  const cgroupReq: CgroupRequest = { id, systemd: ctx.systemdCgroup };
  const cgPath = parseCgroupsPath(config.linux.cgroupsPath, ctx.systemdCgroup);
  if (cgPath) cgroupReq.path = cgPath;
  if (config.linux.resources) cgroupReq.resources = config.linux.resources;

  try {
    Deno.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      throw new OciError(`container "${id}" already exists`, { hint: "delete it first, or choose another id" });
    }
    throw err;
  }
  const self = procStat(Deno.pid)!;
  const rec: RuntimeRecord = {
    id,
    bundle,
    rootfs: config.root.path,
    ociVersion: config.ociVersion,
    created: new Date().toISOString(),
    owner: userName(Deno.uid()!) ?? String(Deno.uid()),
    annotations: config.annotations,
    phase: "creating",
    creator: { pid: Deno.pid, start: self.start },
    pid: 0,
    pidStart: "",
    hooks: {
      startContainer: config.hooks.startContainer,
      poststart: config.hooks.poststart,
      poststop: config.hooks.poststop,
    },
    process: proc!,
  };
  if (config.linux.seccomp) rec.seccomp = config.linux.seccomp;
  if (config.linux.cgroupsPath) rec.cgroupsPath = config.linux.cgroupsPath;
  let hooksRan = false;
  let launched: Launched | undefined;
  let cgroup: OciCgroup | undefined;
  try {
    writeRuntimeRecord(ctx.root, rec);
    cgroup = await containerCgroup(cgroupReq, ctx.log);
    await mkfifo(fifo, 0o600);
    const state = (status: OciState["status"], pid: number): OciState => ({
      ...ociState(ctx.root, rec),
      status,
      pid,
    });
    launched = await launch(built.plan, {
      beforeGo: async (pid) => {
        if (built.mapping && !built.mapsAtSync) await applyIdMapping(pid, built.mapping);
        await cgroup?.join(pid);
        const ref = cgroup?.ref();
        if (ref) {
          rec.cgroup = ref;
          writeRuntimeRecord(ctx.root, rec);
        }
        if (proc!.oomScoreAdj !== undefined) writeOomScoreAdj(pid, proc!.oomScoreAdj);
      },
      onSync: async (tag, pid) => {
        if (tag === SYNC_TAG.USERMAP && built.mapping) {
          await applyIdMapping(pid, built.mapping);
        } else if (tag === SYNC_TAG.HOOKS) {
          hooksRan = true;
          const s = state("creating", pid);
          await runHooks("prestart", config.hooks.prestart, s, { log: ctx.log });
          await runHooks("createRuntime", config.hooks.createRuntime, s, { log: ctx.log });
          await runHooks("createContainer", config.hooks.createContainer, s, { inContainer: pid, log: ctx.log });
        } else if (tag === SYNC_TAG.CREATED) {
          const st = procStat(pid);
          if (!st) throw new OciError("The container's process ended while it was being created");
          rec.phase = "created";
          rec.pid = pid;
          rec.pidStart = st.start;
          writeRuntimeRecord(ctx.root, rec);
          if (req.pidFile) writePidFile(req.pidFile, pid);
          if (startNow) await releaseProcess(ctx, rec, pid);
        }
      },
      ...(startNow ? {} : { returnAtSync: SYNC_TAG.CREATED }),
    });
    if (launched.ptyMaster >= 0 && req.consoleSocket) {
      // runc sends the master's name along; conmon and containerd only use the fd
      await sendFd(absolute(req.consoleSocket, Deno.cwd()), launched.ptyMaster, "/dev/ptmx");
      await closeFd(launched.ptyMaster);
      launched.ptyMaster = -1;
    }
  } catch (err) {
    if (launched) {
      await pidfdKill(launched.pidfd, SIGNALS.SIGKILL!).catch(() => {});
      await closeFd(launched.pidfd);
      await closeFd(launched.ptyMaster);
    }
    await cgroup?.remove().catch(() => {});
    removeRuntimeContainerDir(ctx.root, id);
    if (hooksRan) {
      // the spec: a failed create hook ends in the poststop hooks
      await runHooks("poststop", config.hooks.poststop, { ...ociState(ctx.root, rec), status: "stopped", pid: 0 }, {
        warnOnly: true,
        log: ctx.log,
      });
    }
    throw err;
  }
  return { record: rec, launched };
}

function writeOomScoreAdj(pid: number, value: number): void {
  try {
    Deno.writeTextFileSync(`/proc/${pid}/oom_score_adj`, String(value));
  } catch (err) {
    throw new OciError(`config.json: "process.oomScoreAdj" ${value} cannot be set: ${(err as Error).message}`, {
      hint: "lowering the OOM score below nook's own needs CAP_SYS_RESOURCE on the host; use a value at or above it",
    });
  }
}

/**
 * `run`: create and start in one go, then (unless detached) wait for the
 * process, relaying its terminal, and delete the container.
 */
export async function runBundle(
  ctx: RuntimeContext,
  req: CreateRequest & { detach: boolean; keep: boolean },
): Promise<number> {
  if (req.detach && !req.consoleSocket && readBundle(req.bundle).config.process?.terminal) {
    throw new OciError("run --detach with process.terminal needs --console-socket to receive the terminal", {
      hint: "give --console-socket PATH, or run in the foreground to use this terminal",
    });
  }
  // listen before the process exists (see SignalForwarder); a detached run forwards nothing
  const signals = req.detach ? undefined : new SignalForwarder();
  let created: Created;
  try {
    created = await createContainer(ctx, req, true);
  } catch (err) {
    signals?.close();
    throw err;
  }
  const { launched, record } = created;
  await runHooks("poststart", record.hooks.poststart, ociState(ctx.root, record), { warnOnly: true, log: ctx.log });
  if (!signals) {
    await closeFd(launched.pidfd);
    await closeFd(launched.ptyMaster);
    return 0;
  }
  try {
    return await attachForeground(launched, true, {}, signals);
  } finally {
    if (!req.keep) await deleteContainer(ctx, record.id, true).catch((e) => ctx.log.warn(String(e?.message ?? e)));
  }
}
