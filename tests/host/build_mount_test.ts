/**
 * `nook build`'s `RUN --mount`: a cache directory kept between builds, binds of the context and of
 * an earlier stage (read-only unless rw, and rw changes thrown away), secrets that a step reads
 * but no layer, cache entry or history ever holds, and tmpfs — each asserted by what the step saw
 * and what the built image holds, as the unprivileged test user.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { busyboxRootfs, busyboxSkip, exists, scratch, sh, test } from "../_helpers.ts";
import { freshStore, listTree, nookT } from "../_oci.ts";

/** A store with the busybox image `bb` imported. */
async function storeWithBase(extraEnv: Record<string, string> = {}): Promise<ReturnType<typeof freshStore>> {
  const s = freshStore(extraEnv);
  const file = `${scratch("nook-build-base-")}/bb.tar`;
  const tar = await sh("tar", ["--owner=0", "--group=0", "--numeric-owner", "-C", busyboxRootfs(), "-cf", file, "."]);
  assert.equal(tar.code, 0, tar.stderr);
  const r = await nookT(["import", "-q", file, "bb"], s.env);
  assert.equal(r.code, 0, r.stderr);
  return s;
}

function context(files: Record<string, string>): string {
  const dir = scratch("nook-build-ctx-");
  for (const [name, content] of Object.entries(files)) {
    const p = `${dir}/${name}`;
    Deno.mkdirSync(p.slice(0, p.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(p, content);
  }
  return dir;
}

/** Every blob of the store, uncompressed when it is gzip. */
function storeBlobs(data: string): { name: string; bytes: Uint8Array }[] {
  return listTree(`${data}/blobs`).filter((f) => /[0-9a-f]{64}$/.test(f)).map((f) => {
    const raw = Deno.readFileSync(`${data}/blobs/${f}`);
    return { name: f, bytes: raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw };
  });
}

const SECRET = "S3CRET-value-7f1e";

const MOUNTS = `FROM bb AS src
RUN mkdir -p /stage-out && echo from-stage > /stage-out/s.txt
FROM bb
ARG ROUND
RUN --mount=type=cache,target=/var/cache/app,id=appcache echo "round $ROUND" >> /var/cache/app/log && cat /var/cache/app/log > /cache-log
RUN --mount=type=bind,source=data,target=/mnt/data cat /mnt/data/x.txt > /bound && (touch /mnt/data/new 2>/dev/null && echo writable || echo read-only) >> /bound
RUN --mount=type=bind,from=src,source=/stage-out,target=/s cat /s/s.txt >> /bound
RUN --mount=type=bind,source=data/x.txt,target=/one.txt,rw echo changed > /one.txt && cat /one.txt >> /bound
RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -c1-64 > /secret-sum && stat -c '%a %u' /run/secrets/tok >> /secret-sum
RUN --mount=type=secret,id=tok,env=TOKEN,mode=0440,uid=1000 echo "\${#TOKEN}" > /secret-len
RUN --mount=type=tmpfs,target=/scratch/t,size=1m grep " /scratch/t " /proc/mounts | cut -d" " -f3 > /tmpfs-type && echo x > /scratch/t/f
`;

const fuseSkip = exists("/usr/bin/fuse-overlayfs") ? undefined : "fuse-overlayfs is not installed (apt install fuse-overlayfs)";

for (const backend of ["the default storage", "fuse-overlayfs"] as const) {
  const skip = busyboxSkip() ?? (backend === "fuse-overlayfs" ? fuseSkip : undefined);
  test(`RUN --mount (${backend}): a cache kept between builds, binds read-only unless rw, a secret seen but never stored, tmpfs`, async () => {
    await mountsBuild(backend === "fuse-overlayfs" ? { NOOK_STORAGE_BACKEND: "fuse-overlayfs" } : {});
  }, { skip });
}

async function mountsBuild(extraEnv: Record<string, string>): Promise<void> {
  const s = await storeWithBase(extraEnv);
  const ctx = context({ "Containerfile": MOUNTS, "data/x.txt": "context file\n" });
  const secretFile = `${scratch("nook-build-secret-")}/tok`;
  Deno.writeTextFileSync(secretFile, SECRET);
  try {
    const build = (round: string, extra: string[] = []) =>
      nookT(["build", "--network", "none", "--build-arg", `ROUND=${round}`, "--secret", `id=tok,src=${secretFile}`, ...extra, "-t", `m:${round}`, ctx], s.env);
    const b1 = await build("1");
    assert.equal(b1.code, 0, b1.stderr + b1.stdout);
    const show = (tag: string) =>
      nookT(["run", "--rm", "--network", "none", tag, "sh", "-c", "cat /cache-log /bound /secret-sum /secret-len /tmpfs-type; ls -d /var/cache/app /mnt/data /s /one.txt /run/secrets /scratch/t 2>&1 | sort"], s.env);
    const r1 = await show("m:1");
    assert.equal(r1.code, 0, r1.stderr);
    const sum = createHash("sha256").update(SECRET).digest("hex");
    const expectRest = `context file\nread-only\nfrom-stage\nchanged\n${sum}\n400 0\n${SECRET.length}\ntmpfs\n` +
      ["/mnt/data", "/one.txt", "/run/secrets", "/s", "/scratch/t", "/var/cache/app"].map((p) => `ls: ${p}: No such file or directory`).sort().join("\n") + "\n";
    assert.equal(r1.stdout, "round 1\n" + expectRest, "what each step saw; no mount point is left in the image");
    assert.equal(Deno.readTextFileSync(`${ctx}/data/x.txt`), "context file\n", "an rw bind's changes never reach the context");
    assert.deepEqual(listTree(`${ctx}/data`), ["x.txt"]);

    // the cache directory is there in the next build (a new ROUND reruns the step)
    const b2 = await build("2");
    assert.equal(b2.code, 0, b2.stderr);
    assert.equal((await show("m:2")).stdout, "round 1\nround 2\n" + expectRest);

    // the secret is in no blob (layers, configs, manifests), no cache entry and no history line
    for (const blob of storeBlobs(s.data)) {
      assert.ok(!new TextDecoder("latin1").decode(blob.bytes).includes(SECRET), `the secret is in the blob ${blob.name}`);
    }
    for (const f of listTree(`${s.data}/build-cache`).filter((f) => f.endsWith(".json"))) {
      assert.ok(!Deno.readTextFileSync(`${s.data}/build-cache/${f}`).includes(SECRET));
    }
    // nor in any file of the store (layer directories, temporary files, cache mounts)
    const grep = await sh("grep", ["-r", "-l", "--binary-files=text", "-F", SECRET, s.data]);
    assert.equal(grep.stdout, "", "no file of the store holds the secret");
    const hist = await nookT(["history", "--no-trunc", "m:2"], s.env);
    assert.doesNotMatch(hist.stdout, new RegExp(SECRET));

    // a new secret value alone reruns nothing (its content is not in the key); new bind content does
    Deno.writeTextFileSync(secretFile, "another value");
    const b3 = await build("2");
    assert.equal(b3.code, 0, b3.stderr);
    assert.equal(((b3.stdout + b3.stderr).match(/--> Using cache/g) ?? []).length, 8, b3.stdout + b3.stderr);
    Deno.writeTextFileSync(`${ctx}/data/x.txt`, "context file 2\n");
    const b4 = await build("2");
    assert.equal(b4.code, 0, b4.stderr);
    assert.match((await nookT(["run", "--rm", "--network", "none", "m:2", "head", "-1", "/bound"], s.env)).stdout, /^context file 2$/m);
  } finally {
    await s.reset();
  }
}

test("--secret from a variable; RUN --mount errors name the line: a required secret not given, an unknown type, a bind that leaves the context", async () => {
  const s = await storeWithBase();
  try {
    const cases: [string, RegExp][] = [
      ["FROM bb\nRUN --mount=type=secret,id=nope,required true\n", /Containerfile:2: RUN: the secret "nope" is required but was not given/],
      ["FROM bb\nRUN --mount=type=volume,target=/x true\n", /Containerfile:2: RUN: invalid --mount "type=volume,target=\/x": unknown type "volume"/],
      ["FROM bb\n\nRUN --mount=type=bind,source=../..,target=/x true\n", /Containerfile:3: RUN: .*outside the build context/],
      ["FROM bb\nRUN --mount=type=cache true\n", /Containerfile:2: RUN: invalid --mount "type=cache": a target is needed/],
    ];
    for (const [cf, want] of cases) {
      const ctx = context({ "Containerfile": cf });
      const r = await nookT(["build", "--network", "none", ctx], s.env);
      assert.equal(r.code, 125, cf + r.stderr);
      assert.match(r.stderr, want);
    }
    // a secret from an environment variable of the build
    const fromEnv = context({ "Containerfile": "FROM bb\nRUN --mount=type=secret,id=e wc -c < /run/secrets/e > /len\n" });
    const e = await nookT(["build", "--network", "none", "-t", "env:1", "--secret", "id=e,env=NOOK_TEST_SECRET", fromEnv], { ...s.env, NOOK_TEST_SECRET: "12345" });
    assert.equal(e.code, 0, e.stderr);
    assert.equal((await nookT(["run", "--rm", "--network", "none", "env:1", "cat", "/len"], s.env)).stdout.trim(), "5");
    const unset = await nookT(["build", "--secret", "id=e,env=NOOK_TEST_UNSET", fromEnv], s.env);
    assert.equal(unset.code, 125);
    assert.match(unset.stderr, /The secret "e" reads the environment variable "NOOK_TEST_UNSET", which is not set/);

    const ctx = context({ "Containerfile": "FROM bb\n" });
    const missing = await nookT(["build", "--secret", "id=x,src=/nonexistent/file", ctx], s.env);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /Cannot read the secret file "\/nonexistent\/file" of "x": no such file/);
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });

test("RUN --mount=type=cache,sharing=locked: two builds at once take turns on the cache", async () => {
  const s = await storeWithBase();
  const cf = (n: string) =>
    `FROM bb\nRUN --mount=type=cache,target=/c,sharing=locked if [ -e /c/busy ]; then echo CLASH >> /c/clash; fi; touch /c/busy; sleep 1; rm /c/busy; echo ${n} >> /c/runs\n` +
    "RUN --mount=type=cache,target=/c cat /c/runs | sort > /runs; cat /c/clash 2>/dev/null > /clash; true\n";
  const a = context({ "Containerfile": cf("a") });
  const b = context({ "Containerfile": cf("b") });
  try {
    const [ra, rb] = await Promise.all([a, b].map((ctx, n) => nookT(["build", "--network", "none", "-t", `l:${n}`, ctx], s.env)));
    assert.equal(ra!.code, 0, ra!.stderr);
    assert.equal(rb!.code, 0, rb!.stderr);
    const seen = await nookT(["run", "--rm", "--network", "none", "l:1", "cat", "/clash"], s.env);
    assert.equal(seen.stdout, "", "never two at once");
    const last = await nookT(["build", "-q", "--network", "none", "--no-cache", context({ "Containerfile": "FROM bb\nRUN --mount=type=cache,target=/c,sharing=locked sort /c/runs > /runs\n" })], s.env);
    assert.equal((await nookT(["run", "--rm", "--network", "none", last.stdout.trim(), "cat", "/runs"], s.env)).stdout, "a\nb\n");
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });

test("image prune drops build-cache records of layers gone; --build-cache also the cache mounts and kept hashes", async () => {
  const s = await storeWithBase();
  const ctx = context({
    "Containerfile": "FROM bb\nCOPY a.txt /a.txt\nCOPY --from=bb /bin/busybox /bb-copy\n" +
      "RUN --mount=type=cache,target=/c,id=prunecache echo run >> /c/log && chown -R 1000:1000 /c && cat /c/log > /log\n",
    "a.txt": "a\n",
  });
  const cache = `${s.data}/build-cache`;
  const kinds = () => {
    const names = listTree(cache);
    return {
      steps: names.filter((n) => /^[0-9a-f]{64}\.json$/.test(n)).length,
      files: names.filter((n) => /^files-/.test(n)).length,
      from: names.filter((n) => /^from-/.test(n)).length,
      mounts: names.filter((n) => /^mounts\/[0-9a-f]+$/.test(n)).length,
    };
  };
  const build = (...extra: string[]) => nookT(["build", "--network", "none", ...extra, ctx], s.env);
  // a file changed in the last two seconds gets no kept hash (its times could still be those of the next write)
  await new Promise((r) => setTimeout(r, 2100));
  try {
    const b = await build("-t", "x:1");
    assert.equal(b.code, 0, b.stderr);
    const before = kinds();
    assert.deepEqual(before, { steps: 3, files: 1, from: 1, mounts: 1 }, listTree(cache).join("\n"));
    const tree = listTree(cache);

    // the image is named: every record is live, nothing of the cache goes
    const p1 = await nookT(["image", "prune", "-f"], s.env);
    assert.equal(p1.code, 0, p1.stderr);
    assert.deepEqual(listTree(cache), tree);
    const again = await build();
    assert.equal(((again.stdout + again.stderr).match(/--> Using cache/g) ?? []).length, 3, again.stdout + again.stderr);

    // the image goes: its layers, then the records that named them; the mount and hashes stay
    assert.equal((await nookT(["rmi", "x:1"], s.env)).code, 0);
    const p2 = await nookT(["image", "prune", "-f"], s.env);
    assert.equal(p2.code, 0, p2.stderr);
    assert.match(p2.stdout, /Removed from the build cache: 3 step records, 0 kept hashes, 0 cache mounts/);
    assert.deepEqual(kinds(), { steps: 0, files: 1, from: 1, mounts: 1 });

    // --build-cache: the cache mount (files of uid 1000 in it) and the kept hashes go too
    const b2 = await build("-t", "x:2");
    assert.equal(b2.code, 0, b2.stderr);
    assert.equal((await nookT(["run", "--rm", "--network", "none", "x:2", "cat", "/log"], s.env)).stdout, "run\nrun\n", "the cache mount was kept");
    const p3 = await nookT(["image", "prune", "-f", "--build-cache"], s.env);
    assert.equal(p3.code, 0, p3.stderr);
    assert.match(p3.stdout, /Removed from the build cache: 0 step records, 2 kept hashes, 1 cache mounts/);
    assert.deepEqual(kinds(), { steps: 3, files: 0, from: 0, mounts: 0 }, "the records of x:2's live layers stay");
    const b3 = await build("--no-cache", "-t", "x:3");
    assert.equal(b3.code, 0, b3.stderr);
    assert.equal((await nookT(["run", "--rm", "--network", "none", "x:3", "cat", "/log"], s.env)).stdout, "run\n", "an empty cache mount again");
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });
