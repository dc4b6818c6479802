/**
 * Progress of a pull: one bar per layer on a terminal (redrawn in place, at
 * most ten times a second), plain lines otherwise (CI logs, pipes).
 */

/** Human size: 1.2 MB (powers of 1000, as docker shows them). */
export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) (v /= 1000, i++);
  return `${i === 0 ? v : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${units[i]}`;
}

interface Row {
  id: string;
  total: number;
  done: number;
  status: string;
  finished: boolean;
}

/** One layer's progress. */
export interface Task {
  /** Bytes so far. */
  update(bytes: number): void;
  /** A short status ("unpacking", "exists"). */
  status(text: string): void;
  /** Finished, with a last word. */
  finish(text?: string): void;
}

/** The progress display of one command. */
export class Progress {
  private rows: Row[] = [];
  private drawn = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly enc = new TextEncoder();
  private readonly tty: boolean;

  /** Progress to stderr; bars when it is a terminal, nothing at all when quiet. */
  constructor(private quiet = false, tty?: boolean) {
    this.tty = tty ?? (!quiet && Deno.stderr.isTerminal() && Deno.env.get("TERM") !== "dumb");
  }

  private out(text: string): void {
    if (this.quiet) return;
    const b = this.enc.encode(text);
    let off = 0;
    while (off < b.length) off += Deno.stderr.writeSync(b.subarray(off));
  }

  /** A plain line (printed above the bars on a terminal). */
  line(text: string): void {
    if (this.quiet) return;
    if (!this.tty) return this.out(text + "\n");
    this.clear();
    this.out(text + "\n");
    this.draw();
  }

  /** Start a task (a layer: short id and total bytes). */
  task(id: string, total: number, verb = "Copying blob"): Task {
    const row: Row = { id, total, done: 0, status: "waiting", finished: false };
    this.rows.push(row);
    if (!this.tty) this.out(`${verb} ${id} (${humanSize(total)})\n`);
    this.schedule();
    return {
      update: (bytes) => {
        row.done = bytes;
        row.status = "downloading";
        this.schedule();
      },
      status: (text) => {
        row.status = text;
        this.schedule();
      },
      finish: (text = "done") => {
        row.finished = true;
        row.status = text;
        row.done = row.total;
        if (!this.tty) this.out(`${verb} ${id} ${text}\n`);
        this.schedule();
      },
    };
  }

  private schedule(): void {
    if (!this.tty || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.clear();
      this.draw();
    }, 100);
  }

  private clear(): void {
    if (this.drawn) this.out(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    let cols = 80;
    try {
      cols = Deno.consoleSize().columns;
    } catch {
      // not measurable
    }
    const lines = this.rows.map((r) => {
      const width = Math.max(10, Math.min(30, cols - 56));
      const frac = r.total ? Math.min(1, r.done / r.total) : r.finished ? 1 : 0;
      const fill = Math.round(frac * width);
      const bar = r.finished
        ? "=".repeat(width)
        : "=".repeat(Math.max(0, fill - 1)) + (fill ? ">" : "") + " ".repeat(width - fill);
      const sizes = r.total ? `${humanSize(r.done)} / ${humanSize(r.total)}` : humanSize(r.done);
      return `${r.id}  [${bar}]  ${r.status.padEnd(11)}  ${sizes}`.slice(0, cols - 1);
    });
    if (lines.length) this.out(lines.join("\n") + "\n");
    this.drawn = lines.length;
  }

  /** Draw the final state and stop redrawing. */
  end(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.tty) {
      this.clear();
      this.draw();
    }
    this.rows = [];
    this.drawn = 0;
  }
}
