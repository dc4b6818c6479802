/**
 * Verbs are transactions (src/engine/intent.ts): nook killed at each named step of create and rm
 * (`NOOK_CRASH_AT`, honoured under the test harness) leaves a state the next command finishes or
 * rolls back — nothing a user cannot see or remove; parallel removals of one container end with
 * exactly one success and clear answers for the others.
 */
import { assert, busyboxRootfs, busyboxSkip, isolatedEnv, NOOK, nook, scratch, test, waitFor } from "../_helpers.ts";

/** A private store and runtime directory, and a runner in it. */
function store() {
  const base = scratch("nook-crash-");
  Deno.mkdirSync(`${base}/run`, { mode: 0o700 });
  const env = isolatedEnv({ NOOK_DATA_DIR: `${base}/data`, XDG_RUNTIME_DIR: `${base}/run`, NOOK_TEST_CI: "1" });
  const run = (args: string[], extra: Record<string, string> = {}) => nook(args, { env: { ...env, ...extra } });
  return { base, env, run };
}

/** Entries of a directory (none when it does not exist). */
function entries(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** Container ids with a record directory, and runtime directories. */
function leftovers(base: string): { records: string[]; runDirs: string[]; names: string[] } {
  return {
    records: entries(`${base}/data/containers`).filter((n) => /^[0-9a-f]{64}$/.test(n)),
    runDirs: entries(`${base}/run/nook/containers`),
    names: entries(`${base}/data/containers/names`),
  };
}

const skip = busyboxSkip();
const SIGKILLED = 137;

for (const [step, mode] of [
  ["create.intent", "-d"],
  ["create.storage", "-d"],
  ["create.record", "-d"],
  ["create.intent", "--rm"],
  ["create.record", "--rm"],
] as const) {
  test(`run ${mode} killed at ${step}: the next command rolls it back and nothing is left`, async () => {
    const s = store();
    const rootfs = busyboxRootfs();
    const r = await s.run(["run", mode, "--name", "half", "--rootfs", rootfs, "sleep", "1000"], { NOOK_CRASH_AT: step });
    assert.equal(r.code, SIGKILLED, `nook was to kill itself at ${step}: ${r.stderr}`);
    const check = await s.run(["system", "check"]);
    assert.equal(check.code, 1, `system check finds what was left: ${check.stdout}${check.stderr}`);
    assert.match(check.stdout, /half created|runtime directory/);
    const ps = await s.run(["ps", "-a", "--format", "{{.Names}}"]);
    assert.equal(ps.code, 0, ps.stderr);
    assert.equal(ps.stdout.trim(), "", "ps -a rolled the half-made container back");
    assert.deepEqual(leftovers(s.base), { records: [], runDirs: [], names: [] });
    const again = await s.run(["system", "check"]);
    assert.equal(again.code, 0, again.stdout);
    assert.match(again.stdout, /nothing left behind/);
    // the name is free again
    const ok = await s.run(["run", "--rm", "--name", "half", "--rootfs", rootfs, "true"]);
    assert.equal(ok.code, 0, ok.stderr);
  }, { skip });
}

for (const step of ["rm.intent", "rm.storage"]) {
  test(`rm killed at ${step}: the container shows up until the next command finishes the removal`, async () => {
    const s = store();
    const rootfs = busyboxRootfs();
    const created = await s.run(["run", "-d", "--name", "gone", "--rootfs", rootfs, "sleep", "1000"]);
    assert.equal(created.code, 0, created.stderr);
    const r = await s.run(["rm", "-f", "gone"], { NOOK_CRASH_AT: step });
    assert.equal(r.code, SIGKILLED, `nook was to kill itself at ${step}: ${r.stderr}`);
    const check = await s.run(["system", "check", "--repair"]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /half removed/);
    assert.deepEqual(leftovers(s.base), { records: [], runDirs: [], names: [] });
    const ps = await s.run(["ps", "-a", "--format", "{{.Names}}"]);
    assert.equal(ps.stdout.trim(), "");
  }, { skip });
}

test("parallel rm -f of one container: exactly one removes it, the others say so clearly", async () => {
  const s = store();
  const created = await s.run(["run", "-d", "--name", "twin", "--rootfs", busyboxRootfs(), "sleep", "1000"]);
  assert.equal(created.code, 0, created.stderr);
  const results = await Promise.all(Array.from({ length: 5 }, () => s.run(["rm", "-f", "twin"])));
  const ok = results.filter((r) => r.code === 0);
  assert.equal(ok.length, 1, results.map((r) => `${r.code}: ${r.stdout}${r.stderr}`).join("\n"));
  for (const r of results.filter((r) => r.code !== 0)) {
    assert.equal(r.code, 125, r.stderr);
    assert.doesNotMatch(r.stderr, /internal error|at file:|Uncaught/, r.stderr);
    assert.match(r.stderr, /already removed|No such container/);
  }
  assert.deepEqual(leftovers(s.base), { records: [], runDirs: [], names: [] });
}, { skip });

test("a killed run --rm leaves nothing behind once the next command ran", async () => {
  const s = store();
  const child = new Deno.Command(NOOK, {
    args: ["run", "--rm", "--name", "fg", "--rootfs", busyboxRootfs(), "sleep", "1000"],
    env: s.env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitFor("the container to run", async () => (await s.run(["ps", "--format", "{{.Names}}"])).stdout.includes("fg"));
  child.kill("SIGKILL");
  await child.status;
  // its container dies with it (its pid 1 has nook as parent-death signal); then the next command cleans up
  await waitFor("the record to be rolled back", async () => {
    const ps = await s.run(["ps", "-a", "--format", "{{.Names}}"]);
    return ps.stdout.trim() === "";
  });
  assert.deepEqual(leftovers(s.base), { records: [], runDirs: [], names: [] });
}, { skip });
