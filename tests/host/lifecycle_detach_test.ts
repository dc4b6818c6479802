/**
 * Detached containers: `run -d` leaves only the container and the
 * small C monitor; the monitor logs, records the exit, restarts, removes.
 */
import { assert, busyboxRootfs, busyboxSkip, nook, test, waitFor } from "../_helpers.ts";
import {
  cleanStore,
  freshStore,
  inspect,
  memoryKb,
  processes,
  runDetached,
  sleep,
  statusOf,
  storeProcesses,
  storeTest,
} from "../_lifecycle.ts";

const skip = busyboxSkip();

storeTest("a detached container outlives the nook that started it; ps shows it and logs has its output", async (s) => {
  const id = await runDetached(s, ["--name", "web"], [
    "sh",
    "-c",
    "echo hello-out; echo hello-err >&2; exec sleep 1000",
  ]);
  // the nook that ran `run -d` has exited; the container still runs
  const ps = await s.run(["ps"]);
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/m);
  assert.match(ps.stdout, new RegExp(`^${id.slice(0, 12)} .* Up .* web$`, "m"));
  await waitFor("the log", async () => (await s.run(["logs", "web"])).stdout.includes("hello-out"));
  const logs = await s.run(["logs", "web"]);
  assert.equal(logs.stdout, "hello-out\n");
  assert.equal(logs.stderr, "hello-err\n");
  assert.equal((await s.run(["rm", "-f", "web"])).code, 0);
}, { skip });

storeTest(
  "after run -d returns only the container and its static monitor remain: no Deno process, the monitor is small",
  async (s) => {
    const id = await runDetached(s, [], ["sleep", "1000"]);
    const doc = await inspect(s, id);
    const monitor = doc.MonitorPid as number;
    const pid = doc.State.Pid as number;
    const mine = storeProcesses(s.dataDir);
    // the monitor and, below it, the container (and its network helper, when the default network has one)
    const helper = Number(statusOf(s.dataDir, id).helper_pid ?? 0);
    assert.deepEqual(
      mine.map((p) => p.pid).sort((a, b) => a - b),
      [monitor, pid, ...(helper > 0 ? [helper] : [])].sort((a, b) => a - b),
      JSON.stringify(mine),
    );
    if (helper > 0) assert.equal(mine.find((p) => p.pid === helper)!.ppid, monitor);
    assert.match(Deno.readLinkSync(`/proc/${monitor}/exe`), /\/nook-monitor$/);
    assert.equal(mine.find((p) => p.pid === pid)!.ppid, monitor);
    const parent = processes().find((p) => p.pid === mine.find((q) => q.pid === monitor)!.ppid);
    assert.ok(!parent || !/deno|main\.ts/.test(parent.cmdline), `the monitor's parent is ${parent?.cmdline}`);
    // (storeProcesses counts every nook started with this store too: none is left)
    assert.ok(!mine.some((p) => /deno|main\.ts/.test(p.cmdline)), "a Deno process is still there");
    // static and small: no dynamic loader mapped, well under conmon's ~2.4 MB RSS
    const maps = Deno.readTextFileSync(`/proc/${monitor}/maps`);
    assert.doesNotMatch(maps, /ld-linux|libc\.so/);
    const mem = memoryKb(monitor);
    console.log(`monitor memory: RSS ${mem.rss} KiB, PSS ${mem.pss} KiB, private ${mem.private} KiB`);
    assert.ok(mem.rss < 2400, `monitor RSS ${mem.rss} KiB`);
    assert.equal((await s.run(["rm", "-f", id])).code, 0);
  },
  { skip },
);

storeTest("exit codes are recorded: ps -a, inspect and wait agree", async (s) => {
  const id = await runDetached(s, ["--name", "five"], ["sh", "-c", "exit 5"]);
  const w = await s.run(["wait", "five"]);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(w.stdout, "5\n");
  const ps = await s.run(["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Status}}"]);
  assert.match(ps.stdout, /^five exited Exited \(5\) /m);
  const doc = await inspect(s, id);
  assert.equal(doc.State.Status, "exited");
  assert.equal(doc.State.ExitCode, 5);
  assert.equal(doc.State.Running, false);
  assert.ok(Date.parse(doc.State.FinishedAt) >= Date.parse(doc.State.StartedAt));
  // a signal is 128+n (through --init: pid 1 itself ignores signals it has no handler for)
  await runDetached(s, ["--init", "--name", "killed"], ["sleep", "1000"]);
  assert.equal((await s.run(["kill", "-s", "USR2", "killed"])).code, 0);
  assert.equal((await s.run(["wait", "killed"])).stdout, "140\n");
  // running in the foreground (no --rm) leaves an exited record too
  const fg = await s.run(["run", "--name", "fg", "--rootfs", busyboxRootfs(), "sh", "-c", "exit 6"]);
  assert.equal(fg.code, 6);
  assert.equal((await inspect(s, "fg")).State.ExitCode, 6);
  const rm = await s.run(["run", "--rm", "--name", "gone", "--rootfs", busyboxRootfs(), "true"]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.doesNotMatch((await s.run(["ps", "-a"])).stdout, /gone/);
}, { skip });

storeTest("--restart=on-failure:2 restarts a failing container exactly twice", async (s) => {
  await runDetached(s, ["--name", "flaky", "--restart", "on-failure:2"], ["sh", "-c", "echo run; exit 3"]);
  const w = await s.run(["wait", "flaky"]);
  assert.equal(w.stdout, "3\n", w.stderr);
  const doc = await inspect(s, "flaky");
  assert.equal(doc.RestartCount, 2);
  assert.equal(doc.State.ExitCode, 3);
  assert.equal((await s.run(["logs", "flaky"])).stdout, "run\nrun\nrun\n");
  await sleep(500);
  assert.equal((await inspect(s, "flaky")).RestartCount, 2, "no restart after the limit");
}, { skip });

storeTest("--restart=always restarts until the container is stopped, and not after", async (s) => {
  await runDetached(s, ["--name", "loop", "--restart", "always"], ["sh", "-c", "echo run; sleep 0.2"]);
  await waitFor("two restarts", async () => (await inspect(s, "loop")).RestartCount >= 2, 15_000);
  const stop = await s.run(["stop", "-t", "1", "loop"]);
  assert.equal(stop.code, 0, stop.stderr);
  const after = await inspect(s, "loop");
  assert.equal(after.State.Status, "exited");
  await sleep(800);
  assert.equal((await inspect(s, "loop")).RestartCount, after.RestartCount);
  assert.deepEqual(storeProcesses(s.dataDir), []);
}, { skip });

storeTest("run -d --rm removes the container after it exits", async (s) => {
  await runDetached(s, ["--rm", "--name", "brief"], ["true"]);
  await waitFor("the record to go", async () => !(await s.run(["ps", "-a", "-q"])).stdout.trim(), 15_000);
  assert.equal((await s.run(["inspect", "brief"])).code, 125);
}, { skip });

storeTest("run -dit gives a detached container a terminal, logged as stdout; -di keeps its stdin open", async (s) => {
  await runDetached(s, ["-it", "--name", "tty"], ["sh", "-c", "tty; stty size"]);
  assert.equal((await s.run(["wait", "tty"])).stdout, "0\n");
  assert.equal((await s.run(["logs", "tty"])).stdout, "/dev/pts/0\r\n24 80\r\n");
  await runDetached(s, ["-i", "--name", "cat"], ["cat"]);
  await sleep(300);
  assert.equal((await inspect(s, "cat")).State.Status, "running", "cat got EOF: stdin was not kept open");
  assert.equal((await s.run(["rm", "-f", "cat"])).code, 0);
}, { skip });

storeTest(
  "start runs an exited container again with its recorded configuration; restart restarts a running one",
  async (s) => {
    await runDetached(s, ["--name", "again", "-e", "WHO=again"], ["sh", "-c", "echo run-$WHO; exit 2"]);
    assert.equal((await s.run(["wait", "again"])).stdout, "2\n");
    const start = await s.run(["start", "again"]);
    assert.equal(start.code, 0, start.stderr);
    assert.equal(start.stdout, "again\n");
    assert.equal((await s.run(["wait", "again"])).stdout, "2\n");
    assert.equal((await s.run(["logs", "again"])).stdout, "run-again\nrun-again\n");
    const id = await runDetached(s, ["--name", "svc"], ["sleep", "1000"]);
    const pid1 = (await inspect(s, id)).State.Pid;
    const r = await s.run(["restart", "-t", "0", "svc"]);
    assert.equal(r.code, 0, r.stderr);
    const doc = await inspect(s, id);
    assert.equal(doc.State.Status, "running");
    assert.notEqual(doc.State.Pid, pid1);
    assert.equal((await s.run(["rm", "-f", "svc"])).code, 0);
  },
  { skip },
);

storeTest("the monitor rotates the log at --log-opt max-size and logs -f follows across the rotation", async (s) => {
  const id = await runDetached(s, ["--name", "chatty", "--log-opt", "max-size=2k", "--log-opt", "max-file=3"], [
    "sh",
    "-c",
    "i=0; while [ $i -lt 60 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); sleep 0.01; done",
  ]);
  const f = await s.run(["logs", "-f", "chatty"]);
  assert.equal(f.code, 0, f.stderr);
  const dir = `${s.dataDir}/containers/${id}`;
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("ctr.log")).sort();
  assert.deepEqual(files, ["ctr.log", "ctr.log.1", "ctr.log.2"]);
  for (const name of files) assert.ok(Deno.statSync(`${dir}/${name}`).size <= 2048, `${name} is over the limit`);
  // what is kept is the end of the output, in order, without gaps
  const kept = (await s.run(["logs", "chatty"])).stdout.trim().split("\n");
  assert.match(kept.at(-1)!, /^line-59-/);
  const first = Number(/^line-(\d+)-/.exec(kept[0]!)![1]);
  assert.deepEqual(
    kept.map((l) => Number(/^line-(\d+)-/.exec(l)![1])),
    Array.from({ length: 60 - first }, (_, i) => first + i),
  );
  // -f printed every line from the start of the follow (it began while line 0 was in the first file)
  const followed = f.stdout.trim().split("\n");
  assert.match(followed.at(-1)!, /^line-59-/);
}, { skip });

test("the monitor writes the id maps itself when it restarts a container, in both mapping modes", async () => {
  for (const mode of ["single", "auto"]) {
    const s = freshStore();
    try {
      const env = mode === "single" ? { ...s.env, NOOK_IDMAP: "single" } : s.env;
      const r = await nook(
        [
          "run",
          "-d",
          "--name",
          "m",
          "--restart",
          "on-failure:1",
          "--rootfs",
          busyboxRootfs(),
          "sh",
          "-c",
          "cat /proc/self/uid_map; exit 1",
        ],
        { env },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await s.run(["wait", "m"])).stdout, "1\n");
      const maps = (await s.run(["logs", "m"])).stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
      const first = maps.slice(0, maps.length / 2), second = maps.slice(maps.length / 2);
      assert.deepEqual(second, first, `${mode}: the restarted container has other maps`);
      assert.equal(first[0], `0 ${Deno.uid()} 1`);
      assert.equal((await inspect(s, "m")).RestartCount, 1);
    } finally {
      await cleanStore(s);
    }
  }
}, { skip });
