/**
 * `start -a`: a recorded container that is not running, started in the foreground from its
 * record — its output on ours, signals forwarded, its exit code ours — as `run` without -d does
 * for a new one. The cgroup and network it was created with are set up again here, in this
 * process, as a foreground run's are.
 *
 * @module
 */
import { networkHooks } from "../network/mod.ts";
import { detectIdMapping } from "../userns/mod.ts";
import { recordedCgroupHooks, releaseRecordedCgroup } from "./cgroup.ts";
import { ContainerError } from "./errors.ts";
import { recordStartFailure, runForeground } from "./foreground.ts";
import { withLockAsync } from "./lock.ts";
import { mergeHooks } from "./run.ts";
import { prepareRootfs, recordedCreateHooks } from "./start.ts";
import { currentStatus, foregroundRunning, isActive, readStatusFile, writeStatus } from "./status.ts";
import { containerRunDir } from "./intent.ts";
import { containerDir, type ContainerRecord, readRecord, writeRecord } from "./store.ts";

/** Start container `id` attached; resolves with its exit code (128+n for a signal). */
export async function startAttached(id: string): Promise<number> {
  const rec = await withLockAsync(`${containerDir(id)}/lock`, async (): Promise<ContainerRecord> => {
    const r = readRecord(id);
    if (!r) throw new ContainerError(`No such container: ${id}`);
    if (isActive(currentStatus(id))) {
      throw new ContainerError(`The container "${r.name}" is already running`, {
        hint: `follow its output with nook logs -f ${r.name}`,
      });
    }
    prepareRootfs(r);
    // the network helpers keep their sockets in the runtime directory, which a reboot empties
    Deno.mkdirSync(containerRunDir(id), { recursive: true, mode: 0o700 });
    await releaseRecordedCgroup(r);
    writeRecord(r);
    // Claimed before the lock goes: running, with this nook as its supervisor (its pid comes once
    // it exists). A second start -a or start sees it running; if this nook dies first, the claim
    // reads as exited (its supervisor is gone).
    writeStatus(id, { ...foregroundRunning(readStatusFile(id), 0), pidStart: 0 });
    return r;
  });
  let cgroup, create;
  try {
    cgroup = await recordedCgroupHooks(id, rec.spec, rec.resources ?? {}, { detached: false });
    create = await recordedCreateHooks(id, rec.spec);
  } catch (err) {
    recordStartFailure(rec, err);
    throw err;
  }
  return await runForeground(rec, detectIdMapping(), mergeHooks(cgroup, networkHooks(rec.spec), { beforeGo: create }));
}
