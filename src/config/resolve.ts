/**
 * The slow path of loading the config: read and check config.yaml (a
 * dynamic import of the `yaml` package) and the `NOOK_*` variables, then
 * cache the result as JSON for load.ts. Runs once after each edit of the
 * file, each change of a variable, and each boot (the cache lives in the
 * runtime directory).
 */
import { lazyImport } from "../lazy/mod.ts";
import { type CacheEntry, type ConfigReport, KEYS_FINGERPRINT, type Probe, stampOf } from "./load.ts";
import {
  buildConfig,
  CONFIG_KEYS,
  type ConfigKey,
  ConfigError,
  type ConfigValues,
  keysFingerprint,
  parseEnvValue,
  type ValueSource,
} from "./schema.ts";

/** How many resolutions the cache keeps (different files or `NOOK_*` values, e.g. nook's own children). */
const CACHE_ENTRIES = 4;

/** Parse and check the file and the variables; refresh the cache. */
export async function resolveConfig(
  file: string,
  cacheFile: string | null,
  getEnv: (name: string) => string | undefined,
): Promise<ConfigReport> {
  if (keysFingerprint() !== KEYS_FINGERPRINT) {
    // A development slip, caught by the tests: never serve a cache for another key table.
    cacheFile = null;
  }
  // Probe first, read second: an edit in between changes the probe, so the next run resolves again.
  const probe = probeFor(file);
  let fileValues: ConfigValues = {};
  let exists = false;
  let text: string | undefined;
  try {
    text = Deno.readTextFileSync(file);
    exists = true;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new ConfigError(`Cannot read the config file "${file}": ${(err as Error).message}`, {
        path: file,
        cause: err,
        hint: "make it readable, or move it away to use the defaults",
      });
    }
  }
  if (text !== undefined) {
    const { parseConfigText } = await lazyImport<typeof import("./parse_yaml.ts")>("config/parse_yaml.ts");
    fileValues = parseConfigText(text, file);
  }
  const env: Record<string, string> = {};
  const envValues: ConfigValues = {};
  const variables: Partial<Record<ConfigKey, string>> = {};
  for (const def of CONFIG_KEYS) {
    if (!def.env) continue;
    variables[def.key] = def.env;
    const v = getEnv(def.env) ?? "";
    env[def.env] = v;
    if (v !== "") envValues[def.key] = parseEnvValue(def, v);
  }
  const sources = {} as Record<ConfigKey, ValueSource>;
  for (const def of CONFIG_KEYS) {
    sources[def.key] = def.key in envValues ? "env" : def.key in fileValues ? "file" : "default";
  }
  const report = { config: buildConfig(fileValues, envValues), file, exists, sources, fileValues, variables };
  if (cacheFile && probe) writeCache(cacheFile, { tag: KEYS_FINGERPRINT, file, probe, env, report });
  return { ...report, cache: "resolved" };
}

/** The file's stamp, or when it does not exist, its nearest existing parent directory's. */
function probeFor(file: string): Probe | undefined {
  // The parent is statted before the file: a file created in between changes the parent's mtime.
  let dir = file.slice(0, file.lastIndexOf("/")) || "/";
  let dirStamp = stampOf(dir);
  while (dirStamp === undefined && dir !== "/") {
    dir = dir.slice(0, dir.lastIndexOf("/")) || "/";
    dirStamp = stampOf(dir);
  }
  const fileStamp = stampOf(file);
  if (fileStamp) return { path: file, stamp: fileStamp };
  return dirStamp ? { path: dir, stamp: dirStamp } : undefined;
}

function writeCache(path: string, entry: CacheEntry): void {
  let entries: CacheEntry[] = [];
  try {
    const old = JSON.parse(Deno.readTextFileSync(path));
    if (Array.isArray(old)) entries = old;
  } catch {
    // none yet
  }
  const same = (e: CacheEntry) => e?.file === entry.file && JSON.stringify(e.env) === JSON.stringify(entry.env);
  entries = [entry, ...entries.filter((e) => e?.tag === KEYS_FINGERPRINT && !same(e))].slice(0, CACHE_ENTRIES);
  const tmp = `${path}.${Deno.pid}.tmp`;
  try {
    Deno.writeTextFileSync(tmp, JSON.stringify(entries), { mode: 0o600 });
    Deno.renameSync(tmp, path);
  } catch {
    // a cache we cannot write only costs a resolve next time
    try {
      Deno.removeSync(tmp);
    } catch {
      // not there
    }
  }
}
