import type { RootfsSetup } from "../model/mod.ts";
import { CLONE, MS, type Plan } from "../plan/mod.ts";

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
  if (setup.leaveHelpersBehind) {
    // Why: pivot_root moves the root of every process of the mount namespace
    // that sits at the old root — the FUSE daemon too, which would then look
    // up its own paths through its own mount and wait for itself forever. In a
    // namespace of its own (the one we leave), its root stays where it was.
    p.unshare(CLONE.NEWNS);
    p.mount("", "/", "", MS.REC | MS.PRIVATE);
  }
}
