/**
 * The single binary: `deno compile` with libshim and hello embedded. Deno
 * downloads its base runtime (denort) for this, which needs network access to
 * Deno's servers or DENORT_BIN pointing at a denort binary.
 */
import { assert, compileSkip, nook, ROOT, scratch, sh, test } from "./_helpers.ts";

test("the compiled binary runs the hello image and finds its embedded libshim", async () => {
  const out = `${scratch()}/nook`;
  const deno = Deno.execPath();
  const c = await sh(deno, [
    "compile", "--allow-all", "--config", `${ROOT}/deno.json`, "--include", `${ROOT}/build/libshim.so`,
    "--include", `${ROOT}/build/hello`, "--include", `${ROOT}/src/config/resolve.ts`, "--output", out, `${ROOT}/src/cli/main.ts`,
  ], { ...Deno.env.toObject() });
  assert.equal(c.code, 0, c.stderr);
  const v = await sh(out, ["--version"]);
  assert.match(v.stdout, /libshim plan v1/);
  void nook;
  const h = await sh(out, ["run", "--rm", "hello"], { ...Deno.env.toObject(), NOOK_DATA_DIR: scratch() });
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /Hello from nook!/);
}, { skip: compileSkip() });
