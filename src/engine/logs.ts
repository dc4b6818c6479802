/**
 * Reading the k8s-file logs the monitor writes: one record per line,
 * `TIMESTAMP STREAM F|P TEXT`, where P marks a piece of a longer line (or a
 * last line without a newline) and F ends a line. Rotated files are
 * `ctr.log.N` (N=1 the newest).
 */
import { logPath } from "./store.ts";

/** One record of a log file. */
export interface LogRecord {
  /** RFC 3339 time it was read from the container. */
  time: string;
  /** stdout or stderr. */
  stream: "stdout" | "stderr";
  /** Its text, without the newline. */
  text: string;
  /** F: the text ends a line (a newline followed it). */
  full: boolean;
}

/** Parse one line of a log file (undefined for a line that is not a record). */
export function parseLogLine(line: string): LogRecord | undefined {
  const m = /^(\S+) (stdout|stderr) ([FP]) ?/.exec(line);
  if (!m) return undefined;
  return { time: m[1]!, stream: m[2] as "stdout" | "stderr", text: line.slice(m[0].length), full: m[3] === "F" };
}

/** Parse a chunk of log text; the unterminated tail (a record still being written) is returned as `rest`. */
export function parseLogText(text: string): { records: LogRecord[]; rest: string } {
  const end = text.lastIndexOf("\n");
  const records: LogRecord[] = [];
  for (const line of text.slice(0, end + 1).split("\n")) {
    const r = parseLogLine(line);
    if (r) records.push(r);
  }
  return { records, rest: text.slice(end + 1) };
}

/** The log files of a container, oldest first. */
export function logFiles(id: string): string[] {
  const base = logPath(id);
  const rotated: string[] = [];
  for (let n = 1; n < 1000; n++) {
    try {
      Deno.statSync(`${base}.${n}`);
      rotated.push(`${base}.${n}`);
    } catch {
      break;
    }
  }
  return [...rotated.reverse(), base];
}

/** Every record of one log file (none when it is missing). */
export function readLogRecords(file: string): LogRecord[] {
  try {
    return parseLogText(Deno.readTextFileSync(file)).records;
  } catch {
    return []; // rotated away meanwhile, or not written yet
  }
}

/** The last n lines (a line ends at an F record; the P records before it in its stream belong to it). */
export function tailRecords(records: readonly LogRecord[], n: number): LogRecord[] {
  if (n < 0) return [...records];
  const joined: Record<string, boolean> = {};
  let lines = 0, i = records.length - 1;
  for (; i >= 0; i--) {
    const r = records[i]!;
    // An F ends a line of its own; a P joins the line after it, or is a last line still open.
    if (r.full || !joined[r.stream]) {
      if (++lines > n) break;
    }
    joined[r.stream] = true;
  }
  // Pieces of a kept line that sit before the cut (another stream wrote in between) belong to it.
  const keep = records.slice(i + 1);
  const open = new Set(keep.map((r) => r.stream));
  const before: LogRecord[] = [];
  for (let j = i; j >= 0 && open.size; j--) {
    const r = records[j]!;
    if (!open.has(r.stream)) continue;
    if (r.full) open.delete(r.stream);
    else before.unshift(r);
  }
  return [...before, ...keep];
}

/** Renders records as the container wrote them, optionally with each line's timestamp first. */
export class LogPrinter {
  #open: Record<string, boolean> = {};

  /** Make a printer; with timestamps, each line starts with its RFC 3339 time. */
  constructor(private timestamps: boolean) {}

  /** The bytes of one record for its stream. */
  render(r: LogRecord): string {
    const startOfLine = !this.#open[r.stream];
    this.#open[r.stream] = !r.full;
    return (this.timestamps && startOfLine ? `${r.time} ` : "") + r.text + (r.full ? "\n" : "");
  }
}
