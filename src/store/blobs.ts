import { StoreError } from "./errors.ts";
import { digestHex, storeLayout, syncDirOf } from "./layout.ts";

/** Host path of a blob (whether or not it exists). */
export function blobPath(digest: string, root?: string): string {
  return `${storeLayout(root).blobs}/${digestHex(digest)}`;
}

/** True when the blob is in the store (with this size, when given). */
export function hasBlob(digest: string, size?: number, root?: string): boolean {
  try {
    const st = Deno.statSync(blobPath(digest, root));
    return st.isFile && (size === undefined || st.size === size);
  } catch {
    return false;
  }
}

/** Text of a blob (a manifest or a config). */
export function readBlobText(digest: string, root?: string): string {
  const path = blobPath(digest, root);
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    throw new StoreError(`The blob ${digest} is missing from the image store`, {
      path,
      cause: err,
      hint: "the store is damaged; pull or load the image again (nook rmi it first)",
    });
  }
}

/** "sha256:<hex>" of some bytes (WebCrypto: no module to load). */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return "sha256:" + Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A unique temporary path in the store's tmp directory: `<prefix>-<pid>-<random>`.
 * The pid tells the sweep of the next store lock whether its maker is gone
 * (the prefix must be one that `sweepTemporary` in lock.ts knows).
 */
export function tempPath(prefix: string, root?: string): string {
  const { tmp } = storeLayout(root);
  Deno.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  return `${tmp}/${prefix}-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Move a verified temporary file into place as the blob `digest`: fsync it,
 * rename it (atomic), fsync the directory. A blob that is already there wins.
 */
export function commitBlobFile(tmp: string, digest: string, root?: string): string {
  const dest = blobPath(digest, root);
  Deno.mkdirSync(storeLayout(root).blobs, { recursive: true, mode: 0o700 });
  {
    using f = Deno.openSync(tmp, { read: true, write: true });
    f.syncSync();
  }
  Deno.chmodSync(tmp, 0o644);
  Deno.renameSync(tmp, dest);
  syncDirOf(dest);
  return dest;
}

/**
 * Store a small blob (manifest, config) from memory: its digest is checked
 * against `expected` when given, then it is written to a temporary name,
 * fsync'd and renamed. Resolves with the digest.
 */
export async function writeBlob(bytes: Uint8Array, expected?: string, root?: string): Promise<string> {
  const digest = await sha256(bytes);
  if (expected !== undefined && digest !== expected) {
    throw new StoreError(`Digest mismatch: expected ${expected}, the content has ${digest}`, {
      hint: "the registry or the archive sent different content than it announced; nothing was stored",
    });
  }
  if (hasBlob(digest, bytes.length, root)) return digest;
  const tmp = tempPath("blob", root);
  try {
    Deno.writeFileSync(tmp, bytes, { mode: 0o600 });
    commitBlobFile(tmp, digest, root);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // not created
    }
    throw err;
  }
  return digest;
}
