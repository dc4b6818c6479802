/**
 * The config must not cost `nook run` its start-up: no npm package or node:
 * module on its static import graph, and the YAML parser not even reachable
 * through an analyzable import() (Deno resolves every npm package it can
 * reach when it starts, ~1 ms; bench/config.sh has the numbers).
 */
import { assert, ROOT, sh, test } from "../_helpers.ts";

interface Graph {
  modules: { specifier: string; dependencies?: { isDynamic?: boolean; code?: { specifier: string } }[] }[];
}

async function graph(entry: string): Promise<Graph> {
  const r = await sh(Deno.execPath(), ["info", "--json", "--config", `${ROOT}/deno.json`, `${ROOT}/${entry}`]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function reach(g: Graph, roots: string[], dynamic: boolean): string[] {
  const mods = new Map(g.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = roots.map((r) => new URL(r, `file://${ROOT}/`).href);
  while (todo.length) {
    const s = todo.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of mods.get(s)?.dependencies ?? []) {
      if (d.code && (dynamic || !d.isDynamic)) todo.push(d.code.specifier);
    }
  }
  return [...seen];
}

const foreign = (s: string) => !s.startsWith("file:");

test("nook run's static imports, config included, hold no npm package and no node: module", async () => {
  const g = await graph("src/cli/main.ts");
  const run = reach(g, ["src/cli/main.ts", "src/cli/run.ts"], false);
  assert.ok(run.some((s) => s.endsWith("/src/config/load.ts")), "the run path reads the config");
  assert.deepEqual(run.filter(foreign), []);
  assert.ok(!run.some((s) => /\/src\/config\/(schema|resolve|parse_yaml)\.ts$/.test(s)), "only load.ts is on the run path");
});

test("the yaml package is not reachable from nook's entry point through analyzable imports", async () => {
  const g = await graph("src/cli/main.ts");
  const all = reach(g, ["src/cli/main.ts"], true);
  assert.deepEqual(all.filter((s) => s.includes("yaml")), []);
  // ...while the YAML parser module does (resolve.ts loads it through lazyImport; deno
  // compile embeds every module of src/ with --include, and so the package, see tools/release.sh)
  const parser = reach(await graph("src/config/parse_yaml.ts"), ["src/config/parse_yaml.ts"], true);
  assert.ok(parser.some((s) => s.startsWith("npm:") && s.includes("yaml")));
  assert.match(Deno.readTextFileSync(`${ROOT}/src/config/resolve.ts`), /lazyImport<[^>]*>\("config\/parse_yaml\.ts"\)/);
  assert.match(Deno.readTextFileSync(`${ROOT}/tools/release.sh`), /--include "\$root\/src"/);
});

test("nook's entry point reaches no command file through analyzable imports (commands load by computed specifier)", async () => {
  const g = await graph("src/cli/main.ts");
  const all = reach(g, ["src/cli/main.ts"], true);
  const commands = all.filter((s) => /\/src\/cli\/(?!main|commands|_io|_args)[a-z_]+\.ts$/.test(s));
  assert.deepEqual(commands, [], "each of these would be walked by Deno at every start");
  assert.match(Deno.readTextFileSync(`${ROOT}/tools/release.sh`), /--include "\$root\/src"/);
});

test("everything nook run can load, analyzable import()s included, holds no npm package and no node: module", async () => {
  const g = await graph("src/cli/run.ts");
  const all = reach(g, ["src/cli/run.ts"], true);
  assert.deepEqual(all.filter(foreign), []);
});
