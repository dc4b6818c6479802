/**
 * The namespace order and flags are the engine's (src/engine/namespaces.ts); the runtime front
 * door uses them as they are.
 *
 * @module
 */
export { CLONE_FLAG, differingNamespaces, JOIN_ORDER, nsFile } from "../engine/namespaces.ts";
