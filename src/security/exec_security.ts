import type { SecuritySpec } from "./security_spec.ts";

/**
 * The security settings of an `exec` into a running container: the
 * container's own (filter, no_new_privs, bounding set, labels), with the
 * capability sets recomputed for the exec's user by the rule of
 * `capabilitySets`: root gets the bounding set, any other user only what the
 * container's non-root user was given (its ambient set), else nothing.
 */
export function execSecurity(sec: SecuritySpec, containerUid: number, execUid: number): SecuritySpec {
  const c = sec.capabilities;
  if (execUid === containerUid) return sec;
  if (execUid === 0) {
    return { ...sec, capabilities: { bounding: c.bounding, effective: c.bounding, permitted: c.bounding, inheritable: 0n, ambient: 0n } };
  }
  const user = containerUid === 0 ? 0n : c.ambient;
  return { ...sec, capabilities: { bounding: c.bounding, effective: user, permitted: user, inheritable: user, ambient: user } };
}
