/**
 * nook as an OCI runtime: config.json of a bundle → a plan, the runtime-spec
 * lifecycle (create, start, state, kill, delete, run, exec, ps), hooks, the
 * features document and a default spec. `nook runtime …` (src/cli/runtime.ts)
 * and the `nook-runtime` name speak runc's command line on top of it.
 *
 * @module
 */
export { RUNTIME_NAME, runtimeArgv } from "./argv0.ts";
export {
  HOOK_KINDS,
  NAMESPACE_FILES,
  type NsType,
  type OciConfig,
  type OciHook,
  type OciHooks,
  type OciMount,
  type OciProcess,
  parseConfig,
  readProcess,
} from "./config.ts";
export { buildCreatePlan, type CreateOptions, type CreatePlan, SYNC_TAG } from "./plan_spec.ts";
export {
  type CgroupProvider,
  type CgroupRequest,
  type CgroupsPath,
  type OciCgroup,
  parseCgroupsPath,
  requestedResources,
  setCgroupProvider,
} from "./cgroups.ts";
export { defaultSpec } from "./default_spec.ts";
export { invalid, OciError, unsupported } from "./errors.ts";
export { execProcess, type ExecRequest, processFromFlags } from "./exec.ts";
export { features } from "./features.ts";
export { runHooks } from "./hooks.ts";
export { createContainer, type Created, type CreateRequest, readBundle, runBundle } from "./create.ts";
export {
  containerProcesses,
  containerState,
  deleteContainer,
  killContainer,
  listContainers,
  parseSignal,
  pauseContainer,
  type RuntimeContext,
  startContainer,
} from "./lifecycle.ts";
export { CLONE_FLAG, JOIN_ORDER, nsFile } from "./namespaces.ts";
export { type LogOptions, RuntimeLog } from "./log.ts";
export { type ContainerRecord, OCI_VERSION, type OciState, stateRoot, type Status } from "./state.ts";
