import { NookError } from "../errors/mod.ts";

/** A container command failed: no such container, a name in use, a container in the wrong state. */
export class ContainerError extends NookError {}

/** The container monitor could not be found or started. */
export class MonitorError extends NookError {}
