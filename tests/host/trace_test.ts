/**
 * NOOK_TRACE=1 prints a timeline of a run's phases on stderr (src/trace), so a start-up
 * regression is found in one run; unset, nothing of it shows.
 */
import { assert, busyboxRootfs, busyboxSkip, nook, test } from "../_helpers.ts";

/** The phases of a foreground `nook run --rm --network none --rootfs`, in the order they end. */
const PHASES = [
  "deno start",
  "config",
  "module load",
  "arguments",
  "spec",
  "cgroup",
  "record",
  "plan",
  "clone",
  "id maps",
  "network",
  "before go",
  "setup ops, exec",
  "wait",
  "cleanup",
];

const TRACE_LINE = /^nook: trace: +(\d+\.\d\d) ms +\+(\d+\.\d\d) {2}(.+)$/;

test("NOOK_TRACE=1 prints the phases of a run in order, with times that only grow", async () => {
  const args = ["run", "--rm", "--network", "none", "--rootfs", busyboxRootfs(), "true"];
  const r = await nook(args, { env: { NOOK_TRACE: "1" } });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split("\n").filter((l) => l.startsWith("nook: trace:"));
  const marks = lines.map((l) => {
    const m = TRACE_LINE.exec(l);
    assert.ok(m, `not a trace line: ${l}`);
    return { at: Number(m[1]), delta: Number(m[2]), phase: m[3]! };
  });
  // every phase, once, in this order (others, such as loading libshim, may sit between them)
  const seen = marks.map((m) => m.phase).filter((p) => PHASES.includes(p));
  assert.deepEqual(seen, PHASES, r.stderr);
  for (let i = 1; i < marks.length; i++) {
    assert.ok(marks[i]!.at >= marks[i - 1]!.at, `time went back at "${marks[i]!.phase}"`);
    assert.ok(Math.abs(marks[i]!.at - marks[i - 1]!.at - marks[i]!.delta) < 0.02, `delta of "${marks[i]!.phase}"`);
  }
  // the last mark is the end of the run: nothing of the trace after it
  assert.equal(marks.at(-1)!.phase, "cleanup");

  const quiet = await nook(args);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.ok(!quiet.stderr.includes("trace"), quiet.stderr);
  const zero = await nook(args, { env: { NOOK_TRACE: "0" } });
  assert.ok(!zero.stderr.includes("trace"), zero.stderr);
}, { skip: busyboxSkip() });
