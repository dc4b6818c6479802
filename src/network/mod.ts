/**
 * Rootless networking: `none` (own namespace, loopback only), `host`, and
 * user-mode networking through pasta or slirp4netns started for the
 * container's namespace while it waits, with published ports, DNS and
 * /etc/hosts entries.
 *
 * @module
 */
export { NetworkError } from "./network_error.ts";
export {
  type HelperMode,
  type NetworkMode,
  type NetworkRequest,
  parseNetworkFlag,
  parseSlirpOptions,
  SLIRP_DEFAULTS,
  type SlirpOptions,
} from "./mode.ts";
export {
  assignHostPorts,
  checkPublications,
  exposedToPublish,
  formatPorts,
  formatPsPorts,
  hostAddress,
  parsePublish,
  type PortBinding,
  portBindings,
  type PortMapping,
  type PortProbe,
  type Protocol,
  unprivilegedPortStart,
} from "./ports.ts";
export {
  type AutoDecision,
  autoKey,
  type AutoFacts,
  type AutoMemo,
  decideAuto,
  defaultRouteInterfaces,
  fasterHelper,
  fileStamp,
  type HelperStartTimes,
  hostReason,
  readDefaultRoutes,
  readMemo,
  rememberPastaFailure,
  timeHelperStartsSync,
  trialPasta,
  writeMemo,
} from "./auto.ts";
export {
  autoFacts,
  autoMemoFile,
  HELPER_PACKAGES,
  HELPER_PREFERENCE,
  helperSearchPath,
  installHint,
  learnFromHelper,
  type NetworkHost,
  type NetworkInfo,
  networkInfo,
  realNetworkHost,
  type ResolvedMode,
  resolveDefault,
  resolveMode,
  TUN_DEVICE,
  tunHint,
  tunProblem,
} from "./tools.ts";
export {
  type EtcOptions,
  type EtcRequest,
  hostGatewayAddress,
  networkEtc,
  parseAddHost,
  PASTA_DNS_FORWARD,
  pastaOption,
} from "./etc.ts";
export { pastaArgv, pastaPortSpec, startPasta } from "./pasta.ts";
export { hostfwdRequest, slirpApi, slirpArgv, type SlirpFds, startSlirp } from "./slirp4netns.ts";
export {
  type NetworkContext,
  type NetworkFlags,
  type NetworkSetup,
  type PreparedNetwork,
  prepareNetwork,
} from "./setup.ts";
export {
  isRunning,
  liveNetworkState,
  NETWORK_STATE_FILE,
  type NetworkState,
  processStartTime,
  readNetworkStateFile,
  type SupervisedStatus,
  writeNetworkState,
} from "./state.ts";
export { attachNetwork, helperNeedsIdMaps, type NetworkAttachment, networkHooks, slirpApiSocket } from "./attach.ts";
export { type DetachedNetwork, detachedNetwork } from "./detached.ts";
export { parseRate, rateCommands } from "./rate.ts";
export { type InterfaceSetup, interfaceRequests } from "./netlink.ts";
export {
  addBridge,
  type BridgeConfig,
  connectVeth,
  containerSide,
  holderAlive,
  type HolderState,
  aardvarkPath,
  type DnsEntry,
  isolateBridges,
  linkExists,
  preferNameserver,
  shapeEgress,
  stopDns,
  syncDns,
  publishPorts,
  removeBridge,
  removeLink,
  startHolder,
  stopHolder,
  writeHostsBlock,
} from "./shared_ns.ts";
