/**
 * Volumes: directories under `volumes/<name>/_data` that outlive containers.
 * Named ones are made by `nook volume create` or on first use; anonymous ones
 * (an image's VOLUME paths, `-v /path`) get a random name and go with their
 * container. Which containers use a volume is kept in `volumes/<name>/users/`.
 */
import { UsageError } from "../errors/mod.ts";
import { StoreError } from "./errors.ts";
import { storeLayout } from "./layout.ts";

/** What volume.json says. */
export interface VolumeInfo {
  /** Name. */
  name: string;
  /** Made for one container (removed with it). */
  anonymous: boolean;
  /** When it was made (RFC 3339). */
  created: string;
  /** Labels given at creation. */
  labels: Record<string, string>;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Refuse names that are not volume names. */
export function checkVolumeName(name: string): void {
  if (!NAME.test(name) || name.length > 128) {
    throw new UsageError(`Invalid volume name "${name}"`, { hint: "volume names match [a-zA-Z0-9][a-zA-Z0-9_.-]*" });
  }
}

/** `volumes/<name>`. */
export function volumeDir(name: string, root?: string): string {
  return `${storeLayout(root).volumes}/${name}`;
}

/** The directory mounted into containers. */
export function volumeData(name: string, root?: string): string {
  return `${volumeDir(name, root)}/_data`;
}

/** A volume's info, or undefined when it does not exist. */
export function readVolume(name: string, root?: string): VolumeInfo | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(`${volumeDir(name, root)}/volume.json`)) as VolumeInfo;
  } catch {
    return undefined;
  }
}

/** Create a volume unless it exists; `created` tells which (a new volume is filled from the image). */
export function ensureVolume(
  name: string,
  opts: { anonymous?: boolean; labels?: Record<string, string> } = {},
  root?: string,
): { info: VolumeInfo; created: boolean } {
  checkVolumeName(name);
  const existing = readVolume(name, root);
  if (existing) return { info: existing, created: false };
  const dir = volumeDir(name, root);
  Deno.mkdirSync(storeLayout(root).volumes, { recursive: true, mode: 0o700 });
  const tmp = `${dir}.${Deno.pid}.tmp`;
  Deno.mkdirSync(`${tmp}/_data`, { recursive: true, mode: 0o755 });
  Deno.chmodSync(tmp, 0o700);
  Deno.chmodSync(`${tmp}/_data`, 0o755);
  Deno.mkdirSync(`${tmp}/users`);
  const info: VolumeInfo = {
    name,
    anonymous: opts.anonymous ?? false,
    created: new Date().toISOString(),
    labels: opts.labels ?? {},
  };
  Deno.writeTextFileSync(`${tmp}/volume.json`, JSON.stringify(info) + "\n");
  try {
    Deno.renameSync(tmp, dir);
  } catch {
    Deno.removeSync(tmp, { recursive: true });
    const other = readVolume(name, root);
    if (other) return { info: other, created: false }; // made by another process just now
    throw new StoreError(`Cannot create the volume "${name}"`, { path: dir });
  }
  return { info, created: true };
}

/** Every volume. */
export function listVolumes(root?: string): VolumeInfo[] {
  const out: VolumeInfo[] = [];
  try {
    for (const e of Deno.readDirSync(storeLayout(root).volumes)) {
      const v = e.isDirectory ? readVolume(e.name, root) : undefined;
      if (v) out.push(v);
    }
  } catch {
    // none
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Containers that use a volume. */
export function volumeUsers(name: string, root?: string): string[] {
  try {
    return [...Deno.readDirSync(`${volumeDir(name, root)}/users`)].map((e) => e.name);
  } catch {
    return [];
  }
}

/** Mark a volume as used by a container. */
export function useVolume(name: string, container: string, root?: string): void {
  Deno.mkdirSync(`${volumeDir(name, root)}/users`, { recursive: true });
  Deno.writeFileSync(`${volumeDir(name, root)}/users/${container}`, new Uint8Array());
}

/** The container no longer uses the volume. */
export function releaseVolume(name: string, container: string, root?: string): void {
  try {
    Deno.removeSync(`${volumeDir(name, root)}/users/${container}`);
  } catch {
    // gone
  }
}

/**
 * A container is gone: drop its claim on every volume. Resolves with the
 * names of anonymous volumes that nothing uses any more (for the caller to
 * remove; their files may belong to subordinate ids).
 */
export function releaseContainerVolumes(container: string, root?: string): string[] {
  const out: string[] = [];
  for (const v of listVolumes(root)) {
    const users = volumeUsers(v.name, root);
    if (!users.includes(container)) continue;
    releaseVolume(v.name, container, root);
    if (v.anonymous && users.length === 1) out.push(v.name);
  }
  return out;
}
