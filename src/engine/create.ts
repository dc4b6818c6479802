import type { ContainerSpec } from "../model/container.ts";
import { ContainerError } from "./errors.ts";
import { generatedNames, releaseName, reserveName } from "./names.ts";
import { readIntent } from "./intent.ts";
import { type ContainerRecord, containerDir, containersDir, type HostSettings, type RootfsInfo, writeRecord } from "./store.ts";

/** What `createContainer` needs besides the spec. */
export interface CreateOptions {
  /** --name; generated when missing. */
  name?: string | undefined;
  /** Image reference ("" for --rootfs). */
  image: string;
  /** Image id when known. */
  imageId?: string;
  /** Root filesystem backend. */
  rootfs: RootfsInfo;
  /** HostConfig-like settings. */
  host: HostSettings;
  /**
   * Keep copies of the /etc files with the record, so that `start` finds them
   * after the runtime directory is gone. Not needed for `run --rm` in the
   * foreground, whose record ends with the run.
   */
  keepEtcFiles: boolean;
}

/**
 * Make the record of a new container: its directory, `config.json` (no status
 * file yet: that reads as `created`), copies of its /etc files when asked
 * (the spec's etcFiles are repointed at them), then its name.
 */
export function createContainer(spec: ContainerSpec, opts: CreateOptions): ContainerRecord {
  const dir = containerDir(spec.id);
  Deno.mkdirSync(containersDir(), { recursive: true, mode: 0o700 });
  try {
    Deno.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    // made by beginCreate (src/engine/intent.ts) of this very process: the record goes into it
    if (err instanceof Deno.errors.AlreadyExists && readIntent(spec.id)?.pid === Deno.pid) return createIn(spec, opts, dir);
    throw new ContainerError(`Cannot create the container directory "${dir}": ${(err as Error).message}`, {
      path: dir,
      cause: err,
      hint: "check that the data directory is writable (NOOK_DATA_DIR, XDG_DATA_HOME)",
    });
  }
  return createIn(spec, opts, dir);
}

function createIn(spec: ContainerSpec, opts: CreateOptions, dir: string): ContainerRecord {
  let name: string | undefined;
  try {
    if (opts.keepEtcFiles) {
      const etc = { hosts: `${dir}/hosts`, hostname: `${dir}/hostname`, resolvConf: `${dir}/resolv.conf` };
      Deno.copyFileSync(spec.etcFiles.hosts, etc.hosts);
      Deno.copyFileSync(spec.etcFiles.hostname, etc.hostname);
      Deno.copyFileSync(spec.etcFiles.resolvConf, etc.resolvConf);
      spec.etcFiles = etc;
    }
    const rec: ContainerRecord = {
      version: 1,
      id: spec.id,
      name: "",
      created: new Date().toISOString(),
      image: opts.image,
      ...(opts.imageId ? { imageId: opts.imageId } : {}),
      rootfs: opts.rootfs,
      spec,
      host: opts.host,
    };
    // The name is claimed last, so that a name never points at a half-made
    // record (which another nook would take for a stale entry).
    const candidates = opts.name !== undefined ? [opts.name] : generatedNames();
    for (const [i, candidate] of candidates.entries()) {
      rec.name = candidate;
      writeRecord(rec);
      try {
        reserveName(candidate, spec.id);
        name = candidate;
        return rec;
      } catch (err) {
        if (opts.name !== undefined || i === candidates.length - 1 || !(err instanceof ContainerError)) throw err;
      }
    }
    throw new ContainerError("Could not find a free container name", { hint: "give one with --name" });
  } catch (err) {
    if (name !== undefined) releaseName(name, spec.id);
    Deno.removeSync(dir, { recursive: true });
    throw err;
  }
}

/** Remove a container's files and its name (the caller made sure it does not run). */
export function removeContainerFiles(rec: ContainerRecord): void {
  releaseName(rec.name, rec.id);
  try {
    Deno.removeSync(containerDir(rec.id), { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new ContainerError(`Cannot remove the files of container ${rec.id.slice(0, 12)}: ${(err as Error).message}`, {
        path: containerDir(rec.id),
        cause: err,
      });
    }
  }
}
