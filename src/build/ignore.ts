/**
 * `.containerignore` / `.dockerignore`: patterns of context paths left out of the build, the last
 * matching pattern deciding; `!` makes an exception; `*`, `?`, `[…]` stay in one path component,
 * `**` crosses any number of them; a pattern that matches a directory excludes what is under it.
 *
 * @module
 */

interface Rule {
  re: RegExp;
  exclude: boolean;
}

/** Compiled ignore patterns. */
export class IgnoreRules {
  readonly #rules: Rule[];

  /** Compile the lines of an ignore file. */
  constructor(text: string) {
    this.#rules = [];
    for (const raw of text.split("\n")) {
      let line = raw.trim();
      if (!line || line.startsWith("#")) continue;
      const exclude = !line.startsWith("!");
      if (!exclude) line = line.slice(1).trim();
      const clean = line.split("/").filter((p) => p && p !== ".").join("/");
      if (!clean) continue;
      this.#rules.push({ re: globToRegExp(clean), exclude });
    }
  }

  /** True when the context path (relative, `/`-separated) is left out. */
  ignored(rel: string): boolean {
    let out = false;
    const parts = rel.split("/");
    for (const r of this.#rules) {
      // a pattern names a path or one of its parent directories
      for (let n = parts.length; n >= 1; n--) {
        if (r.re.test(parts.slice(0, n).join("/"))) {
          out = r.exclude;
          break;
        }
      }
    }
    return out;
  }

  /** True when an exception might re-include something under the excluded directory `rel`. */
  mayInclude(rel: string): boolean {
    return this.#rules.some((r) => !r.exclude) && rel !== undefined;
  }

  /** True when there is no rule. */
  get empty(): boolean {
    return this.#rules.length === 0;
  }
}

/** A glob as a regular expression over a whole relative path. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      // `**/` matches zero or more directories, a trailing `**` everything
      if (glob[i + 2] === "/") {
        re += "(?:.*/)?";
        i += 2;
      } else {
        re += ".*";
        i++;
      }
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        let cls = glob.slice(i + 1, end);
        if (cls.startsWith("!") || cls.startsWith("^")) cls = "^" + cls.slice(1);
        re += `[${cls.replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else if (c === "\\" && i + 1 < glob.length) re += "\\" + glob[++i];
    else re += /[.+^${}()|\]\\]/.test(c) ? "\\" + c : c;
  }
  return new RegExp(`^${re}$`);
}

/** True when a string has glob characters. */
export function hasGlob(s: string): boolean {
  return /[*?[]/.test(s);
}
