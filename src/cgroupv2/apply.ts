/** Enabling controllers for a subtree, and writing a container's limits with every controller file. */
import { applyCpu } from "./cpu.ts";
import { applyCpuset } from "./cpuset.ts";
import { applyIo } from "./io.ts";
import { applyMemory } from "./memory.ts";
import { applyPids } from "./pids.ts";
import { type Controller, CONTROLLER_FLAGS, CONTROLLERS, type Resources } from "./resources.ts";
import { hasFile, readCgroupFile, writeCgroupFile } from "./_fs.ts";
import { CgroupError, DELEGATION_FIX } from "./errors.ts";

/** Write every limit in `r` into the cgroup directory `dir`. */
export async function applyResources(dir: string, r: Resources): Promise<void> {
  await applyCpuset(dir, r.cpuset); // before cpu: cpu.max is checked against the allowed CPUs by some kernels
  await applyCpu(dir, r.cpu);
  await applyMemory(dir, r.memory);
  await applyPids(dir, r.pids);
  await applyIo(dir, r.io);
  await applyUnified(dir, r.unified);
}

/**
 * Write interface files as given (OCI `linux.resources.unified`), last, so
 * they win over the typed limits, as runc and crun do.
 */
export async function applyUnified(dir: string, unified: Resources["unified"]): Promise<void> {
  for (const [key, value] of Object.entries(unified ?? {})) {
    if (!/^[a-z_]+\.[a-z0-9_.]+$/.test(key)) {
      throw new CgroupError(`Cannot write the cgroup file "${key}": not the name of an interface file`, {
        hint: 'use names such as "memory.high" or "pids.max"',
      });
    }
    if (!hasFile(dir, key)) {
      throw new CgroupError(`Cannot write "${value}" to "${dir}/${key}": this kernel has no such cgroup file`, {
        path: `${dir}/${key}`,
        hint: "check the name, and that its controller is enabled",
      });
    }
    await writeCgroupFile(dir, key, value);
  }
}

/** The controllers a cgroup offers its children's parent to enable (cgroup.controllers). */
export async function availableControllers(dir: string): Promise<string[]> {
  return (await readCgroupFile(dir, "cgroup.controllers"))?.trim().split(/\s+/).filter(Boolean) ?? [];
}

/**
 * Refuse, with the controller's name and the fix, when a limit needs a
 * controller that `dir` does not offer (it was not delegated to the user).
 * `labels` name what asked for each controller (run's flags by default;
 * config.json's fields for the OCI runtime).
 */
export function checkControllers(
  dir: string,
  available: readonly string[],
  required: readonly Controller[],
  labels: Partial<Record<Controller, string>> = CONTROLLER_FLAGS,
): void {
  const missing = required.filter((c) => !available.includes(c));
  if (missing.length === 0) return;
  const names = missing.map((c) => `"${c}"`).join(", ");
  throw new CgroupError(
    `Cannot enforce ${missing.map((c) => labels[c] ?? CONTROLLER_FLAGS[c]).join(" and ")}: the ${names} cgroup controller${
      missing.length > 1 ? "s are" : " is"
    } not delegated to your user (available in "${dir}": ${available.join(" ") || "none"})`,
    {
      path: `${dir}/cgroup.controllers`,
      hint: `add ${missing.join(" ")} to the Delegate= line of /etc/systemd/system/user@.service.d/delegate.conf ` +
        `(e.g. "Delegate=cpu cpuset io memory pids"), run systemctl daemon-reload and log in again; ${DELEGATION_FIX}`,
    },
  );
}

/**
 * Enable nook's controllers (those `dir` offers) for the children of `dir`.
 * `dir` must hold no processes itself (cgroup v2's "no internal processes" rule).
 */
export async function enableControllers(dir: string, available: readonly string[]): Promise<Controller[]> {
  const enabled = ((await readCgroupFile(dir, "cgroup.subtree_control")) ?? "").trim().split(/\s+/);
  const want = CONTROLLERS.filter((c) => available.includes(c));
  const add = want.filter((c) => !enabled.includes(c));
  if (add.length) {
    await writeCgroupFile(
      dir,
      "cgroup.subtree_control",
      add.map((c) => `+${c}`).join(" "),
      "a cgroup holding processes cannot pass controllers to its children; nook moves only its own processes",
    );
  }
  return want;
}
