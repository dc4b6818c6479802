import { dataDir, storeLockPath } from "../paths/mod.ts";

/** Where each part of the image store lives (DESIGN.md "Where things live"). */
export interface StoreLayout {
  /** The store's root: `$XDG_DATA_HOME/nook`. */
  root: string;
  /** Content-addressed blobs: `blobs/sha256/<hex>`. */
  blobs: string;
  /** Temporary files and directories: partial downloads, unpacks in progress. */
  tmp: string;
  /** Unpacked layers: `layers/<chain-id hex>/{diff,layer.json}`. */
  layers: string;
  /** Image records (one JSON file, replaced atomically). */
  images: string;
  /** The store lock (flock): shared by writers and runs, exclusive for removal. */
  lock: string;
  /** Per-blob and per-layer lock files, so concurrent pulls fetch each once. */
  locks: string;
  /** Per-container copy-on-write storage: `rootfs/<container id>/`. */
  rootfs: string;
  /** Named and anonymous volumes: `volumes/<name>/_data`. */
  volumes: string;
}

/** The layout of the store under `root` (default: the data directory). */
export function storeLayout(root: string = dataDir()): StoreLayout {
  return {
    root,
    blobs: `${root}/blobs/sha256`,
    tmp: `${root}/tmp`,
    layers: `${root}/layers`,
    images: `${root}/images.json`,
    lock: storeLockPath(root),
    locks: `${root}/locks`,
    rootfs: `${root}/rootfs`,
    volumes: `${root}/volumes`,
  };
}

/** Hex part of a "sha256:…" digest (validated: 64 lowercase hex digits). */
export function digestHex(digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw new TypeError(`not a sha256 digest: "${digest}"`);
  return m[1]!;
}

/** True for a well-formed "sha256:<64 hex>" digest. */
export function isDigest(s: string): boolean {
  return /^sha256:[0-9a-f]{64}$/.test(s);
}

/** fsync the directory that holds `path`, so a rename into it survives a crash. */
export function syncDirOf(path: string): void {
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  try {
    using f = Deno.openSync(dir, { read: true });
    f.syncSync();
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  }
}
