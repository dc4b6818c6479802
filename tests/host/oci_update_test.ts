/**
 * `nook runtime update`, `events`, `checkpoint`, `restore` and `features` on
 * a running container. Where the host gives the container no cgroup (v1 or
 * hybrid), update and events must say so clearly; the cgroup v2 side is the
 * guest's (tests/guest).
 */
import { assert, busyboxSkip, test } from "../_helpers.ts";
import { makeBundle, runtime, stateRootDir } from "../_oci_runtime.ts";
import { chooseManager } from "../../src/cgroupv2/mod.ts";

const skip = busyboxSkip();
const noManager = chooseManager().kind === "none";

test("checkpoint and restore are refused with a clear message, whatever their flags", async () => {
  for (const verb of ["checkpoint", "restore"]) {
    const r = await runtime(stateRootDir(), [verb, "--image-path", "/nonexistent", "--leave-running", "c1"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`${verb} is not supported: nook cannot checkpoint or restore containers`));
  }
});

test("features lists the new verbs' ground: cgroup, namespaces, capabilities", async () => {
  const r = await runtime(undefined, ["features"]);
  assert.equal(r.code, 0, r.stderr);
  const f = JSON.parse(r.stdout);
  assert.ok(Array.isArray(f.linux?.namespaces) && f.linux.namespaces.includes("user"), r.stdout);
  assert.ok(Array.isArray(f.linux?.capabilities) && f.linux.capabilities.includes("CAP_SYS_ADMIN"), r.stdout);
});

test("update and events of a container without a cgroup say why they cannot", async () => {
  const root = stateRootDir();
  const b = makeBundle((c) => (c.process.args = ["sleep", "60"]));
  let r = await runtime(root, ["run", "--detach", "--bundle", b, "u1"]);
  assert.equal(r.code, 0, r.stderr);
  try {
    r = await runtime(root, ["update", "--memory", "64m", "u1"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /cannot update container "u1": it has no cgroup of its own/);
    r = await runtime(root, ["events", "--stats", "u1"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /container "u1" has no cgroup of its own/);
    r = await runtime(root, ["update", "--memory", "lots", "u1"]);
    assert.match(r.stderr, /--memory takes a size/);
  } finally {
    await runtime(root, ["delete", "--force", "u1"]);
  }
}, { skip: skip ?? (noManager ? undefined : "this host gives containers a cgroup (the guest tests update there)") });
