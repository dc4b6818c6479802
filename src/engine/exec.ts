import { addBeforeExec, addBeforeSetid, type SecuritySpec } from "../security/mod.ts";
/**
 * `nook exec`: a plan that joins every namespace of a running container and
 * forks, so the new process is inside its pid namespace too, then sets up the
 * process like `run` does (cwd, rlimits, umask, ids, terminal) and execs.
 */
import { execCandidates } from "./build_plan.ts";
import type { ProcessSpec } from "../model/container.ts";
import { readTextInRoot } from "./in_root.ts";
import { resolveUser } from "./user.ts";
import { CLONE, O, Plan, SetIdFlag, SIGNALS } from "../plan/mod.ts";
import { ContainerError } from "./errors.ts";
import { CLONE_FLAG, differingNamespaces, JOIN_ORDER } from "./namespaces.ts";
import { NAMESPACE_FILES } from "../model/oci.ts";
import type { ContainerRecord } from "./store.ts";

/** Namespaces in the order they are joined (see {@link JOIN_ORDER}): the /proc/PID/ns file name and the clone flag. */
export const EXEC_NAMESPACES: readonly { ns: string; flag: number }[] = JOIN_ORDER.map((t) => ({
  ns: NAMESPACE_FILES[t],
  flag: CLONE_FLAG[t],
}));

/** The process to start in the container: run's process, without --init (it joins the container's own pid 1). */
export type ExecProcess = Omit<ProcessSpec, "init">;

/** How to build the exec plan. */
export interface ExecPlanOptions {
  /** -d: nobody waits; stdio goes to /dev/null and the process outlives nook. */
  detach: boolean;
  /** The container's user namespace denies setgroups (single-id mapping). */
  skipSetgroups: boolean;
  /** The container's security settings for this process (see execSecurity); none for an unconfined container. */
  security?: SecuritySpec;
}

/** Namespaces of `pid` that differ from nook's own (joining one's own namespace is not needed, and not allowed for some). */
export function namespacesToJoin(pid: number): { ns: string; flag: number }[] {
  return differingNamespaces(pid).map((t) => ({ ns: NAMESPACE_FILES[t], flag: CLONE_FLAG[t] }));
}

/** The plan of an exec into the container whose pid 1 is `pid`. */
export function buildExecPlan(pid: number, joins: readonly { ns: string; flag: number }[], proc: ExecProcess, opts: ExecPlanOptions): Plan {
  const p = new Plan(0);
  for (const { ns, flag } of joins) p.setns(`/proc/${pid}/ns/${ns}`, flag);
  // setns(CLONE_NEWPID) only applies to children: fork into the container's pid namespace.
  p.fork();
  if (!opts.detach) p.pdeathsig(SIGNALS.SIGKILL!);
  if (proc.terminal) p.pty("/dev/pts/ptmx", proc.consoleSize?.[0] ?? 0, proc.consoleSize?.[1] ?? 0);
  if (!proc.stdin) p.openFd("/dev/null", O.RDONLY, 0, 0);
  if (opts.detach && !proc.terminal) {
    p.openFd("/dev/null", O.WRONLY, 0, 1);
    p.openFd("/dev/null", O.WRONLY, 0, 2);
  }
  p.chdir(proc.cwd);
  for (const [res, soft, hard] of proc.rlimits) p.setrlimit(res, soft, hard);
  p.umask(proc.umask);
  // the same order as a container's own process (src/container/build_plan.ts)
  if (opts.security) addBeforeSetid(p, opts.security);
  const keepCaps = opts.security ? SetIdFlag.KEEP_CAPS : 0;
  if (proc.uid !== 0 || proc.gid !== 0 || proc.groups.length > 0 || !opts.skipSetgroups || opts.security) {
    p.setid(proc.uid, proc.gid, proc.groups, (opts.skipSetgroups ? SetIdFlag.SKIP_SETGROUPS : 0) | keepCaps);
  }
  if (opts.security) addBeforeExec(p, opts.security);
  p.exec(execCandidates(proc.args[0]!, proc.env), proc.args, proc.env);
  return p;
}

/** What the user asked `exec` for. */
export interface ExecRequest {
  /** The command. */
  args: string[];
  /** -e entries, merged over the container's environment. */
  env: string[];
  /** -u USER[:GROUP]. */
  user?: string | undefined;
  /** -w DIR. */
  workdir?: string | undefined;
  /** -t */
  tty: boolean;
  /** -i */
  stdin: boolean;
  /** -d */
  detach: boolean;
  /** Terminal size. */
  consoleSize?: [number, number];
}

/** Resolve the exec's process from the container's record and the request (user names from the container's /etc/passwd). */
export function execProcess(rec: ContainerRecord, pid: number, req: ExecRequest, mergeEnv: (e: string[]) => string[]): ExecProcess {
  const base = rec.spec.process;
  let uid = base.uid, gid = base.gid, groups = base.groups;
  const extraEnv: string[] = [];
  if (req.user !== undefined) {
    const root = `/proc/${pid}/root`;
    const u = resolveUser(req.user, readTextInRoot(root, "/etc/passwd"), readTextInRoot(root, "/etc/group"));
    ({ uid, gid, groups } = u);
    extraEnv.push(`HOME=${u.uid === 0 && u.home === "/" ? "/root" : u.home}`);
  }
  const cwd = req.workdir ?? base.cwd;
  if (!cwd.startsWith("/")) {
    throw new ContainerError(`The working directory "${cwd}" is not an absolute path`, { hint: "use -w /path" });
  }
  return {
    args: req.args,
    env: mergeEnv([...base.env, ...extraEnv, ...(req.tty ? ["TERM=xterm"] : []), ...req.env]),
    cwd,
    uid,
    gid,
    groups,
    terminal: req.tty,
    stdin: req.stdin,
    umask: base.umask,
    rlimits: base.rlimits,
    ...(req.consoleSize ? { consoleSize: req.consoleSize } : {}),
  };
}
