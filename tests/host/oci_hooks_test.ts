/**
 * OCI hooks as plans: what the plan of a hook holds, and hooks of the
 * runtime's namespaces run for real (those of a container's namespaces run in
 * tests/host/oci_runtime_test.ts, which needs a container).
 */
import { assert, test } from "../_helpers.ts";
import { validate } from "../../src/ffi/mod.ts";
import { hookPlan, runHook } from "../../src/oci/_shim.ts";

test("a hook in a container's namespaces is a plan: input, output fds, setns in order, fork, then a direct exec", async () => {
  const ns = ["/proc/42/ns/user", "/proc/42/ns/pid", "/proc/42/ns/mnt"];
  const plan = hookPlan("/usr/bin/hook", ["hook", "x"], ["A=1"], ns, '{"id":"c"}', 9);
  assert.deepEqual(plan.ops.map((o) => o.name), [
    "INPUT",
    "OPEN_FD",
    "OPEN_FD",
    "SETNS",
    "SETNS",
    "SETNS",
    "CHDIR",
    "FORK",
    "EXEC",
  ]);
  assert.deepEqual(plan.ops.filter((o) => o.name === "SETNS").map((o) => o.path), ns, "joined in the order given");
  assert.deepEqual(plan.ops.filter((o) => o.name === "OPEN_FD").map((o) => o.fields.at(-1)?.v), [1, 2]);
  const exec = plan.ops.at(-1)!;
  assert.deepEqual(exec.fields[0]?.v, ["/usr/bin/hook"]);
  assert.equal(exec.fields[3]?.v, 1, "EXEC's direct flag: the hook is the host's program, not through nook-exec");
  assert.equal(plan.cloneFlags, 0, "no new namespaces: only the container's are joined");
  assert.equal(await validate(plan.encode()), "");
  // in the runtime's namespaces: nothing to join, no fork
  const own = hookPlan("/bin/true", [], [], [], "", 9);
  assert.deepEqual(own.ops.map((o) => o.name), ["INPUT", "OPEN_FD", "OPEN_FD", "EXEC"]);
  assert.deepEqual(own.ops.at(-1)!.fields[1]?.v, ["/bin/true"], "argv defaults to the path");
});

test("a hook gets the state on stdin and its environment, is exec'd directly, and its output and status come back", async () => {
  const script = 'read -r s; echo "in: $s"; echo "env: $V" >&2; ' +
    'case $(readlink /proc/$$/exe) in /memfd:*) echo "through a memfd"; exit 9;; esac; ' +
    // the shell's own glob, not a command substitution (whose pipe ends the shell closes only after forking)
    'fds=""; for f in /proc/$$/fd/*; do fds="$fds ${f##*/}"; done; echo "fds:$fds"; exit 3';
  const r = await runHook("/bin/sh", ["sh", "-c", script], ["V=ok"], [], '{"id":"c1"}', 10_000);
  assert.equal(r.status, 3, r.output);
  assert.match(r.output, /in: \{"id":"c1"\}/);
  assert.match(r.output, /env: ok/);
  assert.doesNotMatch(r.output, /through a memfd/);
  // 0-2 and the directory the glob reads: nothing of nook's
  const fds = /fds: ([\d ]*)/.exec(r.output)?.[1]?.trim().split(" ").map(Number) ?? [];
  assert.deepEqual(fds.slice(0, 3), [0, 1, 2], r.output);
  assert.ok(fds.length <= 4, `no fd of nook's leaked into the hook: ${r.output}`);
});

test("a hook past its timeout is killed; one that cannot be exec'd says why", async () => {
  const t0 = Date.now();
  const slow = await runHook("/bin/sleep", ["sleep", "20"], [], [], "", 300);
  assert.equal(slow.status, "timeout");
  assert.ok(Date.now() - t0 < 5_000, "the timeout stopped the hook");
  const missing = await runHook("/nonexistent/hook", ["hook"], [], [], "", 5_000);
  assert.equal(missing.status, 127);
  assert.match(missing.output, /cannot exec "\/nonexistent\/hook": /);
  const badNs = await runHook("/bin/true", ["true"], [], ["/nonexistent/ns"], "", 5_000);
  assert.equal(badNs.status, 126);
  assert.match(badNs.output, /cannot setns "\/nonexistent\/ns": /);
});
