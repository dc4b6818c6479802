/**
 * The one error model of nook: every failure a user can see is a {@link NookError}
 * that says what failed, why, and what to do, and carries the exit code the CLI uses.
 *
 * @module
 */
import { errnoName } from "./errno.ts";

export { errnoName, errnoNumber, errnoText } from "./errno.ts";

/** Fields a {@link NookError} can carry besides its message. */
export interface NookErrorFields {
  /** The operation that failed, e.g. `"mount"` or `"plan op 7 (mount)"`. */
  op?: string;
  /** Positive errno number, when the failure came from a syscall. */
  errno?: number;
  /** Symbolic errno (`"EPERM"`), derived from `errno` when not given. */
  code?: string;
  /** The path involved, if any. */
  path?: string;
  /** What the user can do about it. */
  hint?: string;
  /** Process exit code the CLI should end with (docker's conventions: 125 for nook's own errors). */
  exitCode?: number;
  /** The underlying error. */
  cause?: unknown;
}

/** Base class of every error nook reports to a user. */
export class NookError extends Error {
  /** The operation that failed. */
  readonly op: string | undefined;
  /** Positive errno number, if a syscall failed. */
  readonly errno: number | undefined;
  /** Symbolic errno such as `"ENOENT"`. */
  readonly code: string | undefined;
  /** The path involved. */
  readonly path: string | undefined;
  /** What to do about it. */
  readonly hint: string | undefined;
  /** Exit code for the CLI. */
  readonly exitCode: number;

  /** Make an error; the message should say what failed and why, the hint what to do. */
  constructor(message: string, fields: NookErrorFields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = new.target.name;
    this.op = fields.op;
    this.errno = fields.errno;
    this.code = fields.code ?? (fields.errno === undefined ? undefined : errnoName(fields.errno));
    this.path = fields.path;
    this.hint = fields.hint;
    this.exitCode = fields.exitCode ?? 125;
  }
}

/** A command line that cannot be understood: bad flag, bad value, missing argument. */
export class UsageError extends NookError {}

/** Something about the host (kernel settings, missing tools) stops nook. */
export class HostError extends NookError {}

/** What to do when a disk is full (the store is left consistent: partial files are removed). */
export const DISK_FULL_HINT = "free space where nook keeps its data (`nook info` shows where; `nook image prune` and " +
  "`nook container prune` remove what no container needs), or set NOOK_DATA_DIR to a filesystem with room; " +
  "nothing half-written was kept";

/**
 * True when `err`, or an error it was caused by, is a full filesystem: ENOSPC from a file
 * operation. ENOSPC from clone, mount and friends means a kernel limit, not a disk.
 */
export function isDiskFull(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 8; depth++, e = e.cause) {
    const { code, op } = e as { code?: unknown; op?: unknown };
    if (code === "ENOSPC") return !/clone|mount|namespace|setns|unshare|inotify|key/.test(String(op ?? ""));
    if (/No space left on device|\(os error 28\)/.test(e.message)) return true;
  }
  return false;
}

/** What a user can do about an error nook did not expect: where to report it, and how to get the trace. */
export const REPORT_HINT = "this is a bug in nook: please report it on nook's issue tracker, " +
  "with the output of the same command run with --debug (or NOOK_DEBUG=1), which prints the trace";

/** True when the user asked for traces (`nook --debug …` sets NOOK_DEBUG=1 for the whole process tree). */
export function debugEnabled(): boolean {
  try {
    return Deno.env.get("NOOK_DEBUG") === "1";
  } catch {
    return false;
  }
}

/**
 * One line of an error's own text: the first line, with stack frames some
 * libraries put into their messages and terminal colours removed.
 */
export function oneLine(text: string): string {
  // deno-lint-ignore no-control-regex
  const plain = text.replace(/\x1b\[[0-9;]*m/g, "");
  const lines = plain.split("\n").map((l) => l.trim()).filter((l) => l && !/^at\s/.test(l));
  return (lines.join(" ") || "(no message)").slice(0, 500);
}

/** Render an error for the terminal: `nook: message` plus an indented hint; never a stack trace unless debugging. */
export function formatError(err: unknown, command?: string): string {
  // a full disk shows through many layers (a worker, a tar parser): whatever wrapped it, say what to do
  const full = isDiskFull(err);
  const debug = debugEnabled();
  const trace = debug && err instanceof Error && err.stack ? `\n${err.stack}` : "";
  if (err instanceof NookError) {
    const hint = full ? DISK_FULL_HINT : err.hint;
    const cause = debug && err.cause instanceof Error && err.cause.stack ? `\ncaused by: ${err.cause.stack}` : "";
    return `nook: ${oneLine(err.message)}` + (hint ? `\n  hint: ${hint}` : "") + trace + cause;
  }
  if (full) return `nook: No space left on device: ${oneLine((err as Error).message)}\n  hint: ${DISK_FULL_HINT}`;
  const what = err instanceof Error
    ? `${err.name === "Error" ? "" : `${err.name}: `}${oneLine(err.message)}`
    : oneLine(String(err));
  return `nook: internal error${command ? ` in "nook ${command}"` : ""}: ${what}\n  hint: ${REPORT_HINT}` + trace;
}
