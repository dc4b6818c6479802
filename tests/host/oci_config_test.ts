/**
 * config.json → plan without running anything: what each field becomes, in
 * which order, and which fields are refused by name.
 */
import { assert, test } from "../_helpers.ts";
import { defaultSpec } from "../../src/oci/default_spec.ts";
import { parseConfig } from "../../src/oci/config.ts";
import { buildCreatePlan, SYNC_TAG } from "../../src/oci/plan_spec.ts";
import { parseCgroupsPath, requestedResources } from "../../src/oci/cgroups.ts";
import { parseSignal } from "../../src/oci/lifecycle.ts";
import { RuntimeLog } from "../../src/oci/log.ts";
import { CLONE, MS } from "../../src/plan/mod.ts";
import { OciError } from "../../src/oci/errors.ts";
import { runtimeArgv } from "../../src/oci/argv0.ts";

// deno-lint-ignore no-explicit-any
type Config = Record<string, any>;

const log = new RuntimeLog({ format: "text", debug: false });

function config(edit: (c: Config) => void = () => {}): Config {
  const c: Config = defaultSpec(true);
  c.root = { path: "/tmp", readonly: true };
  c.process.terminal = false;
  edit(c);
  return c;
}

function plan(edit: (c: Config) => void = () => {}, hostCgroup2 = false) {
  const cfg = parseConfig(JSON.stringify(config(edit)), "/bundle");
  return buildCreatePlan(cfg, { fifo: "/state/x/exec.fifo", noPivot: false, preserveFds: 0, hostCgroup2, log });
}

const names = (p: ReturnType<typeof plan>) => p.plan.ops.map((o) => o.name);

function refuses(edit: (c: Config) => void, field: string): void {
  assert.throws(() => plan(edit), (err: unknown) => {
    assert.ok(err instanceof OciError, String(err));
    assert.ok(err.message.includes(`"${field}"`), `"${err.message}" names "${field}"`);
    return true;
  });
}

test("a rootless bundle becomes: barrier, mounts, pivot_root, process set-up, SYNC created, barrier wait, exec", () => {
  const p = plan();
  const n = names(p);
  assert.equal(n[0], "BARRIER_OPEN", "the FIFO is opened before any path resolves in the rootfs");
  assert.equal(p.plan.ops[0]!.path, "/state/x/exec.fifo");
  assert.deepEqual(n.slice(-3), ["SYNC", "BARRIER_WAIT", "EXEC"]);
  assert.deepEqual(p.plan.ops.at(-3)!.fields, [{ t: "u64", v: SYNC_TAG.CREATED }]);
  // the process's user is set after pivot_root; a first SETID makes it root of the new namespace
  assert.ok(n.indexOf("PIVOT_ROOT") < n.lastIndexOf("SETID") && n.lastIndexOf("SETID") < n.indexOf("SYNC"));
  assert.equal(n.indexOf("SETID"), 1, "root of the new user namespace before anything is made in it");
  assert.ok(!n.includes("PDEATHSIG"), "the process outlives `create`: no parent-death signal");
  assert.equal(p.plan.cloneFlags & CLONE.NEWUSER, CLONE.NEWUSER);
  assert.equal(p.plan.cloneFlags & CLONE.NEWNET, 0, "the rootless spec keeps the host's network");
  assert.equal(p.mapsAtSync, false, "maps are written before GO");
  assert.equal(p.mapping?.mode, "single", "only the caller's own ids: written directly");
  assert.ok(!n.includes("SYNC") || n.filter((x) => x === "SYNC").length === 1, "no hook stop without hooks");
});

test("sysfs, proc and mqueue fall back to the host's mount; cgroup is a bind on a v1 or hybrid host", () => {
  const p = plan((c) => {
    c.mounts = c.mounts.filter((m: Config) => m.destination !== "/sys");
    c.mounts.push({
      destination: "/sys",
      type: "sysfs",
      source: "sysfs",
      options: ["nosuid", "noexec", "nodev", "ro"],
    });
    c.mounts.push({ destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["ro"] });
  });
  const sysfs = p.plan.ops.find((o) => o.name === "MOUNT_OR_BIND" && o.path === "/sys")!;
  assert.ok(sysfs, "sysfs is mount-or-bind");
  assert.deepEqual(sysfs.fields.slice(5), [{ t: "str", v: "/sys" }, { t: "u64", v: 0xf }]);
  assert.ok(p.plan.ops.some((o) => o.name === "MOUNT_OR_BIND" && o.path === "/proc"));
  assert.ok(p.plan.ops.some((o) => o.name === "MOUNT_OR_BIND" && o.path === "/dev/mqueue"));
  const cg = p.plan.ops.find((o) => o.name === "MOUNT" && o.path === "/sys/fs/cgroup")!;
  assert.deepEqual(cg.fields[0], { t: "str", v: "/sys/fs/cgroup" }, "bound from the host");
  const v2 = plan((c) => c.mounts.push({ destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup" }), true);
  assert.ok(v2.plan.ops.some((o) => o.name === "MOUNT_OR_BIND" && o.path === "/sys/fs/cgroup"), "cgroup2 on a v2 host");
});

test("devpts loses gid=5 when gid 5 is not mapped; devices are bound, symlinks made", () => {
  const p = plan((c) => c.mounts.find((m: Config) => m.destination === "/dev/pts").options.push("gid=5"));
  const pts = p.plan.ops.find((o) => o.name === "MOUNT" && o.path === "/dev/pts")!;
  assert.doesNotMatch(String(pts.fields[4]!.v), /gid=5/);
  assert.match(String(pts.fields[4]!.v), /newinstance/);
  const binds = p.plan.ops.filter((o) => o.name === "MOUNT" && o.path?.startsWith("/dev/") && o.fields[3]!.v === 4096);
  assert.deepEqual(binds.map((o) => o.path).sort(), [
    "/dev/full",
    "/dev/null",
    "/dev/random",
    "/dev/tty",
    "/dev/urandom",
    "/dev/zero",
  ]);
  assert.ok(p.plan.ops.some((o) => o.name === "SYMLINK" && o.path === "/dev/ptmx"));
});

test("joining a user namespace by path: SETNS user first, then the others, UNSHARE the new ones, FORK into the new pid namespace", () => {
  const p = plan((c) => {
    delete c.linux.uidMappings;
    delete c.linux.gidMappings;
    c.linux.namespaces = [
      { type: "network", path: "/proc/1/ns/net" },
      { type: "user", path: "/proc/1/ns/user" },
      { type: "pid" },
      { type: "mount" },
      { type: "uts" },
    ];
  });
  assert.equal(p.plan.cloneFlags, 0, "nothing new before joining");
  const n = names(p);
  const setns = p.plan.ops.filter((o) => o.name === "SETNS").map((o) => o.path);
  assert.deepEqual(setns, ["/proc/1/ns/user", "/proc/1/ns/net"]);
  assert.ok(n.indexOf("SETNS") < n.indexOf("UNSHARE") && n.indexOf("UNSHARE") < n.indexOf("FORK"));
  assert.equal(p.plan.ops.find((o) => o.name === "UNSHARE")!.fields[0]!.v, CLONE.NEWPID | CLONE.NEWNS | CLONE.NEWUTS);
  assert.equal(p.mapping, undefined);
});

test("a new user namespace besides joined ones is unshared after joining, with its maps at a SYNC stop", () => {
  const p = plan((c) => c.linux.namespaces.push({ type: "network", path: "/run/netns/x" }));
  assert.equal(p.plan.cloneFlags, 0);
  assert.equal(p.mapsAtSync, true);
  const i = p.plan.ops.findIndex((o) => o.name === "UNSHARE");
  // dumpable only while the parent writes the maps through /proc/PID (the child is
  // still in the host's pid namespace there), non-dumpable again right after
  assert.deepEqual(p.plan.ops.slice(i + 1, i + 4).map((o) => [o.name, o.fields[0]!.v]), [
    ["DUMPABLE", 1],
    ["SYNC", SYNC_TAG.USERMAP],
    ["DUMPABLE", 0],
  ]);
});

test("a container joining another's pid namespace stays non-dumpable, and hooks that would join it are refused", () => {
  const joined = (c: Config) => {
    c.linux.namespaces = c.linux.namespaces.map((n: Config) => n.type === "pid" ? { type: "pid", path: "/proc/1/ns/pid" } : n);
  };
  const p = plan(joined);
  // (around the id maps it may be: it is still in the host's pid namespace until FORK)
  const fork = names(p).indexOf("FORK");
  assert.ok(fork > 0);
  assert.ok(!p.plan.ops.slice(fork).some((o) => o.name === "DUMPABLE" && o.fields[0]!.v === 1), "never dumpable in it");
  refuses((c) => {
    joined(c);
    c.hooks = { createContainer: [{ path: "/bin/true" }] };
  }, "hooks.createContainer");
  // in a pid namespace of its own the child may be opened by nook's hooks and exec
  const own = plan((c) => (c.hooks = { createContainer: [{ path: "/bin/true" }] }));
  const n = names(own);
  assert.ok(n.indexOf("DUMPABLE") < n.indexOf("PIVOT_ROOT"));
});

test("hooks add a SYNC stop before pivot_root; a terminal adds PTY and /dev/console", () => {
  const p = plan((c) => {
    c.hooks = { createContainer: [{ path: "/bin/true" }] };
    c.process.terminal = true;
  });
  const n = names(p);
  const hooks = p.plan.ops.findIndex((o) => o.name === "SYNC" && o.fields[0]!.v === SYNC_TAG.HOOKS);
  assert.ok(hooks > 0 && hooks < n.indexOf("PIVOT_ROOT"));
  assert.ok(n.indexOf("PTY") > n.indexOf("PIVOT_ROOT"));
  const console = p.plan.ops.find((o) => o.name === "MOUNT" && o.path === "/dev/console")!;
  assert.deepEqual(console.fields[0], { t: "str", v: "/proc/self/fd/0" });
});

test("fields nook cannot carry out are refused by name", () => {
  refuses((c) => (c.linux.timeOffsets = { monotonic: { secs: 1 } }), "linux.timeOffsets");
  refuses((c) => (c.process.execCPUAffinity = { initial: "0" }), "process.execCPUAffinity");
  refuses((c) => (c.process.user.username = "x"), "process.user.username");
  refuses((c) => (c.linux.personality = { domain: "LINUX", flags: ["X"] }), "linux.personality.flags");
  refuses((c) => (c.linux.personality = { domain: "OTHER" }), "linux.personality.domain");
  refuses((c) => (c.linux.rootfsPropagation = "sideways"), "linux.rootfsPropagation");
  refuses(
    (c) => (c.hostname = "x", c.linux.namespaces = c.linux.namespaces.filter((n: Config) => n.type !== "uts")),
    "hostname",
  );
  refuses(
    (c) => (c.linux.namespaces = c.linux.namespaces.filter((n: Config) => n.type !== "mount")),
    "linux.namespaces",
  );
  refuses((c) => (c.linux.sysctl = { "net.ipv4.ip_forward": "1" }), 'linux.sysctl["net.ipv4.ip_forward"]');
  refuses((c) => (c.process.user.uid = 1000), "process.user.uid");
  refuses((c) => (c.process.rlimits = [{ type: "RLIMIT_BOGUS", soft: 1, hard: 1 }]), "process.rlimits[0].type");
  refuses((c) => (c.process.capabilities.bounding = ["CAP_NOPE"]), "process.capabilities.bounding[0]");
  refuses((c) => (c.mounts[0].destination = "proc"), "mounts[0].destination");
  refuses((c) => (c.ociVersion = "2.0.0"), "ociVersion");
  refuses((c) => c.linux.namespaces.push({ type: "pid" }), "linux.namespaces[5].type");
});

test("personality, sysctl, readonly root and masked paths become their ops", () => {
  const p = plan((c) => {
    c.linux.personality = { domain: "LINUX32" };
    c.linux.namespaces.push({ type: "network" });
    c.linux.sysctl = { "net.ipv4.ping_group_range": "0 0" };
    c.linux.maskedPaths = ["/proc/kcore"];
    c.linux.readonlyPaths = ["/proc/sys"];
  });
  assert.equal(p.plan.ops.find((o) => o.name === "PERSONALITY")!.fields[0]!.v, 8);
  const w = p.plan.ops.find((o) => o.name === "WRITE" && o.path === "/proc/sys/net/ipv4/ping_group_range")!;
  assert.ok(w, "the sysctl is written through the container's /proc");
  const n = names(p);
  assert.ok(p.plan.ops.indexOf(w) < n.indexOf("PIVOT_ROOT"), "before /proc/sys turns read-only");
  const prot = p.plan.ops.filter((o) => o.name === "PROTECT_PATH").map((o) => o.what);
  assert.deepEqual(prot, ['make "/proc/sys" read-only', 'mask "/proc/kcore"']);
  assert.ok(p.plan.ops.some((o) => o.name === "MOUNT_SETATTR" && o.path === "/"), "root.readonly");
});

test("root propagation: shared is applied after pivot_root, over a private parent; a bind keeps its filesystem data", () => {
  const mountsOf = (p: ReturnType<typeof plan>) =>
    p.plan.ops.flatMap((o, i) => (o.name === "MOUNT" ? [{ i, f: o.fields.map((x) => x.v) }] : []));
  const pivot = (p: ReturnType<typeof plan>) => names(p).indexOf("PIVOT_ROOT");
  // default: "/" a recursive slave, one bind of the rootfs, nothing after pivot_root
  const d = plan();
  const dm = mountsOf(d);
  assert.deepEqual(dm[0]!.f, ["", "/", "", MS.SLAVE | MS.REC, ""]);
  assert.ok(!dm.some((m) => m.i > pivot(d) && m.f[1] === "/"), "no propagation change after pivot_root");
  // shared: the rootfs is bound, made private, bound again; "/" is made shared after pivot_root
  const s = plan((c) => (c.linux.rootfsPropagation = "shared"));
  const sm = mountsOf(s);
  assert.deepEqual(sm.slice(0, 4).map((m) => m.f), [
    ["", "/", "", MS.SHARED, ""],
    ["/tmp", "/tmp", "", MS.BIND | MS.REC, ""],
    ["", "/tmp", "", MS.PRIVATE, ""],
    ["/tmp", "/tmp", "", MS.BIND | MS.REC, ""],
  ]);
  const after = sm.filter((m) => m.i > pivot(s) && m.f[1] === "/");
  assert.deepEqual(after.map((m) => m.f), [["", "/", "", MS.SHARED, ""]]);
  // a bind's data goes to mount(2) as runc passes it; --debug says it is ignored
  const said: string[] = [];
  const cfg = parseConfig(
    JSON.stringify(
      config((c) =>
        c.mounts.push({ destination: "/x", type: "bind", source: "/tmp", options: ["bind", "mode=755", "size=1m"] })
      ),
    ),
    "/bundle",
  );
  const debugLog = new RuntimeLog({ format: "text", debug: true });
  debugLog.debug = (m: string) => void said.push(m);
  const b = buildCreatePlan(cfg, { fifo: "/f", noPivot: false, preserveFds: 0, hostCgroup2: false, log: debugLog });
  const bind = b.plan.ops.find((o) => o.name === "MOUNT" && o.path === "/x")!;
  assert.deepEqual(bind.fields.map((x) => x.v), ["/tmp", "/x", "", MS.BIND, "mode=755,size=1m"]);
  assert.ok(
    said.some((m) =>
      /mounts\[6\]: the bind mount at "\/x" ignores the filesystem options "mode=755", "size=1m"/.test(m)
    ),
    said.join("\n"),
  );
});

test("cgroupsPath in both forms, resource requests, signals and the nook-runtime name", () => {
  assert.deepEqual(parseCgroupsPath("user.slice:nook:abc", true), {
    kind: "systemd",
    slice: "user.slice",
    prefix: "nook",
    name: "abc",
  });
  assert.deepEqual(parseCgroupsPath("/nook/abc", false), { kind: "cgroupfs", path: "/nook/abc", relative: false });
  assert.deepEqual(parseCgroupsPath("nook/abc", false), { kind: "cgroupfs", path: "nook/abc", relative: true });
  assert.throws(() => parseCgroupsPath("/a/b", true), /slice:prefix:name/);
  assert.throws(() => parseCgroupsPath("../escape", false), /\.\./);
  assert.deepEqual(requestedResources({}), []);
  assert.deepEqual(requestedResources({ devices: [{ allow: false, access: "rwm" }], memory: {} }), []);
  assert.deepEqual(requestedResources({ memory: { limit: 10, swap: 0 }, cpu: { shares: 2 } }), [
    "linux.resources.memory.limit",
    "linux.resources.cpu.shares",
  ]);
  assert.equal(parseSignal(undefined), 15);
  assert.equal(parseSignal("KILL"), 9);
  assert.equal(parseSignal("SIGUSR1"), 10);
  assert.equal(parseSignal("9"), 9);
  assert.equal(parseSignal("RTMIN+2"), 36);
  assert.throws(() => parseSignal("NOPE"), /Unknown signal/);
  const saved = Deno.env.get("NOOK_ARGV0");
  try {
    Deno.env.set("NOOK_ARGV0", "/opt/bin/nook-runtime");
    assert.deepEqual(runtimeArgv(["state", "x"]), ["runtime", "state", "x"]);
    Deno.env.set("NOOK_ARGV0", "/opt/bin/nook");
    assert.deepEqual(runtimeArgv(["run", "x"]), ["run", "x"]);
  } finally {
    if (saved === undefined) Deno.env.delete("NOOK_ARGV0");
    else Deno.env.set("NOOK_ARGV0", saved);
  }
});
