/** stop, kill, rm, names: acting on containers by name, with the right signals. */
import { assert, busyboxRootfs, busyboxSkip, waitFor } from "../_helpers.ts";
import { inspect, runDetached, storeProcesses, storeTest } from "../_lifecycle.ts";

const skip = busyboxSkip();
const TRAP_LOOP = "while true; do sleep 0.05; done";

storeTest("stop sends SIGTERM first and the container's handler decides the exit code", async (s) => {
  await runDetached(s, ["--name", "t"], ["sh", "-c", `trap 'echo got-term; exit 3' TERM; echo ready; ${TRAP_LOOP}`]);
  await waitFor("the trap", async () => (await s.run(["logs", "t"])).stdout.includes("ready"));
  const r = await s.run(["stop", "t"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "t\n");
  assert.equal((await inspect(s, "t")).State.ExitCode, 3);
  assert.match((await s.run(["logs", "t"])).stdout, /got-term/);
}, { skip });

storeTest("stop uses the recorded --stop-signal, or stop -s", async (s) => {
  const script = `trap 'exit 4' USR1; trap 'exit 5' INT; trap '' TERM; echo ready; ${TRAP_LOOP}`;
  await runDetached(s, ["--name", "u", "--stop-signal", "USR1"], ["sh", "-c", script]);
  assert.equal((await inspect(s, "u")).Config.StopSignal, "SIGUSR1");
  await runDetached(s, ["--name", "i"], ["sh", "-c", script]);
  await waitFor("the traps", async () => (await s.run(["logs", "u"])).stdout.includes("ready") && (await s.run(["logs", "i"])).stdout.includes("ready"));
  assert.equal((await s.run(["stop", "-t", "20", "u"])).code, 0);
  assert.equal((await inspect(s, "u")).State.ExitCode, 4);
  assert.equal((await s.run(["stop", "-t", "20", "-s", "SIGINT", "i"])).code, 0);
  assert.equal((await inspect(s, "i")).State.ExitCode, 5);
}, { skip });

storeTest("stop sends SIGKILL after the timeout when the stop signal is ignored", async (s) => {
  await runDetached(s, ["--name", "stubborn", "--stop-timeout", "30"], ["sh", "-c", `trap '' TERM; echo ready; ${TRAP_LOOP}`]);
  await waitFor("the trap", async () => (await s.run(["logs", "stubborn"])).stdout.includes("ready"));
  const t0 = performance.now();
  const r = await s.run(["stop", "-t", "1", "stubborn"]);
  const took = performance.now() - t0;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(took >= 1000, `stop returned after ${took} ms, before the 1 s timeout`);
  assert.ok(took < 8000, `stop took ${took} ms`);
  assert.equal((await inspect(s, "stubborn")).State.ExitCode, 137);
  assert.deepEqual(storeProcesses(s.dataDir), []);
}, { skip });

storeTest("kill sends a signal (SIGKILL by default) to the container's pid 1", async (s) => {
  await runDetached(s, ["--name", "k"], ["sh", "-c", `trap 'echo got-hup' HUP; echo ready; ${TRAP_LOOP}`]);
  await waitFor("the trap", async () => (await s.run(["logs", "k"])).stdout.includes("ready"));
  assert.equal((await s.run(["kill", "-s", "HUP", "k"])).code, 0);
  await waitFor("the HUP", async () => (await s.run(["logs", "k"])).stdout.includes("got-hup"));
  assert.equal((await inspect(s, "k")).State.Status, "running");
  assert.equal((await s.run(["kill", "k"])).code, 0);
  assert.equal((await s.run(["wait", "k"])).stdout, "137\n");
  const again = await s.run(["kill", "k"]);
  assert.equal(again.code, 125);
  assert.match(again.stderr, /not running/);
  assert.equal((await s.run(["kill", "-s", "NOPE", "k"])).code, 125);
}, { skip });

storeTest("rm refuses a running container, rm -f kills and removes it, and the name is free again", async (s) => {
  const id = await runDetached(s, ["--name", "web"], ["sleep", "1000"]);
  const refused = await s.run(["rm", "web"]);
  assert.equal(refused.code, 125);
  assert.match(refused.stderr, /running/);
  assert.match(refused.stderr, /rm -f/);
  const r = await s.run(["rm", "-f", "web"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "web\n");
  assert.deepEqual(storeProcesses(s.dataDir), []);
  assert.deepEqual([...Deno.readDirSync(`${s.dataDir}/containers`)].map((e) => e.name).filter((n) => n !== "names"), []);
  assert.notEqual(await runDetached(s, ["--name", "web"], ["true"]), id);
  const missing = await s.run(["rm", "nope"]);
  assert.equal(missing.code, 125);
  assert.match(missing.stderr, /No such container: nope/);
}, { skip });

storeTest("names are unique, generated docker-style when not given, and containers are found by name, id or id prefix", async (s) => {
  const id = await runDetached(s, [], ["sleep", "1000"]);
  const name = (await inspect(s, id)).Name as string;
  assert.match(name, /^[a-z]+_[a-z]+\d*$/);
  assert.equal((await inspect(s, name)).Id, id);
  assert.equal((await inspect(s, id.slice(0, 5))).Id, id);
  const dup = await s.run(["run", "-d", "--name", name, "--rootfs", busyboxRootfs(), "true"]);
  assert.equal(dup.code, 125);
  assert.match(dup.stderr, new RegExp(`name "${name}" is already in use by container ${id.slice(0, 12)}`));
  assert.equal((await s.run(["ps", "-aq"])).stdout.trim().split("\n").length, 1, "the refused container left a record");
  assert.equal((await s.run(["rm", "-f", name])).code, 0);
}, { skip });

storeTest("concurrent run --name with the same name: exactly one wins", async (s) => {
  const results = await Promise.all(
    Array.from({ length: 6 }, () => s.run(["run", "-d", "--name", "same", "--rootfs", busyboxRootfs(), "sleep", "1000"])),
  );
  const won = results.filter((r) => r.code === 0);
  assert.equal(won.length, 1, results.map((r) => `${r.code} ${r.stderr}`).join("\n"));
  for (const r of results.filter((r) => r.code !== 0)) assert.match(r.stderr, /already in use/);
  assert.equal((await s.run(["ps", "-aq", "--no-trunc"])).stdout.trim(), won[0]!.stdout.trim());
  assert.equal((await s.run(["rm", "-f", "same"])).code, 0);
}, { skip });

storeTest("container prune removes the stopped containers and keeps the running ones", async (s) => {
  const running = await runDetached(s, ["--name", "up"], ["sleep", "1000"]);
  const done = await runDetached(s, ["--name", "done"], ["true"]);
  await s.run(["wait", "done"]);
  const r = await s.run(["container", "prune", "-f"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `Deleted Containers:\n${done}\n`);
  assert.equal((await s.run(["ps", "-aq", "--no-trunc"])).stdout.trim(), running);
  assert.equal((await s.run(["container", "rm", "-f", "up"])).code, 0);
  assert.equal((await s.run(["container", "ls", "-a", "-q"])).stdout, "");
}, { skip });
