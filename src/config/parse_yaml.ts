/**
 * Parse and check `config.yaml` with the `yaml` package. Load this module
 * only through `lazyImport` (src/lazy): the package costs ~60 ms of start-up, so
 * `nook run` reads the cached result instead (see load.ts).
 */
import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import type { Node, Pair } from "yaml";
import { checkValue, closestKey, CONFIG_KEYS, ConfigError, type ConfigValues, keyDef, SECTIONS } from "./schema.ts";

/** Parse config text into checked values by dotted key; errors name the key and the line. */
export function parseConfigText(text: string, file: string): ConfigValues {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const lineOf = (node: { range?: [number, number, number] | null } | null | undefined): number =>
    node?.range ? lines.linePos(node.range[0]).line : 0;
  const at = (line: number) => (line ? `at line ${line} of "${file}"` : `in "${file}"`);
  const err = doc.errors[0];
  if (err) {
    const line = err.linePos?.[0]?.line ?? 0;
    throw new ConfigError(`Cannot read the config file: YAML syntax error ${at(line)}: ${err.message.split(" at line")[0]}`, {
      path: file,
      hint: `fix line ${line} of ${file} (YAML: "key: value", nested keys indented by two spaces)`,
    });
  }
  const out: ConfigValues = {};
  const root = doc.contents;
  if (root === null || root === undefined) return out; // empty file: all defaults
  if (!isMap(root)) {
    throw new ConfigError(`The config file "${file}" must be a mapping of sections`, {
      path: file,
      hint: `start with a section name, e.g. "network:" then "  mode: host"; sections: ${SECTIONS.join(", ")}`,
    });
  }
  for (const pair of root.items as Pair<Node, Node | null>[]) {
    const section = String((pair.key as { value?: unknown })?.value ?? pair.key);
    const line = lineOf(pair.key);
    if (!SECTIONS.includes(section)) throw unknownKey(section, SECTIONS, at(line), file);
    if (pair.value === null || (pair.value as { value?: unknown }).value === null) continue; // "network:" alone
    if (!isMap(pair.value)) {
      throw new ConfigError(`"${section}" ${at(line)} must be a mapping of keys`, {
        path: file,
        hint: `indent its keys under it, e.g. "${section}:" then "  ${keysOf(section)[0]}: …"`,
      });
    }
    for (const item of pair.value.items as Pair<Node, Node | null>[]) {
      const name = String((item.key as { value?: unknown })?.value ?? item.key);
      const key = `${section}.${name}`;
      const def = keyDef(key);
      const keyLine = lineOf(item.key);
      if (!def) throw unknownKey(key, CONFIG_KEYS.map((k) => k.key), at(keyLine), file);
      const valueNode = item.value;
      const raw = valueNode === null ? null : valueNode.toJS(doc);
      if (raw === null) continue; // "mode:" with no value: the default
      const valueLine = lineOf(valueNode) || keyLine;
      const itemWhere = (i: number) => at(isSeq(valueNode) ? lineOf(valueNode.items[i] as Node) || valueLine : valueLine);
      try {
        out[def.key] = checkValue(def, raw, at(valueLine), itemWhere);
      } catch (e) {
        if (e instanceof ConfigError) throw new ConfigError(e.message, { path: file, ...(e.hint ? { hint: e.hint } : {}) });
        throw e;
      }
    }
  }
  return out;
}

function keysOf(section: string): string[] {
  return CONFIG_KEYS.filter((k) => k.key.startsWith(`${section}.`)).map((k) => k.key.slice(section.length + 1));
}

function unknownKey(key: string, known: readonly string[], where: string, file: string): ConfigError {
  const close = closestKey(key, known);
  return new ConfigError(`Unknown key "${key}" ${where}`, {
    path: file,
    hint: close ? `did you mean "${close}"?` : `known keys: ${known.join(", ")}`,
  });
}
