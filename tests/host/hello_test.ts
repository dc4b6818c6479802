import { assert, nook, rootlessSkip, test } from "../_helpers.ts";

test("nook run --rm hello works offline and shows a real container", async () => {
  const r = await nook(["run", "--rm", "hello"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Hello from nook!/);
  assert.match(r.stdout, /pid:\s+1\n/);
  assert.match(r.stdout, new RegExp(`uid:\\s+0 \\(uid_map:\\s+0\\s+${Deno.uid()}\\s+1\\)`));
  assert.match(r.stdout, /7 of 7 differ from the host's/);
}, { skip: rootlessSkip() });

test("the hello image's root filesystem is read-only to its containers", async () => {
  const r = await nook(["run", "--rm", "--entrypoint", "/hello", "hello"]);
  assert.equal(r.code, 0, r.stderr);
  const w = await nook(["run", "--rm", "hello", "/no/such"]);
  assert.equal(w.code, 127);
}, { skip: rootlessSkip() });
