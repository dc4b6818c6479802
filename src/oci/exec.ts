/**
 * `exec`: run another process in a container. The engine's exec verb
 * (src/engine/exec.ts) builds the plan — the container's namespaces joined in
 * its one order, a fork when the pid namespace is joined, the one process
 * setup — launches it in the container's cgroup and attaches; this front door
 * translates the OCI process (its capabilities, the container's seccomp
 * filter, the user) as `create` does, and keeps runc's pid file and console
 * socket.
 *
 * @module
 */
import { closeFd } from "../ffi/mod.ts";
import { buildExecPlan, launchExec } from "../engine/exec.ts";
import type { SecuritySpec } from "../security/mod.ts";
import { absolute, type OciProcess } from "./config.ts";
import { checkIds, processOptions, processSetup } from "./plan_spec.ts";
import { OciError } from "./errors.ts";
import { type RuntimeContext, writePidFile } from "./lifecycle.ts";
import { compileSeccomp, fitCapabilities, processSecurity, sameUserns } from "./security.ts";
import { checkId, loadRecord } from "./state.ts";
import { runtimeStatus } from "../engine/state.ts";
import { usernsView } from "./userns.ts";
import { sendFd } from "./_shim.ts";

/** What `exec` runs and how. */
export interface ExecRequest {
  /** Container id. */
  id: string | undefined;
  /** The process. */
  process: OciProcess;
  /** Return once it runs (its pid goes to the pid file) instead of waiting for it. */
  detach: boolean;
  /** Send its pty master here. */
  consoleSocket?: string;
  /** Write its pid here. */
  pidFile?: string;
  /** Pass fds 3..3+N-1 to it. */
  preserveFds: number;
}

/** Run a process in a container; resolves with 0 (detached) or its exit code. */
export async function execProcess(ctx: RuntimeContext, req: ExecRequest): Promise<number> {
  const id = checkId(req.id);
  const rec = loadRecord(ctx.root, id);
  const status = runtimeStatus(ctx.root, rec);
  if (status !== "running" && status !== "created") {
    throw new OciError(`cannot exec in container "${id}": it is ${status}`, { hint: "exec needs a running container" });
  }
  const proc = req.process;
  if (proc.terminal && req.detach && !req.consoleSocket) {
    throw new OciError("exec --tty --detach needs --console-socket to receive the terminal");
  }
  const pid = rec.pid;
  const view = usernsView(pid);
  checkIds(proc, view, "process");
  const security: SecuritySpec = { ...processSecurity(proc, "process", ctx.log), maskedPaths: [], readonlyPaths: [] };
  fitCapabilities(security, sameUserns(pid), "process", ctx.log);
  const filter = compileSeccomp(rec.seccomp, security.capabilities.bounding, ctx.log);
  if (filter) security.seccomp = filter;
  const p = buildExecPlan(pid, processSetup(proc), {
    ...processOptions(security, view, req.preserveFds, false),
    detach: req.detach,
  });
  return await launchExec(p, {
    cgroup: rec.cgroup,
    detach: req.detach,
    stdin: true,
    launched: async (launched) => {
      if (req.pidFile) writePidFile(req.pidFile, launched.pid);
      if (launched.ptyMaster >= 0 && req.consoleSocket) {
        await sendFd(absolute(req.consoleSocket, Deno.cwd()), launched.ptyMaster, "/dev/ptmx");
        await closeFd(launched.ptyMaster);
        launched.ptyMaster = -1;
      }
    },
  });
}

/** runc's `exec` without --process: the container's own process with these changes. */
export function processFromFlags(
  base: OciProcess,
  args: string[],
  flags: {
    cwd?: string | undefined;
    env: string[];
    user?: string | undefined;
    additionalGids: string[];
    caps: string[];
    noNewPrivs: boolean;
    tty: boolean;
  },
): OciProcess {
  if (args.length === 0) {
    throw new OciError("exec needs a command (or --process FILE)", { hint: "nook runtime exec ID sh -c 'echo hi'" });
  }
  const proc: OciProcess = structuredClone(base);
  proc.args = args;
  proc.terminal = flags.tty;
  delete proc.consoleSize;
  if (flags.cwd !== undefined) {
    if (!flags.cwd.startsWith("/")) throw new OciError(`--cwd must be an absolute path, not "${flags.cwd}"`);
    proc.cwd = flags.cwd;
  }
  proc.env = [...proc.env, ...flags.env];
  const num = (s: string, what: string) => {
    if (!/^\d+$/.test(s)) throw new OciError(`${what} must be numeric, not "${s}"`, { hint: "use --user UID[:GID]" });
    return Number(s);
  };
  if (flags.user !== undefined) {
    const [u = "", g] = flags.user.split(":", 2);
    proc.user = { ...proc.user, uid: num(u, "--user"), gid: g === undefined ? 0 : num(g, "--user's group") };
  }
  if (flags.additionalGids.length) {
    proc.user.additionalGids = flags.additionalGids.map((g) => num(g, "--additional-gids"));
  }
  if (flags.caps.length && proc.capabilities) {
    for (const set of ["bounding", "effective", "permitted", "inheritable", "ambient"] as const) {
      proc.capabilities[set] = [...new Set([...proc.capabilities[set], ...flags.caps])];
    }
  }
  if (flags.noNewPrivs) proc.noNewPrivileges = true;
  return proc;
}
