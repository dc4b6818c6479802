/**
 * How long compiling a seccomp profile takes, as `nook run` does it: once per
 * run, in a fresh process (cold: V8 has not compiled or optimised anything
 * yet), and in a loop (warm). Also the program sizes.
 *
 *   .deno/node_modules/deno/deno run -A bench/seccomp_compile.ts [RUNS]
 *
 * Prints medians in milliseconds.
 */
import { compileProfile, defaultFilter, defaultProfile, parseProfile } from "../src/seccomp/mod.ts";
import { decideSecurity, DEFAULT_CAPABILITIES } from "../src/security/mod.ts";

const PODMAN = "/usr/share/containers/seccomp.json";

if (Deno.args[0] === "--once") {
  // one cold compile in this fresh process: what `nook run` pays
  const which = Deno.args[1];
  const t0 = performance.now();
  if (which === "default") compileProfile(defaultProfile(), { capabilities: DEFAULT_CAPABILITIES });
  else if (which === "precompiled") defaultFilter(DEFAULT_CAPABILITIES);
  else if (which === "decide") decideSecurity({ uid: 0 });
  else if (which === "decide-drop-all") decideSecurity({ uid: 0, capDrop: ["ALL"] });
  else compileProfile(parseProfile(Deno.readTextFileSync(PODMAN), PODMAN), { capabilities: DEFAULT_CAPABILITIES });
  console.log((performance.now() - t0).toFixed(3));
  Deno.exit(0);
}

const runs = Number(Deno.args[0] ?? 20);
const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;

function cold(which: string): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = new Deno.Command(Deno.execPath(), { args: ["run", "-A", import.meta.filename!, "--once", which] })
      .outputSync();
    times.push(Number(new TextDecoder().decode(out.stdout)));
  }
  return median(times);
}

function warm(fn: () => void): number {
  for (let i = 0; i < 50; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

const def = compileProfile(defaultProfile(), { capabilities: DEFAULT_CAPABILITIES });
console.log(`built-in profile: ${def.program.length / 8} instructions (${Deno.build.arch})`);
console.log(`  cold compile (fresh process, median of ${runs}): ${cold("default").toFixed(2)} ms`);
console.log(
  `  warm compile (median of 200): ${
    warm(() => compileProfile(defaultProfile(), { capabilities: DEFAULT_CAPABILITIES })).toFixed(3)
  } ms`,
);
console.log(`  precompiled for the default capabilities, cold: ${cold("precompiled").toFixed(2)} ms`);
console.log(
  `whole security decision of a default \`nook run\` (caps, masks, filter), cold: ${cold("decide").toFixed(2)} ms`,
);
console.log(
  `  the same with --cap-drop ALL (filter compiled at run time), cold: ${cold("decide-drop-all").toFixed(2)} ms`,
);
try {
  const text = Deno.readTextFileSync(PODMAN);
  const p = compileProfile(parseProfile(text, PODMAN), { capabilities: DEFAULT_CAPABILITIES });
  console.log(`podman's ${PODMAN}: ${p.program.length / 8} instructions`);
  console.log(`  cold parse + compile (median of ${runs}): ${cold("podman").toFixed(2)} ms`);
  console.log(
    `  warm parse + compile: ${
      warm(() => compileProfile(parseProfile(text, PODMAN), { capabilities: DEFAULT_CAPABILITIES })).toFixed(3)
    } ms`,
  );
} catch {
  console.log(`(${PODMAN} not found: podman's profile skipped)`);
}
