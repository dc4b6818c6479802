/**
 * Containers: from a resolved {@link ContainerSpec} to a plan, and running it.
 *
 * @module
 */
export type { ContainerSpec, ImageInfo, MountSpec, ProcessSpec, RootfsSetup } from "./spec.ts";
export { buildPlan, DEVICES, execCandidates, NAMESPACES } from "./build_plan.ts";
export { attachForeground, exitCode, FORWARDED_SIGNALS, mergeHooks, runContainer, type RunHooks, SignalForwarder } from "./run.ts";
export { parseGroup, parsePasswd, type ResolvedUser, resolveUser } from "./user.ts";
export { readTextInRoot, resolveInRoot } from "./in_root.ts";
export { hostsFile, resolvConf, writeEtcFiles } from "./etc_files.ts";
