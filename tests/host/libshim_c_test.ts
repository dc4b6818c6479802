/** Builds libshim's C tests with the system compiler (and sanitizers when available) and runs them. */
import { assert, ROOT, scratch, sh, test } from "../_helpers.ts";

/** libshim's library sources, as libshim/build.sh puts them into libshim.a: every .c but the two programs. */
function librarySources(): string[] {
  const programs = new Set(["monitor.c", "exec_helper.c"]);
  return [...Deno.readDirSync(`${ROOT}/libshim`)]
    .filter((e) => e.isFile && e.name.endsWith(".c") && !programs.has(e.name))
    .map((e) => `${ROOT}/libshim/${e.name}`)
    .sort();
}

test("libshim's C tests pass: hand-built plans, malformed ones, mutation fuzz, spawn and errors", async () => {
  const out = `${scratch()}/plan_test`;
  const src = [`-I${ROOT}/build`, `${ROOT}/libshim/tests/plan_test.c`, ...librarySources()];
  let build = await sh("cc", ["-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined", "-o", out, ...src]);
  if (build.code !== 0) build = await sh("cc", ["-O1", "-g", "-Wall", "-Wextra", "-Werror", "-o", out, ...src]);
  assert.equal(build.code, 0, build.stderr);
  const r = await sh(out, []);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^1\.\.\d+$/m);
});
