/**
 * Where a running container's cgroup is, for `nook stats`: a small JSON file
 * in the container's runtime directory (`$RUNTIME/containers/ID/cgroup.json`).
 */
import { runtimeDir } from "../paths/mod.ts";

/** The record of one container's cgroup. */
export interface CgroupRecord {
  /** Container id (64 hex digits). */
  id: string;
  /** Its name, when it has one. */
  name?: string;
  /** The container's cgroup directory. */
  path: string;
  /** The manager that made it. */
  manager: "systemd" | "cgroupfs";
}

/** Write the record into the container's runtime directory `dir`. */
export async function writeCgroupRecord(dir: string, record: CgroupRecord): Promise<void> {
  await Deno.writeTextFile(`${dir}/cgroup.json`, JSON.stringify(record) + "\n");
}

/** Every recorded container cgroup that still exists. */
export async function listCgroupRecords(base = `${runtimeDir()}/containers`): Promise<CgroupRecord[]> {
  const out: CgroupRecord[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    entries = await Array.fromAsync(Deno.readDir(base));
  } catch {
    return out;
  }
  for (const e of entries) {
    try {
      const rec = JSON.parse(await Deno.readTextFile(`${base}/${e.name}/cgroup.json`)) as CgroupRecord;
      await Deno.stat(rec.path);
      out.push(rec);
    } catch {
      // no cgroup, or the container has ended
    }
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}
