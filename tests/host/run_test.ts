/**
 * `nook run` end to end: real containers from a busybox rootfs, asserting
 * what the process inside saw.
 */
import { assert, busyboxRootfs, busyboxSkip, exists, isolatedEnv, nook, NOOK, scratch, sh, subidSkip, test, waitFor } from "../_helpers.ts";

const skip = busyboxSkip();
const rootfs = () => busyboxRootfs();
const run = (args: string[], opts: Parameters<typeof nook>[1] = {}) => nook(["run", "--rm", "--rootfs", rootfs(), ...args], opts);

test("run makes the command pid 1 and root inside", async () => {
  const r = await run(["sh", "-c", "echo $$; id -u; id -g"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), ["1", "0", "0"]);
}, { skip });

test("run gives the container the id prefix as hostname, or --hostname", async () => {
  const a = await run(["hostname"]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout.trim(), /^[0-9a-f]{12}$/);
  const b = await nook(["run", "--rm", "--hostname", "box1", "--rootfs", rootfs(), "sh", "-c", "hostname; cat /etc/hostname; grep box1 /etc/hosts"]);
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(b.stdout.trim().split("\n").slice(0, 2), ["box1", "box1"]);
  assert.match(b.stdout, /127\.0\.1\.1\tbox1/);
}, { skip });

test("run puts the container in seven namespaces of its own", async () => {
  const ns = ["user", "mnt", "pid", "uts", "ipc", "net", "cgroup"];
  const r = await run(["sh", "-c", ns.map((n) => `readlink /proc/self/ns/${n}`).join(";")]);
  assert.equal(r.code, 0, r.stderr);
  const inside = r.stdout.trim().split("\n");
  assert.equal(inside.length, 7);
  ns.forEach((n, i) => {
    assert.match(inside[i]!, new RegExp(`^${n}:\\[\\d+\\]$`));
    assert.notEqual(inside[i], Deno.readLinkSync(`/proc/self/ns/${n}`), `${n} namespace is the host's`);
  });
}, { skip });

test("run with the subordinate range maps 0 to the caller and 1.. to the ranges", async () => {
  const r = await run(["cat", "/proc/self/uid_map", "/proc/self/gid_map"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number));
  const uidLines = lines.slice(0, lines.length / 2);
  assert.deepEqual(uidLines[0], [0, Deno.uid(), 1]);
  assert.ok(uidLines.length >= 2, "no subordinate range mapped");
  assert.equal(uidLines[1]![0], 1);
  // chown to another user works inside, as it does under podman
  const c = await run(["sh", "-c", "touch /tmp/f && chown 1000:1000 /tmp/f && stat -c %u:%g /tmp/f"]);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout.trim(), "1000:1000");
}, { skip: subidSkip() });

test("run without newuidmap maps only the caller, says so once, and explains a failing -u", async () => {
  const env = { NOOK_IDMAP: "single", XDG_RUNTIME_DIR: scratch("nook-run-") };
  const r = await run(["cat", "/proc/self/uid_map"], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split(/\s+/).map(Number), [0, Deno.uid(), 1]);
  assert.match(r.stderr, /notice: .*single/);
  const again = await run(["true"], { env });
  assert.doesNotMatch(again.stderr, /notice/, "the notice is shown once per boot, not on every run");
  const bad = await nook(["run", "--rm", "-u", "1000", "--rootfs", rootfs(), "id"], { env });
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /not mapped/);
  assert.match(bad.stderr, /uidmap|subuid/);
}, { skip });

test("run mounts a fresh /proc, a private /dev and a read-only /sys", async () => {
  const r = await run(["sh", "-c", "ls /dev; echo ---; ls /proc | grep '^[0-9]' | sort -n | head -1; echo ---; touch /sys/x 2>&1; echo ---; cat /proc/self/mountinfo"]);
  assert.equal(r.code, 0, r.stderr);
  const [dev, procs, sys, mountinfo] = r.stdout.split("---\n");
  for (const d of ["null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "ptmx", "fd", "stdin", "stdout", "stderr"]) {
    assert.match(dev!, new RegExp(`^${d}$`, "m"), `/dev/${d} missing`);
  }
  assert.equal(procs!.trim(), "1", "a fresh /proc of the container's pid namespace starts at pid 1");
  assert.match(sys!, /Read-only file system/);
  assert.match(mountinfo!, / \/sys ro,/);
  assert.match(mountinfo!, / \/dev\/pts .* devpts devpts .*ptmxmode=666/);
  assert.doesNotMatch(mountinfo!, /shared:/, "mount propagation must be private");
}, { skip });

test("run's /dev/null, /dev/zero and /dev/urandom are the real devices", async () => {
  const r = await run(["sh", "-c", "echo x > /dev/null && head -c 4 /dev/zero | od -An -tx1 && head -c 16 /dev/urandom | wc -c"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n").map((s) => s.trim()), ["00 00 00 00", "16"]);
}, { skip });

test("run propagates exit codes: 0, 7, 126, 127 and 128+signal", async () => {
  assert.equal((await run(["true"])).code, 0);
  assert.equal((await run(["sh", "-c", "exit 7"])).code, 7);
  const notFound = await run(["no-such-command"]);
  assert.equal(notFound.code, 127);
  assert.match(notFound.stderr, /"no-such-command": executable file not found in \$PATH/);
  const notExec = await run(["/etc/passwd"]);
  assert.equal(notExec.code, 126);
  assert.match(notExec.stderr, /permission denied/);
  const missing = await run(["/no/such/file"]);
  assert.equal(missing.code, 127);
  // pid 1 cannot be killed from inside its own namespace, so signal a child: 128+9
  const killed = await run(["--init", "sh", "-c", "kill -9 $$"]);
  assert.equal(killed.code, 137);
}, { skip });

test("run reports a process killed from outside as 128+signal", async () => {
  const child = new Deno.Command(NOOK, {
    args: ["run", "--rm", "--rootfs", rootfs(), "sleep", "30"],
    env: isolatedEnv(),
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let sleepPid = 0;
  await waitFor("the container's sleep", async () => {
    const r = await sh("pgrep", ["-P", String(child.pid), "-x", "sleep"]);
    sleepPid = Number(r.stdout.trim().split("\n")[0]);
    return sleepPid > 0;
  });
  Deno.kill(sleepPid, "SIGKILL");
  const out = await child.output();
  assert.equal(out.code, 137);
}, { skip });

/** Run a trapping shell in a container, signal nook once it is ready, and collect its output and exit code. */
async function signalNook(sig: Deno.Signal, trapName: string, exitWith: number): Promise<{ code: number; out: string }> {
  const script = `trap 'echo got-${trapName}; exit ${exitWith}' ${trapName}; echo ready; while :; do sleep 0.05; done`;
  const child = new Deno.Command(NOOK, {
    args: ["run", "--rm", "--rootfs", rootfs(), "sh", "-c", script],
    env: isolatedEnv(),
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let signalled = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
    if (!signalled && out.includes("ready")) {
      child.kill(sig);
      signalled = true;
    }
  }
  return { code: (await child.status).code, out };
}

test("run forwards SIGTERM to the container's process", async () => {
  const r = await signalNook("SIGTERM", "TERM", 42);
  assert.equal(r.code, 42);
  assert.match(r.out, /got-TERM/);
}, { skip });

test("run forwards INT, HUP, QUIT, USR1 and USR2 to the container's process", async () => {
  for (const sig of ["SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const) {
    const r = await signalNook(sig, sig.slice(3), 9);
    assert.equal(r.code, 9, `${sig} not forwarded`);
    assert.match(r.out, new RegExp(`got-${sig.slice(3)}`));
  }
}, { skip });

test("run --init forwards signals to the command and reaps orphans", async () => {
  const r = await run(["--init", "sh", "-c", "sh -c 'sleep 0.1 &' ; sleep 0.3; ps -o pid,stat,comm | grep -c ' Z ' || true; ps -o pid,comm | sed -n 2p"]);
  assert.equal(r.code, 0, r.stderr);
  const [zombies, first] = r.stdout.trim().split("\n");
  assert.equal(zombies, "0", "orphaned zombies must be reaped by init");
  assert.match(first!, /^\s*1 nook-init$/);
  const child = new Deno.Command(NOOK, {
    args: ["run", "--rm", "--init", "--rootfs", rootfs(), "sleep", "30"],
    env: isolatedEnv(),
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitFor("the container's sleep", async () => (await sh("pgrep", ["-P", String(child.pid)])).code === 0);
  await new Promise((r) => setTimeout(r, 100));
  child.kill("SIGTERM");
  assert.equal((await child.status).code, 143, "sleep killed by the forwarded SIGTERM: 128+15");
}, { skip });

test("run sets env from -e and --env-file, the workdir and the user", async () => {
  const dir = scratch();
  Deno.writeTextFileSync(`${dir}/env`, "# comment\n\nFROM_FILE=one two\nCOPIED\nMISSING_ONE\n");
  const r = await nook(
    ["run", "--rm", "-e", "A=1", "-e", "A=2", "-e", "COPIED2", "--env-file", `${dir}/env`, "-w", "/tmp/work", "-u", "user", "--rootfs", rootfs(), "sh", "-c", "env; pwd; id"],
    { env: { COPIED: "c1", COPIED2: "c2" } },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^A=2$/m);
  assert.match(r.stdout, /^FROM_FILE=one two$/m);
  assert.match(r.stdout, /^COPIED=c1$/m);
  assert.match(r.stdout, /^COPIED2=c2$/m);
  assert.doesNotMatch(r.stdout, /MISSING_ONE/);
  assert.match(r.stdout, /^HOME=\/home\/user$/m);
  assert.match(r.stdout, /^PATH=\/usr\/local\/sbin:/m);
  assert.match(r.stdout, /^\/tmp\/work$/m);
  assert.match(r.stdout, /uid=1000\(user\) gid=1000\(user\) groups=10\(wheel\),1000\(user\)/);
}, { skip: subidSkip() });

test("run -u takes uid:gid numbers and names, and refuses unknown names with 125", async () => {
  const a = await run(["-u", "65534:65534", "id"]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /uid=65534\(nobody\) gid=65534\(nogroup\)/);
  const b = await run(["-u", "nosuchuser", "id"]);
  assert.equal(b.code, 125);
  assert.match(b.stderr, /Unable to find user "nosuchuser"/);
  const c = await run(["-u", "user:nosuchgroup", "id"]);
  assert.equal(c.code, 125);
  assert.match(c.stderr, /Unable to find group "nosuchgroup"/);
}, { skip: subidSkip() });

test("run refuses a bad env-file line, a missing rootfs and a relative workdir with 125", async () => {
  const dir = scratch();
  Deno.writeTextFileSync(`${dir}/env`, "GOOD=1\nBAD KEY=2\n");
  const a = await run(["--env-file", `${dir}/env`, "true"]);
  assert.equal(a.code, 125);
  assert.match(a.stderr, /Invalid line 2 in env file/);
  const b = await nook(["run", "--rm", "--rootfs", `${dir}/nothing`, "true"]);
  assert.equal(b.code, 125);
  assert.match(b.stderr, /does not exist/);
  const c = await run(["-w", "relative", "true"]);
  assert.equal(c.code, 125);
  assert.match(c.stderr, /not an absolute path/);
  const d = await nook(["run", "--bogus-flag", "x"]);
  assert.equal(d.code, 125);
  assert.match(d.stderr, /Unknown flag "--bogus-flag"/);
}, { skip });

test("run gives stdin only with -i, and /dev/null otherwise", async () => {
  const a = await run(["-i", "cat"], { stdin: "through stdin\n" });
  assert.equal(a.stdout, "through stdin\n");
  const b = await run(["sh", "-c", "cat; readlink /proc/self/fd/0"], { stdin: "not seen\n" });
  assert.equal(b.stdout, "/dev/null\n");
}, { skip });

test("run starts the container with no ignored or blocked signals and no leaked descriptors", async () => {
  const r = await run(["sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status; ls /proc/self/fd"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /SigIgn:\s+0000000000000000/);
  assert.match(r.stdout, /SigBlk:\s+0000000000000000/);
  const fds = r.stdout.split("\n").filter((l) => /^\d+$/.test(l)).map(Number);
  assert.deepEqual(fds.filter((f) => f > 3), [], `unexpected fds: ${fds}`); // 0-2 and ls's own dir fd
  const p = await run(["sh", "-c", "yes | head -c 10 >/dev/null; echo done"]);
  assert.equal(p.stdout.trim(), "done", "SIGPIPE works (yes ends when head exits)");
}, { skip });

test("run --network none has only an up loopback; --network host sees the host's interfaces", async () => {
  const a = await run(["--network", "none", "cat", "/proc/net/dev"]);
  const ifaces = a.stdout.split("\n").slice(2).filter(Boolean).map((l) => l.split(":")[0]!.trim());
  assert.deepEqual(ifaces, ["lo"]);
  const up = await run(["--network", "none", "sh", "-c", "ip link show lo"]);
  assert.match(up.stdout, /UP/);
  const host = await run(["--network", "host", "cat", "/proc/net/dev"]);
  const hostIfaces = Deno.readTextFileSync("/proc/net/dev").split("\n").slice(2).filter(Boolean).length;
  assert.equal(host.stdout.split("\n").slice(2).filter(Boolean).length, hostIfaces);
  const ro = await run(["--network", "host", "sh", "-c", "touch /sys/x 2>&1"]);
  assert.match(ro.stdout, /Read-only file system/);
}, { skip });

test("run --read-only makes / read-only; --rootfs is writable otherwise", async () => {
  const dir = busyboxRootfs(true);
  const a = await nook(["run", "--rm", "--read-only", "--rootfs", dir, "sh", "-c", "touch /x 2>&1; echo $?"]);
  assert.match(a.stdout, /Read-only file system/);
  const b = await nook(["run", "--rm", "--rootfs", dir, "sh", "-c", "echo hi > /written"]);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(Deno.readTextFileSync(`${dir}/written`), "hi\n");
}, { skip });

test("run --ulimit sets resource limits", async () => {
  const r = await run(["--ulimit", "nofile=123:456", "sh", "-c", "ulimit -n; ulimit -Hn"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), ["123", "456"]);
  const bad = await run(["--ulimit", "bogus=1", "true"]);
  assert.equal(bad.code, 125);
}, { skip });

test("run -t gives the container a real terminal of the right size, raw on our side", async () => {
  const cmd = `stty rows 33 cols 111; ${NOOK} run --rm -it --rootfs ${rootfs()} sh -c 'tty; stty size; echo \$TERM; exit 3'`;
  // script's stdin stays open: at EOF script types ^D into the terminal, and a ^D still in the
  // canonical buffer when nook switches to raw mode arrives as a NUL (echoed "^@") — a race with start-up
  const child = new Deno.Command("script", {
    args: ["-qec", cmd, "/dev/null"],
    env: isolatedEnv({ PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" }),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = await child.output();
  const r = { code: out.code, stdout: new TextDecoder().decode(out.stdout), stderr: new TextDecoder().decode(out.stderr) };
  assert.equal(r.code, 3, r.stdout + r.stderr);
  const lines = r.stdout.split("\r\n");
  assert.ok(lines.includes("/dev/pts/0"), JSON.stringify(r.stdout));
  assert.ok(lines.includes("33 111"), JSON.stringify(r.stdout));
  assert.ok(lines.includes("xterm"), JSON.stringify(r.stdout));
  assert.doesNotMatch(r.stdout, /\r\r\n/, "output must not be post-processed twice");
}, { skip: busyboxSkip() ?? (exists("/usr/bin/script") ? undefined : "script(1) is not installed (util-linux)") });

test("run -it relays typed input to the container's shell and restores the terminal", async () => {
  const t = scratch();
  const cmd = `stty -a > $T/before; ${NOOK} run --rm -it --rootfs ${rootfs()} sh; echo $? > $T/code; stty -a > $T/after`;
  const child = new Deno.Command("script", {
    args: ["-qec", cmd, "/dev/null"],
    env: isolatedEnv({ T: t, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" }),
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const until = async (what: RegExp) => {
    while (!what.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`output ended before ${what}: ${JSON.stringify(text)}`);
      text += value;
    }
  };
  const w = child.stdin.getWriter();
  await until(/# /); // the shell's prompt
  await w.write(new TextEncoder().encode("echo inside-$((6*7))\n"));
  await until(/inside-42/);
  await w.write(new TextEncoder().encode("exit 5\n"));
  await until(/exit 5/);
  while (!(await reader.read()).done);
  await child.status;
  await w.close().catch(() => {});
  assert.equal(Deno.readTextFileSync(`${t}/code`).trim(), "5");
  assert.equal(Deno.readTextFileSync(`${t}/after`), Deno.readTextFileSync(`${t}/before`), "terminal settings restored");
}, { skip: busyboxSkip() ?? (exists("/usr/bin/script") ? undefined : "script(1) is not installed (util-linux)") });

test("run -t passes window size changes on to the container's terminal", async () => {
  // stty in the background resizes the outer terminal; the kernel sends nook SIGWINCH
  const inner = `sleep 1.5; stty size`;
  const cmd = `stty rows 20 cols 70; (sleep 0.7; stty rows 44 cols 99 </dev/tty) & ${NOOK} run --rm -t --rootfs ${rootfs()} sh -c '${inner}'`;
  const r = await sh("script", ["-qec", cmd, "/dev/null"], isolatedEnv({ PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" }));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^44 99\r?$/m, JSON.stringify(r.stdout));
}, { skip: busyboxSkip() ?? (exists("/usr/bin/script") ? undefined : "script(1) is not installed (util-linux)") });

test("run sets umask 0022 and the hostname from --hostname inside /proc", async () => {
  const r = await nook(["run", "--rm", "-h", "umask-box", "--rootfs", rootfs(), "sh", "-c", "umask; cat /proc/sys/kernel/hostname"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), ["0022", "umask-box"]);
}, { skip });

test("run works without XDG_RUNTIME_DIR (as under su) through a private /tmp/nook-UID", async () => {
  const env = { ...isolatedEnv() };
  const r = await nook(["run", "--rm", "--rootfs", rootfs(), "true"], {
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: env.HOME!, NOOK_DATA_DIR: env.NOOK_DATA_DIR! },
  });
  assert.equal(r.code, 0, r.stderr);
  const st = Deno.statSync(`/tmp/nook-${Deno.uid()}`);
  assert.equal(st.uid, Deno.uid());
  assert.equal((st.mode ?? 0) & 0o777, 0o700);
}, { skip });

test("run leaves no runtime files behind after the container ends", async () => {
  const env = { XDG_RUNTIME_DIR: scratch("nook-rt-") };
  const r = await run(["true"], { env });
  assert.equal(r.code, 0, r.stderr);
  const left = [...Deno.readDirSync(`${env.XDG_RUNTIME_DIR}/nook/containers`)];
  assert.deepEqual(left, []);
}, { skip });

test("run explains a failing mount with the op, the path and errno", async () => {
  const dir = busyboxRootfs(true);
  // /dev as a file: the tmpfs cannot be mounted on it
  Deno.removeSync(`${dir}/dev`, { recursive: true });
  Deno.writeTextFileSync(`${dir}/dev`, "");
  const r = await nook(["run", "--rm", "--rootfs", dir, "true"]);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /Cannot start the container: (mount tmpfs on "\/dev"|create directory "\/dev") failed: E[A-Z]+/);
}, { skip });
