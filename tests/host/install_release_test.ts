/**
 * The release: tools/release.sh (deno compile) makes dist/nook-linux-<arch>,
 * its .sha256 and an install.sh pointing at the release host, and that
 * install.sh installs a binary that runs. deno compile downloads its base
 * runtime (denort) from Deno's servers, so this runs only where that works.
 */
import { PLAN_VERSION } from "../../src/plan/ops.ts";
import { assert, compileSkip, ROOT, scratch, sh, test } from "../_helpers.ts";

test("tools/release.sh builds a verified binary that install.sh installs and that runs hello", async () => {
  const dist = scratch("nook-dist-");
  const arch = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";
  const files: Record<string, Uint8Array<ArrayBuffer>> = {};
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const body = files[new URL(req.url).pathname];
    return body ? new Response(body) : new Response("", { status: 404 });
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const r = await sh(`${ROOT}/tools/release.sh`, ["--base-url", base], { NOOK_DIST: dist, NOOK_DENO: Deno.execPath() });
    assert.equal(r.code, 0, r.stderr);
    const asset = `nook-linux-${arch}`;
    const sum = Deno.readTextFileSync(`${dist}/${asset}.sha256`);
    assert.match(sum, new RegExp(`^[0-9a-f]{64}  ${asset}\\n$`));
    assert.match(Deno.readTextFileSync(`${dist}/install.sh`), new RegExp(`^DEFAULT_RELEASE_URL="${base}"$`, "m"));
    for (const f of [asset, `${asset}.sha256`]) files[`/latest/${f}`] = Deno.readFileSync(`${dist}/${f}`);
    const home = scratch();
    const inst = await sh("sh", [`${dist}/install.sh`], { HOME: home, PATH: "/usr/bin:/bin" });
    assert.equal(inst.code, 0, inst.stderr);
    const v = await sh(`${home}/.local/bin/nook`, ["--version"]);
    assert.match(v.stdout, new RegExp(`libshim plan v${PLAN_VERSION}`));
    const h = await sh(`${home}/.local/bin/nook`, ["run", "--rm", "hello"], { NOOK_DATA_DIR: scratch() });
    assert.equal(h.code, 0, h.stderr);
    // config.yaml is parsed by resolve.ts, which the binary embeds through --include
    const cfg = scratch();
    Deno.mkdirSync(`${cfg}/nook`);
    Deno.writeTextFileSync(`${cfg}/nook/config.yaml`, "network:\n  mode: host\n");
    const info = await sh(`${home}/.local/bin/nook`, ["info", "--format", "json"], { XDG_CONFIG_HOME: cfg });
    assert.equal(JSON.parse(info.stdout).network.default, "host", info.stderr);
    const doctor = await sh(`${home}/.local/bin/nook`, ["doctor", "--no-trial"]);
    assert.match(doctor.stdout, /nook run (works|cannot work) on this host/);
  } finally {
    await server.shutdown();
  }
}, { skip: compileSkip() });
