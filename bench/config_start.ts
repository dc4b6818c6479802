/**
 * Driver of bench/config.sh: `nook run --rm hello` start-up with and without a
 * config file (and a baseline checkout), interleaved, paired medians.
 */
const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const rounds = Number(Deno.args[0] ?? 200);
const baseline = Deno.args[1];
const deno = Deno.execPath();
const tmp = Deno.makeTempDirSync({ prefix: "nook-bench-" });
Deno.mkdirSync(`${tmp}/run`, { mode: 0o700 });
Deno.mkdirSync(`${tmp}/empty/nook`, { recursive: true }); // ~/.config/nook exists, no config.yaml
Deno.mkdirSync(`${tmp}/cfg/nook`, { recursive: true });
Deno.writeTextFileSync(
  `${tmp}/cfg/nook/config.yaml`,
  "network:\n  mode: none\nstorage:\n  driver: auto\nregistries:\n  search: [registry.example.com]\n" +
    "run:\n  env: [TZ=UTC]\n  ulimits: [nofile=1024:2048]\nsecurity:\n  capabilities: [CAP_CHOWN, CAP_KILL]\n",
);

// both run with --network none: the config's network.mode would otherwise spare one of them
// the default network's helper (pasta), tens of ms that have nothing to do with the config
const variants: [string, string, string][] = [
  ["no config", ROOT, `${tmp}/empty`],
  ["config (cached)", ROOT, `${tmp}/cfg`],
  ...(baseline ? [["baseline, no config", baseline, `${tmp}/empty`] as [string, string, string]] : []),
];

// CPU time (perf's task-clock, all threads and children) is far less disturbed by a busy
// machine than wall time; without perf, wall time it is.
const perf = new Deno.Command("sh", { args: ["-c", "command -v perf"], stdout: "piped" }).outputSync().success;

async function once(tree: string, config: string): Promise<number> {
  const nook = [deno, "run", "--allow-all", "--quiet", "--no-prompt", "--config", `${tree}/deno.json`, `${tree}/src/cli/main.ts`];
  const argv = [...(perf ? ["perf", "stat", "-x,", "-e", "task-clock", "--"] : []), ...nook, "run", "--rm", "--network", "none", "hello"];
  const cmd = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env: { XDG_RUNTIME_DIR: `${tmp}/run`, XDG_DATA_HOME: `${tmp}/data`, XDG_CONFIG_HOME: config, DENO_NO_UPDATE_CHECK: "1" },
    stdout: "null",
    stderr: "piped",
  });
  const t = performance.now();
  const out = await cmd.output();
  const ms = performance.now() - t;
  const err = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${tree}: ${err}`);
  if (!perf) return ms;
  const line = err.split("\n").find((l) => l.includes("task-clock"));
  return Number(line?.split(",")[0]);
}

const times = variants.map(() => [] as number[]);
for (let w = 0; w < 5; w++) for (const [, tree, cfg] of variants) await once(tree, cfg); // warm caches
for (let r = 0; r < rounds; r++) {
  for (const [i, [, tree, cfg]] of variants.entries()) times[i]!.push(await once(tree, cfg));
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const interval = (xs: number[]) => {
  const ms = Array.from({ length: 1000 }, () => median(xs.map(() => xs[Math.floor(Math.random() * xs.length)]!)));
  ms.sort((a, b) => a - b);
  return `${ms[25]!.toFixed(2)} … ${ms[974]!.toFixed(2)}`;
};
console.log(`nook run --rm --network none hello, ${rounds} interleaved rounds, ${perf ? "CPU time (perf task-clock)" : "wall time"} per run`);
for (const [i, [name]] of variants.entries()) console.log(`  ${name.padEnd(22)} median ${median(times[i]!).toFixed(2)} ms`);
for (let i = 1; i < variants.length; i++) {
  const d = times[i]!.map((t, r) => t - times[0]![r]!);
  console.log(`  ${variants[i]![0]} − ${variants[0]![0]}: paired median ${median(d).toFixed(2)} ms (95%: ${interval(d)})`);
}
Deno.removeSync(tmp, { recursive: true });
