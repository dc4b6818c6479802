/**
 * cgroup v2 pieces that run anywhere: flag parsing and conversions, every
 * controller file written into a temporary directory laid out like a cgroup,
 * stats parsing, manager detection against fake roots, and nook's D-Bus
 * client against a real dbus-daemon (which validates every message it gets).
 */
import { assert, exists, scratch, test, waitFor } from "../_helpers.ts";
import {
  applyResources,
  blkioToIoWeight,
  CgroupError,
  cgroupVersion,
  checkControllers,
  chooseManager,
  cpuPercent,
  enableControllers,
  memoryUsage,
  oomKilled,
  readStats,
  sharesToWeight,
} from "../../src/cgroupv2/mod.ts";
import { cgroupfsProblem } from "../../src/cgroupv2/detect.ts";
import { DBusConnection, DBusError, decodeMessage, encodeMessage, signalName, variant } from "../../src/cgroupv2/_dbus.ts";
import { parseBytes, resourcesFrom } from "../../src/engine/resources.ts";
import { runRequestFromArgs } from "../../src/cli/_run_options.ts";
import { parseArgs } from "../../src/cli/_args.ts";
import { RUN_OPTIONS } from "../../src/cli/run.ts";
import { buildPlan, type ContainerSpec } from "../../src/engine/mod.ts";
import { CLONE } from "../../src/plan/mod.ts";
import { poll, startKeeper, validate, wait } from "../../src/ffi/mod.ts";

const args = (...argv: string[]) => parseArgs([...argv, "image"], RUN_OPTIONS);
/** The limits the flags ask for, through the same request `nook run` makes. */
const resourcesFromArgs = (a: ReturnType<typeof args>) => resourcesFrom(runRequestFromArgs(a, []).resources ?? {});

/** A directory with the interface files of a cgroup (empty files the code writes into). */
function fakeCgroup(files: Record<string, string> = {}): string {
  const dir = scratch("nook-cg-");
  const names = [
    "cgroup.procs",
    "cgroup.subtree_control",
    "cpu.max",
    "cpu.weight",
    "cpuset.cpus",
    "cpuset.mems",
    "memory.max",
    "memory.low",
    "memory.swap.max",
    "pids.max",
    "io.weight",
    "io.max",
  ];
  for (const n of names) Deno.writeTextFileSync(`${dir}/${n}`, "");
  for (const [n, v] of Object.entries(files)) Deno.writeTextFileSync(`${dir}/${n}`, v);
  return dir;
}
const read = (dir: string, f: string) => Deno.readTextFileSync(`${dir}/${f}`);

test("sizes parse as docker's: binary units, optional b/ib, fractions", () => {
  assert.equal(parseBytes("1024", "memory"), 1024);
  assert.equal(parseBytes("512k", "memory"), 512 * 1024);
  assert.equal(parseBytes("256m", "memory"), 256 * 1024 ** 2);
  assert.equal(parseBytes("10mb", "memory"), 10 * 1024 ** 2);
  assert.equal(parseBytes("1.5g", "memory"), 1.5 * 1024 ** 3);
  assert.equal(parseBytes("2GiB", "memory"), 2 * 1024 ** 3);
  assert.throws(() => parseBytes("64x", "memory"), /Invalid size "64x" for --memory/);
  assert.throws(() => parseBytes("-1", "memory"), /Invalid size/);
});

test("--cpu-shares converts to cpu.weight as runc and crun do (2→1, 1024→100, 262144→10000)", () => {
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(1024), 100);
  assert.equal(sharesToWeight(262144), 10000);
  assert.equal(sharesToWeight(512), 59);
  assert.equal(sharesToWeight(0), 0);
  // and --blkio-weight to io.weight: 10→1, 1000→10000
  assert.equal(blkioToIoWeight(10), 1);
  assert.equal(blkioToIoWeight(1000), 10000);
  assert.equal(blkioToIoWeight(300), 2930);
});

test("run's resource flags become cgroup v2 limits", () => {
  assert.deepEqual(resourcesFromArgs(args()), {});
  const r = resourcesFromArgs(
    args(
      "--memory",
      "256m",
      "--memory-swap",
      "384m",
      "--memory-reservation",
      "128m",
      "--cpus",
      "1.5",
      "--cpu-shares",
      "512",
      "--cpuset-cpus",
      "0-1",
      "--cpuset-mems",
      "0",
      "--pids-limit",
      "100",
      "--blkio-weight",
      "300",
    ),
  );
  assert.deepEqual(r, {
    memory: { max: 256 * 1024 ** 2, swapMax: 128 * 1024 ** 2, swapExplicit: true, low: 128 * 1024 ** 2 },
    cpu: { period: 100000, quota: 150000, weight: 59 },
    cpuset: { cpus: "0-1", mems: "0" },
    pids: { max: 100 },
    io: { blkioWeight: 300 },
  });
  // --memory alone lets swap hold as much again (docker's default); -1 lifts the swap limit
  assert.deepEqual(resourcesFromArgs(args("-m", "64m")).memory, { max: 64 * 1024 ** 2, swapMax: 64 * 1024 ** 2 });
  assert.equal(resourcesFromArgs(args("-m", "64m", "--memory-swap", "-1")).memory?.swapMax, "max");
  assert.deepEqual(resourcesFromArgs(args("--cpu-quota", "50000", "--cpu-period", "200000")).cpu, {
    period: 200000,
    quota: 50000,
  });
  assert.deepEqual(resourcesFromArgs(args("--cpu-quota", "-1")).cpu, { quota: "max" });
  assert.deepEqual(resourcesFromArgs(args("--pids-limit", "-1")).pids, { max: "max" });
  assert.deepEqual(resourcesFromArgs(args("--pids-limit", "0")).pids, { max: "max" });
});

test("run refuses resource flags that make no sense, saying which and why", () => {
  const bad: [string[], RegExp][] = [
    [["--memory-swap", "1g"], /--memory-swap needs --memory/],
    [["-m", "64m", "--memory-swap", "32m"], /below --memory/],
    [["-m", "1m"], /too small/],
    [["-m", "64m", "--memory-reservation", "128m"], /above --memory/],
    [["--cpus", "0"], /Invalid value "0" for --cpus/],
    [["--cpus", "1", "--cpu-quota", "5000"], /cannot be combined/],
    [["--cpu-quota", "10"], /Invalid value "10" for --cpu-quota/],
    [["--cpu-period", "10"], /Invalid value "10" for --cpu-period/],
    [["--cpu-shares", "300000"], /--cpu-shares/],
    [["--cpuset-cpus", "0-"], /Invalid value "0-" for --cpuset-cpus/],
    [["--pids-limit", "lots"], /--pids-limit/],
    [["--blkio-weight", "5"], /--blkio-weight/],
    [["--device-read-bps", "/dev/null:1mb"], /not a block device/],
    [["--device-read-bps", "/no/such/dev:1mb"], /Cannot use "\/no\/such\/dev"/],
    [["--device-write-iops", "nodevice"], /Invalid value "nodevice" for --device-write-iops/],
  ];
  for (const [argv, re] of bad) {
    assert.throws(() => resourcesFromArgs(args(...argv)), re, argv.join(" "));
  }
});

test("the controller files receive the limits (memory, swap, low, cpu.max, weight, cpuset, pids, io)", async () => {
  const dir = fakeCgroup();
  await applyResources(dir, {
    memory: { max: 1048576, swapMax: 0, low: 4096 },
    cpu: { quota: 50000, period: 100000, weight: 50 },
    cpuset: { cpus: "0", mems: "0" },
    pids: { max: 10 },
    io: {
      blkioWeight: 300,
      throttle: [
        { path: "/dev/vda", major: 254, minor: 0, rbps: 10485760 },
        { path: "/dev/vda", major: 254, minor: 0, wiops: 100 },
      ],
    },
  });
  assert.equal(read(dir, "memory.max"), "1048576");
  assert.equal(read(dir, "memory.swap.max"), "0");
  assert.equal(read(dir, "memory.low"), "4096");
  assert.equal(read(dir, "cpu.max"), "50000 100000");
  assert.equal(read(dir, "cpu.weight"), "50");
  assert.equal(read(dir, "cpuset.cpus"), "0");
  assert.equal(read(dir, "cpuset.mems"), "0");
  assert.equal(read(dir, "pids.max"), "10");
  assert.equal(read(dir, "io.weight"), "default 2930");
  assert.equal(read(dir, "io.max"), "254:0 rbps=10485760 wiops=100", "two flags on one device make one io.max line");
  // with BFQ, the weight goes to io.bfq.weight unconverted; "max" quota and unlimited pids
  const bfq = fakeCgroup({ "io.bfq.weight": "" });
  await applyResources(bfq, { io: { blkioWeight: 300 }, cpu: { quota: "max" }, pids: { max: "max" } });
  assert.equal(read(bfq, "io.bfq.weight"), "300");
  assert.equal(read(bfq, "io.weight"), "");
  assert.equal(read(bfq, "cpu.max"), "max 100000");
  assert.equal(read(bfq, "pids.max"), "max");
});

test("without swap accounting an implied swap limit is skipped and an explicit one refused", async () => {
  const dir = fakeCgroup();
  Deno.removeSync(`${dir}/memory.swap.max`);
  await applyResources(dir, { memory: { max: 8388608, swapMax: 8388608 } });
  assert.equal(read(dir, "memory.max"), "8388608");
  await assert.rejects(
    applyResources(dir, { memory: { max: 8388608, swapMax: 0, swapExplicit: true } }),
    (e: Error) => e instanceof CgroupError && /memory\.swap\.max" does not exist/.test(e.message),
  );
});

test("a write the kernel refuses names the file and the value", async () => {
  const dir = fakeCgroup();
  Deno.removeSync(`${dir}/pids.max`);
  Deno.mkdirSync(`${dir}/pids.max`); // writing a directory fails like a refused value would
  await assert.rejects(applyResources(dir, { pids: { max: 5 } }), (e: Error) => {
    assert.ok(e instanceof CgroupError);
    assert.match(e.message, /Cannot write "5" to ".*\/pids\.max"/);
    return true;
  });
});

test("a limit whose controller is not delegated is refused with the controller's name and the fix", () => {
  assert.doesNotThrow(() => checkControllers("/x", ["cpu", "memory", "pids"], ["memory", "pids"]));
  assert.throws(() => checkControllers("/x", ["memory", "pids"], ["cpuset", "memory"]), (e: Error) => {
    assert.ok(e instanceof CgroupError);
    assert.match(
      e.message,
      /the "cpuset" cgroup controller is not delegated to your user \(available in "\/x": memory pids\)/,
    );
    assert.match(e.message, /--cpuset-cpus/);
    assert.match((e as CgroupError).hint ?? "", /delegate\.conf/);
    assert.match((e as CgroupError).hint ?? "", /Delegate=cpu cpuset io memory pids/);
    return true;
  });
});

test("only the controllers a cgroup offers are enabled for its children", async () => {
  const dir = fakeCgroup({ "cgroup.controllers": "memory pids rdma\n" });
  const enabled = await enableControllers(dir, ["memory", "pids", "rdma"]);
  assert.deepEqual(enabled, ["memory", "pids"]);
  assert.equal(read(dir, "cgroup.subtree_control"), "+memory +pids");
  // already enabled ones are not written again
  Deno.writeTextFileSync(`${dir}/cgroup.subtree_control`, "memory pids\n");
  await enableControllers(dir, ["memory", "pids"]);
  assert.equal(read(dir, "cgroup.subtree_control"), "memory pids\n");
});

test("stats come from cpu.stat, memory.*, pids.* and io.stat; OOM kills from memory.events", async () => {
  const dir = fakeCgroup({
    "cpu.stat":
      "usage_usec 2000000\nuser_usec 1500000\nsystem_usec 500000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 90000\n",
    "cpu.max": "50000 100000\n",
    "memory.current": "10485760\n",
    "memory.max": "20971520\n",
    "memory.stat": "anon 8000000\nfile 2000000\ninactive_file 1048576\n",
    "memory.events": "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n",
    "pids.current": "3\n",
    "pids.max": "max\n",
    "io.stat": "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:0 rbytes=1 wbytes=1 rios=1 wios=1\n",
  });
  const s = (await readStats(dir))!;
  assert.deepEqual(s.cpu, {
    usageUsec: 2000000,
    userUsec: 1500000,
    systemUsec: 500000,
    nrThrottled: 4,
    throttledUsec: 90000,
    max: "50000 100000",
  });
  assert.equal(s.memory?.current, 10485760);
  assert.equal(s.memory?.max, 20971520);
  assert.equal(memoryUsage(s.memory!), 10485760 - 1048576);
  assert.equal(s.memory?.events.oom_kill, 1);
  assert.deepEqual(s.pids, { current: 3, max: "max" });
  assert.equal(s.io?.readBytes, 4097);
  assert.equal(s.io?.writeOps, 3);
  assert.deepEqual(s.io?.devices["254:0"], { rbytes: 4096, wbytes: 8192, rios: 1, wios: 2, dbytes: 0, dios: 0 });
  assert.equal(await oomKilled(dir), true);
  const later = { ...s, at: s.at + 1000, cpu: { ...s.cpu!, usageUsec: 2500000 } };
  assert.equal(Math.round(cpuPercent(s, later)), 50);
  assert.equal(await readStats(`${dir}/gone`), undefined);
});

test("the cgroup layout is recognised: v2, hybrid, v1, none", () => {
  const root = scratch("nook-cgroot-");
  assert.equal(cgroupVersion(root), "none");
  Deno.mkdirSync(`${root}/memory`);
  assert.equal(cgroupVersion(root), "v1");
  Deno.mkdirSync(`${root}/unified`);
  Deno.writeTextFileSync(`${root}/unified/cgroup.controllers`, "");
  assert.equal(cgroupVersion(root), "hybrid");
  Deno.writeTextFileSync(`${root}/cgroup.controllers`, "cpu memory\n");
  assert.equal(cgroupVersion(root), "v2");
});

test("nook's own cgroup is a usable parent only when it is the user's and holds nook alone", () => {
  const dir = fakeCgroup({ "cgroup.procs": `${Deno.pid}\n` });
  assert.equal(cgroupfsProblem(dir), undefined);
  Deno.writeTextFileSync(`${dir}/cgroup.procs`, `${Deno.pid}\n1\n`);
  assert.match(cgroupfsProblem(dir) ?? "", /also holds other processes \(1\)/);
  Deno.chmodSync(`${dir}/cgroup.subtree_control`, 0o444);
  assert.match(cgroupfsProblem(dir) ?? "", /is not delegated to you/);
});

const hostVersion = cgroupVersion();
test("on this host nook picks no cgroup manager and says why", () => {
  const c = chooseManager();
  assert.equal(c.kind, "none");
  assert.match(c.reason ?? "", /hybrid|v1|no cgroup filesystem/);
  assert.match(c.hint ?? "", /delegate\.conf/);
  assert.match(c.hint ?? "", /dbus-user-session/);
  assert.match(c.hint ?? "", /enable-linger/);
}, { skip: hostVersion === "v2" ? "this host has cgroup v2 (the guest tests cover it)" : undefined });

test("D-Bus messages encode with the alignment of the specification and decode back", () => {
  const body = ["nook-x.scope", "fail", [["PIDs", variant("au", [1, 2])], ["Delegate", variant("b", true)]], []];
  const msg = encodeMessage(1, 7, [[1, variant("o", "/org/freedesktop/systemd1")]], "ssa(sv)a(sa(sv))", body);
  assert.equal(msg[0], 0x6c);
  assert.equal(msg.length % 1, 0);
  const back = decodeMessage(msg);
  assert.equal(back.serial, 7);
  assert.equal(back.fields.get(1), "/org/freedesktop/systemd1");
  assert.equal(back.fields.get(8), "ssa(sv)a(sa(sv))");
  assert.deepEqual(back.body, [
    "nook-x.scope",
    "fail",
    [["PIDs", { sig: "au", value: [1, 2] }], ["Delegate", { sig: "b", value: true }]],
    [],
  ]);
  // a 64-bit value after a byte is padded to 8
  const t = encodeMessage(2, 1, [], "yt", [1, 0x0102030405060708n]);
  const tb = decodeMessage(t);
  assert.deepEqual(tb.body, [1, 0x0102030405060708n]);
});

const dbusDaemon = ["/usr/bin/dbus-daemon", "/bin/dbus-daemon"].find(exists);
test("nook's D-Bus client talks to a real dbus-daemon: calls, errors, signals, systemd's call shape", async () => {
  const dir = scratch("nook-dbus-");
  const sock = `${dir}/bus`;
  const conf = `${dir}/session.conf`;
  Deno.writeTextFileSync(
    conf,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=${sock}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>`,
  );
  const daemon = new Deno.Command(dbusDaemon!, {
    args: [`--config-file=${conf}`, "--nofork", "--nopidfile", "--print-address"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    // the address is printed once the daemon listens
    const first = await daemon.stdout.pipeThrough(new TextDecoderStream()).getReader().read();
    assert.match(first.value ?? "", /unix:path=/);
    const a = await DBusConnection.connect(sock);
    const id = await a.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId");
    assert.match(String(id[0]), /^[0-9a-f]{32}$/);
    // an error reply carries its D-Bus name
    await assert.rejects(
      a.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NoSuchMethod"),
      (e: Error) => e instanceof DBusError && e.dbusName === "org.freedesktop.DBus.Error.UnknownMethod",
    );
    // the daemon validates the whole body against its signature before it routes: a
    // malformed StartTransientUnit would cost us the connection, a valid one gets "no such service"
    await assert.rejects(
      a.call(
        "org.freedesktop.systemd1",
        "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager",
        "StartTransientUnit",
        "ssa(sv)a(sa(sv))",
        [
          "nook-test.scope",
          "fail",
          [["Description", variant("s", "x")], ["PIDs", variant("au", [Deno.pid])], ["Delegate", variant("b", true)], [
            "Big",
            variant("t", 2n ** 40n),
          ]],
          [],
        ],
      ),
      (e: Error) => e instanceof DBusError && e.dbusName === "org.freedesktop.DBus.Error.ServiceUnknown",
    );
    // signals: the daemon announces a second client's name
    await a.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s", [
      "type='signal',member='NameOwnerChanged'",
    ]);
    const seen = new Promise<string>((resolve) =>
      a.onSignal((m) => signalName(m).endsWith("NameOwnerChanged") && resolve(String(m.body[0])))
    );
    const b = await DBusConnection.connect(sock);
    const names = await a.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames");
    assert.match(await seen, /^:1\.\d+$/);
    assert.ok((names[0] as string[]).length >= 3);
    b.close();
    a.close();
  } finally {
    daemon.kill("SIGTERM");
    await daemon.status;
  }
}, { skip: dbusDaemon ? undefined : "dbus-daemon is not installed (apt install dbus-daemon)" });

test("with a cgroup of its own the plan makes the cgroup namespace after GO and mounts cgroup2 on /sys/fs/cgroup", async () => {
  const spec = (privateCgroup: boolean): ContainerSpec => ({
    id: "0".repeat(64),
    rootfs: "/r",
    readonlyRootfs: false,
    hostname: "h",
    network: "none",
    mounts: [],
    etcFiles: { hosts: "/a", hostname: "/b", resolvConf: "/c" },
    process: {
      args: ["sh"],
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
    ...(privateCgroup ? { privateCgroup } : {}),
  });
  const mapping = { mode: "single" as const, uidMap: [], gidMap: [] };
  const own = buildPlan(spec(true), mapping);
  assert.equal(own.cloneFlags & CLONE.NEWCGROUP, 0, "a namespace made at clone would be rooted at nook's cgroup");
  const names = own.ops.map((o) => o.name);
  assert.equal(names[1], "UNSHARE", "first thing after GO (and the parent-death signal)");
  assert.equal(own.ops[1]!.fields[0]!.v, CLONE.NEWCGROUP);
  const mount = own.ops.findIndex((o) => o.name === "MOUNT" && o.path === "/sys/fs/cgroup");
  assert.ok(mount > own.ops.findIndex((o) => o.name === "MOUNT" && o.path === "/sys"), "on top of /sys");
  assert.equal(own.ops[mount]!.fields[2]!.v, "cgroup2");
  assert.equal(await validate(own.encode()), "");
  // without one, nothing changes: the namespace comes with the clone, no mount
  const none = buildPlan(spec(false), mapping);
  assert.notEqual(none.cloneFlags & CLONE.NEWCGROUP, 0);
  assert.ok(!none.ops.some((o) => o.name === "UNSHARE" || o.path === "/sys/fs/cgroup"));
});

test("the scope keeper waits until it is killed, and ends by itself when its parent process exits", async () => {
  const pid = await startKeeper();
  assert.ok(pid > 0);
  assert.equal(await poll(pid), null, "it waits");
  // it names itself as soon as it runs
  await waitFor("the keeper's name", () => Deno.readTextFileSync(`/proc/${pid}/comm`).startsWith("nook-keeper"), 5_000);
  Deno.kill(pid, "SIGTERM");
  assert.deepEqual(await wait(pid), { exited: false, signal: 15 });
  // a process that starts a keeper and exits: the keeper follows it
  const script = `import { startKeeper } from "${
    new URL("../../src/ffi/mod.ts", import.meta.url).href
  }"; console.log(await startKeeper());`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const orphan = Number(new TextDecoder().decode(out.stdout).trim());
  const gone = () => {
    try {
      return /^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${orphan}/stat`));
    } catch {
      return true;
    }
  };
  const end = Date.now() + 10_000;
  while (!gone() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  assert.ok(gone(), "the keeper outlived the process that started it");
});

test("the OCI runtime's linux.resources become the same cgroup v2 limits, as runc and crun convert them", async () => {
  const { ociResources } = await import("../../src/oci/cgroup_v2.ts");
  const { resources, labels } = ociResources({
    memory: { limit: 64 * 1048576, swap: 96 * 1048576, reservation: 32 * 1048576 },
    cpu: { shares: 1024, quota: 50000, cpus: "0-1", mems: "0", burst: 1000 },
    pids: { limit: 20 },
    blockIO: { weight: 300, throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 10485760 }] },
    unified: { "memory.high": "48M" },
  });
  assert.deepEqual(resources, {
    memory: { max: 64 * 1048576, low: 32 * 1048576, swapExplicit: true, swapMax: 32 * 1048576 },
    cpu: { weight: 100, quota: 50000, period: 100000 },
    cpuset: { cpus: "0-1", mems: "0" },
    pids: { max: 20 },
    io: { blkioWeight: 300, throttle: [{ path: "254:0", major: 254, minor: 0, rbps: 10485760 }] },
    unified: { "cpu.max.burst": "1000", "memory.high": "48M" },
  });
  assert.equal(labels.memory, '"linux.resources.memory.limit"', "errors name the field that asked for a controller");
  // what cgroup v2 cannot do is refused by name
  for (
    const [res, field] of [
      [{ hugepageLimits: [{ pageSize: "2MB", limit: 1 }] }, "linux.resources.hugepageLimits"],
      [{ memory: { kernel: 1048576 } }, "linux.resources.memory.kernel"],
      [{ memory: { limit: 2 * 1048576, swap: 1048576 } }, "linux.resources.memory.swap"],
      [{ unified: { "hugetlb.2MB.max": "1" } }, 'linux.resources.unified["hugetlb.2MB.max"]'],
    ] as const
  ) {
    assert.throws(() => ociResources(res), (e: Error) => e.message.includes(field), field);
  }
  // unified files are written last, and only ones that exist
  const dir = fakeCgroup({ "memory.high": "" });
  await applyResources(dir, { memory: { max: 1048576 }, unified: { "memory.high": "524288" } });
  assert.equal(read(dir, "memory.high"), "524288");
  await assert.rejects(
    applyResources(dir, { unified: { "memory.nosuchfile": "1" } }),
    (e: Error) => e instanceof CgroupError && /no such cgroup file/.test(e.message),
  );
});
