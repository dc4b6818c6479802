import {
  currentStatus,
  isActive,
  LogPrinter,
  type LogRecord,
  logFiles,
  logPath,
  mustRecord,
  parseLogText,
  readLogRecords,
  resolveContainer,
  tailRecords,
} from "../engine/mod.ts";
import { ContainerError } from "../engine/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { bool, HELP, type OptionSpec, parseCommand, str } from "./_args.ts";
import { write } from "./_io.ts";
import type { CommandSpec } from "./commands.ts";

const OPTIONS: readonly OptionSpec[] = [
  { name: "follow", short: "f", type: "bool", help: "Keep printing new output until the container stops" },
  { name: "tail", short: "n", type: "string", value: "N", help: "Only the last N lines (default: all)" },
  { name: "timestamps", short: "t", type: "bool", help: "Start each line with the time it was written" },
  HELP,
];

/** `nook logs`. */
export const spec: CommandSpec = {
  name: "logs",
  usage: "logs [OPTIONS] CONTAINER",
  summary: "Print what a detached container wrote to stdout (on stdout) and stderr (on stderr).",
  options: OPTIONS,
  examples: ["nook logs web", "nook logs -f --tail 10 web", "nook logs --timestamps web"],
  positional: "container",
};

const POLL_MS = 100;

async function emit(printer: LogPrinter, records: readonly LogRecord[]): Promise<void> {
  let out = "", err = "";
  for (const r of records) {
    if (r.stream === "stderr") {
      if (out) await write(out), out = "";
      err += printer.render(r);
    } else {
      if (err) await write(err, true), err = "";
      out += printer.render(r);
    }
  }
  if (out) await write(out);
  if (err) await write(err, true);
}

/** The live log file, opened once so that reading what is there and following what comes next meet exactly. */
class LiveLog {
  file: Deno.FsFile | undefined;
  ino: number | null = null;
  rest = "";
  #dec = new TextDecoder();
  #buf = new Uint8Array(65536);

  constructor(readonly path: string) {
    this.reopen();
  }

  reopen(): void {
    this.file?.close();
    this.rest = "";
    try {
      this.file = Deno.openSync(this.path, { read: true });
      this.ino = this.file.statSync().ino;
    } catch {
      this.file = undefined;
    }
  }

  /** Complete records appended since the last call. */
  read(): LogRecord[] {
    let text = this.rest;
    for (;;) {
      const n = this.file ? this.file.readSync(this.#buf) : null;
      if (!n) break;
      text += this.#dec.decode(this.#buf.subarray(0, n), { stream: true });
    }
    const parsed = parseLogText(text);
    this.rest = parsed.rest;
    return parsed.records;
  }

  /** True when the path now names another file (rotated, or created) or the file started over. */
  replaced(): boolean {
    let st: Deno.FileInfo;
    try {
      st = Deno.statSync(this.path);
    } catch {
      return false;
    }
    if (!this.file || st.ino !== this.ino) return true;
    if (st.size < this.file.seekSync(0, Deno.SeekMode.Current)) {
      this.file.seekSync(0, Deno.SeekMode.Start); // started over (max-file=1)
      this.rest = "";
    }
    return false;
  }

  close(): void {
    this.file?.close();
  }
}

/** Keep printing until the container is no longer active and everything it wrote is out. */
async function follow(id: string, live: LiveLog, printer: LogPrinter): Promise<void> {
  for (;;) {
    // The status is read before draining: what was written before it stopped is then in the file.
    const active = isActive(currentStatus(id));
    const records = live.read();
    await emit(printer, records);
    if (live.replaced()) {
      live.reopen(); // the old file was read to its end above
      continue;
    }
    if (!active && records.length === 0) return;
    if (records.length === 0) await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Print them. */
export async function main(argv: string[]): Promise<number> {
  const a = await parseCommand(argv, spec);
  if (!a) return 0;
  if (a.rest.length !== 1) throw new UsageError("nook logs needs exactly one container", { hint: "nook logs [OPTIONS] NAME|ID" });
  const id = resolveContainer(a.rest[0]!);
  const rec = mustRecord(id);
  if (rec.host.log.driver === "none") {
    throw new ContainerError(`Container ${rec.name} keeps no logs (--log-driver none)`, { hint: "run it with --log-driver k8s-file" });
  }
  const tailText = str(a, "tail");
  if (tailText !== undefined && tailText !== "all" && !/^\d+$/.test(tailText)) {
    throw new UsageError(`Invalid --tail "${tailText}"`, { hint: "give a number of lines, or all" });
  }
  const tail = tailText === undefined || tailText === "all" ? -1 : Number(tailText);
  const printer = new LogPrinter(bool(a, "timestamps"));
  const live = new LiveLog(logPath(id));
  try {
    const older = logFiles(id).slice(0, -1).flatMap((f) => readLogRecords(f));
    await emit(printer, tailRecords([...older, ...live.read()], tail));
    if (bool(a, "follow")) await follow(id, live, printer);
  } finally {
    live.close();
  }
  return 0;
}
