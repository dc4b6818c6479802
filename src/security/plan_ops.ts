/**
 * Where the security decision goes in a plan. The order is the point:
 *
 *   pivot_root → [read-only paths, masks]
 *   … → [LSM exec labels] → [NO_NEW_PRIVS] → CAPS (bounding set) → SETID (keep caps)
 *     → no_new_privs off: CAPS (effective again) → SECCOMP → CAPS (final sets) → EXEC
 *     → no_new_privs on:  CAPS (final sets) → SECCOMP → EXEC
 *
 * - The bounding set is dropped while the process still has CAP_SETPCAP in
 *   its effective set, i.e. before switching to a non-root user (which
 *   empties the effective set).
 * - SETID runs with PR_SET_KEEPCAPS so the permitted set survives the switch
 *   to a non-root user; the final CAPS then sets exactly what that user keeps
 *   (its ambient set carries it across execve).
 * - The filter is loaded after the user switch, so a profile may refuse
 *   setuid, setgroups and the like to the container without stopping nook
 *   from setting it up. Loading a filter without no_new_privs needs
 *   CAP_SYS_ADMIN in the user namespace: the permitted set still has it
 *   (kept across SETID), so one CAPS op makes it effective again just for
 *   the load, and the final CAPS drops it. What runs under the filter before
 *   execve is capset and prctl (the final CAPS) and execve itself — every
 *   profile must allow those (docker's and nook's do). runc loads the filter
 *   before the user switch when no_new_privs is off, so its profiles must
 *   allow setuid and setgroups as well.
 *
 * @module
 */
import type { Plan } from "../plan/mod.ts";
import { allCapabilities } from "./capabilities.ts";
import type { SecuritySpec } from "./security_spec.ts";

/** A bounding set of all ones: the shim's CAPS op then drops nothing from it. */
const KEEP_BOUNDING = 0xffff_ffff_ffff_ffffn;

/** After pivot_root (so the paths are the container's own): read-only paths first, then masks (as runc). */
export function addPathProtections(p: Plan, sec: SecuritySpec): void {
  for (const path of sec.readonlyPaths) p.protectPath(path, "readonly");
  for (const path of sec.maskedPaths) p.protectPath(path, "mask");
}

/** Right before SETID: LSM labels, no_new_privs, the bounding set (effective = permitted = what the process holds). */
export function addBeforeSetid(p: Plan, sec: SecuritySpec): void {
  for (const l of sec.execLabels) p.write(l.path, l.value);
  if (sec.noNewPrivileges) p.noNewPrivs();
  const all = sec.heldCapabilities ?? allCapabilities(sec.lastCap);
  p.caps(
    { bounding: sec.capabilities.bounding, effective: all, permitted: all, inheritable: 0n, ambient: 0n },
    sec.lastCap,
  );
}

/** After SETID, right before EXEC: the filter, and the final capability sets. */
export function addBeforeExec(p: Plan, sec: SecuritySpec): void {
  const c = sec.capabilities;
  const final = () =>
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
  if (!sec.seccomp) {
    final();
  } else if (sec.noNewPrivileges) {
    final();
    p.seccomp(sec.seccomp.program, sec.seccomp.flags);
  } else {
    // CAP_SYS_ADMIN effective again (the user switch cleared the effective set) to load the filter
    const all = sec.heldCapabilities ?? allCapabilities(sec.lastCap);
    p.caps({ bounding: KEEP_BOUNDING, effective: all, permitted: all, inheritable: 0n, ambient: 0n }, sec.lastCap);
    p.seccomp(sec.seccomp.program, sec.seccomp.flags);
    final();
  }
}
