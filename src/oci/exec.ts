/**
 * `exec`: run another process in a container. The plan joins the
 * container's namespaces (user first: it grants the right to join the
 * others), forks once so a joined pid namespace applies, then sets the
 * process up as `create` does — terminal, cwd, rlimits, capabilities, the
 * container's seccomp filter, the user — and execs.
 *
 * @module
 */
import { lazyImport } from "../lazy/mod.ts";
import { closeFd } from "../ffi/mod.ts";
import { launch } from "../launch/mod.ts";
import { Plan } from "../plan/mod.ts";
import { execCandidates } from "../engine/build_plan.ts";
import type { SecuritySpec } from "../security/mod.ts";
import { absolute, type OciProcess } from "./config.ts";
import { addProcess, checkIds } from "./build_plan.ts";
import { CLONE_FLAG, differingNamespaces, nsFile } from "./namespaces.ts";
import { OciError } from "./errors.ts";
import { type RuntimeContext, writePidFile } from "./lifecycle.ts";
import { compileSeccomp, processSecurity } from "./security.ts";
import { checkId, loadRecord, statusOf } from "./state.ts";
import { usernsView } from "./userns.ts";
import { sendFd } from "./_shim.ts";
import { forwardSignals, waitForeground } from "./_foreground.ts";

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
  const status = statusOf(ctx.root, rec);
  if (status !== "running" && status !== "created") {
    throw new OciError(`cannot exec in container "${id}": it is ${status}`, { hint: "exec needs a running container" });
  }
  const proc = req.process;
  if (proc.terminal && req.detach && !req.consoleSocket) {
    throw new OciError("exec --tty --detach needs --console-socket to receive the terminal");
  }
  const pid = rec.pid;
  const p = new Plan(0);
  const join = differingNamespaces(pid);
  for (const type of join) p.setns(nsFile(pid, type), CLONE_FLAG[type]);
  if (join.includes("pid")) p.fork();
  const view = usernsView(pid);
  checkIds(proc, view, "process");
  const security: SecuritySpec = { ...processSecurity(proc, "process", ctx.log), maskedPaths: [], readonlyPaths: [] };
  const filter = compileSeccomp(rec.seccomp, security.capabilities.bounding, ctx.log);
  if (filter) security.seccomp = filter;
  addProcess(p, proc, security, view, req.preserveFds, false);
  p.exec(execCandidates(proc.args[0]!, proc.env), proc.args, proc.env);

  let pidfd = -1;
  const stop = req.detach ? () => {} : forwardSignals(() => pidfd);
  try {
    // the container's cgroup (issue #6): joined before the process forks into the container
    const cg = rec.cgroup
      ? await lazyImport<typeof import("../cgroupv2/container_cgroup.ts")>("cgroupv2/container_cgroup.ts")
      : undefined;
    const cgroup = rec.cgroup && cg?.cgroupExists(rec.cgroup) ? rec.cgroup : undefined;
    const launched = await launch(p, { beforeGo: (pid) => cgroup && cg?.attachToCgroup(cgroup, pid) });
    pidfd = launched.pidfd;
    if (req.pidFile) writePidFile(req.pidFile, launched.pid);
    let master = launched.ptyMaster;
    if (master >= 0 && req.consoleSocket) {
      await sendFd(absolute(req.consoleSocket, Deno.cwd()), master, "/dev/ptmx");
      await closeFd(master);
      master = -1;
    }
    if (req.detach) {
      await closeFd(master);
      await closeFd(launched.pidfd);
      return 0;
    }
    try {
      return await waitForeground(launched.pid, master);
    } finally {
      await closeFd(launched.pidfd);
    }
  } finally {
    stop();
  }
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
