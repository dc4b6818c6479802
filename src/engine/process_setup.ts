/**
 * The one process setup: what happens between a plan's namespaces and mounts and the exec of its
 * program — for a container's first process (the one plan builder, build_plan.ts, for `nook run`
 * and `nook runtime create`) and for an exec into a running container (exec.ts, both front doors).
 *
 * @module
 */
import { addBeforeExec, addBeforeSetid, type SecuritySpec } from "../security/mod.ts";
import type { ProcessSetup } from "../model/plan_spec.ts";
import { MS, O, type Plan, SetIdFlag, SIGNALS } from "../plan/mod.ts";
export type { ProcessSetup } from "../model/plan_spec.ts";

/** How to set up a process in a plan ({@link addProcessSetup}) and build an exec plan (`buildExecPlan` in exec.ts). */
export interface ExecPlanOptions {
  /** -d: nobody waits; the process outlives nook. */
  detach: boolean;
  /** With detach: stdio goes to /dev/null (`nook exec -d`; an OCI engine hands its own stdio and keeps it). */
  detachedStdioNull?: boolean;
  /** The process dies with nook unless detached (`nook exec`; runc's exec leaves it be). */
  dieWithNook?: boolean;
  /** The container's user namespace denies setgroups (single-id mapping). */
  skipSetgroups: boolean;
  /** The container's security settings for this process (see execSecurity); none for an unconfined container. */
  security?: SecuritySpec;
  /** Pass fds 3..3+N-1 to the process (`--preserve-fds`). */
  preserveFds?: number;
  /** Bind the process's terminal onto /dev/console (a container's first process, when /dev is its own). */
  consoleBind?: boolean;
  /**
   * A root process where only one id is mapped keeps its ids: no SETID op (a container's own
   * process under `nook run`); otherwise a confined process always switches, keeping capabilities.
   */
  rootKeepsIds?: boolean;
  /** The container's user namespace was made below another (its record's `idMapBelow`): join that one first. */
  userNamespaceBelow?: boolean;
}

/**
 * The one process setup, for an exec and for a container's first process (`nook run`'s and
 * `nook runtime create`'s): [init], terminal
 * (and /dev/console), stdin and stdio, kept fds, cwd, rlimits, umask, then the security ops
 * around the switch to the user (the order of src/security/plan_ops.ts). Everything but exec.
 */
export function addProcessSetup(
  p: Plan,
  proc: ProcessSetup,
  opts: Omit<ExecPlanOptions, "detach"> & { detach?: boolean },
): void {
  if (opts.dieWithNook && !opts.detach) p.pdeathsig(SIGNALS.SIGKILL!);
  if (proc.init) p.init();
  if (proc.terminal) {
    p.pty("/dev/pts/ptmx", proc.consoleSize?.[0] ?? 0, proc.consoleSize?.[1] ?? 0);
    // the spec's /dev/console is the terminal (fd 0 is its slave now). Why ROOT
    // around it: after pivot_root the target would resolve as a plain path;
    // resolved in the root, libshim refuses a /dev/console that a symlink of
    // the rootfs turns into a procfs file (the bind would cover a read-only path).
    if (opts.consoleBind) p.root("/").mount("/proc/self/fd/0", "/dev/console", "", MS.BIND).root("");
  }
  if (!proc.stdin) p.openFd("/dev/null", O.RDONLY, 0, 0);
  if (opts.detach && opts.detachedStdioNull && !proc.terminal) {
    p.openFd("/dev/null", O.WRONLY, 0, 1);
    p.openFd("/dev/null", O.WRONLY, 0, 2);
  }
  if (opts.preserveFds && opts.preserveFds > 0) p.keepFds(3, opts.preserveFds);
  p.chdir(proc.cwd);
  for (const [res, soft, hard] of proc.rlimits) p.setrlimit(res, soft, hard);
  if (proc.umask !== undefined) p.umask(proc.umask);
  // the same order as a container's own process (src/engine/build_plan.ts)
  if (opts.security) addBeforeSetid(p, opts.security);
  const keepCaps = opts.security ? SetIdFlag.KEEP_CAPS : 0;
  const confined = opts.security !== undefined && !opts.rootKeepsIds;
  if (proc.uid !== 0 || proc.gid !== 0 || proc.groups.length > 0 || !opts.skipSetgroups || confined) {
    // keep-groups: the caller's groups came with the clone (unmapped ones show as the overflow id) and stay
    const keepGroups = opts.skipSetgroups || proc.keepGroups ? SetIdFlag.SKIP_SETGROUPS : 0;
    p.setid(proc.uid, proc.gid, proc.groups, keepGroups | keepCaps);
  }
  if (opts.security) addBeforeExec(p, opts.security);
}
