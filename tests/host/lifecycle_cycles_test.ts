/** Many detached containers come and go without leaving anything behind. */
import { assert, busyboxRootfs, busyboxSkip, isolatedEnv, nook, scratch, test } from "../_helpers.ts";
import { storeProcesses } from "../_lifecycle.ts";

const CYCLES = 50;

/** Every path under dir (relative), recursively. */
function tree(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      out.push(prefix + e.name);
      if (e.isDirectory) out.push(...tree(`${dir}/${e.name}`, `${prefix}${e.name}/`));
    }
  } catch {
    // not there
  }
  return out.sort();
}

function mounts(): string[] {
  return Deno.readTextFileSync("/proc/self/mountinfo").trim().split("\n").map((l) => l.split(" ").slice(4, 5)[0]!).sort();
}

test(`${CYCLES} run -d + rm -f cycles leave no processes, mounts, temporary files or locks behind`, async () => {
  const base = scratch("nook-cycles-");
  const env = isolatedEnv({ NOOK_DATA_DIR: `${base}/data`, XDG_RUNTIME_DIR: `${base}/run`, TMPDIR: `${base}/tmp` });
  Deno.mkdirSync(`${base}/run`, { mode: 0o700 });
  Deno.mkdirSync(`${base}/tmp`);
  const rootfs = busyboxRootfs();
  // one container first, so that one-time files (the names index, its lock) exist in "before"
  const warm = await nook(["run", "--rm", "--rootfs", rootfs, "true"], { env });
  assert.equal(warm.code, 0, warm.stderr);
  const before = { data: tree(`${base}/data`), run: tree(`${base}/run`), tmp: tree(`${base}/tmp`), mounts: mounts() };
  const t0 = performance.now();
  for (let i = 0; i < CYCLES; i++) {
    const r = await nook(["run", "-d", "--name", `c${i}`, "--rootfs", rootfs, "sh", "-c", "echo hi; exec sleep 1000"], { env });
    assert.equal(r.code, 0, `cycle ${i}: ${r.stderr}`);
    const rm = await nook(["rm", "-f", `c${i}`], { env });
    assert.equal(rm.code, 0, `cycle ${i}: ${rm.stderr}`);
    assert.ok(performance.now() - t0 < 180_000, `${i + 1} cycles took over 3 minutes`);
  }
  assert.deepEqual(storeProcesses(`${base}/data`), []);
  const after = { data: tree(`${base}/data`), run: tree(`${base}/run`), tmp: tree(`${base}/tmp`), mounts: mounts() };
  assert.deepEqual(after.data, before.data, "files left in the data directory");
  assert.deepEqual(after.run, before.run, "files left in the runtime directory");
  assert.deepEqual(after.tmp, before.tmp, "temporary files left");
  assert.deepEqual(after.mounts, before.mounts, "mounts left");
  assert.ok(!after.data.some((p) => /lock|\.tmp/.test(p) && !before.data.includes(p)), "lock or temp files left");
  console.log(`${CYCLES} cycles in ${Math.round(performance.now() - t0)} ms; data dir holds: ${after.data.join(", ")}`);
}, { skip: busyboxSkip() });
