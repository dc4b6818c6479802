/** The engine is the library API: examples/embed.ts runs a command in a container and exits with its code. */
import { assert, busyboxRootfs, busyboxSkip, isolatedEnv, ROOT, test } from "./_helpers.ts";

test("examples/embed.ts runs a command in a container, prints its output and exits with its code", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}/examples/embed.ts`, "--rootfs", busyboxRootfs(), "sh", "-c", "echo hello from $(hostname); exit 3"],
    env: isolatedEnv(),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 3, new TextDecoder().decode(out.stderr));
  assert.match(stdout, /^hello from [0-9a-f]{12}\n$/);
}, { skip: busyboxSkip() });
