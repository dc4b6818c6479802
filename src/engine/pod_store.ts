/**
 * Pod records: `DATA/pods/NAME.json`, one per pod, written atomically. A pod is a name, an infra
 * container that holds the namespaces its members share (net, ipc and uts; pid on request), and
 * the ports published on it. Members name their pod in their spec (`spec.pod`), so the record
 * never lists them: nothing to keep in step when a member is run or removed.
 *
 * @module
 */
import { dataDir } from "../paths/mod.ts";
import { UsageError } from "../errors/mod.ts";
import { type ContainerRecord, writeAtomic } from "./store.ts";
import { resolveContainer } from "./names.ts";
import { currentStatus } from "./status.ts";

/** A pod's record. */
export interface PodRecord {
  /** Its name. */
  name: string;
  /** 64 hex digits. */
  id: string;
  /** ISO 8601. */
  created: string;
  /** The name of its infra container. */
  infra: string;
  /** Namespaces the members share with the infra container. */
  share: ("net" | "ipc" | "uts" | "pid")[];
  /** `-p` values published on the pod. */
  ports: string[];
}

/** The directory of pod records. */
export function podsDir(): string {
  return `${dataDir()}/pods`;
}

function podPath(name: string): string {
  return `${podsDir()}/${name}.json`;
}

/** A pod's record, or undefined. */
export function readPod(name: string): PodRecord | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(podPath(name))) as PodRecord;
  } catch {
    return undefined;
  }
}

/** The record of a pod named by its name or a unique id prefix; a clear error otherwise. */
export function mustPod(ref: string): PodRecord {
  const byName = readPod(ref);
  if (byName) return byName;
  const byId = listPods().filter((p) => ref.length >= 3 && p.id.startsWith(ref));
  if (byId.length === 1) return byId[0]!;
  throw new UsageError(`No such pod: "${ref}"`, { hint: "see nook pod ps" });
}

/** Record a pod. */
export function writePod(p: PodRecord): void {
  Deno.mkdirSync(podsDir(), { recursive: true, mode: 0o700 });
  writeAtomic(podPath(p.name), JSON.stringify(p, null, 2) + "\n");
}

/** Forget a pod. */
export function removePodRecord(name: string): void {
  try {
    Deno.removeSync(podPath(name));
  } catch {
    // gone already
  }
}

/** Every pod, by name. */
export function listPods(): PodRecord[] {
  const out: PodRecord[] = [];
  try {
    for (const e of Deno.readDirSync(podsDir())) {
      if (!e.name.endsWith(".json")) continue;
      const p = readPod(e.name.slice(0, -5));
      if (p) out.push(p);
    }
  } catch {
    // no pod yet
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The infra container's id, when it exists. */
export function infraId(pod: PodRecord): string | undefined {
  try {
    return resolveContainer(pod.infra);
  } catch {
    return undefined;
  }
}

/**
 * Point a member's spec at the infra container's current process before it starts again: the
 * namespaces it joins are /proc/PID/ns files of that process, which a pod start has made anew.
 */
export function rejoinPod(rec: ContainerRecord): void {
  const name = rec.spec.pod;
  if (name === undefined) return;
  const pod = readPod(name);
  const id = pod && infraId(pod);
  const s = id ? currentStatus(id) : undefined;
  if (!pod || !s || s.state !== "running") {
    throw new UsageError(`The pod "${name}" of container ${rec.name} is not running`, { hint: `start the pod: nook pod start ${name}` });
  }
  const ns = (file: string) => `/proc/${s.pid}/ns/${file}`;
  rec.spec.joinUserns = ns("user");
  const join = rec.spec.joinNamespaces ?? {};
  for (const k of Object.keys(join) as (keyof typeof join)[]) join[k] = ns(k === "network" ? "net" : k);
  rec.spec.joinNamespaces = join;
}

