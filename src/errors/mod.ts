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

/** Render an error for the terminal: `nook: message` plus an indented hint. */
export function formatError(err: unknown): string {
  // a full disk shows through many layers (a worker, a tar parser): whatever wrapped it, say what to do
  const full = isDiskFull(err);
  if (err instanceof NookError) {
    const hint = full ? DISK_FULL_HINT : err.hint;
    return `nook: ${err.message}` + (hint ? `\n  hint: ${hint}` : "");
  }
  if (full) return `nook: No space left on device: ${(err as Error).message}\n  hint: ${DISK_FULL_HINT}`;
  if (err instanceof Error) return `nook: internal error: ${err.stack ?? err.message}`;
  return `nook: internal error: ${String(err)}`;
}
