/**
 * `nook doctor`: checks of the host set-up that rootless containers need
 * (user namespaces, id mapping, session, cgroups, storage, network,
 * seccomp, config), each with what the host says and the exact fix. The host
 * probes are shared with `nook info`.
 *
 * @module
 */
export { apparmorFix, apparmorProfile } from "./apparmor.ts";
export {
  type Check,
  type CheckContext,
  type CheckResult,
  CHECKS,
  type CheckStatus,
  freeSubidRange,
  installCommand,
  mappingFor,
} from "./checks.ts";
export {
  cgroupControllers,
  cgroupLayout,
  type CgroupLayout,
  deviceUsable,
  diskSpace,
  findTool,
  formatBytes,
  hostInputs,
  type HostInputs,
  kernelVersion,
  managerHostFor,
  mountOf,
  networkHostFor,
  osRelease,
  ownCgroup,
  readText,
  sysctl,
} from "./host.ts";
export { type DoctorReport, formatReport, runDoctor } from "./run_doctor.ts";
export { trialContainer, trialFuseOverlay, trialOverlay, type TrialResult } from "./trial.ts";
