/**
 * `nook info`: what nook sees, as a table or JSON, one section per concern.
 */
import { PLAN_VERSION } from "../../src/plan/ops.ts";
import { collectInfo, formatInfo, INFO_PROVIDERS } from "../../src/info/mod.ts";
import { assert, exists, isolatedEnv, nook, scratch, test } from "../_helpers.ts";

test("nook info --format json has versions, kernel, id mapping, storage, cgroups, network, security, config, paths and CDI devices", async () => {
  const r = await nook(["info", "--format", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(info), ["nook", "host", "idmap", "storage", "cgroups", "network", "security", "config", "paths", "cdi"]);
  assert.match(info.nook.deno, /^2\.9\./);
  assert.equal(info.nook.libshim, `plan v${PLAN_VERSION}`);
  assert.equal(info.host.kernel, Deno.readTextFileSync("/proc/sys/kernel/osrelease").trim());
  assert.ok(["subid", "single"].includes(info.idmap.mode));
  assert.equal(info.idmap.uid_map[0].split(" ")[1], String(Deno.uid()), "container root is the caller");
  assert.equal(info.storage.path, isolatedEnv().NOOK_DATA_DIR);
  assert.ok(info.storage.available.includes("copy"));
  assert.ok(["v2", "hybrid", "v1", "none"].includes(info.cgroups.version));
  // auto: the best helper installed, as nook run picks it; with both, the one that started faster here
  if (exists("/usr/bin/pasta") && exists("/usr/bin/slirp4netns")) {
    assert.ok(["pasta", "slirp4netns"].includes(info.network.default), info.network.default);
    assert.match(info.network.default_reason, new RegExp(`^${info.network.default} starts faster than`));
  } else {
    const best = exists("/usr/bin/pasta") ? "pasta" : exists("/usr/bin/slirp4netns") ? "slirp4netns" : "none";
    assert.equal(info.network.default, best);
  }
  assert.equal(info.paths.runtime, `${isolatedEnv().XDG_RUNTIME_DIR}/nook`);
  assert.equal(info.config["network.mode"], "auto (default)");
});

test("nook info shows config values with where they came from", async () => {
  const dir = scratch("nook-xdg-");
  Deno.mkdirSync(`${dir}/nook`);
  Deno.writeTextFileSync(`${dir}/nook/config.yaml`, "network:\n  mode: host\nrun:\n  init: true\n");
  const r = await nook(["info", "--format", "json"], { env: { XDG_CONFIG_HOME: dir, NOOK_INIT: "false" } });
  const info = JSON.parse(r.stdout);
  assert.equal(info.network.default, "host");
  assert.equal(info.config.exists, true);
  assert.equal(info.config["network.mode"], "host (file)");
  assert.equal(info.config["run.init"], "false (env)");
  const table = await nook(["info"], { env: { XDG_CONFIG_HOME: dir } });
  assert.match(table.stdout, /^network\n {2}default\s+host$/m);
});

test("a registered info provider adds its section, and a failing one shows its error", async () => {
  const extra = [
    { section: "cgroups", collect: () => ({ manager: "systemd", controllers: ["cpu", "memory"] }) },
    { section: "broken", collect: () => Promise.reject(new Error("probe failed")) },
  ];
  const info = await collectInfo([...INFO_PROVIDERS.filter((p) => p.section === "nook"), ...extra]);
  assert.deepEqual(Object.keys(info), ["nook", "cgroups", "broken"]);
  assert.deepEqual(info.broken, { error: "probe failed" });
  const text = formatInfo(info);
  assert.match(text, /^cgroups\n {2}manager\s+systemd\n {2}controllers\s+cpu, memory$/m);
});
