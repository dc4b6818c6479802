/**
 * A timeline of one nook process on stderr, to see where its time goes (start-up above all):
 * with `NOOK_TRACE=1`, every {@link mark} prints the phase that just ended, when it ended
 * (ms since Deno's time origin, so the first line holds Deno's own start and the loading of
 * the CLI's modules) and how long it took since the previous mark:
 *
 * ```
 * nook: trace:    38.12 ms  +38.12  module load
 * nook: trace:    38.40 ms   +0.28  config
 * ```
 *
 * Off (the usual case), a mark costs one comparison: the variable is read once, on the first
 * mark, not at import time. Marks sit on the run path as single lines, each naming the phase
 * it closes; nothing here is part of nook's behaviour.
 *
 * @module
 */

let on: boolean | undefined;
let last = 0;

/** Whether NOOK_TRACE asks for the timeline (read once). */
export function tracing(): boolean {
  if (on === undefined) {
    try {
      on = Deno.env.get("NOOK_TRACE") === "1";
    } catch {
      on = false; // no permission to read the environment: no trace
    }
  }
  return on;
}

/** The phase named has just ended: print its line when tracing, else nothing. */
export function mark(phase: string): void {
  if (on === false || !tracing()) return;
  const now = performance.now();
  const line = `nook: trace: ${now.toFixed(2).padStart(8)} ms ${`+${(now - last).toFixed(2)}`.padStart(7)}  ${phase}\n`;
  last = now;
  try {
    Deno.stderr.writeSync(new TextEncoder().encode(line));
  } catch {
    // stderr closed: the trace is lost, the run goes on
  }
}
