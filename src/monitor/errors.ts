import { NookError } from "../errors/mod.ts";

/** The container monitor could not be found or started. */
export class MonitorError extends NookError {}
