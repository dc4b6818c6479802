/**
 * Adding an image is a transaction (src/store/intent.ts): nook killed at each named step of pull
 * (against the real local registry), load and import (`NOOK_CRASH_AT`, honoured under the test
 * harness) leaves a state that the next command finishes or rolls back. Afterwards the store holds
 * no partial blob, no temporary file or directory and no half image (every blob and layer belongs
 * to an image record), `nook system check` reports it clean, and `rmi` takes everything away.
 */
import { assert, busyboxSkip, scratch, subidSkip, test } from "../_helpers.ts";
import {
  busyboxEntries,
  fileHash,
  freshStore,
  image,
  layer,
  listTree,
  nookT,
  ociArchive,
  push,
  registryBlobPath,
  registrySkip,
  startRegistry,
  tar,
  type TestRegistry,
} from "../_oci.ts";

const skip = busyboxSkip() ?? subidSkip();
const SIGKILLED = 137;

let shared: TestRegistry | undefined;
async function registry(): Promise<TestRegistry> {
  shared ??= await startRegistry();
  return shared;
}

/** The image the tests add: busybox and a second layer with a file the container reads. */
function testImage() {
  return image(
    [layer(busyboxEntries()), layer([{ name: "etc/crash", content: "whole\n" }], "zstd")],
    { Cmd: ["cat", "/etc/crash"] },
  );
}

/**
 * The store is consistent: no temporary entry, no open intent, every blob whole and used by an
 * image record, every layer used by one, and each record's blobs and layers present.
 */
function assertConsistent(data: string, images: number): void {
  assert.deepEqual(listTree(`${data}/tmp`), [], "no temporary file or directory is left");
  assert.deepEqual(listTree(`${data}/intents`), [], "no transaction is left open");
  const recs = JSON.parse(Deno.readTextFileSync(`${data}/images.json`)).images as {
    id: string;
    manifest: string;
    repoDigests: string[];
    layers: { digest: string; chainId: string }[];
  }[];
  assert.equal(recs.length, images, JSON.stringify(recs.map((r) => r.id)));
  const blobs = new Set<string>();
  const layers = new Set<string>();
  for (const r of recs) {
    blobs.add(r.id.slice(7));
    blobs.add(r.manifest.slice(7));
    for (const d of r.repoDigests) blobs.add(d.slice(d.indexOf("@sha256:") + 8));
    for (const l of r.layers) {
      blobs.add(l.digest.slice(7));
      layers.add(l.chainId.slice(7));
    }
  }
  const onDisk = listTree(`${data}/blobs/sha256`);
  for (const hex of onDisk) assert.equal(fileHash(`${data}/blobs/sha256/${hex}`), hex, `blob ${hex} is whole`);
  assert.deepEqual(onDisk.sort(), [...blobs].sort(), "exactly the blobs of the image records");
  const layerDirs = (() => {
    try {
      return [...Deno.readDirSync(`${data}/layers`)].map((e) => e.name).sort();
    } catch {
      return [];
    }
  })();
  assert.deepEqual(layerDirs, [...layers].sort(), "exactly the layers of the image records");
  for (const hex of layerDirs) assert.ok(listTree(`${data}/layers/${hex}`).includes("layer.json"));
}

/** After the crash: system check finds the interrupted transaction; after `next`, all is clean. */
async function afterCrash(
  s: ReturnType<typeof freshStore>,
  op: string,
  next: () => Promise<{ code: number; stdout: string; stderr: string }>,
  name: string,
  images = 1,
): Promise<void> {
  const check = await nookT(["system", "check"], s.env);
  assert.equal(check.code, 1, `system check finds the interrupted ${op}: ${check.stdout}${check.stderr}`);
  assert.match(check.stdout, new RegExp(`${op} of ".*" interrupted by a nook that was killed`));
  const again = await next();
  assert.equal(again.code, 0, `the next ${op} succeeds: ${again.stderr}`);
  assertConsistent(s.data, images);
  const clean = await nookT(["system", "check"], s.env);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /nothing left behind/);
  const listed = await nookT(["images"], s.env);
  assert.equal(listed.code, 0, listed.stderr);
  assert.ok(listed.stdout.includes(name.slice(0, name.lastIndexOf(":"))), listed.stdout);
  const run = await nookT(["run", "--rm", name, "cat", "/etc/crash"], s.env);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "whole\n");
  const recs = JSON.parse(Deno.readTextFileSync(`${s.data}/images.json`)).images as { id: string; names: string[] }[];
  const rmi = await nookT(["rmi", name, ...recs.filter((r) => !r.names.length).map((r) => r.id)], s.env);
  assert.equal(rmi.code, 0, rmi.stderr);
  assert.deepEqual(listTree(`${s.data}/blobs/sha256`), [], "rmi took every blob away");
  assert.deepEqual(listTree(`${s.data}/layers`), [], "rmi took every layer away");
}

for (const step of ["intent", "download", "blob", "layer", "config", "record"]) {
  test(`pull killed at pull.${step}: the next pull finishes it and the store is consistent`, async () => {
    const reg = await registry();
    const s = freshStore({ NOOK_TEST_CI: "1" });
    try {
      const img = testImage();
      await push(reg.host, "crash/pull", "1", img);
      const name = `${reg.host}/crash/pull:1`;
      const r = await nookT(["pull", name], { ...s.env, NOOK_CRASH_AT: `pull.${step}` });
      assert.equal(r.code, SIGKILLED, `nook was to kill itself at pull.${step}: ${r.stderr}`);
      await afterCrash(s, "pull", () => nookT(["pull", name], s.env), name);
    } finally {
      await s.reset();
    }
  }, { skip: skip ?? registrySkip() });
}

for (const cleanup of [["system", "check", "--repair"], ["image", "prune", "-f"]]) {
  test(`pulls killed while they download: ${cleanup.join(" ")} rolls them back and leaves an empty store`, async () => {
    const reg = await registry();
    const s = freshStore({ NOOK_TEST_CI: "1" });
    try {
      const img = testImage();
      await push(reg.host, "crash/repair", "1", img);
      const name = `${reg.host}/crash/repair:1`;
      for (const step of ["download", "layer"]) {
        const r = await nookT(["pull", name], { ...s.env, NOOK_CRASH_AT: `pull.${step}` });
        assert.equal(r.code, SIGKILLED, r.stderr);
      }
      const check = await nookT(["system", "check"], s.env);
      assert.equal(check.code, 1, check.stdout + check.stderr);
      assert.match(check.stdout, /found: pull of ".*crash\/repair:1" interrupted by a nook that was killed/);
      const repair = await nookT(cleanup, s.env);
      assert.equal(repair.code, 0, repair.stdout + repair.stderr);
      assert.deepEqual(listTree(`${s.data}/blobs/sha256`), [], "no blob of a half image is left");
      assert.deepEqual(listTree(`${s.data}/layers`), [], "no layer of a half image is left");
      assert.deepEqual(listTree(`${s.data}/tmp`), [], "no partial download is left");
      assert.deepEqual(listTree(`${s.data}/intents`), []);
      const clean = await nookT(["system", "check"], s.env);
      assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    } finally {
      await s.reset();
    }
  }, { skip: skip ?? registrySkip() });
}

for (const step of ["read", "intent", "blob", "layer", "config", "record"]) {
  test(`load killed at load.${step}: the next load finishes it and the store is consistent`, async () => {
    const s = freshStore({ NOOK_TEST_CI: "1" });
    const dir = scratch("nook-crash-load-");
    try {
      const archive = `${dir}/img.tar`;
      Deno.writeFileSync(archive, ociArchive(testImage(), "localhost/crash/load:1"));
      const r = await nookT(["load", "-i", archive], { ...s.env, NOOK_CRASH_AT: `load.${step}` });
      assert.equal(r.code, SIGKILLED, `nook was to kill itself at load.${step}: ${r.stderr}`);
      await afterCrash(s, "load", () => nookT(["load", "-i", archive], s.env), "localhost/crash/load:1");
    } finally {
      await s.reset();
      Deno.removeSync(dir, { recursive: true });
    }
  }, { skip });
}

for (const step of ["unpack", "intent", "blob", "layer", "config", "record"]) {
  test(`import killed at import.${step}: the next import finishes it and the store is consistent`, async () => {
    const s = freshStore({ NOOK_TEST_CI: "1" });
    const dir = scratch("nook-crash-import-");
    try {
      const rootfs = `${dir}/rootfs.tar`;
      Deno.writeFileSync(rootfs, tar([...busyboxEntries(), { name: "etc/crash", content: "whole\n" }]));
      const r = await nookT(["import", rootfs, "crash/import:1"], { ...s.env, NOOK_CRASH_AT: `import.${step}` });
      assert.equal(r.code, SIGKILLED, `nook was to kill itself at import.${step}: ${r.stderr}`);
      // an import killed after it recorded its image is finished; the next import makes a second image (a new config)
      const images = step === "record" ? 2 : 1;
      await afterCrash(
        s,
        "import",
        () => nookT(["import", rootfs, "crash/import:1"], s.env),
        "localhost/crash/import:1",
        images,
      );
    } finally {
      await s.reset();
      Deno.removeSync(dir, { recursive: true });
    }
  }, { skip });
}

test("a failed pull rolls back only what it made: a layer it found, used by a container, stays", async () => {
  const reg = await registry();
  const s = freshStore();
  const dir = scratch("nook-crash-keep-");
  try {
    // the same files as the pulled image's first layer: one chain ID, made by import first
    Deno.writeFileSync(`${dir}/rootfs.tar`, tar(busyboxEntries()));
    const imported = await nookT(["import", `${dir}/rootfs.tar`, "keep/img"], s.env);
    assert.equal(imported.code, 0, imported.stderr);
    const run = await nookT(["run", "-d", "--name", "pinned", "keep/img", "sleep", "1000"], s.env);
    assert.equal(run.code, 0, run.stderr);
    // its image goes; the layer stays for the container alone
    const rmi = await nookT(["rmi", "-f", "keep/img"], s.env);
    assert.equal(rmi.code, 0, rmi.stderr);
    const before = listTree(`${s.data}/layers`).filter((p) => !p.includes("/"));
    assert.equal(before.length, 1, JSON.stringify(before));
    const bad = layer([{ name: "payload", content: "original content of the layer\n" }], "none");
    const img = image([layer(busyboxEntries()), bad]);
    await push(reg.host, "crash/keep", "1", img);
    const blob = registryBlobPath(reg, bad.digest);
    const bytes = Deno.readFileSync(blob);
    bytes.set(new TextEncoder().encode("ORIGINAL"), bytes.indexOf(new TextEncoder().encode("original")[0]!, 512));
    Deno.writeFileSync(blob, bytes);
    const r = await nookT(["pull", `${reg.host}/crash/keep:1`], s.env);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, /Digest mismatch/);
    assert.deepEqual(listTree(`${s.data}/layers`).filter((p) => !p.includes("/")), before, "the layer it found stays");
    assert.deepEqual(listTree(`${s.data}/intents`), []);
    assert.deepEqual(listTree(`${s.data}/tmp`), []);
    const exec = await nookT(["exec", "pinned", "cat", "/etc/passwd"], s.env);
    assert.equal(exec.code, 0, exec.stderr);
    const rm = await nookT(["rm", "-f", "pinned"], s.env);
    assert.equal(rm.code, 0, rm.stderr);
  } finally {
    await s.reset();
    Deno.removeSync(dir, { recursive: true });
  }
}, { skip: skip ?? registrySkip() });
