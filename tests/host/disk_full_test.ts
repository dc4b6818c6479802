/**
 * A full disk: nook's store on a small tmpfs (mounted in a user namespace of the test's own,
 * so no root is needed), an image bigger than the room left. The user reads that the disk is
 * full and what to do; nothing half-written stays in the store, which keeps working.
 */
import { assert, busyboxRootfs, busyboxSkip, NOOK, scratch, sh, test } from "../_helpers.ts";
import { busyboxEntries, image, layer, push, registrySkip, startRegistry } from "../_oci.ts";

/** Run `lines` in a user namespace of the test's own with an 8 MB tmpfs at `small`, nook's store there. */
async function onSmallDisk(small: string, lines: string[]): Promise<{ out: string; all: string }> {
  // Why a user namespace: an unprivileged user may mount a tmpfs only there. nook runs
  // inside it with the single-id mapping (newuidmap cannot map from a namespace like this).
  const script = [
    "set -u",
    `mount -t tmpfs -o size=8m tmpfs ${small}`,
    `export NOOK_IDMAP=single NOOK_DATA_DIR=${small}/data XDG_RUNTIME_DIR=${small}/run`,
    `mkdir -m 700 ${small}/run`,
    ...lines,
    `find ${small}/data -type f | sed 's,^${small}/data/,file: ,'`,
  ].join("\n");
  const r = await sh("unshare", ["-Urm", "sh", "-c", script]);
  return { out: r.stdout, all: r.stdout + r.stderr };
}

test("an import that fills the disk says so and what to do, and leaves the store consistent and usable", async () => {
  const dir = scratch("nook-full-");
  const small = `${dir}/small`;
  Deno.mkdirSync(small);
  // an image of ≈12 MB for a store of 8 MB, and a small one that fits
  const big = `${dir}/big`;
  Deno.mkdirSync(`${big}/bin`, { recursive: true });
  Deno.copyFileSync(`${busyboxRootfs()}/bin/busybox`, `${big}/bin/busybox`);
  const noise = new Uint8Array(12 * 1024 * 1024);
  for (let i = 0; i < noise.length; i += 65536) crypto.getRandomValues(noise.subarray(i, i + 65536));
  Deno.writeFileSync(`${big}/noise.bin`, noise);
  for (const [tar, what] of [["big.tar", "."], ["small.tar", "bin"]]) {
    const r = await sh("tar", ["-C", big, "-cf", `${dir}/${tar}`, what!]);
    assert.equal(r.code, 0, r.stderr);
  }
  const { out, all } = await onSmallDisk(small, [
    `${NOOK} import ${dir}/big.tar full/big:1 2>${dir}/big.err; echo "big=$?"`,
    `${NOOK} images; echo "images=$?"`,
    `${NOOK} import ${dir}/small.tar full/small:1 >/dev/null 2>&1; echo "small=$?"`,
    `${NOOK} run --rm full/small:1 /bin/busybox echo ran-after-full; echo "run=$?"`,
  ]);
  const err = Deno.readTextFileSync(`${dir}/big.err`);
  assert.match(out, /^big=125$/m, all + err);
  assert.match(err, /ENOSPC|No space left on device/, err);
  assert.match(err, /\n {2}hint: free space where nook keeps its data .*NOOK_DATA_DIR/, err);
  assert.doesNotMatch(err, /internal error|truncated or corrupt/, err);
  assert.match(out, /^images=0$/m, all);
  assert.doesNotMatch(out, /full\/big/, "the failed image is not listed");
  assert.match(out, /^small=0$/m, all);
  assert.match(out, /^ran-after-full$/m, all);
  assert.match(out, /^run=0$/m, all);
  // the small image's blob and layer are there; nothing of the big one, nothing partial
  const files = out.split("\n").filter((l) => l.startsWith("file: "));
  assert.ok(!files.some((f) => /^file: tmp\//.test(f)), all);
  assert.ok(files.some((f) => /^file: blobs\//.test(f)), all);
  Deno.removeSync(dir, { recursive: true });
}, { skip: busyboxSkip() });

test("ENOSPC from clone (the user namespace limit) keeps its own hint; a file write's gets the disk-full one", async () => {
  const { formatError, HostError, NookError } = await import("../../src/errors/mod.ts");
  const limit = new HostError("Cannot create the container: the limit on user namespaces is reached", {
    op: "clone",
    errno: 28,
    hint: "raise user.max_user_namespaces",
  });
  assert.match(formatError(limit), /hint: raise user\.max_user_namespaces$/);
  const write = new NookError('write "x" failed: ENOSPC (no space left on device)', { op: "write", errno: 28 });
  assert.match(formatError(write), /hint: free space where nook keeps its data/);
  const deep = new NookError("Cannot save the record", { cause: new Error("No space left on device (os error 28)") });
  assert.match(formatError(deep), /hint: free space where nook keeps its data/);
  assert.match(formatError(new Error("No space left on device (os error 28)")), /^nook: No space left on device: /);
});

test("a pull that fills the disk says so, keeps no partial blob or layer, and a later pull works", async () => {
  const reg = await startRegistry();
  const dir = scratch("nook-full-pull-");
  try {
    const small = `${dir}/small`;
    Deno.mkdirSync(small);
    const noise = new Uint8Array(12 * 1024 * 1024);
    for (let i = 0; i < noise.length; i += 65536) crypto.getRandomValues(noise.subarray(i, i + 65536));
    await push(
      reg.host,
      "full/big",
      "1",
      image([layer(busyboxEntries()), layer([{ name: "noise.bin", content: noise }])]),
    );
    await push(
      reg.host,
      "full/small",
      "1",
      image([layer(busyboxEntries())], { Cmd: ["/bin/busybox", "echo", "pulled"] }),
    );
    const { out, all } = await onSmallDisk(small, [
      `${NOOK} pull ${reg.host}/full/big:1 >/dev/null 2>${dir}/pull.err; echo "big=$?"`,
      `echo "blobs=$(find ${small}/data -path '*blobs*' -type f | wc -l)"`,
      `${NOOK} image rm ${reg.host}/full/big:1 >/dev/null 2>&1`,
      `${NOOK} run --rm ${reg.host}/full/small:1; echo "run=$?"`,
      `${NOOK} image rm ${reg.host}/full/small:1 >/dev/null; echo "rm=$?"`,
    ]);
    const err = Deno.readTextFileSync(`${dir}/pull.err`);
    assert.match(out, /^big=125$/m, all + err);
    assert.match(err, /\n {2}hint: free space where nook keeps its data .*NOOK_DATA_DIR/, err);
    assert.doesNotMatch(err, /internal error|truncated or corrupt/, err);
    assert.match(out, /^pulled$/m, all);
    assert.match(out, /^run=0$/m, all);
    assert.match(out, /^rm=0$/m, all);
    // what stays is the store's own metadata and lock files, no blob, layer or partial download
    const files = out.split("\n").filter((l) => l.startsWith("file: "));
    assert.ok(files.some((f) => f === "file: images.json"), all);
    assert.deepEqual(
      files.filter((f) => !/^file: ([\w-]+\.json|[\w.-]+\.lock|locks\/[\w.-]+\.lock)$/.test(f)),
      [],
      all,
    );
  } finally {
    await reg.stop();
    Deno.removeSync(dir, { recursive: true });
  }
}, { skip: busyboxSkip() ?? registrySkip() });
