/**
 * State survives nook, the monitor and the container being killed from
 * outside, and stale pids (after a reboot, or reused) never reach an
 * unrelated process.
 */
import { assert, busyboxRootfs, busyboxSkip, waitFor } from "../_helpers.ts";
import { inspect, processes, runDetached, sleep, storeProcesses, storeTest } from "../_lifecycle.ts";

const skip = busyboxSkip();

storeTest("killing the container's pid 1 from outside records 137 and ps -a shows it exited", async (s) => {
  const id = await runDetached(s, ["--name", "victim"], ["sleep", "1000"]);
  const pid = (await inspect(s, id)).State.Pid as number;
  Deno.kill(pid, "SIGKILL");
  await waitFor("the monitor to record it", async () => (await inspect(s, id)).State.Status === "exited");
  assert.equal((await inspect(s, id)).State.ExitCode, 137);
  assert.match((await s.run(["ps", "-a", "--format", "{{.Status}}"])).stdout, /^Exited \(137\) /);
  await waitFor("the monitor to leave", () => storeProcesses(s.dataDir).length === 0);
}, { skip });

storeTest("killing the monitor takes the container down and ps -a shows it exited with an unknown code and the reason", async (s) => {
  const id = await runDetached(s, ["--name", "orphan"], ["sleep", "1000"]);
  const doc = await inspect(s, id);
  Deno.kill(doc.MonitorPid, "SIGKILL");
  // the container's parent-death signal ends it with its monitor
  await waitFor("the container to end", () => !processes().some((p) => p.pid === doc.State.Pid && p.comm === "sleep"));
  const after = await inspect(s, id);
  assert.equal(after.State.Status, "exited");
  assert.equal(after.State.ExitCode, 255);
  assert.match(after.State.Error, /monitor ended/);
  assert.match((await s.run(["ps", "-a", "--format", "{{.Names}} {{.Status}}"])).stdout, /^orphan Exited \(255\) /);
  // and the container can be started again, or removed
  assert.equal((await s.run(["start", "orphan"])).code, 0);
  assert.equal((await inspect(s, id)).State.Status, "running");
  assert.equal((await s.run(["rm", "-f", "orphan"])).code, 0);
}, { skip });

storeTest("a monitor stopped with SIGTERM passes it on, records the exit and does not restart", async (s) => {
  const id = await runDetached(s, ["--name", "term", "--restart", "always"], ["sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.05; done"]);
  await sleep(200);
  Deno.kill((await inspect(s, id)).MonitorPid, "SIGTERM");
  assert.equal((await s.run(["wait", "term"])).stdout, "7\n");
  assert.equal((await inspect(s, id)).RestartCount, 0);
}, { skip });

/** A process unrelated to nook, to be protected. */
function bystander(): Deno.ChildProcess {
  return new Deno.Command("sleep", { args: ["1000"], stdout: "null", stderr: "null" }).spawn();
}

function rewriteStatus(dataDir: string, id: string, changes: Record<string, string | number>): void {
  const path = `${dataDir}/containers/${id}/status`;
  const lines = Deno.readTextFileSync(path).split("\n").map((l) => {
    const k = l.slice(0, l.indexOf("="));
    return k in changes ? `${k}=${changes[k]}` : l;
  });
  Deno.writeTextFileSync(path, lines.join("\n"));
}

function startTime(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
}

storeTest("a recorded pid now used by another process is never signalled: the container reads as exited", async (s) => {
  const id = await runDetached(s, ["--name", "stale"], ["true"]);
  await s.run(["wait", "stale"]);
  const other = bystander();
  try {
    // as if the container's pid and its monitor's pid had been reused by `other`
    rewriteStatus(s.dataDir, id, {
      state: "running",
      pid: other.pid,
      pid_start: startTime(other.pid) - 1,
      monitor_pid: other.pid,
      monitor_start: startTime(other.pid) - 1,
    });
    for (const cmd of [["kill", "stale"], ["stop", "-t", "0", "stale"], ["rm", "-f", "stale"]]) await s.run(cmd);
    await sleep(100);
    assert.ok(processes().some((p) => p.pid === other.pid), "an unrelated process was killed");
    assert.equal((await s.run(["ps", "-a", "-q"])).stdout, "", "rm -f removed the record");
  } finally {
    other.kill("SIGKILL");
    await other.status;
  }
}, { skip });

storeTest("after a reboot (another boot id) a container recorded as running reads as exited and its old pid is left alone", async (s) => {
  const id = await runDetached(s, ["--name", "rebooted"], ["true"]);
  await s.run(["wait", "rebooted"]);
  const other = bystander();
  try {
    // the pid and start time are right for `other`: only the boot id tells them apart
    rewriteStatus(s.dataDir, id, {
      state: "running",
      pid: other.pid,
      pid_start: startTime(other.pid),
      monitor_pid: other.pid,
      monitor_start: startTime(other.pid),
      boot_id: "00000000-0000-0000-0000-000000000000",
    });
    const doc = await inspect(s, id);
    assert.equal(doc.State.Status, "exited");
    assert.equal(doc.State.ExitCode, 255);
    assert.match(doc.State.Error, /restarted/);
    assert.equal((await s.run(["kill", "rebooted"])).code, 125);
    assert.ok(processes().some((p) => p.pid === other.pid), "an unrelated process was killed");
  } finally {
    other.kill("SIGKILL");
    await other.status;
  }
}, { skip });

storeTest("a foreground run killed with its nook reads as exited afterwards", async (s) => {
  const child = new Deno.Command(`${Deno.cwd()}/nook`, {
    args: ["run", "--name", "fg", "--rootfs", busyboxRootfs(), "sleep", "1000"],
    env: s.env,
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitFor("it to run", async () => (await s.run(["ps", "-q"])).stdout.trim() !== "");
  assert.equal((await inspect(s, "fg")).State.Status, "running");
  // nook is killed outright: the container goes with it (parent-death signal)
  // the launcher execs Deno on the CLI's bundle (build/js/nook.js), or on src/cli/main.ts
  const deno = storeProcesses(s.dataDir).find((p) => /\/(nook\.js|main\.ts)\b/.test(p.cmdline));
  assert.ok(deno, "nook's Deno process is found");
  Deno.kill(deno.pid, "SIGKILL");
  await child.status;
  await waitFor("the container to end", () => storeProcesses(s.dataDir).length === 0);
  const doc = await inspect(s, "fg");
  assert.equal(doc.State.Status, "exited");
  assert.equal(doc.State.ExitCode, 255);
}, { skip });
