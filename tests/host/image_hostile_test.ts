/**
 * Hostile tarballs, built byte by byte: path traversal (absolute names resolve
 * inside the layer, as docker and GNU tar read them),
 * symlinks and hard links that lead out of the layer, writes through a
 * symlink planted earlier, device nodes, huge header fields. import, load
 * and pull must refuse them (or skip what cannot be made) and nothing
 * outside the store may change: a canary file next to it stays as it was.
 */
import { assert, busyboxSkip, scratch, subidSkip, test } from "../_helpers.ts";
import {
  freshStore,
  image,
  layer,
  listTree,
  nookT,
  ociArchive,
  push,
  registrySkip,
  startRegistry,
  tar,
  type TarEntry,
  type TestRegistry,
} from "../_oci.ts";

const skip = busyboxSkip() ?? subidSkip();

function canary(): { dir: string; check: () => void } {
  const dir = scratch("nook-canary-");
  Deno.chmodSync(dir, 0o755);
  Deno.writeTextFileSync(`${dir}/canary`, "untouched\n");
  const before = listTree(dir);
  return {
    dir,
    check: () => {
      assert.equal(Deno.readTextFileSync(`${dir}/canary`), "untouched\n", "the canary outside the store was changed");
      assert.deepEqual(listTree(dir), before, "something was created next to the canary");
      assert.equal(Deno.statSync(`${dir}/canary`).nlink, 1, "the canary got a hard link");
    },
  };
}

function cases(dir: string): [string, TarEntry[], RegExp][] {
  const up = "../".repeat(40);
  return [
    ["a name that climbs out with ..", [{ name: `${up}${dir.slice(1)}/canary`, content: "pwned" }], /climbs out/],
    [
      "an absolute name that climbs out with ..",
      [{ name: `/${up}${dir.slice(1)}/canary`, content: "pwned" }],
      /climbs out/,
    ],
    ["a write through a symlink planted earlier", [
      { name: "evil", type: "symlink", linkname: dir },
      { name: "evil/canary", content: "pwned" },
    ], /symlink/],
    ["a new file through a symlink to /", [
      { name: "root", type: "symlink", linkname: "/" },
      { name: `root${dir}/new`, content: "pwned" },
    ], /symlink/],
    ["a directory through a planted symlink", [
      { name: "d", type: "symlink", linkname: dir },
      { name: "d/sub/", type: "dir" },
    ], /symlink/],
    ["a relative symlink that climbs above the root", [{
      name: "x/y",
      type: "symlink",
      linkname: `${up}${dir.slice(1)}`,
    }], /climbs above the root/],
    [
      "a hard link to a host file by ..",
      [{ name: "h", type: "link", linkname: `${up}${dir.slice(1)}/canary` }],
      /climbs out/,
    ],
    [
      "a hard link to a host file by absolute name",
      [{ name: "h", type: "link", linkname: `${dir}/canary` }],
      /not in this layer/,
    ],
    ["a hard link through a symlink", [
      { name: "s", type: "symlink", linkname: dir },
      { name: "h", type: "link", linkname: "s/canary" },
    ], /symlink/],
    ["a whiteout that climbs out", [{ name: `${up}${dir.slice(1)}/.wh.canary`, content: "" }], /climbs out/],
    [
      "a huge PAX header",
      [{ name: "big", content: "x", pax: { comment: "x".repeat(5 * 1024 * 1024) } }],
      /holds \d+ bytes, more than 1048576/,
    ],
    ["a name longer than PATH_MAX", [{ name: "n/".repeat(3000) + "f", content: "x" }], /longer than/],
  ];
}

function storeIsEmpty(data: string): void {
  for (const d of ["layers", "blobs/sha256", "tmp"]) {
    assert.deepEqual(listTree(`${data}/${d}`), [], `${d}/ is not empty`);
  }
}

test("import refuses hostile tarballs and changes nothing outside the store", async () => {
  const c = canary();
  const s = freshStore();
  try {
    for (const [what, entries, why] of cases(c.dir)) {
      const f = `${scratch()}/hostile.tar`;
      Deno.writeFileSync(f, tar(entries));
      const r = await nookT(["import", f, "hostile:1"], s.env);
      assert.equal(r.code, 125, `${what}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, why, what);
      c.check();
      storeIsEmpty(s.data);
      assert.equal((await nookT(["images", "-q"], s.env)).stdout, "", `${what}: no image was recorded`);
    }
  } finally {
    await s.reset();
  }
}, { skip });

test("an absolute name lands inside the layer, never next to the store", async () => {
  const c = canary();
  const s = freshStore();
  try {
    const f = `${scratch()}/absolute.tar`;
    Deno.writeFileSync(
      f,
      tar([
        { name: "/", type: "dir" },
        { name: `${c.dir}/canary`, content: "inside" },
        { name: "/h", type: "link", linkname: `${c.dir}/canary` },
      ]),
    );
    const r = await nookT(["import", f, "absolute:1"], s.env);
    assert.equal(r.code, 0, r.stderr);
    c.check();
    const layers = listTree(`${s.data}/layers`);
    assert.ok(layers.some((p) => p.endsWith(`/diff${c.dir}/canary`)), layers.join("\n"));
    assert.ok(layers.some((p) => p.endsWith("/diff/h")), layers.join("\n"));
  } finally {
    await s.reset();
  }
}, { skip });

test("device nodes are skipped with a note, the rest of the layer is kept", async () => {
  const c = canary();
  const s = freshStore();
  try {
    const f = `${scratch()}/dev.tar`;
    Deno.writeFileSync(
      f,
      tar([
        { name: "dev/", type: "dir" },
        { name: "dev/sda", type: "block", dev: [8, 0] },
        { name: "dev/mem", type: "char", dev: [1, 1] },
        { name: "ok", content: "ok" },
      ]),
    );
    const r = await nookT(["import", f, "devs:1"], s.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /skipped 2 device nodes \(dev\/sda, dev\/mem\)/);
    const layers = listTree(`${s.data}/layers`);
    assert.ok(layers.some((p) => p.endsWith("/diff/ok")));
    assert.ok(!layers.some((p) => p.endsWith("/diff/dev/sda") || p.endsWith("/diff/dev/mem")));
    c.check();
  } finally {
    await s.reset();
  }
}, { skip });

test("load refuses an archive whose layer is hostile, and stores nothing of it", async () => {
  const c = canary();
  const s = freshStore();
  try {
    for (const [what, entries, why] of cases(c.dir).slice(2, 9)) {
      const img = image([layer(entries)]);
      const f = `${scratch()}/hostile-oci.tar`;
      Deno.writeFileSync(f, ociArchive(img, "localhost/hostile:1"));
      const r = await nookT(["load", "-i", f], s.env);
      assert.equal(r.code, 125, `${what}: ${r.stderr}`);
      assert.match(r.stderr, why, what);
      c.check();
      assert.deepEqual(listTree(`${s.data}/layers`), [], `${what}: no layer was committed`);
      assert.deepEqual(listTree(`${s.data}/tmp`), [], `${what}: no temporary files are left`);
      assert.equal((await nookT(["images", "-q"], s.env)).stdout, "");
    }
    // the archive's own member names are never used as paths
    const sneaky = tar([
      { name: "oci-layout", content: '{"imageLayoutVersion":"1.0.0"}' },
      { name: `${"../".repeat(30)}${c.dir.slice(1)}/canary`, content: "pwned" },
      { name: `${c.dir}/canary`, content: "pwned" },
      { name: "index.json", content: '{"schemaVersion":2,"manifests":[]}' },
    ]);
    const f = `${scratch()}/sneaky.tar`;
    Deno.writeFileSync(f, sneaky);
    const r = await nookT(["load", "-i", f], s.env);
    assert.equal(r.code, 0, r.stderr);
    c.check();
  } finally {
    await s.reset();
  }
}, { skip });

let reg: TestRegistry | undefined;

test("pull refuses an image with a hostile layer and changes nothing outside the store", async () => {
  const c = canary();
  const s = freshStore();
  reg ??= await startRegistry();
  try {
    for (const [i, [what, entries, why]] of cases(c.dir).slice(2, 9).entries()) {
      const img = image([layer(entries)]);
      await push(reg.host, `hostile/case${i}`, "1", img);
      const r = await nookT(["pull", `${reg.host}/hostile/case${i}:1`], s.env);
      assert.equal(r.code, 125, `${what}: ${r.stderr}`);
      assert.match(r.stderr, why, what);
      c.check();
      assert.deepEqual(listTree(`${s.data}/layers`), [], `${what}: no layer was committed`);
      assert.deepEqual(listTree(`${s.data}/tmp`), [], `${what}: no partial download is kept for a hostile layer`);
    }
  } finally {
    await s.reset();
    await reg?.stop();
    reg = undefined;
  }
}, { skip: skip ?? registrySkip() });
