/**
 * The one plan builder without containers: a plan spec (src/model/plan_spec.ts) compiles into
 * the ops of engine/build_plan.ts's header, in that order, whichever front door wrote the spec.
 */
import { assert, test } from "../_helpers.ts";
import { compilePlan, joinsFirst, runPlanSpec, USER_NETWORK_SYNC } from "../../src/engine/build_plan.ts";
import type { ContainerSpec } from "../../src/model/container.ts";
import type { PlanSpec } from "../../src/model/plan_spec.ts";
import { decideSecurity } from "../../src/security/mod.ts";
import { CLONE, MOUNT_ATTR, MS } from "../../src/plan/mod.ts";
import type { IdMapping } from "../../src/userns/mod.ts";

const security = decideSecurity({ uid: 0, securityOpts: ["seccomp=unconfined"] }).security;

/** A plan spec with nothing optional: new user, mount and pid namespaces, no steps. */
function spec(over: Partial<PlanSpec> = {}): PlanSpec {
  return {
    namespaces: [{ type: "user" }, { type: "mount" }, { type: "pid" }],
    cgroupNsAfterPlacement: false,
    dieWithParent: false,
    syncs: {},
    propagation: { before: MS.REC | MS.PRIVATE, after: 0 },
    rootfs: "/r",
    rootNodev: false,
    steps: [],
    sysctls: [],
    dumpableAfterMounts: false,
    noPivot: false,
    readonlyRoot: false,
    loopback: false,
    process: {
      args: ["true"],
      env: [],
      cwd: "/",
      uid: 0,
      gid: 0,
      groups: [],
      terminal: false,
      stdin: true,
      rlimits: [],
    },
    security,
    skipSetgroups: true,
    ...over,
  };
}

const names = (s: PlanSpec) => compilePlan(s).ops.map((o) => o.name);
/** The ops before the first MOUNT: the namespaces' part of the plan. */
const prologue = (s: PlanSpec) => {
  const n = names(s);
  return n.slice(0, n.indexOf("MOUNT"));
};

test("new namespaces are cloned; a joined user namespace, or a new one besides joined ones, is joined first and the rest unshared", () => {
  const cloned = spec({ becomeRoot: { skipSetgroups: true }, dieWithParent: true });
  assert.equal(compilePlan(cloned).cloneFlags, CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWPID);
  assert.deepEqual(
    prologue(cloned),
    ["SETID", "PDEATHSIG"],
    "root of the new namespace before the parent-death signal",
  );
  assert.equal(joinsFirst(cloned.namespaces), false);

  // a new user namespace besides a joined network namespace: SYNC for the id maps, then root, then the fork
  const beside = spec({
    namespaces: [{ type: "network", path: "/proc/1/ns/net" }, { type: "user" }, { type: "mount" }, { type: "pid" }],
    becomeRoot: { skipSetgroups: false },
    syncs: { namespaces: 901 },
  });
  assert.equal(joinsFirst(beside.namespaces), true);
  const p = compilePlan(beside);
  assert.equal(p.cloneFlags, 0);
  assert.deepEqual(prologue(beside), ["SETNS", "UNSHARE", "DUMPABLE", "SYNC", "DUMPABLE", "SETID", "FORK"]);
  assert.equal(p.ops[1]!.fields[0]!.v, CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWPID);

  // joined namespaces in the one join order (user first, mount last), whatever order the spec lists them in
  const joined = spec({
    namespaces: [
      { type: "mount" },
      { type: "pid", path: "/p" },
      { type: "network", path: "/n" },
      { type: "user", path: "/u" },
      { type: "ipc", path: "/i" },
    ],
  });
  assert.deepEqual(
    compilePlan(joined).ops.filter((o) => o.name === "SETNS").map((o) => o.fields[0]!.v),
    ["/u", "/i", "/n", "/p"],
  );
  // a cgroup namespace made after the parent placed the process comes after the fork
  const late = spec({
    namespaces: [...joined.namespaces, { type: "cgroup" }],
    cgroupNsAfterPlacement: true,
    dieWithParent: true,
  });
  assert.deepEqual(prologue(late).slice(-4), ["UNSHARE", "FORK", "PDEATHSIG", "UNSHARE"]);
});

test("the filesystem steps come in order between ROOT and pivot_root, each mount with its mount point and attributes", () => {
  const s = spec({
    steps: [
      { mount: { source: "proc", target: "/proc", fstype: "proc", flags: 0, point: "dir", mode: 0o555 } },
      { symlink: "/dev/fd", target: "/proc/self/fd" },
      { dir: "/etc" },
      { file: "/dev/console", mode: 0o600 },
      {
        mount: {
          source: "/h",
          target: "/a/b",
          fstype: "",
          flags: MS.BIND,
          point: "file",
          attrs: [{ set: MOUNT_ATTR.RDONLY, recursive: false }, { set: 0, propagation: MS.SLAVE, recursive: true }],
        },
      },
      { mount: { source: "sysfs", target: "/sys", fstype: "sysfs", flags: 0, orBind: { path: "/sys", attrs: 1 } } },
    ],
    sysctls: [["net.ipv4.ip_forward", "1"]],
    process: { ...spec().process, cwd: "/w" },
    syncs: { beforePivot: 902 },
    dumpableAfterMounts: true,
    noPivot: true,
  });
  const n = names(s);
  assert.deepEqual(n.slice(n.indexOf("ROOT") + 1, n.indexOf("CHROOT")), [
    // /proc: one directory, the mount
    "MKDIR",
    "MOUNT",
    "SYMLINK",
    "MKDIR",
    "MKFILE",
    // /a/b: its parent, the file, the bind, the attributes in order
    "MKDIR",
    "MKFILE",
    "MOUNT",
    "MOUNT_SETATTR",
    "MOUNT_SETATTR",
    // /sys: the directory, a mount that falls back to binding the host's
    "MKDIR",
    "MOUNT_OR_BIND",
    // the sysctl, the working directory, then the stop before pivot_root
    "WRITE",
    "MKDIR",
    "DUMPABLE",
    "SYNC",
  ]);
  const write = compilePlan(s).ops.find((o) => o.name === "WRITE")!;
  assert.equal(write.fields[0]!.v, "/proc/sys/net/ipv4/ip_forward");
});

test("the barrier opens first and is waited on after SYNC created, right before exec", () => {
  const n = names(spec({ barrier: "/f", syncs: { created: 903 } }));
  assert.equal(n[0], "BARRIER_OPEN");
  assert.deepEqual(n.slice(-3), ["SYNC", "BARRIER_WAIT", "EXEC"]);
});

test("nook run's spec becomes a plan spec: a user network joins the shared user namespace and stops for its veth", () => {
  const mapping: IdMapping = {
    mode: "single",
    uidMap: [{ inside: 0, outside: 1000, count: 1 }],
    gidMap: [{ inside: 0, outside: 1000, count: 1 }],
  };
  const c = {
    id: "a".repeat(64),
    rootfs: "/r",
    readonlyRootfs: true,
    hostname: "h",
    network: "none",
    process: {
      args: ["true"],
      env: [],
      cwd: "/",
      uid: 0,
      gid: 0,
      groups: [],
      terminal: false,
      stdin: false,
      init: false,
      umask: 0o22,
      rlimits: [],
    },
    mounts: [],
    etcFiles: { hosts: "/x/hosts", hostname: "/x/hostname", resolvConf: "/x/resolv.conf" },
    joinUserns: "/proc/1/ns/user",
    userNetwork: { network: "n", ip: "10.0.0.2", aliases: [] },
  } satisfies ContainerSpec;
  const ps = runPlanSpec(c, mapping);
  assert.equal(ps.syncs.namespaces, USER_NETWORK_SYNC);
  assert.ok(joinsFirst(ps.namespaces));
  assert.equal(ps.process.stdin, false);
  assert.deepEqual(prologue(ps), [
    "PDEATHSIG",
    "SETNS",
    "UNSHARE",
    "DUMPABLE",
    "SYNC",
    "DUMPABLE",
    "FORK",
    "PDEATHSIG",
  ]);
  const n = names(ps);
  assert.ok(n.indexOf("SETHOSTNAME") < n.indexOf("LOOPBACK_UP"));
  assert.equal(n[n.indexOf("PIVOT_ROOT") + 1], "MOUNT_SETATTR", "the read-only root right after pivot_root");
  // with the file of netlink requests, the child configures its interfaces right after the SYNC
  const linked = runPlanSpec({ ...c, userNetwork: { ...c.userNetwork, linkSetup: "/x/link-setup.netlink" } }, mapping);
  const ops = compilePlan(linked).ops;
  const at = ops.findIndex((o) => o.name === "NETLINK_FILE");
  assert.deepEqual(ops.slice(at - 2, at + 2).map((o) => o.name), ["SYNC", "DUMPABLE", "NETLINK_FILE", "FORK"]);
  assert.equal(ops[at]!.path, "/x/link-setup.netlink");
  assert.ok(!names(ps).includes("NETLINK_FILE"), "a record made before has no such step: ip configures its interfaces");
});
