/**
 * Verbs are transactions (src/engine/intent.ts): nook killed at each named step of create and rm
 * (`NOOK_CRASH_AT`, honoured under the test harness) leaves a state the next command finishes or
 * rolls back — nothing a user cannot see or remove; parallel removals of one container end with
 * exactly one success and clear answers for the others.
 */
import { assert, busyboxRootfs, busyboxSkip, isolatedEnv, NOOK, nook, scratch, subidSkip, test, waitFor } from "../_helpers.ts";

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

/** Pids of this user's processes whose command line holds `pattern`. */
function pgrep(pattern: string): string[] {
  const p = new Deno.Command("pgrep", { args: ["-u", String(Deno.uid()), "-f", pattern], stdout: "piped", stderr: "null" }).outputSync();
  return new TextDecoder().decode(p.stdout).split("\n").filter(Boolean);
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

for (const step of ["rm.intent", "rm.stopped", "rm.storage"]) {
  test(`rm killed at ${step}: the container shows up until the next command finishes the removal`, async () => {
    const s = store();
    const rootfs = busyboxRootfs();
    const created = await s.run(["run", "-d", "--name", "gone", "--rootfs", rootfs, "sleep", "7331"]); // a time no other test uses
    assert.equal(created.code, 0, created.stderr);
    await waitFor("the container's process", () => pgrep("^sleep 7331$").length === 1);
    const r = await s.run(["rm", "-f", "gone"], { NOOK_CRASH_AT: step });
    assert.equal(r.code, SIGKILLED, `nook was to kill itself at ${step}: ${r.stderr}`);
    const check = await s.run(["system", "check", "--repair"]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /half removed/);
    assert.deepEqual(leftovers(s.base), { records: [], runDirs: [], names: [] });
    // a removal killed before it stopped the container: the sweep stopped it
    await waitFor("the container's process to end", () => pgrep("^sleep 7331$").length === 0);
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
    assert.match(r.stderr, /already removed|is being removed|No such container/);
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

/** A private store with an image in it (busybox, imported), or the reason it cannot be made. */
async function storeWithImage(): Promise<ReturnType<typeof store>> {
  const s = store();
  const { busyboxEntries, tar } = await import("../_oci.ts");
  Deno.writeFileSync(`${s.base}/rootfs.tar`, tar(busyboxEntries()));
  const imported = await s.run(["import", `${s.base}/rootfs.tar`, "half/img"]);
  assert.equal(imported.code, 0, imported.stderr);
  return s;
}

/** Everything of a container: its record, runtime directory, name, storage, and processes naming its id. */
function everything(base: string): Record<string, string[]> {
  const ids = [...entries(`${base}/data/rootfs`), ...entries(`${base}/data/containers`)].filter((n) => /^[0-9a-f]{64}$/.test(n));
  const procs: string[] = [];
  for (const id of new Set(ids)) {
    const p = new Deno.Command("pgrep", { args: ["-f", id], stdout: "piped", stderr: "null" }).outputSync();
    procs.push(...new TextDecoder().decode(p.stdout).split("\n").filter(Boolean));
  }
  return { ...leftovers(base), storage: entries(`${base}/data/rootfs`), processes: procs };
}

// kill -9 of `run -d IMAGE` at each step where the image-backed storage is made and where the
// monitor is started; cleaned up by each command that is to remove it, in turn
const RUN_STEPS = [
  ["create.intent", false, "rm"],
  ["create.rootfs", false, "container prune"],
  ["create.storage", false, "system reset"],
  ["create.record", false, "rm"], // recorded, but its intent still stands: rolled back
  ["start.monitor", true, "container prune"],
  ["start.go", true, "rm"],
  ["start.started", true, "system reset"],
  ["start.go", true, "container prune"],
  ["start.started", true, "rm"],
] as const;
for (const [step, exists, cleanup] of RUN_STEPS) {
  test(`run -d IMAGE killed at ${step}: ps -a shows what exists, ${cleanup} removes it, rmi names only what ps shows`, async () => {
    const s = await storeWithImage();
    const r = await s.run(["run", "-d", "--name", "half", "half/img", "sleep", "1000"], { NOOK_CRASH_AT: step });
    assert.equal(r.code, SIGKILLED, `nook was to kill itself at ${step}: ${r.stderr}`);
    const ps = await s.run(["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Status}}"]);
    assert.equal(ps.code, 0, ps.stderr);
    const shown = ps.stdout.trim().split("\n").filter(Boolean);
    if (exists) assert.match(ps.stdout, /^[0-9a-f]{64} half /m, `the recorded container is listed: ${ps.stdout}`);
    else assert.deepEqual(shown, [], "a container killed before its record was written is rolled back");
    // whatever is left on disk belongs to a container ps lists
    const ids = shown.map((l) => l.split(" ")[0]!);
    const left = everything(s.base);
    for (const id of [...left.records!, ...left.storage!, ...left.runDirs!]) {
      assert.ok(ids.includes(id), `${id.slice(0, 12)} is on disk but not listed by ps -a: ${JSON.stringify(left)}`);
    }
    // rmi names only a container the user can find (or removes an image nothing uses)
    const rmi = await s.run(["rmi", "half/img"]);
    if (exists) {
      assert.equal(rmi.code, 125, rmi.stdout + rmi.stderr);
      const named = /in use by container ([0-9a-f]{12})/.exec(rmi.stderr)?.[1];
      assert.ok(named && ids.some((id) => id.startsWith(named)), `rmi names ${named}, ps -a lists ${ids.join(", ")}`);
    } else {
      assert.equal(rmi.code, 0, `no container uses the image: ${rmi.stderr}`);
    }
    if (cleanup === "rm") {
      if (exists) {
        const rm = await s.run(["rm", "-f", "half"]);
        assert.equal(rm.code, 0, rm.stderr);
      }
    } else if (cleanup === "container prune") {
      if (step.startsWith("start.")) await s.run(["stop", "-t", "0", "half"]); // prune keeps running containers
      const prune = await s.run(["container", "prune", "-f"]);
      assert.equal(prune.code, 0, prune.stderr);
    } else {
      const reset = await s.run(["system", "reset", "-f"]);
      assert.equal(reset.code, 0, reset.stderr);
    }
    await waitFor("the container's processes to end", () => everything(s.base).processes!.length === 0);
    assert.deepEqual(everything(s.base), { records: [], runDirs: [], names: [], storage: [], processes: [] });
    if (cleanup !== "system reset") {
      const check = await s.run(["system", "check"]);
      assert.equal(check.code, 0, check.stdout + check.stderr);
    }
  }, { skip: skip ?? subidSkip() });
}

/** The state letter of a process (/proc/PID/stat), undefined when it is gone. */
function procState(pid: number): string | undefined {
  try {
    const t = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return t.slice(t.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

test("while rm runs, ps shows the container as Removing and other commands on it say it is being removed", async () => {
  const s = store();
  const created = await s.run(["run", "-d", "--name", "going", "--rootfs", busyboxRootfs(), "sleep", "1000"]);
  assert.equal(created.code, 0, created.stderr);
  // the removal is held (SIGSTOP) right after it recorded its intent, before it stops the container
  const rm = new Deno.Command(NOOK, {
    args: ["rm", "-f", "going"],
    env: { ...s.env, NOOK_STOP_AT: "rm.intent" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    await waitFor("rm to record its intent and stop there", () => procState(rm.pid) === "T", 30_000);
    const all = await s.run(["ps", "-a", "--format", "{{.Names}} {{.Status}} {{.State}}"]);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stdout.trim(), "going Removing removing");
    const running = await s.run(["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert.equal(running.stdout.trim(), "going Removing", "still running while it is being removed");
    const inspect = await s.run(["inspect", "--format", "{{.State.Status}}", "going"]);
    for (const args of [["rm", "-f", "going"], ["stop", "going"], ["start", "going"], ["exec", "going", "true"], ["kill", "going"]]) {
      const r = await s.run(args);
      assert.equal(r.code, 125, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^nook: The container "going" is being removed \(by another command\)$/m, `${args.join(" ")}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /internal error|at file:|Uncaught/, r.stderr);
    }
    assert.ok(inspect.code === 125 || inspect.stdout.trim() === "removing", inspect.stdout + inspect.stderr);
  } finally {
    rm.kill("SIGCONT");
  }
  const done = await rm.output();
  assert.equal(done.code, 0, new TextDecoder().decode(done.stderr));
  assert.equal(new TextDecoder().decode(done.stdout), "going\n", "the one removal reports it");
  const ps = await s.run(["ps", "-a", "--format", "{{.Names}}"]);
  assert.equal(ps.stdout.trim(), "");
  assert.deepEqual(leftovers(s.base), { records: [], runDirs: [], names: [] });
}, { skip });

test("two start -a of one container at once: exactly one starts it, the other says it is already running", async () => {
  const s = store();
  const rootfs = busyboxRootfs();
  // rounds, as the two processes reach the lock in either order and at any distance
  for (let round = 0; round < 4; round++) {
    const name = `pair${round}`;
    const c = await s.run(["create", "--name", name, "--rootfs", rootfs, "sh", "-c", "echo started; sleep 3; exit 7"]);
    assert.equal(c.code, 0, c.stderr);
    const both = await Promise.all([s.run(["start", "-a", name]), s.run(["start", "-a", name])]);
    const report = both.map((r) => `${r.code}: ${r.stdout}${r.stderr}`).join("\n");
    const started = both.filter((r) => r.code === 7);
    assert.equal(started.length, 1, `exactly one start ran the container:\n${report}`);
    assert.equal(started[0]!.stdout, "started\n", report);
    const other = both.find((r) => r.code !== 7)!;
    assert.equal(other.code, 125, report);
    assert.match(other.stderr, /^nook: The container "pair\d" is already running$/m, report);
    assert.doesNotMatch(other.stderr, /internal error|at file:|Uncaught/, report);
    assert.equal(other.stdout, "", "the loser ran nothing");
    const ps = await s.run(["ps", "-a", "--filter", `name=${name}`, "--format", "{{.Status}}"]);
    assert.match(ps.stdout, /^Exited \(7\)/, ps.stdout);
  }
}, { skip });
