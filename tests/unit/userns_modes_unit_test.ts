/** The id maps of the user namespace modes, computed from fixture mappings (no container). */
import assert from "node:assert/strict";
import { layerView, modeMapping, parseUsernsMode } from "../../src/userns/mod.ts";
import type { IdMapping } from "../../src/userns/mod.ts";
import { isCdiName } from "../../src/engine/cdi.ts";
import { parseDevice } from "../../src/engine/userns.ts";

const base: IdMapping = {
  mode: "subid",
  uidMap: [{ inside: 0, outside: 1001, count: 1 }, { inside: 1, outside: 200000, count: 65536 }],
  gidMap: [{ inside: 0, outside: 1002, count: 1 }, { inside: 1, outside: 300000, count: 65536 }],
};

Deno.test("keep-id is podman's map: U → the caller, 0..U-1 and U+1.. → the subordinate ids in order", () => {
  const m = modeMapping(parseUsernsMode("keep-id"), base, 1001, 1002);
  assert.deepEqual(m.mapping.uidMap, [
    { inside: 0, outside: 200000, count: 1001 },
    { inside: 1001, outside: 1001, count: 1 },
    { inside: 1002, outside: 201001, count: 64535 },
  ]);
  assert.deepEqual(m.keep, { uid: 1001, gid: 1002 });
  // the layers are shown shifted: disk (as the container sees it) → the image's id
  assert.equal(m.layerShift?.uid, "1001:0:1:0:1:1001:1002:1002:64535");
});

Deno.test("keep-id:uid=0 maps the caller to root like the default, with no shift", () => {
  const m = modeMapping(parseUsernsMode("keep-id:uid=0,gid=0"), base, 1001, 1002);
  assert.deepEqual(m.mapping.uidMap, base.uidMap);
  assert.equal(m.layerShift, undefined);
});

Deno.test("--uidmap HOST ids are relative to the caller's mapping; a range past it is refused", () => {
  const m = modeMapping(parseUsernsMode(undefined, ["0:1:10", "10:0:1"], ["0:0:1"]), base, 1001, 1002);
  assert.deepEqual(m.mapping.uidMap, [{ inside: 0, outside: 200000, count: 10 }, { inside: 10, outside: 1001, count: 1 }]);
  assert.throws(() => modeMapping(parseUsernsMode(undefined, ["0:0:70000"]), base, 1001, 1002), /which your user cannot map/);
  assert.throws(() => parseUsernsMode(undefined, ["0:0"]), /Invalid --uidmap "0:0"/);
  assert.throws(() => parseUsernsMode("keep-id", ["0:0:1"]), /cannot be combined/);
});

Deno.test("nomap leaves the caller out; host is refused rootless; unknown modes are named", () => {
  const nomap = modeMapping(parseUsernsMode("nomap"), base, 1001, 1002);
  assert.equal(nomap.callerUnmapped, true);
  // the container's namespace is made below one with the caller's mapping: 0.. → that one's 1..
  assert.deepEqual(nomap.mapping, base);
  assert.deepEqual(nomap.below?.uidMap, [{ inside: 0, outside: 1, count: 65536 }]);
  // fuse-overlayfs, above, shows the image's id k (k on disk there) as k + 1, which the container sees as k
  assert.equal(nomap.layerShift?.uid, "0:1:65536");
  const custom = modeMapping(parseUsernsMode(undefined, ["0:1:1000"]), base, 1001, 1002);
  assert.deepEqual(custom.below?.gidMap, [{ inside: 0, outside: 1, count: 1000 }]);
  assert.throws(() => modeMapping(parseUsernsMode("nomap"), { mode: "single", uidMap: [base.uidMap[0]!], gidMap: [base.gidMap[0]!] }, 1001, 1002), /--userns=nomap needs subordinate ids/);
  assert.throws(() => modeMapping(parseUsernsMode("host"), base, 1001, 1002), /needs root/);
  assert.throws(() => parseUsernsMode("bogus"), /Unknown user namespace mode "bogus"/);
  assert.throws(() => parseUsernsMode("auto:size=1"), /Invalid --userns option "size=1" in "auto:size=1"/);
  assert.deepEqual(parseUsernsMode("auto:size=2048"), { kind: "auto", size: 2048 });
});

Deno.test("layerView skips host ids the container cannot see", () => {
  assert.deepEqual(layerView([{ inside: 0, outside: 10, count: 10 }], [{ inside: 0, outside: 15, count: 100 }]), [{ inside: 5, outside: 0, count: 5 }]);
});

Deno.test("--device values and CDI names", () => {
  assert.deepEqual(parseDevice("/dev/null"), [{ host: "/dev/null", container: "/dev/null", writable: true }]);
  assert.deepEqual(parseDevice("/dev/null:r"), [{ host: "/dev/null", container: "/dev/null", writable: false }]);
  assert.deepEqual(parseDevice("/dev/null:/dev/x:rw"), [{ host: "/dev/null", container: "/dev/x", writable: true }]);
  const dir = Deno.makeTempDirSync();
  assert.throws(() => parseDevice(dir), /holds no device node/);
  Deno.removeSync(dir);
  assert.throws(() => parseDevice("/etc/passwd"), /it is not a device node/);
  assert.throws(() => parseDevice("dev/null"), /Invalid --device/);
  assert.ok(isCdiName("nvidia.com/gpu=all"));
  assert.ok(!isCdiName("/dev/null"));
});
