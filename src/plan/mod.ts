/**
 * Plans: the binary list of ops that TypeScript hands to libshim's child.
 *
 * @module
 */
export { type Field, Plan, type PlanOp, PlanError } from "./plan.ts";
export { HelperReport } from "./ops.ts"; // the container monitor's report on its network helper
export { ExecFlag, Msg, MSG_SIZE, Op, type OpName, PLAN_VERSION, Protect, SetIdFlag } from "./ops.ts";
export { CLONE, CLONE_FLAG, MNT_DETACH, MOUNT_ATTR, MOUNT_OPTION_FLAGS, MS, O, RLIM_INFINITY, RLIMIT, SIGNALS } from "./linux.ts";
