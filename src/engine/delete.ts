/**
 * `rm`: remove a container, as one transaction recorded in its intent (intent.ts): a command
 * killed halfway leaves the removal for the next command to finish. A runtime container
 * (`nook runtime delete`) is removed by {@link deleteRuntimeContainer}.
 *
 * @module
 */
import { SIGNALS } from "../plan/linux.ts";
import { ContainerError } from "./errors.ts";
import { crashPoint, recordIntent, removeOwned } from "./intent.ts";
import { beingRemoved, removalInProgress } from "./intent_file.ts";
import { releaseRecordedCgroup } from "./cgroup.ts";
import { currentStatus, isActive } from "./status.ts";
import { containerDir, type ContainerRecord, mustRecord, readRecord } from "./store.ts";
import { stopContainer } from "./stop.ts";
import { lazyImport } from "../lazy/mod.ts";
import type { OciState, OciStatus } from "../model/oci.ts";
import { signalProcess, waitProcessGone } from "./proc.ts";
import { removeRuntimeContainerDir, type RuntimeRecord } from "./runtime_record.ts";
import { containerProcesses, ociState } from "./state.ts";
import { dataDir } from "../paths/mod.ts";

/**
 * Remove a container. A running one is refused unless `force`, which kills
 * it first (docker rm -f).
 */
export async function removeContainer(id: string, force: boolean): Promise<void> {
  const rec = mustRecord(id);
  // Concurrent commands serialize on the container's lock; the loser finds the record gone, or the
  // removal still in progress.
  let lock: Deno.FsFile;
  try {
    lock = await Deno.open(`${containerDir(id)}/lock`, { read: true, write: true, create: true, mode: 0o600 });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw alreadyRemoved(rec);
    throw err;
  }
  try {
    if (!(await lock.tryLock(true))) {
      if (removalInProgress(id)) throw beingRemoved(rec.name || id.slice(0, 12));
      await lock.lock(true);
    }
    if (!readRecord(id)) throw alreadyRemoved(rec);
    const s = currentStatus(id);
    if (isActive(s) && !force) {
      throw new ContainerError(`Cannot remove container ${rec.name}: it is ${s.state}`, {
        hint: `stop it first (nook stop ${rec.name}) or force it: nook rm -f ${rec.name}`,
      });
    }
    // From here the removal is recorded (ps shows it as Removing): a nook killed halfway leaves it
    // for the next command to finish; other commands on it are told it is being removed.
    recordIntent(id, "remove");
    crashPoint("rm.intent");
    if (isActive(s)) await stopContainer(id, { timeoutSec: 0, signal: SIGNALS.SIGKILL! });
    crashPoint("rm.stopped");
    // what is left of its cgroup (a cgroupfs directory; a scope systemd has not collected yet)
    await releaseRecordedCgroup(rec);
    // storage and volumes, runtime directory, name, and the record directory last
    await removeOwned(id, () => crashPoint("rm.storage"));
    // off its user network: the others' /etc/hosts forget it (a removal killed before this is caught up by the networks' gc)
    // (the user networks' code loads only where some network exists: `nook runtime delete` needs none)
    if (networksExist()) {
      await (await lazyImport<typeof import("./networks.ts")>("engine/networks.ts")).leaveNetworks(id);
    }
  } finally {
    lock.close();
  }
}

function alreadyRemoved(rec: ContainerRecord): ContainerError {
  return new ContainerError(`Container ${rec.name || rec.id.slice(0, 12)} was already removed (by another command)`, {
    hint: "nook ps -a lists the containers",
  });
}

/**
 * Remove a runtime container (`nook runtime delete`) found in `status`: a created, running or
 * paused one is thawed and its processes killed first (a created container never ran its
 * program: runc deletes it without --force too), an abandoned create has its creator killed;
 * then its cgroup and directory go, and `removed` hears its final state (the poststop hooks).
 * The front door decides whether the status allows it. False when its process did not end
 * within 10 s of SIGKILL: nothing is removed then.
 */
export async function deleteRuntimeContainer(
  root: string,
  rec: RuntimeRecord,
  status: OciStatus,
  removed: (state: OciState) => Promise<void>,
): Promise<boolean> {
  const cg = rec.cgroup
    ? await lazyImport<typeof import("../cgroupv2/container_cgroup.ts")>("cgroupv2/container_cgroup.ts")
    : undefined;
  if (status === "paused") await cg?.freezeCgroup(rec.cgroup!.path, false); // frozen processes die only once thawed
  if (status === "created" || status === "running" || status === "paused") {
    const start = Number(rec.pidStart);
    for (const p of containerProcesses(rec.pid, rec.pidStart)) {
      await signalProcess(p.pid, Number(p.start), SIGNALS.SIGKILL!);
    }
    await signalProcess(rec.pid, start, SIGNALS.SIGKILL!);
    if (!(await waitProcessGone(rec.pid, start, 10_000))) return false;
  } else if (status === "creating") {
    await signalProcess(rec.creator.pid, Number(rec.creator.start), SIGNALS.SIGKILL!);
  }
  const state: OciState = { ...ociState(root, rec), status: "stopped", pid: 0 };
  if (rec.cgroup) await cg?.removeCgroup(rec.cgroup);
  removeRuntimeContainerDir(root, rec.id);
  await removed(state);
  return true;
}

/** Whether any user network was ever made here (engine/networks.ts keeps them under networks/ in the data directory). */
function networksExist(): boolean {
  try {
    Deno.statSync(`${dataDir()}/networks`);
    return true;
  } catch {
    return false;
  }
}
