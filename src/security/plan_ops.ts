/**
 * Where the security decision goes in a plan. The order is the point:
 *
 *   pivot_root → [read-only paths, masks]
 *   … → [LSM exec labels] → [NO_NEW_PRIVS] → CAPS (bounding set only)
 *     → [SECCOMP, when no_new_privs is off] → SETID (keep caps) → CAPS (final sets)
 *     → [SECCOMP, when no_new_privs is on] → EXEC
 *
 * - The bounding set is dropped while the process still has CAP_SETPCAP in
 *   its effective set, i.e. before switching to a non-root user (which
 *   empties the effective set).
 * - Loading a filter without no_new_privs needs CAP_SYS_ADMIN in the user
 *   namespace, so it happens before the capabilities are lowered; with
 *   no_new_privs it needs nothing and happens as late as possible, right
 *   before execve, so the fewest syscalls run under it. runc orders it the
 *   same way (libcontainer/standard_init_linux.go). The setgroups, setresuid,
 *   capset, prctl and execve that still follow are allowed by the default
 *   profile.
 * - SETID runs with PR_SET_KEEPCAPS so the permitted set survives the switch
 *   to a non-root user; the final CAPS then sets exactly what that user keeps
 *   (its ambient set carries it across execve).
 *
 * @module
 */
import { MOUNT_ATTR, MS, type Plan } from "../plan/mod.ts";
import { allCapabilities } from "./capabilities.ts";
import type { SecuritySpec } from "./security_spec.ts";

/** A bounding set of all ones: the shim's CAPS op then drops nothing from it. */
const KEEP_BOUNDING = 0xffff_ffff_ffff_ffffn;

/** After pivot_root: make the read-only paths read-only, then cover the masked ones. */
export function addPathProtections(p: Plan, sec: SecuritySpec): void {
  for (const path of sec.readonlyPaths) {
    p.mount(path, path, "", MS.BIND | MS.REC);
    p.setattr(path, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC, 0, 0, true);
  }
  for (const m of sec.maskedPaths) {
    if (m.dir) p.mount("tmpfs", m.path, "tmpfs", MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, "mode=0555");
    else p.mount("/dev/null", m.path, "", MS.BIND);
  }
}

/** Right before SETID: LSM labels, no_new_privs, the bounding set, and the filter when it needs CAP_SYS_ADMIN. */
export function addBeforeSetid(p: Plan, sec: SecuritySpec): void {
  for (const l of sec.execLabels) p.write(l.path, l.value);
  if (sec.noNewPrivileges) p.noNewPrivs();
  const all = allCapabilities(sec.lastCap);
  p.caps(
    { bounding: sec.capabilities.bounding, effective: all, permitted: all, inheritable: 0n, ambient: 0n },
    sec.lastCap,
  );
  if (sec.seccomp && !sec.noNewPrivileges) p.seccomp(sec.seccomp.program, sec.seccomp.flags);
}

/** After SETID, right before EXEC: the final capability sets, and the filter when no_new_privs allows loading it late. */
export function addBeforeExec(p: Plan, sec: SecuritySpec): void {
  const c = sec.capabilities;
  p.caps(
    {
      bounding: KEEP_BOUNDING,
      effective: c.effective,
      permitted: c.permitted,
      inheritable: c.inheritable,
      ambient: c.ambient,
    },
    sec.lastCap,
  );
  if (sec.seccomp && sec.noNewPrivileges) p.seccomp(sec.seccomp.program, sec.seccomp.flags);
}
