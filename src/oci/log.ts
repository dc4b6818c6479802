/**
 * The runtime's log, as runc writes it for engines: `--log FILE` in
 * `--log-format text` (logrus's `time="…" level=… msg="…"`) or `json`
 * (`{"level":…,"msg":…,"time":…}` per line).
 *
 * Why json mode holds warnings back until the command ends: podman reads the
 * whole log file as one JSON object when a runtime fails; a warning line
 * before the error would make the error unreadable. On failure exactly one
 * record (the error) is written; on success the warnings are.
 *
 * @module
 */
import { formatError, NookError } from "../errors/mod.ts";

/** Where and how the runtime logs. */
export interface LogOptions {
  /** `--log FILE`; without it, messages go to stderr. */
  path?: string;
  /** `--log-format`. */
  format: "text" | "json";
  /** `--debug`: write debug records too. */
  debug: boolean;
}

type Level = "debug" | "warning" | "error";

/** The runtime's log (one per command). */
export class RuntimeLog {
  #held: [Level, string][] = [];

  /** Make a log with these options. */
  constructor(readonly opts: LogOptions) {}

  /** Debug detail (only with --debug). */
  debug(msg: string): void {
    if (this.opts.debug) this.#record("debug", msg);
  }

  /** Something the user should know that does not stop the command. */
  warn(msg: string): void {
    this.#record("warning", msg);
  }

  /** The command failed: the error goes to the log and to stderr. */
  error(err: unknown): void {
    const msg = err instanceof NookError
      ? err.message + (err.hint ? ` (hint: ${err.hint})` : "")
      : err instanceof Error
      ? err.message
      : String(err);
    if (this.opts.path) {
      this.#held = this.#held.filter(([level]) => level === "debug");
      this.#write("error", msg);
      this.#flushHeld();
    }
    try {
      Deno.stderr.writeSync(new TextEncoder().encode(formatError(err) + "\n"));
    } catch {
      // no stderr
    }
  }

  /** Write what was held back (json mode) once the command succeeded. */
  close(): void {
    this.#flushHeld();
  }

  #record(level: Level, msg: string): void {
    if (!this.opts.path) {
      try {
        Deno.stderr.writeSync(new TextEncoder().encode(`nook-runtime: ${level}: ${msg}\n`));
      } catch {
        // no stderr
      }
      return;
    }
    if (this.opts.format === "json") this.#held.push([level, msg]);
    else this.#write(level, msg);
  }

  #flushHeld(): void {
    for (const [level, msg] of this.#held.splice(0)) this.#write(level, msg);
  }

  #write(level: Level, msg: string): void {
    const time = new Date().toISOString();
    const line = this.opts.format === "json"
      ? JSON.stringify({ level, msg, time })
      : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
    try {
      Deno.writeTextFileSync(this.opts.path!, line + "\n", { append: true, mode: 0o600 });
    } catch {
      // a log that cannot be written must not turn success into failure
    }
  }
}
