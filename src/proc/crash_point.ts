/**
 * Crash points: let the tests kill nook at a named step of a multi-step change, so that crash
 * consistency is tested at every step rather than by luck.
 *
 * @module
 */

/**
 * Kill this process at a named step when the tests ask for it (`NOOK_CRASH_AT=<step>`). Honoured
 * only under the test harness (`NOOK_TEST_CI`) or with `--debug`: a stray variable in a user's
 * shell does nothing.
 */
export function crashPoint(step: string): void {
  const at = Deno.env.get("NOOK_CRASH_AT");
  if (at === undefined || at !== step) return;
  if (Deno.env.get("NOOK_TEST_CI") !== "1" && Deno.env.get("NOOK_DEBUG") !== "1") return;
  Deno.kill(Deno.pid, "SIGKILL");
}
