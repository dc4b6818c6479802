/**
 * The engine: containers as things that last, and the verbs on them. Records in the store
 * (store.ts, status.ts, names.ts, lock.ts), the plan a container runs (build_plan.ts) and how it
 * is run in the foreground (run.ts, foreground.ts, attach.ts) or under the monitor (monitor.ts), and
 * the verbs (create.ts, start.ts, exec.ts, attach.ts, kill.ts, stop.ts, wait.ts, delete.ts, pause.ts, state.ts: one
 * file per verb). Containers kept for an OCI engine (`nook runtime`) have their records under the runtime root
 * (runtime_record.ts) and go through the same verb files. A new container starts
 * as a request of plain values (run_request.ts) that the resolvers (prepare.ts with image_source.ts,
 * resources.ts, lifecycle.ts, tmpfs.ts) turn into a spec, a record and a run. Front doors (src/cli for
 * `nook`, src/oci for `nook runtime`) turn their input into a request or a spec (src/model) and call these.
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
export { mustRecord } from "./store.ts";
export { holdRestarts, killRuntimeContainer, signalContainer } from "./kill.ts";
export { waitStopped } from "./wait.ts";
export { stopContainer } from "./stop.ts";
export { deleteRuntimeContainer, removeContainer } from "./delete.ts";
export { freezeContainer } from "./pause.ts";
export {
  execFifoPath,
  listRuntimeRecords,
  readRuntimeRecord,
  removeRuntimeContainerDir,
  runtimeContainerDir,
  type RuntimeRecord,
  writeRuntimeRecord,
} from "./runtime_record.ts";
export { containerProcesses, isAlive, isFrozen, ociState, runtimeStatus } from "./state.ts";
export { parseSignal } from "./signals.ts";
export { humanDuration, isoNs, parseSize, ZERO_TIME } from "./units.ts";
export { type LogRecord, LogPrinter, logFiles, parseLogLine, parseLogText, readLogRecords, tailRecords } from "./logs.ts";
export { commandText, type ContainerView, inspectDocument, networkOf, psFields, shownState, statusText } from "./view.ts";
export { alignColumns, renderRows, renderTemplate } from "./template.ts";
export {
  buildExecPlan,
  type ExecPlanOptions,
  type ExecProcess,
  execProcess,
  type ExecRequest,
  joinContainerPlan,
  launchExec,
  type LaunchExecOptions,
} from "./exec.ts";
export { releaseRuntimeContainer, startContainer } from "./start.ts";
export { recordCgroup, recordedCgroupHooks, recordOomKill, releaseRecordedCgroup } from "./cgroup.ts";
export type { ContainerSpec, ImageInfo, MountSpec, ProcessSpec, RootfsSetup } from "../model/container.ts";
export { buildPlan, compilePlan, DEVICES, execCandidates, joinsFirst, NAMESPACES, runPlanSpec } from "./build_plan.ts";
export { attachForeground, exitCode, FORWARDED_SIGNALS, SignalForwarder } from "./attach.ts";
export { mergeHooks, runContainer, type RunHooks } from "./run.ts";
export { parseGroup, parsePasswd, type ResolvedUser, resolveUser } from "./user.ts";
export { readTextInRoot, resolveInRoot } from "./in_root.ts";
export { hostsFile, resolvConf, writeEtcFiles } from "./etc_files.ts";
export { MonitorError } from "./errors.ts";
export { missing as monitorMissing, monitorPath } from "./monitor_path.ts";
export { idMapSteps, monitorArgs, type MonitorExtras, startDetached } from "./monitor.ts";
export type { LifecycleRequest, ResourceRequest, RunRequest, RunSource, SecurityRequestFlags } from "./run_request.ts";
export { DEFAULT_NETWORK } from "./run_request.ts";
export { checkName, mergeEnv, newId, type Prepared, prepareContainer, prepareSource, parseUlimit, runRequest, securityFrom } from "./prepare.ts";
export { describeSource, hostSettings, parseRestart, type RunOutcome, runWithLifecycle } from "./lifecycle.ts";
export { deviceNumbers, parseBytes, resourceHooks, resourcesFrom } from "./resources.ts";
export { parseTmpfs, tmpfsMounts, tmpfsOptions } from "./tmpfs.ts";
export { insideIdMapping, runStep, type StepRoot, stepRootfsSetup } from "./step.ts";
export { createRequest } from "./create_request.ts";
export { startAttached } from "./start_attached.ts";
export { type Change, containerChanges } from "./diff.ts";
export { copyIn, copyOut, openRoot } from "./copy.ts";
