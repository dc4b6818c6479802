/**
 * One build step as a container: the engine runs a command over a stack of layer directories with a
 * writable upper directory (kernel overlayfs, else fuse-overlayfs), waits for it and returns its exit
 * code. The upper directory then holds exactly what the command changed, in overlay's own format
 * (whiteouts as 0/0 character devices, `user.overlay.opaque` directories), for the caller to diff.
 *
 * Called from inside nook's user namespace (where the layers' owners exist): the container's user
 * namespace is made inside it and maps every id of it to itself, so the container sees the same
 * ids as `nook run` gives it (0 → the caller, 1.. → the subordinate ranges).
 *
 * @module
 */
import type { ContainerSpec, RootfsSetup } from "../model/container.ts";
import type { IdMapping, IdRange } from "../userns/mod.ts";
import { readIdMap } from "../userns/mod.ts";
import { ContainerError } from "./errors.ts";
import { runContainer, type RunHooks } from "./run.ts";

/** Where a step's root comes from. */
export interface StepRoot {
  /** The directory the layer paths are relative to (the store's root: keeps mount(2)'s data short). */
  base: string;
  /** Layer directories (relative to `base`), top first; empty for `scratch`. */
  lowers: string[];
  /** The writable directory that receives the changes (relative to `base`). */
  upper: string;
  /** overlay's work directory, on the same filesystem as `upper` (relative to `base`). */
  work: string;
  /** An empty directory (relative to `base`), the lower of a step over no layer. */
  empty: string;
  /** The mount point that becomes `/` (absolute). */
  merged: string;
  /** "overlay" (kernel, `userxattr`) or "fuse-overlayfs" (with the helper's path). */
  backend: "overlay" | "fuse-overlayfs";
  /** Path of fuse-overlayfs for that backend. */
  fuseOverlayfs?: string;
}

/** mount(2) takes one page of data. */
const MAX_MOUNT_DATA = 4000;

/** How the child assembles a step's root: the overlay of its layers with the step's upper directory. */
export function stepRootfsSetup(r: StepRoot): RootfsSetup {
  const lowers = r.lowers.length ? r.lowers : [r.empty];
  if (r.backend === "overlay") {
    const data = `lowerdir=${lowers.join(":")},upperdir=${r.upper},workdir=${r.work},userxattr`;
    if (data.length > MAX_MOUNT_DATA) {
      throw new ContainerError(`The build step has too many layers (${lowers.length}) for one overlay mount`, {
        hint: "build with NOOK_STORAGE_BACKEND=fuse-overlayfs",
      });
    }
    return { cwd: r.base, mount: { source: "overlay", target: r.merged, fstype: "overlay", flags: 0, data } };
  }
  const abs = (p: string) => `${r.base}/${p}`;
  const opts = `lowerdir=${lowers.map(abs).join(":")},upperdir=${abs(r.upper)},workdir=${abs(r.work)},allow_other`;
  return {
    run: [{
      path: r.fuseOverlayfs ?? "/usr/bin/fuse-overlayfs",
      args: ["fuse-overlayfs", "-o", opts, r.merged],
      env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
    }],
    leaveHelpersBehind: true,
  };
}

/**
 * The id mapping of a container made from inside nook's user namespace: every id of this
 * namespace to itself. Why not detectIdMapping: in here nook is uid 0 and would map the whole
 * 32-bit range, which this namespace does not have; and newuidmap is not needed, as root of
 * this namespace may write any of its own ids into a child's map.
 */
export function insideIdMapping(): IdMapping {
  const identity = (ranges: IdRange[] | undefined): IdRange[] =>
    (ranges ?? [{ inside: 0, outside: 0, count: 1 }]).map((r) => ({ inside: r.inside, outside: r.inside, count: r.count }));
  return { mode: "single", uidMap: identity(readIdMap("self", "uid")), gidMap: identity(readIdMap("self", "gid")) };
}

/**
 * Run one build step: the spec's root is assembled from `spec.rootfsSetup` (see
 * {@link stepRootfsSetup}) and the container is run in the foreground with the engine's
 * namespaces, seccomp, capabilities and plan. Resolves with the exit code.
 */
export async function runStep(spec: ContainerSpec, hooks: RunHooks = {}): Promise<number> {
  return await runContainer(spec, insideIdMapping(), hooks);
}
