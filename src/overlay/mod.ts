/**
 * Copy-on-write roots for containers: kernel overlayfs inside the user
 * namespace, fuse-overlayfs, or a private copy; which one is detected once.
 *
 * @module
 */
export {
  type Backend,
  backendCachePath,
  type BackendChoice,
  BACKENDS,
  forgetStorageBackend,
  storageBackend,
} from "./backend.ts";
export {
  containerStorage,
  copySources,
  createContainerRootfs,
  listContainerStorage,
  type PreparedRootfs,
  removeContainerStorage,
  rootfsDir,
  type RootfsRecord,
} from "./container_rootfs.ts";
export { applyRootfsSetup } from "./setup_plan.ts";
export { canonicalInLayers, readTextInLayers, resolveInLayers, unionOf } from "./union.ts";
