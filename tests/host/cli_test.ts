import { PLAN_VERSION } from "../../src/plan/ops.ts";
import { assert, nook, test } from "../_helpers.ts";

test("nook --version prints nook, Deno and libshim versions", async () => {
  const r = await nook(["--version"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^nook \S+\ndeno 2\.9\.\d+\n/);
  assert.match(r.stdout, new RegExp(`libshim plan v${PLAN_VERSION}`));
});

test("nook --help lists the commands, and run --help shows options with examples", async () => {
  const top = await nook(["--help"]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /^\s+run\s+Run a command in a new container$/m);
  const run = await nook(["run", "--help"]);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /--rootfs DIR/);
  assert.match(run.stdout, /Examples:\n {2}nook run --rm hello/);
});

test("an unknown command exits 125 and says how to list commands", async () => {
  const r = await nook(["frobnicate"]);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /unknown command "frobnicate"/);
});
