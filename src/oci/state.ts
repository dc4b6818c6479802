/**
 * Container state under the runtime's root (`--root`, default
 * `$XDG_RUNTIME_DIR/nook/runtime`): one directory per container with
 * `state.json` (what `create` decided) and `exec.fifo` (present while the
 * container waits for `start`).
 *
 * The status is never stored: it is read from the processes themselves —
 * a process is identified by pid *and* start time (/proc/PID/stat field 22),
 * so a recycled pid never passes for the container.
 *
 * @module
 */
import { ensurePrivateDir, runtimeDir } from "../paths/mod.ts";
import type { CgroupRef } from "../cgroupv2/container_cgroup.ts";
import type { OciHooks, OciProcess } from "./config.ts";
import { OciError } from "./errors.ts";
import { writeAtomic } from "../engine/store.ts";

/** The runtime-spec version nook implements. */
export const OCI_VERSION = "1.1.0";

/** What `create` records about a container. */
export interface ContainerRecord {
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

/** The runtime-spec state of a container (what `state` prints). */
export interface OciState {
  /** Spec version of the state. */
  ociVersion: string;
  /** Container id. */
  id: string;
  /** creating, created, running or stopped. */
  status: Status;
  /** Process id (0 when stopped). */
  pid: number;
  /** Absolute bundle path. */
  bundle: string;
  /** Root filesystem (runc's extension). */
  rootfs: string;
  /** Creation time (runc's extension). */
  created: string;
  /** Owner (runc's extension). */
  owner: string;
  /** Annotations from config.json. */
  annotations: Record<string, string>;
}

/** A container's status. */
export type Status = "creating" | "created" | "running" | "paused" | "stopped";

/** runc's rule for ids: letters, digits and `_+-.`, and not "." or "..". */
export function checkId(id: string | undefined): string {
  if (!id) throw new OciError("No container id given", { hint: "the container id comes after the options" });
  if (!/^[\w+\-.]+$/.test(id) || id === "." || id === ".." || id.length > 1024) {
    throw new OciError(`Invalid container id "${id}"`, { hint: "ids may use letters, digits, _ + - and ." });
  }
  return id;
}

/**
 * The runtime's root: `--root` (made if missing; an engine may choose its
 * mode), else `$XDG_RUNTIME_DIR/nook/runtime` (or /tmp/nook-UID/runtime),
 * which must be private.
 */
export function stateRoot(root: string | undefined): string {
  if (root === undefined) return ensurePrivateDir(`${runtimeDir()}/runtime`);
  const abs = root.startsWith("/") ? root : `${Deno.cwd()}/${root}`;
  try {
    Deno.mkdirSync(abs, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new OciError(`Cannot create the runtime root "${abs}": ${(err as Error).message}`, { path: abs });
  }
  return abs;
}

/** The directory of one container. */
export function containerDir(root: string, id: string): string {
  return `${root}/${id}`;
}

/** Read a container's record; a missing container is an error that says so. */
export function loadRecord(root: string, id: string): ContainerRecord {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${containerDir(root, id)}/state.json`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new OciError(`container "${id}" does not exist`, { hint: `the runtime's root is "${root}"; see \`list\`` });
    }
    throw err;
  }
  const rec = JSON.parse(text) as ContainerRecord;
  // rlimits are u64: stored as decimal strings
  rec.process.rlimits = rec.process.rlimits.map(([r, soft, hard]) => [r, BigInt(soft), BigInt(hard)]);
  return rec;
}

/** Write a container's record through the engine's atomic writer (rlimits, u64, as decimal strings). */
export function saveRecord(root: string, rec: ContainerRecord): void {
  writeAtomic(
    `${containerDir(root, rec.id)}/state.json`,
    JSON.stringify(rec, (_k, v) => (typeof v === "bigint" ? v.toString() : v)),
  );
}

/** Records of every container under the root (unreadable ones skipped). */
export function listRecords(root: string): ContainerRecord[] {
  const out: ContainerRecord[] = [];
  for (const e of Deno.readDirSync(root)) {
    if (!e.isDirectory) continue;
    try {
      out.push(loadRecord(root, e.name));
    } catch {
      // half-made or removed meanwhile
    }
  }
  return out.sort((a, b) => a.created.localeCompare(b.created));
}

export { procStat } from "../proc/mod.ts";
import { procStat } from "../proc/mod.ts";

/** True while pid is the process that started at `start` and has not exited (a zombie has). */
export function isAlive(pid: number, start: string): boolean {
  const st = procStat(pid);
  return st !== undefined && st.start === start && st.state !== "Z" && st.state !== "X";
}

/** The status of a container, from its processes and its FIFO. */
export function statusOf(root: string, rec: ContainerRecord): Status {
  if (rec.phase === "creating") return isAlive(rec.creator.pid, rec.creator.start) ? "creating" : "stopped";
  if (!isAlive(rec.pid, rec.pidStart)) return "stopped";
  try {
    Deno.lstatSync(`${containerDir(root, rec.id)}/exec.fifo`);
    return "created";
  } catch {
    return isFrozen(rec) ? "paused" : "running";
  }
}

/** True when the container's cgroup is frozen (`pause`). */
export function isFrozen(rec: ContainerRecord): boolean {
  if (!rec.cgroup) return false;
  try {
    return Deno.readTextFileSync(`${rec.cgroup.path}/cgroup.freeze`).trim() === "1";
  } catch {
    return false;
  }
}

/** The runtime-spec state of a container. */
export function ociState(root: string, rec: ContainerRecord): OciState {
  const status = statusOf(root, rec);
  return {
    ociVersion: rec.ociVersion,
    id: rec.id,
    status,
    pid: status === "stopped" ? 0 : rec.pid,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    owner: rec.owner,
    annotations: rec.annotations,
  };
}
