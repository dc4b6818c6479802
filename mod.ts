/**
 * nook as a library: the building blocks of the `nook` command.
 *
 * @module
 */
export * from "./src/errors/mod.ts";
export * from "./src/plan/mod.ts";
export * from "./src/ffi/mod.ts";
export * from "./src/userns/mod.ts";
export * from "./src/launch/mod.ts";
export * from "./src/model/mod.ts";
export * from "./src/engine/mod.ts";
export * from "./src/paths/mod.ts";
export * from "./src/network/mod.ts";
export { requestOf, run, type RunOptions } from "./src/engine/api.ts";
export { cli } from "./src/cli/main.ts";
