/**
 * `pause`/`resume`: freeze or thaw every process of a container through its cgroup's
 * `cgroup.freeze` (cgroup v2 has no other freezer). The front door decides whether the container
 * may be paused and words the refusal.
 *
 * @module
 */
import { lazyImport } from "../lazy/mod.ts";
import type { CgroupRef } from "../cgroupv2/container_cgroup.ts";

/** Freeze (pause) or thaw (resume) the processes of the container in cgroup `ref`. */
export async function freezeContainer(ref: CgroupRef, pause: boolean): Promise<void> {
  const { freezeCgroup } = await lazyImport<typeof import("../cgroupv2/container_cgroup.ts")>(
    "cgroupv2/container_cgroup.ts",
  );
  await freezeCgroup(ref.path, pause);
}
