import { closeFd, poll, recv, send, ShimError, spawn, wait } from "../ffi/mod.ts";
import type { ShimMessage, Spawned } from "../ffi/mod.ts";
import { errnoText, NookError } from "../errors/mod.ts";
import { CLONE, Msg, type Plan } from "../plan/mod.ts";
import { explainCloneFailure } from "../userns/mod.ts";
import { mark } from "../trace/mod.ts";

/** The container's setup failed in the child: carries the op that failed. */
export class LaunchError extends NookError {}

/** What the parent does at the handshake's stops. */
export interface LaunchHooks {
  /** Child is in its namespaces and waits: write id maps, join cgroup, start network helpers. */
  beforeGo?: (pid: number) => Promise<void> | void;
  /**
   * An ERROR whose op index is below -1, so about no plan op: the monitor's
   * report on what it runs beside the child (its network helper). The user's
   * error, or undefined for the generic one.
   */
  explainError?: (msg: ShimMessage) => NookError | undefined | Promise<NookError | undefined>;
  /** The child reached a SYNC op with this tag. */
  onSync?: (tag: number, pid: number) => Promise<void> | void;
  /**
   * Return once the child passed the SYNC op with this tag (after onSync and
   * CONTINUE), without waiting for its exec: the child lives on without nook
   * (`nook runtime create`). Errors after that point are not reported.
   */
  returnAtSync?: number;
}

/** A container process that has exec'd. */
export interface Launched {
  /** pid of the container's process (nook's pid namespace). */
  pid: number;
  /** pidfd of that process. */
  pidfd: number;
  /** pty master when the plan had a PTY op, else -1. */
  ptyMaster: number;
}

/**
 * Run a plan: clone, handshake, and wait until the child has exec'd (EOF on
 * the sync socket) or failed (an ERROR message, turned into a typed error).
 * The child is reaped on failure; on success the caller waits for it.
 * `spawner` starts the child: libshim's clone by default, or the container
 * monitor, which relays this same handshake (src/monitor/).
 */
export async function launch(
  plan: Plan,
  hooks: LaunchHooks = {},
  spawner: (plan: Uint8Array) => Spawned | Promise<Spawned> = spawn,
): Promise<Launched> {
  const bytes = plan.encode();
  let sp;
  try {
    sp = await spawner(bytes);
    mark("clone");
  } catch (err) {
    if (err instanceof ShimError && err.op === "clone" && err.errno && plan.cloneFlags & CLONE.NEWUSER) {
      throw explainCloneFailure(err.errno);
    }
    throw err;
  }
  let { pid, pidfd } = sp;
  let ptyMaster = -1;
  const fail = async (err: unknown): Promise<never> => {
    try {
      await send(sp.sock, Msg.ABORT);
    } catch {
      // the child is gone already
    }
    await closeFd(sp.sock);
    await closeFd(ptyMaster);
    await reap(pid);
    await closeFd(pidfd);
    throw err;
  };
  try {
    const ready = await recv(sp.sock, 10_000);
    if (!ready || ready.type !== Msg.READY) {
      return await fail(new LaunchError("The container's setup process exited before it was ready", { op: "spawn" }));
    }
    await hooks.beforeGo?.(pid);
    await send(sp.sock, Msg.GO);
    receive: for (;;) {
      const msg = await recv(sp.sock);
      if (msg === null) break; // execve closed the socket: the container runs
      switch (msg.type) {
        case Msg.ERROR:
          return await fail((msg.op < -1 ? await hooks.explainError?.(msg) : undefined) ?? childError(plan, msg));
        case Msg.FD:
          ptyMaster = msg.fd;
          break;
        case Msg.SYNC:
          await hooks.onSync?.(msg.value, pid);
          await send(sp.sock, Msg.CONTINUE);
          if (msg.value === hooks.returnAtSync) break receive;
          break;
        case Msg.PID: {
          // FORK: the old process exits, the new one is nook's child now.
          await reap(pid);
          await closeFd(pidfd);
          pid = msg.value;
          pidfd = msg.fd;
          await send(sp.sock, Msg.CONTINUE);
          break;
        }
        default:
          return await fail(new LaunchError(`Unexpected message ${msg.type} from the container's setup process`));
      }
    }
  } catch (err) {
    return await fail(err);
  }
  mark("setup ops, exec");
  await closeFd(sp.sock);
  return { pid, pidfd, ptyMaster };
}

async function reap(pid: number): Promise<void> {
  try {
    if ((await poll(pid)) === null) await wait(pid);
  } catch {
    // already reaped
  }
}

/** Turn the child's {op, errno, text} into the error a user reads. */
export function childError(plan: Plan, msg: ShimMessage): NookError {
  const op = plan.ops[msg.op];
  const errno = msg.err;
  const detail = msg.text ? ` (${msg.text})` : "";
  if (!op) return new LaunchError(`The container's setup failed: ${msg.text}: ${errnoText(errno)}`, { errno });
  const fields = { op: `plan op ${msg.op} (${op.name.toLowerCase()})`, errno, ...(op.path ? { path: op.path } : {}) };
  if (op.name === "EXEC") {
    const argv0 = op.path ?? "";
    const candidates = op.fields[0]?.t === "strv" ? op.fields[0].v : [];
    if (errno === 2 /* ENOENT */ || errno === 20 /* ENOTDIR */) {
      const where = argv0.includes("/") ? "no such file or directory in the container" : "executable file not found in $PATH";
      return new LaunchError(`Cannot run "${argv0}": ${where}`, {
        ...fields,
        exitCode: 127,
        hint: argv0.includes("/") ? "check the path inside the image" : `looked in: ${candidates.join(", ")}`,
      });
    }
    if (errno === 8 /* ENOEXEC */) {
      return new LaunchError(`Cannot run "${argv0}": exec format error`, {
        ...fields,
        exitCode: 126,
        hint: "the file is not a program for this CPU, or a script without a #! line",
      });
    }
    return new LaunchError(`Cannot run "${argv0}": ${errnoText(errno)}${detail}`, {
      ...fields,
      exitCode: 126,
      ...(errno === 13 ? { hint: "the file is not executable (chmod +x) or a directory on its path is not searchable" } : {}),
    });
  }
  let hint: string | undefined;
  if (op.name === "SETID" && (errno === 22 || errno === 1)) {
    hint = "that user or group is not mapped into the container; install uidmap and give your user a range in " +
      "/etc/subuid and /etc/subgid (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER)";
  } else if (op.name === "CHDIR" && errno === 2) {
    hint = "the working directory does not exist in the container";
  } else if (op.name === "MOUNT" && errno === 2) {
    hint = "the source path does not exist on the host, or the target cannot be created in the image";
  } else if (errno === 1 || errno === 13) {
    hint = "run `nook doctor` to check what this host allows rootless containers";
  }
  return new LaunchError(`Cannot start the container: ${op.what} failed: ${errnoText(errno)}${detail}`, {
    ...fields,
    ...(hint ? { hint } : {}),
  });
}
