import { runContainer } from "./run.ts";
import type { RunHooks } from "../model/container.ts";
import type { IdMapping } from "../userns/mod.ts";
import { removeContainerFiles } from "./create.ts";
import { leaveNetworks } from "./networks.ts";
import { exitedStatus, foregroundRunning, readStatusFile, recordStartFailure, writeStatus } from "./status.ts";
import type { ContainerRecord } from "./store.ts";
export { recordStartFailure } from "./status.ts";

/**
 * Run a recorded container in the foreground (`nook run` without -d): its
 * status says running with nook as the supervisor while it runs, and exited
 * with the code afterwards; with --rm the record goes away at the end.
 */
export async function runForeground(rec: ContainerRecord, mapping: IdMapping, hooks: RunHooks = {}): Promise<number> {
  try {
    const code = await runContainer(rec.spec, mapping, {
      ...hooks,
      beforeGo: [
        (pid) => Promise.resolve(writeStatus(rec.id, foregroundRunning(readStatusFile(rec.id), pid))),
        ...(hooks.beforeGo ?? []),
      ],
      // a plan that joins a shared user namespace forks: the program runs in the second process
      started: [
        ...(rec.spec.joinUserns ? [(pid: number) => Promise.resolve(writeStatus(rec.id, foregroundRunning(readStatusFile(rec.id), pid)))] : []),
        ...(hooks.started ?? []),
      ],
    });
    if (!rec.host.autoRemove) {
      // the cgroup's afterExit step marked an OOM kill of this run (foregroundRunning cleared the mark)
      const prev = readStatusFile(rec.id);
      writeStatus(rec.id, exitedStatus(prev, code, "", prev.oomKilled));
    }
    return code;
  } catch (err) {
    if (!rec.host.autoRemove) recordStartFailure(rec, err);
    throw err;
  } finally {
    if (rec.host.autoRemove) {
      removeContainerFiles(rec);
      // the others' names forget it now (its veth went with its namespace: the kernel deletes it)
      if (rec.spec.userNetwork) await leaveNetworks(rec.id, false).catch(() => {});
    }
  }
}
