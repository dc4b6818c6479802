import { assert, scratch, test } from "../_helpers.ts";
import { detectIdMapping, isMapped, mappedCount, parseSubid, rangesFor } from "../../src/userns/mod.ts";

const SUBID = "# comment\nalice:100000:65536\n1001:300000:1000\nbob:200000:65536\nalice:500000:10\nbroken:line\nzero:1:0\n";

test("subid files are parsed by name and by uid, with several ranges per user", () => {
  const e = parseSubid(SUBID);
  assert.equal(e.length, 4);
  assert.deepEqual(rangesFor(e, "alice", 1000).map((r) => r.start), [100000, 500000]);
  assert.deepEqual(rangesFor(e, "carol", 1001).map((r) => r.start), [300000]);
  assert.deepEqual(rangesFor(e, undefined, 1002), []);
});

function fixture(subuid: string, subgid = subuid, tools = true): { subuidPath: string; subgidPath: string; path: string } {
  const d = scratch();
  Deno.writeTextFileSync(`${d}/subuid`, subuid);
  Deno.writeTextFileSync(`${d}/subgid`, subgid);
  Deno.mkdirSync(`${d}/bin`);
  if (tools) {
    for (const t of ["newuidmap", "newgidmap"]) Deno.writeTextFileSync(`${d}/bin/${t}`, "#!/bin/sh\n", { mode: 0o755 });
  }
  return { subuidPath: `${d}/subuid`, subgidPath: `${d}/subgid`, path: `${d}/bin` };
}

test("with newuidmap and ranges, 0 maps to the caller and 1.. to the ranges in order", () => {
  const m = detectIdMapping({ uid: 1000, gid: 1000, user: "alice", force: "", ...fixture(SUBID) });
  assert.equal(m.mode, "subid");
  assert.deepEqual(m.uidMap, [
    { inside: 0, outside: 1000, count: 1 },
    { inside: 1, outside: 100000, count: 65536 },
    { inside: 65537, outside: 500000, count: 10 },
  ]);
  assert.equal(mappedCount(m.uidMap), 65547);
  assert.ok(isMapped(m.gidMap, 65534));
});

test("without newuidmap the mapping is single and the notice says what to install", () => {
  const m = detectIdMapping({ uid: 1000, gid: 1000, user: "alice", force: "", ...fixture(SUBID, SUBID, false) });
  assert.equal(m.mode, "single");
  assert.deepEqual(m.uidMap, [{ inside: 0, outside: 1000, count: 1 }]);
  assert.match(m.notice!, /apt install uidmap/);
});

test("without a subuid range the notice gives the usermod command for this user", () => {
  const m = detectIdMapping({ uid: 1000, gid: 1000, user: "dave", force: "", ...fixture(SUBID) });
  assert.equal(m.mode, "single");
  assert.match(m.notice!, /usermod --add-subuids 100000-165535 --add-subgids 100000-165535 dave/);
  assert.ok(!isMapped(m.uidMap, 5));
});

test("NOOK_IDMAP=single forces the single mapping", () => {
  const m = detectIdMapping({ uid: 1000, gid: 1000, user: "alice", force: "single", ...fixture(SUBID) });
  assert.equal(m.mode, "single");
});

test("a refused clone names the sysctl that forbids user namespaces and the command that fixes it", async () => {
  const { explainCloneFailure } = await import("../../src/userns/mod.ts");
  const host = (values: Record<string, string>) => (p: string) => values[p.replace("/proc/sys/", "")];
  const debian = explainCloneFailure(1, host({ "kernel/unprivileged_userns_clone": "0", "user/max_user_namespaces": "100" }));
  assert.match(debian.message, /unprivileged user namespaces are disabled \(kernel\.unprivileged_userns_clone = 0\)/);
  assert.match(debian.hint!, /sysctl -w kernel\.unprivileged_userns_clone=1/);
  assert.equal(debian.exitCode, 125);
  const zero = explainCloneFailure(28, host({ "user/max_user_namespaces": "0" }));
  assert.match(zero.hint!, /user\.max_user_namespaces=/);
  const ubuntu = explainCloneFailure(1, host({ "kernel/apparmor_restrict_unprivileged_userns": "1", "user/max_user_namespaces": "9" }));
  assert.match(ubuntu.message, /AppArmor restricts unprivileged user namespaces/);
  assert.match(ubuntu.hint!, /apparmor_restrict_unprivileged_userns=0/);
  const full = explainCloneFailure(28, host({ "user/max_user_namespaces": "9" }));
  assert.match(full.message, /limit on user namespaces is reached/);
});
