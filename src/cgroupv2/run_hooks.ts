/**
 * A container's cgroup as run hooks: pick the manager, put the waiting
 * process into a cgroup of its own with its limits before GO, and remove the
 * cgroup after the end. Used by `nook run` (foreground and -d) and
 * `nook start`. Only the parts every run needs load here; the managers load
 * when a cgroup is made.
 */
import { lazyImport } from "../lazy/mod.ts";
import type { ContainerSpec, RunHooks } from "../model/mod.ts";
import { runtimeDir } from "../paths/mod.ts";
import { CONTROLLER_FLAGS, requiredControllers, type Resources } from "./resources.ts";
import { chooseManager } from "./detect.ts";
import { CgroupError } from "./errors.ts";
import type { CgroupRef, CgroupRelease } from "./container_cgroup.ts";

/** How {@link cgroupHooks} treats the container. */
export interface CgroupHookOptions {
  /**
   * The container runs under its monitor (run -d, start): the monitor — the
   * container's parent — holds the systemd scope, puts restarts back into the
   * cgroup and reads the OOM kills; there is no afterExit step.
   */
  detached?: boolean;
  /** Once the container's process is in its cgroup (before GO): where that is, for its record. */
  onJoined?: (ref: CgroupRef) => void | Promise<void>;
  /** After a foreground container ended: what its cgroup showed (OOMKilled, last counters). */
  onRelease?: (released: CgroupRelease) => void | Promise<void>;
}

/** Print the "no limits here" warning once per boot (the runtime directory is emptied by reboots). */
function warnOnce(text: string): void {
  try {
    Deno.writeFileSync(`${runtimeDir()}/notice-cgroup`, new Uint8Array(), { createNew: true });
  } catch {
    return;
  }
  console.error(text);
}

/**
 * The hooks that give the container of `spec` a cgroup of its own with
 * `resources` (and set `spec.privateCgroup` when it gets one). Without a
 * manager: one warning when no limit was asked for, a CgroupError (exit 125)
 * when one was.
 */
export async function cgroupHooks(
  spec: ContainerSpec,
  resources: Resources,
  opts: CgroupHookOptions = {},
): Promise<RunHooks> {
  const asked = requiredControllers(resources);
  const choice = chooseManager();
  if (choice.kind === "none") {
    if (asked.length) {
      throw new CgroupError(`Cannot enforce ${asked.map((c) => CONTROLLER_FLAGS[c]).join(", ")}: ${choice.reason}`, {
        op: "cgroup",
        ...(choice.hint ? { hint: choice.hint } : {}),
      });
    }
    if (!choice.chosen) {
      warnOnce(
        `nook: warning: containers run without resource limits or stats here: ${choice.reason}` +
          (choice.hint ? `\n  hint: ${choice.hint}` : ""),
      );
    }
    spec.privateCgroup = false;
    return {};
  }
  const { createContainerCgroup } = await lazyImport<typeof import("./container_cgroup.ts")>(
    "cgroupv2/container_cgroup.ts",
  );
  const cg = createContainerCgroup(spec.id, resources, choice, opts.detached ? { keeper: "parent" } : {});
  spec.privateCgroup = true;
  return {
    beforeGo: [async (pid) => {
      try {
        await cg.join(pid);
      } catch (err) {
        if (asked.length || !(err instanceof CgroupError)) throw err;
        // no limit was asked for: a container without its own cgroup still runs
        console.error(`nook: warning: the container runs without a cgroup of its own: ${err.message}`);
        return;
      }
      await opts.onJoined?.(cg.ref());
    }],
    afterExit: opts.detached ? [] : [async () => {
      const released = await cg.release();
      await opts.onRelease?.(released);
    }],
  };
}
