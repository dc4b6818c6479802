/**
 * The model: a container as plain typed data — the OCI runtime spec's config as nook checks it
 * ({@link OciConfig}), nook's own resolved form of it ({@link ContainerSpec}), the plan spec both
 * front doors turn theirs into for the one plan builder ({@link PlanSpec}), and the parts
 * (network, security) they are made of. Every folder may import this one; it imports nothing of
 * nook's (tests/unit/floors_test.ts checks it).
 *
 * ## Floors
 *
 * Folders form floors: a folder imports only from its own floor or lower ones, and no two folders
 * import each other. {@link FLOORS} is the table the test checks, lowest floor first.
 *
 * @module
 */
export type {
  ContainerSpec,
  DeviceSpec,
  IdMapLine,
  ImageInfo,
  MountSpec,
  ProcessSpec,
  RootfsSetup,
  RunHooks,
  UserNetworkAttachment,
} from "./container.ts";
export type { HelperMode, NetworkMode, NetworkSetup, PortMapping, Protocol, SlirpOptions } from "./network.ts";
export { type CapabilitySets, DEFAULT_CAPABILITIES, type ExecLabel, type SecuritySpec } from "./security.ts";
export {
  DEFAULT_DEVICES,
  HOOK_KINDS,
  JOIN_ORDER,
  NAMESPACE_FILES,
  type NsType,
  OCI_VERSION,
  type OciCapabilities,
  type OciConfig,
  type OciDevice,
  type OciHook,
  type OciHooks,
  type OciIdMap,
  type OciLinux,
  type OciMount,
  type OciNamespace,
  type OciProcess,
  type OciState,
  type OciStatus,
} from "./oci.ts";
export { DEFAULT_MOUNTS, type DefaultMount, DEVPTS_TTY_GID } from "./mounts.ts";
export { FLOORS } from "./floors.ts";
export type {
  MountAttrChange,
  NamespaceSpec,
  PlanSpec,
  PlanSyncs,
  ProcessSetup,
  RootMount,
  RootStep,
} from "./plan_spec.ts";
