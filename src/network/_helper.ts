/** Starting, awaiting and stopping a long-running helper program (pasta, slirp4netns). */
import { closeFd, helperWait, pidfdKill, type StartedHelper, startHelper, wait } from "../ffi/mod.ts";
import { SIGNALS } from "../plan/mod.ts";
import { NetworkError } from "./network_error.ts";
import { hostReason } from "./auto.ts";

/** How long a helper may take to bring the container's interface up. */
export const READY_TIMEOUT_MS = 10_000;
/** How long a helper may take to exit when asked. */
export const STOP_TIMEOUT_MS = 2_000;

/** A running helper, owned by this nook process. */
export class Helper {
  #stopped = false;

  private constructor(
    /** Short name for messages ("pasta"). */
    readonly name: string,
    /** pid and pidfd. */
    readonly proc: StartedHelper,
    /** Its log (stderr) file. */
    readonly log: string,
    /** How to ask it to exit (default SIGTERM). */
    private readonly askToExit: () => Promise<void>,
  ) {}

  /**
   * Start argv with the fds in `keep`; it gets SIGKILL when nook ends (the
   * calling JS thread lives as long as nook). `askToExit` replaces SIGTERM.
   */
  static start(name: string, argv: string[], log: string, keep: number[], askToExit?: () => Promise<void>): Helper {
    let proc: StartedHelper;
    try {
      proc = startHelper(argv, { log, keepFds: keep, deathSignal: SIGNALS.SIGKILL! });
    } catch (err) {
      throw new NetworkError(`Cannot start ${name} ("${argv[0]}"): ${(err as Error).message}`, {
        path: argv[0]!,
        cause: err,
      });
    }
    const h: Helper = new Helper(name, proc, log, async () => {
      if (askToExit) await askToExit();
      else await pidfdKill(h.proc.pidfd, SIGNALS.SIGTERM!);
    });
    return h;
  }

  /** The pid. */
  get pid(): number {
    return this.proc.pid;
  }

  /**
   * Wait for the helper's readiness message on fd (its first bytes); fails
   * with the helper's own log when it exits first, writes nothing, or times out.
   */
  async ready(fd: number, what: string): Promise<string> {
    const r = await helperWait(fd, this.proc.pidfd, READY_TIMEOUT_MS);
    if (r instanceof Uint8Array && r.length > 0) return new TextDecoder().decode(r);
    const why = r === "timeout"
      ? `did not report ${what} within ${READY_TIMEOUT_MS / 1000} s`
      : `exited before ${what}`;
    throw await this.failure(why);
  }

  /** An error naming the helper, what went wrong, and the last lines of its log. */
  async failure(why: string, hint?: string): Promise<NetworkError> {
    await this.stop();
    return helperFailure(this.name, why, this.log, hint);
  }

  /** What the helper said in its log, as one line (see {@link logTail}). */
  logTail(): string {
    return logTail(this.log);
  }

  /**
   * Ask the helper to exit, SIGKILL it when it does not within 2 s, reap it. Idempotent.
   * With `wait: false` it is SIGKILLed and reaped in the background instead: the
   * kernel's teardown of its tap device (an RCU grace period or two, 20–40 ms) is
   * then not part of the container's run. Only for a helper that holds nothing on
   * the host another run could want (no published port): its death is certain,
   * and the only trace of it is a dying process.
   */
  async stop(opts: { wait?: boolean } = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (opts.wait === false) {
      try {
        await this.askToExit(); // what it holds of nook's (slirp4netns's exit pipe) is let go too
        await pidfdKill(this.proc.pidfd, SIGNALS.SIGKILL!);
      } catch {
        // already gone
      }
      // not awaited: nook's exit does not wait for it (a zombie goes to init then)
      wait(this.proc.pid).catch(() => {}).finally(() => closeFd(this.proc.pidfd));
      return;
    }
    try {
      await this.askToExit();
      if ((await helperWait(-1, this.proc.pidfd, STOP_TIMEOUT_MS)) === "timeout") {
        await pidfdKill(this.proc.pidfd, SIGNALS.SIGKILL!);
      }
      await wait(this.proc.pid);
    } catch {
      // already gone and reaped
    } finally {
      await closeFd(this.proc.pidfd);
    }
  }
}

/**
 * The error for a helper that failed (whoever started it: nook, or the
 * container's monitor): its name, what went wrong, what it said in its log.
 */
export function helperFailure(name: string, why: string, logFile: string, hint?: string): NetworkError {
  const log = logTail(logFile);
  return new NetworkError(`${name} ${why}${log ? `: ${log}` : ""}`, {
    op: name,
    hint: hint ?? logHint(log) ??
      `check the options given with --network ${name}:…, or try --network ${name === "pasta" ? "slirp4netns" : "pasta"}`,
  });
}

/**
 * What a helper said, as one line: its error lines when it printed some
 * (pasta follows a bad option with its whole usage text), else its last
 * lines; without the noise of syslog fallbacks and seccomp warnings.
 */
export function logTail(file: string): string {
  let text = "";
  try {
    text = Deno.readTextFileSync(file);
  } catch {
    return "";
  }
  const lines = text.split("\n").map((l) => l.trim())
    .filter((l) => l && !/^Failed to send \d+ bytes to syslog|^WARNING: Support for seccomp is experimental/.test(l));
  const errors = lines.filter((l) => /error|invalid|unrecognized|unknown|fail|cannot|can't|couldn't|denied|not /i.test(l));
  return (errors.length ? errors : lines).slice(-5).join("; ");
}

function logHint(log: string): string | undefined {
  if (hostReason(log)) {
    return "this host has no interface with a default route (offline), which this pasta needs: use --network " +
      "slirp4netns or --network none, or leave --network out and nook chooses what works here";
  }
  if (/tun|tap/i.test(log) && /permission|denied|EACCES|EPERM/i.test(log)) {
    return "the helper cannot open /dev/net/tun: sudo chmod 0666 /dev/net/tun, or use --network none";
  }
  if (/bind|in use/i.test(log)) return "a published host port is taken or not allowed: pick another with -p";
  return undefined;
}
