/**
 * What stays resident per detached container, measured from
 * /proc/PID/smaps_rollup: RSS, PSS (shared pages split between the processes
 * that map them) and private (unique) pages.
 *
 *   - nook: `nook run -d` leaves the container and build/nook-monitor;
 *   - podman (when installed and able to run here): `podman run -d` leaves the
 *     container and conmon (isolated storage, runc, network none);
 *   - for scale: a foreground `nook run`, where the Deno process supervises.
 *
 * Prints a Markdown table; run it with bench/monitor.sh.
 */
import { busyboxRootfs, NOOK, scratch } from "../tests/_helpers.ts";

const N = Number(Deno.args[0] ?? 5);

interface Mem {
  rss: number;
  pss: number;
  priv: number;
}

function mem(pid: number): Mem {
  const text = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  return { rss: kb("Rss"), pss: kb("Pss"), priv: kb("Private_Clean") + kb("Private_Dirty") };
}

function mean(list: Mem[]): Mem {
  const avg = (k: keyof Mem) => Math.round(list.reduce((n, m) => n + m[k], 0) / Math.max(1, list.length));
  return { rss: avg("rss"), pss: avg("pss"), priv: avg("priv") };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string; ms: number }> {
  const t0 = performance.now();
  const o = await new Deno.Command(cmd, { args, env, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout).trim(), err: dec.decode(o.stderr).trim(), ms: performance.now() - t0 };
}

const rows: string[] = [];
const row = (what: string, m: Mem, extra = "") => rows.push(`| ${what} | ${m.rss} | ${m.pss} | ${m.priv} | ${extra} |`);
const rootfs = busyboxRootfs();

// ---- nook -d
{
  const env = { NOOK_DATA_DIR: `${scratch("nook-bench-")}/data` };
  const ids: string[] = [], times: number[] = [];
  try {
    for (let i = 0; i < N; i++) {
      const r = await run(NOOK, ["run", "-d", "--rootfs", rootfs, "sleep", "1000"], env);
      if (r.code !== 0) throw new Error(`nook run -d: ${r.err}`);
      ids.push(r.out);
      times.push(r.ms);
    }
    const docs = JSON.parse((await run(NOOK, ["inspect", ...ids], env)).out) as { MonitorPid: number; State: { Pid: number } }[];
    const monitors = docs.map((d) => mem(d.MonitorPid));
    const containers = docs.map((d) => mem(d.State.Pid));
    row("nook-monitor (static C)", mean(monitors), `nook run -d: median ${Math.round(median(times))} ms`);
    row("  its container (busybox sleep)", mean(containers));
  } finally {
    if (ids.length) await run(NOOK, ["rm", "-f", ...ids], env);
  }
}

// ---- podman + conmon
{
  const podman = ["/usr/bin/podman", "/usr/local/bin/podman"].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  if (!podman) {
    rows.push("| conmon (podman) | – | – | – | podman is not installed |");
  } else {
    const t = scratch("nook-bench-podman-");
    const base = ["--root", `${t}/root`, "--runroot", `${t}/runroot`, "--storage-driver", "vfs", "--events-backend", "file",
      "--cgroup-manager", "cgroupfs", "--runtime", "runc"];
    const ids: string[] = [], times: number[] = [];
    try {
      const tar = await run("tar", ["-C", rootfs, "-cf", `${t}/rootfs.tar`, "."]);
      const imp = await run(podman, [...base, "import", "-q", `${t}/rootfs.tar`, "localhost/nook-bench:latest"]);
      if (tar.code !== 0 || imp.code !== 0) throw new Error(`podman import: ${imp.err}`);
      for (let i = 0; i < N; i++) {
        const r = await run(podman, [...base, "run", "-d", "--network", "none", "localhost/nook-bench:latest", "sleep", "1000"]);
        if (r.code !== 0) throw new Error(`podman run -d: ${r.err}`);
        ids.push(r.out);
        times.push(r.ms);
      }
      const pids = await Promise.all(ids.map(async (id) => Number((await run(podman, [...base, "inspect", "--format", "{{.State.ConmonPid}}", id])).out)));
      row("conmon (podman)", mean(pids.map(mem)), `podman run -d: median ${Math.round(median(times))} ms`);
    } catch (err) {
      rows.push(`| conmon (podman) | – | – | – | could not run here: ${(err as Error).message.split("\n")[0]} |`);
    } finally {
      if (ids.length) await run(podman, [...base, "rm", "-f", "-t", "0", ...ids]);
      await run(podman, [...base, "rmi", "-a", "-f"]);
      await run(podman, [...base, "unshare", "rm", "-rf", `${t}/root`, `${t}/runroot`]);
    }
  }
}

// ---- a foreground nook, for scale (the Deno process a detached run avoids)
{
  const env = { NOOK_DATA_DIR: `${scratch("nook-bench-")}/data` };
  const child = new Deno.Command(NOOK, { args: ["run", "--rm", "--name", "fg", "--rootfs", rootfs, "sleep", "1000"], env, stdout: "null", stderr: "null" })
    .spawn();
  try {
    let pid = 0;
    for (let i = 0; i < 100 && !pid; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const r = await run(NOOK, ["inspect", "-f", "{{.MonitorPid}}", "fg"], env);
      if (r.code === 0 && Number(r.out) > 0) pid = Number(r.out);
    }
    if (pid) row("nook in the foreground (Deno)", mem(pid), "what -d saves per container");
  } finally {
    await run(NOOK, ["rm", "-f", "fg"], env);
    await child.status;
  }
}

console.log(`Resident memory per container (mean of ${N}), KiB, on ${Deno.hostname()}:\n`);
console.log("| process | RSS | PSS | private | notes |");
console.log("|---|---:|---:|---:|---|");
console.log(rows.join("\n"));
