/**
 * Containers as things that last (issue #4): records in the store, unique
 * names, runtime status written by the monitor or by nook, locks, logs, and
 * the verbs that act on them (stop, kill, rm, wait, exec, inspect, ps).
 *
 * @module
 */
export { ContainerError } from "./errors.ts";
export { findNetworkState, listNetworkStates } from "./network_state.ts";
export {
  cgroupPathFile,
  type ContainerRecord,
  containerDir,
  containersDir,
  fromJson,
  type HostSettings,
  isId,
  listIds,
  type LogConfig,
  logPath,
  readRecord,
  type RestartPolicy,
  type RootfsInfo,
  statusPath,
  toJson,
  writeAtomic,
  writeRecord,
} from "./store.ts";
export { generatedNames, generateName, isValidName, namesDir, releaseName, reserveName, resolveContainer } from "./names.ts";
export { withLock, withLockAsync } from "./lock.ts";
export { bootId, isSameProcess, openProcess, procStartTime, signalProcess, waitProcessGone } from "./proc.ts";
export {
  type ContainerState,
  createdStatus,
  currentStatus,
  exitedStatus,
  formatStatus,
  isActive,
  nowNs,
  parseStatus,
  readStatusFile,
  type Status,
  UNKNOWN_EXIT,
  writeStatus,
} from "./status.ts";
export { type CreateOptions, createContainer, removeContainerFiles } from "./create.ts";
export { recordStartFailure, runForeground } from "./foreground.ts";
export {
  holdRestarts,
  mustRecord,
  removeContainer,
  signalContainer,
  stopContainer,
  waitStopped,
} from "./control.ts";
export { parseSignal } from "./signals.ts";
export { humanDuration, isoNs, parseSize, ZERO_TIME } from "./units.ts";
export { type LogRecord, LogPrinter, logFiles, parseLogLine, parseLogText, readLogRecords, tailRecords } from "./logs.ts";
export { commandText, type ContainerView, inspectDocument, networkOf, psFields, shownState, statusText } from "./view.ts";
export { alignColumns, renderRows, renderTemplate } from "./template.ts";
export {
  buildExecPlan,
  EXEC_NAMESPACES,
  type ExecPlanOptions,
  type ExecProcess,
  execProcess,
  type ExecRequest,
  namespacesToJoin,
} from "./exec.ts";
export { startContainer } from "./start.ts";
export { recordCgroup, recordedCgroupHooks, recordOomKill, releaseRecordedCgroup } from "./cgroup.ts";
