/**
 * The container monitor: the small static C program (libshim/monitor.c) that
 * is the parent of a detached container, and how nook starts it.
 *
 * @module
 */
export { MonitorError } from "./errors.ts";
export { missing as monitorMissing, monitorPath } from "./monitor_path.ts";
export { idMapSteps, monitorArgs, type MonitorExtras, startDetached } from "./start.ts";
