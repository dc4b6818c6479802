/** The cpuset controller: cpuset.cpus and cpuset.mems. */
import type { Resources } from "./resources.ts";
import { readCgroupFile, writeCgroupFile } from "./_fs.ts";

/** Write cpuset.cpus and cpuset.mems into the cgroup at dir. */
export async function applyCpuset(dir: string, cpuset: Resources["cpuset"]): Promise<void> {
  if (!cpuset) return;
  const available = async (file: string) => (await readCgroupFile(dir, file))?.trim() || "unknown";
  if (cpuset.cpus !== undefined) {
    await writeCgroupFile(
      dir,
      "cpuset.cpus",
      cpuset.cpus,
      `the CPUs this cgroup may use are ${await available("cpuset.cpus.effective")}: choose --cpuset-cpus among them`,
    );
  }
  if (cpuset.mems !== undefined) {
    await writeCgroupFile(
      dir,
      "cpuset.mems",
      cpuset.mems,
      `the memory nodes this cgroup may use are ${await available(
        "cpuset.mems.effective",
      )}: choose --cpuset-mems among them`,
    );
  }
}
