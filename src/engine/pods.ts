/**
 * Pods: containers that share one network, ipc and uts namespace (and pid, on request), held by
 * an infra container. The infra container is an ordinary detached container of the built-in
 * image: its pid 1 is nook-init (the static helper of `--init`) whose child is the image's
 * program in its "pause" mode, and its parent is the C monitor — no Deno process stays behind.
 * The pod's `-p` ports are published on the infra container, in the network its members share.
 * Members are containers run with `--pod` (prepare.ts): their spec names the pod, and each start
 * joins the infra container's current process ({@link rejoinPod}).
 *
 * @module
 */
import { UsageError } from "../errors/mod.ts";
import { removeContainer } from "./delete.ts";
import { crashPoint } from "./intent.ts";
import { resolveContainer } from "./names.ts";
import { infraId, type PodRecord, readPod, removePodRecord, writePod } from "./pod_store.ts";
import { startContainer } from "./start.ts";
import { currentStatus, type Status } from "./status.ts";
import { stopContainer } from "./stop.ts";
import { type ContainerRecord, listIds, readRecord } from "./store.ts";
import type { IdMapping } from "../userns/mod.ts";
import { checkName, newId, runRequest } from "./prepare.ts";

/** What `pod create` asks for. */
export interface PodRequest {
  /** The pod's name (also its members' hostname). */
  name: string;
  /** `-p` values, published on the pod. */
  publish: string[];
  /** Share the pid namespace too (`--share pid`). */
  sharePid: boolean;
}

/** The infra container's name. */
export function infraName(pod: string): string {
  return `${pod}-infra`;
}

/** Create a pod and start its infra container; resolves with its record. */
export async function createPod(req: PodRequest, mapping?: IdMapping): Promise<PodRecord> {
  checkName(req.name);
  if (readPod(req.name)) throw new UsageError(`The pod "${req.name}" exists already`, { hint: `remove it first: nook pod rm -f ${req.name}` });
  if (nameTaken(infraName(req.name))) {
    // the pod's clean-up would take that container for its own infra container
    throw new UsageError(`A container named "${infraName(req.name)}" exists already`, {
      hint: "rename or remove it, or choose another pod name",
    });
  }
  const pod: PodRecord = {
    name: req.name,
    id: newId(),
    created: new Date().toISOString(),
    infra: infraName(req.name),
    share: ["net", "ipc", "uts", ...(req.sharePid ? ["pid" as const] : [])],
    ports: req.publish,
  };
  writePod(pod); // the record first: a create killed now leaves a pod that pod rm -f removes
  crashPoint("pod.create");
  try {
    await runRequest({
      source: { image: "hello" },
      command: ["/hello", "pause"],
      name: pod.infra,
      hostname: pod.name,
      init: true, // pid 1 is nook-init: it reaps what members leave when the pid namespace is shared
      network: { publish: req.publish, publishAll: false, dns: [], addHosts: [] },
      lifecycle: { detach: true, logDriver: "none" },
    }, ...(mapping ? [mapping] : []));
  } catch (err) {
    await removePod(pod.name, true).catch(() => {});
    throw err;
  }
  return pod;
}

function nameTaken(name: string): boolean {
  try {
    resolveContainer(name);
    return true;
  } catch {
    return false;
  }
}

/** The members of a pod (its infra container not included), oldest first. */
export function podMembers(name: string): ContainerRecord[] {
  return listIds().flatMap((id) => {
    const rec = readRecord(id);
    return rec?.spec.pod === name ? [rec] : [];
  }).sort((a, b) => a.created.localeCompare(b.created));
}

/** A pod's state: docker-like words from its infra container's and members' states. */
export function podState(pod: PodRecord): { state: string; infra?: Status } {
  const id = infraId(pod);
  if (!id) return { state: "Dead" };
  const infra = currentStatus(id);
  if (infra.state === "running") {
    const members = podMembers(pod.name).map((m) => currentStatus(m.id).state);
    return { state: members.some((s) => s !== "running") && members.length ? "Degraded" : "Running", infra };
  }
  return { state: infra.startedAt === 0n ? "Created" : "Exited", infra };
}

/** Start a pod: its infra container, then its members. */
export async function startPod(name: string): Promise<void> {
  const pod = readPod(name);
  if (!pod) throw new UsageError(`No such pod: "${name}"`);
  const id = infraId(pod);
  if (!id) throw new UsageError(`The infra container of pod "${name}" is gone`, { hint: `remove the pod: nook pod rm -f ${name}` });
  await startContainer(id);
  for (const m of podMembers(name)) await startContainer(m.id);
}

/** Stop a pod: its members, then its infra container. */
export async function stopPod(name: string, timeoutSec?: number): Promise<void> {
  const pod = readPod(name);
  if (!pod) throw new UsageError(`No such pod: "${name}"`);
  const opts = timeoutSec !== undefined ? { timeoutSec } : {};
  for (const m of podMembers(name).reverse()) await stopContainer(m.id, opts);
  const id = infraId(pod);
  if (id) await stopContainer(id, opts);
}

/** Remove a pod: with force its running members and infra container end first; without, running members refuse it. */
export async function removePod(name: string, force: boolean): Promise<void> {
  const pod = readPod(name);
  if (!pod) throw new UsageError(`No such pod: "${name}"`);
  const members = podMembers(name);
  const running = members.filter((m) => currentStatus(m.id).state === "running" || currentStatus(m.id).state === "restarting");
  if (running.length && !force) {
    throw new UsageError(`The pod "${name}" has running containers: ${running.map((m) => m.name).join(", ")}`, {
      hint: `stop it first (nook pod stop ${name}), or remove it with -f`,
    });
  }
  for (const m of members.reverse()) await removeContainer(m.id, true);
  const id = infraId(pod);
  if (id) await removeContainer(id, true);
  removePodRecord(name);
}
