/**
 * A small subset of Go's text/template, enough for docker-style `--format`:
 * `{{.Field}}`, `{{.A.B}}`, `{{.}}`, `{{json .X}}`, `{{.X | json}}`, `upper`,
 * `lower`, `join .X ","`, `len`, and the `table` prefix that adds a header row.
 */
import { UsageError } from "../errors/mod.ts";

type Fn = (v: unknown, arg?: string) => unknown;

const FUNCS: Record<string, Fn> = {
  json: (v) => JSON.stringify(v),
  upper: (v) => show(v).toUpperCase(),
  lower: (v) => show(v).toLowerCase(),
  len: (v) => (Array.isArray(v) || typeof v === "string" ? v.length : v && typeof v === "object" ? Object.keys(v).length : 0),
  join: (v, sep = "") => (Array.isArray(v) ? v.map(show).join(sep) : show(v)),
};

/** Go's default printing: strings bare, lists as [a b], maps as JSON. */
function show(v: unknown): string {
  if (v === null || v === undefined) return "<no value>";
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return `[${v.map(show).join(" ")}]`;
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function lookup(data: unknown, path: string, action: string): unknown {
  if (path === ".") return data;
  let cur = data;
  for (const key of path.slice(1).split(".")) {
    if (cur === null || typeof cur !== "object" || !(key in (cur as Record<string, unknown>))) {
      throw new UsageError(`Template error in "{{${action}}}": there is no field "${key}"`, {
        hint: "field names are case-sensitive, e.g. {{.State.Status}} or {{.Names}}",
      });
    }
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function evalAction(action: string, data: unknown): string {
  let value: unknown;
  const stages = action.split("|").map((s) => s.trim());
  for (const [i, stage] of stages.entries()) {
    const words = stage.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
    const args = words.map((w) => (w.startsWith('"') ? JSON.parse(w) as string : w));
    if (args.length === 0) throw new UsageError(`Empty template action "{{${action}}}"`);
    const [head, ...rest] = args;
    if (head!.startsWith(".")) {
      if (rest.length) throw new UsageError(`Template error in "{{${action}}}": unexpected "${rest[0]}"`);
      value = lookup(data, head!, action);
      continue;
    }
    const fn = FUNCS[head!];
    if (!fn) {
      throw new UsageError(`Template error in "{{${action}}}": unknown function "${head}"`, {
        hint: `known: ${Object.keys(FUNCS).join(", ")}`,
      });
    }
    const operand = i > 0 ? value : rest[0]?.startsWith(".") ? lookup(data, rest.shift()!, action) : undefined;
    value = fn(operand, rest[0]);
  }
  return show(value);
}

/** Render one value with a template (escape sequences \t and \n are honoured, as docker does). */
export function renderTemplate(template: string, data: unknown): string {
  const t = template.replaceAll("\\t", "\t").replaceAll("\\n", "\n");
  let out = "";
  let i = 0;
  while (i < t.length) {
    const open = t.indexOf("{{", i);
    if (open < 0) {
      out += t.slice(i);
      break;
    }
    out += t.slice(i, open);
    const close = t.indexOf("}}", open);
    if (close < 0) throw new UsageError(`Unclosed "{{" in the format "${template}"`);
    out += evalAction(t.slice(open + 2, close).trim().replace(/^-\s*|\s*-$/g, ""), data);
    i = close + 2;
  }
  return out;
}

/**
 * Render rows. `table TEMPLATE` adds a header row whose cells name the fields
 * (through `headers`), and aligns the tab-separated columns like docker.
 */
export function renderRows(format: string, rows: readonly unknown[], headers: Record<string, string> = {}): string {
  const table = /^table(\s|$)/.test(format);
  const tpl = table ? format.replace(/^table\s*/, "") : format;
  const lines = rows.map((r) => renderTemplate(tpl, r));
  if (!table) return lines.map((l) => l + "\n").join("");
  const header = renderTemplate(
    tpl.replace(/\{\{\s*(?:json\s+)?\.([\w.]+)[^}]*\}\}/g, (_m, f: string) => headers[f] ?? f.toUpperCase()),
    {},
  );
  return alignColumns([header, ...lines]);
}

/** Align tab-separated columns with at least three spaces between them (docker's tabwriter look). */
export function alignColumns(lines: readonly string[]): string {
  const cells = lines.map((l) => l.split("\t"));
  const widths: number[] = [];
  for (const row of cells) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return cells.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]! + 3))).join("").trimEnd() + "\n")
    .join("");
}
