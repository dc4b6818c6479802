/**
 * Locking a container down: capabilities, no_new_privs, seccomp (compiled by
 * `src/seccomp/`), masked and read-only paths, AppArmor/SELinux labels.
 * TypeScript decides ({@link decideSecurity}); the plan carries it out
 * ({@link addPathProtections}, {@link addBeforeSetid}, {@link addBeforeExec}).
 *
 * @module
 */
export {
  allCapabilities,
  CAPABILITIES,
  capabilityMask,
  capabilityName,
  capabilityNames,
  type CapabilityRequest,
  type CapabilitySets,
  capabilitySets,
  DEFAULT_CAPABILITIES,
  lastCap,
} from "./capabilities.ts";
export { apparmorLabel, detectLsm, type ExecLabel, type LsmStatus, selinuxLabel } from "./lsm.ts";
export { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from "./masked_paths.ts";
export { addBeforeExec, addBeforeSetid, addPathProtections } from "./plan_ops.ts";
export { decideSecurity, type SecurityDecision, type SecurityRequest, type SecuritySpec } from "./security_spec.ts";
export { execSecurity } from "./exec_security.ts";
export { PROC_BIND_ALLOWED, procMountRefusal } from "./mount_targets.ts";
