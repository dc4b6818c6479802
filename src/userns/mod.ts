/**
 * User namespaces: who the caller becomes inside (uid/gid maps through
 * newuidmap/newgidmap or the single-id fallback) and why creating one failed.
 *
 * @module
 */
export { parseSubid, rangesFor, type SubidEntry } from "./subid.ts";
export { isInitialMap, parseIdMap, readIdMap } from "./proc_map.ts";
export {
  applyIdMapping,
  checkIdMapTool,
  type DetectOptions,
  detectIdMapping,
  findExecutable,
  idMapCommands,
  type IdMapping,
  type IdRange,
  isMapped,
  mappedCount,
  userName,
} from "./id_map.ts";
export { explainCloneFailure, type SysctlReader } from "./diagnose.ts";
export {
  AUTO_SIZE,
  autoRanges,
  composeRanges,
  layerView,
  mapId,
  type ModeMapping,
  belowMapping,
  modeMapping,
  parseUsernsMode,
  sameRanges,
  type UsernsMode,
} from "./modes.ts";
