/**
 * `RUN --mount=…`: what a RUN step sees besides its layers, as BuildKit and buildah give it.
 *
 * - `type=cache`: a directory kept in the store between builds (`build-cache/mounts/`), one per
 *   `id` (default: the target); `sharing=shared` (default) lets several builds use it at once,
 *   `locked` makes them wait their turn, `private` gives a busy cache's second user an empty
 *   directory of its own.
 * - `type=bind`: a file or directory of the context (or of an earlier stage or image with
 *   `from=`), read-only unless `rw`; what the step writes into it is thrown away. The source is
 *   copied out of the tree (the context's ignore rules and symlink rules hold, as for COPY).
 * - `type=secret`: a `--secret` of the build, at `/run/secrets/ID` (or `target=`, or an
 *   environment variable with `env=`); its content is never part of a layer or the cache key.
 * - `type=tmpfs`: an empty tmpfs.
 *
 * The mount points a step's container needed and the image did not have are taken out of the
 * layer again, so a mount leaves nothing behind in the image.
 *
 * @module
 */
import type { MountSpec } from "../model/container.ts";
import { MS } from "../plan/mod.ts";
import { BuildError } from "./containerfile.ts";
import { copyItems, type FileHashCache, hashItems, planCopy, type SourceTree } from "./copy.ts";

/** One `--mount` of a RUN instruction, parsed. */
export interface RunMount {
  /** The mount type. */
  type: "cache" | "bind" | "secret" | "tmpfs";
  /** Absolute path in the container (secrets without one: `/run/secrets/ID`, or none with `env=` only). */
  target?: string;
  /** Cache and secret id. */
  id?: string;
  /** Bind: the path in its source tree. */
  source?: string;
  /** Bind and cache: a stage or image to read from. */
  from?: string;
  /** Writable (bind: changes are discarded); read-only cache with `ro`. */
  rw: boolean;
  /** Cache: "shared", "private" or "locked". */
  sharing: "shared" | "private" | "locked";
  /** Cache and secret: mode, owner of the directory or file. */
  mode?: number;
  /** Owner uid. */
  uid?: number;
  /** Owner gid. */
  gid?: number;
  /** Secret: the build fails when it was not given. */
  required: boolean;
  /** Secret: also (or only) put it into this environment variable. */
  env?: string;
  /** tmpfs: its size option. */
  size?: string;
}

function mountError(text: string, why: string, hint?: string): BuildError {
  return new BuildError(`invalid --mount "${text}": ${why}`, { exitCode: 125, ...(hint ? { hint } : {}) });
}

function bool(v: string | undefined, text: string, key: string): boolean {
  if (v === undefined || v === "" || v === "true") return true;
  if (v === "false") return false;
  throw mountError(text, `"${key}" takes true or false, not "${v}"`);
}

function num(v: string, text: string, key: string, base = 10): number {
  if (!(base === 8 ? /^[0-7]{1,4}$/ : /^\d+$/).test(v)) throw mountError(text, `invalid ${key} "${v}"`, base === 8 ? "give an octal mode, e.g. mode=0700" : "give a number");
  return parseInt(v, base);
}

function absolute(p: string, cwd: string): string {
  const out: string[] = [];
  for (const part of (p.startsWith("/") ? p : `${cwd}/${p}`).split("/")) {
    if (!part || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

/** Parse one `--mount=` value (`type=cache,target=/root/.cache,sharing=locked`); `cwd` makes a relative target absolute. */
export function parseRunMount(text: string, cwd: string): RunMount {
  const kv = new Map<string, string | undefined>();
  for (const part of text.split(",")) {
    if (!part) continue;
    const i = part.indexOf("=");
    const k = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
    kv.set(k, i < 0 ? undefined : part.slice(i + 1));
  }
  const type = kv.get("type") ?? "bind";
  if (type !== "cache" && type !== "bind" && type !== "secret" && type !== "tmpfs") {
    throw mountError(text, `unknown type "${type}"`, "use type=cache, bind, secret or tmpfs");
  }
  const m: RunMount = { type, rw: false, sharing: "shared", required: false };
  const allowed: Record<string, string[]> = {
    cache: ["type", "target", "dst", "destination", "id", "sharing", "ro", "readonly", "rw", "readwrite", "mode", "uid", "gid"],
    bind: ["type", "target", "dst", "destination", "source", "src", "from", "ro", "readonly", "rw", "readwrite"],
    secret: ["type", "target", "dst", "destination", "id", "required", "mode", "uid", "gid", "env"],
    tmpfs: ["type", "target", "dst", "destination", "size"],
  };
  for (const [k, v] of kv) {
    if (!allowed[type]!.includes(k)) throw mountError(text, `"${k}" is not an option of type=${type}`, `type=${type} takes ${allowed[type]!.slice(1).join(", ")}`);
    switch (k) {
      case "target":
      case "dst":
      case "destination":
        if (!v) throw mountError(text, "the target is empty");
        m.target = absolute(v, cwd);
        break;
      case "id":
        if (!v) throw mountError(text, "the id is empty");
        m.id = v;
        break;
      case "source":
      case "src":
        m.source = v ?? "";
        break;
      case "from":
        if (!v) throw mountError(text, "from= needs a stage or image");
        m.from = v;
        break;
      case "ro":
      case "readonly":
        m.rw = !bool(v, text, k);
        break;
      case "rw":
      case "readwrite":
        m.rw = bool(v, text, k);
        break;
      case "sharing":
        if (v !== "shared" && v !== "private" && v !== "locked") throw mountError(text, `unknown sharing "${v}"`, "use sharing=shared, private or locked");
        m.sharing = v;
        break;
      case "mode":
        m.mode = num(v ?? "", text, k, 8);
        break;
      case "uid":
        m.uid = num(v ?? "", text, k);
        break;
      case "gid":
        m.gid = num(v ?? "", text, k);
        break;
      case "required":
        m.required = bool(v, text, k);
        break;
      case "env":
        if (!v || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) throw mountError(text, `invalid variable name "${v ?? ""}"`);
        m.env = v;
        break;
      case "size":
        if (!v || !/^\d+[kKmMgG]?$/.test(v)) throw mountError(text, `invalid size "${v ?? ""}"`, "e.g. size=64m");
        m.size = v;
        break;
    }
  }
  // a cache is writable unless `ro`
  if (type === "cache" && !kv.has("ro") && !kv.has("readonly")) m.rw = true;
  if (type === "secret") {
    if (!m.id) {
      if (!m.target) throw mountError(text, "a secret needs an id", "e.g. --mount=type=secret,id=token");
      m.id = m.target.slice(m.target.lastIndexOf("/") + 1);
    }
    if (!m.target && !m.env) m.target = `/run/secrets/${m.id}`;
  } else if (!m.target) throw mountError(text, "a target is needed", `e.g. --mount=type=${type},target=/path`);
  if (m.target === "/") throw mountError(text, "the target cannot be the root");
  if (type === "cache") m.id ??= m.target!;
  return m;
}

/** What a step's mounts need from the builder. */
export interface MountContext {
  /** The store root (cache directories live under it). */
  storeRoot: string;
  /** A directory for this step's temporary copies (bind sources, secret files). */
  stepDir: string;
  /** The tree of the context, or of a stage or image named by `from=`; with a key for the cache when its content need not be hashed. */
  tree(from: string | undefined): Promise<{ tree: SourceTree; key?: string }>;
  /** The secrets of the build by id. */
  secrets: ReadonlyMap<string, Uint8Array>;
  /** Content hashes of context files kept between builds. */
  hashCache?: FileHashCache;
}

/** A step's mounts made ready: what the container gets, and what the cache key takes. */
export interface PreparedMounts {
  /** Key parts (no secret content, no cache content; bind sources by content). */
  key: unknown[];
  /** Environment variables (secrets with `env=`). */
  env: string[];
  /** Make the mounts (copies, locks); call only when the step really runs. */
  setup(): Promise<MountSpec[]>;
  /** Release locks. */
  release(): void;
}

/** Make the step's mounts ready: the key first (cheap), the copies and locks only in `setup`. */
export async function prepareMounts(mounts: readonly RunMount[], mc: MountContext): Promise<PreparedMounts> {
  const key: unknown[] = [];
  const env: string[] = [];
  const makers: (() => Promise<MountSpec | undefined>)[] = [];
  const held: Deno.FsFile[] = [];
  let n = 0;
  for (const m of mounts) {
    const k = n++;
    switch (m.type) {
      case "tmpfs":
        key.push({ type: m.type, target: m.target, size: m.size });
        makers.push(() => Promise.resolve({ source: "tmpfs", target: m.target!, fstype: "tmpfs", flags: MS.NOSUID | MS.NODEV, data: m.size ? `size=${m.size}` : "" }));
        break;
      case "secret": {
        const value = mc.secrets.get(m.id!);
        key.push({ type: m.type, id: m.id, target: m.target, env: m.env, given: value !== undefined, mode: m.mode, uid: m.uid, gid: m.gid });
        if (value === undefined) {
          if (m.required) {
            throw new BuildError(`the secret "${m.id}" is required but was not given`, { exitCode: 125, hint: `give it with nook build --secret id=${m.id},src=FILE` });
          }
          break;
        }
        if (m.env) env.push(`${m.env}=${new TextDecoder().decode(value)}`);
        if (m.target) {
          makers.push(() => {
            const file = `${mc.stepDir}/secret-${k}`;
            Deno.writeFileSync(file, value, { mode: 0o400 });
            Deno.chmodSync(file, m.mode ?? 0o400);
            Deno.chownSync(file, m.uid ?? 0, m.gid ?? 0);
            return Promise.resolve({ source: file, target: m.target!, fstype: "", flags: MS.BIND | MS.NOSUID | MS.NODEV, readonly: true, file: true });
          });
        }
        break;
      }
      case "cache": {
        key.push({ type: m.type, id: m.id, target: m.target, rw: m.rw, sharing: m.sharing, mode: m.mode, uid: m.uid, gid: m.gid });
        makers.push(async () => {
          const base = `${mc.storeRoot}/build-cache/mounts`;
          Deno.mkdirSync(base, { recursive: true, mode: 0o700 });
          const name = await hashHex(m.id!);
          let dir = `${base}/${name}`;
          // Why a lock file beside the directory: builds in other processes share the cache; a
          // shared lock for `shared`, an exclusive one for `locked` and `private`.
          const lock = await Deno.open(`${dir}.lock`, { read: true, write: true, create: true, mode: 0o600 });
          held.push(lock);
          if (m.sharing === "locked") await lock.lock(true);
          else if (m.sharing === "shared") await lock.lock(false);
          else if (!(await lock.tryLock(true))) {
            // busy: this step gets a private, empty directory that is thrown away
            dir = `${mc.stepDir}/cache-${k}`;
          }
          try {
            Deno.mkdirSync(dir, { mode: 0o755 });
            Deno.chmodSync(dir, m.mode ?? 0o755);
            Deno.chownSync(dir, m.uid ?? 0, m.gid ?? 0);
          } catch (err) {
            if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
          }
          return { source: dir, target: m.target!, fstype: "", flags: MS.BIND | MS.REC | MS.NOSUID | MS.NODEV, readonly: !m.rw };
        });
        break;
      }
      case "bind": {
        const { tree, key: treeKey } = await mc.tree(m.from);
        const source = (m.source ?? "").replace(/^\/+/, "") || ".";
        const items = planCopy(tree, [source], "/m", "RUN --mount");
        const isFile = items.length === 1 && items[0]!.kind === "file";
        key.push({ type: m.type, target: m.target, from: m.from, source, rw: m.rw, content: treeKey !== undefined ? `${treeKey}:${source}` : await hashItems(items, mc.hashCache) });
        makers.push(() => {
          const dir = `${mc.stepDir}/bind-${k}`;
          Deno.mkdirSync(dir, { mode: 0o755 });
          copyItems(dir, items, { uid: 0, gid: 0 }, () => ({ mode: 0o755, uid: 0, gid: 0 }));
          return Promise.resolve({ source: `${dir}/m`, target: m.target!, fstype: "", flags: MS.BIND | MS.REC | MS.NOSUID | MS.NODEV, readonly: !m.rw, ...(isFile ? { file: true } : {}) });
        });
        break;
      }
    }
  }
  const release = () => {
    for (const f of held.splice(0)) {
      try {
        f.close();
      } catch {
        // closed
      }
    }
  };
  return {
    key,
    env,
    async setup() {
      const out: MountSpec[] = [];
      try {
        for (const make of makers) {
          const spec = await make();
          if (spec) out.push(spec);
        }
      } catch (err) {
        release();
        throw err;
      }
      return out;
    },
    release,
  };
}

async function hashHex(s: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The path components of each target that the image lacks (`exists` answers for the image),
 * deepest first: the mount points the step's container will have to create.
 */
export function missingMountPoints(targets: readonly string[], exists: (rel: string) => boolean): string[] {
  const out = new Set<string>();
  for (const t of targets) {
    const parts = t.replace(/^\/+/, "").split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const rel = parts.slice(0, i).join("/");
      if (!exists(rel)) out.add(rel);
    }
  }
  return [...out].sort((a, b) => b.split("/").length - a.split("/").length || (a < b ? 1 : -1));
}

/**
 * Take the mount points the engine made out of a step's upper directory: each one that is still
 * an empty directory or an empty file (the command put nothing of its own there).
 */
export function pruneCreatedMountPoints(upper: string, created: readonly string[]): void {
  for (const rel of created) {
    const p = `${upper}/${rel}`;
    try {
      const st = Deno.lstatSync(p);
      if (st.isDirectory ? isEmptyUpperDir(p) : st.isFile && st.size === 0) Deno.removeSync(p, { recursive: st.isDirectory });
    } catch {
      // not there
    }
  }
}

/**
 * An upper directory with nothing of its own: empty, or (for a directory the layers below lack,
 * `markers`) holding only fuse-overlayfs's markers of a directory it created (`.wh..wh..opq`, an
 * empty file, and `.wh..opq`, a 0/0 device). Over a directory of the layers below, those markers
 * mean "opaque" and count as content.
 */
export function isEmptyUpperDir(dir: string, markers = true): boolean {
  for (const e of Deno.readDirSync(dir)) {
    if (!markers) return false;
    if (e.name !== ".wh..wh..opq" && e.name !== ".wh..opq") return false;
    const st = Deno.lstatSync(`${dir}/${e.name}`);
    const marker = e.name === ".wh..wh..opq" ? st.isFile && st.size === 0 : st.isCharDevice === true && st.rdev === 0;
    if (!marker) return false;
  }
  return true;
}
