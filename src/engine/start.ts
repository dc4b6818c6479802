import { ensureHelloRootfs } from "../image/builtin_hello.ts";
import { startDetached } from "./monitor.ts";
import { dataDir } from "../paths/mod.ts";
import { detectIdMapping } from "../userns/mod.ts";
import { ContainerError } from "./errors.ts";
import { recordStartFailure } from "./foreground.ts";
import { recordedCgroupHooks, releaseRecordedCgroup } from "./cgroup.ts";
import { withLockAsync } from "./lock.ts";
import { currentStatus, isActive } from "./status.ts";
import { type ContainerRecord, containerDir, readRecord, writeRecord } from "./store.ts";

/**
 * Make sure the root filesystem of a recorded container is there again (after
 * a reboot, or a clean-up of the data directory). An image's
 * storage backend is prepared again by its own start step.
 */
export function prepareRootfs(rec: ContainerRecord): void {
  if (rec.rootfs.backend === "builtin") {
    const path = ensureHelloRootfs(dataDir());
    rec.spec.rootfs = rec.rootfs.path = path;
  }
  try {
    if (Deno.statSync(rec.spec.rootfs).isDirectory) return;
  } catch {
    // reported below
  }
  throw new ContainerError(`The root filesystem "${rec.spec.rootfs}" of container ${rec.name} is gone`, {
    path: rec.spec.rootfs,
    hint: "remove the container (nook rm) and run a new one",
  });
}

/**
 * Start a container that is not running, detached under the monitor, from
 * its record (docker start). Does nothing when it already runs.
 */
export async function startContainer(id: string): Promise<void> {
  await withLockAsync(`${containerDir(id)}/lock`, async () => {
    const rec = readRecord(id);
    if (!rec) throw new ContainerError(`No such container: ${id}`);
    if (isActive(currentStatus(id))) return;
    prepareRootfs(rec);
    try {
      // a cgroup of its own again, with the limits it was run with
      await releaseRecordedCgroup(rec);
      const hooks = await recordedCgroupHooks(id, rec.spec, rec.resources ?? {}, { detached: true });
      writeRecord(rec);
      await startDetached(rec, detectIdMapping(), hooks);
    } catch (err) {
      recordStartFailure(rec, err);
      throw err;
    }
  });
}
