import type { RootfsSetup } from "../container/spec.ts";
import type { Plan } from "../plan/mod.ts";

/**
 * Append the ops that assemble a container's root (before it is bound and
 * entered): kernel overlayfs is one mount; fuse-overlayfs is a helper that
 * mounts and stays as a daemon inside the container's pid namespace, so it
 * cannot outlive the container; the copy backend and new volumes are filled
 * by helpers too.
 */
export function applyRootfsSetup(p: Plan, setup: RootfsSetup): void {
  if (setup.cwd) p.chdir(setup.cwd);
  if (setup.mount) {
    const m = setup.mount;
    p.mount(m.source, m.target, m.fstype, m.flags, m.data ?? "");
  }
  for (const h of setup.run ?? []) p.run(h.path, h.args, h.env);
}
