/**
 * Resource limits enforced, in a real systemd guest (tests/guest/): cgroup v2
 * delegated to an unprivileged user with lingering, nook run in that user's
 * login session. On the host each case reports the guest's verdict (or is
 * skipped with the reason the guest cannot run here).
 */
import { assert, busyboxRootfs, exists, isolatedEnv, NOOK, nook, sh, waitFor } from "../_helpers.ts";
import { guestTests, IN_GUEST } from "./guest.ts";
import { makeBundle, runtime, stateRootDir } from "../_oci_runtime.ts";

const FILE = "tests/guest/cgroup_guest_test.ts";
const MiB = 1024 * 1024;
const uid = Deno.uid();
const userService = `/sys/fs/cgroup/user.slice/user-${uid}.slice/user@${uid}.service`;

const run = (args: string[], opts: Parameters<typeof nook>[1] = {}) => nook(["run", "--rm", ...args], opts);
const rootfs = () => busyboxRootfs();
/** The values a container printed as "key=value" lines. */
const values = (out: string) =>
  Object.fromEntries(
    out.split("\n").filter((l) => l.includes("=")).map((
      l,
    ) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
/** Print a cgroup file inside the container without forking (pids limits stay untouched). */
const show = (key: string, file: string) => `while read -r l; do echo "${key}=$l"; done < /sys/fs/cgroup/${file}`;

/** Every nook cgroup or scope left in the user's systemd tree. */
function leftovers(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let entries: Deno.DirEntry[] = [];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      return; // removed while we looked
    }
    for (const e of entries) {
      if (!e.isDirectory) continue;
      if (e.name.startsWith("nook-")) found.push(`${dir}/${e.name}`);
      walk(`${dir}/${e.name}`);
    }
  };
  walk(userService);
  return found;
}

/** The environment of a container store of the test's own (records and OOM marks stay apart). */
const ownStore = (name: string) => isolatedEnv({ NOOK_DATA_DIR: `${isolatedEnv().NOOK_DATA_DIR}-${name}` });

/** systemd-run's arguments for a command in a delegated scope of the user's own (cgroupfs manager). */
const delegatedScope = (unit: string) => ["--user", "--scope", "--quiet", "--unit", unit, "-p", "Delegate=yes", "--"];

async function noScopes(): Promise<void> {
  const units = await sh("systemctl", ["--user", "list-units", "--all", "--plain", "--no-legend", "nook-*"]);
  assert.equal(units.stdout.trim(), "", "no nook scope may remain in the user's systemd");
  assert.deepEqual(leftovers(), [], "no nook cgroup may remain");
}

const cases: [string, () => Promise<void>][] = [
  [
    "a container gets a delegated cgroup of its own: its namespace is rooted there, /sys/fs/cgroup is its subtree, writable, with the limits",
    async () => {
      const r = await run([
        "--memory",
        "64m",
        "--memory-swap",
        "96m",
        "--memory-reservation",
        "32m",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--pids-limit",
        "50",
        "--rootfs",
        rootfs(),
        "sh",
        "-c",
        [
          "echo cgroup=$(cat /proc/self/cgroup)",
          show("memory.max", "memory.max"),
          show("swap.max", "memory.swap.max"),
          show("memory.low", "memory.low"),
          show("cpu.max", "cpu.max"),
          show("cpu.weight", "cpu.weight"),
          show("pids.max", "pids.max"),
          "mkdir /sys/fs/cgroup/child && rmdir /sys/fs/cgroup/child && echo writable=yes",
          "grep ' /sys/fs/cgroup ' /proc/self/mountinfo | sed -e 's/^[^ ]* [^ ]* [^ ]* \\([^ ]*\\) .* - \\([^ ]*\\) .*/mount=\\1 \\2/'",
        ].join("; "),
      ]);
      assert.equal(r.code, 0, r.stderr);
      const v = values(r.stdout);
      assert.equal(v.cgroup, "0::/", "the container's cgroup namespace is rooted at its own cgroup");
      assert.equal(v["memory.max"], String(64 * MiB));
      assert.equal(v["swap.max"], String(32 * MiB), "--memory-swap is memory plus swap");
      assert.equal(v["memory.low"], String(32 * MiB));
      assert.equal(v["cpu.max"], "50000 100000");
      assert.equal(v["cpu.weight"], "59");
      assert.equal(v["pids.max"], "50");
      assert.equal(v.writable, "yes");
      assert.equal(v.mount, "/ cgroup2", "a cgroup2 mount of the container's own subtree");
      await noScopes();
    },
  ],

  ["memory: a process over --memory is killed by the OOM killer, the run exits 137 and says so", async () => {
    const r = await run(["--memory", "20m", "--memory-swap", "20m", "--rootfs", rootfs(), "tail", "/dev/zero"]);
    assert.equal(r.code, 137, r.stderr);
    assert.match(r.stderr, /ran out of memory \(--memory 20m\): the kernel's OOM killer killed a process/);
    await noScopes();
  }],

  ["memory: an OOM kill inside does not stop the scope: the rest of the container carries on", async () => {
    const r = await run([
      "--memory",
      "20m",
      "--memory-swap",
      "20m",
      "--rootfs",
      rootfs(),
      "sh",
      "-c",
      "tail /dev/zero; echo survived=$?",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(values(r.stdout).survived, "137");
    assert.match(r.stderr, /ran out of memory/);
    await noScopes();
  }],

  ["pids: fork fails once the container has --pids-limit processes", async () => {
    const script = [
      // ash gives up at a failed fork: fork in a subshell, read the counters after it gave up
      "(i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); done) 2>/tmp/forkerr",
      show("current", "pids.current"),
      show("peak", "pids.peak"),
      show("event", "pids.events"),
      'while read -r l; do echo "err=$l"; done < /tmp/forkerr',
    ].join("; ");
    const r = await run(["--pids-limit", "10", "--rootfs", rootfs(), "sh", "-c", script]);
    assert.equal(r.code, 0, r.stderr);
    const v = values(r.stdout);
    assert.equal(v.peak, "10", "the limit was reached, and never passed");
    assert.ok(Number(v.current) <= 10);
    assert.match(v.event ?? "", /^max [1-9]\d*$/, "pids.events counts the refused forks");
    assert.match(r.stdout, /err=.*(can't fork|Resource temporarily unavailable)/);
    await noScopes();
  }],

  ["cpu: a busy loop under --cpus 0.5 gets about half a CPU (and all of one without it)", async () => {
    const measure = [
      "usage() { while read -r k v; do [ $k = usage_usec ] && echo $v; done < /sys/fs/cgroup/cpu.stat; }",
      "read -r t0 _ < /proc/uptime; u0=$(usage)",
      "timeout 4 sh -c 'while :; do :; done'",
      "read -r t1 _ < /proc/uptime; u1=$(usage)",
      "echo t=$t0,$t1; echo u=$u0,$u1",
      show("stat", "cpu.stat"),
    ].join("; ");
    const share = (out: string) => {
      const v = values(out);
      const [t0, t1] = v.t!.split(",").map(Number);
      const [u0, u1] = v.u!.split(",").map(Number);
      return (u1! - u0!) / 1e6 / (t1! - t0!);
    };
    const limited = await run(["--cpus", "0.5", "--rootfs", rootfs(), "sh", "-c", measure]);
    assert.equal(limited.code, 0, limited.stderr);
    const half = share(limited.stdout);
    assert.ok(half > 0.35 && half < 0.65, `--cpus 0.5 gave ${half.toFixed(2)} of a CPU`);
    assert.match(limited.stdout, /stat=nr_throttled [1-9]/, "the quota ran out in some periods");
    const free = await run(["--rootfs", rootfs(), "sh", "-c", measure]);
    assert.equal(free.code, 0, free.stderr);
    assert.ok(share(free.stdout) > 0.75, `without a limit the loop got ${share(free.stdout).toFixed(2)} of a CPU`);
  }],

  ["cpuset: --cpuset-cpus limits the CPUs the container's processes may run on (sched_getaffinity)", async () => {
    assert.ok(navigator.hardwareConcurrency >= 2, "the guest has two CPUs");
    const r = await run([
      "--cpuset-cpus",
      "1",
      "--rootfs",
      rootfs(),
      "sh",
      "-c",
      "echo nproc=$(nproc); grep Cpus_allowed_list /proc/self/status | tr -d '\\t' | tr : =; " +
      show("effective", "cpuset.cpus.effective"),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const v = values(r.stdout);
    assert.equal(v.nproc, "1");
    assert.equal(v.Cpus_allowed_list, "1");
    assert.equal(v.effective, "1");
    // a CPU that does not exist is refused, naming what is available, and leaves nothing behind
    const bad = await run(["--cpuset-cpus", "7", "--rootfs", rootfs(), "true"]);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /Cannot write "7" to ".*cpuset\.cpus"/);
    assert.match(bad.stderr, /the CPUs this cgroup may use are 0-1/);
    await noScopes();
  }],

  [
    "io: --device-read-bps/--device-write-iops land in io.max for the device's major:minor, --blkio-weight in io.weight",
    async () => {
      const st = Deno.statSync("/dev/vda");
      const r = await run([
        "--blkio-weight",
        "300",
        "--device-read-bps",
        "/dev/vda:10mb",
        "--device-write-iops",
        "/dev/vda:100",
        "--rootfs",
        rootfs(),
        "sh",
        "-c",
        show("max", "io.max") + "; " + show("weight", "io.weight"),
      ]);
      assert.equal(r.code, 0, r.stderr);
      const rdev = BigInt(st.rdev!);
      const majmin = `${(rdev >> 8n) & 0xfffn}:${rdev & 0xffn}`;
      const v = values(r.stdout);
      assert.equal(v.max, `${majmin} rbps=${10 * MiB} wbps=max riops=max wiops=100`);
      assert.equal(v.weight, "default 2930");
    },
  ],

  ["stats reports the numbers in the container's cgroup files, and its cgroup goes when it ends", async () => {
    const env = isolatedEnv();
    const child = new Deno.Command(NOOK, {
      args: [
        "run",
        "--rm",
        "--name",
        "statsbox",
        "--memory",
        "64m",
        "--pids-limit",
        "20",
        "--rootfs",
        rootfs(),
        "sh",
        "-c",
        "trap 'exit 143' TERM; echo ready; sleep 600 & wait",
      ],
      env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!seen.includes("ready")) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
      // the container's record (its config.json) says where its cgroup is
      const records = `${env.NOOK_DATA_DIR}/containers`;
      let rec: { id: string; path: string; manager: string; name: string } | undefined;
      await waitFor("the cgroup in the container's record", () => {
        for (const e of Deno.readDirSync(records)) {
          try {
            const r = JSON.parse(Deno.readTextFileSync(`${records}/${e.name}/config.json`));
            if (r.cgroup) rec = { id: r.id, name: r.name, ...r.cgroup };
          } catch {
            // not written yet
          }
        }
        return rec !== undefined;
      }, 60_000);
      assert.equal(rec!.manager, "systemd");
      assert.equal(rec!.name, "statsbox");
      assert.match(rec!.path, new RegExp(`/nook-${rec!.id}\\.scope/container$`));
      const s = await nook(["stats", "--no-stream", "--format", "json"]);
      assert.equal(s.code, 0, s.stderr);
      const rows = s.stdout.trim().split("\n").map((l) => JSON.parse(l));
      const row = rows.find((x) => x.ID === rec!.id);
      assert.ok(row, s.stdout);
      const file = (f: string) => Deno.readTextFileSync(`${rec!.path}/${f}`).trim();
      assert.equal(row.Name, "statsbox");
      assert.equal(row.CgroupPath, rec!.path);
      assert.equal(row.MemLimit, Number(file("memory.max")));
      assert.equal(row.MemLimit, 64 * MiB);
      assert.equal(row.PIDs, Number(file("pids.current")));
      assert.equal(row.PIDs, 2, "sh and sleep");
      assert.equal(row.PIDsLimit, Number(file("pids.max")));
      assert.equal(row.OOMKills, 0);
      const usage = Number(/usage_usec (\d+)/.exec(file("cpu.stat"))![1]);
      assert.ok(row.CPUUsageUsec > 0 && row.CPUUsageUsec <= usage, `${row.CPUUsageUsec} vs ${usage}`);
      const current = Number(file("memory.current"));
      assert.ok(row.MemCurrent > 0 && Math.abs(row.MemCurrent - current) < 4 * MiB, `${row.MemCurrent} vs ${current}`);
      const table = await nook(["stats", "--no-stream", "statsbox"]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+BLOCK I\/O\s+PIDS$/m);
      assert.match(
        table.stdout,
        new RegExp(
          `^${
            rec!.id.slice(0, 12)
          }\\s+statsbox\\s+\\d+\\.\\d\\d%\\s+\\S+ / 64MiB\\s+\\d+\\.\\d\\d%\\s+\\S+ / \\S+\\s+2$`,
          "m",
        ),
      );
      child.kill("SIGTERM");
      const st = await child.status;
      assert.equal(st.code, 143);
      await noScopes();
      assert.equal((await nook(["stats", "--no-stream", "statsbox"])).code, 125, "an ended container has no stats");
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // ended
      }
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await child.stderr.cancel().catch(() => {});
    }
  }],

  [
    "cgroupfs: inside a delegated cgroup of its own, nook makes the container's cgroup there, without systemd",
    async () => {
      const unit = `nooktest-cgroupfs-${Date.now()}`;
      const child = new Deno.Command("systemd-run", {
        args: [
          ...delegatedScope(unit),
          NOOK,
          "run",
          "--rm",
          "--memory",
          "32m",
          "--rootfs",
          rootfs(),
          "sh",
          "-c",
          "trap 'exit 0' TERM; cat /sys/fs/cgroup/memory.max; sleep 600 & wait",
        ],
        env: isolatedEnv(),
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const find = (dir: string): string | undefined => {
        let entries: Deno.DirEntry[] = [];
        try {
          entries = [...Deno.readDirSync(dir)];
        } catch {
          return undefined; // removed while we looked
        }
        for (const e of entries) {
          if (!e.isDirectory) continue;
          if (e.name === `${unit}.scope`) return `${dir}/${e.name}`;
          const deeper = find(`${dir}/${e.name}`);
          if (deeper) return deeper;
        }
        return undefined;
      };
      let scope: string | undefined;
      const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
      const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let said = "";
      const stderrText = (async () => {
        let t = "";
        for (;;) {
          const { value, done } = await stderr.read();
          if (done) return t;
          t += value;
        }
      })();
      try {
        // the container printed its memory.max: its cgroup is complete
        while (!said.includes("\n")) {
          const { value, done } = await stdout.read();
          if (done) throw new Error(`nook ended before the container printed anything: ${await stderrText}`);
          said += value;
        }
        assert.equal(said.trim(), String(32 * MiB));
        scope = find(userService);
        assert.ok(scope, `no ${unit}.scope under ${userService}`);
        const inside = [...Deno.readDirSync(scope)].filter((e) => e.isDirectory).map((e) => e.name).sort();
        const leaf = inside.find((n) => /^nook-[0-9a-f]{64}$/.test(n));
        assert.ok(leaf, `no container cgroup in ${scope}: ${inside}`);
        assert.deepEqual(
          inside,
          [leaf, "nook-monitor"].sort(),
          "nook moved itself into a leaf; the container has its own",
        );
        assert.equal(Deno.readTextFileSync(`${scope}/${leaf}/memory.max`).trim(), String(32 * MiB));
        child.kill("SIGTERM");
        const st = await child.status;
        assert.equal(st.code, 0, await stderrText);
        assert.ok(!exists(`${scope}/${leaf}`), "nook removed the container's cgroup");
      } finally {
        try {
          child.kill("SIGKILL");
        } catch {
          // it has ended
        }
        await child.status;
        await stdout.cancel().catch(() => {});
        await stderrText.catch(() => {});
      }
      // the scope itself is the caller's: systemd removes it (and nook's leaf) once nook has exited
      await waitFor("the delegated scope to go", () => leftovers().length === 0 && !(scope && exists(scope)), 30_000);
    },
  ],

  [
    "cgroupfs: a detached container's cgroup goes in nook's delegated cgroup; its monitor (and network helper) move into a leaf",
    async () => {
      const env = ownStore("cgfs");
      const unit = `nooktest-cgfsd-${Date.now()}`;
      const r = await sh("systemd-run", [
        ...delegatedScope(unit),
        NOOK,
        "run",
        "-d",
        "--name",
        "fsd",
        "--memory",
        "32m",
        "--rootfs",
        rootfs(),
        "sleep",
        "600",
      ], { ...Deno.env.toObject(), ...env });
      assert.equal(r.code, 0, r.stderr);
      const id = r.stdout.trim();
      const rec = JSON.parse(Deno.readTextFileSync(`${env.NOOK_DATA_DIR}/containers/${id}/config.json`));
      assert.equal(rec.cgroup?.manager, "cgroupfs", JSON.stringify(rec.cgroup));
      const path: string = rec.cgroup.path;
      assert.match(path, new RegExp(`/${unit}\\.scope/nook-${id}$`));
      assert.equal(Deno.readTextFileSync(`${path}/memory.max`).trim(), String(32 * MiB));
      const scope = path.slice(0, path.lastIndexOf("/"));
      assert.equal(Deno.readTextFileSync(`${scope}/cgroup.procs`).trim(), "", "the delegated cgroup holds no process itself");
      const leaf = Deno.readTextFileSync(`${scope}/nook-monitor/cgroup.procs`).trim().split("\n");
      const status = values(Deno.readTextFileSync(`${env.NOOK_DATA_DIR}/containers/${id}/status`));
      assert.ok(leaf.includes(status.monitor_pid!), `the monitor ${status.monitor_pid} is in the leaf: ${leaf}`);
      if (status.helper_pid !== "0") {
        assert.ok(leaf.includes(status.helper_pid!), `the network helper ${status.helper_pid} is in the leaf: ${leaf}`);
      }
      const rm = await nook(["rm", "-f", "fsd"], { env });
      assert.equal(rm.code, 0, rm.stderr);
      assert.ok(!exists(path), "rm removed the container's cgroup");
      await waitFor("the delegated scope to go", () => !exists(scope), 30_000);
    },
  ],

  [
    "a limit whose controller is not delegated is refused with exit 125, naming the controller and the fix",
    async () => {
      // a delegated scope in which only the memory controller is passed down to nook's cgroup
      const script = [
        'cg=/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup)',
        "mkdir $cg/onlymemory && echo $$ > $cg/onlymemory/cgroup.procs && echo +memory > $cg/cgroup.subtree_control",
        `exec ${NOOK} run --rm --cpus 1 --memory 32m --rootfs ${rootfs()} true`,
      ].join(" && ");
      const r = await sh("systemd-run", [
        "--user",
        "--scope",
        "--quiet",
        "-p",
        "Delegate=yes",
        "--",
        "sh",
        "-c",
        script,
      ], { ...Deno.env.toObject(), ...isolatedEnv() });
      assert.equal(r.code, 125, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        /Cannot enforce --cpus\/--cpu-quota\/--cpu-period\/--cpu-shares: the "cpu" cgroup controller is not delegated to your user \(available in ".*onlymemory": memory\)/,
      );
      assert.match(r.stderr, /delegate\.conf/);
    },
  ],

  [
    "a detached container gets its cgroup with the limits: exec joins it, stats reads it, rm removes it",
    async () => {
      const env = ownStore("detached");
      const n = (args: string[]) => nook(args, { env });
      const d = await n([
        "run",
        "-d",
        "--name",
        "det",
        "--memory",
        "48m",
        "--pids-limit",
        "30",
        "--rootfs",
        rootfs(),
        "sh",
        "-c",
        "trap 'exit 0' TERM; sleep 600 & wait",
      ]);
      assert.equal(d.code, 0, d.stderr);
      const id = d.stdout.trim();
      const rec = JSON.parse(Deno.readTextFileSync(`${env.NOOK_DATA_DIR}/containers/${id}/config.json`));
      assert.equal(rec.cgroup?.manager, "systemd", JSON.stringify(rec.cgroup));
      const path: string = rec.cgroup.path;
      assert.match(path, new RegExp(`/nook-${id}\\.scope/container$`));
      assert.equal(Deno.readTextFileSync(`${path}/memory.max`).trim(), String(48 * MiB));
      // the monitor keeps the scope: it sits in the scope's keeper leaf, the container in its own
      const procs = () => Deno.readTextFileSync(`${path}/cgroup.procs`).trim().split("\n").filter(Boolean);
      assert.equal(procs().length, 2, "sh and sleep");
      const scope = path.slice(0, -"/container".length);
      const status = values(Deno.readTextFileSync(`${env.NOOK_DATA_DIR}/containers/${id}/status`));
      const keeper = Deno.readTextFileSync(`${scope}/keeper/cgroup.procs`).trim().split("\n");
      assert.ok(keeper.includes(status.monitor_pid!), `the monitor ${status.monitor_pid} keeps the scope: ${keeper}`);

      // exec: the process is created inside the container's cgroup (its namespace's root)
      const e = await n(["exec", "det", "sh", "-c", "cat /proc/self/cgroup; " + show("max", "memory.max")]);
      assert.equal(e.code, 0, e.stderr);
      assert.match(e.stdout, /^0::\/$/m, "the exec'd process is in the container's cgroup");
      assert.equal(values(e.stdout).max, String(48 * MiB));

      // stats: from the record of a detached container
      const s = await n(["stats", "--no-stream", "--format", "json", "det"]);
      assert.equal(s.code, 0, s.stderr);
      const row = JSON.parse(s.stdout.trim().split("\n")[0]!);
      assert.equal(row.ID, id);
      assert.equal(row.MemLimit, 48 * MiB);
      assert.equal(row.PIDsLimit, 30);
      assert.equal(row.PIDs, procs().length);
      assert.ok(row.MemCurrent > 0);

      assert.equal((await n(["stop", "det"])).code, 0);
      assert.equal((await n(["rm", "det"])).code, 0);
      await noScopes();
    },
  ],

  [
    "a detached container killed by the OOM killer: inspect says OOMKilled, restarts and start put it back under its limit, rm leaves nothing",
    async () => {
      const env = ownStore("oom");
      const n = (args: string[]) => nook(args, { env });
      const d = await n([
        "run",
        "-d",
        "--name",
        "oomer",
        "--restart",
        "on-failure:1",
        "--memory",
        "20m",
        "--memory-swap",
        "20m",
        "--rootfs",
        rootfs(),
        "sh",
        "-c",
        show("limit", "memory.max") + "; exec tail /dev/zero",
      ]);
      assert.equal(d.code, 0, d.stderr);
      const state = async () => JSON.parse((await n(["inspect", "oomer"])).stdout)[0];
      const ended = async (runs: number) => {
        await waitFor("the container to end", async () => {
          const s = await state();
          return s.State.Status === "exited" && (await n(["logs", "oomer"])).stdout.split("limit=").length - 1 >= runs;
        }, 120_000);
        return await state();
      };
      let s = await ended(2);
      assert.equal(s.State.OOMKilled, true);
      assert.equal(s.State.ExitCode, 137);
      assert.equal(s.RestartCount, 1);
      // every run, the restarted one too, saw its limit in its own cgroup
      const limits = (await n(["logs", "oomer"])).stdout.trim().split("\n");
      assert.deepEqual(limits, [`limit=${20 * MiB}`, `limit=${20 * MiB}`]);

      // start: a new run, under the same limit (and the restart policy again: one more run)
      assert.equal((await n(["start", "oomer"])).code, 0);
      s = await ended(4);
      assert.equal(s.State.OOMKilled, true);
      assert.equal(s.State.ExitCode, 137);
      assert.deepEqual((await n(["logs", "oomer"])).stdout.trim().split("\n"), Array(4).fill(`limit=${20 * MiB}`));

      assert.equal((await n(["rm", "oomer"])).code, 0);
      await noScopes();
    },
  ],

  ["a kept foreground container killed by the OOM killer: inspect says OOMKilled", async () => {
    const env = ownStore("fg");
    const n = (args: string[]) => nook(args, { env });
    const r = await n([
      "run",
      "--name",
      "fgoom",
      "--memory",
      "20m",
      "--memory-swap",
      "20m",
      "--rootfs",
      rootfs(),
      "tail",
      "/dev/zero",
    ]);
    assert.equal(r.code, 137, r.stderr);
    const s = JSON.parse((await n(["inspect", "fgoom"])).stdout)[0];
    assert.equal(s.State.OOMKilled, true);
    assert.equal(s.State.ExitCode, 137);
    const ok = await n(["run", "--name", "fgok", "--memory", "20m", "--rootfs", rootfs(), "true"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse((await n(["inspect", "fgok"])).stdout)[0].State.OOMKilled, false);
    assert.equal((await n(["rm", "fgoom", "fgok"])).code, 0);
    await noScopes();
  }],

  [
    "runtime: linux.resources land in the container's own cgroup; pause freezes it, exec joins it, delete removes it",
    async () => {
      const root = stateRootDir();
      const id = "ocicg";
      const bundle = makeBundle((c) => {
        c.process.args = ["sh", "-c", "sleep 600"];
        c.linux.resources = { memory: { limit: 32 * MiB }, pids: { limit: 20 } };
      });
      const status = async () => JSON.parse((await runtime(root, ["state", id])).stdout).status;
      const cr = await runtime(root, ["create", "--bundle", bundle, id]);
      assert.equal(cr.code, 0, cr.stderr);
      try {
        const st = await runtime(root, ["start", id]);
        assert.equal(st.code, 0, st.stderr);
        const scope = leftovers().find((p) => p.endsWith(`/nook-${id}.scope`));
        assert.ok(scope, `no scope for the container: ${leftovers()}`);
        const path = `${scope}/container`;
        assert.equal(Deno.readTextFileSync(`${path}/memory.max`).trim(), String(32 * MiB));
        assert.equal(Deno.readTextFileSync(`${path}/pids.max`).trim(), "20");

        const p = await runtime(root, ["pause", id]);
        assert.equal(p.code, 0, p.stderr);
        assert.equal(await status(), "paused");
        assert.match(Deno.readTextFileSync(`${path}/cgroup.events`), /^frozen 1$/m);
        const r = await runtime(root, ["resume", id]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(await status(), "running");

        const e = await runtime(root, ["exec", id, "cat", "/proc/self/cgroup"]);
        assert.equal(e.code, 0, e.stderr);
        // "/" when it also joined the container's cgroup namespace
        assert.match(
          e.stdout.trim(),
          /^0::(\/|\/.*\/nook-ocicg\.scope\/container)$/,
          "the exec'd process is in the container's cgroup",
        );

        assert.equal((await runtime(root, ["kill", id, "KILL"])).code, 0);
        await waitFor("the container to stop", async () => (await status()) === "stopped", 30_000);
        const d = await runtime(root, ["delete", id]);
        assert.equal(d.code, 0, d.stderr);
        await noScopes();
      } finally {
        await runtime(root, ["delete", "--force", id]);
      }
    },
  ],

  ["a run without limits still gets its own cgroup and leaves nothing behind", async () => {
    const r = await run([
      "--rootfs",
      rootfs(),
      "sh",
      "-c",
      show("max", "memory.max") + "; " + show("procs", "cgroup.procs"),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["max=max", "procs=1"]);
    assert.doesNotMatch(r.stderr, /warning/);
    await noScopes();
  }],
];

guestTests(
  FILE,
  cases,
  IN_GUEST && !Deno.env.get("DBUS_SESSION_BUS_ADDRESS") ? "no session bus in the guest's job" : undefined,
);
