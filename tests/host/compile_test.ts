/**
 * The single binary: `deno compile` (through tools/release.sh, the one place
 * that lists what gets embedded: libshim, hello, the monitor, lazily loaded
 * modules). Deno downloads its base runtime (denort) for this, which needs
 * network access to Deno's servers or DENORT_BIN pointing at a denort binary.
 */
import { PLAN_VERSION } from "../../src/plan/ops.ts";
import { assert, compileSkip, ROOT, scratch, sh, test } from "../_helpers.ts";

test("the compiled binary runs the hello image, detached too, with its embedded libshim and monitor", async () => {
  const dist = scratch();
  const c = await sh(`${ROOT}/tools/release.sh`, ["--compile-only"], { ...Deno.env.toObject(), NOOK_DIST: dist });
  assert.equal(c.code, 0, c.stderr);
  const out = [...Deno.readDirSync(dist)].map((e) => `${dist}/${e.name}`).find((p) => /nook-linux-[a-z0-9_]+$/.test(p))!;
  const v = await sh(out, ["--version"]);
  assert.match(v.stdout, new RegExp(`libshim plan v${PLAN_VERSION}`));
  const h = await sh(out, ["run", "--rm", "hello"], { ...Deno.env.toObject(), NOOK_DATA_DIR: scratch() });
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /Hello from nook!/);
  // detached: the monitor is extracted from the binary to the data directory and exec'd from there
  const env = { ...Deno.env.toObject(), NOOK_DATA_DIR: scratch() };
  const d = await sh(out, ["run", "-d", "--name", "h", "hello"], env);
  assert.equal(d.code, 0, d.stderr);
  assert.equal((await sh(out, ["wait", "h"], env)).stdout, "0\n");
  assert.match((await sh(out, ["logs", "h"], env)).stdout, /Hello from nook!/);
}, { skip: compileSkip() });
