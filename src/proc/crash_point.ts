/**
 * Crash points: let the tests kill (or stop) nook at a named step of a multi-step change, so that crash
 * consistency is tested at every step rather than by luck.
 *
 * @module
 */

/**
 * Kill this process at a named step when the tests ask for it (`NOOK_CRASH_AT=<step>`), or stop
 * it there (`NOOK_STOP_AT=<step>`: SIGSTOP, so a test can look at the half-done change and let it
 * go on with SIGCONT). Honoured only under the test harness (`NOOK_TEST_CI`) or with `--debug`: a
 * stray variable in a user's shell does nothing.
 */
export function crashPoint(step: string): void {
  const crash = Deno.env.get("NOOK_CRASH_AT") === step;
  const stop = Deno.env.get("NOOK_STOP_AT") === step;
  if (!crash && !stop) return;
  if (Deno.env.get("NOOK_TEST_CI") !== "1" && Deno.env.get("NOOK_DEBUG") !== "1") return;
  Deno.kill(Deno.pid, crash ? "SIGKILL" : "SIGSTOP");
}
