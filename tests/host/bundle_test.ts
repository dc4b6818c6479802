/**
 * The `./nook` launcher runs the CLI from a bundle (tools/bundle.ts, build/js): every module
 * loaded through lazyImport must have a loader in it, and the bundled CLI must behave as the
 * sources do.
 */
import { dropNoopNames, entrySource, lazyTargets } from "../../tools/bundle.ts";
import { COMMANDS } from "../../src/cli/commands.ts";
import { assert, nook, ROOT, test } from "../_helpers.ts";

test("the bundle has a loader for every command and every module loaded with lazyImport", async () => {
  const targets = await lazyTargets();
  for (const t of ["engine/monitor.ts", "config/resolve.ts", "engine/image_source.ts", "cli/run.ts", "cli/ps.ts"]) {
    assert.ok(targets.includes(t), `${t} has no loader in the bundle`);
  }
  // every command's loader resolves to a file that exists (lazyTargets checks) and is in the entry
  const entry = entrySource(targets);
  const commands = Deno.readTextFileSync(`${ROOT}/src/cli/commands.ts`);
  for (const m of commands.matchAll(/\blazy\("([^"]+)"\)/g)) assert.match(entry, new RegExp(`"cli/${m[1]}\\.ts": `));
  assert.ok(Object.keys(COMMANDS).length > 30);
  // every call found: the cgroup modules' too (lazyTargets refuses a call without a literal path)
  assert.ok(targets.includes("cgroupv2/container_cgroup.ts"), "cgroupv2/container_cgroup.ts has no loader");
});

test("the launcher runs the bundled CLI and it behaves as the sources do (errors, exit codes, containers)", async () => {
  const bundled = await nook(["run", "--rm", "--hostname", "h", "hello"]);
  assert.equal(bundled.code, 0, bundled.stderr);
  assert.ok(!bundled.stderr.includes("could not be built"), bundled.stderr);
  const st = Deno.statSync(`${ROOT}/build/js/nook.js`);
  assert.ok(st.isFile, "the launcher built build/js/nook.js");
  const source = await nook(["run", "--rm", "--hostname", "h", "hello"], { env: { NOOK_FROM_SOURCE: "1" } });
  assert.equal(source.stdout, bundled.stdout);
  // nook's own errors keep their class across the bundle's chunks: exit 125 with a hint
  for (const env of [{}, { NOOK_FROM_SOURCE: "1" }]) {
    const bad = await nook(["run", "--rm", "--memory", "lots", "hello"], { env });
    assert.equal(bad.code, 125, bad.stderr);
    assert.match(bad.stderr, /^nook: Invalid size "lots" for --memory\n {2}hint: /);
  }
});

function buildWritable(): string | undefined {
  try {
    Deno.mkdirSync(`${ROOT}/build/js`, { recursive: true });
    const probe = `${ROOT}/build/js/.probe-${Deno.pid}`;
    Deno.writeTextFileSync(probe, "");
    Deno.removeSync(probe);
    return undefined;
  } catch (err) {
    return `build/ of this tree is not writable (${(err as Error).message}): the launcher runs the sources`;
  }
}

test("the launcher rebuilds the bundle after a source is written in place, and not when nothing changed", async () => {
  const js = `${ROOT}/build/js/nook.js`;
  const file = `${ROOT}/src/version.ts`;
  const original = Deno.readTextFileSync(file);
  const built = () => Deno.statSync(js).mtime!.getTime();
  let r = await nook(["--version"]);
  assert.equal(r.code, 0, r.stderr);
  const first = built();
  r = await nook(["--version"]);
  assert.equal(built(), first, "a fresh bundle was rebuilt");
  const folder = Deno.statSync(`${ROOT}/src`).mtime!.getTime();
  try {
    // as an editor that writes in place does: the file's mtime moves, its folder's does not
    Deno.writeTextFileSync(file, original.replace(/NOOK_VERSION = "[^"]*"/, 'NOOK_VERSION = "9.9.9-edited"'));
    assert.equal(Deno.statSync(`${ROOT}/src`).mtime!.getTime(), folder);
    r = await nook(["--version"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^nook 9\.9\.9-edited\n/);
    assert.ok(built() > first, "the bundle was not rebuilt");
  } finally {
    Deno.writeTextFileSync(file, original);
  }
  r = await nook(["--version"]);
  assert.match(r.stdout, /^nook (?!9\.9\.9-edited)/);
}, { skip: buildWritable() });

test("the bundle's `nook run` path is a few files, and every file a bundle file names exists", async () => {
  const r = await nook(["--version"]);
  assert.equal(r.code, 0, r.stderr);
  const dir = `${ROOT}/build/js/`;
  const closure = new Set<string>();
  const visit = (name: string) => {
    if (closure.has(name)) return;
    closure.add(name);
    const text = Deno.readTextFileSync(`${dir}${name}`); // throws when a named file is missing
    for (const m of text.matchAll(/^(?:import|export) (?:[^"]*? from )?"\.\/([\w.-]+\.js)";$/gm)) visit(m[1]!);
  };
  visit("nook.js");
  const loader = Deno.readTextFileSync(`${dir}nook.js`).match(/"cli\/run\.ts": [^\n]*?new URL\("\.\/([\w.-]+\.js)"/);
  assert.ok(loader, "build/js/nook.js has no loader for cli/run.ts");
  visit(loader[1]!);
  // the hot set in parts of ≤100 kB: ≈6 files, where esbuild's own chunks made ≈50
  assert.ok(closure.size <= 10, `nook run loads ${closure.size} bundle files: ${[...closure].join(" ")}`);
  // every lazy loader's file exists
  for (const m of Deno.readTextFileSync(`${dir}nook.js`).matchAll(/new URL\("\.\/([\w.-]+\.js)"/g)) {
    assert.ok(Deno.statSync(`${dir}${m[1]}`).isFile, `${m[1]} is missing`);
  }
});

test("the bundle drops only the names a function or class already has by its declaration", () => {
  const text = [
    "function parse() {}",
    '__name(parse, "parse");',
    "function parse2() {}",
    '__name(parse2, "parse");',
    "  function inner() {}",
    '  __name(inner, "inner");',
    'var f = /* @__PURE__ */ __name(() => 1, "f");',
    'var C = class { static { __name(this, "C"); } };',
    "",
  ].join("\n");
  assert.equal(
    dropNoopNames(text),
    [
      "function parse() {}",
      "function parse2() {}",
      '__name(parse2, "parse");',
      "  function inner() {}",
      'var f = /* @__PURE__ */ __name(() => 1, "f");',
      'var C = class { static { __name(this, "C"); } };',
      "",
    ].join("\n"),
  );
});
