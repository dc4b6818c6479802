/**
 * `start`: a recorded container runs again, detached under its monitor (`nook start`); a created
 * runtime container's process is let go to exec its program (`nook runtime start`).
 *
 * @module
 */
import { ensureHelloRootfs } from "../image/builtin_hello.ts";
import { lazyImport } from "../lazy/mod.ts";
import { dataDir } from "../paths/mod.ts";
import type { ContainerSpec } from "../model/mod.ts";
import { SIGNALS } from "../plan/linux.ts";
import { detectIdMapping } from "../userns/mod.ts";
import { ContainerError } from "./errors.ts";
import { recordedCgroupHooks, releaseRecordedCgroup } from "./cgroup.ts";
import { withLockAsync } from "./lock.ts";
import { currentStatus, isActive, recordStartFailure } from "./status.ts";
import { containerDir, type ContainerRecord, readRecord, writeRecord } from "./store.ts";
import { signalProcess } from "./proc.ts";
import { execFifoPath, type RuntimeRecord } from "./runtime_record.ts";
import { rejoinPod } from "./pod_store.ts";

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
 * The create hooks a container was made with (CDI's), as steps before GO of a start from its
 * record (the monitor runs them itself on its restarts).
 */
export async function recordedCreateHooks(id: string, spec: ContainerSpec): Promise<((pid: number) => Promise<void>)[]> {
  const hooks = spec.createHooks ?? [];
  if (!hooks.length) return [];
  const { runCdiHook } = await lazyImport<typeof import("./cdi.ts")>("engine/cdi.ts");
  return [(pid) => Promise.all(hooks.map((h) => runCdiHook(h, id, pid))).then(() => {})];
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
    rejoinPod(rec); // a pod's member joins its infra container's current process
    try {
      // a cgroup of its own again, with the limits it was run with
      await releaseRecordedCgroup(rec);
      const hooks = await recordedCgroupHooks(id, rec.spec, rec.resources ?? {}, { detached: true });
      (hooks.beforeGo ??= []).push(...await recordedCreateHooks(id, rec.spec));
      writeRecord(rec);
      // the monitor and what it launches (plans, seccomp, networks) load only here: `nook runtime start` needs none of it
      const { startDetached } = await lazyImport<typeof import("./monitor.ts")>("engine/monitor.ts");
      await startDetached(rec, detectIdMapping(), hooks);
    } catch (err) {
      recordStartFailure(rec, err);
      throw err;
    }
  });
}

/**
 * Let a created runtime container's process (pid) exec its program: `beforeRelease` first (the
 * startContainer hooks, which the front door runs; when it throws, the process is killed — the
 * runtime spec's rule), then one byte into exec.fifo, which then goes (the container reads as
 * running from then on).
 */
export async function releaseRuntimeContainer(
  root: string,
  rec: RuntimeRecord,
  pid: number,
  beforeRelease: () => Promise<void>,
): Promise<void> {
  try {
    await beforeRelease();
  } catch (err) {
    await signalProcess(pid, Number(rec.pidStart), SIGNALS.SIGKILL!);
    throw err;
  }
  const fifo = execFifoPath(root, rec.id);
  // read-write: never blocks, even if the process just died (then the byte is simply dropped)
  const f = Deno.openSync(fifo, { read: true, write: true });
  try {
    f.writeSync(new Uint8Array([0x30]));
  } finally {
    f.close();
  }
  Deno.removeSync(fifo);
}
