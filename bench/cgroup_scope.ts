/**
 * How long a container's systemd scope costs, measured inside the systemd
 * guest (bench/cgroup.sh boots it): nook's own D-Bus client calling
 * StartTransientUnit/StopUnit against `systemd-run --user --scope`, and
 * `nook run --rm true` with and without a cgroup. Prints medians and p90s.
 *
 *   deno run -A bench/cgroup_scope.ts [ITERATIONS]
 */
import { sessionBusPath } from "../src/cgroupv2/detect.ts";
import { SystemdUser } from "../src/cgroupv2/systemd.ts";

const N = Number(Deno.args[0] ?? 20);
const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const bus = sessionBusPath();
if (!bus) {
  throw new Error("no session bus: run this as a user with a systemd user manager (bench/cgroup.sh boots a guest)");
}

function summary(name: string, ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `${name.padEnd(58)} median ${q(0.5).toFixed(1).padStart(7)} ms   p90 ${
    q(0.9).toFixed(1).padStart(7)
  } ms   (n=${s.length})`;
}

async function time(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const results: string[] = [];

// 1. nook's client: connect + StartTransientUnit (with the pid of a waiting process) + StopUnit
{
  const connect: number[] = [], start: number[] = [], stop: number[] = [], all: number[] = [];
  for (let i = 0; i < N; i++) {
    const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
    const unit = `nook-bench-${i}-${Date.now()}.scope`;
    const t0 = performance.now();
    const sd = await SystemdUser.connect(bus);
    const t1 = performance.now();
    await sd.startScope(unit, [sleeper.pid], "bench");
    const t2 = performance.now();
    await sd.stopUnit(unit);
    const t3 = performance.now();
    sd.close();
    connect.push(t1 - t0), start.push(t2 - t1), stop.push(t3 - t2), all.push(t3 - t0);
    await sleeper.status;
  }
  results.push(summary("D-Bus (nook): connect + Hello + AddMatch + Subscribe", connect));
  results.push(summary("D-Bus (nook): StartTransientUnit until JobRemoved", start));
  results.push(summary("D-Bus (nook): StopUnit until JobRemoved", stop));
  results.push(summary("D-Bus (nook): a scope, start to stop, in all", all));
}

// 2. systemd-run --user --scope: its own start-up, bus connection, scope, fork+exec of the command
{
  const base: number[] = [], scope: number[] = [];
  for (let i = 0; i < N; i++) {
    base.push(await time(async () => void await new Deno.Command("true").output()));
    scope.push(
      await time(async () => {
        const out = await new Deno.Command("systemd-run", {
          args: ["--user", "--scope", "--quiet", "-p", "Delegate=yes", "--collect", "true"],
          stderr: "piped",
        }).output();
        if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
      }),
    );
  }
  results.push(summary("spawn `true` (the baseline of the next line)", base));
  results.push(summary("systemd-run --user --scope -p Delegate=yes true", scope));
}

// 3. a whole `nook run --rm true`, with a scope (systemd) and without a cgroup (none)
{
  const rootfs = `${Deno.makeTempDirSync()}/rootfs`;
  for (const d of ["bin", "etc", "proc", "dev", "sys", "tmp"]) Deno.mkdirSync(`${rootfs}/${d}`, { recursive: true });
  Deno.copyFileSync("/bin/busybox", `${rootfs}/bin/busybox`);
  Deno.chmodSync(`${rootfs}/bin/busybox`, 0o755);
  Deno.symlinkSync("busybox", `${rootfs}/bin/true`);
  const runtime = Deno.makeTempDirSync();
  const nook = (manager: string, extra: string[]) => async () => {
    const out = await new Deno.Command(`${ROOT}/nook`, {
      args: ["run", "--rm", ...extra, "--rootfs", rootfs, "true"],
      env: { NOOK_CGROUP_MANAGER: manager, XDG_RUNTIME_DIR: runtime },
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  };
  await nook("none", [])(); // warm the module cache
  for (
    const [name, manager, extra] of [
      ["nook run --rm true, no cgroup (NOOK_CGROUP_MANAGER=none)", "none", []],
      ["nook run --rm true, systemd scope", "systemd", []],
      ["nook run --rm --memory 64m --pids-limit 100 --cpus 1 true", "systemd", [
        "--memory",
        "64m",
        "--pids-limit",
        "100",
        "--cpus",
        "1",
      ]],
    ] as const
  ) {
    const ms: number[] = [];
    for (let i = 0; i < N; i++) ms.push(await time(nook(manager, [...extra])));
    results.push(summary(name, ms));
  }
}

console.log(
  `cgroup scope benchmark, ${navigator.hardwareConcurrency} CPUs, systemd ${
    new TextDecoder().decode((await new Deno.Command("systemctl", { args: ["--version"] }).output()).stdout).split(
      "\n",
    )[0]
  }`,
);
for (const r of results) console.log(r);
