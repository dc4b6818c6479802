/**
 * In-process cost of loading the config: `deno bench --allow-all bench/config_load_bench.ts`.
 * The two cache hits are what `nook run` pays; "resolve" is the slow path, run once
 * after each edit of the file (plus ~60 ms to import the yaml package the first time).
 */
import { inspectConfig } from "../src/config/mod.ts";

const dir = Deno.makeTempDirSync({ prefix: "nook-bench-" });
Deno.mkdirSync(`${dir}/with/nook`, { recursive: true });
Deno.mkdirSync(`${dir}/without/nook`, { recursive: true });
Deno.mkdirSync(`${dir}/run`);
const file = `${dir}/with/nook/config.yaml`;
const missing = `${dir}/without/nook/config.yaml`;
const cacheFile = `${dir}/run/config-cache.json`;
Deno.writeTextFileSync(
  file,
  "network:\n  mode: host\nregistries:\n  search: [registry.example.com]\nrun:\n  env: [TZ=UTC]\n" +
    "security:\n  capabilities: [CAP_CHOWN, CAP_KILL]\n",
);
// fill the cache for both, and import the yaml package once
await inspectConfig({ file, cacheFile });
await inspectConfig({ file: missing, cacheFile });

Deno.bench("no config file: cache hit", async () => {
  const r = await inspectConfig({ file: missing, cacheFile });
  if (r.cache !== "hit") throw new Error("expected a cache hit");
});
Deno.bench("config file: cache hit", { baseline: true }, async () => {
  const r = await inspectConfig({ file, cacheFile });
  if (r.cache !== "hit") throw new Error("expected a cache hit");
});
Deno.bench("config file: resolve (parse and check; yaml already imported)", async () => {
  await inspectConfig({ file, cacheFile: null });
});
