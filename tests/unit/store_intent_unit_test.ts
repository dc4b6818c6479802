/**
 * The store transaction's bookkeeping for builds (src/store/intent.ts), on a store in a scratch
 * directory with stand-in blobs and layers: a failed build takes its cache entries, blobs and
 * layers away; a successful one keeps what its cache entries name and drops what nothing names;
 * a build-cache entry of another build keeps its layer; a pull inside a build is a transaction of
 * its own and the build's is current again after it.
 */
import { assert, scratch, test } from "../_helpers.ts";
import { currentTransaction, StoreTransaction, unrecorded } from "../../src/store/intent.ts";

const hex = (c: string) => c.repeat(64);
const digest = (c: string) => `sha256:${hex(c)}`;

function store(): string {
  const root = scratch("nook-intent-unit-");
  for (const d of ["blobs/sha256", "layers", "build-cache", "tmp", "locks"]) {
    Deno.mkdirSync(`${root}/${d}`, { recursive: true });
  }
  Deno.writeTextFileSync(`${root}/images.json`, JSON.stringify({ images: [] }));
  return root;
}

function blob(root: string, c: string): void {
  Deno.writeTextFileSync(`${root}/blobs/sha256/${hex(c)}`, c);
}

function layer(root: string, c: string): void {
  Deno.mkdirSync(`${root}/layers/${hex(c)}/diff`, { recursive: true });
  Deno.writeTextFileSync(`${root}/layers/${hex(c)}/layer.json`, "{}");
}

function cacheEntry(root: string, key: string, c: string): void {
  Deno.writeTextFileSync(
    `${root}/build-cache/${key}.json`,
    JSON.stringify({ chainId: digest(c), digest: digest(c), diffId: digest(c), size: 1, created: "" }),
  );
}

function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

test("a failed build rolls back its cache entries, blobs and layers; what existed before stays", () => {
  const root = store();
  blob(root, "e");
  layer(root, "e");
  const tx = StoreTransaction.begin("build", "t", root);
  tx.will({ blobs: [digest("e")], layers: [digest("e")] });
  tx.will({ blobs: [digest("a")], layers: [digest("a")], cache: [hex("1")] });
  blob(root, "a");
  layer(root, "a");
  cacheEntry(root, hex("1"), "a");
  Deno.writeTextFileSync(`${root}/build-cache/files-x.json.${Deno.pid}.tmp`, "half");
  tx.end(true);
  assert.ok(!exists(`${root}/build-cache/${hex("1")}.json`), "its cache entry is gone");
  assert.ok(!exists(`${root}/build-cache/files-x.json.${Deno.pid}.tmp`), "its half-written cache file is gone");
  assert.ok(
    !exists(`${root}/blobs/sha256/${hex("a")}`) && !exists(`${root}/layers/${hex("a")}`),
    "what it made is gone",
  );
  assert.ok(exists(`${root}/blobs/sha256/${hex("e")}`) && exists(`${root}/layers/${hex("e")}`), "what was there stays");
  assert.deepEqual([...Deno.readDirSync(`${root}/intents`)], [], "the intent is closed");
});

test("a successful build (tidy) keeps what its cache entries name and drops what nothing names", () => {
  const root = store();
  const tx = StoreTransaction.begin("build", "t", root);
  tx.will({ blobs: [digest("a")], layers: [digest("a")], cache: [hex("1")] });
  tx.will({ blobs: [digest("b")], layers: [digest("b")] });
  for (const c of ["a", "b"]) {
    blob(root, c);
    layer(root, c);
  }
  cacheEntry(root, hex("1"), "a");
  tx.end(false, { tidy: true });
  assert.ok(exists(`${root}/build-cache/${hex("1")}.json`));
  assert.ok(exists(`${root}/layers/${hex("a")}`) && exists(`${root}/blobs/sha256/${hex("a")}`), "cached: kept");
  assert.ok(
    !exists(`${root}/layers/${hex("b")}`) && !exists(`${root}/blobs/sha256/${hex("b")}`),
    "named by nothing: removed",
  );
});

test("another build's cache entry keeps a layer; the intent's own entries do not", () => {
  const root = store();
  const tx = StoreTransaction.begin("build", "t", root);
  tx.will({ blobs: [digest("a")], layers: [digest("a")], cache: [hex("1")] });
  blob(root, "a");
  layer(root, "a");
  cacheEntry(root, hex("1"), "a");
  const intent = {
    op: "build" as const,
    what: "t",
    pid: 1,
    pidStart: 0,
    blobs: [digest("a")],
    layers: [digest("a")],
    images: [],
    cache: [hex("1")],
  };
  assert.deepEqual(unrecorded(intent, root), { blobs: [digest("a")], layers: [digest("a")] });
  cacheEntry(root, hex("2"), "a");
  assert.deepEqual(unrecorded(intent, root), { blobs: [], layers: [] });
  tx.end(false);
});

test("a pull inside a build is its own transaction; the build's is current again after it", () => {
  const root = store();
  const build = StoreTransaction.begin("build", "t", root);
  assert.equal(currentTransaction(), build);
  const pull = StoreTransaction.begin("pull", "bb", root);
  assert.equal(currentTransaction(), pull);
  pull.end(false);
  assert.equal(currentTransaction(), build);
  build.end(false);
  assert.equal(currentTransaction(), undefined);
});
