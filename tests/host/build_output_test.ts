/**
 * `nook build -o`: the final stage's files written into a directory (owned by the caller) or into
 * one tar (owners as in the image), the image as an oci-archive, and the image still built and
 * tagged — checked by reading what was written, as the unprivileged test user.
 */
import assert from "node:assert/strict";
import { busyboxRootfs, busyboxSkip, scratch, sh, test } from "../_helpers.ts";
import { freshStore, listTree, nookT } from "../_oci.ts";

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

const CF = `FROM bb AS build
RUN mkdir -p /app && echo hi > /app/hello && chown 1000:1000 /app/hello && ln -s hello /app/link && rm /bin/false
FROM build
RUN echo final > /app/final && chmod 0750 /app/final
`;

test("build -o writes the final stage's files into a directory and into a tar, and the image into an oci-archive", async () => {
  const s = await storeWithBase();
  const ctx = scratch("nook-build-ctx-");
  Deno.writeTextFileSync(`${ctx}/Containerfile`, CF);
  const out = scratch("nook-build-out-");
  try {
    const b = await nookT(["build", "--network", "none", "-t", "o:1", "-o", `type=local,dest=${out}/dir`, ctx], s.env);
    assert.equal(b.code, 0, b.stderr + b.stdout);
    assert.equal(Deno.readTextFileSync(`${out}/dir/app/hello`), "hi\n");
    assert.equal(Deno.readTextFileSync(`${out}/dir/app/final`), "final\n");
    assert.equal(Deno.readLinkSync(`${out}/dir/app/link`), "hello");
    assert.equal(Deno.statSync(`${out}/dir/app/final`).mode! & 0o7777, 0o750);
    assert.ok(Deno.lstatSync(`${out}/dir/bin/sh`).isSymlink);
    assert.throws(() => Deno.lstatSync(`${out}/dir/bin/false`), Deno.errors.NotFound, "a file deleted in a layer is not written");
    for (const f of ["app", "app/hello", "app/final", "bin"]) {
      assert.equal(Deno.lstatSync(`${out}/dir/${f}`).uid, Deno.uid(), `${f} belongs to the caller`);
    }
    assert.ok(!listTree(`${out}/dir`).some((f) => /(^|\/)\.wh\./.test(f)), "no whiteout is written");
    const r = await nookT(["run", "--rm", "--network", "none", "o:1", "cat", "/app/final"], s.env);
    assert.equal(r.stdout, "final\n", "the image is built and tagged too");

    // the same files as one tar, owners as in the image; the rebuild is cached and still writes it
    const t = await nookT(["build", "--network", "none", "-o", `type=tar,dest=${out}/fs.tar`, ctx], s.env);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout + t.stderr, /Using cache/);
    const list = await sh("tar", ["--numeric-owner", "-tvf", `${out}/fs.tar`]);
    assert.equal(list.code, 0, list.stderr);
    const names = (await sh("tar", ["-tf", `${out}/fs.tar`])).stdout.split("\n").filter(Boolean).map((n) => n.replace(/\/$/, "")).sort();
    assert.deepEqual(names, listTree(`${out}/dir`), "the tar holds what the directory holds");
    assert.match(list.stdout, /^-rw-r--r-- 1000\/1000 +3 .* app\/hello$/m);
    assert.match(list.stdout, /^-rwxr-x--- 0\/0 .* app\/final$/m);
    assert.deepEqual(listTree(out).filter((f) => f.endsWith(".tmp")), [], "no temporary file is left");

    const o = await nookT(["build", "-q", "--network", "none", "-o", `type=oci-archive,dest=${out}/img.tar`, ctx], s.env);
    assert.equal(o.code, 0, o.stderr);
    const members = (await sh("tar", ["-tf", `${out}/img.tar`])).stdout;
    assert.match(members, /^oci-layout$/m);
    assert.match(members, /^index\.json$/m);
    const s2 = freshStore();
    try {
      const l = await nookT(["load", "-q", "-i", `${out}/img.tar`], s2.env);
      assert.equal(l.code, 0, l.stderr);
      const id = (await nookT(["images", "-q", "--no-trunc"], s2.env)).stdout.trim();
      assert.equal(id, o.stdout.trim(), "the archive holds the built image");
    } finally {
      await s2.reset();
    }
  } finally {
    await s.reset();
  }
}, { skip: busyboxSkip() });

test("build -o refuses what it cannot write, before it builds", async () => {
  const s = freshStore();
  const ctx = scratch("nook-build-ctx-");
  Deno.writeTextFileSync(`${ctx}/Containerfile`, "FROM scratch\n");
  try {
    for (const [o, want] of [
      ["type=zip,dest=/tmp/x", /Unknown output type "zip"/],
      ["type=tar", /has no dest=/],
      ["-", /cannot write its output to standard output/],
      ["type=tar,dest=-", /cannot write its output to standard output/],
      ["type=local,dest=/x,mode=1", /unknown key "mode"/],
    ] as const) {
      const r = await nookT(["build", "-o", o, ctx], s.env);
      assert.notEqual(r.code, 0, o);
      assert.match(r.stderr, want, o);
    }
  } finally {
    await s.reset();
  }
});
