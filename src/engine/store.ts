/**
 * The container store: one directory per container under
 * `dataDir()/containers/<64-hex id>/`, holding
 *
 *   config.json   the record: what to run and how (written by TypeScript only)
 *   status        the runtime state, `key=value` lines (written by whoever
 *                 supervises the container: the C monitor or a foreground nook)
 *   lock          flock(2) file serialising start/remove of this container
 *   ctr.log[.N]   the k8s-file log of a detached container
 *   cgroup.path   the container's cgroup directory, one line, for
 *                 its monitor, which reads no JSON
 *   hosts, hostname, resolv.conf   the files bind-mounted into /etc
 *
 * and `names/<name>` symlinks (→ id) as the index of unique names.
 */
import { containerDir, containersDir } from "../paths/mod.ts";
import type { ContainerSpec } from "../model/container.ts";
import type { CgroupRef } from "../cgroupv2/container_cgroup.ts";
import type { Resources } from "../cgroupv2/resources.ts";
import { ContainerError } from "./errors.ts";

/** `--restart`: docker's policies. */
export interface RestartPolicy {
  /** no | on-failure | always | unless-stopped */
  name: "no" | "on-failure" | "always" | "unless-stopped";
  /** For on-failure: how many restarts at most (0 = no limit). */
  maxRetries: number;
}

/** Where and how much a detached container logs. */
export interface LogConfig {
  /** k8s-file (the monitor writes `ctr.log`) or none. */
  driver: "k8s-file" | "none";
  /** Rotate when a file would pass this many bytes (0 = never). */
  maxSize: number;
  /** Files kept, the live one included (1 = start the file over). */
  maxFiles: number;
}

/** How a container's root filesystem was provided (GraphDriver-like, shown by inspect). */
export interface RootfsInfo {
  /** `dir` (--rootfs), `builtin` (the hello image), or an image's storage backend (overlay, fuse-overlayfs, copy). */
  backend: string;
  /** Host path of the root the container sees. */
  path: string;
}

/** Settings that are not part of the process itself (docker's HostConfig). */
export interface HostSettings {
  /** --rm */
  autoRemove: boolean;
  /** --restart */
  restart: RestartPolicy;
  /** Signal `stop` sends first (name, e.g. SIGTERM). */
  stopSignal: string;
  /** Seconds `stop` waits before SIGKILL. */
  stopTimeout: number;
  /** Logging of detached runs. */
  log: LogConfig;
  /** The healthcheck the monitor runs (detached runs only); absent: none. */
  health?: HealthSettings;
}

/** A healthcheck, resolved (src/engine/health.ts): what to run, how often, what an unhealthy container gets. */
export interface HealthSettings {
  /** docker's test: ["CMD", argv…] or ["CMD-SHELL", "command"]. */
  test: string[];
  /** Between checks. */
  intervalMs: number;
  /** A check running longer fails. */
  timeoutMs: number;
  /** Failures in this time after a start do not count (until a first success). */
  startPeriodMs: number;
  /** Failures in a row that make it unhealthy. */
  retries: number;
  /** What an unhealthy container gets. */
  onFailure: "none" | "kill" | "restart" | "stop";
}

/** The record of one container (`config.json`). */
export interface ContainerRecord {
  /** Format version of this file. */
  version: 1;
  /** 64 hex digits. */
  id: string;
  /** Unique name. */
  name: string;
  /** When it was created (ISO 8601). */
  created: string;
  /** Image reference as the user gave it ("" for --rootfs). */
  image: string;
  /** Image id (digest) when known. */
  imageId?: string;
  /** Root filesystem backend and path. */
  rootfs: RootfsInfo;
  /** Everything needed to start it again. */
  spec: ContainerSpec;
  /** HostConfig-like settings. */
  host: HostSettings;
  /** Resource limits, for every start. */
  resources?: Resources;
  /** The cgroup of the current or last run, when it got one of its own. */
  cgroup?: CgroupRef;
}

export { containerDir, containersDir } from "../paths/mod.ts";

/** The log file of one container. */
export function logPath(id: string): string {
  return `${containerDir(id)}/ctr.log`;
}

/** The file naming a container's cgroup directory for its monitor (`--cgroup-file`). */
export function cgroupPathFile(id: string): string {
  return `${containerDir(id)}/cgroup.path`;
}

/** The status file of one container. */
export function statusPath(id: string): string {
  return `${containerDir(id)}/status`;
}

const ID = /^[0-9a-f]{64}$/;

/** Write a file through a temporary name and rename(2): readers see the old or the new file, never half of one. */
export function writeAtomic(path: string, data: string): void {
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    Deno.writeTextFileSync(tmp, data, { mode: 0o600 });
    Deno.renameSync(tmp, path);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // never written
    }
    throw err;
  }
}

/**
 * JSON that keeps what a container spec holds besides plain values: bigints
 * (`{"$bigint": "123"}`: rlimits, capability masks are u64) and byte arrays
 * (`{"$bytes": base64}`: the compiled seccomp filter).
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (typeof v === "bigint") return { $bigint: v.toString() };
    // the native base64 of Uint8Array: btoa over a char-by-char string cost `nook run` ≈1.5 ms cold
    if (v instanceof Uint8Array) return { $bytes: v.toBase64() };
    return v;
  }, 2);
}

/** Inverse of {@link toJson}. */
export function fromJson<T>(text: string): T {
  return JSON.parse(text, (_k, v) => {
    if (!v || typeof v !== "object") return v;
    if (typeof v.$bigint === "string") return BigInt(v.$bigint);
    if (typeof v.$bytes === "string") return Uint8Array.fromBase64(v.$bytes);
    return v;
  });
}

/** Write a container's record. */
export function writeRecord(rec: ContainerRecord): void {
  writeAtomic(`${containerDir(rec.id)}/config.json`, toJson(rec) + "\n");
}

/** Read a container's record; undefined when there is none (removed, or not finished being created). */
export function readRecord(id: string): ContainerRecord | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${containerDir(id)}/config.json`);
  } catch {
    return undefined;
  }
  try {
    return fromJson<ContainerRecord>(text);
  } catch (err) {
    throw new ContainerError(`The record of container ${id.slice(0, 12)} is damaged: ${(err as Error).message}`, {
      path: `${containerDir(id)}/config.json`,
      hint: `remove it with: nook rm -f ${id}`,
      cause: err,
    });
  }
}

/** Ids of every container that has a record. */
export function listIds(): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(containersDir())) {
      if (e.isDirectory && ID.test(e.name)) out.push(e.name);
    }
  } catch {
    // no containers yet
  }
  return out;
}

/** True for a full container id. */
export function isId(s: string): boolean {
  return ID.test(s);
}

/** The record of a container, or an error when it was removed meanwhile. */
export function mustRecord(id: string): ContainerRecord {
  const rec = readRecord(id);
  if (!rec) throw new ContainerError(`No such container: ${id}`, { hint: "nook ps -a lists the containers" });
  return rec;
}
