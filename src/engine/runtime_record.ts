/**
 * Containers kept for an OCI engine (`nook runtime`, driven by podman/conmon, containerd…): one
 * directory per container under the runtime's root (`--root`), holding
 *
 *   state.json   the record: what `create` decided (written by TypeScript only, atomically)
 *   exec.fifo    present while the created container waits for `start`
 *
 * The status is never stored: it is read from the processes themselves (state.ts). Records are
 * written with the engine's one writer and JSON codec (store.ts); the front door keeps the
 * layout engines rely on and words its own errors.
 *
 * @module
 */
import type { CgroupRef } from "../cgroupv2/container_cgroup.ts";
import type { OciHooks, OciProcess } from "../model/oci.ts";
import { fromJson, toJson, writeAtomic } from "./store.ts";

/** What `nook runtime create` records about a container. */
export interface RuntimeRecord {
  /** Container id. */
  id: string;
  /** Absolute bundle path. */
  bundle: string;
  /** Absolute rootfs path. */
  rootfs: string;
  /** config.json's ociVersion. */
  ociVersion: string;
  /** When create began (RFC 3339). */
  created: string;
  /** User name (or uid) that created it. */
  owner: string;
  /** config.json's annotations. */
  annotations: Record<string, string>;
  /** "creating" until create is done. */
  phase: "creating" | "created";
  /** The runtime process doing the create (to tell an abandoned create). */
  creator: { pid: number; start: string };
  /** The container's process (0 while creating). */
  pid: number;
  /** Its start time (/proc/PID/stat field 22). */
  pidStart: string;
  /** Hooks still to come (startContainer, poststart, poststop). */
  hooks: Pick<OciHooks, "startContainer" | "poststart" | "poststop">;
  /** The process config.json describes (base of `exec` without --process). */
  process: OciProcess;
  /** `linux.seccomp` as written, for processes started by `exec`. */
  seccomp?: Record<string, unknown>;
  /** `linux.cgroupsPath` and whether it is in systemd's form. */
  cgroupsPath?: string;
  /** The cgroup the container runs in, when a cgroup manager made one. */
  cgroup?: CgroupRef;
}

/** The directory of one runtime container. */
export function runtimeContainerDir(root: string, id: string): string {
  return `${root}/${id}`;
}

/** The FIFO a created container waits on until `start`. */
export function execFifoPath(root: string, id: string): string {
  return `${runtimeContainerDir(root, id)}/exec.fifo`;
}

/** Read a runtime container's record; undefined when there is none. */
export function readRuntimeRecord(root: string, id: string): RuntimeRecord | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${runtimeContainerDir(root, id)}/state.json`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
  const rec = fromJson<RuntimeRecord>(text);
  // rlimits are u64; a record written before the engine's codec holds them as decimal strings
  rec.process.rlimits = rec.process.rlimits.map(([r, soft, hard]) => [r, BigInt(soft), BigInt(hard)]);
  return rec;
}

/** Write a runtime container's record (through a temporary name and rename). */
export function writeRuntimeRecord(root: string, rec: RuntimeRecord): void {
  writeAtomic(`${runtimeContainerDir(root, rec.id)}/state.json`, toJson(rec) + "\n");
}

/** Records of every container under the root, oldest first (unreadable ones skipped). */
export function listRuntimeRecords(root: string): RuntimeRecord[] {
  const out: RuntimeRecord[] = [];
  for (const e of Deno.readDirSync(root)) {
    if (!e.isDirectory) continue;
    try {
      const rec = readRuntimeRecord(root, e.name);
      if (rec) out.push(rec);
    } catch {
      // half-made or removed meanwhile
    }
  }
  return out.sort((a, b) => a.created.localeCompare(b.created));
}

/** rm -rf of a runtime container's directory, quietly. */
export function removeRuntimeContainerDir(root: string, id: string): void {
  try {
    Deno.removeSync(runtimeContainerDir(root, id), { recursive: true });
  } catch {
    // gone already
  }
}
