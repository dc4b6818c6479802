/** The C monitor on its own: it checks what it is given and says what is wrong. */
import { assert, busyboxRootfs, busyboxSkip, ROOT, sh, test } from "../_helpers.ts";
import { freshStore } from "../_lifecycle.ts";

const MONITOR = `${ROOT}/build/nook-monitor`;

test("the monitor refuses a missing plan and unknown arguments, with the reason on stderr when nook is not there", async () => {
  const noPlan = await sh(MONITOR, ["--status", "/nonexistent/status"]);
  assert.equal(noPlan.code, 125);
  assert.match(noPlan.stderr, /no plan on fd 3/);
  const unknown = await sh(MONITOR, ["--frobnicate"]);
  assert.equal(unknown.code, 125);
  assert.match(unknown.stderr, /unknown argument "--frobnicate"/);
  const count = await sh(MONITOR, ["--status", "x", "--pre-go-run", "9", "a"]);
  assert.equal(count.code, 125);
  assert.match(count.stderr, /bad argument count/);
});

test("the monitor is a static program: no dynamic loader, no shared libraries", () => {
  const head = new TextDecoder("latin1").decode(Deno.readFileSync(MONITOR).subarray(0, 4096));
  assert.doesNotMatch(head, /ld-linux|ld-musl/);
});

test("run -d with a missing monitor fails with nook's exit code and a hint, leaving the container created", async () => {
  const s = freshStore();
  const env = { ...s.env, NOOK_MONITOR: "/nonexistent/nook-monitor" };
  const r = await new Deno.Command(`${ROOT}/nook`, {
    args: ["run", "-d", "--name", "nomon", "--rootfs", busyboxRootfs(), "true"],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 125);
  const err = new TextDecoder().decode(r.stderr);
  assert.match(err, /monitor "\/nonexistent\/nook-monitor" is missing/);
  assert.match(err, /hint: .*NOOK_MONITOR/);
  const ps = await s.run(["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
  assert.equal(ps.stdout, "nomon created\n");
}, { skip: busyboxSkip() });
