/**
 * cgroup v2 resource limits for rootless containers: a cgroup of its own for
 * each container, made by systemd (a delegated transient scope), inside an
 * already delegated cgroup ("cgroupfs"), or not at all ("none", with one
 * warning, and an error when a limit was asked for). One file per controller,
 * each taking the cgroup directory as a parameter.
 *
 * For detached containers (issue #4): keep the {@link ContainerCgroup} of
 * {@link createContainerCgroup} in the process that waits for the container,
 * call `release()` when it ends (it reports `oomKilled`), and read counters
 * any time with {@link readStats}(path) — `nook stats` lists what it finds in
 * `$RUNTIME/containers/ID/cgroup.json` ({@link writeCgroupRecord}).
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
} from "./resources.ts";
export { CgroupError, DELEGATION_FIX } from "./errors.ts";
export { applyCpu, type CpuStats, DEFAULT_CPU_PERIOD, readCpuStats, sharesToWeight } from "./cpu.ts";
export { applyCpuset } from "./cpuset.ts";
export { applyIo, blkioToIoWeight, ioMaxLine, type IoStats, mergeThrottles, parseIoStat, readIoStats } from "./io.ts";
export { applyMemory, type MemoryStats, readMemoryStats } from "./memory.ts";
export { applyPids, type PidsStats, readPidsStats } from "./pids.ts";
export { applyResources, availableControllers, checkControllers, enableControllers } from "./apply.ts";
export {
  CGROUP_ROOT,
  type CgroupInfo,
  cgroupInfo,
  cgroupOf,
  type CgroupVersion,
  cgroupVersion,
  chooseManager,
  type ManagerChoice,
  type ManagerKind,
  sessionBusPath,
} from "./detect.ts";
export { type CgroupStats, cpuPercent, memoryUsage, oomKillCount, oomKilled, readStats } from "./stats.ts";
export {
  type CgroupOptions,
  type CgroupRelease,
  type ContainerCgroup,
  createContainerCgroup,
  joinCgroup,
  removeCgroupDir,
  scopeUnit,
} from "./container_cgroup.ts";
export { type CgroupRecord, listCgroupRecords, writeCgroupRecord } from "./record.ts";
