/**
 * `rm`: remove a container, as one transaction recorded in its intent (intent.ts): a command
 * killed halfway leaves the removal for the next command to finish.
 *
 * @module
 */
import { SIGNALS } from "../plan/mod.ts";
import { ContainerError } from "./errors.ts";
import { crashPoint, isAbandoned, readIntent, recordIntent, removeOwned } from "./intent.ts";
import { releaseRecordedCgroup } from "./cgroup.ts";
import { currentStatus, isActive } from "./status.ts";
import { type ContainerRecord, containerDir, mustRecord, readRecord } from "./store.ts";
import { stopContainer } from "./stop.ts";
import { leaveNetworks } from "./networks.ts";

/**
 * Remove a container. A running one is refused unless `force`, which kills
 * it first (docker rm -f).
 */
export async function removeContainer(id: string, force: boolean): Promise<void> {
  const rec = mustRecord(id);
  const s = currentStatus(id);
  if (isActive(s)) {
    if (!force) {
      throw new ContainerError(`Cannot remove container ${rec.name}: it is ${s.state}`, {
        hint: `stop it first (nook stop ${rec.name}) or force it: nook rm -f ${rec.name}`,
      });
    }
    await stopContainer(id, { timeoutSec: 0, signal: SIGNALS.SIGKILL! });
  }
  // Concurrent removals serialize on the container's lock; the loser finds the record gone.
  let lock: Deno.FsFile;
  try {
    lock = await Deno.open(`${containerDir(id)}/lock`, { read: true, write: true, create: true, mode: 0o600 });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw alreadyRemoved(rec);
    throw err;
  }
  try {
    await lock.lock(true);
    if (!readRecord(id) || readIntent(id)?.op === "remove" && !isAbandoned(readIntent(id)!)) throw alreadyRemoved(rec);
    const again = currentStatus(id);
    if (isActive(again)) {
      throw new ContainerError(`Cannot remove container ${rec.name}: it was started again meanwhile`, {
        hint: `nook rm -f ${rec.name}`,
      });
    }
    // From here the removal is recorded: a nook killed halfway leaves it for the next command to finish.
    recordIntent(id, "remove");
    crashPoint("rm.intent");
    // what is left of its cgroup (a cgroupfs directory; a scope systemd has not collected yet)
    await releaseRecordedCgroup(rec);
    // storage and volumes, runtime directory, name, and the record directory last
    await removeOwned(id, () => crashPoint("rm.storage"));
    // off its user network: the others' /etc/hosts forget it (a removal killed before this is caught up by the networks' gc)
    await leaveNetworks(id);
  } finally {
    lock.close();
  }
}

function alreadyRemoved(rec: ContainerRecord): ContainerError {
  return new ContainerError(`Container ${rec.name || rec.id.slice(0, 12)} was already removed (by another command)`, {
    hint: "nook ps -a lists the containers",
  });
}
