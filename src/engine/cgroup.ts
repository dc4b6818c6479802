/**
 * A container's cgroup in its record: where it is (for `stats`,
 * `exec`, `inspect`, `rm`), the limits it is started with again, the OOM kill
 * of a foreground run, and the one-line file its monitor reads.
 */
import { lazyImport } from "../lazy/mod.ts";
import type { RunHooks } from "../model/container.ts";
import type { CgroupRef, CgroupRelease } from "../cgroupv2/container_cgroup.ts";
import type { Resources } from "../cgroupv2/resources.ts";
import { cgroupHooks } from "../cgroupv2/run_hooks.ts";
import { readStatusFile, writeStatus } from "./status.ts";
import { cgroupPathFile, type ContainerRecord, readRecord, writeAtomic, writeRecord } from "./store.ts";

/**
 * Record that container `id` runs in the cgroup `ref` with `resources`: in
 * its record, and in `cgroup.path` for its monitor (written before GO, so
 * the monitor finds it once the first start is through).
 */
export function recordCgroup(id: string, ref: CgroupRef, resources: Resources): void {
  const rec = readRecord(id);
  if (!rec) return; // removed meanwhile
  rec.cgroup = ref;
  rec.resources = resources;
  writeRecord(rec);
  writeAtomic(cgroupPathFile(id), `${ref.path}\n`);
}

/** Mark the current run of a foreground container as ended by the OOM killer (its status keeps it as OOMKilled). */
export function recordOomKill(id: string): void {
  try {
    writeStatus(id, { ...readStatusFile(id), oomKilled: true });
  } catch {
    // removed meanwhile
  }
}

/**
 * The cgroup hooks of a recorded container: its cgroup is noted in the
 * record once it is joined; a foreground run's OOM kill is noted in its
 * status, and `onRelease` hears of the release too.
 */
export async function recordedCgroupHooks(
  id: string,
  spec: ContainerRecord["spec"],
  resources: Resources,
  opts: { detached: boolean; onRelease?: (r: CgroupRelease) => void },
): Promise<RunHooks> {
  return await cgroupHooks(spec, resources, {
    detached: opts.detached,
    onJoined: (ref) => recordCgroup(id, ref, resources),
    onRelease: (r) => {
      if (r.oomKilled) recordOomKill(id);
      opts.onRelease?.(r);
    },
  });
}

/**
 * Remove what is left of a container's last cgroup (the scope of a monitor
 * that is gone, a cgroupfs directory) and forget it: before `start` makes a
 * new one, and at `rm`. Best effort: systemd collects an empty scope by itself.
 */
export async function releaseRecordedCgroup(rec: ContainerRecord): Promise<void> {
  const ref = rec.cgroup;
  if (!ref) return;
  delete rec.cgroup;
  try {
    Deno.removeSync(cgroupPathFile(rec.id));
  } catch {
    // none
  }
  const { removeCgroup } = await lazyImport<typeof import("../cgroupv2/container_cgroup.ts")>(
    "cgroupv2/container_cgroup.ts",
  );
  await removeCgroup(ref).catch(() => {});
}
