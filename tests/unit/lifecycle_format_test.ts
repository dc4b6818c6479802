/** What the lifecycle commands print: inspect, ps formats, logs; and the parsers behind them. */
import { assert, busyboxSkip, NOOK, test } from "../_helpers.ts";
import { inspect, runDetached, storeTest } from "../_lifecycle.ts";
import {
  formatStatus,
  humanDuration,
  isoNs,
  LogPrinter,
  parseLogText,
  parseSize,
  parseStatus,
  renderRows,
  renderTemplate,
  tailRecords,
} from "../../src/engine/mod.ts";
import { parseRestart } from "../../src/engine/lifecycle.ts";

const skip = busyboxSkip();

test("templates render fields, nested fields, json, functions and docker's table header", () => {
  const data = { ID: "abc", Names: "web", State: { Status: "running", Pid: 7 }, Env: ["A=1", "B=2"] };
  assert.equal(renderTemplate("{{.Names}}\\t{{.State.Status}} {{ .State.Pid }}", data), "web\trunning 7");
  assert.equal(renderTemplate("{{json .State}}", data), '{"Status":"running","Pid":7}');
  assert.equal(renderTemplate("{{.Env | json}} {{join .Env \",\"}} {{upper .Names}} {{len .Env}}", data), '["A=1","B=2"] A=1,B=2 WEB 2');
  assert.equal(renderTemplate("{{.Env}}", data), "[A=1 B=2]");
  assert.throws(() => renderTemplate("{{.Nope}}", data), /no field "Nope"/);
  assert.throws(() => renderTemplate("{{frob .ID}}", data), /unknown function/);
  assert.equal(
    renderRows("table {{.ID}}\t{{.Names}}", [data, { ...data, ID: "defghi" }], { ID: "CONTAINER ID", Names: "NAMES" }),
    "CONTAINER ID   NAMES\nabc            web\ndefghi         web\n",
  );
});

test("k8s-file log records parse into streams, full and partial lines, and --tail counts whole lines", () => {
  const text = [
    "2024-01-01T00:00:00.000000001Z stdout F one",
    "2024-01-01T00:00:00.000000002Z stdout P tw",
    "2024-01-01T00:00:00.000000003Z stderr F err",
    "2024-01-01T00:00:00.000000004Z stdout F o",
    "2024-01-01T00:00:00.000000005Z stdout F three",
    "2024-01-01T00:00:00.000000006Z stdout P no-newline",
    "2024-01-01T00:00:00.000000007Z stdout F half-writ",
  ].join("\n");
  const { records, rest } = parseLogText(text);
  assert.equal(records.length, 6);
  assert.equal(rest, "2024-01-01T00:00:00.000000007Z stdout F half-writ");
  const p = new LogPrinter(false);
  assert.equal(records.filter((r) => r.stream === "stdout").map((r) => p.render(r)).join(""), "one\ntwo\nthree\nno-newline");
  assert.deepEqual(tailRecords(records, 2).map((r) => r.text), ["three", "no-newline"]);
  // "tw" + "o" is one line, split around a stderr record
  assert.deepEqual(tailRecords(records, 3).map((r) => r.text), ["tw", "o", "three", "no-newline"]);
  assert.deepEqual(tailRecords(records, 0), []);
  assert.equal(tailRecords(records, -1).length, 6);
  const ts = new LogPrinter(true);
  assert.equal(records.slice(1, 4).map((r) => ts.render(r)).join(""), "2024-01-01T00:00:00.000000002Z tw2024-01-01T00:00:00.000000003Z err\no\n");
});

test("status files round-trip, and the small parsers accept docker's spellings", () => {
  const s = parseStatus("state=running\npid=12\npid_start=99\nmonitor_pid=11\nboot_id=b\nstarted_at=1700000000123456789\nexit_code=0\nrestarts=2\nerror=\n");
  assert.equal(s.state, "running");
  assert.equal(s.pid, 12);
  assert.equal(s.startedAt, 1700000000123456789n);
  assert.deepEqual(parseStatus(formatStatus(s)), s);
  assert.equal(isoNs(1700000000123456789n), "2023-11-14T22:13:20.123456789Z");
  assert.equal(isoNs(0n), "0001-01-01T00:00:00Z");
  assert.equal(parseSize("10m"), 10 * 1024 * 1024);
  assert.equal(parseSize("512k"), 512 * 1024);
  assert.equal(parseSize("1g"), 1024 ** 3);
  assert.throws(() => parseSize("lots"));
  assert.deepEqual(parseRestart("on-failure:2"), { name: "on-failure", maxRetries: 2 });
  assert.deepEqual(parseRestart("always"), { name: "always", maxRetries: 0 });
  assert.throws(() => parseRestart("sometimes"), /Invalid restart policy/);
  assert.equal(humanDuration(500), "Less than a second");
  assert.equal(humanDuration(3000), "3 seconds");
  assert.equal(humanDuration(1500), "1 second");
  assert.equal(humanDuration(65_000), "About a minute");
  assert.equal(humanDuration(3 * 3600_000), "3 hours");
});

storeTest("inspect prints the docker/podman shape with Id, Name, State, Config, HostConfig, Mounts and GraphDriver", async (s) => {
  const id = await runDetached(s, ["--name", "web", "-e", "A=1", "--restart", "on-failure:3", "--stop-signal", "INT", "--stop-timeout", "7"], [
    "sleep",
    "1000",
  ]);
  const doc = await inspect(s, "web");
  assert.equal(doc.Id, id);
  assert.equal(doc.Name, "web");
  assert.equal(doc.Path, "sleep");
  assert.deepEqual(doc.Args, ["1000"]);
  for (const k of ["Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid", "ExitCode", "Error", "StartedAt", "FinishedAt"]) {
    assert.ok(k in doc.State, `State.${k}`);
  }
  assert.equal(doc.State.Status, "running");
  assert.equal(doc.State.Running, true);
  assert.equal(doc.State.OOMKilled, false);
  assert.ok(doc.State.Pid > 0);
  assert.match(doc.State.StartedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.equal(doc.State.FinishedAt, "0001-01-01T00:00:00Z");
  assert.ok(doc.Config.Env.includes("A=1"));
  assert.deepEqual(doc.Config.Cmd, ["sleep", "1000"]);
  assert.equal(doc.Config.StopSignal, "SIGINT");
  assert.equal(doc.Config.StopTimeout, 7);
  assert.deepEqual(doc.HostConfig.RestartPolicy, { Name: "on-failure", MaximumRetryCount: 3 });
  assert.equal(doc.HostConfig.LogConfig.Type, "k8s-file");
  assert.equal(doc.GraphDriver.Name, "dir");
  assert.ok(Array.isArray(doc.Mounts));
  assert.match(doc.LogPath, /ctr\.log$/);
  const f = await s.run(["inspect", "-f", "{{.State.Status}} {{.HostConfig.RestartPolicy.Name}} {{json .Config.Cmd}}", "web"]);
  assert.equal(f.stdout, 'running on-failure ["sleep","1000"]\n');
  const two = await s.run(["inspect", "web", "nope"]);
  assert.equal(two.code, 125);
  assert.equal(JSON.parse(two.stdout).length, 1);
  assert.match(two.stderr, /No such container: nope/);
  assert.equal((await s.run(["rm", "-f", "web"])).code, 0);
}, { skip });

storeTest("ps lists running containers, -a all, -q ids, --format json and templates, --filter", async (s) => {
  const up = await runDetached(s, ["--name", "up"], ["sleep", "1000"]);
  const down = await runDetached(s, ["--name", "down"], ["sh", "-c", "exit 2"]);
  await s.run(["wait", "down"]);
  assert.equal((await s.run(["ps", "-q"])).stdout, `${up.slice(0, 12)}\n`);
  assert.equal((await s.run(["ps", "-aq", "--no-trunc"])).stdout.split("\n").filter(Boolean).sort().join(), [up, down].sort().join());
  const json = (await s.run(["ps", "-a", "--format", "json"])).stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(json.map((j) => j.Names).sort(), ["down", "up"]);
  assert.equal(json.find((j) => j.Names === "down").State, "exited");
  assert.match(json.find((j) => j.Names === "down").Status, /^Exited \(2\) /);
  assert.equal((await s.run(["ps", "-a", "--format", "{{.Names}}", "--filter", "status=exited"])).stdout, "down\n");
  const table = (await s.run(["ps", "-a", "--format", "table {{.Names}}\t{{.State}}"])).stdout;
  assert.match(table, /^NAMES\s+STATE\n/);
  assert.equal((await s.run(["ps", "--format", "{{.Bogus}}"])).code, 125);
  assert.equal((await s.run(["rm", "-f", "up", "down"])).stdout, "up\ndown\n");
}, { skip });

storeTest("logs -f follows until the container stops; --tail and --timestamps", async (s) => {
  await runDetached(s, ["--name", "talk"], ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.3; done; echo bye >&2"]);
  const follow = new Deno.Command(NOOK, { args: ["logs", "-f", "talk"], env: s.env, stdout: "piped", stderr: "piped" }).spawn();
  const out = await follow.output(); // returns by itself once the container has stopped
  assert.equal(out.code, 0);
  assert.equal(new TextDecoder().decode(out.stdout), "line1\nline2\nline3\n");
  assert.equal(new TextDecoder().decode(out.stderr), "bye\n");
  assert.equal((await s.run(["logs", "--tail", "2", "talk"])).stdout, "line3\n");
  const ts = (await s.run(["logs", "-t", "-n", "1", "talk"])).stderr;
  assert.match(ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z bye\n$/);
  const none = await runDetached(s, ["--log-driver", "none"], ["true"]);
  const r = await s.run(["logs", none]);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /keeps no logs/);
}, { skip });

test("container records keep bigints and byte arrays (u64 masks, the compiled seccomp filter) across JSON", async () => {
  const { fromJson, toJson } = await import("../../src/engine/store.ts");
  const value = { caps: 0xffff_ffff_ffff_ffffn, seccomp: { program: new Uint8Array([0, 1, 254, 255, 32]), flags: 0 } };
  const back = fromJson<typeof value>(toJson(value));
  assert.equal(back.caps, value.caps);
  assert.ok(back.seccomp.program instanceof Uint8Array);
  assert.deepEqual([...back.seccomp.program], [0, 1, 254, 255, 32]);
});
