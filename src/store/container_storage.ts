/**
 * What the store knows of a container's storage: `rootfs/<id>/rootfs.json`, written by
 * src/overlay/container_rootfs.ts when it prepares the root, read here by the store's
 * garbage collection and by the commands that list or remove containers.
 *
 * @module
 */
import { storeLayout } from "./layout.ts";

/** What rootfs.json records about a container's storage. */
export interface RootfsRecord {
  /** Container ID. */
  id: string;
  /** Copy-on-write backend. */
  backend: "overlay" | "fuse-overlayfs" | "copy";
  /** Image ID. */
  image: string;
  /** The name the image was asked for by. */
  imageName: string;
  /** Chain IDs of the layers it uses, bottom first (pinned). */
  layers: string[];
  /** Removed by `image prune` when no process holds its lock (foreground runs). */
  autoRemove: boolean;
  /** When it was made (RFC 3339). */
  created: string;
  /** The shifted copy of the image it runs on (its key under shifted/), instead of the layers. */
  shifted?: string;
}

/** `rootfs/<id>`. */
export function rootfsDir(id: string, root?: string): string {
  return `${storeLayout(root).rootfs}/${id}`;
}

/** The storage record of a container (backend, image, layers), or undefined. */
export function containerStorage(id: string, root?: string): RootfsRecord | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(`${rootfsDir(id, root)}/rootfs.json`)) as RootfsRecord;
  } catch {
    return undefined;
  }
}

/** Every container storage record in the store. */
export function listContainerStorage(root?: string): RootfsRecord[] {
  const out: RootfsRecord[] = [];
  try {
    for (const e of Deno.readDirSync(storeLayout(root).rootfs)) {
      const r = containerStorage(e.name, root);
      if (r) out.push(r);
    }
  } catch {
    // none yet
  }
  return out;
}
