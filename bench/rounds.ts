/**
 * bench/rounds.ts ROUNDS RUNS OUT.json [HYPERFINE-OPTION…] -- NAME COMMAND [NAME COMMAND…]
 *
 * hyperfine ROUNDS times over the same commands, RUNS runs of each per round, the commands'
 * order rotating from round to round, and every round's times merged into OUT.json in
 * hyperfine's export form (`results[]` with command, times, mean, user, system). Commands
 * compared this way — two checkouts of nook, before and after a change — meet the machine's
 * load together instead of one after the other. Used by bench/start.sh and bench/oci_run.sh
 * with NOOK_BENCH_COMPARE.
 */
const sep = Deno.args.indexOf("--");
const [roundsArg, runsArg, out, ...options] = Deno.args.slice(0, sep);
const pairs: [string, string][] = [];
const rest = Deno.args.slice(sep + 1);
for (let i = 0; i + 1 < rest.length; i += 2) pairs.push([rest[i]!, rest[i + 1]!]);
const rounds = Number(roundsArg);
const runs = Number(runsArg);
if (sep < 0 || !out || !(rounds > 0) || !(runs > 0) || pairs.length === 0) {
  console.error("usage: bench/rounds.ts ROUNDS RUNS OUT.json [HYPERFINE-OPTION…] -- NAME COMMAND [NAME COMMAND…]");
  Deno.exit(2);
}

interface Result {
  command: string;
  times: number[];
  user: number;
  system: number;
}
const merged = new Map<string, { times: number[]; user: number[]; system: number[] }>();
const tmp = await Deno.makeTempFile({ suffix: ".json" });
try {
  for (let r = 0; r < rounds; r++) {
    const order = pairs.map((_, i) => pairs[(i + r) % pairs.length]!);
    const args = [...options, "--runs", String(runs), "--export-json", tmp, ...order.flatMap(([n, c]) => ["-n", n, c])];
    const res = await new Deno.Command("hyperfine", { args, stdout: "null", stderr: "piped" }).output();
    if (!res.success) {
      console.error(new TextDecoder().decode(res.stderr));
      Deno.exit(1);
    }
    for (const x of JSON.parse(await Deno.readTextFile(tmp)).results as Result[]) {
      const m = merged.get(x.command) ?? { times: [], user: [], system: [] };
      m.times.push(...x.times);
      m.user.push(x.user);
      m.system.push(x.system);
      merged.set(x.command, m);
    }
    console.error(`round ${r + 1}/${rounds} done`);
  }
} finally {
  await Deno.remove(tmp).catch(() => {});
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const results = pairs.map(([name]) => {
  const m = merged.get(name)!;
  return { command: name, times: m.times, mean: mean(m.times), user: mean(m.user), system: mean(m.system) };
});
await Deno.writeTextFile(out, JSON.stringify({ results }));
