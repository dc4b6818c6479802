/**
 * `nook doctor` on this host, as the unprivileged test user: each check's
 * verdict matches what the host says, found here by other means (unshare,
 * mount, stat -f, test -w…), and the exit code says whether nook run works.
 */
import { assert, exists, isolatedEnv, nook, type Result, rootlessSkip, scratch, sh, test } from "../_helpers.ts";

interface Check {
  id: string;
  status: "ok" | "warn" | "fail" | "skip";
  detail: string;
  fix?: string;
}

let cached: Promise<{ r: Result; checks: Map<string, Check>; ok: boolean }> | undefined;

function doctor(): Promise<{ r: Result; checks: Map<string, Check>; ok: boolean }> {
  return (cached ??= (async () => {
    const r = await nook(["doctor", "--format", "json"]);
    const report = JSON.parse(r.stdout);
    return { r, ok: report.ok, checks: new Map(report.checks.map((c: Check) => [c.id, c])) };
  })());
}

async function verdict(id: string): Promise<Check> {
  const c = (await doctor()).checks.get(id);
  assert.ok(c, `doctor has a check "${id}"`);
  return c;
}

const read = (p: string) => {
  try {
    return Deno.readTextFileSync(p).trim();
  } catch {
    return undefined;
  }
};
const skip = rootlessSkip();

test("doctor's user-namespace verdicts match the kernel's settings and a real unshare", async () => {
  const clone = read("/proc/sys/kernel/unprivileged_userns_clone");
  const max = Number(read("/proc/sys/user/max_user_namespaces") ?? 0);
  assert.equal((await verdict("userns.sysctl")).status, clone !== "0" && max >= 64 ? "ok" : clone === "0" || max === 0 ? "fail" : "warn");
  const unshare = await sh("unshare", ["-Urm", "true"]);
  assert.equal((await verdict("userns.trial")).status, unshare.code === 0 ? "ok" : "fail");
  const apparmor = read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
  if (apparmor === undefined || apparmor === "0") assert.equal((await verdict("userns.apparmor")).status, "ok");
}, { skip });

test("doctor's id-mapping verdicts match newuidmap's mode bits and /etc/subuid", async () => {
  const st = Deno.statSync("/usr/bin/newuidmap");
  const setuid = st.uid === 0 && ((st.mode ?? 0) & 0o4000) !== 0;
  const helpers = await verdict("idmap.helpers");
  if (setuid) {
    assert.equal(helpers.status, "ok");
    assert.match(helpers.detail, /setuid root/);
  }
  const user = Deno.env.get("USER") ?? "";
  const ranges = (read("/etc/subuid") ?? "").split("\n").filter((l) => l.startsWith(`${user}:`) || l.startsWith(`${Deno.uid()}:`));
  const total = ranges.reduce((n, l) => n + Number(l.split(":")[2]), 0);
  const subid = await verdict("idmap.subid");
  assert.equal(subid.status, total >= 65536 ? "ok" : "warn");
  if (total) assert.match(subid.detail, new RegExp(`${total} uids`));
}, { skip: rootlessSkip() ?? (exists("/usr/bin/newuidmap") ? undefined : "uidmap is not installed") });

test("doctor reads XDG_RUNTIME_DIR as it is: unset (as under su) is flagged with the session fix, a private one passes", async () => {
  const env = isolatedEnv();
  const unset = await nook(["doctor", "--no-trial", "--format", "json"], {
    clearEnv: true,
    env: { HOME: env.HOME!, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", NOOK_DATA_DIR: env.NOOK_DATA_DIR!, XDG_RUNTIME_DIR: "" },
  });
  const u = JSON.parse(unset.stdout).checks.find((c: Check) => c.id === "session.xdg_runtime_dir");
  assert.equal(u.status, "warn");
  assert.match(u.fix, /machinectl shell/);
  assert.match(u.fix, /loginctl enable-linger/);
  const set = await verdict("session.xdg_runtime_dir"); // isolatedEnv: a 0700 directory of ours
  assert.equal(set.status, "ok");
  assert.equal((await verdict("session.runtime_dir")).status, "ok");
});

test("doctor's cgroup verdicts match how cgroups are mounted (hybrid or v1: not delegated)", async () => {
  const fs = (await sh("stat", ["-f", "-c", "%T", "/sys/fs/cgroup"])).stdout.trim();
  const v1 = (read("/proc/self/mountinfo") ?? "").split("\n").some((l) => / - cgroup /.test(l));
  const version = await verdict("cgroup.version");
  assert.equal(version.status, fs === "cgroup2fs" && !v1 ? "ok" : "warn");
  if (version.status === "warn") {
    assert.match(version.detail, v1 ? /hybrid|v1/ : /no cgroup/);
    assert.equal((await verdict("cgroup.delegation")).status, "warn", "cgroup v1 cannot be delegated");
  }
  const pid1 = read("/proc/1/comm");
  if (pid1 !== "systemd") assert.equal((await verdict("cgroup.systemd")).status, "warn");
});

test("doctor's storage verdicts match a real overlay mount in a user namespace and /dev/fuse's access", async () => {
  const d = scratch();
  for (const x of ["l", "u", "w", "m"]) Deno.mkdirSync(`${d}/${x}`);
  const mount = await sh("unshare", [
    "-Urm",
    "mount",
    "-t",
    "overlay",
    "overlay",
    "-o",
    `lowerdir=${d}/l,upperdir=${d}/u,workdir=${d}/w,userxattr`,
    `${d}/m`,
  ]);
  assert.equal((await verdict("storage.overlay")).status, mount.code === 0 ? "ok" : "warn", mount.stderr);
  const fuse = (await sh("sh", ["-c", "test -r /dev/fuse && test -w /dev/fuse"])).code === 0;
  assert.equal((await verdict("storage.fuse_device")).status, fuse ? "ok" : "warn");
  const tool = (await sh("sh", ["-c", "command -v fuse-overlayfs"])).code === 0;
  const fo = await verdict("storage.fuse_overlayfs");
  if (!tool) assert.equal(fo.status, "warn");
  else if (!fuse) assert.equal(fo.status, "skip");
  else assert.equal(fo.status, "ok", fo.detail);
  const fsCheck = await verdict("storage.filesystem");
  assert.match(fsCheck.detail, /free/);
}, { skip });

test("doctor's network and seccomp verdicts match the tools, /dev/net/tun and the kernel", async () => {
  const tools = (await sh("sh", ["-c", "command -v pasta || command -v slirp4netns"])).code === 0;
  assert.equal((await verdict("network.tools")).status, tools ? "ok" : "warn");
  const tun = (await sh("sh", ["-c", "test -r /dev/net/tun && test -w /dev/net/tun"])).code === 0;
  assert.equal((await verdict("network.tun")).status, tun ? "ok" : "warn");
  const port = read("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  if (port) assert.match((await verdict("network.ports")).detail, new RegExp(`= ${port}`));
  const seccomp = /^Seccomp:/m.test(read("/proc/self/status") ?? "") && read("/proc/sys/kernel/seccomp/actions_avail") !== undefined;
  assert.equal((await verdict("security.seccomp")).status, seccomp ? "ok" : "warn");
});

test("doctor exits 0 exactly when no check failed, i.e. when nook run works here", async () => {
  const { r, ok, checks } = await doctor();
  const failed = [...checks.values()].filter((c) => c.status === "fail");
  assert.equal(ok, failed.length === 0);
  assert.equal(r.code, failed.length === 0 ? 0 : 1, JSON.stringify(failed));
  if (!skip) {
    const run = await nook(["run", "--rm", "hello"]);
    assert.equal(run.code === 0, ok, `nook run exited ${run.code}; doctor said ok=${ok}`);
  }
});

test("doctor's table marks each check with ✓, ✗ or ! and gives the fix under each problem", async () => {
  const r = await nook(["doctor"]);
  assert.match(r.stdout, /^nook doctor: can \S+ \(uid \d+\) run rootless containers/);
  assert.match(r.stdout, /^ {2}✓ trial container: /m);
  for (const c of (await doctor()).checks.values()) {
    const mark = { ok: "✓", fail: "✗", warn: "!", skip: "-" }[c.status];
    assert.ok(r.stdout.includes(`  ${mark} `), c.id);
    if (c.status === "warn" || c.status === "fail") assert.ok(c.fix, `${c.id} has a fix`);
  }
  assert.match(r.stdout, /nook run (works|cannot work) on this host/);
}, { skip });
