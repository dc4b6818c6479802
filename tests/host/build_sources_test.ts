/**
 * `nook build`'s other sources of content: the ONBUILD triggers of a base image, ADD of an http URL
 * (served by the test on 127.0.0.1; `--checksum`, the Last-Modified time, mode 0600, never unpacked)
 * and here-documents in RUN and COPY — each asserted by what the built image holds.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { busyboxRootfs, busyboxSkip, scratch, sh, test } from "../_helpers.ts";
import { freshStore, listTree, nookT, serveLocal, tar } from "../_oci.ts";

/** A store with the busybox image `bb` imported. */
async function storeWithBase(): Promise<ReturnType<typeof freshStore>> {
  const s = freshStore();
  const file = `${scratch("nook-build-base-")}/bb.tar`;
  const t = await sh("tar", ["--owner=0", "--group=0", "--numeric-owner", "-C", busyboxRootfs(), "-cf", file, "."]);
  assert.equal(t.code, 0, t.stderr);
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

const run = (s: { env: Record<string, string> }, image: string, script: string) => nookT(["run", "--rm", "--network", "none", image, "sh", "-c", script], s.env);

test("a base image's ONBUILD triggers run in the build FROM it, once, and are not inherited", async () => {
  const s = await storeWithBase();
  try {
    const base = context({ "Containerfile": "FROM bb\nONBUILD COPY trig.txt /trig.txt\nONBUILD RUN echo onbuild-ran > /ran\nRUN echo base > /base\n" });
    const b = await nookT(["build", "--network", "none", "-t", "base:1", base], s.env);
    assert.equal(b.code, 0, b.stderr);
    assert.equal((await run(s, "base:1", "ls /trig.txt /ran 2>&1 | wc -l; cat /base")).stdout, "2\nbase\n", "ONBUILD does nothing in its own image");
    const baseCfg = JSON.parse((await nookT(["image", "inspect", "base:1"], s.env)).stdout)[0].Config;
    assert.deepEqual(baseCfg.OnBuild, ["COPY trig.txt /trig.txt", "RUN echo onbuild-ran > /ran"]);

    const child = context({ "Containerfile": "FROM base:1\nRUN cat /trig.txt /ran > /result\n", "trig.txt": "from the child's context\n" });
    const c = await nookT(["build", "--network", "none", "-t", "child:1", child], s.env);
    assert.equal(c.code, 0, c.stderr);
    assert.equal((await run(s, "child:1", "cat /result")).stdout, "from the child's context\nonbuild-ran\n", "the triggers ran before the child's own steps");
    const childCfg = JSON.parse((await nookT(["image", "inspect", "child:1"], s.env)).stdout)[0].Config;
    assert.ok(!childCfg.OnBuild?.length, "the child does not keep the triggers");

    // a grandchild has no trigger to run: its context has no trig.txt and it builds
    const grand = context({ "Containerfile": "FROM child:1\nRUN cat /result > /g\n" });
    const g = await nookT(["build", "--network", "none", "-t", "grand:1", grand], s.env);
    assert.equal(g.code, 0, g.stderr);

    // a stage's triggers run in every stage FROM it, as if it were an image (BuildKit's rule)
    const stages = context({ "Containerfile": "FROM bb AS base\nONBUILD RUN echo trig > /trig\nFROM base AS one\nRUN cat /trig > /one\nFROM base\nCOPY --from=one /one /one\nRUN cat /trig /one > /both\n" });
    const st = await nookT(["build", "--network", "none", "-t", "stages:1", stages], s.env);
    assert.equal(st.code, 0, st.stderr);
    assert.equal((await run(s, "stages:1", "cat /both")).stdout, "trig\ntrig\n");

    const bad = context({ "Containerfile": "FROM bb\n\nONBUILD FROM bb\n" });
    const e = await nookT(["build", "--network", "none", bad], s.env);
    assert.equal(e.code, 125);
    assert.match(e.stderr, /Containerfile:3: ONBUILD: FROM is not allowed as a trigger/);
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });

test("ADD of an http URL: a file of mode 0600 with the Last-Modified time, --checksum checked, an archive not unpacked", async () => {
  const s = await storeWithBase();
  const body = "downloaded content\n";
  const archive = tar([{ name: "inner.txt", content: "inner\n" }]);
  const hits: string[] = [];
  const server = serveLocal((req) => {
    const path = new URL(req.url).pathname;
    hits.push(path);
    if (path === "/files/data.txt") return new Response(body, { headers: { "last-modified": "Wed, 21 Oct 2015 07:28:00 GMT" } });
    if (path === "/nolm") return new Response("no time\n");
    if (path === "/a.tar") return new Response(new Blob([archive as Uint8Array<ArrayBuffer>]));
    return new Response("not here", { status: 404, statusText: "Not Found" });
  });
  try {
    while (!server.port) await new Promise((r) => setTimeout(r, 10));
    const url = `http://${server.host}`;
    const sum = createHash("sha256").update(body).digest("hex");
    const cf = `FROM bb
ADD ${url}/files/data.txt /dl/
ADD --checksum=sha256:${sum} ${url}/files/data.txt /named.txt
ADD ${url}/a.tar ${url}/nolm /dl/
RUN stat -c '%n %a %u %Y %s' /dl/data.txt /named.txt > /st && ls /dl > /ls
`;
    const ctx = context({ "Containerfile": cf });
    const before = Math.floor(Date.now() / 1000);
    const b = await nookT(["build", "--network", "none", "-t", "u:1", ctx], s.env);
    assert.equal(b.code, 0, b.stderr + b.stdout);
    const r = await run(s, "u:1", "cat /st /ls /dl/data.txt; stat -c %Y /dl/nolm");
    const lines = r.stdout.split("\n");
    assert.deepEqual(lines.slice(0, 6), [
      `/dl/data.txt 600 0 1445412480 ${body.length}`,
      `/named.txt 600 0 1445412480 ${body.length}`,
      "a.tar",
      "data.txt",
      "nolm",
      "downloaded content",
    ]);
    assert.ok(Number(lines[6]) >= before - 1, `without Last-Modified the time is the download's (${lines[6]} >= ${before})`);
    assert.ok(hits.includes("/a.tar"));

    // a rebuild downloads again and reuses the layers when the content is the same
    const again = await nookT(["build", "--network", "none", "-t", "u:1", ctx], s.env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(((again.stdout + again.stderr).match(/--> Using cache/g) ?? []).length, 4, again.stdout + again.stderr);

    const wrong = context({ "Containerfile": `FROM bb\nADD --checksum=sha256:${"0".repeat(64)} ${url}/files/data.txt /x\n` });
    const w = await nookT(["build", "--network", "none", wrong], s.env);
    assert.equal(w.code, 125);
    assert.match(w.stderr, new RegExp(`Containerfile:2: ADD: the checksum of ".*/files/data.txt" does not match: expected sha256:0{64}, got sha256:${sum}`));
    const missing = context({ "Containerfile": `FROM bb\nADD ${url}/gone /x\n` });
    const m = await nookT(["build", "--network", "none", missing], s.env);
    assert.equal(m.code, 125);
    assert.match(m.stderr, /Containerfile:2: ADD: downloading ".*\/gone" failed: HTTP 404 Not Found/);
    const copyUrl = context({ "Containerfile": `FROM bb\nADD --checksum=sha256:${sum} local.txt /x\n`, "local.txt": "l\n" });
    const cu = await nookT(["build", "--network", "none", copyUrl], s.env);
    assert.match(cu.stderr, /--checksum needs exactly one http\(s\) URL/);
  } finally {
    await server.stop();
    await s.reset();
  }
}, { skip: busyboxSkip() });

test("here-documents: RUN <<EOF as a script, a here-document fed to a command, COPY <<EOF as files", async () => {
  const s = await storeWithBase();
  const cf = `FROM bb
ARG WHO=builder
RUN <<EOF
echo line1 > /h1
echo "$WHO" >> /h1
EOF
RUN cat <<EOF > /h2
sum $((1+2)) by $WHO
EOF
RUN cat <<'EOF' > /h3
kept $((1+2))
EOF
COPY <<EOF /etc/app.conf
who=$WHO
EOF
COPY <<A <<B /multi/
alpha
A
beta
B
RUN <<-EOF
\techo tabbed > /h4
\tEOF
`;
  try {
    const ctx = context({ "Containerfile": cf });
    const b = await nookT(["build", "--network", "none", "--build-arg", "WHO=tester", "-t", "h:1", ctx], s.env);
    assert.equal(b.code, 0, b.stderr + b.stdout);
    const r = await run(s, "h:1", "cat /h1 /h2 /h3 /etc/app.conf /multi/A /multi/B /h4; stat -c %a /etc/app.conf");
    assert.equal(r.stdout, "line1\ntester\nsum 3 by tester\nkept $((1+2))\nwho=tester\nalpha\nbeta\ntabbed\n644\n");
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });

test("COPY --from a stage that changed elsewhere is still cached when the files it copies did not change", async () => {
  const s = await storeWithBase();
  const ctx = context({
    "Containerfile": "FROM bb AS a\nCOPY data /data\nCOPY other /other\nFROM bb\nCOPY --from=a /data /data\nRUN echo \"RAN\"\"-AFTER\" && cat /data/f > /seen\n",
    "data/f": "one\n",
    "other": "x\n",
  });
  try {
    const build = async () => {
      const r = await nookT(["build", "--network", "none", "-t", "f:1", ctx], s.env);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout + r.stderr;
    };
    assert.match(await build(), /RAN-AFTER/);
    const same = await build();
    assert.doesNotMatch(same, /RAN-AFTER/);
    assert.equal((same.match(/--> Using cache/g) ?? []).length, 4, same);
    Deno.writeTextFileSync(`${ctx}/other`, "y\n");
    const elsewhere = await build();
    assert.doesNotMatch(elsewhere, /RAN-AFTER/, "the copied files are the same: the later steps are cached");
    assert.equal((elsewhere.match(/--> Using cache/g) ?? []).length, 3, elsewhere);
    Deno.writeTextFileSync(`${ctx}/data/f`, "two\n");
    assert.match(await build(), /RAN-AFTER/);
    assert.equal((await run(s, "f:1", "cat /seen")).stdout, "two\n");
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });

test("context files are hashed once and again only when their stat changes: same size and time but new content is seen", async () => {
  const s = await storeWithBase();
  const ctx = context({ "Containerfile": "FROM bb\nCOPY f /f\n", f: "aaaa\n" });
  try {
    const old = new Date(Date.now() - 3600_000);
    Deno.utimeSync(`${ctx}/f`, old, old);
    await new Promise((r) => setTimeout(r, 2100)); // older than the racy window: its hash is kept
    const b1 = await nookT(["build", "-q", "--network", "none", "-t", "h:1", ctx], s.env);
    assert.equal(b1.code, 0, b1.stderr);
    const kept = listTree(`${s.data}/build-cache`).filter((f) => /^files-.*\.json$/.test(f));
    assert.equal(kept.length, 1, "the context's hashes are kept");
    const doc = JSON.parse(Deno.readTextFileSync(`${s.data}/build-cache/${kept[0]}`));
    assert.deepEqual(Object.keys(doc.entries), [`${Deno.realPathSync(ctx)}/f`]);
    // the same size and the same mtime, other bytes: the change time tells
    Deno.writeTextFileSync(`${ctx}/f`, "bbbb\n");
    Deno.utimeSync(`${ctx}/f`, old, old);
    const b2 = await nookT(["build", "-q", "--network", "none", "-t", "h:2", ctx], s.env);
    assert.equal(b2.code, 0, b2.stderr);
    assert.notEqual(b2.stdout, b1.stdout);
    assert.equal((await run(s, "h:2", "cat /f")).stdout, "bbbb\n");
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });
