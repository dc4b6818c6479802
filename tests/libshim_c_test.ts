/** Builds libshim's C tests with the system compiler (and sanitizers when available) and runs them. */
import { assert, ROOT, scratch, sh, test } from "./_helpers.ts";

test("libshim's C tests pass: hand-built plans, malformed ones, mutation fuzz, spawn and errors", async () => {
  const out = `${scratch()}/plan_test`;
  const src = [`-I${ROOT}/build`, `${ROOT}/libshim/tests/plan_test.c`, `${ROOT}/libshim/shim.c`];
  let build = await sh("cc", ["-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined", "-o", out, ...src]);
  if (build.code !== 0) build = await sh("cc", ["-O1", "-g", "-Wall", "-Wextra", "-Werror", "-o", out, ...src]);
  assert.equal(build.code, 0, build.stderr);
  const r = await sh(out, []);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^1\.\.\d+$/m);
});
