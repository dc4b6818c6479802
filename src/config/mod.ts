/**
 * nook's configuration file, `$XDG_CONFIG_HOME/nook/config.yaml`: defaults
 * for `nook run` flags, storage, registries, security and cgroups. Flags beat
 * `NOOK_*` variables, which beat the file, which beats the built-in defaults.
 *
 * `loadConfig()` is the API other concerns call. It reads a JSON cache of
 * the resolved config (keyed by the file's mtime, ctime, size and inode and
 * the `NOOK_*` values), so `nook run` never loads the `yaml` package unless
 * the file changed.
 *
 * @module
 */
export {
  buildConfig,
  CAPABILITIES,
  CGROUP_MANAGERS,
  CONFIG_KEYS,
  type ConfigKey,
  ConfigError,
  type ConfigValues,
  DEFAULT_CAPABILITIES,
  flagChoices,
  formatValue,
  IDMAP_MODES,
  type KeyDef,
  keyDef,
  keysFingerprint,
  NETWORK_MODES,
  type NookConfig,
  STORAGE_DRIVERS,
  type ValueSource,
} from "./schema.ts";
export {
  anythingConfigured,
  applyConfigToEnv,
  applyRunDefaults,
  CONFIG_VARIABLES,
  configCacheFile,
  configFile,
  type ConfigReport,
  configValue,
  inspectConfig,
  KEYS_FINGERPRINT,
  loadConfig,
  loadCurrent,
  type LoadOptions,
  RUN_FLAG_DEFAULTS,
} from "./load.ts";
