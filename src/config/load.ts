/**
 * Everything `nook run` needs from the config, in one module on purpose:
 * each module on the run path costs start-up time, the `yaml` package
 * ~60 ms. So this file imports no other part of the config concern.
 *
 * With no config file and no config `NOOK_*` variable (most users), the
 * start-up hooks stop after one stat. Otherwise they read a JSON cache of
 * the resolved config (defaults ← config.yaml ← `NOOK_*`), valid while the
 * file (or, when there is none, its nearest existing parent directory) keeps
 * its mtime, ctime, size and inode and the `NOOK_*` variables keep their
 * values; on a miss they import resolve.ts, which parses, checks and
 * rewrites the cache (once after each edit). bench/config.sh measures it.
 */
import { lazyImport } from "../lazy/mod.ts";
import { configDir, runtimeDir } from "../paths/mod.ts";
import type { ConfigKey, ConfigValues, NookConfig, ValueSource } from "./schema.ts";

/**
 * Fingerprint of the key table (schema.ts `keysFingerprint()`); a test keeps
 * them equal. A cache written for another table is never read.
 */
export const KEYS_FINGERPRINT = "ea5f01d2";

/** Inputs of {@link loadConfig}; tests point them elsewhere. */
export interface LoadOptions {
  /** The YAML file (default `$XDG_CONFIG_HOME/nook/config.yaml`). */
  file?: string;
  /** Where the resolved config is cached as JSON; null for no cache (default: in the runtime directory). */
  cacheFile?: string | null;
  /** Reads `NOOK_*` variables (default `Deno.env.get`). */
  env?: (name: string) => string | undefined;
}

/** The effective config and where each value came from. */
export interface ConfigReport {
  /** Defaults ← file ← `NOOK_*` variables. */
  config: NookConfig;
  /** The YAML file's path. */
  file: string;
  /** Whether that file exists. */
  exists: boolean;
  /** Per key: default, file or env. */
  sources: Record<ConfigKey, ValueSource>;
  /** The values the file sets. */
  fileValues: ConfigValues;
  /** The `NOOK_*` variable of each key that has one. */
  variables: Partial<Record<ConfigKey, string>>;
  /** `hit`: from the JSON cache; `resolved`: parsed and checked now (the cache was refreshed). */
  cache: "hit" | "resolved";
}

/** What identifies a file or directory's state. */
export interface Probe {
  /** The config file, or its nearest existing parent directory when it does not exist. */
  path: string;
  /** mtime, ctime (ms), size, inode. */
  stamp: string;
}

/** One cached resolution. */
export interface CacheEntry {
  /** {@link KEYS_FINGERPRINT} when written. */
  tag: string;
  /** The config file's path. */
  file: string;
  /** The state it was resolved from. */
  probe: Probe;
  /** Every config `NOOK_*` variable's value then ("" when unset). */
  env: Record<string, string>;
  /** The result. */
  report: Omit<ConfigReport, "cache">;
}

/** `$XDG_CONFIG_HOME/nook/config.yaml` (default `~/.config/nook/config.yaml`). */
export function configFile(): string {
  return `${configDir()}/config.yaml`;
}

/** Where the resolved config is cached, or null when the runtime directory is unusable. */
export function configCacheFile(): string | null {
  try {
    return `${runtimeDir()}/config-cache.json`;
  } catch {
    return null;
  }
}

/** The stamp of a path, or undefined when it cannot be statted. */
export function stampOf(path: string): string | undefined {
  try {
    const st = Deno.statSync(path);
    return `${st.isFile ? "f" : "d"}:${st.mtime?.getTime()}:${st.ctime?.getTime()}:${st.size}:${st.ino}`;
  } catch {
    return undefined;
  }
}

function cached(cacheFile: string, file: string, getEnv: (n: string) => string | undefined): CacheEntry | undefined {
  let entries: CacheEntry[];
  try {
    entries = JSON.parse(Deno.readTextFileSync(cacheFile));
  } catch {
    return undefined;
  }
  if (!Array.isArray(entries)) return undefined;
  const stamps = new Map<string, string | undefined>(); // each path statted at most once
  for (const e of entries) {
    if (e?.tag !== KEYS_FINGERPRINT || e.file !== file) continue;
    if (!Object.entries(e.env).every(([n, v]) => (getEnv(n) ?? "") === v)) continue;
    if (!stamps.has(e.probe.path)) stamps.set(e.probe.path, stampOf(e.probe.path));
    if (stamps.get(e.probe.path) === e.probe.stamp) return e;
  }
  return undefined;
}

/** Load the config with where each value came from. */
export async function inspectConfig(opts: LoadOptions = {}): Promise<ConfigReport> {
  const file = opts.file ?? configFile();
  const cacheFile = opts.cacheFile === undefined ? configCacheFile() : opts.cacheFile;
  const getEnv = opts.env ?? ((n: string) => Deno.env.get(n));
  const hit = cacheFile ? cached(cacheFile, file, getEnv) : undefined;
  if (hit) return { ...hit.report, cache: "hit" };
  // resolve.ts leads to the yaml package: a literal import() would cost every `nook run` ≈1 ms
  const { resolveConfig } = await lazyImport<typeof import("./resolve.ts")>("config/resolve.ts");
  return await resolveConfig(file, cacheFile, getEnv);
}

let current: Promise<ConfigReport> | undefined;

/** The process's config report (loaded once). */
export function loadCurrent(): Promise<ConfigReport> {
  return (current ??= inspectConfig());
}

/**
 * nook's configuration: built-in defaults, overridden by
 * `$XDG_CONFIG_HOME/nook/config.yaml`, overridden by `NOOK_*` variables
 * (command-line flags override all of these where the command applies them).
 * Loaded once per process; throws a `ConfigError` naming the key and the
 * line when the file or a variable is invalid.
 *
 * @example
 * ```ts
 * const config = await loadConfig();
 * if (config.network.mode === "pasta") startPasta();
 * ```
 */
export async function loadConfig(opts?: LoadOptions): Promise<NookConfig> {
  return (await (opts ? inspectConfig(opts) : loadCurrent())).config;
}

/** The value of a dotted key. */
export function configValue(config: NookConfig, key: ConfigKey): unknown {
  const [section, name] = key.split(".") as [keyof NookConfig, string];
  return (config[section] as Record<string, unknown>)[name];
}

/** The config's `NOOK_*` variables (schema.ts `env`; a test keeps them equal). */
export const CONFIG_VARIABLES: readonly string[] = [
  "NOOK_NETWORK",
  "NOOK_STORAGE_DRIVER",
  "NOOK_DATA_DIR",
  "NOOK_REGISTRIES_SEARCH",
  "NOOK_REGISTRIES_INSECURE",
  "NOOK_INIT",
  "NOOK_READ_ONLY",
  "NOOK_CAPABILITIES",
  "NOOK_SECCOMP",
  "NOOK_NO_NEW_PRIVILEGES",
  "NOOK_CGROUP_MANAGER",
  "NOOK_IDMAP",
];

let configured: boolean | undefined;

/**
 * Whether anything is configured: config.yaml exists or one of the config's
 * `NOOK_*` variables is set. When nothing is, every value is its built-in
 * default — which the run flags' own defaults are (a test checks) — so the
 * start-up hooks below return at once: one stat, no cache read.
 */
export function anythingConfigured(): boolean {
  if (configured !== undefined) return configured;
  if (CONFIG_VARIABLES.some((n) => Deno.env.get(n))) return (configured = true);
  try {
    Deno.statSync(configFile());
    return (configured = true);
  } catch {
    return (configured = false);
  }
}

/**
 * Load the config once at start-up and make the file's values the defaults
 * of their `NOOK_*` variables, so code that reads those (`NOOK_DATA_DIR` in
 * `dataDir()`, `NOOK_IDMAP`…) and nook's own child processes follow the
 * file. Never throws: an invalid config is reported by the commands that use
 * it ({@link loadConfig} rethrows), while `doctor` and `--help` still work.
 */
export async function applyConfigToEnv(): Promise<void> {
  if (!anythingConfigured()) return;
  let report: ConfigReport;
  try {
    report = await loadCurrent();
  } catch {
    return;
  }
  for (const [key, name] of Object.entries(report.variables) as [ConfigKey, string][]) {
    if (report.sources[key] !== "file" || Deno.env.get(name)) continue;
    const v = configValue(report.config, key);
    Deno.env.set(name, Array.isArray(v) ? v.join(",") : String(v));
  }
}

/**
 * Which `nook run` flag takes its default from which config key. A concern
 * whose flag should follow the config adds one line here; a line whose flag
 * does not exist (yet) is skipped. Lists (`env`, `ulimit`) put the config's
 * values before the flags' own, so the flags win; a list marked `whole` (the
 * user networks of several `--network`) takes the config's value only when the
 * flag is not given at all.
 */
export const RUN_FLAG_DEFAULTS: readonly { flag: string; key: ConfigKey; whole?: boolean }[] = [
  { flag: "network", key: "network.mode", whole: true },
  { flag: "init", key: "run.init" },
  { flag: "read-only", key: "run.read_only" },
  { flag: "env", key: "run.env" },
  { flag: "ulimit", key: "run.ulimits" },
];

/** The parsed flags of a command (the CLI's ParsedArgs, as far as defaults need it). */
export interface FlagValues {
  /** Options by long name: boolean, string, or string[] for lists. */
  opts: Record<string, boolean | string | string[]>;
}

/** What kind of value a flag takes (the CLI's OptionSpec, as far as defaults need it). */
export interface FlagKind {
  /** Long name without dashes. */
  name: string;
  /** bool takes no value; string takes one value; list keeps all. */
  type: "bool" | "string" | "list";
}

/**
 * Fill in the `nook run` flags the user did not give from the config:
 * flags beat `NOOK_*` variables, which beat config.yaml, which beats the defaults.
 */
export async function applyRunDefaults(
  a: FlagValues,
  options: readonly FlagKind[],
  config?: NookConfig,
): Promise<void> {
  if (!config && !anythingConfigured()) return; // the flags' own defaults are the config's
  const cfg = config ?? await loadConfig();
  for (const { flag, key, whole } of RUN_FLAG_DEFAULTS) {
    const opt = options.find((o) => o.name === flag);
    if (!opt) continue;
    const value = configValue(cfg, key);
    const given = a.opts[flag];
    if (opt.type === "list" && whole) {
      if (given === undefined && value !== "auto") a.opts[flag] = [String(value)];
    } else if (opt.type === "list") {
      const values = Array.isArray(value) ? value.map(String) : [String(value)];
      if (values.length) a.opts[flag] = [...values, ...(Array.isArray(given) ? given : [])];
    } else if (given === undefined) {
      if (value === "auto") continue; // nook decides, as without a config
      if (opt.type === "bool") {
        if (value === true) a.opts[flag] = true;
      } else a.opts[flag] = String(value);
    }
  }
}
