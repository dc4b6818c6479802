/**
 * Faults injected into the doctor's host inputs (no root needed): each turns
 * the right check red, with the right fix.
 */
import { type CheckResult, type HostInputs, runDoctor } from "../../src/doctor/mod.ts";
import { assert, rootlessSkip, scratch, test } from "../_helpers.ts";

async function check(id: string, over: Partial<HostInputs>): Promise<CheckResult & { all: CheckResult[]; ok: boolean }> {
  const r = await runDoctor({ trials: false, ...over });
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `a check "${id}"`);
  return { ...c, all: r.checks, ok: r.ok };
}

function file(dir: string, name: string, text: string, mode = 0o644): string {
  const p = `${dir}/${name}`;
  Deno.mkdirSync(p.slice(0, p.lastIndexOf("/")), { recursive: true });
  Deno.writeTextFileSync(p, text, { mode });
  return p;
}

/** A fake /proc/sys with these values. */
function procSys(values: Record<string, string>): string {
  const d = scratch("nook-procsys-");
  file(d, "user/max_user_namespaces", "15000\n");
  for (const [k, v] of Object.entries(values)) file(d, k.replaceAll(".", "/"), `${v}\n`);
  return d;
}

const OTHERS = "alice:100000:65536\nbob:165536:65536\n";

test("a user with no /etc/subuid entry gets the usermod command with a free range and their name", async () => {
  const d = scratch();
  const c = await check("idmap.subid", {
    user: "fresh",
    uid: 4242,
    subuid: file(d, "subuid", OTHERS),
    subgid: file(d, "subgid", OTHERS),
    // a runtime directory of the test's own: uid 4242's fallback (/tmp/nook-4242) is shared by every user
    // who runs this test, and whoever made it first owns it
    env: { ...Deno.env.toObject(), NOOK_RUNTIME_DIR: `${d}/run` },
  });
  assert.equal(c.status, "warn");
  assert.match(c.detail, /no range for "fresh"/);
  assert.equal(c.fix, "sudo usermod --add-subuids 231072-296607 --add-subgids 231072-296607 fresh");
  assert.equal(c.ok, true, `nook run still works with the single-id mapping: ${JSON.stringify(c.all.filter((x) => x.status === "fail"))}`);
});

test("a subordinate range smaller than 65536 ids is flagged", async () => {
  const d = scratch();
  const small = "small:300000:1000\n";
  const c = await check("idmap.subid", { user: "small", uid: 4243, subuid: file(d, "u", small), subgid: file(d, "g", small) });
  assert.equal(c.status, "warn");
  assert.match(c.detail, /1000 uids .*fewer than 65536/);
  assert.match(c.fix!, /usermod --add-subuids \d+-\d+ --add-subgids \d+-\d+ small/);
});

test("no newuidmap on the search path: flagged with the package to install, and the trial still runs with one id", async () => {
  const bin = scratch("nook-bin-");
  const c = await check("idmap.helpers", { toolPath: bin, trials: true });
  assert.equal(c.status, "warn");
  assert.match(c.detail, /newuidmap and newgidmap not found/);
  assert.match(c.fix!, /apt install uidmap|install "uidmap"/);
  const trial = c.all.find((x) => x.id === "userns.trial")!;
  assert.equal(trial.status, "ok", trial.detail);
  assert.match(trial.detail, /single-id mapping/);
}, { skip: rootlessSkip() });

test("a newuidmap without setuid bit or file capabilities fails the helpers and the trial, with the fix", async () => {
  const bin = scratch("nook-bin-");
  for (const t of ["newuidmap", "newgidmap"]) file(bin, t, "#!/bin/sh\necho \"$0: write to uid_map failed: Operation not permitted\" >&2\nexit 1\n", 0o755);
  const d = scratch();
  const mine = `${Deno.env.get("USER") ?? "me"}:100000:65536\n`;
  const r = await runDoctor({
    trials: true,
    toolPath: `${bin}:/usr/sbin:/sbin`,
    subuid: file(d, "u", mine),
    subgid: file(d, "g", mine),
    user: Deno.env.get("USER") ?? "me",
  });
  const helpers = r.checks.find((x) => x.id === "idmap.helpers")!;
  assert.equal(helpers.status, "fail");
  assert.match(helpers.detail, /neither the setuid bit nor file capabilities/);
  assert.match(helpers.fix!, /setcap cap_setuid\+ep .*newuidmap/);
  assert.match(helpers.fix!, /NOOK_IDMAP=single/);
  const trial = r.checks.find((x) => x.id === "userns.trial")!;
  assert.equal(trial.status, "fail");
  assert.match(trial.detail, /new[ug]idmap failed/, "either helper may fail first: they run together");
  assert.equal(r.ok, false);
}, { skip: rootlessSkip() });

test("XDG_RUNTIME_DIR unset, owned by someone else, or open to others: each flagged with its fix", async () => {
  const unset = await check("session.xdg_runtime_dir", { env: { PATH: "/usr/bin:/bin" } });
  assert.equal(unset.status, "warn");
  assert.match(unset.detail, /not set/);
  assert.match(unset.fix!, /machinectl shell \S+@/);
  assert.match(unset.fix!, /sudo loginctl enable-linger /);
  const other = await check("session.xdg_runtime_dir", { env: { XDG_RUNTIME_DIR: "/" } });
  assert.equal(other.status, "warn");
  assert.match(other.detail, /belongs to uid 0, not to you/);
  assert.match(other.fix!, /machinectl shell/);
  const open = scratch();
  Deno.chmodSync(open, 0o755);
  const wide = await check("session.xdg_runtime_dir", { env: { XDG_RUNTIME_DIR: open } });
  assert.equal(wide.status, "warn");
  assert.match(wide.detail, /mode 0755, not 0700/);
  assert.equal(wide.fix, `chmod 0700 ${open}`);
  Deno.chmodSync(open, 0o700);
  assert.equal((await check("session.xdg_runtime_dir", { env: { XDG_RUNTIME_DIR: open } })).status, "ok");
});

test("a runtime directory that belongs to someone else fails: nook run could not keep its state", async () => {
  const c = await check("session.runtime_dir", { env: { NOOK_RUNTIME_DIR: "/" } });
  assert.equal(c.status, "fail");
  assert.match(c.detail, /not a private directory of yours/);
  assert.equal(c.ok, false);
});

test("an unusable /dev/fuse: missing → modprobe, no access → chmod; fuse-overlayfs is then not tried", async () => {
  const d = scratch();
  const missing = await check("storage.fuse_device", { devFuse: `${d}/fuse` });
  assert.equal(missing.status, "warn");
  assert.match(missing.fix!, /sudo modprobe fuse/);
  const locked = file(d, "fuse", "", 0o000);
  const denied = await check("storage.fuse_device", { devFuse: locked, trials: true });
  assert.equal(denied.status, "warn");
  assert.match(denied.detail, /cannot be opened for reading and writing \(mode 0000\)/);
  assert.match(denied.fix!, new RegExp(`sudo chmod 0666 ${locked}`));
  const fo = denied.all.find((x) => x.id === "storage.fuse_overlayfs")!;
  assert.ok(fo.status === "skip" || fo.status === "warn", fo.detail);
}, { skip: Deno.uid() === 0 ? "root can open a mode-000 file" : undefined });

test("no pasta or slirp4netns, and no /dev/net/tun: flagged with what to install and load", async () => {
  const d = scratch();
  const tools = await check("network.tools", { toolPath: d });
  assert.equal(tools.status, "warn");
  assert.match(tools.fix!, /passt/);
  assert.match(tools.fix!, /slirp4netns/);
  const tun = await check("network.tun", { devTun: `${d}/tun` });
  assert.equal(tun.status, "warn");
  assert.match(tun.fix!, /sudo modprobe tun/);
});

test("kernel settings that forbid user namespaces fail with the sysctl that allows them", async () => {
  const clone = await check("userns.sysctl", { procSys: procSys({ "kernel.unprivileged_userns_clone": "0" }) });
  assert.equal(clone.status, "fail");
  assert.match(clone.fix!, /sudo sysctl -w kernel\.unprivileged_userns_clone=1/);
  assert.match(clone.fix!, /\/etc\/sysctl\.d\//);
  const max = await check("userns.sysctl", { procSys: procSys({ "user.max_user_namespaces": "0" }) });
  assert.equal(max.status, "fail");
  assert.match(max.fix!, /user\.max_user_namespaces=/);
  assert.equal(max.ok, false);
});

test("Ubuntu's AppArmor restriction fails with a ready profile for nook's real path", async () => {
  const d = scratch();
  const osRelease = file(d, "os-release", 'ID=ubuntu\nVERSION_ID="24.04"\n');
  const c = await check("userns.apparmor", {
    procSys: procSys({ "kernel.apparmor_restrict_unprivileged_userns": "1" }),
    osRelease,
    nookPath: "/home/me/.local/bin/nook",
  });
  assert.equal(c.status, "fail");
  assert.match(c.detail, /Ubuntu 24\.04/);
  assert.match(c.detail, /profile nook \/home\/me\/\.local\/bin\/nook flags=\(unconfined\) \{\n {2}userns,/);
  assert.match(c.fix!, /sudo apparmor_parser -r \/etc\/apparmor\.d\/nook/);
  assert.match(c.fix!, /kernel\.apparmor_restrict_unprivileged_userns=0/);
});

test("cgroup v2 with a systemd user manager: the manager nook run picks decides; missing controllers get the delegate.conf drop-in", async () => {
  const d = scratch("nook-cg-");
  const root = `${d}/cgroup`;
  const uid = Deno.uid();
  // a login session's scope, owned by root as systemd makes it: nook run gets its cgroups from the user manager
  const own = `/user.slice/user-${uid}.slice/session-c1.scope`;
  const manager = `user.slice/user-${uid}.slice/user@${uid}.service`;
  Deno.mkdirSync(`${root}${own}`, { recursive: true });
  file(root, "cgroup.controllers", "cpuset cpu io memory pids\n");
  const mountinfo = file(d, "mountinfo", `30 1 0:26 / ${root} rw,nosuid - cgroup2 cgroup2 rw\n27 1 254:0 / / rw - ext4 /dev/vda rw\n`);
  const procCgroup = file(d, "proc-cgroup", `0::${own}\n`);
  const pid1Comm = file(d, "comm", "systemd\n");
  const systemdRunDir = `${d}/run-systemd-system`;
  Deno.mkdirSync(systemdRunDir);
  const xdg = `${d}/run`;
  Deno.mkdirSync(xdg, { recursive: true, mode: 0o700 });
  const listener = Deno.listen({ transport: "unix", path: `${xdg}/bus` });
  try {
    const host = { cgroupRoot: root, mountinfo, procCgroup, pid1Comm, systemdRunDir, env: { XDG_RUNTIME_DIR: xdg } };
    file(root, `${manager}/cgroup.controllers`, "cpuset cpu io memory pids\n");
    assert.equal((await check("cgroup.version", host)).status, "ok");
    const sd = await check("cgroup.systemd", host);
    assert.equal(sd.status, "ok", sd.detail);
    assert.match(sd.detail, new RegExp(`session bus at ${xdg}/bus`));
    const ok = await check("cgroup.delegation", host);
    assert.equal(ok.status, "ok", ok.detail);
    assert.match(ok.detail, /through the systemd user manager/);
    assert.doesNotMatch(ok.detail, /not delegated/);
    file(root, `${manager}/cgroup.controllers`, "cpu pids\n");
    const missing = await check("cgroup.delegation", host);
    assert.equal(missing.status, "warn");
    assert.match(missing.detail, /missing memory/);
    assert.match(missing.fix!, /user@\.service\.d\/delegate\.conf/);
    assert.match(missing.fix!, /Delegate=cpu cpuset io memory pids/);
    const noManager = await check("cgroup.systemd", { ...host, env: { XDG_RUNTIME_DIR: d } });
    assert.equal(noManager.status, "warn");
    assert.match(noManager.fix!, /loginctl enable-linger/);
    const noLimits = await check("cgroup.delegation", { ...host, env: { XDG_RUNTIME_DIR: d } });
    assert.equal(noLimits.status, "warn");
    assert.match(noLimits.detail, /no systemd user manager is reachable/);
    const notBooted = await check("cgroup.systemd", { ...host, systemdRunDir: `${d}/missing` });
    assert.equal(notBooted.status, "warn");
    assert.match(notBooted.detail, /systemd is not the init system/);
  } finally {
    listener.close();
  }
});

test("a cgroup delegated to nook itself is what run uses (cgroupfs): no user manager needed", async () => {
  const d = scratch("nook-cgfs-");
  const root = `${d}/cgroup`;
  const own = "/delegated/nook";
  const dir = `${root}${own}`;
  Deno.mkdirSync(dir, { recursive: true });
  file(root, "cgroup.controllers", "cpu memory pids\n");
  file(root, `${own.slice(1)}/cgroup.procs`, `${Deno.pid}\n`);
  file(root, `${own.slice(1)}/cgroup.subtree_control`, "");
  file(root, `${own.slice(1)}/cgroup.controllers`, "cpu memory pids\n");
  const mountinfo = file(d, "mountinfo", `30 1 0:26 / ${root} rw,nosuid - cgroup2 cgroup2 rw\n`);
  const procCgroup = file(d, "proc-cgroup", `0::${own}\n`);
  const host = { cgroupRoot: root, mountinfo, procCgroup, systemdRunDir: `${d}/none`, env: {} };
  const sd = await check("cgroup.systemd", host);
  assert.equal(sd.status, "ok");
  assert.match(sd.detail, /not needed: nook's own cgroup .*delegated to you/);
  const del = await check("cgroup.delegation", host);
  assert.equal(del.status, "ok", del.detail);
  assert.match(del.detail, /nook's own delegated cgroup .*cpu, memory, pids/);
});

test("storage on a noexec mount fails, on NFS warns, each pointing storage.path elsewhere", async () => {
  const d = scratch();
  const store = `${d}/store`;
  const noexec = file(d, "mi1", `27 1 254:0 / / rw - ext4 /dev/vda rw\n40 27 0:50 / ${d} rw,nosuid,nodev,noexec - tmpfs tmpfs rw\n`);
  const c = await check("storage.filesystem", { mountinfo: noexec, storageDir: store });
  assert.equal(c.status, "fail");
  assert.match(c.detail, /noexec/);
  assert.match(c.fix!, /storage:\\n {2}path: /);
  const nfs = file(d, "mi2", `27 1 254:0 / / rw - ext4 /dev/vda rw\n40 27 0:50 / ${d} rw - nfs4 srv:/home rw\n`);
  const n = await check("storage.filesystem", { mountinfo: nfs, storageDir: store });
  assert.equal(n.status, "warn");
  assert.match(n.detail, /nfs4 .*network filesystem/);
});

test("a kernel without seccomp filters is flagged", async () => {
  const d = scratch();
  const c = await check("security.seccomp", { procStatus: file(d, "status", "Name:\tnook\n"), procSys: procSys({}) });
  assert.equal(c.status, "warn");
  assert.match(c.fix!, /CONFIG_SECCOMP_FILTER=y/);
});

test("an invalid config file fails the doctor with the key and the line", async () => {
  const d = scratch();
  const cfg = file(d, "config.yaml", "storage:\n  driver: zfs\n");
  const c = await check("config.file", { configFile: cfg, configCache: null });
  assert.equal(c.status, "fail");
  assert.match(c.detail, /"storage\.driver" at line 2/);
  assert.equal(c.ok, false);
});

test("the install fix names this distribution's package manager and package", async () => {
  const d = scratch();
  const bin = scratch("nook-bin-");
  for (const [os, want] of [
    ["ID=fedora\n", "sudo dnf install shadow-utils"],
    ["ID=ubuntu\nID_LIKE=debian\n", "sudo apt install uidmap"],
    ["ID=alpine\n", "sudo apk add shadow-uidmap"],
    ["ID=opensuse-tumbleweed\nID_LIKE=\"opensuse suse\"\n", "sudo zypper install shadow"],
  ]) {
    const c = await check("idmap.helpers", { toolPath: bin, osRelease: file(d, "os-release", os!) });
    assert.equal(c.fix, want);
  }
});
