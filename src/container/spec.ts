/**
 * The container spec lives in the model (src/model/container.ts), the bottom floor every folder may import.
 *
 * @module
 */
export type { ContainerSpec, ImageInfo, MountSpec, ProcessSpec, RootfsSetup } from "../model/container.ts";
