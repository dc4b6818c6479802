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

test("--rootless takes runc's values (true, false, auto), refuses others, and its help says what nook does", async () => {
  for (const v of ["true", "false", "auto"]) {
    const r = await runtime(stateRootDir(), ["--rootless", v, "list", "--quiet"]);
    assert.equal(r.code, 0, `--rootless ${v}: ${r.stderr}`);
  }
  const bad = await runtime(stateRootDir(), ["--rootless", "maybe", "list"]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--rootless takes true, false or auto, not "maybe"/);
  const help = await runtime(undefined, ["--help"]);
  assert.doesNotMatch(help.stdout, /always rootless/);
  assert.match(help.stdout, /--rootless true\|false\|auto\s+Accepted as runc takes it/);
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
