/**
 * In-process cost of loading the config: `deno bench --allow-all bench/config_load_bench.ts`.
 * The "cache hit" case is what `nook run` pays when a config file exists.
 */
import { inspectConfig } from "../src/config/mod.ts";

const dir = Deno.makeTempDirSync({ prefix: "nook-bench-" });
const file = `${dir}/config.yaml`;
const cache = `${dir}/cache.json`;
Deno.writeTextFileSync(
  file,
  "network:\n  mode: host\nregistries:\n  search: [registry.example.com]\nrun:\n  env: [TZ=UTC]\n" +
    "security:\n  capabilities: [CAP_CHOWN, CAP_KILL]\n",
);
await inspectConfig({ file, cacheFile: cache }); // warm the cache and the yaml import

Deno.bench("no config file (stat only)", async () => {
  await inspectConfig({ file: `${dir}/missing.yaml`, cacheFile: cache });
});
Deno.bench("config file, JSON cache hit", { baseline: true }, async () => {
  await inspectConfig({ file, cacheFile: cache });
});
Deno.bench("config file, YAML parse (yaml already imported)", async () => {
  await inspectConfig({ file, cacheFile: null });
});
