/**
 * Read a file of an image from the host, through its layer directories as
 * overlayfs would merge them (whiteouts, opaque directories, symlinks
 * resolved inside the image's root). nook reads /etc/passwd and /etc/group
 * this way before the container's root exists.
 */
import { layerDiff, readLayerInfo } from "../store/layers.ts";

const MAX_LINKS = 40;

interface UnionLayer {
  dir: string;
  opaque: Set<string>;
}

function lstat(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.lstatSync(path);
  } catch {
    return undefined;
  }
}

function isWhiteout(st: Deno.FileInfo): boolean {
  return st.isCharDevice === true && st.rdev === 0;
}

/** The layers of an image (chain IDs, bottom first) as union lookups need them, top first. */
export function unionOf(chainIds: readonly string[], root?: string): UnionLayer[] {
  return [...chainIds].reverse().map((c) => ({
    dir: layerDiff(c, root),
    opaque: new Set(readLayerInfo(c, root)?.opaque ?? []),
  }));
}

/** Host path and info of `rel` (no symlinks in it) in the merged view, or undefined. */
function lookup(layers: readonly UnionLayer[], rel: string): [string, Deno.FileInfo] | undefined {
  const parts = rel ? rel.split("/") : [];
  for (const layer of layers) {
    const host = rel ? `${layer.dir}/${rel}` : layer.dir;
    const st = lstat(host);
    if (st) return isWhiteout(st) ? undefined : [host, st];
    // Does this layer hide the lower ones here? An opaque or whited-out
    // ancestor, or an ancestor that is not a directory.
    for (let i = 0; i < parts.length; i++) {
      const anc = parts.slice(0, i).join("/");
      if (layer.opaque.has(anc)) return undefined;
      const a = lstat(anc ? `${layer.dir}/${anc}` : layer.dir);
      if (a && !a.isDirectory) return undefined;
      if (!a) break;
    }
  }
  return undefined;
}

/** Host path and info of `rel` (a path without symlinks, relative to the root) in the merged view, or undefined when it is not there. */
export function lstatInLayers(layers: readonly UnionLayer[], rel: string): [string, Deno.FileInfo] | undefined {
  return lookup(layers, rel);
}

/**
 * The names in directory `rel` (no symlinks in it) of the merged view: each layer's entries from
 * the top down to the first that is opaque there, whiteouts removing names of the layers below.
 */
export function listInLayers(layers: readonly UnionLayer[], rel: string): string[] {
  const seen = new Map<string, boolean>();
  for (const layer of layers) {
    const host = rel ? `${layer.dir}/${rel}` : layer.dir;
    const st = lstat(host);
    if (st && !st.isDirectory) break;
    if (st) {
      for (const e of Deno.readDirSync(host)) {
        if (seen.has(e.name)) continue;
        const est = lstat(`${host}/${e.name}`);
        seen.set(e.name, est !== undefined && !isWhiteout(est));
      }
      if (layer.opaque.has(rel)) break;
    }
  }
  return [...seen].filter(([, present]) => present).map(([name]) => name).sort();
}

/** Host path of `path` in the image's merged view, symlinks resolved inside the root; undefined if missing. */
export function resolveInLayers(layers: readonly UnionLayer[], path: string): string | undefined {
  return resolve(layers, path)?.[0];
}

/**
 * The path without symlinks ("/a/b") that `path` stands for in the image,
 * or undefined when it does not exist (or, with `dir`, is not a directory).
 */
export function canonicalInLayers(layers: readonly UnionLayer[], path: string, dir = false): string | undefined {
  const r = resolve(layers, path);
  if (!r) return undefined;
  if (dir) {
    try {
      if (!Deno.statSync(r[0]).isDirectory) return undefined;
    } catch {
      return undefined;
    }
  }
  return r[1];
}

function resolve(layers: readonly UnionLayer[], path: string): [string, string] | undefined {
  let todo = path.split("/").filter((s) => s && s !== ".");
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === "..") {
      done.pop();
      continue;
    }
    const rel = [...done, part].join("/");
    const found = lookup(layers, rel);
    if (!found) return undefined;
    const [host, st] = found;
    if (st.isSymlink) {
      if (++links > MAX_LINKS) return undefined;
      const target = Deno.readLinkSync(host);
      if (target.startsWith("/")) done.length = 0;
      todo = [...target.split("/").filter((s) => s && s !== "."), ...todo];
      continue;
    }
    done.push(part);
  }
  const rel = done.join("/");
  const found = lookup(layers, rel);
  return found ? [found[0], "/" + rel] : undefined;
}

/** Text of a file in the image's merged view, or undefined when missing or unreadable. */
export function readTextInLayers(layers: readonly UnionLayer[], path: string): string | undefined {
  const host = resolveInLayers(layers, path);
  if (!host) return undefined;
  try {
    return Deno.readTextFileSync(host);
  } catch {
    return undefined;
  }
}
