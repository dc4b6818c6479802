/**
 * Unpacked layers, keyed by chain ID (a layer's content on top of all its
 * parents), shared by every image and container that uses them. A layer
 * directory is made under tmp/ and renamed into place when complete: a
 * directory under layers/ with its layer.json is always whole.
 */
import { sha256 } from "./blobs.ts";
import { digestHex, storeLayout, syncDirOf } from "./layout.ts";

/** What layer.json says about an unpacked layer. */
export interface LayerInfo {
  /** Its chain ID. */
  chainId: string;
  /** Digest of the uncompressed tar. */
  diffId: string;
  /** Chain ID of the layer below, if any. */
  parent?: string;
  /** Uncompressed size in bytes. */
  size: number;
  /** Directories marked opaque (relative paths; "" is the root). */
  opaque: string[];
  /** When it was unpacked (RFC 3339). */
  created: string;
}

/** Directory of a layer: `layers/<hex>` with `diff/` (the files) and `layer.json`. */
export function layerDir(chainId: string, root?: string): string {
  return `${storeLayout(root).layers}/${digestHex(chainId)}`;
}

/** The files of a layer. */
export function layerDiff(chainId: string, root?: string): string {
  return `${layerDir(chainId, root)}/diff`;
}

/** True when the layer is unpacked and complete. */
export function hasLayer(chainId: string, root?: string): boolean {
  try {
    return Deno.statSync(`${layerDir(chainId, root)}/layer.json`).isFile;
  } catch {
    return false;
  }
}

/** layer.json of an unpacked layer, or undefined when it is not there. */
export function readLayerInfo(chainId: string, root?: string): LayerInfo | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(`${layerDir(chainId, root)}/layer.json`)) as LayerInfo;
  } catch {
    return undefined;
  }
}

/** Chain IDs of a list of diff IDs, bottom first: id₀ = diff₀, idₙ = sha256("idₙ₋₁ diffₙ"). */
export async function chainIds(diffIds: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : await sha256(new TextEncoder().encode(`${prev} ${d}`)));
  }
  return out;
}

/** A fresh temporary layer directory (with an empty diff/) to unpack into. */
export function tempLayerDir(prefix = "layer-", root?: string): string {
  const { tmp } = storeLayout(root);
  Deno.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const dir = Deno.makeTempDirSync({ dir: tmp, prefix });
  Deno.chmodSync(dir, 0o755);
  Deno.mkdirSync(`${dir}/diff`, { mode: 0o755 });
  return dir;
}

/**
 * Commit an unpacked layer: write layer.json, then rename the directory into
 * place. When another process committed the same layer first, ours is
 * removed and theirs is kept. Returns the layer's directory.
 */
export function commitLayer(tmpDir: string, info: LayerInfo, root?: string): string {
  const dest = layerDir(info.chainId, root);
  Deno.writeTextFileSync(`${tmpDir}/layer.json`, JSON.stringify(info) + "\n");
  Deno.mkdirSync(storeLayout(root).layers, { recursive: true, mode: 0o700 });
  try {
    Deno.renameSync(tmpDir, dest);
  } catch (err) {
    if (!hasLayer(info.chainId, root)) {
      // a leftover without layer.json (never committed): replace it
      Deno.removeSync(dest, { recursive: true });
      Deno.renameSync(tmpDir, dest);
    } else {
      Deno.removeSync(tmpDir, { recursive: true });
      if (!(err instanceof Deno.errors.AlreadyExists || /not empty|exists/i.test(String(err)))) throw err;
    }
  }
  syncDirOf(dest);
  return dest;
}
