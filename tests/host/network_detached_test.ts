/**
 * Networking of detached containers: the network helper (real pasta and
 * slirp4netns) is the monitor's child and lives exactly as long as the
 * container — after `run -d` has returned, across restarts — and never longer
 * (stop, rm -f, kill -9 of the monitor). Everything listens on 127.0.0.1.
 * Helpers are found by the pid the monitor records, never by name: other
 * test runs of the same user run pasta too.
 */
import { formatPsPorts, parsePublish, portBindings, processStartTime, tunProblem } from "../../src/network/mod.ts";
import { HelperReport } from "../../src/plan/mod.ts";
import { assert, busyboxRootfs, busyboxSkip, nook, ROOT, scratch, sh, test, waitFor } from "../_helpers.ts";
import { type freshStore, inspect, runDetached, statusOf, storeProcesses, storeTest } from "../_lifecycle.ts";
import { gone, HELPERS, helperSkip, httpGet, WEB } from "../_network.ts";

type Store = ReturnType<typeof freshStore>;

/** The helper the monitor runs for a container now: pid and start time, from the status file. */
function helperOf(s: Store, id: string): { pid: number; started: string } {
  const st = statusOf(s.dataDir, id);
  return { pid: Number(st.helper_pid ?? 0), started: st.helper_start ?? "" };
}

/** The parent pid and the program of a live process (pasta makes itself undumpable: /proc/PID/exe is closed). */
function procInfo(pid: number): { ppid: number; exe: string } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const exe = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0")[0]!;
  return { ppid: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]), exe };
}

/** The host port `nook port` gives for the container's port 80. */
async function hostPort(s: Store, ref: string): Promise<number> {
  const r = await s.run(["port", ref, "80"]);
  assert.equal(r.code, 0, r.stderr);
  const m = /^127\.0\.0\.1:(\d+)$/.exec(r.stdout.trim());
  assert.ok(m, `nook port printed ${JSON.stringify(r.stdout)}`);
  return Number(m[1]);
}

test("the monitor's helper report numbers agree with shim.h", () => {
  const header = Deno.readTextFileSync(`${ROOT}/libshim/shim.h`);
  assert.equal(Number(/#define SHIM_OP_INDEX_HELPER \((-?\d+)\)/.exec(header)?.[1]), HelperReport.OP_INDEX);
  for (const step of ["START", "EXITED", "TIMEOUT", "CALL"] as const) {
    assert.equal(Number(new RegExp(`SHIM_HELPER_${step} = (\\d+)`).exec(header)?.[1]), HelperReport[step], step);
  }
});

test("the monitor refuses helper arguments it cannot carry out, saying which", async () => {
  const monitor = `${ROOT}/build/nook-monitor`;
  const cases: [string[], RegExp][] = [
    [["--helper", "3", "/bin/true"], /bad argument count after "--helper"/],
    [["--helper-ready-ms", "0"], /--helper-ready-ms out of range/],
    [["--helper-stop-signal", "99"], /bad --helper-stop-signal/],
    [["--helper-call", "/x.sock"], /missing value after "--helper-call"/],
  ];
  for (const [args, why] of cases) {
    const r = await sh(monitor, ["--status", "/nonexistent/status", ...args]);
    assert.equal(r.code, 125, args.join(" "));
    assert.match(r.stderr, why);
  }
});

test("ps and inspect show published ports as docker does", () => {
  const ports = [
    ...parsePublish("127.0.0.1:8080:80"),
    ...parsePublish("8000-8001:90-91/udp"),
    ...parsePublish("[::1]:5353:53/udp"),
  ];
  assert.equal(
    formatPsPorts(ports),
    "127.0.0.1:8080->80/tcp, 0.0.0.0:8000-8001->90-91/udp, [::1]:5353->53/udp",
  );
  assert.deepEqual(portBindings(ports.slice(0, 2), { exposed: ["80/tcp", "443", "9/sctp"] }), {
    "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "8080" }],
    "443/tcp": null,
    "90/udp": [{ HostIp: "0.0.0.0", HostPort: "8000" }],
    "91/udp": [{ HostIp: "0.0.0.0", HostPort: "8001" }],
  });
  assert.deepEqual(portBindings(parsePublish("80"), { anyIp: "" }), { "80/tcp": [{ HostIp: "", HostPort: "" }] });
});

for (const [tool, pkg] of HELPERS) {
  const skip = helperSkip(tool, pkg);

  storeTest(
    `a detached server behind -p answers after run -d has returned (${tool}); port, ps and inspect show it; stop ends the helper, start brings it back`,
    async (s) => {
      const opts = ["--name", "web", "--init", "--network", tool, "--hostname", "box", "--add-host", "db:10.0.2.9"];
      const id = await runDetached(s, [...opts, "-p", "127.0.0.1::80"], WEB);
      const port = await hostPort(s, "web");
      const reply = await httpGet(port);
      assert.match(reply, /^HTTP\/1\.[01] 200/);
      assert.match(reply, /served-from-the-container/);

      // the helper is the monitor's child, not a leftover of the nook that ran `run -d`
      const doc = await inspect(s, "web");
      const helper = helperOf(s, id);
      assert.ok(helper.pid > 0, "the status names the helper");
      assert.equal(processStartTime(helper.pid), helper.started);
      const info = procInfo(helper.pid);
      assert.equal(info.ppid, doc.MonitorPid);
      assert.match(info.exe, new RegExp(`/${tool}$`));

      const ps = await s.run(["ps", "--format", "{{.Names}} {{.Ports}}"]);
      assert.equal(ps.stdout, `web 127.0.0.1:${port}->80/tcp\n`);
      assert.deepEqual(doc.NetworkSettings.Ports, { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }] });
      assert.deepEqual(doc.HostConfig.PortBindings, { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] });
      assert.equal((await s.run(["port", id.slice(0, 12)])).stdout, `80/tcp -> 127.0.0.1:${port}\n`);

      // /etc/resolv.conf and /etc/hosts are what a foreground container gets
      const etc = ["cat", "/etc/resolv.conf", "/etc/hosts"];
      const inside = await s.run(["exec", "web", ...etc]);
      assert.equal(inside.code, 0, inside.stderr);
      const fg = await s.run(["run", "--rm", ...opts.slice(2), "--name", "fgweb", "--rootfs", busyboxRootfs(), ...etc]);
      assert.equal(fg.code, 0, fg.stderr);
      assert.equal(inside.stdout, fg.stdout.replaceAll("fgweb", "web"));
      assert.match(inside.stdout, tool === "pasta" ? /^nameserver 169\.254\.1\.1$/m : /^nameserver 10\.0\.2\.3$/m);

      const stop = await s.run(["stop", "-t", "5", "web"]);
      assert.equal(stop.code, 0, stop.stderr);
      assert.ok(gone(helper.pid, helper.started), `${tool} (pid ${helper.pid}) survived nook stop`);
      assert.equal(helperOf(s, id).pid, 0, "the final status names no helper");
      const after = await s.run(["port", "web"]);
      assert.equal(after.code, 125);
      assert.match(after.stderr, /No running container "web"/);
      assert.equal((await s.run(["ps", "-a", "--format", "{{.Names}} [{{.Ports}}]"])).stdout, "web []\n");
      // the helper's files went with it: pasta's pid FIFO, slirp4netns's API socket
      const runtime = `${s.env.XDG_RUNTIME_DIR}/nook`;
      const left = [`${s.dataDir}/containers/${id}/pasta.pid`, `${runtime}/slirp4netns-${id.slice(0, 12)}.sock`];
      for (const f of left) assert.throws(() => Deno.lstatSync(f), Deno.errors.NotFound, `${f} is left`);

      // nook start checks the host ports again (and picks a free one again for -p 127.0.0.1::80)
      const start = await s.run(["start", "web"]);
      assert.equal(start.code, 0, start.stderr);
      assert.match(await httpGet(await hostPort(s, "web")), /served-from-the-container/);
      const again = helperOf(s, id);
      assert.ok(again.pid > 0 && again.pid !== helper.pid);
      assert.equal((await s.run(["rm", "-f", "web"])).code, 0);
      assert.ok(gone(again.pid, again.started), `${tool} (pid ${again.pid}) survived rm -f`);
    },
    { skip },
  );

  storeTest(`--restart on-failure:1 restarts the container with working networking (${tool})`, async (s) => {
    const flag = scratch();
    const cmd = [
      "sh",
      "-c",
      `if [ -e /flag/once ]; then ${WEB[2]}; fi; touch /flag/once; sleep 1; exit 1`,
    ];
    const id = await runDetached(
      s,
      ["--name", "again", "--network", tool, "--restart", "on-failure:1", "-p", "127.0.0.1::80", "-v", `${flag}:/flag`],
      cmd,
    );
    const port = await hostPort(s, "again");
    const first = helperOf(s, id);
    assert.ok(first.pid > 0);
    await waitFor("the restart", () => {
      const st = statusOf(s.dataDir, id);
      return st.restarts === "1" && st.state === "running";
    }, 15_000);
    const reply = await httpGet(port);
    assert.match(reply, /served-from-the-container/);
    const second = helperOf(s, id);
    assert.ok(second.pid > 0 && second.pid !== first.pid, "a new helper for the new run");
    assert.ok(gone(first.pid, first.started), "the first run's helper ended with it");
    assert.equal(procInfo(second.pid).ppid, Number(statusOf(s.dataDir, id).monitor_pid));
    assert.equal(await hostPort(s, "again"), port, "the host port stays across restarts");
    assert.equal((await s.run(["rm", "-f", "again"])).code, 0);
    assert.ok(gone(second.pid, second.started), `${tool} survived rm -f`);
  }, { skip });

  storeTest(`rm -f and kill -9 of the monitor leave no ${tool} behind`, async (s) => {
    const a = await runDetached(s, ["--network", tool, "-p", "127.0.0.1::80"], WEB);
    const b = await runDetached(s, ["--network", tool, "-p", "127.0.0.1::80"], WEB);
    const ha = helperOf(s, a);
    const hb = helperOf(s, b);
    assert.ok(ha.pid > 0 && hb.pid > 0);
    assert.equal((await s.run(["rm", "-f", a])).code, 0);
    assert.ok(gone(ha.pid, ha.started), `${tool} (pid ${ha.pid}) survived rm -f`);

    const st = statusOf(s.dataDir, b);
    Deno.kill(Number(st.monitor_pid), "SIGKILL");
    await waitFor(`${tool} (pid ${hb.pid}) to die with its monitor`, () => gone(hb.pid, hb.started), 5_000);
    await waitFor("the container to die with its monitor", () => gone(Number(st.pid), st.pid_start), 5_000);
    const port = await s.run(["port", b]);
    assert.equal(port.code, 125, "nook port forgets it");
  }, { skip });
}

const pastaSkip = helperSkip("pasta", "passt");

storeTest(
  "a helper that fails makes run -d exit 125 with its own words, and leaves no monitor or container",
  async (s) => {
    const r = await s.run([
      "run",
      "-d",
      "--name",
      "bad",
      "--network",
      "pasta:--bogus",
      "-p",
      "127.0.0.1::80",
      "--rootfs",
      busyboxRootfs(),
      ...WEB,
    ]);
    assert.equal(r.code, 125);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /pasta exited before the container's interface was up: .*unrecognized option '--bogus'/);
    await waitFor("no process of the store", () => storeProcesses(s.dataDir).length === 0, 5_000);
    const ps = await s.run(["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert.match(ps.stdout, /^bad Exited \(125\)/);

    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const t = await s.run([
        "run",
        "-d",
        "-p",
        `127.0.0.1:${taken.addr.port}:80`,
        "--rootfs",
        busyboxRootfs(),
        ...WEB,
      ]);
      assert.equal(t.code, 125);
      assert.match(t.stderr, new RegExp(`Host port ${taken.addr.port}/tcp is already in use on 127\\.0\\.0\\.1`));
    } finally {
      taken.close();
    }
    await waitFor("no process of the store", () => storeProcesses(s.dataDir).length === 0, 5_000);
  },
  { skip: pastaSkip },
);

/**
 * A directory with a stand-in for a helper, first on PATH: the real helpers
 * cannot be made to fail at one chosen step (a refused request, a failure on
 * the second start only) without racing them for a port.
 */
function fakeHelper(name: string, script: string): Record<string, string> {
  const dir = scratch("nook-fake-");
  Deno.writeTextFileSync(`${dir}/${name}`, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return { PATH: `${dir}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}` };
}

storeTest("the monitor reports a request on the helper's API socket that fails, and run -d exits 125", async (s) => {
  // ready at once, then gone: its API socket never answers
  const env = fakeHelper(
    "slirp4netns",
    'for a; do case $a in --ready-fd=*) echo 1 > "/proc/self/fd/${a#--ready-fd=}";; esac; done',
  );
  const r = await nook([
    "run",
    "-d",
    "--network",
    "slirp4netns",
    "-p",
    "127.0.0.1::80",
    "--rootfs",
    busyboxRootfs(),
    ...WEB,
  ], { env: { ...s.env, ...env } });
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /slirp4netns did not answer on its API socket ".*slirp4netns-[0-9a-f]{12}\.sock": /);
  await waitFor("no process of the store", () => storeProcesses(s.dataDir).length === 0, 5_000);
}, { skip: helperSkip("slirp4netns", "slirp4netns") });

storeTest("a helper that fails on a restart ends the container with 125 and the reason in inspect", async (s) => {
  const count = `${scratch()}/starts`;
  // ready on its first start (it writes its pid file), refuses the second
  const env = fakeHelper(
    "pasta",
    `n=$(cat ${count} 2>/dev/null || echo 0); echo $((n + 1)) > ${count}
while [ $# -gt 0 ]; do [ "$1" = --pid ] && pidfile=$2; shift; done
if [ "$n" = 0 ]; then echo $$ > "$pidfile"; exec sleep 1000; fi
echo "fake pasta: Failed to bind port 80: Address already in use" >&2
exit 1`,
  );
  const r = await nook([
    "run",
    "-d",
    "--name",
    "flaky",
    "--network",
    "pasta",
    "--restart",
    "on-failure:3",
    "--rootfs",
    busyboxRootfs(),
    "sh",
    "-c",
    "sleep 0.5; exit 1",
  ], { env: { ...s.env, ...env } });
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  const first = helperOf(s, id);
  const w = await s.run(["wait", "flaky"]);
  assert.equal(w.stdout, "125\n", w.stderr);
  const doc = await inspect(s, "flaky");
  assert.equal(doc.State.ExitCode, 125);
  assert.match(doc.State.Error, /network helper pasta exited before it was ready; its log: .*\/pasta\.log/);
  assert.match(Deno.readTextFileSync(`${s.dataDir}/containers/${id}/pasta.log`), /fake pasta: Failed to bind/);
  assert.equal(Deno.readTextFileSync(count).trim(), "2");
  assert.ok(gone(first.pid, first.started), "the first start's helper ended");
  await waitFor("no process of the store", () => storeProcesses(s.dataDir).length === 0, 5_000);
}, { skip: busyboxSkip() ?? tunProblem() });
