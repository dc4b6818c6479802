/**
 * The table of a before/after bench run (bench/rounds.ts's merged hyperfine JSON): each command
 * of this checkout beside the same command of the other ("other: …"), medians and their ratio.
 *
 * Usage: deno run --allow-read bench/compare_table.ts RESULT.json THIS_ROOT OTHER_ROOT
 *
 * @module
 */
interface Result {
  command: string;
  times: number[];
  mean: number;
  user: number;
  system: number;
}

const r: Result[] = JSON.parse(Deno.readTextFileSync(Deno.args[0]!)).results;
const med = (x: Result) => {
  const s = [...x.times].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]! * 1000;
};
const cpu = (x: Result) => (x.user + x.system) * 1000;
console.log(`this checkout: ${Deno.args[1]}\nother: ${Deno.args[2]}  (${r[0]!.times.length} runs each, in rounds)`);
const w = Math.max(...r.map((x) => x.command.length));
console.log(`${"command".padEnd(w)}  median ms   mean ms  cpu ms  this/other`);
for (const x of r) {
  const peer = r.find((y) => y.command === `other: ${x.command}`);
  const ratio = peer ? (med(x) / med(peer)).toFixed(3).padStart(10) : "";
  console.log(
    `${x.command.padEnd(w)}  ${med(x).toFixed(1).padStart(9)}  ${(x.mean * 1000).toFixed(1).padStart(8)}  ${cpu(x).toFixed(1).padStart(6)}  ${ratio}`,
  );
}
console.log(`load average after: ${Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ")}`);
