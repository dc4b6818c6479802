/**
 * The folders of src/ form floors (src/model/floors.ts): computed from the sources, the folder
 * import graph has no cycle, no folder imports one on a higher floor, and the model imports
 * nothing of nook's. A unit test: it reads files, runs nothing.
 */
import { FLOORS } from "../../src/model/floors.ts";
import { assert, ROOT, test } from "../_helpers.ts";

/** Every .ts file under dir, as paths relative to ROOT. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`${ROOT}/${dir}`)) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...sources(rel));
    else if (e.name.endsWith(".ts")) out.push(rel);
  }
  return out;
}

/** The source without comments (an import written in a comment is no import). */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

/** The folder of a src-relative path: "engine" for src/engine/x.ts, "version.ts" for src/version.ts. */
function folderOf(path: string): string {
  return path.split("/")[1]!;
}

/** folder → folder → one example "file -> target" for each edge between two different folders. */
export function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  const spec = /(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']|\blazyImport(?:<[^;]*?>)?\(\s*["']([^"']+)["']/g;
  for (const file of sources("src")) {
    const text = stripComments(Deno.readTextFileSync(`${ROOT}/${file}`));
    const from = folderOf(file);
    for (const m of text.matchAll(spec)) {
      const target = m[1] ? new URL(m[1], `file:///${file}`).pathname.slice(1) : `src/${m[2]}`;
      if (!target.startsWith("src/")) continue;
      const to = folderOf(target);
      if (to === from) continue;
      if (!graph.has(from)) graph.set(from, new Map());
      if (!graph.get(from)!.has(to)) graph.get(from)!.set(to, `${file} -> ${target}`);
    }
  }
  return graph;
}

test("every folder of src/ is on exactly one floor", () => {
  const placed = FLOORS.flat();
  assert.equal(new Set(placed).size, placed.length, "a folder is on two floors");
  const folders = [...Deno.readDirSync(`${ROOT}/src`)].map((e) => e.name).filter((n) => n.endsWith(".ts") || !n.includes("."));
  for (const f of folders) assert.ok(placed.includes(f), `src/${f} is on no floor: add it to src/model/floors.ts`);
});

test("no folder imports a folder on a higher floor, and the model imports nothing of nook's", () => {
  const floor = new Map(FLOORS.flatMap((names, i) => names.map((n) => [n, i] as const)));
  const wrong: string[] = [];
  for (const [from, tos] of folderGraph()) {
    for (const [to, example] of tos) {
      if (from === "model") wrong.push(`the model imports ${to}: ${example}`);
      else if ((floor.get(to) ?? Infinity) > (floor.get(from) ?? -1)) {
        wrong.push(`${from} (floor ${floor.get(from)}) imports ${to} (floor ${floor.get(to)}): ${example}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

test("no import cycle between folders", () => {
  const graph = folderGraph();
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (n: string) => {
    state.set(n, "open");
    path.push(n);
    for (const [to, example] of graph.get(n) ?? []) {
      if (state.get(to) === "open") cycles.push(`${[...path.slice(path.indexOf(to)), to].join(" -> ")} (${example})`);
      else if (!state.has(to)) visit(to);
    }
    path.pop();
    state.set(n, "done");
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  assert.deepEqual(cycles, []);
});
