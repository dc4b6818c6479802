/**
 * Networking of detached containers, measured: for --network none, pasta and
 * slirp4netns (each with one -p on 127.0.0.1), in interleaved rounds so a
 * busy host weighs on every mode alike:
 *
 *   - `nook run -d` until it returns (the monitor has started the helper and
 *     waited for it: the container runs with its network);
 *   - until the first HTTP answer through the published port, from the start of `run -d`;
 *   - `nook rm -f` (kill, the monitor stops and reaps the helper, files removed);
 *   - resident memory of the monitor and of the helper it runs (KiB: RSS, and its anonymous part).
 *
 * Prints a Markdown table of medians. Run it with bench/network_detached.sh [ROUNDS].
 */
import { busyboxRootfs, NOOK, scratch } from "../tests/_helpers.ts";
import { httpGet, WEB } from "../tests/_network.ts";

const ROUNDS = Number(Deno.args[0] ?? 15);
const MODES = ["none", "pasta", "slirp4netns"] as const;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** RSS and its anonymous part, from /proc/PID/status (pasta makes itself undumpable: its smaps are closed). */
function memKb(pid: number): { rss: number; anon: number } {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  return { rss: kb("VmRSS"), anon: kb("RssAnon") };
}

const env = { NOOK_DATA_DIR: `${scratch("nook-bench-")}/data` };

async function nook(args: string[]): Promise<string> {
  const o = await new Deno.Command(NOOK, { args, env, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  if (!o.success) throw new Error(`nook ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  return new TextDecoder().decode(o.stdout).trim();
}

function status(id: string): Record<string, string> {
  const text = Deno.readTextFileSync(`${env.NOOK_DATA_DIR}/containers/${id}/status`);
  return Object.fromEntries(
    text.split("\n").filter((l) => l.includes("=")).map((
      l,
    ) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

interface Sample {
  runD: number;
  firstAnswer: number;
  rmF: number;
  monitor: { rss: number; anon: number };
  helper?: { rss: number; anon: number };
}
const samples: Record<string, Sample[]> = Object.fromEntries(MODES.map((m) => [m, []]));
const rootfs = busyboxRootfs();
// warm: Deno installed, caches filled
await nook(["rm", "-f", await nook(["run", "-d", "--network", "none", "--rootfs", rootfs, "true"])]);

for (let round = 0; round < ROUNDS; round++) {
  for (const mode of MODES) {
    const publish = mode === "none" ? [] : ["-p", "127.0.0.1::80"];
    const t0 = performance.now();
    const id = await nook(["run", "-d", "--init", "--network", mode, ...publish, "--rootfs", rootfs, ...WEB]);
    const runD = performance.now() - t0;
    let firstAnswer = NaN;
    if (mode !== "none") {
      const port = Number((await nook(["port", id, "80"])).split(":").pop());
      await httpGet(port);
      firstAnswer = performance.now() - t0;
    }
    const st = status(id);
    const s: Sample = { runD, firstAnswer, rmF: 0, monitor: memKb(Number(st.monitor_pid)) };
    if (Number(st.helper_pid) > 0) s.helper = memKb(Number(st.helper_pid));
    const t1 = performance.now();
    await nook(["rm", "-f", id]);
    s.rmF = performance.now() - t1;
    samples[mode]!.push(s);
  }
}

const ms = (x: number) => (Number.isFinite(x) ? `${Math.round(x)}` : "–");
console.log(`Detached containers with networking, medians of ${ROUNDS} interleaved rounds, on ${Deno.hostname()}:\n`);
console.log(
  "| --network | run -d returns (ms) | first HTTP answer (ms) | rm -f (ms) | monitor RSS / anon (KiB) | helper RSS / anon (KiB) |",
);
console.log("|---|---:|---:|---:|---:|---:|");
for (const mode of MODES) {
  const l = samples[mode]!;
  const m = (f: (s: Sample) => number) => median(l.map(f));
  const helper = l[0]?.helper ? `${m((s) => s.helper!.rss)} / ${m((s) => s.helper!.anon)}` : "–";
  console.log(
    `| ${mode} | ${ms(m((s) => s.runD))} | ${ms(m((s) => s.firstAnswer))} | ${ms(m((s) => s.rmF))} | ` +
      `${m((s) => s.monitor.rss)} / ${m((s) => s.monitor.anon)} | ${helper} |`,
  );
}
