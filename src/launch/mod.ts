/**
 * Launching plans: clone through libshim, the parent side of the handshake,
 * and the child's failures as typed errors.
 *
 * @module
 */
export { childError, launch, type Launched, LaunchError, type LaunchHooks } from "./launch.ts";
