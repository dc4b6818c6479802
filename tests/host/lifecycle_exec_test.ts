/** `nook exec` joins a running container's namespaces; `top` lists its processes. */
import { assert, busyboxSkip, exists, NOOK, sh, subidSkip, waitFor } from "../_helpers.ts";
import { inspect, runDetached, storeTest } from "../_lifecycle.ts";

const skip = busyboxSkip();

storeTest("exec sees the container's pid namespace (pid 1 is its init), its files, its hostname and its namespaces", async (s) => {
  const id = await runDetached(s, ["--name", "box", "--hostname", "boxhost"], ["sh", "-c", "echo data > /tmp/f; exec sleep 1000"]);
  await waitFor("the file", async () => (await s.run(["exec", "box", "cat", "/tmp/f"])).stdout === "data\n");
  const r = await s.run(["exec", "box", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$; hostname; id -u"]);
  assert.equal(r.code, 0, r.stderr);
  const [cmd, pid, host, uid] = r.stdout.trim().split("\n");
  assert.equal(cmd!.trim(), "sleep 1000");
  assert.ok(Number(pid) > 1 && Number(pid) < 100, `exec'd shell has pid ${pid} inside`);
  assert.equal(host, "boxhost");
  assert.equal(uid, "0");
  const pid1 = (await inspect(s, id)).State.Pid as number;
  const ns = ["user", "mnt", "pid", "uts", "ipc", "net", "cgroup"];
  const inside = await s.run(["exec", "box", "sh", "-c", ns.map((n) => `readlink /proc/self/ns/${n}`).join(";")]);
  assert.deepEqual(inside.stdout.trim().split("\n"), ns.map((n) => Deno.readLinkSync(`/proc/${pid1}/ns/${n}`)));
  const ps = await s.run(["exec", "box", "ps", "-o", "pid,args"]);
  assert.match(ps.stdout, /^\s*1 sleep 1000$/m);
  assert.equal((await s.run(["rm", "-f", "box"])).code, 0);
}, { skip });

storeTest("exec propagates the exit code, sets -e and -w, reports a missing command with 127", async (s) => {
  await runDetached(s, ["--name", "box", "-e", "FROM_RUN=1"], ["sleep", "1000"]);
  assert.equal((await s.run(["exec", "box", "sh", "-c", "exit 9"])).code, 9);
  const env = await s.run(["exec", "-e", "A=b c", "-w", "/tmp", "box", "sh", "-c", 'echo "$A|$FROM_RUN|$(pwd)"']);
  assert.equal(env.stdout, "b c|1|/tmp\n", env.stderr);
  const missing = await s.run(["exec", "box", "no-such-command"]);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /no-such-command/);
  const stdin = await new Deno.Command(NOOK, {
    args: ["exec", "-i", "box", "sh", "-c", "read x; echo got-$x"],
    env: s.env,
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const w = stdin.stdin.getWriter();
  await w.write(new TextEncoder().encode("hello\n"));
  await w.close();
  const out = await stdin.output();
  assert.equal(new TextDecoder().decode(out.stdout), "got-hello\n");
  // -d: runs on after exec returns
  assert.equal((await s.run(["exec", "-d", "box", "sh", "-c", "sleep 0.2; touch /tmp/later"])).code, 0);
  await waitFor("the detached exec", async () => (await s.run(["exec", "box", "test", "-e", "/tmp/later"])).code === 0);
  const stopped = await runDetached(s, [], ["true"]);
  await s.run(["wait", stopped]);
  const notRunning = await s.run(["exec", stopped, "true"]);
  assert.equal(notRunning.code, 125);
  assert.match(notRunning.stderr, /is not running/);
  assert.equal((await s.run(["rm", "-f", "box"])).code, 0);
}, { skip });

storeTest("exec -u runs as another user and group of the container", async (s) => {
  await runDetached(s, ["--name", "box"], ["sleep", "1000"]);
  const r = await s.run(["exec", "-u", "user", "box", "sh", "-c", "id -u; id -g; echo $HOME"]);
  assert.equal(r.stdout, "1000\n1000\n/home/user\n", r.stderr);
  const n = await s.run(["exec", "-u", "65534:65534", "box", "sh", "-c", "id -u; id -g"]);
  assert.equal(n.stdout, "65534\n65534\n", n.stderr);
  assert.equal((await s.run(["rm", "-f", "box"])).code, 0);
}, { skip: subidSkip() });

storeTest("exec -t gives the command a terminal of its own inside the container", async (s) => {
  await runDetached(s, ["--name", "box"], ["sleep", "1000"]);
  // without -i: script(1) types a byte into our terminal when its stdin ends, which -i would relay
  const cmd = `stty rows 20 cols 70; ${NOOK} exec -t box sh -c 'readlink /proc/self/fd/1; stty -F /dev/tty size; exit 4'`;
  const r = await sh("script", ["-qec", cmd, "/dev/null"], { ...s.env, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" });
  assert.equal(r.code, 4, r.stdout + r.stderr);
  const lines = r.stdout.split(/\r*\n/);
  assert.ok(lines.some((l) => /^\/dev\/pts\/\d+$/.test(l)), JSON.stringify(r.stdout));
  assert.ok(lines.includes("20 70"), JSON.stringify(r.stdout));
  assert.equal((await s.run(["rm", "-f", "box"])).code, 0);
}, { skip: skip ?? (exists("/usr/bin/script") ? undefined : "script(1) is not installed (util-linux)") });

storeTest("top lists the container's processes with host pids", async (s) => {
  const id = await runDetached(s, ["--name", "box"], ["sh", "-c", "sleep 1000 & exec sleep 999"]);
  const pid1 = (await inspect(s, id)).State.Pid as number;
  await waitFor("the child", async () => (await s.run(["top", "box"])).stdout.includes("sleep 1000"));
  const r = await s.run(["top", "box"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.match(lines[0]!, /^UID\s+PID\s+PPID/);
  assert.equal(lines.length, 3, r.stdout);
  assert.ok(lines.some((l) => l.split(/\s+/)[1] === String(pid1) && l.endsWith("sleep 999")));
  const custom = await s.run(["top", "box", "-o", "pid,args"]);
  assert.match(custom.stdout, /^\s*PID COMMAND\n/);
  assert.equal((await s.run(["rm", "-f", "box"])).code, 0);
}, { skip });

storeTest("exec runs under the container's seccomp filter and capabilities, recomputed for its user", async (s) => {
  await runDetached(s, ["--name", "locked", "--cap-drop", "ALL", "--cap-add", "CHOWN"], ["sleep", "1000"]);
  const r = await s.run(["exec", "locked", "sh", "-c", "grep -E '^(Seccomp|CapEff|CapBnd):' /proc/self/status; unshare -r true; echo rc=$?"]);
  assert.match(r.stdout, /^Seccomp:\s+2$/m, r.stdout + r.stderr);
  assert.match(r.stdout, /^CapBnd:\s+0000000000000001$/m, "only CHOWN in the bounding set");
  assert.match(r.stdout, /^CapEff:\s+0000000000000001$/m);
  assert.match(r.stdout, /rc=1/, "the filter refuses a nested user namespace as in the container");
  const user = await s.run(["exec", "-u", "1000", "locked", "grep", "^CapEff:", "/proc/self/status"]);
  assert.match(user.stdout, /^CapEff:\s+0000000000000000$/m, "a non-root exec user gets no capabilities");
  const free = await runDetached(s, ["--name", "free", "--privileged"], ["sleep", "1000"]);
  void free;
  const p = await s.run(["exec", "free", "grep", "^Seccomp:", "/proc/self/status"]);
  assert.match(p.stdout, /^Seccomp:\s+0$/m, "a --privileged container's exec has no filter either");
  assert.equal((await s.run(["rm", "-f", "locked", "free"])).code, 0);
}, { skip: subidSkip() });
