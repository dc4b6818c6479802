/**
 * Read files of a root directory from the host side as the container will
 * see them: symlinks resolve inside the root (an absolute link or `..` never
 * leaves it), like openat2(RESOLVE_IN_ROOT) does in the shim.
 */

const MAX_LINKS = 40;

/** Host path of `path` inside `root`, following symlinks within the root; undefined if it does not exist. */
export function resolveInRoot(root: string, path: string): string | undefined {
  let parts = path.split("/").filter((s) => s && s !== ".");
  const done: string[] = [];
  let links = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === "..") {
      done.pop();
      continue;
    }
    const host = `${root}/${[...done, part].join("/")}`;
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(host);
    } catch {
      return undefined;
    }
    if (st.isSymlink) {
      if (++links > MAX_LINKS) return undefined;
      const target = Deno.readLinkSync(host);
      if (target.startsWith("/")) done.length = 0;
      parts = [...target.split("/").filter((s) => s && s !== "."), ...parts];
      continue;
    }
    done.push(part);
  }
  return `${root}/${done.join("/")}`.replace(/\/+$/, "") || root;
}

/** Text of a file inside the root, or undefined when it is missing or unreadable. */
export function readTextInRoot(root: string, path: string): string | undefined {
  const host = resolveInRoot(root, path);
  if (!host) return undefined;
  try {
    return Deno.readTextFileSync(host);
  } catch {
    return undefined;
  }
}
