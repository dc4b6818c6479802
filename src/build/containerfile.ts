/**
 * The Containerfile (Dockerfile) language: parser directives (`# escape=`), comments, line
 * continuations, instructions with their `--flags`, JSON (exec) and shell forms, and the
 * variable expansion (`$V`, `${V}`, `${V:-word}`, `${V:+word}`) of the instructions that expand.
 * Every error names the file, the line and the instruction.
 *
 * @module
 */
import { NookError } from "../errors/mod.ts";

/** A Containerfile is wrong, or a step of the build failed; exit status 125. */
export class BuildError extends NookError {}

/** One instruction as written. */
export interface Instruction {
  /** Upper-case keyword: "RUN". */
  keyword: string;
  /** `--name=value` flags before the arguments (in order). */
  flags: [string, string][];
  /** The rest of the line after the flags (continuations joined). */
  args: string;
  /** The arguments when written as a JSON array of strings (exec form). */
  json?: string[];
  /** 1-based line where it starts. */
  line: number;
  /** The instruction as written (continuations joined), for history and messages. */
  text: string;
  /** Here-documents attached to it (`RUN <<EOF`): name → body. */
  heredocs?: { name: string; body: string; chomp: boolean; quoted: boolean }[];
}

/** The instructions that take `--flags`. */
const FLAGGED = new Set(["FROM", "RUN", "COPY", "ADD"]);

/** The instructions nook knows (the others are an error with their line). */
export const KEYWORDS = new Set([
  "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
  "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
]);

/** An error at a line of a file. */
export function lineError(file: string, line: number, keyword: string, why: string, hint?: string): BuildError {
  return new BuildError(`${file}:${line}: ${keyword}: ${why}`, { ...(hint ? { hint } : {}), exitCode: 125 });
}

/** Parse a Containerfile's text into instructions. */
export function parseContainerfile(text: string, file = "Containerfile"): Instruction[] {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  let escape = "\\";
  let i = 0;
  // parser directives: `# key=value` lines at the very top
  for (; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(lines[i]!);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (key === "escape") {
      if (m[2] !== "\\" && m[2] !== "`") throw lineError(file, i + 1, "escape", `invalid escape character "${m[2]}"`, "use \\ or `");
      escape = m[2]!;
    }
  }
  const out: Instruction[] = [];
  while (i < lines.length) {
    const start = i;
    let raw = lines[i++]!;
    if (/^\s*(#|$)/.test(raw)) continue;
    let joined = "";
    for (;;) {
      const t = raw.replace(/\s+$/, "");
      if (t.endsWith(escape)) {
        joined += t.slice(0, -1);
        // the next line that is not a comment or blank continues it
        while (i < lines.length && /^\s*(#|$)/.test(lines[i]!)) i++;
        if (i >= lines.length) break;
        raw = lines[i++]!;
        continue;
      }
      joined += raw;
      break;
    }
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(joined)!;
    const keyword = m[1]!.toUpperCase();
    if (!KEYWORDS.has(keyword)) {
      throw lineError(file, start + 1, m[1]!, "unknown instruction", "see the Containerfile reference for the instructions");
    }
    let rest = m[2]!.trim();
    const flags: [string, string][] = [];
    if (FLAGGED.has(keyword)) {
      for (;;) {
        const f = /^--([a-zA-Z-]+)(?:=("[^"]*"|\S*))?(?:\s+|$)/.exec(rest);
        if (!f) break;
        flags.push([f[1]!, (f[2] ?? "true").replace(/^"|"$/g, "")]);
        rest = rest.slice(f[0].length);
      }
    }
    const ins: Instruction = { keyword, flags, args: rest, line: start + 1, text: joined.trim() };
    if (rest.startsWith("[")) {
      try {
        const j = JSON.parse(rest);
        if (Array.isArray(j) && j.every((x) => typeof x === "string")) ins.json = j;
      } catch {
        // shell form
      }
    }
    // here-documents: `<<EOF` / `<<-EOF` / `<<"EOF"` in RUN, COPY and ADD
    if (!ins.json && (keyword === "RUN" || keyword === "COPY" || keyword === "ADD")) {
      const docs = [...rest.matchAll(/<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g)];
      if (docs.length) {
        ins.heredocs = [];
        for (const d of docs) {
          const body: string[] = [];
          let closed = false;
          while (i < lines.length) {
            const l = lines[i++]!;
            if ((d[1] ? l.replace(/^\t+/, "") : l) === d[3]) {
              closed = true;
              break;
            }
            body.push(d[1] ? l.replace(/^\t+/, "") : l);
          }
          if (!closed) throw lineError(file, start + 1, keyword, `the here-document "${d[3]}" is not closed`, `end it with a line "${d[3]}"`);
          ins.heredocs.push({ name: d[3]!, body: body.join("\n") + "\n", chomp: d[1] === "-", quoted: d[2] !== "" });
        }
      }
    }
    out.push(ins);
  }
  return out;
}

/**
 * Expand `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alternative}` from `vars`;
 * the escape character keeps a `$` as it is. Unset variables expand to "".
 */
export function expand(s: string, vars: ReadonlyMap<string, string>, escape = "\\"): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === escape && s[i + 1] === "$") {
      out += "$";
      i++;
      continue;
    }
    if (c !== "$") {
      out += c;
      continue;
    }
    if (s[i + 1] === "{") {
      const end = s.indexOf("}", i);
      if (end < 0) {
        out += s.slice(i);
        break;
      }
      const body = s.slice(i + 2, end);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::([-+])(.*))?$/s.exec(body);
      if (!m) throw new BuildError(`Invalid variable reference "\${${body}}"`, { exitCode: 125 });
      const v = vars.get(m[1]!);
      if (m[2] === "-") out += v ? v : expand(m[3]!, vars, escape);
      else if (m[2] === "+") out += v ? expand(m[3]!, vars, escape) : "";
      else out += v ?? "";
      i = end;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i + 1));
    if (!m) {
      out += "$";
      continue;
    }
    out += vars.get(m[0]) ?? "";
    i += m[0].length;
  }
  return out;
}

/** Split shell-like words: spaces separate, quotes group, a backslash escapes the next character. */
export function words(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let have = false;
  let q: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (c === q) q = undefined;
      else if (c === "\\" && q === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      q = c;
      have = true;
    } else if (c === "\\" && i + 1 < s.length) {
      cur += s[++i];
      have = true;
    } else if (/\s/.test(c)) {
      if (have) out.push(cur);
      cur = "";
      have = false;
    } else {
      cur += c;
      have = true;
    }
  }
  if (q) throw new BuildError(`Unterminated quote in "${s}"`, { exitCode: 125 });
  if (have) out.push(cur);
  return out;
}

/**
 * `KEY=VALUE …` pairs (ENV, LABEL, ARG), or the old `KEY VALUE` form of ENV and LABEL (one
 * pair, the value the rest of the line).
 */
export function pairs(s: string, legacy: boolean): [string, string][] {
  const first = /^(\S+?)(=|\s+|$)/.exec(s.trim());
  if (legacy && first && first[2] !== "=") {
    const key = first[1]!;
    const value = s.trim().slice(key.length).trim();
    return [[key, words(value).join(" ") || value]];
  }
  return words(s).map((w) => {
    const i = w.indexOf("=");
    return i < 0 ? [w, ""] as [string, string] : [w.slice(0, i), w.slice(i + 1)] as [string, string];
  });
}
