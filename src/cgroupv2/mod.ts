/**
 * cgroup v2 resource limits for rootless containers: a cgroup of its own for
 * each container, made by systemd (a delegated transient scope), inside an
 * already delegated cgroup ("cgroupfs"), or not at all ("none", with one
 * warning, and an error when a limit was asked for). One file per controller,
 * each taking the cgroup directory as a parameter.
 *
 * {@link cgroupHooks} gives a container its cgroup as run hooks (foreground:
 * released, with its OOM record, after the end; detached: the monitor keeps
 * it). Where it is ({@link CgroupRef}) goes into the container's record, from
 * which other commands reach it: `stats` ({@link readStats}), `exec`
 * ({@link attachToCgroup}), `rm` ({@link removeCgroup}), the OCI runtime's
 * `pause` ({@link freezeCgroup}).
 *
 * @module
 */
export {
  type Controller,
  CONTROLLER_FLAGS,
  CONTROLLERS,
  CPU_LIST,
  type DeviceThrottle,
  requiredControllers,
  type Resources,
  unifiedController,
} from "./resources.ts";
export { CgroupError, DELEGATION_FIX } from "./errors.ts";
export { applyCpu, type CpuStats, DEFAULT_CPU_PERIOD, readCpuStats, sharesToWeight } from "./cpu.ts";
export { applyCpuset } from "./cpuset.ts";
export { applyIo, blkioToIoWeight, ioMaxLine, type IoStats, mergeThrottles, parseIoStat, readIoStats } from "./io.ts";
export { applyMemory, type MemoryStats, readMemoryStats } from "./memory.ts";
export { applyPids, type PidsStats, readPidsStats } from "./pids.ts";
export { applyResources, applyUnified, availableControllers, checkControllers, enableControllers } from "./apply.ts";
export {
  CGROUP_ROOT,
  type CgroupInfo,
  cgroupInfo,
  cgroupOf,
  type CgroupVersion,
  cgroupVersion,
  chooseManager,
  type ManagerChoice,
  type ManagerHost,
  type ManagerKind,
  realManagerHost,
  sessionBusPath,
} from "./detect.ts";
export { type CgroupStats, cpuPercent, memoryUsage, oomKillCount, oomKilled, readStats } from "./stats.ts";
export {
  attachToCgroup,
  cgroupExists,
  type CgroupOptions,
  type CgroupRef,
  type CgroupRelease,
  type ContainerCgroup,
  createContainerCgroup,
  freezeCgroup,
  joinCgroup,
  removeCgroup,
  removeCgroupDir,
  scopeUnit,
} from "./container_cgroup.ts";
export { type CgroupHookOptions, cgroupHooks } from "./run_hooks.ts";
