/**
 * How fast each user-mode network helper starts on this host: a few throwaway
 * containers (a user and a network namespace, then `true`) get pasta or
 * slirp4netns exactly as `nook run` gives it to them, and the time from the
 * clone to the helper's readiness is taken. The default network uses the
 * faster helper (src/network/auto.ts keeps the answer with the host facts).
 * Not on the run path: `nook _network time-helpers` runs it, once per host state.
 *
 * @module
 */
import { closeFd, wait } from "../ffi/mod.ts";
import { launch } from "../launch/mod.ts";
import { CLONE, Plan, SIGNALS } from "../plan/mod.ts";
import { runtimeDir } from "../paths/mod.ts";
import { applyIdMapping, detectIdMapping, findExecutable } from "../userns/mod.ts";
import type { Helper } from "./_helper.ts";
import type { HelperStartTimes } from "./auto.ts";
import type { HelperMode } from "./mode.ts";
import { SLIRP_DEFAULTS } from "./mode.ts";
import { startPasta } from "./pasta.ts";
import { startSlirp } from "./slirp4netns.ts";

/** Rounds per helper; the median is kept (the rounds alternate between the helpers). */
export const TRIAL_ROUNDS = 3;

/**
 * One throwaway start with `mode`'s helper at `tool`: ms from the clone until
 * the helper reported the interface up, ordered as a run orders them (pasta
 * while the id maps are written, slirp4netns after them). Throws when the
 * helper does not start.
 */
async function startOnce(mode: HelperMode, tool: string, dir: string, n: number): Promise<number> {
  const trueBin = findExecutable("true", "/usr/bin:/bin") ?? "/bin/true";
  const p = new Plan(CLONE.NEWUSER | CLONE.NEWNET);
  p.pdeathsig(SIGNALS.SIGKILL!);
  p.loopbackUp();
  p.exec([trueBin], ["true"], []);
  const mapping = detectIdMapping();
  const runDir = Deno.makeTempDirSync({ dir, prefix: `${mode}-` });
  let helper: Helper | undefined;
  const t0 = performance.now();
  let ms = 0;
  try {
    const started = await launch(p, {
      beforeGo: async (pid) => {
        const start = () =>
          mode === "pasta"
            ? startPasta(tool, pid, runDir, [], [])
            : startSlirp(tool, pid, runDir, `${dir}/s${n}.sock`, SLIRP_DEFAULTS, []);
        if (mode === "pasta") [, helper] = await Promise.all([applyIdMapping(pid, mapping), start()]);
        else await applyIdMapping(pid, mapping), helper = await start();
        ms = performance.now() - t0;
      },
    });
    await wait(started.pid);
    await closeFd(started.pidfd);
    return ms;
  } finally {
    await (helper as Helper | undefined)?.stop({ wait: false });
  }
}

/**
 * Start each helper in `tools` {@link TRIAL_ROUNDS} times, alternating, and
 * give the median ms of each that started every time; a helper that failed is
 * left out, with why in `failed`.
 */
export async function timeHelperStarts(
  tools: Partial<Record<HelperMode, string>>,
): Promise<HelperStartTimes & { failed?: Partial<Record<HelperMode, string>> }> {
  const base = `${runtimeDir()}/tmp`;
  Deno.mkdirSync(base, { recursive: true, mode: 0o700 });
  const dir = Deno.makeTempDirSync({ dir: base, prefix: "net-trial-" });
  const times: Partial<Record<HelperMode, number[]>> = {};
  const failed: Partial<Record<HelperMode, string>> = {};
  try {
    for (let i = 0; i < TRIAL_ROUNDS; i++) {
      for (const [mode, tool] of Object.entries(tools) as [HelperMode, string][]) {
        if (failed[mode]) continue;
        try {
          (times[mode] ??= []).push(await startOnce(mode, tool, dir, i));
        } catch (err) {
          failed[mode] = (err as Error).message;
        }
      }
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  const out: HelperStartTimes & { failed?: Partial<Record<HelperMode, string>> } = {};
  for (const [mode, list] of Object.entries(times) as [HelperMode, number[]][]) {
    if (failed[mode] || !list.length) continue;
    const sorted = [...list].sort((a, b) => a - b);
    out[mode] = Math.round(sorted[Math.floor(sorted.length / 2)]! * 10) / 10;
  }
  return Object.keys(failed).length ? { ...out, failed } : out;
}
