/**
 * config.yaml: every key round-trips (file, cache, NOOK_* variable), a bad
 * value names the key and the line, and flags beat variables beat the file.
 */
import { parseArgs } from "../../src/cli/_args.ts";
import { RUN_OPTIONS } from "../../src/cli/run.ts";
import {
  applyRunDefaults,
  CONFIG_KEYS,
  CONFIG_VARIABLES,
  ConfigError,
  configValue,
  inspectConfig,
  KEYS_FINGERPRINT,
  keysFingerprint,
  type LoadOptions,
  loadConfig,
  type NookConfig,
  RUN_FLAG_DEFAULTS,
} from "../../src/config/mod.ts";
import { assert, busyboxRootfs, busyboxSkip, isolatedEnv, nook, ROOT, scratch, test } from "../_helpers.ts";
import { stringify } from "yaml";

/** A config directory with this YAML, a cache file, and no NOOK_* variables. */
function setup(yaml: string | undefined): Required<LoadOptions> & { dir: string } {
  const dir = scratch("nook-config-");
  Deno.mkdirSync(`${dir}/nook`);
  if (yaml !== undefined) Deno.writeTextFileSync(`${dir}/nook/config.yaml`, yaml);
  return { dir, file: `${dir}/nook/config.yaml`, cacheFile: `${dir}/cache.json`, env: () => undefined };
}

/** The YAML text that sets one dotted key. */
function yamlFor(key: string, value: unknown): string {
  const [section, name] = key.split(".") as [string, string];
  return stringify({ [section]: { [name]: value } });
}

async function configError(opts: LoadOptions): Promise<ConfigError> {
  try {
    await inspectConfig(opts);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

test("without a config file every key has its built-in default", async () => {
  const r = await inspectConfig(setup(undefined));
  assert.equal(r.exists, false);
  for (const def of CONFIG_KEYS) {
    assert.deepEqual(configValue(r.config, def.key), def.default, def.key);
    assert.equal(r.sources[def.key], "default");
  }
});

test("every key round-trips through config.yaml and the JSON cache", async () => {
  for (const def of CONFIG_KEYS) {
    const s = setup(yamlFor(def.key, def.example));
    const first = await inspectConfig(s);
    assert.equal(first.cache, "resolved", def.key);
    assert.deepEqual(configValue(first.config, def.key), def.example, def.key);
    assert.equal(first.sources[def.key], "file");
    const second = await inspectConfig(s);
    assert.equal(second.cache, "hit", `${def.key}: the second load comes from the cache`);
    assert.deepEqual(second.config, first.config, def.key);
    assert.deepEqual(second.sources, first.sources, def.key);
  }
});

test("every key with a NOOK_* variable round-trips through it, and the variable beats the file", async () => {
  for (const def of CONFIG_KEYS.filter((d) => d.env)) {
    const text = Array.isArray(def.example) ? def.example.join(",") : String(def.example);
    const s = setup(yamlFor(def.key, def.default));
    const r = await inspectConfig({ ...s, env: (n) => (n === def.env ? text : undefined) });
    assert.deepEqual(configValue(r.config, def.key), def.example, `${def.env}=${text}`);
    assert.equal(r.sources[def.key], "env");
  }
});

test("a whole config file with every key set loads as written", async () => {
  const all: Record<string, Record<string, unknown>> = {};
  for (const def of CONFIG_KEYS) {
    const [section, name] = def.key.split(".") as [string, string];
    (all[section] ??= {})[name] = def.example;
  }
  const cfg = await loadConfig(setup(stringify(all)));
  assert.deepEqual(cfg as unknown, all);
});

test("a bad value names the key and the line", async () => {
  const cases: [string, RegExp, number][] = [
    ["network:\n  mode: bridge\n", /"network\.mode" at line 2 .*"bridge" is not one of auto, none, host, pasta, slirp4netns/, 2],
    ["run:\n  init: yes\n", /"run\.init" at line 2 .*expected true or false/, 2],
    ["# c\nregistries:\n  search:\n    - registry.example.com\n    - Not A Host\n", /"registries\.search" at line 5 /, 5],
    ["security:\n  capabilities: [CAP_CHOWN, CAP_FLY]\n", /"security\.capabilities" at line 2 .*"CAP_FLY" is not a Linux capability/, 2],
    ["storage:\n  path: relative/dir\n", /"storage\.path" at line 2 .*not an absolute path/, 2],
    ["run:\n  ulimits: [nofile=1:2, bogus=3]\n", /"run\.ulimits" at line 2 .*"bogus=3"/, 2],
    ["run:\n  env: TZ=UTC\n", /"run\.env" at line 2 .*expected a list/, 2],
  ];
  for (const [yaml, message, line] of cases) {
    const s = setup(yaml);
    const err = await configError(s);
    assert.match(err.message, message, yaml);
    assert.match(err.message, new RegExp(`line ${line} of "${s.file.replaceAll(".", "\\.")}"`));
    assert.ok(err.hint, "a hint says what the key takes");
  }
});

test("an unknown key is an error that names it, its line, and the key meant", async () => {
  const err = await configError(setup("network:\n  mdoe: host\n"));
  assert.match(err.message, /Unknown key "network\.mdoe" at line 2/);
  assert.match(err.hint!, /did you mean "network\.mode"\?/);
  const section = await configError(setup("netwrok:\n  mode: host\n"));
  assert.match(section.message, /Unknown key "netwrok" at line 1/);
  assert.match(section.hint!, /"network"/);
});

test("a YAML syntax error names the line", async () => {
  const err = await configError(setup("network:\n  mode: host\nstorage: [a\nrun:\n  init: true\n"));
  assert.match(err.message, /YAML syntax error at line \d+ of/);
  const dup = await configError(setup("network:\n  mode: host\nnetwork:\n  mode: none\n"));
  assert.match(dup.message, /at line 3 of .*Map keys must be unique/);
});

test("a bad NOOK_* variable names the variable", async () => {
  const err = await configError({ ...setup(undefined), env: (n) => (n === "NOOK_NETWORK" ? "bridge" : undefined) });
  assert.match(err.message, /"network\.mode" in NOOK_NETWORK: "bridge" is not one of/);
});

test("editing the file invalidates the cache, also when the size stays the same", async () => {
  const s = setup("network:\n  mode: host\n");
  assert.equal((await loadConfig(s)).network.mode, "host");
  await new Promise((r) => setTimeout(r, 5)); // a different mtime
  Deno.writeTextFileSync(s.file, "network:\n  mode: none\n");
  const r = await inspectConfig(s);
  assert.equal(r.cache, "resolved");
  assert.equal(r.config.network.mode, "none");
  // creating the file where there was none is noticed too
  const empty = setup(undefined);
  assert.equal((await inspectConfig(empty)).exists, false);
  assert.equal((await inspectConfig(empty)).cache, "hit");
  Deno.writeTextFileSync(empty.file, "run:\n  init: true\n");
  const created = await inspectConfig(empty);
  assert.equal(created.cache, "resolved");
  assert.equal(created.config.run.init, true);
});

test("a different NOOK_* value is not served from the cache of another", async () => {
  const s = setup("network:\n  mode: host\n");
  await inspectConfig(s);
  const r = await inspectConfig({ ...s, env: (n) => (n === "NOOK_NETWORK" ? "none" : undefined) });
  assert.equal(r.config.network.mode, "none");
  assert.equal((await inspectConfig(s)).cache, "hit", "both resolutions stay cached");
});

test("the cache's key fingerprint follows the key table (update KEYS_FINGERPRINT in load.ts when it changes)", () => {
  assert.equal(KEYS_FINGERPRINT, keysFingerprint());
});

test("load.ts knows every NOOK_* variable of the key table (CONFIG_VARIABLES)", () => {
  assert.deepEqual([...CONFIG_VARIABLES].sort(), CONFIG_KEYS.flatMap((d) => (d.env ? [d.env] : [])).sort());
});

test("the defaults of the keys behind run flags are the flags' own defaults, so no config means nothing to apply", () => {
  // load.ts skips the config on the run path when nothing is configured; that is
  // right only while these defaults are what nook run does without the flags.
  const neutral: Record<string, unknown> = { "network.mode": "auto" };
  for (const { key } of RUN_FLAG_DEFAULTS) {
    const def = CONFIG_KEYS.find((d) => d.key === key)!;
    const expected = key in neutral ? neutral[key] : def.type === "bool" ? false : [];
    assert.deepEqual(def.default, expected, `${key}: change load.ts's anythingConfigured() shortcut if this default changes`);
  }
});

test("flags beat NOOK_* variables, which beat the file; list flags come after the config's", async () => {
  const s = setup("network:\n  mode: host\nrun:\n  init: true\n  env: [A=1, B=2]\n  ulimits: [nofile=10:20]\n");
  const cfg: NookConfig = await loadConfig(s);
  const fill = async (argv: string[], config = cfg) => {
    const a = parseArgs(argv, RUN_OPTIONS);
    await applyRunDefaults(a, RUN_OPTIONS, config);
    return a.opts;
  };
  const none = await fill(["--rootfs", "/x", "sh"]);
  assert.deepEqual(none.network, ["host"], "--network is a list (several user networks): the config gives the whole list");
  assert.equal(none.init, true);
  assert.deepEqual(none.env, ["A=1", "B=2"]);
  assert.deepEqual(none.ulimit, ["nofile=10:20"]);
  const flags = await fill(["--network", "none", "--init=false", "-e", "B=3", "--rootfs", "/x", "sh"]);
  assert.deepEqual(flags.network, ["none"], "a given --network replaces the config's, never adds to it");
  assert.equal(flags.init, false);
  assert.deepEqual(flags.env, ["A=1", "B=2", "B=3"], "the flag's B=3 comes last and wins");
  const env = await loadConfig({ ...s, env: (n) => (n === "NOOK_NETWORK" ? "none" : undefined) });
  assert.deepEqual((await fill(["--rootfs", "/x", "sh"], env)).network, ["none"]);
});

const netns = () => Deno.readLinkSync("/proc/self/ns/net");

test("nook run takes its network mode from config.yaml unless NOOK_NETWORK or --network says otherwise", async () => {
  const dir = scratch("nook-xdg-");
  Deno.mkdirSync(`${dir}/nook`);
  Deno.writeTextFileSync(`${dir}/nook/config.yaml`, "network:\n  mode: host\n");
  const env = isolatedEnv({ XDG_CONFIG_HOME: dir });
  const inside = async (args: string[], extra: Record<string, string> = {}) => {
    const r = await nook(["run", "--rm", ...args, "--rootfs", busyboxRootfs(), "readlink", "/proc/self/ns/net"], {
      env: { ...env, ...extra },
    });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  assert.equal(await inside([]), netns(), "config: host network");
  assert.notEqual(await inside(["--network", "none"]), netns(), "the flag beats the config");
  assert.notEqual(await inside([], { NOOK_NETWORK: "none" }), netns(), "NOOK_NETWORK beats the config");
}, { skip: busyboxSkip() });

test("nook run fails with the key and the line when config.yaml is invalid, and nook doctor says so", async () => {
  const dir = scratch("nook-xdg-");
  Deno.mkdirSync(`${dir}/nook`);
  Deno.writeTextFileSync(`${dir}/nook/config.yaml`, "network:\n  mode: host\nrun:\n  init: maybe\n");
  const env = isolatedEnv({ XDG_CONFIG_HOME: dir });
  const r = await nook(["run", "--rm", "hello"], { env });
  assert.equal(r.code, 125);
  assert.match(r.stderr, /Invalid value for "run\.init" at line 4 of ".*config\.yaml": expected true or false/);
  const d = await nook(["doctor", "--no-trial", "--format", "json"], { env });
  assert.equal(d.code, 1, "nook run cannot work, so doctor exits 1");
  const check = JSON.parse(d.stdout).checks.find((c: { id: string }) => c.id === "config.file");
  assert.equal(check.status, "fail");
  assert.match(check.detail, /line 4/);
});

test("storage.path in config.yaml moves where nook keeps images", async () => {
  const dir = scratch("nook-xdg-");
  Deno.mkdirSync(`${dir}/nook`);
  Deno.writeTextFileSync(`${dir}/nook/config.yaml`, `storage:\n  path: ${dir}/store\n`);
  const env = { ...isolatedEnv({ XDG_CONFIG_HOME: dir }) };
  const r = await nook(["run", "--rm", "hello"], { env: { ...env, NOOK_DATA_DIR: "" } });
  assert.equal(r.code, 0, r.stderr);
  assert.ok([...Deno.readDirSync(`${dir}/store`)].length > 0, "the hello image was unpacked under storage.path");
  const info = await nook(["info", "--format", "json"], { env: { ...env, NOOK_DATA_DIR: "" } });
  assert.equal(JSON.parse(info.stdout).paths.data, `${dir}/store`);
}, { skip: busyboxSkip() });

test("userns.idmap: single in config.yaml gives nook run the single-id mapping", async () => {
  const dir = scratch("nook-xdg-");
  Deno.mkdirSync(`${dir}/nook`);
  Deno.writeTextFileSync(`${dir}/nook/config.yaml`, "userns:\n  idmap: single\n");
  const r = await nook(["info", "--format", "json"], { env: isolatedEnv({ XDG_CONFIG_HOME: dir }) });
  const info = JSON.parse(r.stdout);
  assert.equal(info.idmap.mode, "single");
  assert.deepEqual(info.idmap.uid_map, [`0 ${Deno.uid()} 1`]);
});

test("the README documents every NOOK_* variable of the config", () => {
  const readme = Deno.readTextFileSync(`${ROOT}/README.md`);
  for (const def of CONFIG_KEYS) {
    assert.ok(readme.includes(`\`${def.key}\``), `README names ${def.key}`);
    if (def.env) assert.ok(readme.includes(def.env), `README names ${def.env}`);
  }
});
