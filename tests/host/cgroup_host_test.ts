/**
 * Resource limits on a host that cannot enforce them (hybrid or v1 cgroups,
 * nothing delegated — these machines): one warning that says why and how to
 * fix it, and exit 125 when a limit was asked for.
 */
import { assert, busyboxRootfs, busyboxSkip, nook, scratch, test } from "../_helpers.ts";
import { chooseManager } from "../../src/cgroupv2/mod.ts";

const choice = chooseManager();
const skip = busyboxSkip() ??
  (choice.kind !== "none" || choice.chosen
    ? `this host can give containers cgroups (manager ${choice.kind}); the guest tests cover that`
    : undefined);
const rootfs = () => busyboxRootfs();

test("without cgroup delegation, run warns once why there are no limits and how to fix it", async () => {
  const env = { XDG_RUNTIME_DIR: scratch("nook-rt-") };
  const first = await nook(["run", "--rm", "--rootfs", rootfs(), "sh", "-c", "echo ran"], { env });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, "ran\n");
  const warnings = first.stderr.split("\n").filter((l) => l.startsWith("nook: warning:"));
  assert.equal(warnings.length, 1, first.stderr);
  assert.match(warnings[0]!, /without resource limits or stats here: .*(hybrid|v1|no cgroup)/);
  assert.match(first.stderr, /hint: .*delegate\.conf.*Delegate=cpu cpuset io memory pids/);
  assert.match(first.stderr, /dbus-user-session/);
  assert.match(first.stderr, /loginctl enable-linger/);
  const again = await nook(["run", "--rm", "--rootfs", rootfs(), "true"], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stderr, "", "the warning is shown once per boot, not on every run");
  const quiet = await nook(["run", "--rm", "--rootfs", rootfs(), "true"], {
    env: { XDG_RUNTIME_DIR: scratch("nook-rt-"), NOOK_CGROUP_MANAGER: "none" },
  });
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stderr, "", "NOOK_CGROUP_MANAGER=none is the user's choice: no warning");
}, { skip });

test("without cgroup delegation, an explicit limit fails with 125 before the container starts", async () => {
  const flags: [string[], RegExp][] = [
    [["--memory", "64m"], /--memory\/--memory-swap\/--memory-reservation/],
    [["--cpus", "0.5"], /--cpus\/--cpu-quota\/--cpu-period\/--cpu-shares/],
    [["--cpu-shares", "512"], /--cpus\/--cpu-quota/],
    [["--pids-limit", "10"], /--pids-limit/],
    [["--cpuset-cpus", "0"], /--cpuset-cpus\/--cpuset-mems/],
    [["--blkio-weight", "300"], /--blkio-weight/],
  ];
  for (const [args, re] of flags) {
    const r = await nook(["run", "--rm", ...args, "--rootfs", rootfs(), "sh", "-c", "echo started"], {
      env: { XDG_RUNTIME_DIR: scratch("nook-rt-") },
    });
    assert.equal(r.code, 125, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, "", "the container must not run without the limit asked for");
    assert.match(r.stderr, /^nook: Cannot enforce /);
    assert.match(r.stderr, re);
    assert.match(r.stderr, /hint: .*delegate\.conf/);
    assert.doesNotMatch(r.stderr, /warning/);
  }
  // also when the user chose no manager
  const chosen = await nook(["run", "--rm", "-m", "64m", "--rootfs", rootfs(), "true"], {
    env: { NOOK_CGROUP_MANAGER: "none" },
  });
  assert.equal(chosen.code, 125);
  assert.match(chosen.stderr, /Cannot enforce --memory.*NOOK_CGROUP_MANAGER is set to none/);
}, { skip });

test("stats without any container prints the header, and says why none has a cgroup here", async () => {
  const r = await nook(["stats", "--no-stream"], { env: { XDG_RUNTIME_DIR: scratch("nook-rt-") } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+BLOCK I\/O\s+PIDS\n$/);
  assert.match(r.stderr, /no cgroup/);
  const json = await nook(["stats", "--no-stream", "--format", "json"], {
    env: { XDG_RUNTIME_DIR: scratch("nook-rt-") },
  });
  assert.equal(json.stdout, "");
  const none = await nook(["stats", "--no-stream", "nosuchcontainer"]);
  assert.equal(none.code, 125);
  assert.match(none.stderr, /No such container: nosuchcontainer/);
  const bad = await nook(["stats", "--format", "yaml"]);
  assert.equal(bad.code, 125);
}, { skip: choice.kind === "none" ? undefined : "this host gives containers cgroups" });

test("without cgroup delegation, a detached container runs without a cgroup: stats says why, rm works", async () => {
  const env = { XDG_RUNTIME_DIR: scratch("nook-rt-"), NOOK_DATA_DIR: `${scratch("nook-data-")}/data` };
  const d = await nook(["run", "-d", "--name", "nocg", "--rootfs", rootfs(), "sleep", "60"], { env });
  assert.equal(d.code, 0, d.stderr);
  const id = d.stdout.trim();
  const rec = JSON.parse(Deno.readTextFileSync(`${env.NOOK_DATA_DIR}/containers/${id}/config.json`));
  assert.equal(rec.cgroup, undefined, "no cgroup is recorded");
  const s = await nook(["stats", "--no-stream", "nocg"], { env });
  assert.equal(s.code, 125);
  assert.match(s.stderr, /No stats for container "nocg": it has no cgroup of its own \(.*(hybrid|v1|no cgroup)/);
  const e = await nook(["exec", "nocg", "true"], { env });
  assert.equal(e.code, 0, e.stderr);
  const limited = await nook(["run", "-d", "--memory", "64m", "--rootfs", rootfs(), "sleep", "60"], { env });
  assert.equal(limited.code, 125, "a detached container with a limit that cannot be enforced is refused");
  assert.match(limited.stderr, /^nook: Cannot enforce --memory/);
  const rm = await nook(["rm", "-f", "nocg"], { env });
  assert.equal(rm.code, 0, rm.stderr);
  const ps = await nook(["ps", "-a", "-q"], { env });
  assert.equal(ps.stdout, "", "the refused container left no record");
}, { skip });

test("run --help lists the resource flags", async () => {
  const r = await nook(["run", "--help"]);
  for (
    const f of [
      "-m, --memory BYTES",
      "--memory-swap",
      "--memory-reservation",
      "--cpus N",
      "--cpu-quota",
      "--cpu-period",
      "-c, --cpu-shares",
      "--cpuset-cpus",
      "--cpuset-mems",
      "--pids-limit",
      "--blkio-weight",
      "--device-read-bps",
      "--device-write-bps",
      "--device-read-iops",
      "--device-write-iops",
    ]
  ) {
    assert.ok(r.stdout.includes(f), `${f} missing from run --help`);
  }
});
