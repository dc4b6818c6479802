/**
 * `nook build` is a transaction (src/build/builder.ts over src/store/intent.ts): nook killed with
 * SIGKILL at each named step of a build (`NOOK_CRASH_AT`, honoured under the test harness) leaves
 * a state that the next command — a second build, `system check --repair` or `image prune` —
 * finishes or rolls back. Afterwards no step container runs on, `ps -a` lists nothing, the store
 * holds no partial blob, no temporary entry, no open intent and no blob or layer that neither an
 * image nor a build-cache entry names; `nook system check` reports it clean; and a rebuild gives
 * the same image as an uninterrupted build. A build ended by SIGTERM or SIGINT undoes itself.
 */
import assert from "node:assert/strict";
import { busyboxRootfs, busyboxSkip, fuseSkip, scratch, sh, subidSkip, test } from "../_helpers.ts";
import { fileHash, freshStore, listTree, nookT } from "../_oci.ts";
import { NOOK } from "../_helpers.ts";

const skip = busyboxSkip() ?? subidSkip();
const SIGKILLED = 137;

/** Marks the RUN step's process, so the test can tell whether it outlived its nook. */
const MARK = "1.357";

const CONTAINERFILE = `FROM bb
COPY a.txt /a.txt
RUN echo built > /built.txt && sleep ${MARK}
COPY b.txt /b.txt
`;

type Store = ReturnType<typeof freshStore>;

/** A store (crash points honoured) with the busybox image `bb` imported, and the build's context. */
async function setUp(extra: Record<string, string> = {}): Promise<{ s: Store; ctx: string }> {
  const s = freshStore({ NOOK_TEST_CI: "1", ...extra });
  const file = `${scratch("nook-build-crash-base-")}/bb.tar`;
  const tar = await sh("tar", ["--owner=0", "--group=0", "--numeric-owner", "-C", busyboxRootfs(), "-cf", file, "."]);
  assert.equal(tar.code, 0, tar.stderr);
  const r = await nookT(["import", "-q", file, "bb"], s.env);
  assert.equal(r.code, 0, r.stderr);
  const ctx = scratch("nook-build-crash-ctx-");
  Deno.writeTextFileSync(`${ctx}/Containerfile`, CONTAINERFILE);
  Deno.writeTextFileSync(`${ctx}/a.txt`, "a\n");
  Deno.writeTextFileSync(`${ctx}/b.txt`, "b\n");
  return { s, ctx };
}

function buildArgs(ctx: string, extra: string[] = []): string[] {
  return ["build", "--timestamp", "1700000000", "-t", "crash:1", ...extra, ctx];
}

function names(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** Processes whose command line holds the step's mark (the RUN step's sleep). */
function stepProcesses(): number[] {
  const out: number[] = [];
  for (const e of names("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e}/cmdline`).split("\0");
      if (cmd.includes("sleep") && cmd.some((a) => a.startsWith(MARK))) out.push(Number(e));
    } catch {
      // ended, or not ours to read
    }
  }
  return out;
}

async function noStepProcess(): Promise<void> {
  for (let i = 0; i < 40 && stepProcesses().length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(stepProcesses(), [], "no process of a build step outlives its nook");
}

/**
 * The store is consistent: no temporary entry, no open intent, no half-written cache entry, every
 * blob whole, and every blob and layer named by an image record or a build-cache entry (and the
 * other way round: whatever those name is there).
 */
function assertConsistent(data: string): { images: number; cache: number } {
  assert.deepEqual(listTree(`${data}/tmp`), [], "no temporary file or directory is left");
  assert.deepEqual(listTree(`${data}/intents`), [], "no transaction is left open");
  const cacheFiles = names(`${data}/build-cache`);
  assert.deepEqual(cacheFiles.filter((n) => n.endsWith(".tmp")), [], "no half-written cache entry");
  const recs = JSON.parse(Deno.readTextFileSync(`${data}/images.json`)).images as {
    id: string;
    manifest: string;
    layers: { digest: string; chainId: string }[];
  }[];
  const blobs = new Set<string>();
  const layers = new Set<string>();
  for (const r of recs) {
    blobs.add(r.id.slice(7));
    blobs.add(r.manifest.slice(7));
    for (const l of r.layers) {
      blobs.add(l.digest.slice(7));
      layers.add(l.chainId.slice(7));
    }
  }
  let cache = 0;
  for (const n of cacheFiles.filter((n) => /^[0-9a-f]{64}\.json$/.test(n))) {
    const e = JSON.parse(Deno.readTextFileSync(`${data}/build-cache/${n}`)) as { chainId: string; digest: string };
    blobs.add(e.digest.slice(7));
    layers.add(e.chainId.slice(7));
    cache++;
  }
  const onDisk = listTree(`${data}/blobs/sha256`);
  for (const hex of onDisk) assert.equal(fileHash(`${data}/blobs/sha256/${hex}`), hex, `blob ${hex} is whole`);
  assert.deepEqual(onDisk.sort(), [...blobs].sort(), "exactly the blobs of the image records and cache entries");
  const layerDirs = names(`${data}/layers`);
  assert.deepEqual(layerDirs, [...layers].sort(), "exactly the layers of the image records and cache entries");
  for (const hex of layerDirs) {
    assert.ok(names(`${data}/layers/${hex}`).includes("layer.json"), `layer ${hex} is whole`);
  }
  return { images: recs.length, cache };
}

async function assertClean(s: Store): Promise<void> {
  const clean = await nookT(["system", "check"], s.env);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /nothing left behind/);
  const ps = await nookT(["ps", "-a", "-q"], s.env);
  assert.equal(ps.code, 0, ps.stderr);
  assert.equal(ps.stdout.trim(), "", "no container is left");
}

/** The image the build made runs and holds the files of every step. */
async function assertBuilt(s: Store): Promise<void> {
  const run = await nookT(
    ["run", "--rm", "--network", "none", "crash:1", "cat", "/a.txt", "/built.txt", "/b.txt"],
    s.env,
  );
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "a\nbuilt\nb\n");
}

/** After the kill: nothing runs on, and system check finds the interrupted build. */
async function afterKill(s: Store, point: string): Promise<void> {
  await noStepProcess();
  const check = await nookT(["system", "check"], s.env);
  assert.equal(check.code, 1, `system check finds the build killed at ${point}: ${check.stdout}${check.stderr}`);
  assert.match(check.stdout, /build of "crash:1" interrupted by a nook that was killed/);
}

/** The image ID an uninterrupted build without the cache gives in this store. */
async function referenceId(s: Store, ctx: string): Promise<string> {
  const b = await nookT(buildArgs(ctx, ["--no-cache", "-q"]), s.env);
  assert.equal(b.code, 0, b.stderr);
  return b.stdout.trim();
}

const POINTS = ["step-container", "intent", "blob", "layer", "cache", "config", "record", "tag"];

for (const point of POINTS) {
  test(
    `build killed at build.${point}: the next build finishes, the store is consistent, the image is the same`,
    async () => {
      const { s, ctx } = await setUp();
      try {
        const r = await nookT(buildArgs(ctx), { ...s.env, NOOK_CRASH_AT: `build.${point}` });
        assert.equal(r.code, SIGKILLED, `nook was to kill itself at build.${point}: ${r.stderr}`);
        await afterKill(s, point);
        const again = await nookT(buildArgs(ctx, ["-q"]), s.env);
        assert.equal(again.code, 0, `the next build succeeds: ${again.stderr}`);
        const id = again.stdout.trim();
        assert.match(id, /^sha256:[0-9a-f]{64}$/);
        const state = assertConsistent(s.data);
        assert.equal(state.images, 2, "bb and the build's image");
        await assertClean(s);
        await assertBuilt(s);
        assert.equal(await referenceId(s, ctx), id, "the rebuild gives the image an uninterrupted build gives");
        assertConsistent(s.data);
        await assertClean(s);
      } finally {
        await s.reset();
      }
    },
    { skip },
  );
}

for (
  const [point, next] of [["layer", ["system", "check", "--repair"]], ["cache", ["image", "prune", "-f"]], ["tag", [
    "system",
    "check",
    "--repair",
  ]]] as const
) {
  test(`build killed at build.${point}: ${next.join(" ")} rolls it back (or keeps its whole image)`, async () => {
    const { s, ctx } = await setUp();
    try {
      const r = await nookT(buildArgs(ctx), { ...s.env, NOOK_CRASH_AT: `build.${point}` });
      assert.equal(r.code, SIGKILLED, `nook was to kill itself at build.${point}: ${r.stderr}`);
      await afterKill(s, point);
      const repair = await nookT([...next], s.env);
      assert.equal(repair.code, 0, repair.stdout + repair.stderr);
      const state = assertConsistent(s.data);
      // killed after its image record was written, the build is finished: the image stays whole
      assert.equal(
        state.images,
        point === "tag" ? 2 : 1,
        "the image record of a killed build stays only when it was whole",
      );
      if (point !== "tag") assert.equal(state.cache, 0, "no cache entry of the killed build is left");
      await assertClean(s);
      if (point === "tag") await assertBuilt(s);
      const again = await nookT(buildArgs(ctx, ["-q"]), s.env);
      assert.equal(again.code, 0, again.stderr);
      assertConsistent(s.data);
      await assertBuilt(s);
      await assertClean(s);
    } finally {
      await s.reset();
    }
  }, { skip });
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`a build ended by ${signal} during a RUN step undoes itself`, async () => {
    const { s, ctx } = await setUp();
    try {
      Deno.writeTextFileSync(`${ctx}/Containerfile`, `FROM bb\nCOPY a.txt /a.txt\nRUN sleep ${MARK}0\n`);
      const child = new Deno.Command(NOOK, {
        args: buildArgs(ctx),
        env: s.env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const out = child.output();
      let seen = false;
      for (let i = 0; i < 600 && !seen; i++) {
        seen = stepProcesses().length > 0;
        if (!seen) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(seen, "the RUN step started");
      const t0 = Date.now();
      child.kill(signal);
      const res = await out;
      const stderr = new TextDecoder().decode(res.stderr);
      assert.equal(res.code, signal === "SIGTERM" ? 143 : 130, stderr);
      assert.ok(Date.now() - t0 < 10_000, `the build ended promptly (${Date.now() - t0} ms)`);
      assert.match(stderr, new RegExp(`interrupted by ${signal}`));
      await noStepProcess();
      const state = assertConsistent(s.data);
      assert.equal(state.images, 1, "only bb");
      assert.equal(state.cache, 0, "no cache entry of the interrupted build is left");
      await assertClean(s);
    } finally {
      await s.reset();
    }
  }, { skip });
}

test("build killed at build.cache: the next build of another Containerfile rolls the killed one back", async () => {
  const { s, ctx } = await setUp();
  try {
    const r = await nookT(buildArgs(ctx), { ...s.env, NOOK_CRASH_AT: "build.cache" });
    assert.equal(r.code, SIGKILLED, r.stderr);
    await afterKill(s, "cache");
    const other = scratch("nook-build-crash-other-");
    Deno.writeTextFileSync(`${other}/Containerfile`, "FROM bb\nRUN echo other > /other.txt\n");
    const b = await nookT(["build", "-q", "-t", "other:1", other], s.env);
    assert.equal(b.code, 0, b.stderr);
    // the killed build's COPY layer is named by nothing now: it is gone
    const state = assertConsistent(s.data);
    assert.equal(state.images, 2, "bb and other:1");
    assert.equal(state.cache, 1, "the other build's RUN step");
    await assertClean(s);
  } finally {
    await s.reset();
  }
}, { skip });

test("a multi-stage build without the cache keeps no layer of a stage its image does not use", async () => {
  const { s, ctx } = await setUp();
  try {
    Deno.writeTextFileSync(
      `${ctx}/Containerfile`,
      "FROM bb AS tools\nCOPY a.txt /a.txt\nRUN cat /a.txt /a.txt > /aa.txt\n\nFROM bb\nCOPY --from=tools /aa.txt /aa.txt\n",
    );
    const b = await nookT(buildArgs(ctx, ["--no-cache"]), s.env);
    assert.equal(b.code, 0, b.stderr);
    const state = assertConsistent(s.data);
    assert.equal(state.images, 2);
    assert.equal(state.cache, 0);
    assert.equal(names(`${s.data}/layers`).length, 2, "bb's layer and the final COPY's");
    const run = await nookT(["run", "--rm", "--network", "none", "crash:1", "cat", "/aa.txt"], s.env);
    assert.equal(run.stdout, "a\na\n", run.stderr);
    await assertClean(s);
  } finally {
    await s.reset();
  }
}, { skip });

/** Processes stopped (SIGSTOP) whose command line names `word`. */
function stoppedWith(word: string): number[] {
  const out: number[] = [];
  for (const e of names("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e}/stat`);
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (state === "T" && Deno.readTextFileSync(`/proc/${e}/cmdline`).split("\0").includes(word)) out.push(Number(e));
    } catch {
      // ended, or not ours to read
    }
  }
  return out;
}

test("a build ended by SIGTERM between two steps (a layer committed, no container running) undoes itself", async () => {
  const { s, ctx } = await setUp();
  try {
    // stopped right after the first layer's blob is in the store: SIGTERM arrives there, SIGCONT lets it go on
    const child = new Deno.Command(NOOK, {
      args: buildArgs(ctx),
      env: { ...s.env, NOOK_STOP_AT: "build.blob" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = child.output();
    let stopped: number[] = [];
    for (let i = 0; i < 600 && !stopped.length; i++) {
      stopped = stoppedWith(ctx);
      if (!stopped.length) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(stopped.length, 1, "the build stopped at build.blob");
    child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300)); // forwarded to the stopped build, pending there
    Deno.kill(stopped[0]!, "SIGCONT");
    const res = await out;
    const stderr = new TextDecoder().decode(res.stderr);
    assert.equal(res.code, 143, stderr);
    assert.match(stderr, /interrupted by SIGTERM/);
    const state = assertConsistent(s.data);
    assert.equal(state.images, 1, "only bb");
    assert.equal(state.cache, 0, "no cache entry of the interrupted build is left");
    await assertClean(s);
  } finally {
    await s.reset();
  }
}, { skip });

/** fuse-overlayfs processes that serve a step of a build in the store under `data`. */
function fuseHelpers(data: string): number[] {
  const out: number[] = [];
  for (const e of names("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e}/cmdline`).split("\0");
      if (cmd[0]?.endsWith("fuse-overlayfs") && cmd.some((a) => a.includes(data))) out.push(Number(e));
    } catch {
      // ended, or not ours to read
    }
  }
  return out;
}

test(
  "with fuse-overlayfs, a build killed in its RUN step leaves no helper running and the next build finishes",
  async () => {
    const { s, ctx } = await setUp({ NOOK_STORAGE_BACKEND: "fuse-overlayfs" });
    try {
      // stopped while its step runs: the helper is there; then killed as NOOK_CRASH_AT would
      const child = new Deno.Command(NOOK, {
        args: buildArgs(ctx),
        env: { ...s.env, NOOK_STOP_AT: "build.step-container" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const out = child.output();
      let stopped: number[] = [];
      for (let i = 0; i < 600 && !stopped.length; i++) {
        stopped = stoppedWith(ctx);
        if (!stopped.length) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(stopped.length, 1, "the build stopped at build.step-container");
      assert.ok(fuseHelpers(s.data).length > 0, "the step runs on fuse-overlayfs");
      Deno.kill(stopped[0]!, "SIGKILL");
      const r = await out;
      assert.equal(r.code, SIGKILLED, new TextDecoder().decode(r.stderr));
      await afterKill(s, "step-container");
      for (let i = 0; i < 40 && fuseHelpers(s.data).length; i++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(fuseHelpers(s.data), [], "no fuse-overlayfs of the killed step runs on");
      const again = await nookT(buildArgs(ctx, ["-q"]), s.env);
      assert.equal(again.code, 0, again.stderr);
      const state = assertConsistent(s.data);
      assert.equal(state.images, 2);
      await assertClean(s);
      await assertBuilt(s);
    } finally {
      await s.reset();
    }
  },
  { skip: skip ?? fuseSkip() },
);

/** Spawn a build; resolves with its outcome. */
function spawnBuild(args: string[], env: Record<string, string>): Promise<Deno.CommandOutput> {
  return new Deno.Command(NOOK, { args, env, stdin: "null", stdout: "piped", stderr: "piped" }).spawn().output();
}

async function waitStopped(word: string): Promise<number> {
  let stopped: number[] = [];
  for (let i = 0; i < 600 && !stopped.length; i++) {
    stopped = stoppedWith(word);
    if (!stopped.length) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(stopped.length, 1, `a build stopped (${word})`);
  return stopped[0]!;
}

test(
  "a killed build's rollback leaves a layer that a racing build took from the cache, and that build finishes",
  async () => {
    const { s, ctx } = await setUp();
    try {
      // A makes the COPY layer and its cache entry, then stops; B takes that layer from the cache and stops later
      const a = spawnBuild(buildArgs(ctx), { ...s.env, NOOK_STOP_AT: "build.cache" });
      const aPid = await waitStopped(ctx);
      const ctxB = scratch("nook-build-crash-race-");
      for (const f of ["Containerfile", "a.txt", "b.txt"]) Deno.copyFileSync(`${ctx}/${f}`, `${ctxB}/${f}`);
      const b = spawnBuild(["build", "--timestamp", "1700000000", "-t", "race:1", ctxB], {
        ...s.env,
        NOOK_STOP_AT: "build.blob",
      });
      const bPid = await waitStopped(ctxB);
      const copyLayers = names(`${s.data}/layers`).length; // bb's and the COPY's
      assert.equal(copyLayers, 2);
      Deno.kill(aPid, "SIGKILL");
      assert.equal((await a).code, SIGKILLED);
      // the next command sweeps A: its cache entry goes, the layer B holds stays (and A's intent with it)
      const other = scratch("nook-build-crash-other-");
      Deno.writeTextFileSync(`${other}/Containerfile`, "FROM bb\nLABEL x=y\n");
      const c = await nookT(["build", "-q", "-t", "other:1", other], s.env);
      assert.equal(c.code, 0, c.stderr);
      assert.equal(names(`${s.data}/layers`).length, 2, "the layer B took from the cache is still there");
      // B stops at each blob it commits: let it go on each time
      Deno.kill(bPid, "SIGCONT");
      let finished = false;
      const bDone = b.finally(() => finished = true);
      for (let i = 0; i < 1200 && !finished; i++) {
        for (const pid of stoppedWith(ctxB)) Deno.kill(pid, "SIGCONT");
        await new Promise((r) => setTimeout(r, 100));
      }
      const bOut = await bDone;
      assert.equal(bOut.code, 0, new TextDecoder().decode(bOut.stderr));
      const repair = await nookT(["system", "check", "--repair"], s.env);
      assert.equal(repair.code, 0, repair.stdout + repair.stderr);
      const state = assertConsistent(s.data);
      assert.equal(state.images, 3, "bb, other:1 and race:1");
      await assertClean(s);
      const run = await nookT(
        ["run", "--rm", "--network", "none", "race:1", "cat", "/a.txt", "/built.txt", "/b.txt"],
        s.env,
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, "a\nbuilt\nb\n");
    } finally {
      await s.reset();
    }
  },
  { skip },
);
