/**
 * The exec verb, for both front doors: a plan that joins a running container (its namespaces in
 * the one join order, and a fork so that a joined pid namespace applies), launched inside the
 * container's cgroup, then attached to in the foreground or left running. Both `nook exec` and
 * `nook runtime exec` build it with {@link buildExecPlan}; the process setup in it
 * ({@link addProcessSetup}, process_setup.ts) is also the end of `nook runtime create`'s plan. The runtime front
 * door translates config.json's process into the same {@link ProcessSetup} and SecuritySpec.
 *
 * @module
 */
import { execCandidates } from "./build_plan.ts";
import type { ProcessSpec } from "../model/container.ts";
import type { CgroupRef } from "../cgroupv2/container_cgroup.ts";
import { closeFd } from "../ffi/mod.ts";
import { launch, type Launched } from "../launch/mod.ts";
import { lazyImport } from "../lazy/mod.ts";
import { readTextInRoot } from "./in_root.ts";
import { resolveUser } from "./user.ts";
import { Plan } from "../plan/mod.ts";
import { addProcessSetup, type ExecPlanOptions, type ProcessSetup } from "./process_setup.ts";
export { addProcessSetup, type ExecPlanOptions, type ProcessSetup } from "./process_setup.ts";
import { ContainerError } from "./errors.ts";
import { CLONE_FLAG, differingNamespaces, nsFile } from "./namespaces.ts";
import type { ContainerRecord } from "./store.ts";
import { attachForeground, SignalForwarder } from "./attach.ts";

/** The process to start in the container: run's process, without --init (it joins the container's own pid 1). */
export type ExecProcess = Omit<ProcessSpec, "init">;

/**
 * The first half of every exec plan: join the namespaces in which the container's process `pid`
 * differs from nook (user first, mount last: JOIN_ORDER in namespaces.ts), then fork when its pid namespace
 * is among them — setns(CLONE_NEWPID) only applies to children.
 */
export function joinContainerPlan(pid: number, below = false): Plan {
  const p = new Plan(0);
  const join = differingNamespaces(pid);
  if (below && join.includes("user")) {
    // A container whose user namespace was made below another (maps without the caller): its
    // pid, network, ipc and cgroup namespaces belong to the one above, its mount and uts
    // namespaces to its own. Join the one above first (it grants the rights to join the first
    // group), then its own, then the second group.
    p.setnsParent(nsFile(pid, "user"));
    const ownedAbove = (t: string) => t === "cgroup" || t === "ipc" || t === "network" || t === "pid";
    const above = join.filter(ownedAbove);
    for (const type of above) p.setns(nsFile(pid, type), CLONE_FLAG[type]);
    for (const type of join.filter((t) => !ownedAbove(t))) p.setns(nsFile(pid, type), CLONE_FLAG[type]);
    if (join.includes("pid")) p.fork();
    return p;
  }
  for (const type of join) p.setns(nsFile(pid, type), CLONE_FLAG[type]);
  if (join.includes("pid")) p.fork();
  return p;
}

/** The plan of an exec into the container whose pid 1 is `pid`: join it, set the process up, exec. */
export function buildExecPlan(pid: number, proc: ProcessSetup, opts: ExecPlanOptions): Plan {
  const p = joinContainerPlan(pid, opts.userNamespaceBelow ?? false);
  addProcessSetup(p, proc, opts);
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

/** How {@link launchExec} starts and follows an exec'd process. */
export interface LaunchExecOptions {
  /** The container's cgroup, joined before the process forks into the container (so it runs under its limits). */
  cgroup?: CgroupRef | undefined;
  /** Return once the process runs instead of attaching to it. */
  detach: boolean;
  /** Relay this terminal's input to the process's pty. */
  stdin: boolean;
  /** Right after launch (pid files, handing the pty master to a console socket: set ptyMaster to -1 then). */
  launched?: (launched: Launched) => Promise<void> | void;
}

/**
 * Launch an exec plan and, unless detached, attach to it ({@link attachForeground}); resolves with
 * 0 (detached) or the process's exit code. Signals are listened for before the process exists
 * (see {@link SignalForwarder}); a detached exec forwards nothing.
 */
export async function launchExec(plan: Plan, opts: LaunchExecOptions): Promise<number> {
  const cg = opts.cgroup
    ? await lazyImport<typeof import("../cgroupv2/container_cgroup.ts")>("cgroupv2/container_cgroup.ts")
    : undefined;
  const cgroup = opts.cgroup && cg?.cgroupExists(opts.cgroup) ? opts.cgroup : undefined;
  const signals = opts.detach ? undefined : new SignalForwarder();
  let started: Launched;
  try {
    // The pid before GO is the process before FORK: the exec'd process is created inside the cgroup.
    started = await launch(plan, { beforeGo: (pid) => cgroup && cg?.attachToCgroup(cgroup, pid) });
  } catch (err) {
    signals?.close();
    throw err;
  }
  try {
    await opts.launched?.(started);
  } catch (err) {
    signals?.close();
    await closeFd(started.pidfd);
    await closeFd(started.ptyMaster);
    throw err;
  }
  if (!signals) {
    await closeFd(started.pidfd);
    await closeFd(started.ptyMaster);
    return 0;
  }
  return await attachForeground(started, opts.stdin, {}, signals);
}
