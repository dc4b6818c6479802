/** The engine is the library API: examples/embed.ts runs a command in a container and exits with its code. */
import { assert, busyboxRootfs, busyboxSkip, isolatedEnv, nook, ROOT, rootlessSkip, test } from "../_helpers.ts";

async function embed(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}/examples/embed.ts`, ...args],
    env: isolatedEnv(),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

test("examples/embed.ts runs a command in a container, prints its output and exits with its code", async () => {
  const r = await embed(["--rootfs", busyboxRootfs(), "sh", "-c", "echo hello from $(hostname); exit 3"]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /^hello from [0-9a-f]{12}\n$/);
}, { skip: busyboxSkip() });

test("the library runs an image too, through the same resolvers as nook run, and leaves no container behind", async () => {
  const r = await embed(["--image", "hello"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Hello from nook!/);
  assert.match(r.stdout, /pid:\s+1\n/);
  const ps = await nook(["ps", "-a", "-q"]);
  assert.equal(ps.code, 0, ps.stderr);
  assert.equal(ps.stdout, "", "the container was removed when it exited");
}, { skip: rootlessSkip() });
