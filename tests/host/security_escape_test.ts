/**
 * Escape attempts from inside real containers, made by a small static C
 * probe (tests/security_probe.c): each must fail with the errno the filter,
 * the capability sets or the masks give — and the controls show what stops it.
 */
import { assert, busyboxSkip, exists, nook, subidSkip, test } from "../_helpers.ts";
import { hostOutcomes, ia32Skip, probe, probeRootfs } from "../_security_probe.ts";
import { detectLsm } from "../../src/security/mod.ts";

const skip = busyboxSkip() ??
  (Deno.build.arch === "x86_64" ? undefined : "the probe's expectations are written for x86_64");
// Whether the kernel has a 32-bit syscall entry at all, probed on the host outside any filter.
const noIa32 = skip ?? await ia32Skip();
let shared: Promise<string> | undefined;
const rootfs = () => (shared ??= probeRootfs());

const ESCAPES: Record<string, string> = {
  "unshare-user": "EPERM", // nested user namespace: the way to every other namespace
  "unshare-mnt": "EPERM",
  "clone-newuser": "EPERM", // clone's flags are checked by the filter
  clone3: "ENOSYS", // its flags sit in memory the filter cannot read: libcs fall back to clone
  mount: "EPERM",
  // a masked path stays masked (a kernel without keyrings has no /proc/keys to unmount)
  "umount-proc-keys": exists("/proc/keys") ? "EPERM" : "ENOENT",
  "umount-sys-firmware": exists("/sys/firmware") ? "EPERM" : "ENOENT",
  keyctl: "EPERM", // the kernel keyring is not namespaced
  add_key: "EPERM",
  request_key: "EPERM",
  "ptrace-root-as-user": "EPERM", // another user's process: needs CAP_SYS_PTRACE
  kexec_load: "EPERM",
  open_by_handle_at: "EPERM", // the "shocker" escape
  bpf: "EPERM",
  perf_event_open: "EPERM",
  userfaultfd: "EPERM",
  io_uring_setup: "EPERM",
  "mknod-char": "EPERM",
  "raise-cap-21": "EPERM", // CAP_SYS_ADMIN is not in the bounding set
  "personality-no-randomize": "EPERM",
  "socket-vsock": "EPERM",
  "syscall-x32": "killed 31",
  mseal: "ENOSYS", // newer than the profile: ENOSYS, so a libc would fall back
  "chroot-escape": "container root", // CAP_SYS_CHROOT is kept, but pivot_root left nothing above the root
};

const ALLOWED: Record<string, string> = {
  getpid: "ok",
  "socket-unix": "ok",
  "personality-linux32": "ok",
  chown: "ok",
  "bind-80": "ok",
  "ptrace-pid1": "ok", // pid 1 is the probe itself here: same user, same capabilities (as in docker)
};

test("a default container's escape attempts each fail with the expected errno", async () => {
  const attempts = [...Object.keys(ESCAPES), ...Object.keys(ALLOWED)];
  const { o, r } = await probe(await rootfs(), [], attempts);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(o, { ...ESCAPES, ...ALLOWED }, r.stdout);
}, { skip });

test("without the filter the same calls get through to the kernel: the profile is what stops them", async () => {
  const attempts = [
    "unshare-user",
    "clone-newuser",
    "clone3",
    "keyctl",
    "add_key",
    "io_uring_setup",
    "userfaultfd",
    "personality-no-randomize",
    "socket-vsock",
    "mseal",
  ];
  const { o, r } = await probe(await rootfs(), ["--security-opt", "seccomp=unconfined"], attempts);
  assert.equal(r.code, 0, r.stderr);
  // What the kernel itself refuses on this host (its options: kernel.io_uring_disabled,
  // no keyrings…) it refuses in the container too; everything else gets through.
  const host = await hostOutcomes(attempts);
  for (const a of attempts) {
    if (host[a] === "EPERM" || host[a]?.startsWith("killed")) {
      assert.equal(o[a], host[a], `${a}: the host's kernel gives ${host[a]} outside any filter`);
    } else {
      assert.ok(o[a] !== "EPERM" && !o[a]?.startsWith("killed") && o[a] !== undefined, `${a}: ${o[a]}`);
    }
  }
  // capabilities still stop what needs CAP_SYS_ADMIN
  const caps = await probe(await rootfs(), ["--security-opt", "seccomp=unconfined"], ["mount", "raise-cap-21"]);
  assert.deepEqual(caps.o, { mount: "EPERM", "raise-cap-21": "EPERM" });
}, { skip });

test(
  "the 32-bit syscall entry is killed by the filter's arch check and reaches the kernel without the filter",
  async () => {
    // another syscall table: the profile's x86_64 numbers mean other calls there
    const filtered = await probe(await rootfs(), [], ["syscall-i386"]);
    assert.equal(filtered.r.code, 0, filtered.r.stderr);
    assert.equal(filtered.o["syscall-i386"], "killed 31", filtered.r.stdout);
    const open = await probe(await rootfs(), ["--security-opt", "seccomp=unconfined"], ["syscall-i386"]);
    assert.equal(open.r.code, 0, open.r.stderr);
    assert.equal(open.o["syscall-i386"], "ok", open.r.stdout);
  },
  { skip: noIa32 },
);

test("--privileged gets every capability of the user namespace, no filter and no masks", async () => {
  const { o, r } = await probe(await rootfs(), ["--privileged"], [
    "mount",
    "unshare-mnt",
    "raise-cap-21",
    "read-timer-list",
    "keyctl",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(o, {
    mount: "ok",
    "unshare-mnt": "ok",
    "raise-cap-21": "ok",
    "read-timer-list": "-1 bytes",
    // no filter: what the host's kernel gives (ENOSYS on a kernel without keyrings)
    keyctl: (await hostOutcomes(["keyctl"])).keyctl,
  });
}, { skip });

test("a container process cannot trace nook's --init, which keeps the user namespace's capabilities", async () => {
  const { o, r } = await probe(await rootfs(), ["--init"], ["ptrace-pid1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(o["ptrace-pid1"], "EPERM");
}, { skip });

test(
  "masked paths read as nothing, are /dev/null or an empty read-only tmpfs, and the read-only ones refuse writes",
  async () => {
    const script = [
      "for f in /proc/keys /proc/timer_list; do [ -e $f ] && echo \"$f $(stat -c '%F %t:%T' $f) $(wc -c < $f)\"; done",
      "for d in /proc/acpi /sys/firmware /sys/dev/block; do [ -d $d ] && echo \"$d $(ls -A $d | wc -l) $(touch $d/x 2>&1 | grep -o 'Read-only')\"; done",
      "grep -E ' /proc/(sys|bus|fs|irq) ' /proc/self/mountinfo | awk '{print $5, $6}'",
    ].join("; ");
    const r = await nook(["run", "--rm", "--rootfs", await rootfs(), "sh", "-c", script]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    // each kernel has its own set of these files (keyrings, timers): the masks cover those it has
    for (const f of ["/proc/keys", "/proc/timer_list"]) {
      if (exists(f)) assert.ok(lines.includes(`${f} character special file 1:3 0`), `${f}:\n${r.stdout}`);
    }
    for (const d of ["/proc/acpi", "/sys/firmware", "/sys/dev/block"]) {
      if (exists(d)) assert.ok(lines.includes(`${d} 0 Read-only`), `${d}:\n${r.stdout}`);
    }
    for (const p of ["/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq"]) {
      if (exists(p)) assert.match(r.stdout, new RegExp(`^${p} ro,`, "m"), p);
    }
    // /proc/sys of the container's own network namespace: writable with NET_ADMIN, but for the read-only mount
    const w = await probe(await rootfs(), ["--cap-add", "NET_ADMIN"], ["write-proc-sys"]);
    assert.equal(w.o["write-proc-sys"], "EROFS");
    const u = await probe(await rootfs(), ["--cap-add", "NET_ADMIN", "--security-opt", "unmask=ALL"], [
      "write-proc-sys",
      "read-timer-list",
    ]);
    assert.deepEqual(
      u.o,
      { "write-proc-sys": "ok", "read-timer-list": "-1 bytes" },
      "unmask=ALL: nothing masked or read-only",
    );
  },
  { skip },
);

test("reading /proc/kcore in a container gives nothing", async () => {
  const { o } = await probe(await rootfs(), [], ["read-kcore"]);
  assert.equal(o["read-kcore"], "0 bytes");
}, { skip: skip ?? (exists("/proc/kcore") ? undefined : "this kernel has no /proc/kcore (CONFIG_PROC_KCORE is off)") });

test("writing /proc/sysrq-trigger in a container fails with EROFS", async () => {
  const { o } = await probe(await rootfs(), [], ["write-sysrq"]);
  assert.equal(o["write-sysrq"], "EROFS");
}, {
  skip: skip ??
    (exists("/proc/sysrq-trigger") ? undefined : "this kernel has no /proc/sysrq-trigger (CONFIG_MAGIC_SYSRQ is off)"),
});

test("--security-opt mask= hides more paths and unmask= shows one again", async () => {
  const dir = await probeRootfs();
  Deno.writeTextFileSync(`${dir}/secret`, "s3cret\n");
  const r = await nook([
    "run",
    "--rm",
    "--security-opt",
    "mask=/secret:/proc/cpuinfo",
    "--security-opt",
    "unmask=/proc/keys",
    "--rootfs",
    dir,
    "sh",
    "-c",
    "cat /secret; wc -c < /proc/cpuinfo; stat -c %F /proc/keys",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), ["0", "regular empty file"]);
}, {
  skip: skip ?? (exists("/proc/keys") ? undefined : "this kernel has no /proc/keys to unmask (CONFIG_KEYS is off)"),
});

test("no-new-privileges keeps a setuid binary from raising a user to root", async () => {
  const dir = await probeRootfs();
  // owned by root inside (our own uid outside), setuid
  Deno.copyFileSync(`${dir}/probe`, `${dir}/suid-probe`);
  Deno.chmodSync(`${dir}/suid-probe`, 0o4755);
  const plain = await nook(["run", "--rm", "-u", "1000", "--rootfs", dir, "/suid-probe", "ids"]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /uid=1000 euid=0/, "without no_new_privs the setuid bit works, as in docker");
  const nnp = await nook([
    "run",
    "--rm",
    "-u",
    "1000",
    "--security-opt",
    "no-new-privileges",
    "--rootfs",
    dir,
    "/suid-probe",
    "ids",
  ]);
  assert.equal(nnp.code, 0, nnp.stderr);
  assert.match(nnp.stdout, /uid=1000 euid=1000/);
}, { skip: skip ?? subidSkip() });

test("--cap-drop takes a capability away: chown, chroot and raising it back fail", async () => {
  const { o, r } = await probe(await rootfs(), ["--cap-drop", "CHOWN", "--cap-drop", "sys_chroot"], [
    "chown",
    "raise-cap-0",
    "chroot-escape",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(o, { chown: "EPERM", "raise-cap-0": "EPERM", "chroot-escape": "EPERM" });
  const none = await probe(await rootfs(), ["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"], [
    "bind-80",
    "chown",
  ]);
  assert.deepEqual(none.o, { "bind-80": "ok", chown: "EPERM" });
  const nobind = await probe(await rootfs(), ["--cap-drop", "ALL"], ["bind-80"]);
  assert.deepEqual(nobind.o, { "bind-80": "EACCES" });
}, { skip });

test("--cap-add SYS_ADMIN opens what the profile gates on it, as docker's does", async () => {
  const { o, r } = await probe(await rootfs(), ["--cap-add", "SYS_ADMIN"], ["mount", "unshare-mnt", "clone-newuser"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(o, { mount: "ok", "unshare-mnt": "ok", "clone-newuser": "ok" });
}, { skip });

test("--security-opt seccomp=FILE compiles and enforces a docker profile, and warns about unknown names", async () => {
  const dir = await probeRootfs();
  const profile = `${dir}/../profile-${crypto.randomUUID()}.json`;
  Deno.writeTextFileSync(
    profile,
    JSON.stringify({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        { names: ["mkdir", "mkdirat", "no_such_syscall"], action: "SCMP_ACT_ERRNO", errnoRet: 13 },
        { names: ["getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
      ],
    }),
  );
  try {
    const r = await nook([
      "run",
      "--rm",
      "--security-opt",
      `seccomp=${profile}`,
      "--rootfs",
      dir,
      "sh",
      "-c",
      "mkdir /tmp/d; echo $?; /probe getpid keyctl",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Permission denied/);
    assert.deepEqual(r.stdout.trim().split("\n"), ["1", "getpid: ENOSYS", "keyctl: ok"]);
    assert.match(r.stderr, /warning: .*unknown syscall "no_such_syscall" skipped/);
  } finally {
    Deno.removeSync(profile);
  }
}, { skip });

test("a profile may refuse setuid to the container: nook switches users before it loads the filter", async () => {
  const dir = await probeRootfs();
  const profile = `${dir}/no-setuid.json`;
  Deno.writeTextFileSync(
    profile,
    JSON.stringify({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["setresuid", "setuid", "setgroups"], action: "SCMP_ACT_ERRNO" }],
    }),
  );
  const user = await nook([
    "run",
    "--rm",
    "-u",
    "1000",
    "--security-opt",
    `seccomp=${profile}`,
    "--rootfs",
    dir,
    "/probe",
    "ids",
  ]);
  assert.equal(user.code, 0, user.stderr);
  assert.equal(user.stdout.trim(), "ids: uid=1000 euid=1000");
  const root = await probe(dir, ["--security-opt", `seccomp=${profile}`], ["setresuid-1000"]);
  assert.deepEqual(root.o, { "setresuid-1000": "EPERM" }, "the container itself is refused");
}, { skip: skip ?? subidSkip() });

test("a broken seccomp profile stops the run with 125 and names the field", async () => {
  const dir = await probeRootfs();
  const bad = `${dir}/bad.json`;
  Deno.writeTextFileSync(
    bad,
    '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"op":"SCMP_CMP_ALMOST","value":1}]}]}',
  );
  const r = await nook(["run", "--rm", "--security-opt", `seccomp=${bad}`, "--rootfs", dir, "true"]);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /syscalls\[0\]\.args\[0\]\.op/);
  const missing = await nook(["run", "--rm", "--security-opt", "seccomp=/nonexistent.json", "--rootfs", dir, "true"]);
  assert.equal(missing.code, 125);
  assert.match(missing.stderr, /Cannot read the seccomp profile "\/nonexistent\.json"/);
}, { skip });

test("--read-only with --tmpfs leaves only the tmpfs writable; --tmpfs takes docker's options", async () => {
  const r = await nook([
    "run",
    "--rm",
    "--read-only",
    "--tmpfs",
    "/tmp:size=1m,mode=700",
    "--tmpfs",
    "/run",
    "--rootfs",
    await rootfs(),
    "sh",
    "-c",
    "touch /tmp/a && echo tmp-ok; touch /x 2>&1 | grep -o Read-only; grep -E ' /(tmp|run) ' /proc/self/mountinfo | awk '{print $5, $6, $(NF)}'",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.trim().split("\n");
  assert.deepEqual(out.slice(0, 2), ["tmp-ok", "Read-only"]);
  assert.match(r.stdout, /^\/tmp rw,nosuid,nodev,noexec,\S* .*size=1024k.*mode=700/m);
  assert.match(r.stdout, /^\/run rw,nosuid,nodev,noexec/m);
  const bad = await nook(["run", "--rm", "--tmpfs", "/tmp:bogus", "--rootfs", await rootfs(), "true"]);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /unknown tmpfs option "bogus"/);
  const rot = await nook([
    "run",
    "--rm",
    "--read-only",
    "--read-only-tmpfs",
    "--rootfs",
    await rootfs(),
    "sh",
    "-c",
    "touch /tmp/a /var/tmp/b /run/c && echo ok",
  ]);
  assert.equal(rot.code, 0, rot.stderr);
}, { skip });

test("unknown --security-opt keys and capability names stop the run with 125 and say what is accepted", async () => {
  const a = await nook(["run", "--rm", "--security-opt", "seccomp-ish=1", "--rootfs", await rootfs(), "true"]);
  assert.equal(a.code, 125);
  assert.match(a.stderr, /Unknown --security-opt "seccomp-ish=1"/);
  const b = await nook(["run", "--rm", "--cap-add", "SYS_MAGIC", "--rootfs", await rootfs(), "true"]);
  assert.equal(b.code, 125);
  assert.match(b.stderr, /Unknown capability "SYS_MAGIC"/);
  assert.match(b.stderr, /NET_BIND_SERVICE/);
}, { skip });

const lsm = detectLsm();

test("apparmor=NAME is refused with a clear message on a host without AppArmor; unconfined always works", async () => {
  const r = await nook(["run", "--rm", "--security-opt", "apparmor=nook-test", "--rootfs", await rootfs(), "true"]);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /AppArmor is not enabled/);
  const u = await nook([
    "run",
    "--rm",
    "--security-opt",
    "apparmor=unconfined",
    "--security-opt",
    "label=disable",
    "--rootfs",
    await rootfs(),
    "true",
  ]);
  assert.equal(u.code, 0, u.stderr);
}, { skip: skip ?? (lsm.apparmor ? "AppArmor is enabled here; the next test covers it" : undefined) });

test("apparmor=NAME runs the container under that AppArmor profile", async () => {
  const r = await nook([
    "run",
    "--rm",
    "--security-opt",
    "apparmor=unconfined",
    "--rootfs",
    await rootfs(),
    "cat",
    "/proc/self/attr/current",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /unconfined/);
}, {
  skip: skip ??
    (lsm.apparmor ? undefined : "AppArmor is not enabled on this host (/sys/module/apparmor/parameters/enabled)"),
});

test("label=type:… runs the container under that SELinux type", async () => {
  const r = await nook([
    "run",
    "--rm",
    "--security-opt",
    "label=type:container_t",
    "--rootfs",
    await rootfs(),
    "cat",
    "/proc/self/attr/current",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /:container_t:/);
}, {
  skip: skip ??
    (lsm.selinux === "disabled" ? "SELinux is not enabled on this host (no /sys/fs/selinux/enforce)" : undefined),
});
