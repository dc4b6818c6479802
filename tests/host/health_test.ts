/**
 * Healthchecks, run by the C monitor of a detached container: the status they give (ps,
 * inspect's State.Health), the action on an unhealthy container, `nook healthcheck run`, and
 * the image's HEALTHCHECK with the flags that override it. No Deno process stays behind.
 */
import { assert, busyboxRootfs, busyboxSkip, isolatedEnv, NOOK, ROOT, scratch, sh, test, waitFor } from "../_helpers.ts";
import { alive, type freshStore, inspect, runDetached, storeProcesses, storeTest } from "../_lifecycle.ts";

type Store = ReturnType<typeof freshStore>;

// deno-lint-ignore no-explicit-any
async function health(s: Store, id: string): Promise<any> {
  return (await inspect(s, id)).State.Health;
}

/** Wait (bounded, generous for a loaded machine) until the container's health status is `want`. */
async function waitHealth(s: Store, id: string, want: string): Promise<void> {
  await waitFor(`health ${want}`, async () => (await health(s, id))?.Status === want, 30_000);
}

/** Only the store's monitors and container processes are left: no Deno process stays with a container. */
function noDenoBehind(s: Store): void {
  const deno = storeProcesses(s.dataDir).filter((p) => p.comm === "deno" || /\bdeno\b.*\bnook\b|src\/cli\/main\.ts/.test(p.cmdline));
  assert.deepEqual(deno, [], `Deno processes left: ${JSON.stringify(deno)}`);
}

storeTest("a healthcheck that starts to pass makes the container healthy, in ps, inspect and healthcheck run", async (s) => {
  const id = await runDetached(s, [
    "--tmpfs", "/tmp", // the busybox root is shared between tests: the marker must be this run's
    ...["--health-cmd", "echo check-said-hi; test -e /tmp/ready", "--health-interval", "200ms"],
    ...["--health-retries", "2", "--health-start-period", "60s"],
  ], ["sh", "-c", "sleep 4; touch /tmp/ready; exec sleep 300"]);
  // failures inside the start period do not count: starting, not unhealthy
  await waitFor("a first failed check", async () => ((await health(s, id))?.Log ?? []).length > 0, 30_000);
  const early = await health(s, id);
  assert.equal(early.Status, "starting");
  assert.equal(early.FailingStreak, 0);
  assert.equal(early.Log[0].ExitCode, 1);
  assert.equal(early.Log[0].Output, "check-said-hi\n");
  await waitHealth(s, id, "healthy");
  const h = await health(s, id);
  assert.equal(h.FailingStreak, 0);
  const last = h.Log.at(-1);
  assert.equal(last.ExitCode, 0);
  assert.equal(last.Output, "check-said-hi\n");
  assert.ok(Date.parse(last.End) >= Date.parse(last.Start));
  assert.ok(h.Log.length <= 5, "the log keeps the last five results");
  const ps = await s.run(["ps", "--format", "{{.Status}}"]);
  assert.match(ps.stdout, /^Up .* \(healthy\)\n$/);
  const doc = await inspect(s, id);
  assert.deepEqual(doc.Config.Healthcheck.Test, ["CMD-SHELL", "echo check-said-hi; test -e /tmp/ready"]);
  assert.equal(doc.Config.Healthcheck.Interval, 200_000_000);
  const run = await s.run(["healthcheck", "run", id]);
  assert.equal(run.code, 0, run.stderr);
  noDenoBehind(s);
}, { skip: busyboxSkip() });

storeTest("a failing healthcheck turns the container unhealthy after its retries, and healthcheck run exits 1", async (s) => {
  const id = await runDetached(s, [
    ...["--health-cmd", "echo not-yet >&2; exit 3", "--health-interval", "200ms", "--health-retries", "3"],
  ], ["sleep", "300"]);
  await waitHealth(s, id, "unhealthy");
  const h = await health(s, id);
  assert.ok(h.FailingStreak >= 3, `streak ${h.FailingStreak}`);
  assert.ok(h.Log.length >= 3);
  for (const r of h.Log) {
    assert.equal(r.ExitCode, 3);
    assert.equal(r.Output, "not-yet\n");
  }
  const ps = await s.run(["ps", "--format", "{{.Names}} {{.Status}}"]);
  assert.match(ps.stdout, / Up .* \(unhealthy\)\n$/);
  const run = await s.run(["healthcheck", "run", id]);
  assert.equal(run.code, 1);
  assert.equal(run.stdout, "unhealthy\n");
  // on-failure none: the container runs on
  assert.equal((await inspect(s, id)).State.Running, true);
  noDenoBehind(s);
}, { skip: busyboxSkip() });

storeTest("health-on-failure kill ends an unhealthy container, which is not restarted", async (s) => {
  const id = await runDetached(s, [
    ...["--health-cmd", "false", "--health-interval", "200ms", "--health-retries", "2", "--health-on-failure", "kill"],
  ], ["sleep", "300"]);
  const monitor = Number((await inspect(s, id)).MonitorPid);
  await waitFor("the container to end", async () => (await inspect(s, id)).State.Status === "exited", 30_000);
  const doc = await inspect(s, id);
  assert.equal(doc.State.ExitCode, 137);
  assert.equal(doc.State.Health.Status, "unhealthy");
  assert.equal(doc.RestartCount, 0);
  await waitFor("the monitor to leave", () => !alive(monitor));
  assert.deepEqual(storeProcesses(s.dataDir), []);
}, { skip: busyboxSkip() });

storeTest("a check that outlives its timeout fails, and is killed", async (s) => {
  const id = await runDetached(s, [
    ...["--health-cmd", "sleep 30", "--health-interval", "200ms", "--health-timeout", "300ms", "--health-retries", "1"],
  ], ["sleep", "300"]);
  await waitHealth(s, id, "unhealthy");
  const r = (await health(s, id)).Log[0];
  assert.equal(r.ExitCode, -1);
  assert.match(r.Output, /Health check exceeded timeout/);
  // the killed check's sleep is gone: only the container's sleep remains under the monitor
  await waitFor("the timed-out check to be gone", () => storeProcesses(s.dataDir).filter((p) => p.cmdline === "sleep 30").length === 0);
}, { skip: busyboxSkip() });

storeTest("the image's HEALTHCHECK runs, --health-cmd replaces it, --no-healthcheck turns it off", async (s) => {
  const dir = scratch("nook-health-img-");
  const tar = await sh("tar", ["--owner=0", "--group=0", "--numeric-owner", "-C", busyboxRootfs(), "-cf", `${dir}/bb.tar`, "."]);
  assert.equal(tar.code, 0, tar.stderr);
  assert.equal((await s.run(["import", "-q", `${dir}/bb.tar`, "bb"])).code, 0);
  Deno.writeTextFileSync(`${dir}/Containerfile`, "FROM bb\nHEALTHCHECK --interval=200ms --retries=2 CMD echo from-image\n");
  const b = await s.run(["build", "-q", "-t", "hc", dir]);
  assert.equal(b.code, 0, b.stderr);

  const byImage = (await s.run(["run", "-d", "hc", "sleep", "300"])).stdout.trim();
  await waitHealth(s, byImage, "healthy");
  assert.equal((await health(s, byImage)).Log.at(-1).Output, "from-image\n");

  const replaced = (await s.run(["run", "-d", "--health-cmd", "echo from-flag; exit 1", "hc", "sleep", "300"])).stdout.trim();
  await waitHealth(s, replaced, "unhealthy"); // the image's interval and retries, the flag's command
  assert.equal((await health(s, replaced)).Log.at(-1).Output, "from-flag\n");

  const off = (await s.run(["run", "-d", "--no-healthcheck", "hc", "sleep", "300"])).stdout.trim();
  await new Promise((r) => setTimeout(r, 1500)); // several of the image's intervals
  const doc = await inspect(s, off);
  assert.equal(doc.State.Running, true);
  assert.equal(doc.State.Health, undefined);
  assert.equal(doc.Config.Healthcheck, undefined);
  const ps = await s.run(["ps", "--filter", `id=${off}`, "--format", "{{.Status}}"]);
  assert.match(ps.stdout, /^Up [^(]*\n$/);
  const run = await s.run(["healthcheck", "run", off]);
  assert.equal(run.code, 125);
  assert.match(run.stderr, /has no healthcheck/);
  const both = await s.run(["run", "-d", "--no-healthcheck", "--health-cmd", "true", "hc", "true"]);
  assert.equal(both.code, 125);
  assert.match(both.stderr, /Conflicting options: --no-healthcheck/);
}, { skip: busyboxSkip() });

storeTest("health-on-failure restart restarts an unhealthy container, whose health starts over", async (s) => {
  // the first run never passes; a later one (which finds the first run's mark in a bind mount) does
  const data = scratch("nook-health-data-");
  const id = await runDetached(s, [
    "--tmpfs", "/tmp", "-v", `${data}:/data`,
    ...["--health-cmd", "test -e /tmp/ok", "--health-interval", "200ms", "--health-retries", "2"],
    ...["--health-on-failure", "restart", "--stop-timeout", "1"],
  ], ["sh", "-c", "[ -e /data/ran ] && touch /tmp/ok; touch /data/ran; exec sleep 300"]);
  const firstPid = (await inspect(s, id)).State.Pid;
  await waitHealth(s, id, "healthy");
  const doc = await inspect(s, id);
  assert.equal(doc.State.Running, true);
  assert.ok(doc.RestartCount >= 1, `restarts: ${doc.RestartCount}`);
  assert.notEqual(doc.State.Pid, firstPid);
  // the unhealthy first run is in the log, before the passing check of the new one
  const codes = doc.State.Health.Log.map((r: { ExitCode: number }) => r.ExitCode);
  assert.ok(codes.includes(1) && codes.at(-1) === 0, JSON.stringify(codes));
  noDenoBehind(s);
}, { skip: busyboxSkip() });

test("the monitor refuses healthcheck numbers it cannot use, naming them", async () => {
  const monitor = `${ROOT}/build/nook-monitor`;
  for (const bad of [["--health-retries", "0"], ["--health-interval-ms", "0"], ["--health-action-signal", "99"]]) {
    const r = await sh(monitor, ["--status", "/nonexistent/status", ...bad]);
    assert.equal(r.code, 125, bad.join(" "));
    assert.match(r.stderr, /nook-monitor: bad healthcheck (numbers|action)/);
  }
  const run = await new Deno.Command(NOOK, {
    args: ["run", "--rm", "--health-interval", "5", "--health-cmd", "true", "--rootfs", "/", "true"],
    stdout: "piped",
    stderr: "piped",
    env: isolatedEnv(),
  }).output();
  assert.equal(run.code, 125);
  assert.match(new TextDecoder().decode(run.stderr), /Invalid duration "5" for --health-interval/);
});
