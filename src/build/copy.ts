/**
 * COPY and ADD: which files a step reads (from the build context, or from an earlier stage or an
 * image through its layers), a content hash of them for the cache, and the copy into a new layer
 * directory with the step's owner and mode.
 *
 * The context is untrusted: a source that climbs out of it (`../x`) is refused, symlinks inside
 * it are copied as symlinks and never followed, and a named source that is itself a symlink is
 * resolved inside the context only (one that leads out is refused). Files excluded by
 * `.containerignore`/`.dockerignore` are not read at all.
 *
 * @module
 */
import * as c from "../libc/mod.ts";
import { F } from "../libc/mod.ts";
import { canonicalInLayers } from "../overlay/union.ts";
import { BuildError } from "./containerfile.ts";
import { globToRegExp, hasGlob, type IgnoreRules } from "./ignore.ts";

/** A tree files are copied from. */
export interface SourceTree {
  /** What the user calls it, for messages. */
  label: string;
  /** Host path and info of an entry (relative path, no symlink followed), or undefined. */
  lstat(rel: string): { host: string; st: Deno.FileInfo } | undefined;
  /** Names in a directory of the tree. */
  children(rel: string): string[];
  /** Resolve a named source's symlinks inside the tree; undefined when it leads out or is missing. */
  resolve(rel: string): string | undefined;
}

/** A layer directory of the store as the union code reads it. */
export interface UnionLayer {
  /** Host directory (the layer's diff/). */
  dir: string;
  /** Opaque directories (relative paths). */
  opaque: Set<string>;
}

const MAX_LINKS = 40;

/** Clean a relative path; `..` that climbs above the root is refused. */
export function cleanRel(p: string, what: string): string {
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (!part || part === ".") continue;
    if (part === "..") {
      if (!out.length) throw new BuildError(`The source "${what}" is outside the build context`, { exitCode: 125, hint: "COPY and ADD read only files inside the context directory" });
      out.pop();
    } else out.push(part);
  }
  return out.join("/");
}

function lstatOr(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch {
    return undefined;
  }
}

/** The build context directory, with its ignore rules. */
export function contextTree(root: string, ignore: IgnoreRules): SourceTree {
  return {
    label: "the build context",
    lstat(rel) {
      if (rel && ignore.ignored(rel)) return undefined;
      const host = rel ? `${root}/${rel}` : root;
      // every parent must be a real directory: a symlinked parent is never passed through
      const parts = rel ? rel.split("/") : [];
      for (let i = 1; i < parts.length; i++) {
        const st = lstatOr(`${root}/${parts.slice(0, i).join("/")}`);
        if (!st?.isDirectory) return undefined;
      }
      const st = lstatOr(host);
      return st ? { host, st } : undefined;
    },
    children(rel) {
      const host = rel ? `${root}/${rel}` : root;
      return [...Deno.readDirSync(host)].map((e) => e.name).filter((n) => !ignore.ignored(rel ? `${rel}/${n}` : n)).sort();
    },
    resolve(rel) {
      const parts = rel ? rel.split("/") : [];
      const done: string[] = [];
      let hops = 0;
      while (parts.length) {
        const p = parts.shift()!;
        if (p === "" || p === ".") continue;
        if (p === "..") {
          if (!done.length) return undefined;
          done.pop();
          continue;
        }
        const st = lstatOr(`${root}/${[...done, p].join("/")}`);
        if (!st) return undefined;
        if (st.isSymlink) {
          if (++hops > MAX_LINKS) return undefined;
          const target = Deno.readLinkSync(`${root}/${[...done, p].join("/")}`);
          // an absolute target names a path of the host: it leads out of the context
          if (target.startsWith("/")) return undefined;
          parts.unshift(...target.split("/"));
          continue;
        }
        done.push(p);
      }
      return done.join("/");
    },
  };
}

/** The merged view of image layers (top first), as overlayfs shows them. */
export function layerTree(layers: UnionLayer[], label: string): SourceTree {
  const isWhiteout = (st: Deno.FileInfo) => st.isCharDevice === true && st.rdev === 0;
  const find = (rel: string): { host: string; st: Deno.FileInfo } | undefined => {
    const parts = rel ? rel.split("/") : [];
    for (const l of layers) {
      // a whiteout or a non-directory on the way hides everything below in lower layers
      let blocked = false;
      for (let i = 1; i < parts.length; i++) {
        const st = lstatOr(`${l.dir}/${parts.slice(0, i).join("/")}`);
        if (st && (!st.isDirectory || isWhiteout(st))) blocked = true;
      }
      if (blocked) return undefined;
      const host = rel ? `${l.dir}/${rel}` : l.dir;
      const st = lstatOr(host);
      if (st) return isWhiteout(st) ? undefined : { host, st };
      for (let i = parts.length - 1; i >= 0; i--) if (l.opaque.has(parts.slice(0, i).join("/"))) return undefined;
    }
    return undefined;
  };
  return {
    label,
    lstat: find,
    children(rel) {
      const seen = new Map<string, boolean>();
      for (const l of layers) {
        const host = rel ? `${l.dir}/${rel}` : l.dir;
        const st = lstatOr(host);
        if (st && !st.isDirectory) break;
        if (st) {
          for (const e of Deno.readDirSync(host)) {
            if (seen.has(e.name)) continue;
            const est = lstatOr(`${host}/${e.name}`);
            seen.set(e.name, !!est && !isWhiteout(est));
          }
        }
        if (l.opaque.has(rel)) break;
      }
      return [...seen].filter(([, v]) => v).map(([k]) => k).sort();
    },
    resolve(rel) {
      const c = canonicalInLayers(layers, "/" + rel);
      return c === undefined ? undefined : c.replace(/^\/+/, "");
    },
  };
}

/** One file, directory or symlink to create in the layer. */
export interface CopyItem {
  /** Host path to read (regular files). */
  host: string;
  /** Path in the image, relative to its root. */
  dest: string;
  /** "file", "dir" or "symlink". */
  kind: "file" | "dir" | "symlink";
  /** Permission bits. */
  mode: number;
  /** Target of a symlink. */
  link?: string;
  /** Modification time (seconds). */
  mtime: number;
  /** Size of a file. */
  size: number;
}

/**
 * The items of `COPY SRC… DEST`: globs expanded in the tree, directories copied by their content,
 * a single file copied to DEST itself unless DEST ends with `/`. `dest` is absolute in the image.
 */
export function planCopy(tree: SourceTree, sources: string[], dest: string, keyword: string): CopyItem[] {
  const matched: string[] = [];
  for (const s of sources) {
    const rel = cleanRel(s, s);
    if (hasGlob(rel)) {
      const re = globToRegExp(rel);
      const hits: string[] = [];
      const walk = (d: string, depth: number) => {
        for (const n of tree.children(d)) {
          const r = d ? `${d}/${n}` : n;
          if (re.test(r)) hits.push(r);
          else if (depth < rel.split("/").length - 1 && tree.lstat(r)?.st.isDirectory) walk(r, depth + 1);
        }
      };
      walk("", 0);
      if (!hits.length) throw new BuildError(`${keyword}: no source file matches "${s}" in ${tree.label}`, { exitCode: 125 });
      matched.push(...hits);
    } else {
      const real = tree.resolve(rel);
      if (real === undefined || !tree.lstat(real)) {
        const why = real === undefined && tree.lstat(rel)?.st.isSymlink ? "it is a symlink that leads out of it" : "no such file or directory";
        throw new BuildError(`${keyword}: cannot read "${s}" from ${tree.label}: ${why}`, { exitCode: 125 });
      }
      matched.push(real);
    }
  }
  const toDir = dest.endsWith("/") || matched.length > 1;
  const base = dest.replace(/\/+$/, "") || "/";
  const items: CopyItem[] = [];
  const add = (rel: string, to: string) => {
    const e = tree.lstat(rel);
    if (!e) return;
    const { host, st } = e;
    const mtime = Math.floor((st.mtime?.getTime() ?? 0) / 1000);
    const mode = (st.mode ?? 0o644) & 0o7777;
    if (st.isDirectory) {
      items.push({ host, dest: to, kind: "dir", mode, mtime, size: 0 });
      for (const n of tree.children(rel)) add(rel ? `${rel}/${n}` : n, `${to}/${n}`);
    } else if (st.isSymlink) {
      items.push({ host, dest: to, kind: "symlink", mode: 0o777, link: Deno.readLinkSync(host), mtime, size: 0 });
    } else if (st.isFile) {
      items.push({ host, dest: to, kind: "file", mode, mtime, size: st.size });
    }
  };
  for (const m of matched) {
    const st = tree.lstat(m)!.st;
    if (st.isDirectory) {
      // a directory's content goes into DEST (the directory itself is DEST)
      items.push({ host: tree.lstat(m)!.host, dest: base, kind: "dir", mode: (st.mode ?? 0o755) & 0o7777, mtime: Math.floor((st.mtime?.getTime() ?? 0) / 1000), size: 0 });
      for (const n of tree.children(m)) add(m ? `${m}/${n}` : n, `${base === "/" ? "" : base}/${n}`);
    } else {
      const name = m.slice(m.lastIndexOf("/") + 1);
      add(m, toDir ? `${base === "/" ? "" : base}/${name}` : base);
    }
  }
  return items.map((i) => ({ ...i, dest: i.dest.replace(/^\/+/, "") }));
}

/**
 * The content hashes of files already read, by host path and what `lstat` says of them (size,
 * inode, change and modification times): a file whose stat is the same is not read again.
 */
export class FileHashCache {
  #entries: Record<string, [number, number, number, number, string]>;
  #dirty = false;

  /** A cache kept in `path` (a missing or damaged file is an empty cache). */
  constructor(readonly path: string) {
    let entries = {};
    try {
      const doc = JSON.parse(Deno.readTextFileSync(path));
      if (doc?.v === 1 && typeof doc.entries === "object") entries = doc.entries;
    } catch {
      // none yet
    }
    this.#entries = entries;
  }

  /** The hash of `host` when its stat is the one recorded. */
  get(host: string, st: Deno.FileInfo): string | undefined {
    const e = this.#entries[host];
    return e && e[0] === st.size && e[1] === Number(st.ino ?? 0) && e[2] === (st.mtime?.getTime() ?? 0) && e[3] === (st.ctime?.getTime() ?? 0) ? e[4] : undefined;
  }

  /**
   * Record a hash. A file changed in the last two seconds is not recorded: a write within the
   * same tick of the clock would leave its times as they are (git's "racily clean" rule).
   */
  set(host: string, st: Deno.FileInfo, hash: string): void {
    const now = Date.now();
    const m = st.mtime?.getTime() ?? now;
    const c = st.ctime?.getTime() ?? now;
    if (now - m < 2000 || now - c < 2000) return;
    this.#entries[host] = [st.size, Number(st.ino ?? 0), m, c, hash];
    this.#dirty = true;
  }

  /** Write it back when it changed (to a temporary name, then renamed); a failure only loses the shortcut. */
  save(): void {
    if (!this.#dirty) return;
    try {
      Deno.writeTextFileSync(`${this.path}.${Deno.pid}.tmp`, JSON.stringify({ v: 1, entries: this.#entries }));
      Deno.renameSync(`${this.path}.${Deno.pid}.tmp`, this.path);
      this.#dirty = false;
    } catch {
      // the next build reads the files again
    }
  }
}

async function hashFile(host: string): Promise<string> {
  const crypto = await import("node:crypto");
  const h = crypto.createHash("sha256");
  using f = Deno.openSync(host, { read: true });
  const buf = new Uint8Array(1 << 20);
  for (;;) {
    const n = f.readSync(buf);
    if (n === null || n === 0) break;
    h.update(buf.subarray(0, n));
  }
  return h.digest("hex");
}

/**
 * A content hash of the items (paths, kinds, modes, link targets, sizes and each file's own
 * content hash; no times). `cache` spares reading files whose stat did not change.
 */
export async function hashItems(items: readonly CopyItem[], cache?: FileHashCache): Promise<string> {
  const parts: string[] = [];
  for (const i of items) {
    let content = "";
    if (i.kind === "file") {
      const st = cache ? Deno.lstatSync(i.host) : undefined;
      const kept = st && cache!.get(i.host, st);
      content = kept ?? await hashFile(i.host);
      if (st && !kept) cache!.set(i.host, st, content);
    }
    parts.push(`${i.dest}\0${i.kind}\0${i.mode.toString(8)}\0${i.link ?? ""}\0${i.size}\0${content}\n`);
  }
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("")));
  return "sha256:" + Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Owner and mode overrides of COPY/ADD (`--chown`, `--chmod`). */
export interface CopyOwner {
  /** uid. */
  uid: number;
  /** gid. */
  gid: number;
  /** Mode for every copied file and directory. */
  chmod?: number;
}

/**
 * Create the items in the layer directory `layer` (parents of the destination made first with
 * `parentAttrs`' owner and mode). Runs inside nook's user namespace (chown to any mapped id).
 */
export function copyItems(
  layer: string,
  items: readonly CopyItem[],
  owner: CopyOwner,
  parentAttrs: (rel: string) => { mode: number; uid: number; gid: number },
): void {
  const made = new Set<string>([""]);
  const ensureParents = (rel: string) => {
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join("/");
      if (made.has(p)) continue;
      made.add(p);
      if (lstatOr(`${layer}/${p}`)) continue;
      const a = parentAttrs(p);
      Deno.mkdirSync(`${layer}/${p}`);
      Deno.chmodSync(`${layer}/${p}`, a.mode);
      Deno.chownSync(`${layer}/${p}`, a.uid, a.gid);
    }
  };
  const dirs: CopyItem[] = [];
  for (const i of items) {
    if (!i.dest) {
      dirs.push(i);
      continue;
    }
    ensureParents(i.dest);
    const to = `${layer}/${i.dest}`;
    const mode = owner.chmod ?? i.mode;
    if (i.kind === "dir") {
      if (!lstatOr(to)) Deno.mkdirSync(to);
      made.add(i.dest);
      dirs.push(i);
    } else if (i.kind === "symlink") {
      try {
        Deno.removeSync(to);
      } catch {
        // not there
      }
      Deno.symlinkSync(i.link!, to);
    } else {
      try {
        Deno.removeSync(to);
      } catch {
        // not there
      }
      // the source was checked to be a regular file; copy its bytes, never through a link
      Deno.copyFileSync(i.host, to);
      Deno.chmodSync(to, mode);
      Deno.utimeSync(to, i.mtime, i.mtime);
    }
    // a symlink's own owner (lchown): chown would follow it
    if (i.kind !== "dir") c.lchownat(F.AT_FDCWD, to, owner.uid, owner.gid);
  }
  // directories last: their times and modes after their content was written
  for (const i of dirs.reverse()) {
    const to = i.dest ? `${layer}/${i.dest}` : layer;
    if (!i.dest) continue;
    Deno.chmodSync(to, owner.chmod ?? i.mode);
    Deno.chownSync(to, owner.uid, owner.gid);
    Deno.utimeSync(to, i.mtime, i.mtime);
  }
}
