/**
 * Which copy-on-write backend containers get: kernel overlayfs mounted inside
 * the user namespace (`userxattr`, Linux ≥ 5.11), else fuse-overlayfs, else
 * a private copy of the layers. Detected once by trial mounts in a throwaway
 * namespace, cached in the data directory (re-checked when the kernel
 * changes), and overridable with `NOOK_STORAGE_BACKEND`.
 */
import { UsageError } from "../errors/mod.ts";
import { closeFd, wait } from "../ffi/mod.ts";
import { launch } from "../launch/mod.ts";
import { dataDir } from "../paths/mod.ts";
import { CLONE, MS, Plan, SIGNALS } from "../plan/mod.ts";
import { applyIdMapping, detectIdMapping, findExecutable } from "../userns/mod.ts";
import { removeTrees } from "../unshare/mod.ts";

/** The backends, best first. */
export const BACKENDS = ["overlay", "fuse-overlayfs", "copy"] as const;

/** A copy-on-write backend. */
export type Backend = typeof BACKENDS[number];

/** The chosen backend and why. */
export interface BackendChoice {
  /** The backend. */
  backend: Backend;
  /** "override" (NOOK_STORAGE_BACKEND), "detected" or "cached". */
  source: "override" | "detected" | "cached";
  /** Why better backends were not chosen (empty when the best one works). */
  reasons: string[];
  /** Path of fuse-overlayfs, when it is used. */
  fuseOverlayfs?: string;
}

interface Cache {
  kernel: string;
  backend: Backend;
  reasons: string[];
  fuseOverlayfs?: string;
}

let chosen: BackendChoice | undefined;

function kernelRelease(): string {
  try {
    return Deno.readTextFileSync("/proc/sys/kernel/osrelease").trim();
  } catch {
    return "unknown";
  }
}

/** The cache file of the detection. */
export function backendCachePath(): string {
  return `${dataDir()}/storage-backend.json`;
}

/** The backend this host uses (detecting it on first use, then from the cache). */
export async function storageBackend(): Promise<BackendChoice> {
  if (chosen) return chosen;
  const over = Deno.env.get("NOOK_STORAGE_BACKEND");
  if (over) {
    const b = over === "vfs" ? "copy" : over === "fuse" ? "fuse-overlayfs" : over;
    if (!(BACKENDS as readonly string[]).includes(b)) {
      throw new UsageError(`Unknown storage backend "${over}" in NOOK_STORAGE_BACKEND`, {
        hint: `use one of: ${BACKENDS.join(", ")}`,
      });
    }
    const fuse = findExecutable("fuse-overlayfs", `${Deno.env.get("PATH") ?? ""}:/usr/bin:/bin`);
    chosen = {
      backend: b as Backend,
      source: "override",
      reasons: [],
      ...(b === "fuse-overlayfs" && fuse ? { fuseOverlayfs: fuse } : {}),
    };
    return chosen;
  }
  const kernel = kernelRelease();
  try {
    const c = JSON.parse(Deno.readTextFileSync(backendCachePath())) as Cache;
    if (c.kernel === kernel && (BACKENDS as readonly string[]).includes(c.backend)) {
      chosen = {
        backend: c.backend,
        source: "cached",
        reasons: c.reasons,
        ...(c.fuseOverlayfs ? { fuseOverlayfs: c.fuseOverlayfs } : {}),
      };
      return chosen;
    }
  } catch {
    // not detected yet
  }
  chosen = { ...(await detect()), source: "detected" };
  try {
    Deno.mkdirSync(dataDir(), { recursive: true, mode: 0o700 });
    const c: Cache = {
      kernel,
      backend: chosen.backend,
      reasons: chosen.reasons,
      ...(chosen.fuseOverlayfs ? { fuseOverlayfs: chosen.fuseOverlayfs } : {}),
    };
    const tmp = `${backendCachePath()}.${Deno.pid}`;
    Deno.writeTextFileSync(tmp, JSON.stringify(c) + "\n");
    Deno.renameSync(tmp, backendCachePath());
  } catch {
    // a read-only data directory only costs a probe per run
  }
  return chosen;
}

/** Forget the cached choice (tests, `system reset`). */
export function forgetStorageBackend(): void {
  chosen = undefined;
  try {
    Deno.removeSync(backendCachePath());
  } catch {
    // not there
  }
}

async function detect(): Promise<Omit<BackendChoice, "source">> {
  const reasons: string[] = [];
  const why = await probe("overlay");
  if (!why) return { backend: "overlay", reasons };
  reasons.push(`kernel overlayfs in a user namespace: ${why}`);
  const fuse = findExecutable("fuse-overlayfs", `${Deno.env.get("PATH") ?? ""}:/usr/bin:/bin`);
  if (!fuse) reasons.push("fuse-overlayfs: not installed (apt install fuse-overlayfs)");
  else {
    const fwhy = await probe("fuse-overlayfs", fuse);
    if (!fwhy) return { backend: "fuse-overlayfs", reasons, fuseOverlayfs: fuse };
    reasons.push(`fuse-overlayfs: ${fwhy}`);
  }
  return { backend: "copy", reasons };
}

/**
 * A trial mount in a throwaway user + mount + pid namespace: two lower
 * layers, an upper and a work directory under the data directory (the
 * filesystem the layers live on). Resolves with why it failed, or undefined.
 */
async function probe(kind: "overlay" | "fuse-overlayfs", fuse?: string): Promise<string | undefined> {
  const trueBin = findExecutable("true", "/usr/bin:/bin");
  if (!trueBin) return "no true(1) on this host to run the probe";
  const tmp = `${dataDir()}/tmp`;
  Deno.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const dir = Deno.makeTempDirSync({ dir: tmp, prefix: "probe-" });
  try {
    for (const d of ["l1", "l2", "u", "w", "m"]) Deno.mkdirSync(`${dir}/${d}`);
    const opts = `lowerdir=${dir}/l2:${dir}/l1,upperdir=${dir}/u,workdir=${dir}/w`;
    const p = new Plan(CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWPID);
    p.pdeathsig(SIGNALS.SIGKILL!);
    p.mount("", "/", "", MS.REC | MS.PRIVATE);
    if (kind === "overlay") p.mount("overlay", `${dir}/m`, "overlay", 0, `${opts},userxattr`);
    else p.run(fuse!, ["fuse-overlayfs", "-o", opts, `${dir}/m`], ["PATH=/usr/bin:/bin"]);
    p.exec([trueBin], ["true"], []);
    const mapping = detectIdMapping();
    const started = await launch(p, { beforeGo: (pid) => applyIdMapping(pid, mapping) });
    await wait(started.pid);
    await closeFd(started.pidfd);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await removeTrees([dir]).catch(() => {});
  }
}
